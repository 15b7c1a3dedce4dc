//! The products table: the catalog, and the stock that orders take from.
//!
//! Items: `pk = PRODUCT#<product id>`, with one attribute per `Product` field: `name_fa`, `kind`,
//! `weight_grams` (absent for a product without one), `unit_code`, `price` (Rials), `vat_class`,
//! `goods_id` and `stock`. The local stack seeds the same layout from infra/seed/products.json
//! (infra/local/provision.py): change both together.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Update};

use super::{BATCH_LIMIT, Item, every_page, get_n, get_parsed, get_s, n, s};
use mizan::kernel::failures::StoreError;
use mizan::kernel::ids::ProductId;
use mizan::kernel::money::Rial;
use mizan::ordering::catalog::{GoodsId, Product, ProductKind, UnitCode, VatClass};
use mizan::ordering::ports::Catalog;

const KEY_PREFIX: &str = "PRODUCT#";

#[derive(Debug, Clone)]
pub struct ProductsTable {
    client: Client,
    table: String,
}

fn key(id: &ProductId) -> AttributeValue {
    s(format!("{KEY_PREFIX}{id}"))
}

/// The item that stores `product`; also how tests seed products of their own.
pub fn product_item(product: &Product) -> Item {
    let mut item = Item::from([
        ("pk".to_owned(), key(&product.id)),
        ("name_fa".to_owned(), s(&product.name_fa)),
        ("kind".to_owned(), s(product.kind.as_str())),
        ("unit_code".to_owned(), n(product.unit_code.value())),
        ("price".to_owned(), n(product.price.value())),
        ("vat_class".to_owned(), s(product.vat_class.as_str())),
        ("goods_id".to_owned(), s(product.goods_id.as_str())),
        ("stock".to_owned(), n(product.stock)),
    ]);
    if let Some(grams) = product.weight_grams {
        item.insert("weight_grams".to_owned(), n(grams));
    }
    item
}

fn product_from_item(item: &Item) -> Result<Product, StoreError> {
    let id = get_s(item, "pk")?
        .strip_prefix(KEY_PREFIX)
        .and_then(|id| ProductId::parse(id).ok())
        .ok_or(StoreError::Corrupt("pk"))?;
    let weight_grams = match item.get("weight_grams") {
        None => None,
        Some(_) => Some(get_n(item, "weight_grams")?),
    };
    Ok(Product {
        id,
        name_fa: get_s(item, "name_fa")?.to_owned(),
        kind: ProductKind::parse(get_s(item, "kind")?).ok_or(StoreError::Corrupt("kind"))?,
        weight_grams,
        unit_code: UnitCode(get_n(item, "unit_code")?),
        price: Rial::new(get_n(item, "price")?),
        vat_class: VatClass::parse(get_s(item, "vat_class")?).ok_or(StoreError::Corrupt("vat_class"))?,
        goods_id: get_parsed(item, "goods_id", GoodsId::parse)?,
        stock: get_n(item, "stock")?,
    })
}

impl ProductsTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// The whole catalog, in no particular order. A Scan, read to its last page: the catalog is
    /// a few dozen items, and the storefront lists all of them.
    pub async fn list(&self) -> Result<Vec<Product>, StoreError> {
        let items =
            every_page(|start| self.client.scan().table_name(&self.table).set_exclusive_start_key(start).send())
                .await?;
        items.iter().map(product_from_item).collect()
    }

    /// The transaction item that takes `quantity` of a product from its stock, on condition that
    /// there are that many left; a product that does not exist fails the condition too. The
    /// caller puts it in the TransactWriteItems that writes the order, so stock and order
    /// change together or not at all.
    pub fn reserve_stock(&self, id: &ProductId, quantity: u32) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(&self.table)
            .key("pk", key(id))
            .update_expression("SET stock = stock - :q")
            .condition_expression("stock >= :q")
            .expression_attribute_values(":q", n(quantity))
            .build()
            .map_err(|_| StoreError::Failed("build-update".into()))
    }

    /// The update that puts `quantity` back on the shelf (an order that expired unpaid), for the
    /// transaction that expires it. Products are never deleted; the condition keeps a stray
    /// update from creating a product of nothing but stock.
    pub fn release_stock(&self, id: &ProductId, quantity: u32) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(&self.table)
            .key("pk", key(id))
            .update_expression("SET stock = stock + :q")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":q", n(quantity))
            .build()
            .map_err(|_| StoreError::Failed("build-update".into()))
    }
}

impl Catalog for ProductsTable {
    /// The products with these ids, each once, in the order first asked for; an id without a
    /// product is left out, so the caller compares what it asked with what it got.
    async fn get_many(&self, ids: &[ProductId]) -> Result<Vec<Product>, StoreError> {
        // BatchGetItem refuses a request that names the same key twice.
        let mut wanted: Vec<&ProductId> = Vec::with_capacity(ids.len());
        for id in ids {
            if !wanted.contains(&id) {
                wanted.push(id);
            }
        }
        let mut found = Vec::with_capacity(wanted.len());
        for chunk in wanted.chunks(BATCH_LIMIT) {
            let keys = chunk.iter().map(|id| Item::from([("pk".to_owned(), key(id))])).collect();
            let items = super::batch_get(&self.client, &self.table, keys, |request| request).await?;
            found.extend(items.iter().map(product_from_item).collect::<Result<Vec<_>, _>>()?);
        }
        let mut ordered = Vec::with_capacity(found.len());
        for id in wanted {
            if let Some(at) = found.iter().position(|product: &Product| &product.id == id) {
                ordered.push(found.swap_remove(at));
            }
        }
        Ok(ordered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grinder() -> Product {
        Product {
            id: ProductId::parse("hand-grinder-steel-burr").unwrap(),
            name_fa: "آسیاب دستی قهوه با تیغهٔ فولادی".to_owned(),
            kind: ProductKind::Equipment,
            weight_grams: None,
            unit_code: UnitCode::PIECE,
            price: Rial::new(88_000_000),
            vat_class: VatClass::Standard,
            goods_id: GoodsId::parse("2720000118517").unwrap(),
            stock: 8,
        }
    }

    #[test]
    fn items_round_trip() {
        let mut product = grinder();
        let item = product_item(&product);
        assert_eq!(item.get("pk"), Some(&s("PRODUCT#hand-grinder-steel-burr")));
        assert!(!item.contains_key("weight_grams"), "absent, not null, when there is no weight");
        assert_eq!(item.len(), 8);
        assert_eq!(product_from_item(&item).unwrap(), product);

        product.weight_grams = Some(250);
        product.kind = ProductKind::Beans;
        let item = product_item(&product);
        assert_eq!(item.get("weight_grams"), Some(&n(250)));
        assert_eq!(item.get("kind"), Some(&s("beans")));
        assert_eq!(product_from_item(&item).unwrap(), product);
    }

    #[test]
    fn items_in_another_shape_are_corrupt() {
        let good = product_item(&grinder());
        let broken = |name: &str, value: Option<AttributeValue>| {
            let mut item = good.clone();
            match value {
                Some(value) => item.insert(name.to_owned(), value),
                None => item.remove(name),
            };
            product_from_item(&item).err()
        };
        assert!(matches!(broken("pk", Some(s("ORDER#x"))), Some(StoreError::Corrupt("pk"))));
        assert!(matches!(broken("pk", Some(s("PRODUCT#Bad Id"))), Some(StoreError::Corrupt("pk"))));
        assert!(matches!(broken("kind", Some(s("tea"))), Some(StoreError::Corrupt("kind"))));
        assert!(matches!(broken("vat_class", None), Some(StoreError::Corrupt("vat_class"))));
        assert!(matches!(broken("goods_id", Some(s("123"))), Some(StoreError::Corrupt("goods_id"))));
        assert!(matches!(broken("price", Some(n(-5))), Some(StoreError::Corrupt("price"))));
        assert!(matches!(broken("stock", Some(s("8"))), Some(StoreError::Corrupt("stock"))));
        assert!(matches!(broken("weight_grams", Some(n(2.5))), Some(StoreError::Corrupt("weight_grams"))));
    }
}

//! The product catalog: what Mizan Coffee sells, as the order, the invoice and the storefront see
//! it.
//!
//! A `Product` carries everything an official invoice line needs (13-digit goods id, unit code,
//! VAT class) besides what the shop shows; the storefront gets a `CatalogEntry`, which leaves out
//! the tax fields and publishes only whether a product is in stock, not how many are left.

use serde::{Deserialize, Serialize};

use crate::kernel::ids::ProductId;
use crate::kernel::money::Rial;
use crate::kernel::problem::Rejection;

/// The tax system's 13-digit goods/service id (شناسهٔ کالا/خدمت) of an invoice line. Kept as
/// text: ids may start with zeros.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GoodsId(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("goods id is not exactly 13 ASCII digits")]
pub struct GoodsIdError;

impl Rejection for GoodsIdError {
    fn code(&self) -> &'static str {
        "goods-id-invalid"
    }

    fn message(&self) -> &'static str {
        "شناسهٔ کالا باید ۱۳ رقم باشد."
    }
}

impl GoodsId {
    /// Strict on purpose: goods ids come from our own catalog data, never from a customer's
    /// keyboard, so Persian digits or separators here mean the data is wrong, not the typist.
    pub fn parse(input: &str) -> Result<Self, GoodsIdError> {
        if input.len() == 13 && input.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(input.to_owned()))
        } else {
            Err(GoodsIdError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

crate::kernel::newtype::text_code!(GoodsId, GoodsIdError);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductKind {
    Beans,
    Ground,
    Capsules,
    Equipment,
}

impl ProductKind {
    /// The same text serde writes, for storage attributes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Beans => "beans",
            Self::Ground => "ground",
            Self::Capsules => "capsules",
            Self::Equipment => "equipment",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Beans, Self::Ground, Self::Capsules, Self::Equipment].into_iter().find(|kind| kind.as_str() == text)
    }
}

/// How VAT applies to a product. Coffee is standard-rated today; the class is kept per product so
/// that an exemption can be recorded as data, not as a code change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VatClass {
    Standard,
    Exempt,
}

impl VatClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Exempt => "exempt",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Standard, Self::Exempt].into_iter().find(|class| class.as_str() == text)
    }
}

/// The tax system's measurement unit code of an invoice line. Any number is accepted: the
/// official table is long and changes, so the constants name only the units this shop uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnitCode(pub u32);

impl UnitCode {
    /// عدد — one piece (equipment).
    pub const PIECE: Self = Self(1627);
    /// کیلوگرم.
    pub const KILOGRAM: Self = Self(164);
    /// گرم.
    pub const GRAM: Self = Self(1622);
    /// بسته — a package (a bag of beans, a box of capsules).
    pub const PACKAGE: Self = Self(1628);

    pub const fn value(self) -> u32 {
        self.0
    }
}

/// A product as the shop keeps it. `stock` is what is left to sell; orders take from it inside
/// their own transaction, so it is never oversold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub id: ProductId,
    pub name_fa: String,
    pub kind: ProductKind,
    /// Net weight of coffee in one unit; `None` for equipment.
    pub weight_grams: Option<u32>,
    pub unit_code: UnitCode,
    pub price: Rial,
    pub vat_class: VatClass,
    pub goods_id: GoodsId,
    pub stock: u32,
}

/// A product as the storefront lists it: no tax fields, and availability instead of the stock
/// count, which is the shop's business only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub product_id: ProductId,
    pub name_fa: String,
    pub kind: ProductKind,
    pub weight_grams: Option<u32>,
    pub price: Rial,
    pub available: bool,
}

impl From<&Product> for CatalogEntry {
    fn from(product: &Product) -> Self {
        Self {
            product_id: product.id.clone(),
            name_fa: product.name_fa.clone(),
            kind: product.kind,
            weight_grams: product.weight_grams,
            price: product.price,
            available: product.stock > 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::kernel::text::normalize_text;
    use proptest::prelude::*;

    const SEED: &str = include_str!("../../../../infra/seed/products.json");

    #[test]
    fn goods_ids_are_thirteen_ascii_digits() {
        assert_eq!(GoodsId::parse("0123456789012").unwrap().as_str(), "0123456789012");
        for id in
            ["", "012345678901", "01234567890123", "012345678901a", "۰۱۲۳۴۵۶۷۸۹۰۱۲", "+123456789012", " 012345678901"]
        {
            assert_eq!(GoodsId::parse(id), Err(GoodsIdError), "{id}");
        }
    }

    #[test]
    fn ids_deserialise_only_when_valid() {
        assert!(serde_json::from_str::<ProductId>("\"kenya-aa-250g\"").is_ok());
        assert!(serde_json::from_str::<ProductId>("\"Kenya\"").is_err());
        assert!(serde_json::from_str::<GoodsId>("\"2720000118401\"").is_ok());
        assert!(serde_json::from_str::<GoodsId>("2720000118401").is_err());
    }

    #[test]
    fn enums_have_one_text_form() {
        for kind in [ProductKind::Beans, ProductKind::Ground, ProductKind::Capsules, ProductKind::Equipment] {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{}\"", kind.as_str()));
            assert_eq!(ProductKind::parse(kind.as_str()), Some(kind));
        }
        for class in [VatClass::Standard, VatClass::Exempt] {
            assert_eq!(serde_json::to_string(&class).unwrap(), format!("\"{}\"", class.as_str()));
            assert_eq!(VatClass::parse(class.as_str()), Some(class));
        }
        assert_eq!(ProductKind::parse("Beans"), None);
        assert_eq!(VatClass::parse("zero"), None);
    }

    fn kenya(stock: u32) -> Product {
        Product {
            id: ProductId::parse("kenya-aa-250g").unwrap(),
            name_fa: "قهوهٔ کنیا AA".to_owned(),
            kind: ProductKind::Beans,
            weight_grams: Some(250),
            unit_code: UnitCode::PACKAGE,
            price: Rial::new(19_500_000),
            vat_class: VatClass::Standard,
            goods_id: GoodsId::parse("2720000118432").unwrap(),
            stock,
        }
    }

    #[test]
    fn the_storefront_sees_availability_not_stock() {
        let entry = CatalogEntry::from(&kenya(37));
        assert_eq!(
            serde_json::to_value(&entry).unwrap(),
            serde_json::json!({
                "product_id": "kenya-aa-250g",
                "name_fa": "قهوهٔ کنیا AA",
                "kind": "beans",
                "weight_grams": 250,
                "price": 19500000,
                "available": true,
            })
        );
        assert!(!CatalogEntry::from(&kenya(0)).available);
    }

    #[test]
    fn product_json_round_trips_and_refuses_unknown_fields() {
        let product = kenya(12);
        let json = serde_json::to_value(&product).unwrap();
        assert_eq!(serde_json::from_value::<Product>(json.clone()).unwrap(), product);
        let mut extra = json;
        extra["colour"] = serde_json::json!("brown");
        assert!(serde_json::from_value::<Product>(extra).is_err());
    }

    /// The seed file is the catalog the local stack and the tests start from: it must hold the
    /// products the brief asks for, in the shape and spelling the rest of the code expects.
    #[test]
    fn the_seed_catalog_is_well_formed() {
        let products: Vec<Product> = serde_json::from_str(SEED).unwrap();
        assert_eq!(products.len(), 12);
        let ids: HashSet<_> = products.iter().map(|p| p.id.clone()).collect();
        assert_eq!(ids.len(), 12, "product ids are unique");
        let goods: HashSet<_> = products.iter().map(|p| p.goods_id.clone()).collect();
        assert_eq!(goods.len(), 12, "goods ids are unique");
        for p in &products {
            assert_eq!(p.name_fa, normalize_text(&p.name_fa), "{}: Persian spelling is normalised", p.id);
            assert!((5..=200).contains(&p.stock), "{}", p.id);
            assert_eq!(p.vat_class, VatClass::Standard, "{}", p.id);
            match p.kind {
                ProductKind::Equipment => {
                    assert_eq!(p.unit_code, UnitCode::PIECE, "{}", p.id);
                    assert_eq!(p.weight_grams, None, "{}", p.id);
                }
                _ => {
                    assert_eq!(p.unit_code, UnitCode::PACKAGE, "{}", p.id);
                    assert!(p.weight_grams.is_some(), "{}", p.id);
                }
            }
            assert!(p.price >= Rial::new(1_000_000), "{}: a price in Rials, not Tomans", p.id);
        }
        for kind in [ProductKind::Beans, ProductKind::Ground, ProductKind::Capsules, ProductKind::Equipment] {
            assert!(products.iter().any(|p| p.kind == kind), "{kind:?}");
        }
        // Every object lists every field, so the file reads as the Product it is.
        let raw: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_str(SEED).unwrap();
        for object in raw {
            assert_eq!(object.len(), 9, "{object:?}");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_accepts_only_the_alphabet(input in "\\PC{0,80}") {
            if let Ok(id) = ProductId::parse(&input) {
                prop_assert_eq!(id.as_str(), input.as_str());
                prop_assert!(input.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            }
            let _ = GoodsId::parse(&input);
        }

        #[test]
        fn generated_slugs_parse(input in "[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?") {
            prop_assert!(ProductId::parse(&input).is_ok());
        }
    }
}

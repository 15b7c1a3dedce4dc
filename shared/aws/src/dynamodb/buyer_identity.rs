//! The one place where a buyer's identity (P8) is written to and read from an item. National
//! codes, economic codes and national ids are stored sealed (P4, `crate::kms::sealed_fields`), bound
//! to the item and attribute they are in; names and a company's postal code stay readable, as
//! the invoice prints them and they identify no one by number.

use super::{Item, get_parsed, get_s, s};
use crate::kms::sealed_fields::{FieldPlace, FieldSealer};
use mizan::accounts::contact::PostalCode;
use mizan::accounts::person::FullName;
use mizan::kernel::failures::StoreError;
use mizan::ordering::buyer_lookup::BuyerLookupKey;
use mizan::ordering::identity::{EconomicCode, LegalId, NationalCode};
use mizan::ordering::order::{Buyer, CompanyName};

const NATIONAL_CODE: &str = "buyer_national_code";
const ECONOMIC_CODE: &str = "buyer_economic_code";
const NATIONAL_ID: &str = "buyer_national_id";
/// The keyed hash the `ByBuyerCode` index of the orders table is keyed by.
pub(crate) const LOOKUP_HASH: &str = "buyer_code_hash";

/// Writes the buyer into `item`, whose key is `item_key`.
pub(crate) async fn write(
    fields: &FieldSealer,
    item_key: &str,
    buyer: &Buyer,
    item: &mut Item,
) -> Result<(), StoreError> {
    item.insert("buyer_type".to_owned(), s(buyer.type_name()));
    match buyer {
        Buyer::Natural { full_name, national_code } => {
            item.insert("buyer_name".to_owned(), s(full_name.as_str()));
            seal(fields, item_key, NATIONAL_CODE, national_code.as_str(), item).await?;
        }
        Buyer::Legal { company_name, economic_code, national_id, postal_code } => {
            item.insert("buyer_postal_code".to_owned(), s(postal_code.as_str()));
            item.insert("buyer_name".to_owned(), s(company_name.as_str()));
            seal(fields, item_key, ECONOMIC_CODE, economic_code.as_str(), item).await?;
            seal(fields, item_key, NATIONAL_ID, national_id.as_str(), item).await?;
        }
    }
    Ok(())
}

/// Adds the keyed hash that finds the item by its buyer's national code or national id.
pub(crate) fn write_lookup_hash(lookup: &BuyerLookupKey, buyer: &Buyer, item: &mut Item) {
    item.insert(LOOKUP_HASH.to_owned(), s(lookup.buyer(buyer).as_str()));
}

/// Reads the buyer of `item`, whose key is `item_key`.
pub(crate) async fn read(fields: &FieldSealer, item_key: &str, item: &Item) -> Result<Buyer, StoreError> {
    match get_s(item, "buyer_type")? {
        "natural" => Ok(Buyer::Natural {
            full_name: get_parsed(item, "buyer_name", FullName::parse)?,
            national_code: NationalCode::parse(&open(fields, item_key, NATIONAL_CODE, item).await?)
                .map_err(|_| StoreError::Corrupt(NATIONAL_CODE))?,
        }),
        "legal" => Ok(Buyer::Legal {
            company_name: get_parsed(item, "buyer_name", CompanyName::parse)?,
            economic_code: EconomicCode::parse(&open(fields, item_key, ECONOMIC_CODE, item).await?)
                .map_err(|_| StoreError::Corrupt(ECONOMIC_CODE))?,
            national_id: LegalId::parse(&open(fields, item_key, NATIONAL_ID, item).await?)
                .map_err(|_| StoreError::Corrupt(NATIONAL_ID))?,
            postal_code: get_parsed(item, "buyer_postal_code", PostalCode::parse)?,
        }),
        _ => Err(StoreError::Corrupt("buyer_type")),
    }
}

async fn seal(
    fields: &FieldSealer,
    item_key: &str,
    attribute: &'static str,
    value: &str,
    item: &mut Item,
) -> Result<(), StoreError> {
    let sealed = fields.seal(FieldPlace { item_key, attribute }, value).await?;
    item.insert(attribute.to_owned(), s(sealed));
    Ok(())
}

async fn open(
    fields: &FieldSealer,
    item_key: &str,
    attribute: &'static str,
    item: &Item,
) -> Result<String, StoreError> {
    fields.open(FieldPlace { item_key, attribute }, get_s(item, attribute)?).await
}

//! The one place where a buyer's identity (P8) is written to and read from an item: national
//! codes, economic codes and national ids pass through here only, so that field-level
//! encryption (P4) can be added in this module without touching any other.

use super::{Item, StoreError, get_parsed, get_s, s};
use crate::contact::PostalCode;
use crate::identity::{EconomicCode, LegalId, NationalCode};
use crate::order::{Buyer, CompanyName};
use crate::person::FullName;

pub(crate) fn write(buyer: &Buyer, item: &mut Item) {
    item.insert("buyer_type".to_owned(), s(buyer.type_name()));
    match buyer {
        Buyer::Natural { full_name, national_code } => {
            item.insert("buyer_name".to_owned(), s(full_name.as_str()));
            item.insert("buyer_national_code".to_owned(), s(national_code.as_str()));
        }
        Buyer::Legal { company_name, economic_code, national_id, postal_code } => {
            item.insert("buyer_postal_code".to_owned(), s(postal_code.as_str()));
            item.insert("buyer_name".to_owned(), s(company_name.as_str()));
            item.insert("buyer_economic_code".to_owned(), s(economic_code.as_str()));
            item.insert("buyer_national_id".to_owned(), s(national_id.as_str()));
        }
    }
}

pub(crate) fn read(item: &Item) -> Result<Buyer, StoreError> {
    match get_s(item, "buyer_type")? {
        "natural" => Ok(Buyer::Natural {
            full_name: get_parsed(item, "buyer_name", FullName::parse)?,
            national_code: get_parsed(item, "buyer_national_code", NationalCode::parse)?,
        }),
        "legal" => Ok(Buyer::Legal {
            company_name: get_parsed(item, "buyer_name", CompanyName::parse)?,
            economic_code: get_parsed(item, "buyer_economic_code", EconomicCode::parse)?,
            national_id: get_parsed(item, "buyer_national_id", LegalId::parse)?,
            postal_code: get_parsed(item, "buyer_postal_code", PostalCode::parse)?,
        }),
        _ => Err(StoreError::Corrupt("buyer_type")),
    }
}

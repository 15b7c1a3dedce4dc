//! The checkout request, parsed into domain types at the edge: every field checked, every
//! mistake reported at once. Nothing about prices is read from the client.

use mizan::accounts::contact::{IranMobile, PostalCode};
use mizan::accounts::person::FullName;
use mizan::kernel::form::JsonObject;
use mizan::kernel::ids::ProductId;
use mizan::kernel::problem::{FieldError, Problem, Rejection};
use mizan::ordering::checkout::CheckoutRequest;
use mizan::ordering::identity::{EconomicCode, LegalId, NationalCode};
use mizan::ordering::order::{Address, Buyer, CartLine, CompanyName, MAX_LINES, MAX_QUANTITY_PER_LINE, Recipient};

pub fn checkout(body: &JsonObject) -> Result<CheckoutRequest, Problem> {
    let mut errors = Vec::new();
    let cart = body.required_objects("items", MAX_LINES, &mut errors).map(|items| cart(&items, &mut errors));
    let buyer = body.required_object("buyer", &mut errors).and_then(|buyer| self::buyer(&buyer, &mut errors));
    let recipient = body.required_object("shipping", &mut errors).and_then(|shipping| {
        let name = shipping.parsed("recipient_name", FullName::parse, &mut errors);
        let phone = shipping.parsed("recipient_phone", IranMobile::parse, &mut errors);
        let address = shipping.parsed("address", Address::parse, &mut errors);
        let postal_code = shipping.parsed("postal_code", PostalCode::parse, &mut errors);
        Some(Recipient { name: name?, phone: phone?, address: address?, postal_code: postal_code? })
    });
    match (cart, buyer, recipient) {
        (Some(cart), Some(buyer), Some(recipient)) if errors.is_empty() => {
            Ok(CheckoutRequest { cart, buyer, recipient })
        }
        _ => Err(Problem::invalid(errors)),
    }
}

fn cart(items: &[JsonObject], errors: &mut Vec<FieldError>) -> Vec<CartLine> {
    let mut lines: Vec<CartLine> = Vec::with_capacity(items.len());
    for item in items {
        let product_id = item.parsed("product_id", ProductId::parse, errors);
        let quantity = item.required_integer("quantity", 1..=MAX_QUANTITY_PER_LINE, errors);
        if let (Some(product_id), Some(quantity)) = (product_id, quantity) {
            if lines.iter().any(|line| line.product_id == product_id) {
                errors.push(FieldError::new(
                    &item.path_of("product_id"),
                    "duplicate-product",
                    "هر کالا فقط یک بار در سبد می‌آید؛ تعداد آن را بیشتر کنید.",
                ));
            } else {
                lines.push(CartLine { product_id, quantity });
            }
        }
    }
    lines
}

fn buyer(buyer: &JsonObject, errors: &mut Vec<FieldError>) -> Option<Buyer> {
    match buyer.required_str("type", errors)? {
        "natural" => {
            let full_name = buyer.parsed("full_name", FullName::parse, errors);
            let national_code = buyer.parsed("national_code", NationalCode::parse, errors);
            Some(Buyer::Natural { full_name: full_name?, national_code: national_code? })
        }
        "legal" => {
            let company_name = buyer.parsed("company_name", CompanyName::parse, errors);
            let economic_code = buyer.parsed("economic_code", EconomicCode::parse, errors);
            let national_id = buyer.parsed("national_id", LegalId::parse, errors);
            let postal_code = buyer.parsed("postal_code", PostalCode::parse, errors);
            Buyer::legal(company_name?, economic_code?, national_id?, postal_code?)
                .map_err(|rejection| errors.push(rejection.at(&buyer.path_of("economic_code"))))
                .ok()
        }
        _ => {
            errors.push(FieldError::new(
                &buyer.path_of("type"),
                "buyer-type-invalid",
                "نوع خریدار باید «natural» (شخص حقیقی) یا «legal» (شخص حقوقی) باشد.",
            ));
            None
        }
    }
}

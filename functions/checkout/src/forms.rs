//! The checkout request, parsed into domain types at the edge: every field checked, every
//! mistake reported at once. Nothing about prices is read from the client.

use mizan::accounts::contact::{IranMobile, PostalCode};
use mizan::accounts::person::FullName;
use mizan::kernel::form::JsonObject;
use mizan::kernel::ids::ProductId;
use mizan::kernel::problem::{FieldError, Problem};
use mizan::ordering::checkout::CheckoutRequest;
use mizan::ordering::order::{Address, Buyer, CartLine, MAX_LINES, MAX_QUANTITY_PER_LINE, Recipient};

pub fn checkout(body: &JsonObject) -> Result<CheckoutRequest, Problem> {
    let mut errors = Vec::new();
    let cart = body.required_objects("items", MAX_LINES, &mut errors).map(|items| cart(&items, &mut errors));
    let buyer = body.required_object("buyer", &mut errors).and_then(|buyer| Buyer::from_form(&buyer, &mut errors));
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

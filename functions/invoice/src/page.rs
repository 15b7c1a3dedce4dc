//! The printable Persian invoice page.

use mizan::invoice::Invoice;

pub fn render(invoice: &Invoice) -> Result<String, std::fmt::Error> {
    Ok(format!("<!DOCTYPE html><html lang=\"fa\" dir=\"rtl\"><body>{}</body></html>", invoice.tax_id.as_str()))
}

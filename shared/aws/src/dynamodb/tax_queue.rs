//! The invoices' way to the tax system, kept on the invoice items themselves: `tax_state`
//! (queued, sent, accepted, failed), `tax_attempts`, `tax_reference`, `tax_errors` (JSON), and,
//! while the invoice still has a turn coming, `tax_queue = due` with `tax_due_at` (Unix seconds).
//! The sparse `TaxQueue` index (keys only) lists those, next due first. An invoice is queued in
//! the transaction that issues it, so none can be issued and never reported. A failed one is
//! marked `tax_failed = failed`: the sparse `TaxFailed` index lists those by serial, for finance.

use aws_sdk_dynamodb::types::AttributeValue;
use mizan::invoicing::invoice::{Invoice, InvoiceKind};
use mizan::invoicing::ports::{Correction, FailedInvoice, TaxEntry, TaxError, TaxLedger, TaxReference, TaxState};
use mizan::kernel::failures::StoreError;
use mizan::kernel::ids::OrderId;
use mizan::kernel::paging::{ListError, Page, PageRequest};
use time::OffsetDateTime;

use super::invoices::{InvoicesTable, invoice_key};
use super::{Item, conditional, get_n, get_s, get_time, n, s, time};

const DUE: &str = "due";
const FAILED: &str = "failed";
const FIELDS: &str = "pk, tax_state, tax_attempts, tax_due_at, tax_reference, tax_errors";

/// The attributes of a newly issued invoice: queued, due at once.
pub(super) fn queued(issued_at: OffsetDateTime) -> [(String, AttributeValue); 4] {
    [
        ("tax_state".to_owned(), s(TaxState::Queued.as_str())),
        ("tax_attempts".to_owned(), n(0)),
        ("tax_queue".to_owned(), s(DUE)),
        ("tax_due_at".to_owned(), time(issued_at)),
    ]
}

/// The order and kind an invoice's key names.
fn parse_key(key: &str) -> Option<(OrderId, InvoiceKind)> {
    let rest = key.strip_prefix("INVOICE#")?;
    match rest.split_once('#') {
        Some((order, "RETURN")) => Some((OrderId::parse(order)?, InvoiceKind::Return)),
        Some((order, "CORRECTION")) => Some((OrderId::parse(order)?, InvoiceKind::Correction)),
        None => Some((OrderId::parse(rest)?, InvoiceKind::Sale)),
        Some(_) => None,
    }
}

fn read_entry(item: &Item) -> Result<TaxEntry, StoreError> {
    let (order, kind) = parse_key(get_s(item, "pk")?).ok_or(StoreError::Corrupt("pk"))?;
    let reference = item.get("tax_reference").and_then(|v| v.as_s().ok()).map(|r| TaxReference(r.clone()));
    let state = match (get_s(item, "tax_state")?, reference) {
        ("queued", _) => TaxState::Queued,
        ("sent", Some(reference)) => TaxState::Sent(reference),
        ("accepted", Some(reference)) => TaxState::Accepted(reference),
        ("failed", reference) => {
            let errors = item.get("tax_errors").and_then(|v| v.as_s().ok()).map(String::as_str).unwrap_or("[]");
            TaxState::Failed {
                reference,
                errors: serde_json::from_str::<Vec<TaxError>>(errors).map_err(|_| StoreError::Corrupt("tax_errors"))?,
            }
        }
        _ => return Err(StoreError::Corrupt("tax_state")),
    };
    Ok(TaxEntry { order, kind, state, attempts: get_n(item, "tax_attempts")?, due_at: get_time(item, "tax_due_at")? })
}

impl InvoicesTable {
    /// The `projection` of the invoice item at `key`, as it is now (the indexes lag the table).
    async fn read(&self, key: &str, projection: &str) -> Result<Option<Item>, StoreError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .projection_expression(projection)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        Ok(answer.item)
    }

    async fn tax_entry_at(&self, key: &str) -> Result<Option<TaxEntry>, StoreError> {
        // An invoice issued before the tax queue existed has no state: it is not on the way.
        match self.read(key, FIELDS).await? {
            Some(item) if item.contains_key("tax_state") => read_entry(&item).map(Some),
            _ => Ok(None),
        }
    }
}

impl TaxLedger for InvoicesTable {
    async fn due(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<TaxEntry>, StoreError> {
        let answer = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("TaxQueue")
            .key_condition_expression("tax_queue = :due AND tax_due_at <= :now")
            .expression_attribute_values(":due", s(DUE))
            .expression_attribute_values(":now", time(now))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        let mut due = Vec::new();
        for item in answer.items() {
            // The index lags the table: each entry is read as it is now.
            if let Some(entry) = self.tax_entry_at(get_s(item, "pk")?).await?
                && matches!(entry.state, TaxState::Queued | TaxState::Sent(_))
                && entry.due_at <= now
            {
                due.push(entry);
            }
        }
        Ok(due)
    }

    async fn entry(&self, order: OrderId, kind: InvoiceKind) -> Result<Option<TaxEntry>, StoreError> {
        self.tax_entry_at(&invoice_key(order, kind)).await
    }

    async fn failed(&self, page: PageRequest<'_>) -> Result<Page<FailedInvoice>, ListError> {
        let after: u64 = match page.cursor {
            Some(cursor) => cursor.parse().map_err(|_| ListError::BadCursor)?,
            None => 0,
        };
        let answer = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("TaxFailed")
            .key_condition_expression("tax_failed = :failed AND serial > :after")
            .expression_attribute_values(":failed", s(FAILED))
            .expression_attribute_values(":after", n(after))
            .limit(i32::try_from(page.limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        let mut items = Vec::new();
        for key in answer.items() {
            // The index lags the table: one corrected meanwhile is no longer listed.
            let Some(item) = self.read(get_s(key, "pk")?, &format!("{FIELDS}, serial, tax_id")).await? else {
                continue;
            };
            let entry = read_entry(&item)?;
            if let TaxState::Failed { reference, errors } = entry.state {
                items.push(FailedInvoice {
                    order: entry.order,
                    kind: entry.kind,
                    serial: get_n(&item, "serial")?,
                    tax_id: get_s(&item, "tax_id")?.to_owned(),
                    reference,
                    errors,
                });
            }
        }
        let next = match answer.last_evaluated_key() {
            Some(last) if !last.is_empty() => Some(get_n::<u64>(last, "serial")?.to_string()),
            _ => None,
        };
        Ok(Page { items, next })
    }

    /// Puts the corrected invoice in place of the rejected one (the same key, serial and tax id;
    /// queued again, off the failed list), the corrections so far and this one beside it, on
    /// condition that it is still as read.
    async fn resubmit(
        &self,
        entry: &TaxEntry,
        corrected: &Invoice,
        correction: &Correction,
    ) -> Result<bool, StoreError> {
        let key = invoice_key(entry.order, entry.kind);
        let mut corrections: Vec<AttributeValue> = self
            .read(&key, "tax_corrections")
            .await?
            .and_then(|item| item.get("tax_corrections").and_then(|v| v.as_l().ok()).cloned())
            .unwrap_or_default();
        let recorded = serde_json::to_string(correction).map_err(|_| StoreError::Failed("encode-correction".into()))?;
        corrections.push(s(recorded));
        let mut item = self.invoice_item(corrected).await?;
        item.insert("tax_corrections".to_owned(), AttributeValue::L(corrections));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("tax_state = :was AND tax_attempts = :was_attempts AND tax_due_at = :was_due")
            .expression_attribute_values(":was", s(entry.state.as_str()))
            .expression_attribute_values(":was_attempts", n(entry.attempts))
            .expression_attribute_values(":was_due", time(entry.due_at))
            .send()
            .await;
        conditional(put.map(|_| ()))
    }

    async fn advance(
        &self,
        entry: &TaxEntry,
        state: &TaxState,
        attempts: u32,
        due_at: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        let mut set = vec!["tax_state = :state", "tax_attempts = :attempts"];
        let mut remove = vec![];
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(invoice_key(entry.order, entry.kind)))
            // As it was read: another run that moved it first wins.
            .condition_expression("tax_state = :was AND tax_attempts = :was_attempts AND tax_due_at = :was_due")
            .expression_attribute_values(":was", s(entry.state.as_str()))
            .expression_attribute_values(":was_attempts", n(entry.attempts))
            .expression_attribute_values(":was_due", time(entry.due_at))
            .expression_attribute_values(":state", s(state.as_str()))
            .expression_attribute_values(":attempts", n(attempts));
        let reference = match state {
            TaxState::Queued | TaxState::Sent(_) | TaxState::Accepted(_) => {
                remove.push("tax_failed");
                state.reference()
            }
            TaxState::Failed { reference, errors } => {
                let errors =
                    serde_json::to_string(errors).map_err(|_| StoreError::Failed("encode-tax-errors".into()))?;
                set.extend(["tax_errors = :errors", "tax_failed = :failed"]);
                update = update
                    .expression_attribute_values(":errors", s(errors))
                    .expression_attribute_values(":failed", s(FAILED));
                reference.as_ref()
            }
        };
        match reference {
            Some(reference) => {
                set.push("tax_reference = :reference");
                update = update.expression_attribute_values(":reference", s(&reference.0));
            }
            None => remove.push("tax_reference"),
        }
        match due_at {
            Some(due_at) => {
                set.extend(["tax_queue = :due", "tax_due_at = :due_at"]);
                update = update
                    .expression_attribute_values(":due", s(DUE))
                    .expression_attribute_values(":due_at", time(due_at));
            }
            // Accepted or failed: off the queue.
            None => remove.push("tax_queue"),
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        conditional(update.update_expression(expression).send().await.map(|_| ()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invoices_key_names_its_order_and_kind() {
        let order = OrderId::for_checkout(mizan::kernel::ids::AccountId::new(), "k");
        assert_eq!(parse_key(&invoice_key(order, InvoiceKind::Sale)), Some((order, InvoiceKind::Sale)));
        assert_eq!(parse_key(&invoice_key(order, InvoiceKind::Return)), Some((order, InvoiceKind::Return)));
        assert_eq!(parse_key(&invoice_key(order, InvoiceKind::Correction)), Some((order, InvoiceKind::Correction)));
        assert_eq!(parse_key(&format!("INVOICE#{order}#OTHER")), None);
        assert_eq!(parse_key("CERTIFICATE#x"), None);
    }
}

//! The invoices table: official invoices with gapless serials, and VAT certificates.
//!
//! Items: `COUNTER#invoice` (the last serial handed out), `INVOICE#<order id>` (the invoice,
//! its buyer through `buyer_identity`, identity codes sealed), `INVOICE#<order id>#CORRECTION`
//! (the corrective invoice of a sale's accepted invoice, `corrects` naming its tax id),
//! `INVOICE#<order id>#RETURN` (the return invoice of a cancelled sale, `returns` naming the tax
//! id of the sale's invoice as it stood) and `CERTIFICATE#<order id>`. Corrective and return
//! invoices share the counter: one series without gaps. Each invoice also carries its state with
//! the tax system (tax_queue.rs).
//! The seller's economic code stays readable: it is the store's own, printed on every invoice
//! and published as a template parameter, not a customer's personal data.
//!
//! Gapless numbering (patterns.md): read the counter N, then one transaction sets it to N+1 on
//! condition it is still N and puts the invoice numbered N+1 on condition the order has none.
//! If the counter moved, read again and retry; if the order has its invoice, it is done — so a
//! redelivered event consumes no number, and a failed transaction consumes none either.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

use super::outbox::{self, OutboxTable};
use super::{Item, buyer_identity, conditional, get_n, get_parsed, get_s, get_time, n, s, time};
use crate::kms::sealed_fields::FieldSealer;
use mizan::accounts::contact::PostalCode;
use mizan::invoicing::invoice::{Invoice, InvoiceKind, InvoiceSubject, InvoiceTotals, PaymentRecord, VatCertificate};
use mizan::invoicing::ports::{InvoiceBook, Issuance};
use mizan::invoicing::tax_id::TaxId;
use mizan::kernel::events::Envelope;
use mizan::kernel::failures::StoreError;
use mizan::kernel::ids::AccountId;
use mizan::kernel::ids::OrderId;
use mizan::kernel::money::Rial;
use mizan::ordering::identity::EconomicCode;

const COUNTER_KEY: &str = "COUNTER#invoice";
/// Concurrent issuances race for the counter; each retry reads it afresh. Bounded so that a
/// storm fails the invocation (and the event is redelivered) instead of spinning.
const MAX_ROUNDS: u32 = 200;

#[derive(Debug, Clone)]
pub struct InvoicesTable {
    pub(super) client: Client,
    pub(super) table: String,
    fields: FieldSealer,
    outbox: Option<OutboxTable>,
}

pub(super) fn invoice_key(order: OrderId, kind: InvoiceKind) -> String {
    match kind {
        InvoiceKind::Sale => format!("INVOICE#{order}"),
        InvoiceKind::Correction => format!("INVOICE#{order}#CORRECTION"),
        InvoiceKind::Return => format!("INVOICE#{order}#RETURN"),
    }
}

fn certificate_key(order: OrderId) -> String {
    format!("CERTIFICATE#{order}")
}

impl InvoicesTable {
    pub fn new(client: Client, table: impl Into<String>, fields: FieldSealer) -> Self {
        Self { client, table: table.into(), fields, outbox: None }
    }

    /// The table as the invoice function uses it: issuing keeps its event in `outbox`.
    pub fn with_outbox(self, outbox: OutboxTable) -> Self {
        Self { outbox: Some(outbox), ..self }
    }

    async fn last_serial(&self) -> Result<u64, StoreError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(COUNTER_KEY))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        match answer.item {
            Some(item) => get_n(&item, "value"),
            None => Ok(0),
        }
    }
}

// The item layout of an invoice, its buyer sealed.
impl InvoicesTable {
    pub(super) async fn invoice_item(&self, invoice: &Invoice) -> Result<Item, StoreError> {
        let lines = serde_json::to_string(&invoice.lines).map_err(|_| StoreError::Failed("encode-lines".into()))?;
        let totals = serde_json::to_string(&invoice.totals).map_err(|_| StoreError::Failed("encode-totals".into()))?;
        let payment =
            serde_json::to_string(&invoice.payment).map_err(|_| StoreError::Failed("encode-payment".into()))?;
        let key = invoice_key(invoice.order_id, invoice.subject.kind());
        let mut item = Item::from([
            ("pk".to_owned(), s(&key)),
            ("order_id".to_owned(), s(invoice.order_id.to_string())),
            ("account_id".to_owned(), s(invoice.account.to_string())),
            ("serial".to_owned(), n(invoice.serial)),
            ("tax_id".to_owned(), s(invoice.tax_id.as_str())),
            ("issued_at".to_owned(), time(invoice.issued_at)),
            ("seller_name".to_owned(), s(&invoice.seller_name)),
            ("seller_economic_code".to_owned(), s(invoice.seller_economic_code.as_str())),
            ("seller_address".to_owned(), s(&invoice.seller_address)),
            ("seller_postal_code".to_owned(), s(invoice.seller_postal_code.as_str())),
            ("lines".to_owned(), s(lines)),
            ("totals".to_owned(), s(totals)),
            ("payment".to_owned(), s(payment)),
        ]);
        match &invoice.subject {
            InvoiceSubject::Original => {}
            InvoiceSubject::Correction { original } => {
                item.insert("corrects".to_owned(), s(original.as_str()));
            }
            InvoiceSubject::Return { original } => {
                item.insert("returns".to_owned(), s(original.as_str()));
            }
        }
        // Queued for the tax system in the transaction that issues it (tax_queue.rs).
        item.extend(super::tax_queue::queued(invoice.issued_at));
        buyer_identity::write(&self.fields, &key, &invoice.buyer, &mut item).await?;
        Ok(item)
    }

    async fn stored_item(&self, order: OrderId, kind: InvoiceKind) -> Result<Option<Item>, StoreError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(invoice_key(order, kind)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        Ok(answer.item)
    }

    async fn read_invoice(&self, order: OrderId, kind: InvoiceKind, item: &Item) -> Result<Invoice, StoreError> {
        let subject = match kind {
            InvoiceKind::Sale => InvoiceSubject::Original,
            InvoiceKind::Correction => {
                InvoiceSubject::Correction { original: get_parsed(item, "corrects", TaxId::parse)? }
            }
            InvoiceKind::Return => InvoiceSubject::Return { original: get_parsed(item, "returns", TaxId::parse)? },
        };
        Ok(Invoice {
            order_id: order,
            account: AccountId::parse(get_s(item, "account_id")?).ok_or(StoreError::Corrupt("account_id"))?,
            serial: get_n(item, "serial")?,
            tax_id: get_parsed(item, "tax_id", TaxId::parse)?,
            issued_at: get_time(item, "issued_at")?,
            seller_name: get_s(item, "seller_name")?.to_owned(),
            seller_economic_code: get_parsed(item, "seller_economic_code", EconomicCode::parse)?,
            seller_address: get_s(item, "seller_address")?.to_owned(),
            seller_postal_code: get_parsed(item, "seller_postal_code", PostalCode::parse)?,
            buyer: buyer_identity::read(&self.fields, &invoice_key(order, kind), item).await?,
            lines: serde_json::from_str(get_s(item, "lines")?).map_err(|_| StoreError::Corrupt("lines"))?,
            totals: serde_json::from_str::<InvoiceTotals>(get_s(item, "totals")?)
                .map_err(|_| StoreError::Corrupt("totals"))?,
            payment: serde_json::from_str::<PaymentRecord>(get_s(item, "payment")?)
                .map_err(|_| StoreError::Corrupt("payment"))?,
            subject,
        })
    }
}

impl InvoiceBook for InvoicesTable {
    /// Reads the counter, then one transaction moves it on by one and writes the invoice and its
    /// event, on condition the counter is unchanged and the order has no invoice.
    async fn issue<E>(
        &self,
        order: OrderId,
        kind: InvoiceKind,
        make: impl Fn(u64) -> Result<Invoice, E>,
        announced: &[Envelope],
    ) -> Result<Result<Issuance, E>, StoreError> {
        let announcement = outbox::puts(self.outbox.as_ref(), announced)?;
        if self.get(order, kind).await?.is_some() {
            return Ok(Ok(Issuance::AlreadyIssued));
        }
        for round in 0..MAX_ROUNDS {
            let last = self.last_serial().await?;
            let serial = last + 1;
            let invoice = match make(serial) {
                Ok(invoice) => invoice,
                Err(error) => return Ok(Err(error)),
            };
            let counter = Update::builder()
                .table_name(&self.table)
                .key("pk", s(COUNTER_KEY))
                .update_expression("SET #value = :next")
                // A counter never written reads as 0, and so does one seeded at 0.
                .condition_expression(if last == 0 {
                    "attribute_not_exists(#value) OR #value = :last"
                } else {
                    "#value = :last"
                })
                .expression_attribute_names("#value", "value")
                .expression_attribute_values(":next", n(serial))
                .expression_attribute_values(":last", n(last))
                .build()
                .map_err(|_| StoreError::Failed("build-update".into()))?;
            let document = Put::builder()
                .table_name(&self.table)
                .set_item(Some(self.invoice_item(&invoice).await?))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(|_| StoreError::Failed("build-put".into()))?;
            let mut items = vec![
                TransactWriteItem::builder().update(counter).build(),
                TransactWriteItem::builder().put(document).build(),
            ];
            items.extend(announcement.iter().cloned());
            let written = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
            let error = match written {
                Ok(_) => return Ok(Ok(Issuance::Issued(serial))),
                Err(error) => error,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = error.as_service_error()
            else {
                return Err(crate::dynamodb::store_error(&error));
            };
            let reasons: Vec<Option<&str>> = cancelled.cancellation_reasons().iter().map(|r| r.code()).collect();
            if reasons.get(1) == Some(&Some("ConditionalCheckFailed")) {
                return Ok(Ok(Issuance::AlreadyIssued));
            }
            if !reasons
                .iter()
                .flatten()
                .all(|code| matches!(*code, "None" | "ConditionalCheckFailed" | "TransactionConflict"))
            {
                return Err(StoreError::Failed(reasons.iter().flatten().copied().collect::<Vec<_>>().join(",")));
            }
            // Someone else took this serial: read the counter again, after a jittered pause so
            // the contenders spread out.
            let pause = u64::from(rand::random::<u8>() % 25) + u64::from(round.min(20));
            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
        }
        Err(StoreError::Unavailable("invoice-counter-contention".into()))
    }

    async fn get(&self, order: OrderId, kind: InvoiceKind) -> Result<Option<Invoice>, StoreError> {
        match self.stored_item(order, kind).await? {
            Some(item) => Ok(Some(self.read_invoice(order, kind, &item).await?)),
            None => Ok(None),
        }
    }

    /// Whose the invoice is is read first: another's is not opened (its sealed codes are not
    /// decrypted).
    async fn owned(&self, order: OrderId, kind: InvoiceKind, owner: AccountId) -> Result<Option<Invoice>, StoreError> {
        match self.stored_item(order, kind).await? {
            Some(item) if get_s(&item, "account_id")? == owner.to_string() => {
                Ok(Some(self.read_invoice(order, kind, &item).await?))
            }
            _ => Ok(None),
        }
    }

    async fn certify(&self, certificate: &VatCertificate) -> Result<VatCertificate, StoreError> {
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(certificate_key(certificate.order_id)))
            .item("order_id", s(certificate.order_id.to_string()))
            .item("invoice_serial", n(certificate.invoice_serial))
            .item("tax_id", s(certificate.tax_id.as_str()))
            .item("issued_at", time(certificate.issued_at))
            .item("vat", n(certificate.vat.value()))
            .item("total", n(certificate.total.value()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        if conditional(written.map(|_| ()))? {
            return Ok(certificate.clone());
        }
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(certificate_key(certificate.order_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        let item = answer.item.ok_or(StoreError::Corrupt("certificate"))?;
        Ok(VatCertificate {
            order_id: certificate.order_id,
            invoice_serial: get_n(&item, "invoice_serial")?,
            tax_id: get_parsed(&item, "tax_id", TaxId::parse)?,
            issued_at: get_time(&item, "issued_at")?,
            vat: Rial::new(get_n(&item, "vat")?),
            total: Rial::new(get_n(&item, "total")?),
        })
    }
}

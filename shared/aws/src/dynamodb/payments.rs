//! The payments table: each attempt to pay an order, and what the gateway said of it.
//!
//! Items: `PAYMENT#<payment id>` with the order, the account, the amount asked (Rials), the
//! status, and once known the gateway's `authority`, its `ref_id`, the masked card number and
//! when it was verified; once a cancelled order's money went back, how (`refund_method`), when
//! and the gateway's `refund_reference`. The sparse `ByAuthority` index (keys only) finds a payment by the
//! gateway's handle, for the payments the gateway reports paid but unverified. A payment is a
//! financial record: it is kept as long as its order.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::Update;

use super::{Item, conditional, get_n, get_parsed, get_s, get_time, n, s, time};
use mizan::kernel::failures::StoreError;
use mizan::kernel::ids::{AccountId, OrderId, PaymentId};
use mizan::kernel::money::Rial;
use mizan::payments::payment::{Authority, MaskedPan, Payment, PaymentStatus, RefId, Refund, Verified};
use time::OffsetDateTime;

#[derive(Debug, Clone)]
pub struct PaymentsTable {
    client: Client,
    table: String,
}

fn payment_key(id: PaymentId) -> String {
    format!("PAYMENT#{id}")
}

/// The condition of every change to a payment the gateway may still report paid.
const OPEN: &str = "#status IN (:started, :failed)";

impl PaymentsTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub(crate) async fn open(&self, payment: &Payment) -> Result<(), StoreError> {
        let item = Item::from([
            ("pk".to_owned(), s(payment_key(payment.id))),
            ("payment_id".to_owned(), s(payment.id.to_string())),
            ("order_id".to_owned(), s(payment.order_id.to_string())),
            ("account_id".to_owned(), s(payment.account.to_string())),
            ("amount".to_owned(), n(payment.amount.value())),
            ("status".to_owned(), s(payment.status.as_str())),
            ("started_at".to_owned(), time(payment.started_at)),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        Ok(())
    }

    /// Records the authority once: a payment's handle never changes.
    pub(crate) async fn attach(&self, id: PaymentId, authority: &Authority) -> Result<(), StoreError> {
        let attached = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(payment_key(id)))
            .update_expression("SET authority = :authority")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(authority)")
            .expression_attribute_values(":authority", s(authority.as_str()))
            .send()
            .await
            .map(|_| ());
        match conditional(attached)? {
            true => Ok(()),
            false => Err(StoreError::Failed("payment-authority-taken".into())),
        }
    }

    pub(crate) async fn get(&self, id: PaymentId) -> Result<Option<Payment>, StoreError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(payment_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        answer.item.as_ref().map(read_payment).transpose()
    }

    pub(crate) async fn by_authority(&self, authority: &Authority) -> Result<Option<Payment>, StoreError> {
        let answer = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("ByAuthority")
            .key_condition_expression("authority = :authority")
            .expression_attribute_values(":authority", s(authority.as_str()))
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        let Some(item) = answer.items().first() else { return Ok(None) };
        let id = get_s(item, "pk")?.strip_prefix("PAYMENT#").and_then(PaymentId::parse);
        // The index is eventually consistent; the payment itself is read afresh.
        self.get(id.ok_or(StoreError::Corrupt("pk"))?).await
    }

    pub(crate) async fn fail(&self, id: PaymentId) -> Result<(), StoreError> {
        let failed = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(payment_key(id)))
            .update_expression("SET #status = :to")
            .condition_expression(OPEN)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", s(PaymentStatus::Failed.as_str()))
            .expression_attribute_values(":started", s(PaymentStatus::Started.as_str()))
            .expression_attribute_values(":failed", s(PaymentStatus::Failed.as_str()))
            .send()
            .await
            .map(|_| ());
        // A payment settled meanwhile stays settled.
        conditional(failed).map(|_| ())
    }

    /// The update that closes an open payment as `to`, with what the gateway said of it.
    pub(crate) fn close(&self, id: PaymentId, to: PaymentStatus, verified: &Verified) -> Result<Update, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(payment_key(id)))
            .condition_expression(OPEN)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":started", s(PaymentStatus::Started.as_str()))
            .expression_attribute_values(":failed", s(PaymentStatus::Failed.as_str()))
            .expression_attribute_values(":at", time(verified.at));
        let mut set = vec!["#status = :to", "verified_at = :at"];
        if let Some(ref_id) = &verified.ref_id {
            set.push("ref_id = :ref");
            update = update.expression_attribute_values(":ref", s(ref_id.as_str()));
        }
        if let Some(pan) = &verified.card_pan {
            set.push("card_pan = :pan");
            update = update.expression_attribute_values(":pan", s(pan.as_str()));
        }
        update
            .update_expression(format!("SET {}", set.join(", ")))
            .build()
            .map_err(|_| StoreError::Failed("build-update".into()))
    }

    /// The update that records how a paid payment's money went back: `refund_method` is
    /// `reverse`, `refund` or `by_hand`, with the gateway's reference when it gave one.
    pub(crate) fn refund(&self, id: PaymentId, refund: &Refund, at: OffsetDateTime) -> Result<Update, StoreError> {
        let (to, method, reference) = match refund {
            Refund::Reversed => (PaymentStatus::Refunded, "reverse", None),
            Refund::Refunded { reference } => (PaymentStatus::Refunded, "refund", reference.as_ref()),
            Refund::Due => (PaymentStatus::RefundDue, "by_hand", None),
        };
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(payment_key(id)))
            .condition_expression("#status = :paid")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":paid", s(PaymentStatus::Paid.as_str()))
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":method", s(method))
            .expression_attribute_values(":at", time(at));
        let mut set = "SET #status = :to, refund_method = :method, refunded_at = :at".to_owned();
        if let Some(reference) = reference {
            set.push_str(", refund_reference = :reference");
            update = update.expression_attribute_values(":reference", s(reference.as_str()));
        }
        update.update_expression(set).build().map_err(|_| StoreError::Failed("build-update".into()))
    }
}

fn read_payment(item: &Item) -> Result<Payment, StoreError> {
    let verified = match item.get("verified_at") {
        None => None,
        Some(_) => Some(Verified {
            ref_id: item.get("ref_id").and_then(|v| v.as_s().ok()).and_then(|text| RefId::parse(text)),
            card_pan: item.get("card_pan").and_then(|v| v.as_s().ok()).and_then(|text| MaskedPan::parse(text)),
            at: get_time(item, "verified_at")?,
        }),
    };
    Ok(Payment {
        id: get_parsed(item, "payment_id", |text| PaymentId::parse(text).ok_or(()))?,
        order_id: get_parsed(item, "order_id", |text| OrderId::parse(text).ok_or(()))?,
        account: get_parsed(item, "account_id", |text| AccountId::parse(text).ok_or(()))?,
        amount: Rial::new(get_n(item, "amount")?),
        authority: match item.get("authority") {
            Some(_) => Some(get_parsed(item, "authority", Authority::parse)?),
            None => None,
        },
        status: get_parsed(item, "status", |text| PaymentStatus::parse(text).ok_or(()))?,
        started_at: get_time(item, "started_at")?,
        verified,
    })
}

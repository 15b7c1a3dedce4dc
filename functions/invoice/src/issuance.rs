//! Issuing invoices for `OrderPlaced` events: one invoice per order, however often the event
//! is delivered.

use aws_lambda_events::sns::SnsEvent;
use mizan::invoicing::invoice::Invoice;
use mizan::invoicing::tax_id::TaxIdError;
use mizan::kernel::events::{DomainEvent, Envelope};
use mizan::kernel::failures::SendError;
use mizan::kernel::failures::StoreError;
use mizan::kernel::ids::OrderId;
use mizan::kernel::ports::EventPublisher;
use mizan_aws::dynamodb::invoices::Issuance;
use time::OffsetDateTime;

use crate::Deps;

/// Fails the invocation, so Lambda retries it and then dead-letters the event.
#[derive(Debug, thiserror::Error)]
pub enum IssuanceError {
    #[error("an SNS message is not a domain event (message id {0})")]
    Unreadable(String),
    #[error("order {0} does not exist")]
    NoSuchOrder(OrderId),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    TaxId(#[from] TaxIdError),
    #[error(transparent)]
    Publish(#[from] SendError),
}

impl From<IssuanceError> for lambda_http::lambda_runtime::Diagnostic {
    fn from(error: IssuanceError) -> Self {
        Self { error_type: "IssuanceError".to_owned(), error_message: error.to_string() }
    }
}

pub async fn handle(deps: &Deps, event: SnsEvent) -> Result<(), IssuanceError> {
    for record in event.records {
        let envelope: Envelope = serde_json::from_str(&record.sns.message)
            .map_err(|_| IssuanceError::Unreadable(record.sns.message_id.clone()))?;
        // The subscription delivers OrderPlaced only; anything else is not this function's.
        if let DomainEvent::OrderPlaced { order_id, .. } = envelope.event {
            issue(deps, order_id).await?;
        }
    }
    Ok(())
}

async fn issue(deps: &Deps, order_id: OrderId) -> Result<(), IssuanceError> {
    let order = deps.orders.order(order_id).await?.ok_or(IssuanceError::NoSuchOrder(order_id))?;
    let now = OffsetDateTime::now_utc();
    let issued = deps.invoices.issue(&order, |serial| Invoice::issue(&order, &deps.seller, serial, now)).await??;
    match issued {
        Issuance::Issued(serial) => tracing::info!(order = %order_id, serial, "invoice issued"),
        Issuance::AlreadyIssued => tracing::info!(order = %order_id, "invoice already issued"),
    }
    // Published on every delivery, under one event id: a run that issued the invoice but died
    // before publishing is made good by the redelivery, and nothing downstream happens twice.
    let issued = DomainEvent::InvoiceIssued { order_id, account_id: order.account };
    deps.events.publish(&Envelope::once_per(&format!("invoice-issued#{order_id}"), issued, now)).await?;
    Ok(())
}

//! The fulfilment function: the packing queue and the steps of an order after checkout — staff
//! pack, ship and deliver; staff and the customer cancel before it ships. It reads orders without
//! their buyer (no key to the sealed codes) and recipients only of orders being sent (P15).

mod routes;

use mizan::accounts::session::SessionKeys;
use mizan_aws::dynamodb::accounts::AccountsTable;
use mizan_aws::dynamodb::dispatch::Dispatch;
use mizan_aws::dynamodb::order_progress::OrderProgressTable;
use mizan_aws::dynamodb::outbox::OutboxTable;
use mizan_aws::dynamodb::products::ProductsTable;
use mizan_aws::lambda::config;

/// Everything an invocation borrows: built once per cold start.
pub struct Deps {
    pub dispatch: Dispatch,
    pub sessions: SessionKeys,
    /// Sessions are checked against the account: closed accounts and changed roles end them.
    pub accounts: AccountsTable,
    /// How long a recipient is kept once the order is delivered or cancelled (P15).
    pub recipient_kept: time::Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("RECIPIENT_KEPT_AFTER_FULFILMENT must be P<days>D (or PT<seconds>S, for tests)")]
struct InvalidRecipientKeeping;

/// `P30D`, or `PT5S` for a test that watches the erasure happen: the two ISO 8601 durations the
/// template allows.
fn recipient_keeping(text: &str) -> Result<time::Duration, InvalidRecipientKeeping> {
    let days = text.strip_prefix('P').and_then(|rest| rest.strip_suffix('D')).and_then(|n| n.parse().ok());
    let seconds = text.strip_prefix("PT").and_then(|rest| rest.strip_suffix('S')).and_then(|n| n.parse().ok());
    match (days, seconds) {
        (Some(days), _) if (1..=90).contains(&days) => Ok(time::Duration::days(days)),
        (_, Some(seconds)) if (1..=86_400).contains(&seconds) => Ok(time::Duration::seconds(seconds)),
        _ => Err(InvalidRecipientKeeping),
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    mizan_aws::lambda::telemetry::init();
    let aws = config::aws().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let deps = Deps {
        dispatch: Dispatch {
            orders: OrderProgressTable::new(dynamodb.clone(), config::required("ORDERS_TABLE")?),
            products: ProductsTable::new(dynamodb.clone(), config::required("PRODUCTS_TABLE")?),
            outbox: OutboxTable::new(dynamodb.clone(), config::required("OUTBOX_TABLE")?),
        },
        accounts: AccountsTable::new(dynamodb, config::required("ACCOUNTS_TABLE")?),
        sessions: config::session_keys()?,
        recipient_kept: recipient_keeping(&config::required("RECIPIENT_KEPT_AFTER_FULFILMENT")?)?,
    };
    mizan_aws::lambda::http::serve(|req| routes::handle(&deps, req)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p15_the_recipient_is_kept_days_in_production_and_seconds_only_in_tests() {
        assert_eq!(recipient_keeping("P30D").unwrap(), time::Duration::days(30));
        assert_eq!(recipient_keeping("PT3S").unwrap(), time::Duration::seconds(3));
        for bad in ["30", "P0D", "P91D", "PT0S", "P1W", "PT1M", ""] {
            assert!(recipient_keeping(bad).is_err(), "{bad}");
        }
    }
}

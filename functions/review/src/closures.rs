//! Closed accounts (subscribed to `AccountClosed`): their reviews stay, under an anonymous name,
//! still linked to the account id for legal follow-up (P11).

use mizan::kernel::events::{DomainEvent, Envelope};
use mizan::reviewing::closed_authors::{self, AnonymiseError};
use mizan_aws::lambda::triggers::Failed;

use crate::Deps;

/// Fails the invocation: SNS and Lambda retry it, and after that it lands in the dead-letter
/// queue with the event, ready to be replayed. Should the account's deletion have failed for
/// good, that is where the event ends, and the reviews keep their names, as the account does.
pub async fn handle(deps: &Deps, events: Vec<Envelope>) -> Result<(), Failed<AnonymiseError>> {
    for envelope in events {
        // The subscription delivers AccountClosed only; anything else is not this function's.
        if let DomainEvent::AccountClosed { account_id } = envelope.event {
            closed_authors::anonymise(&deps.reviews, &deps.accounts, account_id).await?;
        }
    }
    Ok(())
}

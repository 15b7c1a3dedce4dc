//! The schedule's tick: verify the payments the gateway holds unverified, expire overdue orders.

use mizan::kernel::clock::now;
use mizan::kernel::failures::StoreError;
use mizan::payments::sweep;
use mizan_aws::lambda::triggers::Failed;

use crate::Deps;

/// Fails the invocation (the next tick tries again) when the tables cannot be read or written.
pub async fn handle(deps: &Deps) -> Result<(), Failed<StoreError>> {
    let report = sweep::sweep(&deps.till, &deps.gateway, now()).await?;
    tracing::info!(settled = report.settled, expired = report.expired, "payment sweep done");
    Ok(())
}

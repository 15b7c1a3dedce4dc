//! The IP records table (P14): the address a request came from where it matters — logging in
//! and placing an order — for a limited time, so that an abuse or a legal request can be
//! followed up (P3, P11). Signup's address is kept with the terms acceptance on the account, a
//! review's with each of its versions.
//!
//! Items: partition key `ACCOUNT#<account id>`, sort key `<epoch seconds.nanoseconds>#<what>`, with the
//! address; expiring by TTL after `KEEP_FOR`.

use std::net::IpAddr;

use aws_sdk_dynamodb::Client;
use time::{Duration, OffsetDateTime};

use super::{Item, every_page, get_parsed, get_time, s, time};
use mizan::kernel::failures::StoreError;
use mizan::kernel::ids::AccountId;
use mizan::kernel::ports::IpRecorder;
use mizan::kernel::ports::{IpRecord, RecordedRequest};
use mizan::privacy::ports::IpHistory;

/// Six months: long enough to follow up abuse or a legal request about a login or an order,
/// short enough that the store does not hold a history of where its customers have been.
pub const KEEP_FOR: Duration = Duration::days(183);

#[derive(Debug, Clone)]
pub struct IpRecordsTable {
    client: Client,
    table: String,
}

fn partition(account: AccountId) -> String {
    format!("ACCOUNT#{account}")
}

impl IpRecordsTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

fn read(item: &Item) -> Result<IpRecord, StoreError> {
    Ok(IpRecord {
        at: get_time(item, "at")?,
        request: get_parsed(item, "request", |text| RecordedRequest::parse(text).ok_or(()))?,
        ip: get_parsed(item, "ip", |text| text.parse::<IpAddr>())?,
    })
}

impl IpRecorder for IpRecordsTable {
    async fn record(
        &self,
        account: AccountId,
        request: RecordedRequest,
        ip: IpAddr,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        // Zero-padded seconds and nanoseconds: the sort key's string order is time order.
        let at = format!("{:012}.{:09}", now.unix_timestamp(), now.nanosecond());
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(partition(account)))
            .item("sk", s(format!("{at}#{}", request.as_str())))
            .item("request", s(request.as_str()))
            .item("ip", s(ip.to_string()))
            .item("at", time(now))
            .item("expires_at", time(now + KEEP_FOR))
            .send()
            .await
            .map_err(|e| crate::dynamodb::store_error(&e))?;
        Ok(())
    }
}

impl IpHistory for IpRecordsTable {
    /// Every record of an account still kept, oldest first. TTL deletes late (up to days), so
    /// records past their time are left out here: they are not disclosed beyond their period.
    async fn of_account(&self, account: AccountId, now: OffsetDateTime) -> Result<Vec<IpRecord>, StoreError> {
        let items = every_page(|start| {
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .filter_expression("expires_at > :now")
                .expression_attribute_values(":pk", s(partition(account)))
                .expression_attribute_values(":now", time(now))
                .set_exclusive_start_key(start)
                .send()
        })
        .await?;
        items.iter().map(read).collect()
    }
}

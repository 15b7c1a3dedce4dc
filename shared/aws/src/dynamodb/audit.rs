//! The audit table: the append-only trail of legal requests (P3).
//!
//! Items (partition key `pk`, sort key `sk`): `AUDIT#<yyyy-mm>` / `<UTC time, microseconds>#<id>`,
//! one per disclosure or refused attempt. A month per partition keeps listing a Query (newest
//! first within a month, month by month backwards) without a hot key. Records are only ever
//! put, on condition that none is there: this adapter has no update and no delete, and the IAM
//! policy of every function denies them on this table.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;

use super::{Item, conditional, get_n, get_s, get_time, n, s, time};
use mizan::accounts::account::Role;
use mizan::kernel::failures::StoreError;
use mizan::kernel::ids::AccountId;
use mizan::kernel::paging::{ListError, Page, PageRequest};
use mizan::kernel::solar_hijri::SolarDate;
use mizan::privacy::audit::{Action, AuditRecord, AuditedSubject, Outcome};
use mizan::privacy::ports::AuditTrail;
use mizan::privacy::subject::SubjectKind;

/// The month the trail began: a listing walks back no further.
const FIRST_MONTH: Month = Month { year: 2026, month: 1 };

#[derive(Debug, Clone)]
pub struct AuditTable {
    client: Client,
    table: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Month {
    year: i32,
    month: u8,
}

impl Month {
    fn of(at: OffsetDateTime) -> Self {
        let at = at.to_offset(time::UtcOffset::UTC);
        Self { year: at.year(), month: u8::from(at.month()) }
    }

    fn previous(self) -> Self {
        match self.month {
            1 => Self { year: self.year - 1, month: 12 },
            m => Self { year: self.year, month: m - 1 },
        }
    }

    fn key(self) -> String {
        format!("AUDIT#{:04}-{:02}", self.year, self.month)
    }

    fn parse_key(key: &str) -> Option<Self> {
        let (year, month) = key.strip_prefix("AUDIT#")?.split_once('-')?;
        let valid = year.len() == 4 && month.len() == 2 && format!("{year}{month}").bytes().all(|b| b.is_ascii_digit());
        let month = Self { year: year.parse().ok()?, month: month.parse().ok()? };
        (valid && (1..=12).contains(&month.month)).then_some(month)
    }
}

/// `2026-11-25T12:06:46.123456Z#<id>`: fixed width, so string order is time order.
fn sort_key(record: &AuditRecord) -> String {
    let at = record.at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z#{}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond(),
        record.id
    )
}

impl AuditTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Records newest first, a page at a time, from the month of `now` back to the first.
    pub async fn list(&self, asked: PageRequest<'_>, now: OffsetDateTime) -> Result<Page<AuditRecord>, ListError> {
        let limit = asked.limit;
        let (mut month, mut before) = match asked.cursor {
            Some(cursor) => {
                let (month, sk) = decode_cursor(cursor, Month::of(now)).ok_or(ListError::BadCursor)?;
                (month, Some(sk))
            }
            None => (Month::of(now), None),
        };
        let mut records = Vec::new();
        let mut last_key = None;
        while records.len() < limit as usize && month >= FIRST_MONTH {
            let mut start = None;
            loop {
                let wanted = limit as usize - records.len();
                let mut query = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .expression_attribute_values(":pk", s(month.key()))
                    .scan_index_forward(false)
                    .limit(i32::try_from(wanted).unwrap_or(i32::MAX))
                    .set_exclusive_start_key(start.take());
                query = match &before {
                    Some(sk) => query
                        .key_condition_expression("pk = :pk AND sk < :before")
                        .expression_attribute_values(":before", s(sk.clone())),
                    None => query.key_condition_expression("pk = :pk"),
                };
                let answer = query.send().await.map_err(|e| crate::dynamodb::store_error(&e))?;
                for item in answer.items() {
                    records.push(read_record(item)?);
                    last_key = Some((month, get_s(item, "sk")?.to_owned()));
                }
                start = answer.last_evaluated_key;
                if start.is_none() || records.len() >= limit as usize {
                    break;
                }
            }
            if records.len() < limit as usize {
                month = month.previous();
                before = None;
            }
        }
        let next = match (records.len() >= limit as usize, last_key) {
            (true, Some((month, sk))) => Some(encode_cursor(month, &sk)),
            _ => None,
        };
        Ok(Page { items: records, next })
    }
}

fn encode_cursor(month: Month, sk: &str) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&serde_json::json!({ "pk": month.key(), "sk": sk })).unwrap_or_default())
}

/// A cursor is the key of the last record shown. Each part must be what this listing itself
/// writes, so a forged cursor can neither make the query fail nor reach outside the trail; and
/// its month cannot be after this one, or the walk back to it would run out the clock.
fn decode_cursor(cursor: &str, this_month: Month) -> Option<(Month, String)> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let fields: BTreeMap<String, String> = serde_json::from_slice(&bytes).ok()?;
    if fields.len() != 2 {
        return None;
    }
    let month = Month::parse_key(fields.get("pk")?)?;
    let sk = fields.get("sk")?;
    let (at, id) = sk.split_once("Z#")?;
    let well_formed = at.len() == 26
        && at.starts_with(&format!("{:04}-{:02}-", month.year, month.month))
        && at.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'T' | b':' | b'.'))
        && uuid::Uuid::try_parse(id).is_ok()
        && month >= FIRST_MONTH
        && month <= this_month;
    well_formed.then(|| (month, sk.clone()))
}

fn opt_s(item: &mut Item, name: &str, value: Option<String>) {
    if let Some(value) = value {
        item.insert(name.to_owned(), s(value));
    }
}

fn record_item(record: &AuditRecord) -> Item {
    let mut item = Item::from([
        ("pk".to_owned(), s(Month::of(record.at).key())),
        ("sk".to_owned(), s(sort_key(record))),
        ("audit_id".to_owned(), s(record.id.to_string())),
        ("at".to_owned(), time(record.at)),
        ("at_micros".to_owned(), n(record.at.microsecond())),
        ("actor_id".to_owned(), s(record.actor.to_string())),
        ("actor_role".to_owned(), s(record.actor_role.as_str())),
        ("action".to_owned(), s(record.action.as_str())),
        ("outcome".to_owned(), s(record.outcome.as_str())),
        ("accounts".to_owned(), AttributeValue::L(record.accounts.iter().map(|id| s(id.to_string())).collect())),
        (
            "categories".to_owned(),
            AttributeValue::M(record.categories.iter().map(|(name, count)| (name.clone(), n(*count))).collect()),
        ),
    ]);
    opt_s(&mut item, "source_ip", record.source_ip.map(|ip| ip.to_string()));
    opt_s(&mut item, "authority", record.authority.clone());
    opt_s(&mut item, "reference", record.reference.clone());
    opt_s(&mut item, "request_date", record.request_date.map(|d| d.to_string()));
    if let Some(subject) = &record.subject {
        opt_s(&mut item, "subject_kind", Some(subject.kind.as_str().to_owned()));
        opt_s(&mut item, "subject_fingerprint", Some(subject.fingerprint.clone()));
        opt_s(&mut item, "subject_masked", Some(subject.masked.clone()));
    }
    item
}

fn optional(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn read_date(text: &str) -> Option<SolarDate> {
    let mut parts = text.split('/');
    let (year, month, day) = (parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?);
    SolarDate::new(year, month, day)
}

fn read_record(item: &Item) -> Result<AuditRecord, StoreError> {
    let micros: u32 = get_n(item, "at_micros")?;
    let at = get_time(item, "at")?.replace_microsecond(micros).map_err(|_| StoreError::Corrupt("at_micros"))?;
    let subject = match optional(item, "subject_kind") {
        None => None,
        Some(kind) => Some(AuditedSubject {
            kind: SubjectKind::parse(&kind).ok_or(StoreError::Corrupt("subject_kind"))?,
            fingerprint: get_s(item, "subject_fingerprint")?.to_owned(),
            masked: get_s(item, "subject_masked")?.to_owned(),
        }),
    };
    let accounts = match item.get("accounts").and_then(|v| v.as_l().ok()) {
        Some(list) => list
            .iter()
            .map(|v| v.as_s().ok().and_then(|t| AccountId::parse(t)).ok_or(StoreError::Corrupt("accounts")))
            .collect::<Result<Vec<_>, _>>()?,
        None => return Err(StoreError::Corrupt("accounts")),
    };
    let categories = match item.get("categories").and_then(|v| v.as_m().ok()) {
        Some(map) => map
            .iter()
            .map(|(name, v)| {
                v.as_n()
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .map(|count| (name.clone(), count))
                    .ok_or(StoreError::Corrupt("categories"))
            })
            .collect::<Result<BTreeMap<_, _>, _>>()?,
        None => return Err(StoreError::Corrupt("categories")),
    };
    Ok(AuditRecord {
        id: uuid::Uuid::try_parse(get_s(item, "audit_id")?).map_err(|_| StoreError::Corrupt("audit_id"))?,
        at,
        actor: AccountId::parse(get_s(item, "actor_id")?).ok_or(StoreError::Corrupt("actor_id"))?,
        actor_role: Role::parse(get_s(item, "actor_role")?).ok_or(StoreError::Corrupt("actor_role"))?,
        source_ip: optional(item, "source_ip").and_then(|ip| ip.parse().ok()),
        action: Action::parse(get_s(item, "action")?).ok_or(StoreError::Corrupt("action"))?,
        outcome: Outcome::parse(get_s(item, "outcome")?).ok_or(StoreError::Corrupt("outcome"))?,
        authority: optional(item, "authority"),
        reference: optional(item, "reference"),
        request_date: match optional(item, "request_date") {
            Some(text) => Some(read_date(&text).ok_or(StoreError::Corrupt("request_date"))?),
            None => None,
        },
        subject,
        accounts,
        categories,
    })
}

impl AuditTrail for AuditTable {
    /// Appends a record. A record is never overwritten: its key is new, and the put says so.
    async fn append(&self, record: &AuditRecord) -> Result<(), StoreError> {
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record_item(record)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match conditional(written.map(|_| ()))? {
            true => Ok(()),
            // A random id met an existing one: not a write to retry blindly.
            false => Err(StoreError::Failed("audit-record-exists".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(at: OffsetDateTime) -> AuditRecord {
        AuditRecord {
            id: uuid::Uuid::new_v4(),
            at,
            actor: AccountId::new(),
            actor_role: Role::Legal,
            source_ip: Some("203.0.113.10".parse().unwrap()),
            action: Action::Export,
            outcome: Outcome::Disclosed,
            authority: Some("دادسرای تهران".into()),
            reference: Some("1405/12".into()),
            request_date: SolarDate::new(1405, 9, 1),
            subject: Some(AuditedSubject {
                kind: SubjectKind::Email,
                fingerprint: "f".into(),
                masked: "m***@***.com".into(),
            }),
            accounts: vec![AccountId::new()],
            categories: BTreeMap::from([("orders".to_owned(), 2)]),
        }
    }

    fn at(unix: i64, micros: u32) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap().replace_microsecond(micros).unwrap()
    }

    #[test]
    fn p3_a_record_reads_back_as_written() {
        let written = record(at(1_795_597_200, 123_456));
        assert_eq!(read_record(&record_item(&written)).unwrap(), written);
    }

    #[test]
    fn sort_keys_order_by_time_and_stay_in_their_month() {
        let early = record(at(1_795_597_200, 5));
        let late = record(at(1_795_597_200, 40));
        assert!(sort_key(&early) < sort_key(&late));
        assert_eq!(Month::of(early.at).key(), "AUDIT#2026-11");
        assert!(sort_key(&early).starts_with("2026-11-25T09:00:00.000005Z#"));
    }

    #[test]
    fn cursors_round_trip_and_forged_ones_are_refused() {
        let written = record(at(1_795_597_200, 7));
        let month = Month::of(written.at);
        let cursor = encode_cursor(month, &sort_key(&written));
        assert_eq!(decode_cursor(&cursor, month), Some((month, sort_key(&written))));
        let forge = |pk: &str, sk: &str| {
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&serde_json::json!({ "pk": pk, "sk": sk })).unwrap())
        };
        for bad in [
            forge("ACCOUNT#x", &sort_key(&written)),
            forge("AUDIT#2026-10", &sort_key(&written)),
            forge("AUDIT#2026-13", "2026-13-01T00:00:00.000000Z#x"),
            forge("AUDIT#2025-11", "2025-11-01T00:00:00.000000Z#6f1d2c7a-93b4-8e05-a1c2-3d4e5f607182"),
            forge("AUDIT#2026-11", "2026-11-26T00:00:00.000000Z#not-a-uuid"),
            // A month after this one.
            forge("AUDIT#9999-12", "9999-12-01T00:00:00.000000Z#6f1d2c7a-93b4-8e05-a1c2-3d4e5f607182"),
            "not base64!".to_owned(),
            URL_SAFE_NO_PAD.encode(b"[]"),
        ] {
            assert_eq!(decode_cursor(&bad, month), None, "{bad}");
        }
    }

    #[test]
    fn months_walk_back_across_years() {
        assert_eq!(Month { year: 2026, month: 1 }.previous(), Month { year: 2025, month: 12 });
        assert_eq!(Month::parse_key("AUDIT#2026-03"), Some(Month { year: 2026, month: 3 }));
        assert_eq!(Month::parse_key("AUDIT#2026-3"), None);
    }
}

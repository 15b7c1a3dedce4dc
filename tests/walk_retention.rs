//! The retention walk (P14, P15): every item of every table of the template is held against the
//! register of `mizan::privacy::retention`. An item of a kind the register does not know, or of a kind
//! that TTL must delete but without its table's TTL attribute, is a finding.
//!
//! The walk reads whatever the other tests left in the local tables, so it sees every kind of
//! item the functions write: cargo runs test binaries one after another in name order, which is
//! why this one's name sorts last. It scans: it is a test, never something a function does.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use mizan::privacy::retention::{self, Finding, Kept};
use mizan_e2e::Stack;
use mizan_e2e::template::{self, Table};

type Item = HashMap<String, AttributeValue>;

/// The full walk must not see the other test's planted items.
static ONE_WALK_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Every finding in every table, as `table: key [sort key]: finding`.
async fn walk(stack: &Stack, tables: &[Table]) -> Vec<String> {
    let mut findings = Vec::new();
    for table in tables {
        let mut start = None;
        loop {
            let page = stack
                .dynamodb()
                .scan()
                .table_name(&table.name)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap_or_else(|error| panic!("cannot scan {}: {error:?}", table.name));
            for item in page.items() {
                if let Some(finding) = judge(table, item) {
                    findings.push(finding);
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
    }
    findings
}

fn judge(table: &Table, item: &Item) -> Option<String> {
    let text = |name: &str| item.get(name).and_then(|value| value.as_s().ok()).map(String::as_str);
    let key = text(&table.key).unwrap_or_default();
    let sort_key = table.sort_key.as_deref().and_then(text);
    let has_ttl = table.ttl.as_deref().is_some_and(|ttl| item.contains_key(ttl));
    let finding = retention::judge(&table.name, key, sort_key, has_ttl)?;
    Some(format!("{}: {key} {}: {finding:?}", table.name, sort_key.unwrap_or_default()))
}

#[test]
fn every_kind_the_register_deletes_by_ttl_is_in_a_table_with_ttl() {
    let tables = template::tables();
    for kind in retention::REGISTER {
        let table = tables
            .iter()
            .find(|table| table.name == kind.table)
            .unwrap_or_else(|| panic!("the register names {}, which the template does not have", kind.table));
        if matches!(kind.kept, Kept::ByTtl { .. }) {
            assert!(table.ttl.is_some(), "{} holds {} deleted by TTL, but has no TTL attribute", kind.table, kind.key);
        }
        assert_eq!(
            kind.sort_key.is_some(),
            table.sort_key.is_some(),
            "{} {}: the table's key shape",
            kind.table,
            kind.key
        );
    }
}

#[tokio::test]
async fn p14_p15_every_stored_item_has_a_ttl_or_a_documented_reason_to_be_kept() {
    let _alone = ONE_WALK_AT_A_TIME.lock().await;
    let stack = Stack::connect().await;
    let findings = walk(&stack, &template::tables()).await;
    assert!(findings.is_empty(), "items kept without a reason or a TTL:\n  {}", findings.join("\n  "));
}

/// The walk is not vacuous: an order's recipient planted without its TTL, and personal data
/// under a key the register does not know, are both found.
#[tokio::test]
async fn the_walk_finds_a_planted_recipient_without_ttl_and_an_unknown_kind() {
    let _alone = ONE_WALK_AT_A_TIME.lock().await;
    let stack = Stack::connect().await;
    let tables: Vec<Table> =
        template::tables().into_iter().filter(|t| t.name == "OrdersTable" || t.name == "AccountsTable").collect();
    let planted_order = format!("ORDER#{}#RECIPIENT", uuid::Uuid::new_v4());
    let planted_phone = format!("PHONE#{}", uuid::Uuid::new_v4().simple());
    let put = |table: &'static str, key: String, name: &'static str, value: &'static str| {
        let dynamodb = stack.dynamodb().clone();
        async move {
            dynamodb
                .put_item()
                .table_name(table)
                .item("pk", AttributeValue::S(key))
                .item(name, AttributeValue::S(value.to_owned()))
                .send()
                .await
                .expect("DynamoDB Local answers");
        }
    };
    put("OrdersTable", planted_order.clone(), "recipient_phone", "+989121112233").await;
    put("AccountsTable", planted_phone.clone(), "phone", "+989121112233").await;

    let findings = walk(&stack, &tables).await;
    for (table, key) in [("OrdersTable", &planted_order), ("AccountsTable", &planted_phone)] {
        stack.dynamodb().delete_item().table_name(table).key("pk", AttributeValue::S(key.clone())).send().await.ok();
    }
    assert!(findings.contains(&format!("OrdersTable: {planted_order} : {:?}", Finding::MissingTtl)), "{findings:?}");
    assert!(findings.contains(&format!("AccountsTable: {planted_phone} : {:?}", Finding::UnknownKind)), "{findings:?}");
}

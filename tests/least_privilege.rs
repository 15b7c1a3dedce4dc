//! What each function may reach, read from `infra/template.yaml` as it would be deployed.

use std::collections::{BTreeMap, BTreeSet};

use mizan_e2e::template::{field, functions, read, read_yaml, untag};
use serde_yaml::Value as Yaml;

/// The names a template value refers to: `!Ref X`, `!GetAtt X.…`, or `${X}` inside `!Sub`.
fn referred(value: &Yaml) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    if let Yaml::Tagged(tagged) = value {
        let inner = untag(value);
        match (tagged.tag.to_string().as_str(), inner.as_str()) {
            ("!Ref", Some(name)) => {
                names.insert(name.to_owned());
            }
            ("!GetAtt", Some(path)) => {
                names.insert(path.split('.').next().unwrap_or(path).to_owned());
            }
            ("!Sub", Some(text)) => {
                for piece in text.split("${").skip(1) {
                    let name = piece.split('}').next().unwrap_or_default();
                    if !name.starts_with("AWS::") {
                        names.insert(name.split('.').next().unwrap_or(name).to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    names
}

/// A function's environment variables, with what each refers to.
fn environment(properties: &Yaml) -> BTreeMap<String, BTreeSet<String>> {
    let variables = field(properties, "Environment").and_then(|env| field(env, "Variables"));
    let Some(variables) = variables.and_then(Yaml::as_mapping) else { return BTreeMap::new() };
    variables.iter().map(|(name, value)| (name.as_str().unwrap_or_default().to_owned(), referred(value))).collect()
}

fn as_list(value: Option<&Yaml>) -> Vec<Yaml> {
    match value.map(untag) {
        Some(Yaml::Sequence(items)) => items.clone(),
        Some(one) => vec![one.clone()],
        None => Vec::new(),
    }
}

/// Every statement of a function's inline policies, as written.
fn policy_statements(properties: &Yaml) -> Vec<Yaml> {
    let policies = field(properties, "Policies").and_then(Yaml::as_sequence).cloned().unwrap_or_default();
    policies.iter().flat_map(|policy| as_list(field(policy, "Statement"))).collect()
}

/// A statement's resources, tags kept (`!GetAtt`, `!Sub` say what they name).
fn resources_of(statement: &Yaml) -> Vec<Yaml> {
    match untag(statement).as_mapping().and_then(|m| m.get("Resource")) {
        Some(Yaml::Sequence(items)) => items.clone(),
        Some(one) => vec![one.clone()],
        None => Vec::new(),
    }
}

/// A statement's actions and the names its resources refer to.
fn reach(statement: &Yaml) -> (BTreeSet<String>, BTreeSet<String>) {
    let actions = as_list(field(statement, "Action")).iter().filter_map(|a| a.as_str().map(str::to_owned)).collect();
    (actions, resources_of(statement).iter().flat_map(referred).collect())
}

/// Every statement of a function's inline policies: its actions and the names its resources
/// refer to.
fn statements(properties: &Yaml) -> Vec<(BTreeSet<String>, BTreeSet<String>)> {
    policy_statements(properties).iter().map(reach).collect()
}

#[test]
fn no_secret_is_resolved_into_a_functions_environment() {
    let template = read("infra/template.yaml");
    assert!(!template.contains("resolve:secretsmanager"), "a dynamic reference puts a secret's value in plain sight");
}

#[test]
fn each_function_may_read_exactly_the_secrets_its_environment_names() {
    let template = read_yaml("infra/template.yaml");
    let mut reading = BTreeMap::new();
    for (logical_id, _, properties) in functions(&template) {
        let named: BTreeSet<String> = environment(&properties)
            .into_iter()
            .filter(|(name, _)| name.ends_with("_SECRET"))
            .flat_map(|(_, refs)| refs)
            .collect();
        let readable: BTreeSet<String> = statements(&properties)
            .into_iter()
            .filter(|(actions, _)| actions.contains("secretsmanager:GetSecretValue"))
            .flat_map(|(_, resources)| resources)
            .collect();
        assert_eq!(named, readable, "{logical_id}: the secrets it names and the secrets it may read");
        reading.insert(logical_id.clone(), named);
        for (actions, _) in statements(&properties) {
            assert!(
                actions.iter().all(|a| !a.starts_with("secretsmanager:") || a.ends_with("GetSecretValue")),
                "{logical_id} may only read secrets: {actions:?}"
            );
        }
    }
    let names = |list: &[&str]| list.iter().map(|name| (*name).to_owned()).collect::<BTreeSet<_>>();
    assert_eq!(
        reading["SignupFunction"],
        names(&["CodeHashKeySecret", "ContactLookupKeySecret", "SessionSigningKeySecretName"])
    );
    assert_eq!(
        reading["PrivacyFunction"],
        names(&["AuditSubjectKeySecret", "BuyerCodeHashKeySecret", "ContactLookupKeySecret"])
    );
    assert_eq!(reading["ReviewFunction"], names(&[]), "a function that needs no secret reads none");
}

#[test]
fn p12_only_the_signup_function_can_sign_a_session() {
    let template = read_yaml("infra/template.yaml");
    let mut signers = Vec::new();
    for (logical_id, _, properties) in functions(&template) {
        let env = environment(&properties);
        let reads_key = statements(&properties).into_iter().any(|(actions, resources)| {
            actions.contains("secretsmanager:GetSecretValue") && resources.contains("SessionSigningKeySecretName")
        });
        if env.contains_key("SESSION_SIGNING_KEY_SECRET") || reads_key {
            signers.push(logical_id.clone());
        }
        if env.contains_key("SESSION_PUBLIC_KEYS") {
            assert_eq!(env["SESSION_PUBLIC_KEYS"], BTreeSet::from(["SessionPublicKeys".to_owned()]), "{logical_id}");
        }
    }
    assert_eq!(signers, ["SignupFunction"]);
}

#[test]
fn p4_p14_every_log_is_kept_for_a_set_time_and_the_access_log_holds_no_personal_data() {
    let template = read_yaml("infra/template.yaml");
    let resources = field(&template, "Resources").expect("resources");
    for (logical_id, _, properties) in functions(&template) {
        let group = field(&properties, "LoggingConfig").and_then(|logging| field(logging, "LogGroup"));
        let group = untag(group.unwrap_or_else(|| panic!("{logical_id} writes to a group Lambda would make")));
        let group = field(resources, group.as_str().expect("a !Ref")).expect("a log group of the template");
        assert_eq!(field(group, "Type").and_then(Yaml::as_str), Some("AWS::Logs::LogGroup"), "{logical_id}");
        let retention = field(group, "Properties").and_then(|p| field(p, "RetentionInDays"));
        assert_eq!(retention.and_then(Yaml::as_str), Some("LogRetentionDays"), "{logical_id}");
    }
    let api = field(resources, "HttpApi").and_then(|api| field(api, "Properties")).expect("the HTTP API");
    let format = field(api, "AccessLogSettings").and_then(|settings| field(settings, "Format"));
    let format = format.and_then(Yaml::as_str).expect("the API writes an access log");
    let fields: BTreeSet<&str> =
        format.split("$context.").skip(1).map(|rest| rest.split('"').next().unwrap_or(rest)).collect();
    let allowed =
        BTreeSet::from(["requestId", "httpMethod", "routeKey", "status", "responseLatency", "requestTimeEpoch"]);
    assert_eq!(
        fields, allowed,
        "method, route, status, latency, request id and time: no path, query, address or token"
    );
}

/// The table or index a DynamoDB resource names: `AccountsTable`, `OrdersTable/index/ByAccount`.
fn dynamodb_resource(value: &Yaml) -> Option<String> {
    let Yaml::Tagged(tagged) = value else { return None };
    let text = untag(value).as_str()?;
    match tagged.tag.to_string().as_str() {
        "!GetAtt" => text.strip_suffix(".Arn").map(str::to_owned),
        "!Sub" => {
            let (table, rest) = text.strip_prefix("${")?.split_once(".Arn}")?;
            Some(format!("{table}{rest}"))
        }
        _ => None,
    }
}

/// A condition's values under `operator` / `key`, if the statement sets them.
fn condition(statement: &Yaml, operator: &str, key: &str) -> Option<BTreeSet<String>> {
    let values = field(statement, "Condition").and_then(|c| field(c, operator)).and_then(|o| field(o, key))?;
    Some(match values {
        Yaml::Sequence(items) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        one => one.as_str().map(str::to_owned).into_iter().collect(),
    })
}

const READS: [&str; 4] = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan"];
const WRITES: [&str; 4] = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"];

/// A row of the table: a table or index, the actions allowed on it, and the attributes they may
/// touch (`None`: the whole item).
type Reach = (&'static str, &'static [&'static str], Option<&'static [&'static str]>);

/// One allowed DynamoDB action: on what, and the attributes it may touch when the policy names
/// them (`None`: the whole item).
type Grant = (String, String, Option<BTreeSet<String>>);

/// Every DynamoDB action a function's policies allow. Along the way each statement that limits
/// attributes is held to what makes that limit hold: reads and writes apart (each has its own
/// list), a read asks for named attributes (`Select`, or a read without a projection would return
/// the whole item), and a write returns nothing beyond them (`ReturnValues`).
fn dynamodb_grants(function: &str, properties: &Yaml) -> BTreeSet<Grant> {
    let mut grants = BTreeSet::new();
    for statement in &policy_statements(properties) {
        if field(statement, "Effect").and_then(Yaml::as_str) != Some("Allow") {
            continue;
        }
        let sid = field(statement, "Sid").and_then(Yaml::as_str).unwrap_or("?");
        let actions: Vec<String> = as_list(field(statement, "Action"))
            .iter()
            .filter_map(|a| a.as_str().filter(|a| a.starts_with("dynamodb:")).map(str::to_owned))
            .collect();
        if actions.is_empty() {
            continue;
        }
        let resources: Vec<String> = resources_of(statement).iter().filter_map(dynamodb_resource).collect();
        let attributes = condition(statement, "ForAllValues:StringEquals", "dynamodb:Attributes");
        if attributes.is_some() {
            let reads = actions.iter().any(|a| READS.contains(&a.as_str()));
            let writes = actions.iter().any(|a| WRITES.contains(&a.as_str()));
            assert!(!(reads && writes), "{function}/{sid}: reads and writes limited by one list of attributes");
            if reads {
                assert_eq!(
                    condition(statement, "StringEqualsIfExists", "dynamodb:Select"),
                    Some(BTreeSet::from(["SPECIFIC_ATTRIBUTES".to_owned()])),
                    "{function}/{sid}: a read without a projection would return the whole item"
                );
            }
            if writes {
                let returned = condition(statement, "StringEqualsIfExists", "dynamodb:ReturnValues");
                let allowed = ["NONE", "UPDATED_OLD", "UPDATED_NEW"];
                assert!(
                    returned.is_some_and(|values| values.iter().all(|v| allowed.contains(&v.as_str()))),
                    "{function}/{sid}: a write could return the whole item (ReturnValues ALL_OLD/ALL_NEW)"
                );
            }
        }
        for resource in &resources {
            for action in &actions {
                grants.insert((resource.clone(), action.clone(), attributes.clone()));
            }
        }
    }
    grants
}

#[test]
fn p4_p13_each_function_reaches_exactly_the_tables_actions_and_attributes_its_work_needs() {
    const SESSION: &[&str] = &["pk", "role", "session_generation", "ended_sessions"];
    const STOCK: &[&str] = &["pk", "stock"];
    const CONSENT_WRITTEN: &[&str] = &[
        "pk",
        "marketing_email",
        "marketing_sms",
        "consent_history",
        "consent_version",
        "marketing_email_on_at",
        "marketing_sms_on_at",
        "campaign_audience",
    ];
    const CONSENT_READ: &[&str] = &[
        "pk",
        "marketing_email",
        "marketing_sms",
        "consent_history",
        "consent_version",
        "marketing_email_on_at",
        "marketing_sms_on_at",
        "role",
        "session_generation",
        "ended_sessions",
    ];
    const ORDER_PAYMENT_READ: &[&str] = &["pk", "account_id", "total", "status", "payment_due", "lines"];
    const ORDER_PAYMENT_WRITTEN: &[&str] =
        &["pk", "status", "awaiting_payment", "paid_at", "payment_id", "payment_ref", "fulfilment_queue", "history"];
    const REVIEWER: &[&str] = &["pk", "full_name", "email_verified", "role", "session_generation", "ended_sessions"];
    const CONTACTS: &[&str] = &[
        "pk",
        "account_id",
        "full_name",
        "email",
        "email_verified",
        "phone",
        "phone_verified",
        "marketing_email",
        "marketing_sms",
        "pending_email",
        "pending_phone",
    ];
    const LEGAL_RECORD: &[&str] = &[
        "pk",
        "account_id",
        "role",
        "session_generation",
        "ended_sessions",
        "full_name",
        "email",
        "email_verified",
        "phone",
        "phone_verified",
        "marketing_email",
        "marketing_sms",
        "terms_version",
        "terms_accepted_at",
        "terms_source_ip",
        "created_at",
        "consent_history",
        "closed_at",
        "pending_email",
        "pending_phone",
    ];
    const TAX_STATE: &[&str] =
        &["pk", "tax_state", "tax_attempts", "tax_due_at", "tax_queue", "tax_reference", "tax_errors", "tax_failed"];
    const REFUSAL_COUNTER: &[&str] = &["pk", "attempts", "expires_at"];
    const ALL: Option<&[&str]> = None;
    const GET: &str = "dynamodb:GetItem";
    const BATCH_GET: &str = "dynamodb:BatchGetItem";
    const QUERY: &str = "dynamodb:Query";
    const SCAN: &str = "dynamodb:Scan";
    const PUT: &str = "dynamodb:PutItem";
    const UPDATE: &str = "dynamodb:UpdateItem";
    const DELETE: &str = "dynamodb:DeleteItem";
    // What each function's work needs, and the reason it is there is the function's README
    // section: a change to a policy is a change to this table.
    let expected: BTreeMap<&str, Vec<Reach>> = BTreeMap::from([
        (
            "SignupFunction",
            vec![
                ("AccountsTable", &[GET, PUT, UPDATE, DELETE][..], ALL),
                ("IpRecordsTable", &[PUT][..], ALL),
                ("OutboxTable", &[PUT][..], ALL),
            ],
        ),
        (
            "CheckoutFunction",
            vec![
                ("AccountsTable", &[GET][..], Some(SESSION)),
                ("IpRecordsTable", &[PUT][..], ALL),
                ("ProductsTable", &[BATCH_GET, SCAN][..], ALL),
                ("ProductsTable", &[UPDATE][..], Some(STOCK)),
                ("OrdersTable", &[GET, BATCH_GET, PUT][..], ALL),
                ("OrdersTable/index/ByAccount", &[QUERY][..], ALL),
                ("IdempotencyTable", &[GET, PUT, UPDATE, DELETE][..], ALL),
                ("OutboxTable", &[PUT][..], ALL),
            ],
        ),
        (
            "FulfilmentFunction",
            vec![
                ("AccountsTable", &[GET][..], Some(SESSION)),
                ("OrdersTable", &[GET, BATCH_GET, UPDATE][..], ALL),
                ("OrdersTable/index/FulfilmentQueue", &[QUERY][..], ALL),
                ("ProductsTable", &[UPDATE][..], Some(STOCK)),
                ("OutboxTable", &[PUT][..], ALL),
            ],
        ),
        (
            "PaymentFunction",
            vec![
                ("AccountsTable", &[GET][..], Some(SESSION)),
                ("PaymentsTable", &[GET, PUT, UPDATE][..], ALL),
                ("PaymentsTable/index/ByAuthority", &[QUERY][..], ALL),
                ("OrdersTable", &[GET][..], Some(ORDER_PAYMENT_READ)),
                ("OrdersTable", &[UPDATE][..], Some(ORDER_PAYMENT_WRITTEN)),
                ("OrdersTable/index/AwaitingPayment", &[QUERY][..], ALL),
                ("ProductsTable", &[UPDATE][..], Some(STOCK)),
                ("OutboxTable", &[PUT][..], ALL),
            ],
        ),
        (
            "InvoiceFunction",
            vec![
                ("AccountsTable", &[GET][..], Some(SESSION)),
                ("InvoicesTable", &[GET, PUT, UPDATE][..], ALL),
                ("InvoicesTable/index/TaxFailed", &[QUERY][..], ALL),
                ("OrdersTable", &[GET][..], ALL),
                ("OutboxTable", &[PUT][..], ALL),
            ],
        ),
        (
            "TaxFunction",
            vec![
                ("InvoicesTable", &[GET][..], ALL),
                ("InvoicesTable", &[UPDATE][..], Some(TAX_STATE)),
                ("InvoicesTable/index/TaxQueue", &[QUERY][..], ALL),
            ],
        ),
        (
            "ReviewFunction",
            vec![
                ("ReviewsTable", &[GET, PUT, UPDATE, QUERY][..], ALL),
                ("ReviewsTable/index/ByProduct", &[GET, PUT, UPDATE, QUERY][..], ALL),
                ("ReviewsTable/index/ByAuthor", &[GET, PUT, UPDATE, QUERY][..], ALL),
                ("ProductsTable", &[BATCH_GET][..], ALL),
                ("AccountsTable", &[GET][..], Some(REVIEWER)),
                ("OrdersTable/index/ByAccount", &[QUERY][..], ALL),
                ("OutboxTable", &[PUT][..], ALL),
            ],
        ),
        (
            "UnsubscribeFunction",
            vec![
                ("AccountsTable", &[GET][..], Some(CONSENT_READ)),
                ("AccountsTable", &[UPDATE][..], Some(CONSENT_WRITTEN)),
            ],
        ),
        (
            "PrivacyFunction",
            vec![
                ("AccountsTable", &[GET][..], Some(LEGAL_RECORD)),
                ("AccountsTable/index/ByPhoneLookup", &[QUERY][..], ALL),
                ("AccountsTable/index/ByEmailLookup", &[QUERY][..], ALL),
                ("AccountsTable", &[UPDATE][..], Some(REFUSAL_COUNTER)),
                ("OrdersTable", &[GET, QUERY][..], ALL),
                ("OrdersTable/index/ByAccount", &[GET, QUERY][..], ALL),
                ("OrdersTable/index/ByBuyerCode", &[QUERY][..], ALL),
                ("IpRecordsTable", &[QUERY][..], ALL),
                ("InvoicesTable", &[GET][..], ALL),
                ("ReviewsTable", &[GET, QUERY][..], ALL),
                ("ReviewsTable/index/ByAuthor", &[GET, QUERY][..], ALL),
                ("AuditTable", &[PUT, QUERY][..], ALL),
            ],
        ),
        (
            "NotificationFunction",
            vec![
                ("AccountsTable", &[GET][..], Some(CONTACTS)),
                ("AccountsTable/index/ByCampaignAudience", &[QUERY][..], ALL),
                ("DeliveriesTable", &[PUT, UPDATE, DELETE][..], ALL),
            ],
        ),
        ("RelayFunction", vec![]),
    ]);
    let template = read_yaml("infra/template.yaml");
    let mut seen = BTreeSet::new();
    for (logical_id, _, properties) in functions(&template) {
        let granted = dynamodb_grants(&logical_id, &properties);
        let wanted = expected
            .get(logical_id.as_str())
            .unwrap_or_else(|| panic!("{logical_id} is not in the table of what each function may reach"));
        let wanted: BTreeSet<Grant> = wanted
            .iter()
            .flat_map(|(resource, actions, attributes)| {
                actions.iter().map(move |action| {
                    let attributes = attributes.map(|names| names.iter().map(|n| (*n).to_owned()).collect());
                    ((*resource).to_owned(), (*action).to_owned(), attributes)
                })
            })
            .collect();
        let extra: Vec<_> = granted.difference(&wanted).collect();
        let missing: Vec<_> = wanted.difference(&granted).collect();
        assert!(
            extra.is_empty() && missing.is_empty(),
            "{logical_id}: granted beyond the table {extra:?}; missing {missing:?}"
        );
        seen.insert(logical_id);
    }
    assert_eq!(seen.len(), expected.len(), "every function in the table is in the template");
}

#[test]
fn p6_p7_no_function_can_write_an_operators_event_so_none_can_announce_a_campaign() {
    let template = read_yaml("infra/template.yaml");
    let mut writers = Vec::new();
    for (logical_id, _, properties) in functions(&template) {
        for statement in policy_statements(&properties) {
            let (actions, resources) = reach(&statement);
            let writes = ["dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:*"];
            let writes_outbox =
                resources.contains("OutboxTable") && actions.iter().any(|a| writes.contains(&a.as_str()));
            if !writes_outbox || field(&statement, "Effect").and_then(Yaml::as_str) != Some("Allow") {
                continue;
            }
            assert_eq!(
                condition(&statement, "ForAllValues:StringNotLike", "dynamodb:LeadingKeys"),
                Some(BTreeSet::from(["operator#*".to_owned()])),
                "{logical_id} may write the outbox under an operator's key"
            );
            writers.push(logical_id.clone());
        }
    }
    assert!(writers.len() >= 6, "the functions that keep events were found: {writers:?}");
}

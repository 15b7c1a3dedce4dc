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

/// Every statement of a function's inline policies: its actions and the names its resources
/// refer to.
fn statements(properties: &Yaml) -> Vec<(BTreeSet<String>, BTreeSet<String>)> {
    let policies = field(properties, "Policies").and_then(Yaml::as_sequence).cloned().unwrap_or_default();
    let list = |value: Option<&Yaml>| -> Vec<Yaml> {
        match value.map(untag) {
            Some(Yaml::Sequence(items)) => items.clone(),
            Some(one) => vec![one.clone()],
            None => Vec::new(),
        }
    };
    let mut found = Vec::new();
    for policy in &policies {
        for statement in list(field(policy, "Statement")) {
            let actions =
                list(field(&statement, "Action")).iter().filter_map(|a| a.as_str().map(str::to_owned)).collect();
            let resources = untag(&statement).as_mapping().and_then(|m| m.get("Resource")).cloned();
            let referred_to = match resources {
                Some(Yaml::Sequence(items)) => items.iter().flat_map(referred).collect(),
                Some(one) => referred(&one),
                None => BTreeSet::new(),
            };
            found.push((actions, referred_to));
        }
    }
    found
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

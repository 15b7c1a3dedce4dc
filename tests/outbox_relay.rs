//! Events that are never lost: every change keeps its event in the outbox table in the same
//! transaction, and only the relay (the outbox's stream in, the events topic out) publishes.
//! A topic that is down delays events; it neither fails the customer's request nor loses them.

use std::time::{Duration, Instant};

use mizan_e2e::template::{field, read_yaml};
use mizan_e2e::{Paused, Stack, checkout_body, natural_buyer};
use serde_json::{Value, json};
use serde_yaml::Value as Yaml;

fn confirmations(emails: &[(String, String)]) -> usize {
    emails.iter().filter(|(subject, _)| subject.ends_with("ثبت شد")).count()
}

/// The local stream relay's failed deliveries to the relay function so far.
fn relay_failures() -> usize {
    let state = std::env::var("MIZAN_STATE_DIR").expect("MIZAN_STATE_DIR");
    let log = std::fs::read_to_string(format!("{state}/relay.log")).unwrap_or_default();
    log.lines().filter(|line| line.contains("-> relay: failed")).count()
}

#[tokio::test]
async fn p6_with_the_topic_down_checkout_answers_201_and_the_confirmation_follows_once_it_is_back() {
    let stack = Stack::connect().await;
    let (customer, bearer) = stack.signed_in_customer().await;
    let product = stack.add_product(3_000_000, 10).await;
    // A first order while everything is up: the functions are warm and checkout holds a data
    // key for the buyer's sealed fields (KMS lives in the same moto that is about to stop).
    let first = stack.check_out(&bearer, &checkout_body(product.as_str(), 1, natural_buyer())).await;
    assert_eq!(first.status, 201, "{}", first.body);
    stack.await_emails(&customer.email, 2).await;
    let failures_before = relay_failures();

    let second = {
        // moto (SNS, SES, SQS) stops answering: every publish hangs and times out.
        let _down = Paused::pause("moto");
        let started = Instant::now();
        let answer = stack.check_out(&bearer, &checkout_body(product.as_str(), 1, natural_buyer())).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        assert!(started.elapsed() < Duration::from_secs(5), "checkout waited for the topic: {:?}", started.elapsed());
        // Long enough for the relay to try, time out and report the event as failed.
        let deadline = Instant::now() + Duration::from_secs(40);
        while relay_failures() == failures_before {
            assert!(Instant::now() < deadline, "the relay never failed to publish while the topic was down");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        answer
    };
    assert_eq!(stack.stock_of(&product).await, 8, "both orders took their stock");

    // No client retry: the relay publishes the kept event once the topic answers again.
    let emails = stack.await_emails(&customer.email, 3).await;
    let total = second.body["total"].as_u64().expect("a total");
    let digits = total.to_string();
    let shown: Vec<&str> =
        digits.as_bytes().rchunks(3).rev().map(|group| std::str::from_utf8(group).unwrap()).collect();
    let shown = shown.join(",");
    assert!(emails.iter().any(|(subject, body)| subject.ends_with("ثبت شد") && body.contains(&shown)), "{shown}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(confirmations(&stack.emails_to(&customer.email).await), 2, "one confirmation per order, none twice");
}

/// The template: the outbox's stream drives the relay with bounded, bisecting retries and an
/// on-failure queue; only the relay may publish to the events topic, and it may do nothing else.
#[test]
fn p4_only_the_relay_publishes_events_and_it_reads_only_the_outbox_stream() {
    let template = read_yaml("infra/template.yaml");
    let resources = field(&template, "Resources").and_then(Yaml::as_mapping).expect("Resources");
    let text = |value: &Yaml| serde_json::to_string(&serde_json::to_value(value).unwrap()).unwrap();

    let relay = field(&template, "Resources").and_then(|r| field(r, "RelayFunction")).expect("RelayFunction");
    let stream = field(relay, "Properties").and_then(|p| field(p, "Events")).and_then(|e| field(e, "Outbox")).unwrap();
    let mapping = field(stream, "Properties").unwrap();
    assert_eq!(field(stream, "Type").and_then(Yaml::as_str), Some("DynamoDB"));
    assert!(text(field(mapping, "Stream").unwrap()).contains("OutboxTable"));
    assert_eq!(text(field(mapping, "FunctionResponseTypes").unwrap()), r#"["ReportBatchItemFailures"]"#);
    assert_eq!(field(mapping, "BisectBatchOnFunctionError").and_then(Yaml::as_bool), Some(true));
    assert!(field(mapping, "MaximumRetryAttempts").and_then(Yaml::as_i64).is_some_and(|n| n >= 0), "bounded retries");
    assert!(text(field(mapping, "DestinationConfig").unwrap()).contains("RelayFailureQueue"));
    assert!(text(field(mapping, "FilterCriteria").unwrap()).contains("INSERT"));

    let role = field(&template, "Resources").and_then(|r| field(r, "RelayRole")).unwrap();
    let statements = text(field(role, "Properties").and_then(|p| field(p, "Policies")).unwrap());
    let actions: Vec<Value> = serde_json::from_str::<Value>(&statements).unwrap()[0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|statement| json!([statement["Action"], statement["Resource"]]))
        .collect();
    let allowed = |action: &str, resource: &str| {
        actions.iter().any(|pair| pair[0].to_string().contains(action) && pair[1].to_string().contains(resource))
    };
    assert!(allowed("dynamodb:GetRecords", "OutboxTable") && allowed("sns:Publish", "EventsTopic"));
    assert!(allowed("sqs:SendMessage", "RelayFailureQueue"));
    assert_eq!(actions.len(), 3, "the relay may read its stream, publish and hand on failures, nothing more");
    assert!(!statements.contains("\"*\""), "no wildcard resource");

    let publishers: Vec<&str> = resources
        .iter()
        .filter(|(name, resource)| {
            field(resource, "Type").and_then(Yaml::as_str) == Some("AWS::Serverless::Function")
                && name.as_str() != Some("RelayFunction")
        })
        .filter(|(_, resource)| {
            let policies =
                field(resource, "Properties").and_then(|p| field(p, "Policies")).map(text).unwrap_or_default();
            let statements: Value = serde_json::from_str(&policies).unwrap_or(Value::Null);
            statements.pointer("/0/Statement").and_then(Value::as_array).into_iter().flatten().any(|statement| {
                statement["Effect"] == "Allow"
                    && statement["Action"].to_string().contains("sns:Publish")
                    && statement["Resource"].to_string().contains("EventsTopic")
            })
        })
        .filter_map(|(name, _)| name.as_str())
        .collect();
    assert!(publishers.is_empty(), "only the relay publishes to the events topic, not {publishers:?}");
}

/// Every dead-letter and failure queue, and the relay's lag, raise an alarm on the operations
/// topic.
#[test]
fn every_dead_letter_and_failure_queue_alarms_the_operators() {
    let template = read_yaml("infra/template.yaml");
    let resources = field(&template, "Resources").and_then(Yaml::as_mapping).expect("Resources");
    let text = |value: &Yaml| serde_json::to_string(&serde_json::to_value(value).unwrap()).unwrap();
    let alarms: Vec<String> = resources
        .values()
        .filter(|r| field(r, "Type").and_then(Yaml::as_str) == Some("AWS::CloudWatch::Alarm"))
        .map(|r| text(field(r, "Properties").unwrap()))
        .collect();
    let all = text(&Yaml::Mapping(resources.clone()));
    let queues = resources
        .iter()
        .filter(|(_, r)| field(r, "Type").and_then(Yaml::as_str) == Some("AWS::SQS::Queue"))
        .map(|(name, _)| name.as_str().unwrap_or_default().to_owned())
        .filter(|name| name.ends_with("DeadLetterQueue") || name.ends_with("FailureQueue"));
    let mut watched = 0;
    for queue in queues {
        assert!(all.contains(&format!("{queue}.Arn")), "{queue} is a dead-letter queue nothing uses");
        let alarm = alarms.iter().find(|alarm| alarm.contains(&format!("\"{queue}.QueueName\"")));
        let alarm = alarm.unwrap_or_else(|| panic!("no alarm watches {queue}"));
        assert!(alarm.contains("ApproximateNumberOfMessagesVisible") && alarm.contains("OperationsTopic"));
        watched += 1;
    }
    assert_eq!(
        watched, 6,
        "the dead-letter queues of notification, campaign pages, review, invoice, refund, and the relay's failures"
    );
    assert!(alarms.iter().any(|alarm| alarm.contains("IteratorAge") && alarm.contains("RelayFunction")));
}

/// A grep, kept: no function but the relay holds the events topic; every other one keeps its
/// events in the outbox.
#[test]
fn no_function_but_the_relay_publishes_to_the_events_topic() {
    fn rust_files(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                rust_files(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                found.push(path);
            }
        }
    }
    let mut files = Vec::new();
    rust_files(&mizan_e2e::repo_root().join("functions"), &mut files);
    let relay = mizan_e2e::repo_root().join("functions/relay");
    assert!(files.iter().any(|path| path.starts_with(&relay)), "the walk reaches the relay");
    for path in files.iter().filter(|path| !path.starts_with(&relay)) {
        let code = std::fs::read_to_string(path).expect("a readable source file");
        assert!(
            !code.contains("EventsTopic") && !code.contains("EventPublisher"),
            "{} publishes events itself",
            path.display()
        );
    }
}

/// Runs an operator command of `infra/ops/` with the stack's environment; its standard output.
fn ops(command: &str, args: &[&str]) -> String {
    let repo = mizan_e2e::repo_root();
    let ran = std::process::Command::new(repo.join(".local/venv/bin/python"))
        .arg(repo.join("infra/ops").join(command))
        .args(args)
        .output()
        .expect("the operator command runs");
    assert!(ran.status.success(), "{command} {args:?}: {}", String::from_utf8_lossy(&ran.stderr));
    String::from_utf8_lossy(&ran.stdout).into_owned()
}

async fn send_to(queue: &str, body: &Value) {
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let url =
        sqs.get_queue_url().queue_name(queue).send().await.expect("the queue exists").queue_url.unwrap_or_default();
    sqs.send_message().queue_url(url).message_body(body.to_string()).send().await.expect("sent");
}

/// A batch the relay gave up on names its place in the stream, not its events: redriving reads
/// them back (here from the outbox table, as once the stream no longer holds them) and publishes
/// them; the queue is empty afterwards.
#[tokio::test]
async fn an_operator_redrives_a_failed_relay_batch_from_the_outbox() {
    let stack = Stack::connect().await;
    let event_id = uuid::Uuid::new_v4().to_string();
    let now = time::OffsetDateTime::now_utc();
    let envelope = json!({
        "event_id": event_id, "occurred_at": now.format(&time::format_description::well_known::Rfc3339).unwrap(),
        "type": "SignupAttemptedOnExistingAccount", "account_id": uuid::Uuid::new_v4()
    });
    let outbox = std::env::var("OUTBOX_TABLE").expect("OUTBOX_TABLE");
    let attribute = |text: String| aws_sdk_dynamodb::types::AttributeValue::S(text);
    let number = |n: i64| aws_sdk_dynamodb::types::AttributeValue::N(n.to_string());
    stack
        .dynamodb()
        .put_item()
        .table_name(&outbox)
        .item("event_id", attribute(event_id.clone()))
        .item("occurred_at", number(now.unix_timestamp()))
        .item("envelope", attribute(envelope.to_string()))
        .item("expires_at", number(now.unix_timestamp() + 3600))
        .send()
        .await
        .expect("kept");
    let at = now.format(&time::format_description::well_known::Rfc3339).unwrap();
    let failure = json!({
        "requestContext": { "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 101 },
        "DDBStreamBatchInfo": {
            "shardId": "shardId-00000000000000000000-gone", "startSequenceNumber": "000000000000000000001",
            "endSequenceNumber": "000000000000000000002",
            "approximateArrivalOfFirstRecord": at, "approximateArrivalOfLastRecord": at, "batchSize": 1,
            "streamArn": format!("arn:aws:dynamodb:us-east-1:000000000000:table/{outbox}/stream/gone")
        }
    });
    send_to("RelayFailureQueue", &failure).await;

    let listed = ops("redrive", &["relay-failures"]);
    assert!(listed.contains("batch of 1") && listed.contains("listed 1"), "{listed}");
    let redriven = ops("redrive", &["relay-failures", "--apply"]);
    assert!(redriven.contains(&format!("published SignupAttemptedOnExistingAccount {event_id}")), "{redriven}");
    assert!(ops("redrive", &["relay-failures"]).contains("listed 0"), "the queue is empty once redriven");
}

/// A subscriber's dead letter is published again (every subscriber acts once per event id).
#[tokio::test]
async fn p4_an_operator_lists_and_redrives_a_dead_lettered_event_without_printing_it() {
    let event_id = uuid::Uuid::new_v4().to_string();
    let event = json!({
        "event_id": event_id, "occurred_at": "2026-12-01T10:00:00Z", "type": "AccountClosed",
        "account_id": uuid::Uuid::new_v4()
    });
    send_to("ReviewDeadLetterQueue", &mizan_e2e::sns_event(&event)).await;
    let listed = ops("redrive", &["review"]);
    assert!(listed.contains(&format!("AccountClosed {event_id}")), "{listed}");
    assert!(!listed.contains("account_id"), "bodies are not printed");
    ops("redrive", &["review", "--apply"]);
    assert!(!ops("redrive", &["review"]).contains(&event_id), "redriven and gone");
}

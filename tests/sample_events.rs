//! Every sample event in `events/<function>/*.json` is accepted by its function.
//!
//! `samples_are_well_formed` reads the files only. `samples_are_accepted_by_their_functions`
//! sends each one with `cargo lambda invoke` to the functions served by the local stack's
//! `cargo lambda watch`: it needs the stack, which `infra/test` starts (its environment gives
//! `MIZAN_API_URL=http://127.0.0.1:<watch port>`); without it the test fails rather than pass
//! having checked nothing.

use std::collections::BTreeSet;
use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The first invocation of a function makes watch compile it: minutes on a small machine.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(900);
const PROBLEM_TYPE_BASE: &str = "https://mizancoffee.ir/problems/";

fn repo() -> PathBuf {
    mizan_e2e::repo_root()
}

struct Sample {
    function: String,
    /// `events/<function>/<file>.json`, for messages.
    name: String,
    path: PathBuf,
    event: Value,
}

impl Sample {
    fn is_http(&self) -> bool {
        self.event.pointer("/requestContext/http").is_some()
    }
}

fn samples() -> Vec<Sample> {
    let events = repo().join("events");
    let mut samples = Vec::new();
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&events)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", events.display()))
        .map(|entry| entry.expect("cannot read events/").path())
        .filter(|path| path.is_dir())
        .collect();
    folders.sort();
    for folder in folders {
        let function = folder.file_name().and_then(|n| n.to_str()).expect("folder names are UTF-8").to_owned();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .expect("cannot list a folder of events/")
            .map(|entry| entry.expect("cannot read events/").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "events/{function}/ has no .json sample");
        for path in files {
            let name = format!("events/{function}/{}", path.file_name().and_then(|n| n.to_str()).unwrap_or("?"));
            let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {name}: {error}"));
            let event = serde_json::from_str(&text).unwrap_or_else(|error| panic!("{name} is not JSON: {error}"));
            samples.push(Sample { function: function.clone(), name, path, event });
        }
    }
    samples
}

/// The names of the workspace's functions (package names of the crates under functions/).
fn functions() -> BTreeSet<String> {
    std::fs::read_dir(repo().join("functions"))
        .expect("cannot list functions/")
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("Cargo.toml")).ok())
        .filter_map(|text| {
            let manifest: toml::Table = text.parse().ok()?;
            Some(manifest.get("package")?.get("name")?.as_str()?.to_owned())
        })
        .collect()
}

/// The watch router's routes of `function`: (METHOD, path template).
fn routes_of(function: &str) -> BTreeSet<(String, String)> {
    let manifest = toml::Value::Table(
        std::fs::read_to_string(repo().join("Cargo.toml"))
            .expect("cannot read Cargo.toml")
            .parse()
            .expect("Cargo.toml"),
    );
    let router = ["workspace", "metadata", "lambda", "watch", "router"]
        .iter()
        .try_fold(&manifest, |value, key| value.get(key))
        .and_then(toml::Value::as_table)
        .expect("Cargo.toml has no [workspace.metadata.lambda.watch.router]");
    let mut routes = BTreeSet::new();
    for (path, target) in router {
        for entry in target.as_array().into_iter().flatten() {
            if entry.get("function").and_then(toml::Value::as_str) == Some(function)
                && let Some(method) = entry.get("method").and_then(toml::Value::as_str)
            {
                routes.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
        if target.as_str() == Some(function) {
            routes.insert(("ANY".to_owned(), path.clone()));
        }
    }
    routes
}

/// `/orders/{order_id}` matches `/orders/42`.
fn path_matches(template: &str, path: &str) -> bool {
    let (template, path): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    template.len() == path.len()
        && template.iter().zip(&path).all(|(t, p)| t == p || (t.starts_with('{') && t.ends_with('}') && !p.is_empty()))
}

fn text<'a>(event: &'a Value, pointer: &str) -> Option<&'a str> {
    event.pointer(pointer).and_then(Value::as_str).filter(|text| !text.is_empty())
}

/// What is wrong with an API Gateway HTTP API (payload 2.0) sample.
fn check_http_sample(sample: &Sample, problems: &mut Vec<String>) {
    let event = &sample.event;
    let name = &sample.name;
    if text(event, "/version") != Some("2.0") {
        problems.push(format!("{name}: `version` must be \"2.0\" (HTTP API payload format 2.0)"));
    }
    let method = text(event, "/requestContext/http/method");
    let path = text(event, "/requestContext/http/path");
    let raw_path = text(event, "/rawPath");
    for (field, value) in [
        ("requestContext.http.method", method),
        ("requestContext.http.path", path),
        ("requestContext.http.sourceIp", text(event, "/requestContext/http/sourceIp")),
        ("rawPath", raw_path),
        ("routeKey", text(event, "/routeKey")),
    ] {
        if value.is_none() {
            problems.push(format!("{name}: `{field}` is missing"));
        }
    }
    if let Some(ip) = text(event, "/requestContext/http/sourceIp")
        && ip.parse::<IpAddr>().is_err()
    {
        problems.push(format!("{name}: requestContext.http.sourceIp {ip:?} is not an IP address"));
    }
    if raw_path != path {
        problems.push(format!("{name}: rawPath {raw_path:?} and requestContext.http.path {path:?} differ"));
    }
    if let (Some(method), Some(path)) = (method, raw_path) {
        let routes = routes_of(&sample.function);
        let route = routes.iter().find(|(m, template)| (m == method || m == "ANY") && path_matches(template, path));
        match route {
            None => problems.push(format!(
                "{name}: {method} {path} is no route of `{}` in the watch router (its routes: {routes:?})",
                sample.function
            )),
            Some((_, template)) => {
                let route_key = format!("{method} {template}");
                if text(event, "/routeKey") != Some(route_key.as_str()) {
                    problems.push(format!("{name}: routeKey should be {route_key:?}, as API Gateway sets it"));
                }
            }
        }
    }
    if let Some(body) = text(event, "/body") {
        let content_type = event.pointer("/headers/content-type").and_then(Value::as_str).unwrap_or_default();
        let base64 = event.get("isBase64Encoded").and_then(Value::as_bool).unwrap_or(false);
        if content_type.starts_with("application/json") && !base64 && serde_json::from_str::<Value>(body).is_err() {
            problems.push(format!("{name}: the body is declared JSON but does not parse"));
        }
    }
}

/// What is wrong with an SQS sample carrying a campaign page.
fn check_sqs_sample(sample: &Sample, records: &[Value], problems: &mut Vec<String>) {
    for (index, record) in records.iter().enumerate() {
        let at = format!("{}: Records[{index}]", sample.name);
        for field in ["/messageId", "/receiptHandle", "/eventSourceARN", "/awsRegion"] {
            if text(record, field).is_none() {
                problems.push(format!("{at}: `{}` is missing", field.trim_start_matches('/')));
            }
        }
        // The domain crate's own type of pages must read the body, as the function will.
        match text(record, "/body").map(serde_json::from_str::<mizan::messaging::campaign::CampaignPage>) {
            Some(Ok(_)) => {}
            Some(Err(error)) => problems.push(format!("{at}: body is not a campaign page: {error}")),
            None => problems.push(format!("{at}: body is missing")),
        }
    }
}

/// What is wrong with an SNS sample carrying a domain event, or an SQS one carrying a page.
fn check_message_sample(sample: &Sample, problems: &mut Vec<String>) {
    let name = &sample.name;
    // An EventBridge schedule's tick, as the function's `Schedule` event delivers it.
    if text(&sample.event, "/detail-type") == Some("Scheduled Event") {
        if text(&sample.event, "/source") != Some("aws.events") || text(&sample.event, "/time").is_none() {
            problems.push(format!("{name}: a scheduled event needs `source: aws.events` and its `time`"));
        }
        return;
    }
    let Some(records) = sample.event.get("Records").and_then(Value::as_array).filter(|r| !r.is_empty()) else {
        problems.push(format!(
            "{name}: neither an HTTP API event (requestContext.http), a message event (Records) nor a schedule's tick"
        ));
        return;
    };
    if records.iter().all(|record| text(record, "/eventSource") == Some("aws:sqs")) {
        return check_sqs_sample(sample, records, problems);
    }
    for (index, record) in records.iter().enumerate() {
        let at = format!("{name}: Records[{index}]");
        if text(record, "/EventSource") != Some("aws:sns") {
            problems.push(format!("{at}.EventSource must be \"aws:sns\""));
        }
        // What aws_lambda_events' SnsRecord/SnsMessage cannot do without.
        for field in [
            "/EventVersion",
            "/EventSubscriptionArn",
            "/Sns/Type",
            "/Sns/MessageId",
            "/Sns/TopicArn",
            "/Sns/Timestamp",
            "/Sns/SignatureVersion",
            "/Sns/Signature",
            "/Sns/SigningCertUrl",
            "/Sns/UnsubscribeUrl",
        ] {
            if text(record, field).is_none() {
                problems.push(format!("{at}: `{}` is missing", field.trim_start_matches('/').replace('/', ".")));
            }
        }
        let Some(message) = text(record, "/Sns/Message") else {
            problems.push(format!("{at}: Sns.Message is missing"));
            continue;
        };
        let Ok(domain_event) = serde_json::from_str::<Value>(message) else {
            problems.push(format!("{at}: Sns.Message is not a JSON document (a domain event)"));
            continue;
        };
        // A campaign is about everyone who consents, so it names no account.
        let campaign = text(&domain_event, "/type") == Some("CampaignPublished");
        for field in ["event_id", "occurred_at", "type", "account_id"] {
            if field == "account_id" && campaign {
                continue;
            }
            if text(&domain_event, &format!("/{field}")).is_none() {
                problems.push(format!("{at}: the domain event in Sns.Message has no `{field}`"));
            }
        }
        // The domain crate's own type of events must read it, as the function will.
        if let Err(error) = serde_json::from_str::<mizan::kernel::events::Envelope>(message) {
            problems.push(format!(
                "{at}: Sns.Message is not a domain event mizan::kernel::events::Envelope reads: {error}"
            ));
        }
        let attribute = text(record, "/Sns/MessageAttributes/type/Value");
        if attribute.is_none() || attribute != text(&domain_event, "/type") {
            problems.push(format!(
                "{at}: Sns.MessageAttributes.type.Value ({attribute:?}) must equal the event's type ({:?})",
                text(&domain_event, "/type")
            ));
        }
    }
}

#[test]
fn samples_are_well_formed() {
    let samples = samples();
    let functions = functions();
    let mut problems = Vec::new();
    for folder in ["signup", "notification"] {
        if !samples.iter().any(|sample| sample.function == folder) {
            problems.push(format!("events/{folder}/ has no samples"));
        }
    }
    for sample in &samples {
        if !functions.contains(&sample.function) {
            problems.push(format!(
                "{}: events/{}/ is named after no function under functions/",
                sample.name, sample.function
            ));
        }
        if sample.is_http() {
            check_http_sample(sample, &mut problems);
        } else {
            check_message_sample(sample, &mut problems);
        }
    }
    assert!(problems.is_empty(), "sample events are not well formed:\n  {}", problems.join("\n  "));
}

/// Host and port of watch, from `MIZAN_API_URL` (`http://127.0.0.1:9000`), as `cargo lambda
/// invoke` wants them (an IP address, not a name).
fn invoke_target(api_url: &str) -> (String, u16) {
    let authority = api_url.split_once("://").map_or(api_url, |(_, rest)| rest).split('/').next().unwrap_or_default();
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, rest) = v6.split_once(']').unwrap_or((v6, ""));
            (host, rest.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let host = if host == "localhost" { "127.0.0.1" } else { host };
    assert!(
        host.parse::<IpAddr>().is_ok(),
        "MIZAN_API_URL={api_url:?}: cargo lambda invoke needs an IP address as host"
    );
    let port = match port {
        Some(port) => port.parse().unwrap_or_else(|_| panic!("MIZAN_API_URL={api_url:?}: bad port")),
        None if api_url.starts_with("https:") => 443,
        None => 80,
    };
    (host.to_owned(), port)
}

/// The cargo-lambda binary: the local stack's (infra/local/install puts it in .local/venv/bin),
/// else one on PATH.
fn cargo_lambda() -> Result<PathBuf, String> {
    let venv = repo().join(".local/venv/bin/cargo-lambda");
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|dir| dir.join("cargo-lambda")).collect::<Vec<_>>())
        .unwrap_or_default();
    std::iter::once(venv)
        .chain(on_path)
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| "cargo-lambda is not installed: run infra/local/install (or infra/test)".to_owned())
}

/// Runs `cargo lambda invoke` on one sample; its stdout (the function's answer) or why it failed.
fn invoke(sample: &Sample, address: &str, port: u16) -> Result<String, String> {
    let logs = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sample_events");
    std::fs::create_dir_all(&logs).expect("cannot create the log folder");
    let stem = sample.name.trim_start_matches("events/").replace(['/', '.'], "_");
    let (stdout_path, stderr_path) = (logs.join(format!("{stem}.stdout")), logs.join(format!("{stem}.stderr")));

    let started = Instant::now();
    let mut child = Command::new(cargo_lambda()?)
        .args(["lambda", "invoke", &sample.function, "--data-file"])
        .arg(&sample.path)
        .args(["--invoke-address", address, "--invoke-port", &port.to_string()])
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("cannot create a log file"))
        .stderr(File::create(&stderr_path).expect("cannot create a log file"))
        .spawn()
        .map_err(|error| {
            format!("cannot run `cargo lambda invoke` (is cargo-lambda installed? infra/local/install): {error}")
        })?;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|error| error.to_string())? {
            break status;
        }
        if started.elapsed() > INVOKE_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("`cargo lambda invoke` did not finish within {INVOKE_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    if status.success() {
        Ok(stdout)
    } else {
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
        Err(format!("`cargo lambda invoke` failed ({status}):\n{stdout}\n{}", tail.join("\n")))
    }
}

fn header<'a>(response: &'a Value, name: &str) -> Option<&'a str> {
    let find = |map: Option<&'a Value>| {
        map?.as_object()?.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value)
    };
    match find(response.get("headers")) {
        Some(Value::String(value)) => Some(value),
        _ => find(response.get("multiValueHeaders"))?.as_array()?.first()?.as_str(),
    }
}

/// What is wrong with a function's answer to an HTTP sample.
fn check_http_answer(answer: &str) -> Result<u64, String> {
    let response: Value =
        serde_json::from_str(answer.trim()).map_err(|_| format!("the answer is not JSON: {answer:?}"))?;
    let status = response
        .get("statusCode")
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("the answer is not an HTTP response object (no statusCode): {response}"))?;
    if status == 500 {
        return Err(format!("the function answered 500: {response}"));
    }
    if status >= 400 {
        let content_type = header(&response, "content-type").unwrap_or_default();
        // The routes people reach from an email link answer pages, errors included: a Persian
        // right-to-left page is the clear answer there.
        let body = response.get("body").and_then(Value::as_str).unwrap_or_default();
        if content_type.starts_with("text/html") {
            return match body.contains(r#"dir="rtl""#) && body.contains(r#"lang="fa""#) {
                true => Ok(status),
                false => Err(format!("error {status}: an HTML answer must be a Persian right-to-left page: {body}")),
            };
        }
        if !content_type.starts_with("application/problem+json") {
            return Err(format!(
                "error {status} answered as {content_type:?}, not application/problem+json: {response}"
            ));
        }
        let body = response.get("body").and_then(Value::as_str).unwrap_or_default();
        if response.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
            return Err(format!("error {status}: a problem+json body should be text, not base64"));
        }
        let problem: Value =
            serde_json::from_str(body).map_err(|_| format!("error {status}: the body is not JSON: {body:?}"))?;
        let code = problem.get("code").and_then(Value::as_str).unwrap_or_default();
        let well_formed = !code.is_empty()
            && problem.get("status").and_then(Value::as_u64) == Some(status)
            && problem.get("type").and_then(Value::as_str) == Some(format!("{PROBLEM_TYPE_BASE}{code}").as_str())
            && problem.get("title").and_then(Value::as_str).is_some_and(|title| !title.is_empty())
            && problem.get("detail").and_then(Value::as_str).is_some();
        if !well_formed {
            return Err(format!(
                "error {status}: the body is not a problem document as infra/openapi.yaml defines it: {body}"
            ));
        }
    }
    Ok(status)
}

#[test]
fn samples_are_accepted_by_their_functions() {
    let Ok(api_url) = std::env::var("MIZAN_API_URL") else {
        panic!(
            "MIZAN_API_URL is not set: this test invokes the functions served by the local stack's \
             `cargo lambda watch`. Run it through `infra/test` (which starts the stack and sets \
             MIZAN_API_URL=http://127.0.0.1:<watch port>)."
        );
    };
    let (address, port) = invoke_target(&api_url);
    let mut failures = Vec::new();
    for sample in samples() {
        match invoke(&sample, &address, port) {
            Err(why) => failures.push(format!("{}: {why}", sample.name)),
            Ok(answer) if sample.is_http() => match check_http_answer(&answer) {
                Ok(status) => println!("{}: {status}", sample.name),
                Err(why) => failures.push(format!("{}: {why}", sample.name)),
            },
            Ok(answer) => println!("{}: ok {}", sample.name, answer.trim()),
        }
    }
    assert!(
        failures.is_empty(),
        "samples not accepted by their functions (logs in {}/sample_events):\n  {}",
        env!("CARGO_TARGET_TMPDIR"),
        failures.join("\n  ")
    );
}

/// The judge of answers itself: what it accepts and refuses.
#[test]
fn answers_are_judged_as_intended() {
    let problem = |status: u64, code: &str| {
        serde_json::json!({
            "type": format!("{PROBLEM_TYPE_BASE}{code}"), "title": "عنوان", "status": status,
            "detail": "توضیح", "code": code,
        })
        .to_string()
    };
    let answer = |status: u64, content_type: &str, body: String| {
        serde_json::json!({ "statusCode": status, "headers": { "content-type": content_type }, "body": body })
            .to_string()
    };
    assert_eq!(
        check_http_answer(&answer(202, "application/json", r#"{"status":"verification_pending"}"#.into())),
        Ok(202)
    );
    assert_eq!(check_http_answer(&answer(401, "application/problem+json", problem(401, "unauthorized"))), Ok(401));
    let multi_value = serde_json::json!({
        "statusCode": 501, "multiValueHeaders": { "Content-Type": ["application/problem+json"] },
        "body": problem(501, "not-implemented"),
    });
    assert_eq!(check_http_answer(&multi_value.to_string()), Ok(501));
    for refused in [
        answer(500, "application/problem+json", problem(500, "internal-error")),
        answer(401, "application/json", problem(401, "unauthorized")),
        answer(401, "application/problem+json", problem(403, "unauthorized")),
        answer(400, "application/problem+json", "{}".into()),
        r#"{"status":"verification_pending"}"#.to_owned(),
        "null".to_owned(),
    ] {
        assert!(check_http_answer(&refused).is_err(), "accepted {refused}");
    }
    assert_eq!(invoke_target("http://127.0.0.1:9000"), ("127.0.0.1".to_owned(), 9000));
    assert_eq!(invoke_target("http://localhost:9123/"), ("127.0.0.1".to_owned(), 9123));
    assert_eq!(invoke_target("http://[::1]:9000"), ("::1".to_owned(), 9000));
    assert!(path_matches("/orders/{order_id}/invoice", "/orders/42/invoice"));
    assert!(!path_matches("/orders/{order_id}", "/orders/42/invoice"));
    assert!(!path_matches("/orders/{order_id}", "/orders/"));
}

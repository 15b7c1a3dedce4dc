//! The HTTP contract is written down three times: the router of `cargo lambda watch` (workspace
//! `Cargo.toml`), the HttpApi events of the SAM template (`infra/template.yaml`) and the
//! storefront's OpenAPI document (`infra/openapi.yaml`, each operation naming its function in
//! `x-function`). These tests keep the three in exact agreement, so a route cannot work locally
//! and be missing when deployed, or be served without being documented. They read files only:
//! no local stack needed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use mizan_e2e::template::{field, functions, read, read_yaml, repo_file, untag};
use serde_yaml::Value as Yaml;

/// (method, path), e.g. ("POST", "/signup").
type RouteKey = (String, String);
/// Every route of one source with the function(s) it names; more than one function for a
/// route is itself a disagreement.
type Routes = BTreeMap<RouteKey, Vec<String>>;

const HTTP_METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn add(routes: &mut Routes, method: &str, path: &str, function: &str) {
    routes.entry((method.to_ascii_uppercase(), path.to_owned())).or_default().push(function.to_owned());
}

/// `[workspace.metadata.lambda.watch.router]`: `"/path" = [{ method, function }, …]`, or
/// `"/path" = "function"` (every method, written here as ANY).
fn router_routes() -> Routes {
    let manifest = toml::Value::Table(read("Cargo.toml").parse().expect("Cargo.toml is not valid TOML"));
    let router = ["workspace", "metadata", "lambda", "watch", "router"]
        .iter()
        .try_fold(&manifest, |value, key| value.get(key))
        .and_then(toml::Value::as_table)
        .expect("Cargo.toml has no [workspace.metadata.lambda.watch.router] table");
    let mut routes = Routes::new();
    for (path, target) in router {
        match target {
            toml::Value::String(function) => add(&mut routes, "ANY", path, function),
            toml::Value::Array(entries) => {
                for entry in entries {
                    let method = entry.get("method").and_then(toml::Value::as_str);
                    let function = entry.get("function").and_then(toml::Value::as_str);
                    match (method, function) {
                        (Some(method), Some(function)) => add(&mut routes, method, path, function),
                        _ => panic!("Cargo.toml router: an entry of {path:?} lacks `method` or `function`: {entry}"),
                    }
                }
            }
            other => panic!("Cargo.toml router: {path:?} maps to neither a function nor a list: {other}"),
        }
    }
    routes
}

/// The template's functions: logical id → (function name, properties). The function name is the
/// cargo-lambda binary (`Metadata.BuildProperties.Binary`), the name the router uses.
/// Every `Type: HttpApi` event of every function, and the API each one attaches to.
fn template_routes() -> (Routes, BTreeSet<String>) {
    let template = read_yaml("infra/template.yaml");
    let mut routes = Routes::new();
    let mut apis = BTreeSet::new();
    for (logical_id, function, properties) in functions(&template) {
        let Some(events) = field(&properties, "Events").and_then(Yaml::as_mapping) else { continue };
        for (name, event) in events {
            if field(event, "Type").and_then(Yaml::as_str) != Some("HttpApi") {
                continue;
            }
            let name = name.as_str().unwrap_or("?");
            let event_properties = field(event, "Properties");
            let text = |key: &str| {
                event_properties.and_then(|p| field(p, key)).map(|value| {
                    value.as_str().map(str::to_owned).unwrap_or_else(|| {
                        panic!("template: {logical_id}.Events.{name}.{key} is not a plain string: {value:?}")
                    })
                })
            };
            // Without Path and Method an HttpApi event is the API's catch-all `$default` route.
            let path = text("Path").unwrap_or_else(|| "$default".to_owned());
            let method = text("Method").unwrap_or_else(|| "ANY".to_owned());
            add(&mut routes, &method, &path, &function);
            let api = event_properties
                .and_then(|p| field(p, "ApiId"))
                .map(|api| format!("{api:?}"))
                .unwrap_or_else(|| "(the implicit ServerlessHttpApi)".to_owned());
            apis.insert(api);
        }
    }
    (routes, apis)
}

/// Every operation of the OpenAPI document, with the function named by its `x-function`.
fn openapi_routes() -> Routes {
    let document = read_yaml("infra/openapi.yaml");
    let paths = field(&document, "paths").and_then(Yaml::as_mapping).expect("openapi.yaml has no paths");
    let mut routes = Routes::new();
    let mut unnamed = Vec::new();
    for (path, item) in paths {
        let path = path.as_str().expect("paths are strings");
        for method in HTTP_METHODS {
            let Some(operation) = field(item, method) else { continue };
            match field(operation, "x-function").and_then(Yaml::as_str) {
                Some(function) => add(&mut routes, method, path, function),
                None => unnamed.push(format!("{} {path}", method.to_ascii_uppercase())),
            }
        }
    }
    assert!(
        unnamed.is_empty(),
        "infra/openapi.yaml: these operations have no `x-function` naming the Lambda function that serves them: {}",
        unnamed.join(", ")
    );
    routes
}

fn describe(functions: Option<&Vec<String>>) -> String {
    match functions.map(Vec::as_slice) {
        None | Some([]) => "MISSING".to_owned(),
        Some([one]) => one.clone(),
        Some(many) => format!("{} (listed {} times)", many.join(" + "), many.len()),
    }
}

#[test]
fn router_template_and_openapi_name_the_same_routes_and_functions() {
    let sources = [
        ("Cargo.toml watch router", router_routes()),
        ("infra/template.yaml HttpApi events", template_routes().0),
        ("infra/openapi.yaml operations", openapi_routes()),
    ];
    for (name, routes) in &sources {
        assert!(!routes.is_empty(), "{name}: no routes found at all");
    }
    let every_route: BTreeSet<&RouteKey> = sources.iter().flat_map(|(_, routes)| routes.keys()).collect();
    let mut report = String::new();
    for route @ (method, path) in every_route {
        let seen: Vec<Option<&Vec<String>>> = sources.iter().map(|(_, routes)| routes.get(route)).collect();
        let agree = seen.iter().all(|functions| matches!(functions, Some(f) if f.len() == 1))
            && seen.windows(2).all(|pair| pair[0] == pair[1]);
        if !agree {
            let _ = writeln!(report, "  {method} {path}:");
            for ((name, _), functions) in sources.iter().zip(&seen) {
                let _ = writeln!(report, "      {name:<36} {}", describe(*functions));
            }
        }
    }
    assert!(
        report.is_empty(),
        "the routes disagree (each must appear exactly once in all three, with the same function):\n{report}"
    );
}

#[test]
fn every_http_route_of_the_template_is_on_one_api() {
    let (_, apis) = template_routes();
    assert_eq!(
        apis.len(),
        1,
        "infra/template.yaml: HttpApi events attach to {} different APIs ({apis:?}); the storefront has one base URL",
        apis.len()
    );
}

/// The functions the routes name must exist: a workspace crate under functions/ whose package
/// (and so cargo-lambda binary) has that name, and a function of the SAM template.
#[test]
fn every_routed_function_exists() {
    let mut crates = BTreeSet::new();
    for entry in std::fs::read_dir(repo_file("functions")).expect("cannot list functions/") {
        let manifest = entry.expect("cannot read functions/").path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
        let table: toml::Table = text.parse().unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        if let Some(name) = table.get("package").and_then(|p| p.get("name")).and_then(toml::Value::as_str) {
            crates.insert(name.to_owned());
        }
        for bin in table.get("bin").and_then(toml::Value::as_array).into_iter().flatten() {
            if let Some(name) = bin.get("name").and_then(toml::Value::as_str) {
                crates.insert(name.to_owned());
            }
        }
    }
    let template = read_yaml("infra/template.yaml");
    let deployed: BTreeSet<String> = functions(&template).into_iter().map(|(_, binary, _)| binary).collect();
    let mut problems = BTreeSet::new();
    for (source, routes) in [("Cargo.toml watch router", router_routes()), ("infra/openapi.yaml", openapi_routes())] {
        for ((method, path), functions) in routes {
            for function in functions {
                if !crates.contains(&function) {
                    problems.insert(format!(
                        "{source}: {method} {path} → {function:?}, which is no crate under functions/"
                    ));
                }
                if !deployed.contains(&function) {
                    problems.insert(format!(
                        "{source}: {method} {path} → {function:?}, which infra/template.yaml does not deploy"
                    ));
                }
            }
        }
    }
    let problems: Vec<String> = problems.into_iter().collect();
    assert!(problems.is_empty(), "routes name functions that do not exist:\n  {}", problems.join("\n  "));
}

/// `{param}` of every path is declared as a path parameter, every `$ref` resolves, operation ids
/// are unique: the document stays usable by generators and viewers.
#[test]
fn openapi_document_is_self_consistent() {
    let document = read_yaml("infra/openapi.yaml");
    assert_eq!(
        field(&document, "openapi").and_then(Yaml::as_str).map(|v| v.starts_with("3.1.")),
        Some(true),
        "infra/openapi.yaml must be an OpenAPI 3.1 document"
    );
    let mut problems = Vec::new();

    let mut refs = BTreeSet::new();
    collect_refs(&document, &mut refs);
    for reference in refs {
        let resolved = reference.strip_prefix("#/").map(|pointer| {
            pointer
                .split('/')
                .try_fold(&document, |value, key| field(value, &key.replace("~1", "/").replace("~0", "~")))
        });
        if !matches!(resolved, Some(Some(_))) {
            problems.push(format!("$ref {reference:?} does not resolve inside the document"));
        }
    }

    let paths = field(&document, "paths").and_then(Yaml::as_mapping).expect("openapi.yaml has no paths");
    let mut operation_ids = BTreeMap::<String, usize>::new();
    for (path, item) in paths {
        let path = path.as_str().expect("paths are strings");
        let placeholders: BTreeSet<&str> =
            path.split('/').filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}')).collect();
        let declared_in = |parameters: Option<&Yaml>| -> BTreeSet<String> {
            parameters
                .and_then(Yaml::as_sequence)
                .into_iter()
                .flatten()
                .map(|parameter| resolve(&document, parameter))
                .filter(|parameter| field(parameter, "in").and_then(Yaml::as_str) == Some("path"))
                .filter_map(|parameter| field(parameter, "name").and_then(Yaml::as_str).map(str::to_owned))
                .collect()
        };
        let shared = declared_in(field(item, "parameters"));
        for method in HTTP_METHODS {
            let Some(operation) = field(item, method) else { continue };
            let operation_name = format!("{} {path}", method.to_ascii_uppercase());
            let mut declared = shared.clone();
            declared.extend(declared_in(field(operation, "parameters")));
            let placeholders: BTreeSet<String> = placeholders.iter().map(|p| (*p).to_owned()).collect();
            if declared != placeholders {
                problems.push(format!(
                    "{operation_name}: path parameters declared {declared:?}, but the path has {placeholders:?}"
                ));
            }
            match field(operation, "operationId").and_then(Yaml::as_str) {
                Some(id) => *operation_ids.entry(id.to_owned()).or_default() += 1,
                None => problems.push(format!("{operation_name}: no operationId")),
            }
            if field(operation, "responses").and_then(Yaml::as_mapping).is_none_or(|r| r.is_empty()) {
                problems.push(format!("{operation_name}: no responses"));
            }
        }
    }
    for (id, count) in operation_ids {
        if count > 1 {
            problems.push(format!("operationId {id:?} is used {count} times"));
        }
    }
    assert!(problems.is_empty(), "infra/openapi.yaml:\n  {}", problems.join("\n  "));
}

fn collect_refs(value: &Yaml, refs: &mut BTreeSet<String>) {
    match untag(value) {
        Yaml::Mapping(mapping) => {
            for (key, value) in mapping {
                match (key.as_str(), value.as_str()) {
                    (Some("$ref"), Some(target)) => {
                        refs.insert(target.to_owned());
                    }
                    _ => collect_refs(value, refs),
                }
            }
        }
        Yaml::Sequence(items) => items.iter().for_each(|item| collect_refs(item, refs)),
        _ => {}
    }
}

/// A `$ref` object replaced by what it points to (one level, inside the document).
fn resolve<'a>(document: &'a Yaml, value: &'a Yaml) -> &'a Yaml {
    let Some(pointer) = field(value, "$ref").and_then(Yaml::as_str).and_then(|r| r.strip_prefix("#/")) else {
        return value;
    };
    pointer.split('/').try_fold(document, |value, key| field(value, key)).unwrap_or(value)
}

/// Every problem the domain crate can answer (`Self::new(<status>, "<code>", …)` in
/// shared/domain/src/kernel/problem.rs) is listed in the document's `ProblemCode`, with the same status, and
/// its type URI is the documented one.
#[test]
fn every_problem_code_is_documented_with_its_status() {
    let source = read("shared/domain/src/kernel/problem.rs");
    assert!(
        source.contains("\"https://mizancoffee.ir/problems/\""),
        "shared/domain/src/kernel/problem.rs no longer builds type URIs from https://mizancoffee.ir/problems/, \
         which infra/openapi.yaml documents"
    );
    let mut answered = BTreeMap::new();
    for call in source.split("Self::new(").skip(1) {
        let call = call.trim_start();
        let status: String = call.chars().take_while(char::is_ascii_digit).collect();
        let Some(code) = call[status.len()..]
            .trim_start()
            .strip_prefix(',')
            .map(str::trim_start)
            .and_then(|rest| rest.strip_prefix('"'))
            .and_then(|rest| rest.split('"').next())
        else {
            continue; // not a constructor call with literal status and code
        };
        if let Ok(status) = status.parse::<u64>() {
            answered.insert(code.to_owned(), status);
        }
    }
    assert!(
        answered.len() >= 5,
        "found only {answered:?} in shared/domain/src/kernel/problem.rs: has Problem::new changed shape?"
    );

    let document = read_yaml("infra/openapi.yaml");
    let documented: BTreeMap<String, Option<u64>> = ["components", "schemas", "ProblemCode", "oneOf"]
        .iter()
        .try_fold(&document, |value, key| field(value, key))
        .and_then(Yaml::as_sequence)
        .expect("infra/openapi.yaml has no components.schemas.ProblemCode.oneOf list")
        .iter()
        .filter_map(|entry| {
            let code = field(entry, "const")?.as_str()?.to_owned();
            Some((code, field(entry, "x-status").and_then(Yaml::as_u64)))
        })
        .collect();

    let mut problems = Vec::new();
    for (code, status) in &answered {
        match documented.get(code) {
            None => problems.push(format!("{code:?} (status {status}) is not listed")),
            Some(listed) if *listed != Some(*status) => {
                problems.push(format!("{code:?} is answered with {status} but listed with x-status {listed:?}"))
            }
            Some(_) => {}
        }
    }
    assert!(
        problems.is_empty(),
        "infra/openapi.yaml's ProblemCode disagrees with shared/domain/src/kernel/problem.rs:\n  {}",
        problems.join("\n  ")
    );
}

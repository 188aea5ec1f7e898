//! `/openapi.json` describes the router exactly: every route in `src/http/` is documented,
//! every documented operation is served, and what it answers matches its schema.
//!
//! axum cannot list its routes, so the routes are read from the source: every
//! `.route("<path>", <method>(..)[.<method>(..)])` call in `src/http/**/*.rs`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, spawn_app};
use crate::schema_check::Document;

/// Source routes whose documented path differs by more than parameter names.
const DOCUMENTED_AS: &[(&str, &str)] = &[
    // One segment `<token>.png`: the handler checks the suffix.
    ("/qr/{file}", "/qr/{token}.png"),
];

const METHODS: &[&str] = &[
    "get", "post", "put", "delete", "patch", "head", "options", "trace",
];

/// Fetches `/openapi.json` (no key).
pub async fn fetch_document(app: &TestApp) -> Value {
    let response = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("/openapi.json is JSON")
}

/// `(method, path)` of every documented operation.
pub fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            if METHODS.contains(&method.as_str()) {
                operations.insert((method.clone(), path.clone()));
            }
        }
    }
    operations
}

/// `/v1/esim/{esim_id}` and `/v1/esim/{esimId}` are the same route.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/http is readable") {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The end of the parenthesised group opening at `open` (which holds `(`).
fn closing_paren(text: &str, open: usize) -> usize {
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return open + i;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses after {}", &text[open..open + 40]);
}

/// `(method, path, file)` of every `.route(..)` call in one source file.
fn routes_in(text: &str, file: &str) -> Vec<(String, String, String)> {
    for unsupported in [".route_service(", ".nest(", ".nest_service("] {
        assert!(
            !text.contains(unsupported),
            "{file} uses `{unsupported}`: teach tests/api/openapi.rs to read it"
        );
    }
    let mut routes = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find(".route(") {
        let start = from + found + ".route(".len();
        let rest = text[start..].trim_start();
        let path = rest
            .strip_prefix('"')
            .and_then(|r| r.split_once('"'))
            .map(|(path, _)| path.to_owned())
            .unwrap_or_else(|| panic!("{file}: a .route( whose path is not a literal"));
        let after_path = start + text[start..].find(',').expect("route(path, ...)") + 1;
        // The method router: `get(h)`, `axum::routing::post(h)`, `get(h).post(h2)`, ...
        let mut at = after_path;
        loop {
            let chain = &text[at..];
            let skipped = chain.len() - chain.trim_start().len();
            let ident_len = chain[skipped..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .expect("a method call");
            let ident = &chain[skipped..skipped + ident_len];
            let method = ident.rsplit("::").next().unwrap_or(ident);
            assert!(
                METHODS.contains(&method),
                "{file}: route {path} uses `{ident}`, not a method router this test reads"
            );
            routes.push((method.to_owned(), path.clone(), file.to_owned()));
            let close = closing_paren(text, at + skipped + ident_len);
            at = close + 1;
            let next = text[at..].trim_start();
            if let Some(stripped) = next.strip_prefix('.') {
                at = text.len() - stripped.len();
            } else {
                break;
            }
        }
        from = at;
    }
    routes
}

/// Every route registered in `src/http/`.
fn source_routes() -> Vec<(String, String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src/http"), &mut files);
    files.sort();
    let mut routes = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.strip_prefix(root).unwrap().display().to_string();
        routes.extend(routes_in(&text, &name));
    }
    routes
}

#[test]
fn the_route_scanner_reads_chained_and_qualified_method_routers() {
    let source = r#"Router::new()
        .route("/a", get(list))
        .route("/b/{id}", axum::routing::get(one).post(replace_it(x)))
        .route_layer(layer)"#;
    let routes: Vec<_> = routes_in(source, "x.rs")
        .into_iter()
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    assert_eq!(routes, ["get /a", "get /b/{id}", "post /b/{id}"]);
}

#[sqlx::test]
async fn every_route_in_the_source_is_documented(db: PgPool) {
    let app = spawn_app(db).await;
    let doc = fetch_document(&app).await;
    let documented: BTreeSet<(String, String)> = documented_operations(&doc)
        .into_iter()
        .map(|(method, path)| (method, shape(&path)))
        .collect();
    let routes = source_routes();
    assert!(routes.len() >= 16, "found only {routes:?}");
    for (method, path, file) in routes {
        let as_documented = DOCUMENTED_AS
            .iter()
            .find(|(source, _)| *source == path)
            .map_or(path.as_str(), |(_, doc)| doc);
        assert!(
            documented.contains(&(method.clone(), shape(as_documented))),
            "{} {path} (routed in {file}) is not in /openapi.json: add #[utoipa::path] to \
             its handler and its Api to http::openapi::document()",
            method.to_uppercase()
        );
    }
}

/// A request for every documented operation, with real ids and the documented example
/// bodies; answers the parsed responses keyed by operation.
async fn call_every_operation(app: &TestApp, doc: &Value) -> Vec<(String, String, u16, Value)> {
    let partner = app.create_partner("acme", "20", "1000.00").await;
    let order = crate::helpers::success_data(
        app.order(&partner.key, &json!({"planId": "ae-5gb-7d"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let esim = &order["esims"][0];
    let qr_url = esim["qrCodeUrl"].as_str().unwrap();
    let token = qr_url.rsplit('/').next().unwrap().trim_end_matches(".png");
    let mut answers = Vec::new();
    for (method, template) in documented_operations(doc) {
        let path = template
            .replace("{orderId}", order["orderId"].as_str().unwrap())
            .replace("{esimId}", esim["esimId"].as_str().unwrap())
            .replace("{token}", token);
        assert!(
            !path.contains('{'),
            "no test value for a parameter of {template}"
        );
        let operation = &doc["paths"][&template][&method];
        let mut request = app.client.request(
            Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
            format!("{}{path}", app.address),
        );
        if operation.get("security").is_some() {
            request = request.bearer_auth(&partner.key);
        }
        if let Some(body) = operation.get("requestBody") {
            let schema = Document(doc).resolve(&body["content"]["application/json"]["schema"]);
            let example = body["content"]["application/json"]
                .get("example")
                .unwrap_or(&schema["example"]);
            request = request.json(example);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = response.bytes().await.unwrap();
        let body = if content_type.starts_with("application/json") {
            serde_json::from_slice(&bytes).unwrap()
        } else {
            json!({ "contentType": content_type, "bytes": bytes.len() })
        };
        answers.push((method, template, status, body));
    }
    answers
}

#[sqlx::test]
async fn every_documented_operation_is_served_and_answers_its_documented_schema(db: PgPool) {
    let app = spawn_app(db).await;
    let doc = fetch_document(&app).await;
    let document = Document(&doc);
    for (method, path, status, body) in call_every_operation(&app, &doc).await {
        let what = format!("{} {path}", method.to_uppercase());
        assert!(
            (200..300).contains(&status),
            "{what} answered {status}, not a success: is it routed? {body}"
        );
        let response = document.response(&method, &path, status);
        let content = response["content"].as_object().expect("documented content");
        match body.get("contentType").and_then(Value::as_str) {
            Some(served) => assert!(
                content
                    .keys()
                    .any(|documented| served.starts_with(documented.as_str())),
                "{what} served {served}, documented {:?}",
                content.keys()
            ),
            None => document.assert_conforms(
                &body,
                &content["application/json"]["schema"],
                &format!("{what} {status}"),
            ),
        }
    }
}

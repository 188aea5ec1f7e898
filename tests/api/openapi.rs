//! `/openapi.json` describes the router exactly: every documented operation is served,
//! and what it answers matches its schema. The other direction holds by construction:
//! the router and the document are built together (`routes!` in each resource's
//! `router()`), so a route cannot be served undocumented.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, spawn_app_with};
use crate::schema_check::Document;

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
    // Cancelling takes an eSIM of its own: the top-up needs one that is not cancelled.
    let spare = crate::helpers::success_data(
        app.order(&partner.key, &json!({"planId": "ae-5gb-7d"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let spare_esim = spare["esims"][0]["esimId"].as_str().unwrap();
    // The sandbox's operations take a sandbox key and one of its eSIMs.
    let sandbox =
        tavaro::auth::create_key_in(&app.db, partner.id, "Sandbox", tavaro::mode::Mode::Sandbox)
            .await
            .unwrap()
            .token
            .expose()
            .clone();
    app.sync_keys().await;
    let sandbox_order = crate::helpers::success_data(
        app.order(&sandbox, &json!({"planId": "ae-5gb-7d"})).await,
        StatusCode::CREATED,
    )
    .await;
    let sandbox_esim = sandbox_order["esims"][0]["esimId"].as_str().unwrap();
    // Webhooks: an endpoint (its test event gives a delivery), and one to delete (DELETE
    // comes first in the walk).
    let webhook = |url: &'static str| {
        let app = &app;
        let key = partner.key.clone();
        async move {
            crate::helpers::success_data(
                app.post_json("/v1/webhooks", &key, &json!({"url": url}))
                    .await,
                StatusCode::CREATED,
            )
            .await["webhookId"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let webhook_id = webhook("https://example.com/hooks").await;
    let doomed_webhook = webhook("https://example.com/doomed").await;
    let delivery = crate::helpers::success_data(
        app.post_json(
            &format!("/v1/webhooks/{webhook_id}/test"),
            &partner.key,
            &json!({}),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let delivery_id = delivery["deliveryId"].as_str().unwrap().to_owned();
    let qr_url = esim["qrCodeUrl"].as_str().unwrap();
    let token = qr_url.rsplit('/').next().unwrap().trim_end_matches(".png");
    let mut answers = Vec::new();
    for (method, template) in documented_operations(doc) {
        let in_sandbox = template.starts_with("/v1/sandbox/");
        let (key, esim_id) = match in_sandbox {
            true => (sandbox.as_str(), sandbox_esim),
            false if template.ends_with("/cancel") => (partner.key.as_str(), spare_esim),
            false => (partner.key.as_str(), esim["esimId"].as_str().unwrap()),
        };
        let webhook = match method.as_str() {
            "delete" => doomed_webhook.as_str(),
            _ => webhook_id.as_str(),
        };
        let path = template
            .replace("{webhookId}", webhook)
            .replace("{deliveryId}", &delivery_id)
            .replace("{orderId}", order["orderId"].as_str().unwrap())
            .replace("{esimId}", esim_id)
            .replace("{token}", token)
            // Provider callbacks: eSIM Access is configured for this (its health check
            // asks it nothing).
            .replace("{name}", "esimaccess");
        assert!(
            !path.contains('{'),
            "no test value for a parameter of {template}"
        );
        let operation = &doc["paths"][&template][&method];
        // `/metrics` is served on the operations listener only, never on the partner port.
        let base = match template.as_str() {
            "/metrics" => app.metrics_address.as_deref().expect("a metrics listener"),
            _ => app.address.as_str(),
        };
        let mut request = app.client.request(
            Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
            format!("{base}{path}"),
        );
        if operation.get("security").is_some() {
            request = request.bearer_auth(key);
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
    // Webhook URLs are taken as they are (the test machine may resolve no public name),
    // and eSIM Access is configured so its callback operation is served.
    let app = spawn_app_with(db, |config| {
        config.webhooks.allow_private = true;
        config.providers.esimaccess = Some(tavaro::provider::upstream::UpstreamConfig {
            base_url: "http://127.0.0.1:9".to_owned(),
            credential: tavaro::secret::Secret::new("unused".to_owned()),
            secret: None,
            timeout: std::time::Duration::from_secs(1),
            body_limits: Default::default(),
        });
    })
    .await;
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

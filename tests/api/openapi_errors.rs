//! The errors partners really get are the ones `/openapi.json` documents for the
//! operation: status, `code` and envelope shape (every property the server emits is in
//! the schema).

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, spawn_app, spawn_app_with, wait_for_status};
use crate::openapi::fetch_document;
use crate::schema_check::Document;

/// Sends `request`, then checks the answer against the response the document gives for
/// `(method, path, status)`, and that it carries `code`.
async fn assert_documented_error(
    doc: &Value,
    request: RequestBuilder,
    (method, path): (&str, &str),
    status: StatusCode,
    code: &str,
) {
    let response = request.send().await.unwrap();
    assert_eq!(
        response.status(),
        status,
        "{method} {path}: expected {code}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    let document = Document(doc);
    let schema = document.response_schema(method, path, status.as_u16());
    document.assert_conforms(&body, schema, &format!("{method} {path} {status}"));
}

fn get(app: &TestApp, path: &str, key: &str) -> RequestBuilder {
    app.client
        .get(format!("{}{path}", app.address))
        .bearer_auth(key)
}

fn post(app: &TestApp, path: &str, key: &str, body: &Value) -> RequestBuilder {
    app.client
        .post(format!("{}{path}", app.address))
        .bearer_auth(key)
        .json(body)
}

#[sqlx::test]
async fn client_errors_match_the_documented_responses(db: PgPool) {
    let app = spawn_app(db).await;
    let doc = fetch_document(&app).await;
    let rich = app.create_partner("rich", "0", "1000.00").await;
    let poor = app.create_partner("poor", "0", "1.00").await;
    let key = rich.key.as_str();
    let unknown = "00000000-0000-0000-0000-000000000000";

    let cases: Vec<(RequestBuilder, (&str, &str), StatusCode, &str)> = vec![
        (
            get(&app, "/v1/countries?geography=planet", key),
            ("GET", "/v1/countries"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            get(&app, "/v1/packages?days=0&geography=x", key),
            ("GET", "/v1/packages"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            get(&app, "/v1/packages?country=XX", key),
            ("GET", "/v1/packages"),
            StatusCode::NOT_FOUND,
            "country_not_found",
        ),
        (
            post(&app, "/v1/sandbox/balance", key, &json!({"balance": 250.0})),
            ("POST", "/v1/sandbox/balance"),
            StatusCode::FORBIDDEN,
            "sandbox_only",
        ),
        (
            app.client.get(format!("{}/v1/balance", app.address)),
            ("GET", "/v1/balance"),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            get(&app, "/v1/orders?limit=500", key),
            ("GET", "/v1/orders"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            get(&app, "/v1/balance/transactions?cursor=garbage", key),
            ("GET", "/v1/balance/transactions"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            get(&app, &format!("/v1/orders/{unknown}"), key),
            ("GET", "/v1/orders/{orderId}"),
            StatusCode::NOT_FOUND,
            "order_not_found",
        ),
        (
            get(&app, &format!("/v1/esim/{unknown}"), key),
            ("GET", "/v1/esim/{esimId}"),
            StatusCode::NOT_FOUND,
            "esim_not_found",
        ),
        (
            app.client
                .get(format!("{}/qr/AAAAAAAAAAAAAAAAAAAAAAAAAA.png", app.address)),
            ("GET", "/qr/{token}.png"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            post(
                &app,
                "/v1/order",
                key,
                &json!({"planId": "ae-5gb-7d", "quantity": 11}),
            ),
            ("POST", "/v1/order"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            post(&app, "/v1/order", key, &json!({"planId": "no-such-plan"})),
            ("POST", "/v1/order"),
            StatusCode::NOT_FOUND,
            "plan_not_found",
        ),
        (
            post(
                &app,
                "/v1/order",
                &poor.key,
                &json!({"planId": "ae-5gb-7d"}),
            ),
            ("POST", "/v1/order"),
            StatusCode::PAYMENT_REQUIRED,
            "insufficient_credits",
        ),
        (
            post(
                &app,
                "/v1/order/quote",
                key,
                &json!({"planId": "x".repeat(70 * 1024)}),
            ),
            ("POST", "/v1/order/quote"),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            app.client
                .post(format!("{}/v1/order", app.address))
                .bearer_auth(key)
                .header("content-type", "text/plain")
                .body(r#"{"planId":"ae-5gb-7d"}"#),
            ("POST", "/v1/order"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
    ];
    for (request, operation, status, code) in cases {
        assert_documented_error(&doc, request, operation, status, code).await;
    }

    // 405 is the same answer on every path: it is a component, not an operation's.
    let response = app
        .client
        .request(Method::DELETE, format!("{}/v1/balance", app.address))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
    let document = Document(&doc);
    let component = &doc["components"]["responses"]["MethodNotAllowed"];
    let schema = &component["content"]["application/json"]["schema"];
    document.assert_conforms(&body, schema, "DELETE /v1/balance 405");
}

#[sqlx::test]
async fn idempotency_and_suspension_errors_match_the_documented_responses(db: PgPool) {
    let app = spawn_app(db).await;
    let doc = fetch_document(&app).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let first = app
        .order_idempotently(&partner.key, "BK-1", &json!({"planId": "ae-5gb-7d"}))
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let reused = app
        .client
        .post(format!("{}/v1/order", app.address))
        .bearer_auth(&partner.key)
        .header("idempotency-key", "BK-1")
        .json(&json!({"planId": "ae-1gb-7d"}));
    assert_documented_error(
        &doc,
        reused,
        ("POST", "/v1/order"),
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;

    tavaro::partners::set_active(&app.db, partner.id, false)
        .await
        .unwrap();
    wait_for_status(&app, "/v1/balance", &partner.key, StatusCode::FORBIDDEN).await;
    assert_documented_error(
        &doc,
        get(
            &app,
            "/v1/esim/00000000-0000-0000-0000-000000000000",
            &partner.key,
        ),
        ("GET", "/v1/esim/{esimId}"),
        StatusCode::FORBIDDEN,
        "partner_suspended",
    )
    .await;
}

#[sqlx::test]
async fn a_provider_refusal_matches_the_documented_502(db: PgPool) {
    let app = spawn_app_with(db, |c| c.simulator.failure_rate = 1.0).await;
    let doc = fetch_document(&app).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    assert_documented_error(
        &doc,
        post(
            &app,
            "/v1/order",
            &partner.key,
            &json!({"planId": "ae-5gb-7d"}),
        ),
        ("POST", "/v1/order"),
        StatusCode::BAD_GATEWAY,
        "upstream_error",
    )
    .await;
}

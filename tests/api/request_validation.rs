//! Whatever arrives, the answer is a JSON envelope with a stable code: never a 500, never
//! a plain-text rejection; and a client that never finishes its request is cut off.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{assert_error, spawn_app, spawn_app_with};

#[sqlx::test]
async fn a_body_over_the_limit_is_413(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let huge = json!({"planId": "ae-5gb-7d", "reference": "x".repeat(70 * 1024)});
    let body = assert_error(
        app.order(&partner.key, &huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    assert_eq!(body["error"]["details"]["limitBytes"], 65_536);
    assert_eq!(app.balance_cents(partner.id).await, 10_000);
    app.assert_ledger_sound().await;
}

/// Sends `body` to `path` as chunks of 8 KiB (no `Content-Length`, so the size is only
/// known as it is read) on a raw connection; returns the status line and the JSON body.
async fn post_chunked(address: &str, path: &str, key: &str, body: &[u8]) -> (String, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut stream = tokio::net::TcpStream::connect(address.trim_start_matches("http://"))
        .await
        .unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.chunks(8 * 1024) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The server may answer and close before it has read everything: a failed write of
    // the rest is expected then.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, rest) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head.lines().next().unwrap_or_default().to_owned();
    // The answer is chunked or sized; its JSON object runs from the first `{` to the last `}`.
    let json = &rest[rest.find('{').expect("a JSON body")..=rest.rfind('}').unwrap()];
    (status, serde_json::from_str(json).expect("a JSON body"))
}

#[sqlx::test]
async fn a_chunked_body_is_held_to_the_limit_on_every_route_that_reads_one(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    // Valid JSON either way: an order padded with white space.
    let padded = |size: usize| format!(r#"{{"planId":"ae-5gb-7d"{}}}"#, " ".repeat(size));
    let huge = padded(70 * 1024);
    // An order whose size only shows as it is read: 413, nothing debited.
    let (status, body) =
        post_chunked(&app.address, "/v1/order", &partner.key, huge.as_bytes()).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert_eq!(body["error"]["details"]["limitBytes"], 65_536);
    // A provider's callback (no key) is held to the same limit.
    let (status, body) = post_chunked(
        &app.address,
        "/providers/esimaccess/webhook",
        "none",
        huge.as_bytes(),
    )
    .await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert_eq!(app.balance_cents(partner.id).await, 10_000);
    // A chunked body within the limit is read whole and the order placed.
    let small = padded(40 * 1024);
    let (status, body) =
        post_chunked(&app.address, "/v1/order", &partner.key, small.as_bytes()).await;
    assert!(status.starts_with("HTTP/1.1 201"), "{status}: {body}");
    assert_eq!(body["data"]["status"], "completed", "{body}");
    assert!(app.balance_cents(partner.id).await < 10_000);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_body_that_is_not_json_is_415(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data"),
        None,
    ] {
        let mut request = app
            .client
            .post(format!("{}/v1/order", app.address))
            .bearer_auth(&partner.key)
            .body(r#"{"planId":"ae-5gb-7d"}"#);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_error(
            response,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .await;
    }
    // Parameters on the JSON media type are fine.
    let response = app
        .client
        .post(format!("{}/v1/order", app.address))
        .bearer_auth(&partner.key)
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"planId":"ae-1gb-7d"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn unknown_routes_and_methods_answer_json(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "0").await;
    assert_error(
        app.get("/v1/nothing-here", &partner.key).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let response = app
        .client
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app
        .client
        .delete(format!("{}/v1/balance", app.address))
        .bearer_auth(&partner.key)
        .send()
        .await
        .unwrap();
    assert_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn sane_request_ids_are_echoed_and_others_replaced(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "0").await;
    let response = app
        .client
        .get(format!("{}/v1/balance", app.address))
        .bearer_auth(&partner.key)
        .header("x-request-id", "booking-42.retry_1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "booking-42.retry_1");
    let response = app
        .client
        .get(format!("{}/v1/balance", app.address))
        .header("x-request-id", "<script>alert(1)</script>")
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let body = assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(body["requestId"], id);
    app.assert_ledger_sound().await;
}

/// How a malformed order body must be refused.
#[derive(Clone, Copy, Debug)]
enum Refused {
    /// With any 4xx.
    AsAClientError,
    /// By the parser or the size limit: exactly 400 or 413 (hostile bodies, built to
    /// exhaust the parser's stack, its number handling or the body limit).
    AsMalformedOrTooLarge,
}

#[sqlx::test]
async fn no_malformed_or_hostile_request_gets_a_500_or_a_non_json_error(db: PgPool) {
    use Refused::{AsAClientError, AsMalformedOrTooLarge};

    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let deep = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let bodies: Vec<(String, Refused)> = vec![
        (String::new(), AsAClientError),
        ("{".into(), AsAClientError),
        ("}".into(), AsAClientError),
        ("\"planId\"".into(), AsAClientError),
        ("12".into(), AsAClientError),
        ("true".into(), AsAClientError),
        ("{\"planId\": null}".into(), AsAClientError),
        ("{\"planId\": [\"ae-5gb-7d\"]}".into(), AsAClientError),
        ("{\"planId\": {\"$gt\": \"\"}}".into(), AsAClientError),
        (
            "{\"planId\": \"ae-5gb-7d\", \"planId\": \"ae-1gb-7d\"}".into(),
            AsAClientError,
        ),
        (
            "{\"planId\": \"ae-5gb-7d\", \"quantity\": 99999999999999999999999}".into(),
            AsAClientError,
        ),
        (
            "{\"planId\": \"ae-5gb-7d\", \"quantity\": 1e309}".into(),
            AsAClientError,
        ),
        (
            "{\"planId\": \"ae-5gb-7d\", \"quantity\": NaN}".into(),
            AsAClientError,
        ),
        ("{\"planId\": \"\\u0000\"}".into(), AsAClientError),
        ("{\"planId\": \"\\ud800\"}".into(), AsAClientError),
        (
            "{\"planId\": \"ae-5gb-7d\", \"reference\": \"a\\u0007b\"}".into(),
            AsAClientError,
        ),
        (format!("{{\"planId\": {}}}", deep(5_000)), AsAClientError),
        (
            format!("{{\"planId\": \"{}\"}}", "é".repeat(2000)),
            AsAClientError,
        ),
        (
            format!(r#"{{"planId": {}}}"#, deep(20_000)),
            AsMalformedOrTooLarge,
        ),
        (
            format!(r#"{{"planId": "ae-1gb-7d", "extra": {}}}"#, deep(20_000)),
            AsMalformedOrTooLarge,
        ),
        (
            r#"{"planId": "ae-1gb-7d", "quantity": 18446744073709551616}"#.to_owned(),
            AsMalformedOrTooLarge,
        ),
        (
            r#"{"planId": "ae-1gb-7d", "quantity": 1e400}"#.to_owned(),
            AsMalformedOrTooLarge,
        ),
        (
            format!(r#"{{"planId": "{}"}}"#, "a".repeat(60_000)),
            AsMalformedOrTooLarge,
        ),
        (
            format!(
                r#"{{"planId": "ae-1gb-7d", "reference": "{}"}}"#,
                "r".repeat(65)
            ),
            AsMalformedOrTooLarge,
        ),
        ("\u{feff}{}".to_owned(), AsMalformedOrTooLarge),
    ];
    for (body, refused) in &bodies {
        let response = app
            .client
            .post(format!("{}/v1/order", app.address))
            .bearer_auth(&partner.key)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status();
        let expected = match refused {
            AsAClientError => status.is_client_error(),
            AsMalformedOrTooLarge => {
                status == StatusCode::BAD_REQUEST || status == StatusCode::PAYLOAD_TOO_LARGE
            }
        };
        assert!(
            expected,
            "{body:.60} ({} bytes) → {status}, expected {refused:?}",
            body.len()
        );
        let json: Value = response.json().await.expect("JSON error body");
        assert_eq!(json["status"], "error");
    }
    // Invalid UTF-8 in the body.
    let response = app
        .client
        .post(format!("{}/v1/order", app.address))
        .bearer_auth(&partner.key)
        .header("content-type", "application/json")
        .body(vec![b'{', 0xff, 0xfe, b'}'])
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;

    let queries = [
        "/v1/packages?country=%00",
        "/v1/packages?days=99999999999999999999",
        "/v1/packages?country=AE&country=FR",
        "/v1/packages?%ZZ=1",
        "/v1/countries?geography=",
        "/v1/esim/%2e%2e%2f%2e%2e",
    ];
    for path in queries {
        let response = app.get(path, &partner.key).await;
        let status = response.status();
        assert!(status.is_client_error(), "{path} → {status}");
        let json: Value = response.json().await.expect("JSON error body");
        assert_eq!(json["status"], "error", "{path}");
    }
    for method in [Method::PUT, Method::PATCH, Method::DELETE] {
        let response = app
            .client
            .request(method.clone(), format!("{}/v1/order", app.address))
            .bearer_auth(&partner.key)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{method}");
        let json: Value = response.json().await.expect("JSON error body");
        assert_eq!(json["status"], "error");
    }
    assert_eq!(app.count("orders", partner.id).await, 0);
    assert_eq!(
        app.balance_cents(partner.id).await,
        10_000,
        "nothing was charged"
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected(db: PgPool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = spawn_app_with(db, |config| {
        config.http.header_timeout = Duration::from_secs(1);
    })
    .await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Slow: ")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buffer = [0_u8; 512];
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read(&mut buffer))
        .await
        .expect("the server closes the connection");
    // Closed (0 bytes or a reset), or answered 408 then closed: never left hanging.
    match read {
        Ok(0) | Err(_) => {}
        Ok(n) => assert!(
            String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(&buffer[..n])
        ),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    // Clients that send whole requests are served as usual.
    let ok = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[sqlx::test]
async fn control_characters_in_plan_id_or_reference_are_refused_naming_the_field(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let cases = [
        // A newline forges a log line; an escape sequence repaints the terminal.
        (
            json!({"planId": "ae-5gb-7d\n2026-12-01T00:00:00Z INFO forged"}),
            "planId",
        ),
        (json!({"planId": "ae-5gb-7d\u{1b}[2J"}), "planId"),
        (json!({"planId": "\u{0}"}), "planId"),
        (json!({"planId": "ae-5gb-7d\r"}), "planId"),
        (json!({"planId": "\tae-5gb-7d"}), "planId"),
        (json!({"planId": "ae-5gb-7d\u{85}"}), "planId"),
        (json!({"planId": "ae-5gb-7d\u{7f}"}), "planId"),
        (
            json!({"planId": "ae-5gb-7d", "reference": "BK-1\nforged"}),
            "reference",
        ),
        (
            json!({"planId": "ae-5gb-7d", "reference": "BK\u{7f}"}),
            "reference",
        ),
        (
            json!({"planId": "ae-5gb-7d", "reference": "BK\u{9b}31m"}),
            "reference",
        ),
    ];
    for path in ["/v1/order", "/v1/order/quote"] {
        for (body, field) in &cases {
            let response = app.post_json(path, &partner.key, body).await;
            let error = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
            let fields = error["error"]["details"]["fields"].as_array().unwrap();
            assert!(
                fields.iter().any(|f| f["field"] == *field),
                "{path} {body} → {error}"
            );
        }
    }
    assert_eq!(app.count("orders", partner.id).await, 0);
    assert_eq!(app.balance_cents(partner.id).await, 10_000);
    app.assert_ledger_sound().await;
}

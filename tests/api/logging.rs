//! Secrets stay secret: with the server logging at TRACE, driving every endpoint with a
//! known API key (and failing requests with it, and with near-misses of it) leaves neither
//! the key, its secret part, an argon2 hash nor an eSIM activation code in the logs.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::server::Server;
use crate::helpers::{create_partner, import_demo_catalog};

#[sqlx::test]
async fn at_trace_level_no_key_hash_or_activation_code_reaches_the_logs(db: PgPool) {
    import_demo_catalog(&db).await;
    let partner = create_partner(&db, "acme", "0", "1.00").await;
    let mut server = Server::start(&db, &[("RUST_LOG", "trace"), ("LOG_FORMAT", "json")]).await;
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let key = partner.key.clone();
    let get = |path: &str| client.get(format!("{base}{path}")).bearer_auth(&key).send();

    // Short of credits first (402), then funded.
    let short = client
        .post(format!("{base}/v1/order"))
        .bearer_auth(&key)
        .json(&json!({"planId": "ae-5gb-7d", "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(short.status(), StatusCode::PAYMENT_REQUIRED);
    let mut tx = db.begin().await.unwrap();
    tavaro::ledger::post(
        &mut tx,
        tavaro::ledger::NewEntry {
            account: tavaro::mode::Account::live(partner.id),
            kind: tavaro::ledger::EntryKind::Topup,
            amount: tavaro::money::Cents::new(10_000),
            order: None,
            esim: None,
            note: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let order: Value = client
        .post(format!("{base}/v1/order"))
        .bearer_auth(&key)
        .header("idempotency-key", "secret-test-1")
        .json(&json!({"planId": "ae-5gb-7d", "quantity": 1, "customerEmail": "t@example.com"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let esim = &order["data"]["esims"][0];
    let lpa = esim["lpaCode"].as_str().unwrap().to_owned();
    let activation_code = lpa.rsplit('$').next().unwrap().to_owned();
    let order_id = order["data"]["orderId"].as_str().unwrap().to_owned();
    let esim_id = esim["esimId"].as_str().unwrap().to_owned();
    let qr = esim["qrCodeUrl"].as_str().unwrap().to_owned();

    for path in [
        "/v1/countries".to_owned(),
        "/v1/packages?country=AE".to_owned(),
        "/v1/orders".to_owned(),
        format!("/v1/orders/{order_id}"),
        format!("/v1/esim/{esim_id}"),
        "/v1/balance".to_owned(),
        "/v1/balance/transactions".to_owned(),
        "/healthz".to_owned(),
        "/readyz".to_owned(),
    ] {
        let response = get(&path).await.unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }
    let metrics = server
        .metrics_base
        .as_deref()
        .expect("the server announces its metrics listener");
    let scraped = client
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert!(scraped.status().is_success(), "{}", scraped.status());
    assert!(client.get(&qr).send().await.unwrap().status().is_success());
    let quote = client
        .post(format!("{base}/v1/order/quote"))
        .bearer_auth(&key)
        .json(&json!({"planId": "ae-5gb-7d", "quantity": 2}))
        .send()
        .await
        .unwrap();
    assert!(quote.status().is_success());
    // Near-misses of the real key: a bad checksum and a wrong secret.
    let mut bad = key.clone();
    bad.pop();
    bad.push('0');
    for token in [bad.as_str(), &key[..key.len() - 8]] {
        let refused = client
            .get(format!("{base}/v1/balance"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }

    server.terminate();
    server.exit_status(Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let logs = server.output.lock().unwrap().join("\n");
    assert!(logs.lines().count() > 20, "the server logged at TRACE");
    assert!(
        logs.contains("request finished"),
        "request lines are logged"
    );
    // `tvr_` + 12-character lookup id + `_`, then the secret and its checksum.
    let secret_part = &key[17..];
    let hash: String = sqlx::query_scalar("select secret_hash from api_keys limit 1")
        .fetch_one(&db)
        .await
        .unwrap();
    for (what, needle) in [
        ("the API key", key.as_str()),
        ("the key's secret part", secret_part),
        ("the argon2 hash", hash.as_str()),
        ("an argon2 hash", "$argon2id$"),
        ("the activation code", activation_code.as_str()),
        ("the LPA string", lpa.as_str()),
    ] {
        assert!(!logs.contains(needle), "{what} appears in the logs");
    }
}

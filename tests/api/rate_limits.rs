//! What a partner, or someone holding guessed keys, can spend: per-partner and per-order
//! rate limits with the IETF draft headers, key floods and secret guessing that are
//! refused before argon2 or the database, and the per-address limit on everything a
//! client can do without a key.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use tavaro::http::rate_limit::RateLimitConfig;

use crate::helpers::{TestApp, assert_error, spawn_app_with, spawn_app_with_vars};

async fn spawn_limited(db: PgPool, per_second: u32, burst: u32, order_burst: u32) -> TestApp {
    spawn_app_with(db, |config| {
        config.http.rate_limit = RateLimitConfig {
            per_second,
            burst,
            order_per_second: 1,
            order_burst,
        };
    })
    .await
}

#[sqlx::test]
async fn a_burst_over_the_limit_gets_429_with_retry_after_and_ratelimit_headers(db: PgPool) {
    let app = spawn_limited(db, 1, 5, 5).await;
    let partner = app.create_partner("acme", "0", "10.00").await;
    for remaining in (0..5).rev() {
        let response = app.get("/v1/balance", &partner.key).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["ratelimit-policy"], "partner;q=5;w=5");
        let status = response.headers()["ratelimit"].to_str().unwrap().to_owned();
        assert!(
            status.starts_with(&format!("partner;r={remaining};t=")),
            "{status}"
        );
    }
    let limited = app.get("/v1/balance", &partner.key).await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&retry_after), "{retry_after}");
    assert_eq!(limited.headers()["ratelimit-policy"], "partner;q=5;w=5");
    assert_eq!(
        limited.headers()["ratelimit"],
        format!("partner;r=0;t={retry_after}").as_str()
    );
    assert_error(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    // Public routes are not charged to anyone.
    let health = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[sqlx::test]
async fn five_keys_of_one_partner_share_one_quota_and_other_partners_keep_theirs(db: PgPool) {
    let app = spawn_limited(db, 1, 5, 5).await;
    let partner = app.create_partner("acme", "0", "10.00").await;
    let mut keys = vec![partner.key.clone()];
    for label in ["Staging", "Bookings", "Support", "Batch"] {
        keys.push(app.create_key(&partner, label).await.1);
    }
    for key in &keys {
        assert_eq!(app.get("/v1/balance", key).await.status(), StatusCode::OK);
    }
    for key in &keys {
        let response = app.get("/v1/countries", key).await;
        assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    }
    let other = app.create_partner("globex", "0", "10.00").await;
    assert_eq!(
        app.get("/v1/balance", &other.key).await.status(),
        StatusCode::OK
    );
}

#[sqlx::test]
async fn orders_have_their_own_lower_bucket_and_a_429_is_never_stored_as_the_idempotent_answer(
    db: PgPool,
) {
    let app = spawn_limited(db, 100, 100, 1).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let body = json!({"planId": "ae-1gb-7d", "quantity": 1});
    let first = app.order_idempotently(&partner.key, "k-1", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(first.headers()["ratelimit-policy"], "orders;q=1;w=1");

    let limited = app.order_idempotently(&partner.key, "k-2", &body).await;
    assert_error(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Other routes still answer: the order bucket is separate.
    assert_eq!(
        app.get("/v1/balance", &partner.key).await.status(),
        StatusCode::OK
    );

    // Once the bucket refills, the same key places the order for real.
    let mut retried = app.order_idempotently(&partner.key, "k-2", &body).await;
    for _ in 0..30 {
        if retried.status() != StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        retried = app.order_idempotently(&partner.key, "k-2", &body).await;
    }
    assert_eq!(retried.status(), StatusCode::CREATED);
    assert!(retried.headers().get("idempotent-replayed").is_none());
    assert_eq!(app.count("orders", partner.id).await, 2);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_thousand_malformed_keys_cost_no_argon2_run_and_no_query(db: PgPool) {
    let app = spawn_limited(db, 1000, 1000, 10).await;
    let (runs, queries) = (
        app.state.keys.argon2_runs(),
        app.state.keys.lookup_queries(),
    );
    let valid = app.create_partner("acme", "0", "10.00").await.key;
    let mut bad_checksum = valid.clone();
    let last = bad_checksum.pop().unwrap();
    bad_checksum.push(if last == 'A' { 'B' } else { 'A' });
    let malformed = [
        "tvr_".to_owned(),
        "sk_live_abcdef".to_owned(),
        "tvr_short".to_owned(),
        format!("{valid}x"),
        bad_checksum,
        "tvr_!!!!!!!!!!!!_????????????????????????????????????????".to_owned(),
    ];
    let requests = (0..1000).map(|i| {
        let key = malformed[i % malformed.len()].clone();
        let app = &app;
        async move { app.get("/v1/balance", &key).await.status() }
    });
    let statuses = futures::future::join_all(requests).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED));
    assert_eq!(app.state.keys.argon2_runs(), runs);
    assert_eq!(app.state.keys.lookup_queries(), queries);
    assert!(app.state.keys.rejected_early() >= 1000);

    let metrics = app.scrape_metrics().await;
    assert!(metrics.contains("tavaro_keys_rejected_without_lookup_total"));
}

#[sqlx::test]
async fn a_well_formed_unknown_key_is_refused_from_memory_without_a_query(db: PgPool) {
    let app = spawn_limited(db, 1000, 1000, 10).await;
    let partner = app.create_partner("acme", "0", "10.00").await;
    // A key that parses and passes its checksum, but was never issued.
    let unknown = tavaro::auth::generate_key().token.expose().clone();
    let queries = app.state.keys.lookup_queries();
    for _ in 0..50 {
        let response = app.get("/v1/balance", &unknown).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    // Its lookup id is not in the server's key directory (security audit M5).
    assert_eq!(app.state.keys.lookup_queries() - queries, 0);
    assert_eq!(app.state.keys.argon2_runs(), 0);
    // A real partner is unaffected.
    assert_eq!(
        app.get("/v1/balance", &partner.key).await.status(),
        StatusCode::OK
    );
}

#[sqlx::test]
async fn a_real_key_id_tried_with_wrong_secrets_costs_no_argon2_and_answers_401_like_any_other(
    db: PgPool,
) {
    let app = spawn_limited(db, 1000, 1000, 10).await;
    let partner = app.create_partner("acme", "0", "10.00").await;
    let (_, second_key) = app.create_key(&partner, "Backup").await;

    // Someone holding the key id tries secrets: each parses and passes its checksum, and
    // each is refused by the key's fast verifier, with the 401 an unknown id gets.
    let lookup_id = tavaro::auth::parse_key(&partner.key)
        .unwrap()
        .lookup_id
        .to_owned();
    let forged = |i: u32| tavaro::auth::assemble_key(&lookup_id, &format!("{i:0>32}"));
    let queries = app.state.keys.lookup_queries();
    for i in 0..tavaro::auth::FAILURE_BUDGET * 3 {
        let response = app.get("/v1/balance", &forged(i)).await;
        assert!(response.headers().get("retry-after").is_none());
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    assert_eq!(app.state.keys.argon2_runs(), 0);
    assert_eq!(app.state.keys.lookup_queries(), queries);

    // The real key and the partner's other key work, no argon2 either.
    for key in [&partner.key, &second_key] {
        assert_eq!(app.get("/v1/balance", key).await.status(), StatusCode::OK);
    }
    assert_eq!(app.state.keys.argon2_runs(), 0);
    assert_eq!(app.state.keys.refused_after_failures(), 0);
}

#[sqlx::test]
async fn wrong_secrets_for_a_key_without_a_fast_verifier_cost_at_most_the_budget_in_argon2(
    db: PgPool,
) {
    let app = spawn_limited(db.clone(), 1000, 1000, 10).await;
    let partner = app.create_partner("acme", "0", "10.00").await;
    let (_, second_key) = app.create_key(&partner, "Backup").await;
    // The Production key predates fast verifiers: only argon2 can tell its secret.
    sqlx::query("update api_keys set fast_verifier = null where label = 'Production'")
        .execute(&app.db)
        .await
        .unwrap();
    app.sync_keys().await;

    let lookup_id = tavaro::auth::parse_key(&partner.key)
        .unwrap()
        .lookup_id
        .to_owned();
    let forged = |i: u32| tavaro::auth::assemble_key(&lookup_id, &format!("{i:0>32}"));
    let budget = tavaro::auth::FAILURE_BUDGET;
    for i in 0..budget {
        let response = app.get("/v1/balance", &forged(i)).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    assert_eq!(app.state.keys.argon2_runs(), u64::from(budget));

    // Budget spent: refused for the rest of the window without a query or argon2, with
    // the same 401 as every wrong secret (a 429 would confirm the key id exists).
    let queries = app.state.keys.lookup_queries();
    for i in budget..budget + 20 {
        let response = app.get("/v1/balance", &forged(i)).await;
        assert!(response.headers().get("retry-after").is_none());
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    assert_eq!(app.state.keys.argon2_runs(), u64::from(budget));
    assert_eq!(app.state.keys.lookup_queries(), queries);
    assert_eq!(app.state.keys.refused_after_failures(), 20);
    let metrics = app.scrape_metrics().await;
    assert!(
        metrics.contains("tavaro_keys_refused_after_failures_total 20"),
        "{metrics}"
    );

    // The partner's key with a fast verifier is untouched.
    assert_eq!(
        app.get("/v1/balance", &second_key).await.status(),
        StatusCode::OK
    );

    // The key's first success on any server (here one the flood missed) stores its fast
    // verifier; this server learns it within a second and accepts the key again.
    let other = crate::helpers::spawn_app(db).await;
    assert_eq!(
        other.get("/v1/balance", &partner.key).await.status(),
        StatusCode::OK
    );
    assert_eq!(other.state.keys.argon2_runs(), 1);
    crate::helpers::wait_for_status(&app, "/v1/balance", &partner.key, StatusCode::OK).await;
    assert_eq!(app.state.keys.argon2_runs(), u64::from(budget));
}

/// A server whose per-address limit for requests without a valid key is 1/s, burst 3.
async fn spawn_publicly_limited(db: PgPool, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("TAVARO_PUBLIC_RATE_LIMIT_PER_SEC", "1"),
        ("TAVARO_PUBLIC_RATE_LIMIT_BURST", "3"),
    ];
    vars.extend_from_slice(extra);
    spawn_app_with_vars(db, &vars).await
}

async fn assert_rate_limited(response: reqwest::Response) {
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After: {retry_after}");
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[sqlx::test]
async fn public_routes_are_limited_per_client_address_with_a_429_envelope(db: PgPool) {
    let app = spawn_publicly_limited(db, &[]).await;
    let partner = app.create_partner("acme", "0", "10.00").await;
    let get = |path: &str| app.client.get(format!("{}{path}", app.address)).send();
    for _ in 0..3 {
        assert_eq!(get("/healthz").await.unwrap().status(), StatusCode::OK);
    }
    // One budget for every public route and unknown path of this address.
    for path in [
        "/healthz",
        "/readyz",
        "/qr/AAAAAAAAAAAAAAAAAAAAAAAAAA.png",
        "/no/such/path",
        "/v1/no/such/path",
    ] {
        assert_rate_limited(get(path).await.unwrap()).await;
    }
    // The documentation is the same bytes for everyone, from memory: not limited.
    for path in ["/openapi.json", "/docs"] {
        assert_eq!(get(path).await.unwrap().status(), StatusCode::OK, "{path}");
    }
    // A partner with a valid key is not charged, nor refused, by it.
    for _ in 0..5 {
        assert_eq!(
            app.get("/v1/balance", &partner.key).await.status(),
            StatusCode::OK
        );
    }
    // The bucket refills.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(get("/healthz").await.unwrap().status(), StatusCode::OK);
}

#[sqlx::test]
async fn failed_authentications_are_limited_per_client_address_before_the_key_is_checked(
    db: PgPool,
) {
    let app = spawn_publicly_limited(db, &[]).await;
    // Each answered 401 spends the address's budget; once it is spent the next request
    // is refused before its key is even looked at.
    for _ in 0..4 {
        assert_eq!(
            app.get("/v1/balance", "tvr_not-a-key").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let checked = app.state.keys.rejected_early();
    assert_rate_limited(app.get("/v1/balance", "tvr_not-a-key").await).await;
    assert_rate_limited(app.get("/v1/countries", "tvr_still-not-a-key").await).await;
    assert_eq!(
        app.state.keys.rejected_early(),
        checked,
        "refused without checking the key"
    );
}

#[sqlx::test]
async fn behind_trusted_proxies_the_client_address_comes_from_x_forwarded_for(db: PgPool) {
    let from = |app: &TestApp, forwarded: &str| {
        app.client
            .get(format!("{}/healthz", app.address))
            .header("x-forwarded-for", forwarded)
            .send()
    };
    // One proxy in front: the last X-Forwarded-For entry is the client.
    let app = spawn_publicly_limited(db.clone(), &[("TAVARO_TRUSTED_PROXY_HOPS", "1")]).await;
    for _ in 0..3 {
        let response = from(&app, "198.51.100.7, 203.0.113.1").await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_rate_limited(from(&app, "203.0.113.1").await.unwrap()).await;
    // What the client itself wrote in front does not make it someone else.
    assert_rate_limited(from(&app, "192.0.2.99, 203.0.113.1").await.unwrap()).await;
    // Another client behind the same proxy has its own budget.
    assert_eq!(
        from(&app, "203.0.113.2").await.unwrap().status(),
        StatusCode::OK
    );
    // IPv6 clients are counted by /64: rotating the interface id gains nothing.
    for i in 0..3 {
        let response = from(&app, &format!("2001:db8:1:2::{i}")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_rate_limited(from(&app, "2001:db8:1:2:ffff::1").await.unwrap()).await;
    drop(app);

    // Without trusted proxies the header is ignored: the TCP peer is the client.
    let app = spawn_publicly_limited(db, &[]).await;
    for i in 0..3 {
        let response = from(&app, &format!("203.0.113.{i}")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_rate_limited(from(&app, "203.0.113.200").await.unwrap()).await;
}

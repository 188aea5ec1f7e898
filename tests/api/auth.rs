//! API keys: refusal reasons, the verification cache, revocation, suspension.

use reqwest::StatusCode;
use sqlx::PgPool;

use crate::helpers::{assert_error, spawn_app, success_data, wait_for_status};

#[sqlx::test]
async fn requests_without_a_key_get_401_with_www_authenticate(db: PgPool) {
    let app = spawn_app(db).await;
    for path in ["/v1/countries", "/v1/packages", "/v1/balance", "/v1/esim/x"] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let response = app
        .client
        .post(format!("{}/v1/order", app.address))
        .json(&serde_json::json!({"planId": "ae-5gb-7d"}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn malformed_keys_are_refused_without_any_argon2_run(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "10.00").await;
    // A mistyped copy of a real key: one character changed, so the checksum fails.
    let mut typo = partner.key.clone().into_bytes();
    let i = typo.len() - 10;
    typo[i] = if typo[i] == b'x' { b'y' } else { b'x' };
    let typo = String::from_utf8(typo).unwrap();

    for header in [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        "Basic dXNlcjpwYXNz".to_owned(),
        "Bearer tvr_short".to_owned(),
        "Bearer sk_live_0123456789".to_owned(),
        format!("Bearer {typo}"),
        format!("Token {}", partner.key),
        partner.key.clone(),
    ] {
        let response = app
            .client
            .get(format!("{}/v1/balance", app.address))
            .header("authorization", &header)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    assert_eq!(
        app.state.keys.argon2_runs(),
        0,
        "no argon2 for malformed keys"
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn an_unknown_well_formed_key_is_refused_without_argon2(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "10.00").await;
    // Well formed and correctly checksummed, but no longer in the database.
    sqlx::query("delete from api_keys where partner_id = $1")
        .bind(partner.id.0)
        .execute(&app.db)
        .await
        .unwrap();
    let response = app.get("/v1/balance", &partner.key).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(app.state.keys.argon2_runs(), 0);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn argon2_runs_once_per_key_however_many_requests_arrive(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "10.00").await;
    // 20 concurrent requests with an uncached key share one verification...
    let responses =
        futures::future::join_all((0..20).map(|_| app.get("/v1/balance", &partner.key))).await;
    assert!(responses.iter().all(|r| r.status() == StatusCode::OK));
    // ...and later requests hit the cache.
    for _ in 0..10 {
        assert_eq!(
            app.get("/v1/countries", &partner.key).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(app.state.keys.argon2_runs(), 1);
    let last_used: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select last_used_at from api_keys where partner_id = $1")
            .bind(partner.id.0)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(last_used.is_some(), "last_used_at is recorded");
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_key_dropped_from_the_cache_is_checked_against_its_row_without_argon2(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "10.00").await;
    assert_eq!(
        app.get("/v1/balance", &partner.key).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.state.keys.argon2_runs(), 1);

    // What a TTL expiry or a revocation notice does: the cached verification is gone.
    app.state.keys.invalidate_all();
    let queries = app.state.keys.lookup_queries();
    assert_eq!(
        app.get("/v1/balance", &partner.key).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.state.keys.lookup_queries() - queries,
        1,
        "the row is read"
    );
    assert_eq!(
        app.state.keys.argon2_runs(),
        1,
        "the secret is not hashed again"
    );

    // The row is what answers: a suspension made meanwhile is seen.
    tavaro::partners::set_active(&app.db, partner.id, false)
        .await
        .unwrap();
    app.state.keys.invalidate_all();
    assert_error(
        app.get("/v1/balance", &partner.key).await,
        StatusCode::FORBIDDEN,
        "partner_suspended",
    )
    .await;
    assert_eq!(app.state.keys.argon2_runs(), 1);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn keys_are_stored_only_as_argon2id_hashes(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "10.00").await;
    let (lookup_id, hash): (String, String) =
        sqlx::query_as("select lookup_id, secret_hash from api_keys where partner_id = $1")
            .bind(partner.id.0)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let secret = &partner.key[4 + lookup_id.len() + 1..partner.key.len() - 6];
    assert_eq!(secret.len(), 32);
    assert!(!hash.contains(secret));
    assert!(partner.key.starts_with(&format!("tvr_{lookup_id}_")));
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_revoked_key_is_refused_within_five_seconds_and_other_keys_keep_working(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "10.00").await;
    let (staging_id, staging_key) = app.create_key(&partner, "Staging").await;
    // Both keys work and are now cached.
    assert_eq!(
        app.get("/v1/balance", &partner.key).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/v1/balance", &staging_key).await.status(),
        StatusCode::OK
    );

    // Revoked the way the CLI does it: another connection, NOTIFY at commit.
    tavaro::auth::revoke_key(&app.db, &staging_id)
        .await
        .unwrap();
    wait_for_status(&app, "/v1/balance", &staging_key, StatusCode::UNAUTHORIZED).await;
    assert_error(
        app.get("/v1/balance", &staging_key).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_eq!(
        app.get("/v1/balance", &partner.key).await.status(),
        StatusCode::OK
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_suspended_partner_gets_403_and_is_restored_on_activation(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "10.00").await;
    assert_eq!(
        app.get("/v1/balance", &partner.key).await.status(),
        StatusCode::OK
    );

    tavaro::partners::set_active(&app.db, partner.id, false)
        .await
        .unwrap();
    let response = wait_for_status(&app, "/v1/balance", &partner.key, StatusCode::FORBIDDEN).await;
    assert_error(response, StatusCode::FORBIDDEN, "partner_suspended").await;

    tavaro::partners::set_active(&app.db, partner.id, true)
        .await
        .unwrap();
    let response = wait_for_status(&app, "/v1/balance", &partner.key, StatusCode::OK).await;
    success_data(response, StatusCode::OK).await;
    app.assert_ledger_sound().await;
}

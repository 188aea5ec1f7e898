//! API keys: refusal reasons, the verification cache, revocation, suspension.

use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::helpers::{
    TestApp, TestPartner, assert_error, create_partner, spawn_app, success_data, wait_for_status,
};

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

/// Makes the partner's keys look as keys created before fast verifiers existed: only the
/// argon2 hash is stored, and the server knows it.
async fn without_fast_verifiers(app: &TestApp, partner: &TestPartner) {
    sqlx::query("update api_keys set fast_verifier = null where partner_id = $1")
        .bind(partner.id.0)
        .execute(&app.db)
        .await
        .unwrap();
    app.sync_keys().await;
}

#[sqlx::test]
async fn argon2_runs_once_per_key_however_many_requests_arrive(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "10.00").await;
    // argon2 runs only for keys without a fast verifier (created before they existed).
    without_fast_verifiers(&app, &partner).await;
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
    // A key from before fast verifiers: argon2 verifies it once, and stores one.
    without_fast_verifiers(&app, &partner).await;
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
    // Beside it, the fast verifier: a 32-byte digest, neither the key nor its SHA-256.
    let verifier: Vec<u8> =
        sqlx::query_scalar("select fast_verifier from api_keys where partner_id = $1")
            .bind(partner.id.0)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(verifier.len(), 32);
    assert_ne!(verifier, Sha256::digest(partner.key.as_bytes()).to_vec());
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

/// A well-formed key for `lookup_id` whose secret is not the real one (the checksum is
/// public: anyone can mint these).
fn forged_key(lookup_id: &str, i: usize) -> String {
    tavaro::auth::assemble_key(lookup_id, &format!("{i:0>32}"))
}

#[sqlx::test]
async fn wrong_secrets_on_a_real_lookup_id_never_lock_the_real_key_out_of_a_fresh_server(
    db: PgPool,
) {
    // The key exists before the server starts: this server has never verified it (a
    // deploy, a restart, a new instance).
    let partner = create_partner(&db, "acme", "0", "10.00").await;
    let app = spawn_app(db).await;
    let lookup_id = tavaro::auth::parse_key(&partner.key)
        .unwrap()
        .lookup_id
        .to_owned();

    // Many times the old budget of wrong secrets, concurrently and in sequence: each is a
    // plain 401, never a 429 that would confirm the lookup id exists.
    let forged: Vec<String> = (0..40).map(|i| forged_key(&lookup_id, i)).collect();
    let burst =
        futures::future::join_all(forged.iter().map(|key| app.get("/v1/balance", key))).await;
    for response in burst {
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    for i in 40..60 {
        let response = app.get("/v1/balance", &forged_key(&lookup_id, i)).await;
        assert!(response.headers().get("retry-after").is_none());
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }

    // The real key works at once, and again once its cache entry is gone.
    assert_eq!(
        app.get("/v1/balance", &partner.key).await.status(),
        StatusCode::OK
    );
    app.state.keys.invalidate_all();
    assert_eq!(
        app.get("/v1/balance", &partner.key).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.state.keys.argon2_runs(),
        0,
        "wrong secrets are refused by the fast verifier, the right one accepted by it"
    );
    assert_eq!(app.state.keys.refused_after_failures(), 0);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_thousand_forged_keys_with_random_lookup_ids_cost_no_query_and_a_new_key_works_within_five_seconds(
    db: PgPool,
) {
    let partner = create_partner(&db, "acme", "0", "10.00").await;
    let app = spawn_app(db).await;
    let forged: Vec<String> = (0..1000)
        .map(|i| {
            let random = uuid::Uuid::new_v4().simple().to_string();
            forged_key(&random[..12], i)
        })
        .collect();

    let queries = app.state.keys.lookup_queries();
    let commits_before = xact_commits(&app.db).await;
    for chunk in forged.chunks(100) {
        let responses =
            futures::future::join_all(chunk.iter().map(|key| app.get("/v1/balance", key))).await;
        for response in responses {
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
    }
    assert_eq!(
        app.state.keys.lookup_queries() - queries,
        0,
        "unknown lookup ids never reach the database"
    );
    let commits = xact_commits(&app.db).await - commits_before;
    // Background work (the reconciler, gauges, the change watch) commits a few
    // transactions a second; a query per forged key would be a thousand more.
    assert!(
        commits < 200,
        "{commits} transactions for 1,000 forged keys"
    );
    assert_eq!(app.state.keys.argon2_runs(), 0);

    // The real partner is unaffected, and a key created now (as the CLI does, from another
    // process) works within seconds.
    assert_eq!(
        app.get("/v1/balance", &partner.key).await.status(),
        StatusCode::OK
    );
    let created = tavaro::auth::create_key(&app.db, partner.id, "Staging")
        .await
        .unwrap();
    wait_for_status(&app, "/v1/balance", created.token.expose(), StatusCode::OK).await;
    app.assert_ledger_sound().await;
}

/// Transactions committed in the test database so far, as the statistics collector has
/// them (backends report at most once a second, so this waits for that first).
async fn xact_commits(db: &PgPool) -> i64 {
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let mut conn = db.acquire().await.unwrap();
    sqlx::query("select pg_stat_clear_snapshot()")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query_scalar(
        "select xact_commit from pg_stat_database where datname = current_database()",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap()
}

#[sqlx::test]
async fn a_key_revoked_in_the_database_without_a_notification_is_refused_within_five_seconds(
    db: PgPool,
) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "10.00").await;
    let (_, staging_key) = app.create_key(&partner, "Staging").await;
    for key in [&partner.key, &staging_key] {
        assert_eq!(app.get("/v1/balance", key).await.status(), StatusCode::OK);
    }

    // As if the NOTIFY were lost: the row changes, nobody is told.
    let lookup_id = tavaro::auth::parse_key(&staging_key)
        .unwrap()
        .lookup_id
        .to_owned();
    sqlx::query("update api_keys set revoked_at = now() where lookup_id = $1")
        .bind(&lookup_id)
        .execute(&app.db)
        .await
        .unwrap();
    wait_for_status(&app, "/v1/balance", &staging_key, StatusCode::UNAUTHORIZED).await;
    assert_eq!(
        app.get("/v1/balance", &partner.key).await.status(),
        StatusCode::OK
    );

    // A suspension made the same way is seen as quickly.
    sqlx::query("update partners set status = 'suspended' where id = $1")
        .bind(partner.id.0)
        .execute(&app.db)
        .await
        .unwrap();
    wait_for_status(&app, "/v1/balance", &partner.key, StatusCode::FORBIDDEN).await;
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_key_revoked_while_the_change_listener_is_cut_off_is_refused_within_five_seconds(
    db: PgPool,
) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "10.00").await;
    let (staging_id, staging_key) = app.create_key(&partner, "Staging").await;
    assert_eq!(
        app.get("/v1/balance", &staging_key).await.status(),
        StatusCode::OK
    );

    // Cut the server's LISTEN connection, then revoke the CLI's way at once: the NOTIFY
    // goes out while nobody listens.
    let terminated: Vec<bool> = sqlx::query_scalar(
        "select pg_terminate_backend(pid) from pg_stat_activity
          where datname = current_database() and query like 'LISTEN%'",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(terminated, [true], "one listener connection");
    tavaro::auth::revoke_key(&app.db, &staging_id)
        .await
        .unwrap();
    wait_for_status(&app, "/v1/balance", &staging_key, StatusCode::UNAUTHORIZED).await;
    assert_eq!(
        app.get("/v1/balance", &partner.key).await.status(),
        StatusCode::OK
    );

    // The listener is back: the next revocation arrives too.
    tavaro::auth::revoke_key(
        &app.db,
        tavaro::auth::parse_key(&partner.key).unwrap().lookup_id,
    )
    .await
    .unwrap();
    wait_for_status(&app, "/v1/balance", &partner.key, StatusCode::UNAUTHORIZED).await;
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_key_without_a_fast_verifier_gets_one_from_its_first_verification_and_every_server_learns_it(
    db: PgPool,
) {
    let first = spawn_app(db.clone()).await;
    let second = spawn_app(db).await;
    let partner = first.create_partner("acme", "0", "10.00").await;
    without_fast_verifiers(&first, &partner).await;
    second.sync_keys().await;

    // argon2 verifies it once, on the first server, which stores its fast verifier.
    assert_eq!(
        first.get("/v1/balance", &partner.key).await.status(),
        StatusCode::OK
    );
    assert_eq!(first.state.keys.argon2_runs(), 1);
    let stored: Option<Vec<u8>> =
        sqlx::query_scalar("select fast_verifier from api_keys where partner_id = $1")
            .bind(partner.id.0)
            .fetch_one(&first.db)
            .await
            .unwrap();
    assert_eq!(stored.map(|v| v.len()), Some(32));

    // The second server learns it from the change watch, within a second or so: then
    // wrong secrets cost it nothing, and the key needs no argon2 there either.
    let lookup_id = tavaro::auth::parse_key(&partner.key)
        .unwrap()
        .lookup_id
        .to_owned();
    tokio::time::sleep(tavaro::auth::CHANGE_POLL_INTERVAL * 2).await;
    let queries = second.state.keys.lookup_queries();
    for i in 0..30 {
        let response = second.get("/v1/balance", &forged_key(&lookup_id, i)).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    assert_eq!(second.state.keys.lookup_queries(), queries);
    assert_eq!(
        second.get("/v1/balance", &partner.key).await.status(),
        StatusCode::OK
    );
    assert_eq!(second.state.keys.argon2_runs(), 0);
    assert_eq!(second.state.keys.refused_after_failures(), 0);
    first.assert_ledger_sound().await;
}

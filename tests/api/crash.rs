//! Crash safety: the real binary, killed at each step of an order, loses nothing. After a
//! restart every order reaches a final state, the balance is exact, and a retry with the
//! same Idempotency-Key gets what an uninterrupted run would have answered.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::server::Server;
use crate::helpers::{TestPartner, assert_ledger_sound, create_partner, import_demo_catalog};

/// Waits for the process to die (it crashes at its failpoint).
async fn wait_for_crash(server: &mut Server) {
    let status = server.exit_status(Duration::from_secs(10)).await;
    assert!(!status.success(), "the server died abnormally: {status}");
}

/// Retries the order with the same key until the outcome is settled (not 409).
async fn retry_until_settled(
    server: &Server,
    partner: &TestPartner,
    key: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let started = Instant::now();
    loop {
        let response = server
            .order(partner, key, body)
            .await
            .expect("the restarted server answers");
        let status = response.status();
        let json: Value = response.json().await.unwrap();
        if status != StatusCode::CONFLICT && json["data"]["status"] != "processing" {
            return (status, json);
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "order not settled after restart: {json}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn scalar(db: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

/// Crashes a server at `failpoint` during an order, restarts it, and returns the settled
/// outcome of a same-key retry, after checking the money invariants.
async fn crash_and_recover(
    db: PgPool,
    failpoint: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Value, TestPartner) {
    import_demo_catalog(&db).await;
    let partner = create_partner(&db, "acme", "0", "100.00").await;
    let body = json!({"planId": "ae-5gb-7d", "quantity": 2, "reference": "BK-CRASH"});

    let mut env = vec![("TAVARO_FAILPOINT", failpoint)];
    env.extend_from_slice(extra);
    let mut doomed = Server::start(&db, &env).await;
    let answer = doomed.order(&partner, "crash-key", &body).await;
    assert!(
        answer.is_err(),
        "the crashing server sent no answer: {answer:?}"
    );
    wait_for_crash(&mut doomed).await;

    let server = Server::start(&db, extra).await;
    let (status, json) = retry_until_settled(&server, &partner, "crash-key", &body).await;

    assert_eq!(
        scalar(&db, "select count(*) from orders").await,
        1,
        "the retry placed no second order"
    );
    assert_eq!(
        scalar(
            &db,
            "select count(*) from ledger_entries where kind = 'order_debit'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(&db, "select count(*) from sim_orders").await.min(1),
        scalar(&db, "select count(*) from sim_orders").await,
        "at most one provider order"
    );
    assert_eq!(
        scalar(&db, "select count(*) from order_jobs").await,
        0,
        "nothing left to reconcile"
    );
    assert_ledger_sound(&db).await;
    (status, json, partner)
}

async fn balance(db: &PgPool, partner: &TestPartner) -> i64 {
    sqlx::query_scalar("select balance_cents from balances where partner_id = $1")
        .bind(partner.id.0)
        .fetch_one(db)
        .await
        .unwrap()
}

#[sqlx::test]
async fn a_crash_right_after_the_debit_ends_in_a_refund(db: PgPool) {
    let (status, json, partner) = crash_and_recover(db.clone(), "after_debit_commit", &[]).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{json}");
    assert_eq!(json["error"]["code"], "upstream_error");
    assert_eq!(json["error"]["details"]["refunded"], true);
    assert_eq!(balance(&db, &partner).await, 10_000);
    assert_eq!(
        scalar(&db, "select count(*) from sim_orders").await,
        0,
        "the provider was never called"
    );
}

#[sqlx::test]
async fn a_crash_during_the_provider_call_ends_in_a_refund_when_nothing_was_issued(db: PgPool) {
    let (status, json, partner) = crash_and_recover(
        db.clone(),
        "during_provider_call",
        &[("TAVARO_SIM_LATENCY_MS", "300")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{json}");
    assert_eq!(balance(&db, &partner).await, 10_000);
}

#[sqlx::test]
async fn a_crash_before_the_esims_are_stored_ends_completed_with_the_issued_esims(db: PgPool) {
    let (status, json, partner) = crash_and_recover(db.clone(), "before_esims_stored", &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    assert_eq!(json["data"]["status"], "completed");
    let esims = json["data"]["esims"].as_array().unwrap();
    assert_eq!(esims.len(), 2);
    // The eSIMs are the ones the provider issued before the crash, not new ones.
    let issued: Vec<String> = sqlx::query_scalar("select iccid from sim_esims order by iccid")
        .fetch_all(&db)
        .await
        .unwrap();
    let mut returned: Vec<String> = esims
        .iter()
        .map(|e| e["iccid"].as_str().unwrap().to_owned())
        .collect();
    returned.sort();
    assert_eq!(returned, issued);
    assert_eq!(balance(&db, &partner).await, 10_000 - 1_500);
}

#[sqlx::test]
async fn a_crash_before_the_response_is_sent_replays_the_completed_order(db: PgPool) {
    let (status, json, partner) = crash_and_recover(db.clone(), "after_esims_stored", &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    assert_eq!(json["data"]["esims"].as_array().unwrap().len(), 2);
    assert_eq!(json["data"]["balance"], json!(85));
    assert_eq!(balance(&db, &partner).await, 10_000 - 1_500);
}

#[sqlx::test]
async fn a_server_killed_with_sigkill_mid_order_loses_nothing(db: PgPool) {
    import_demo_catalog(&db).await;
    let partner = create_partner(&db, "acme", "0", "100.00").await;
    let slow = [
        ("TAVARO_SIM_LATENCY_MS", "1500"),
        ("TAVARO_PROVIDER_TIMEOUT_MS", "3000"),
    ];
    let mut doomed = Server::start(&db, &slow).await;
    let body = json!({"planId": "ae-1gb-7d"});
    let pending = {
        let base = doomed.base.clone();
        let key = partner.key.clone();
        let body = body.clone();
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{base}/v1/order"))
                .bearer_auth(key)
                .header("idempotency-key", "killed")
                .json(&body)
                .send()
                .await
        })
    };
    // Wait until the order is debited, then SIGKILL the server mid provider call.
    let started = Instant::now();
    while scalar(&db, "select count(*) from orders").await == 0 {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    doomed.child.kill().await.unwrap();
    assert!(
        pending.await.unwrap().is_err(),
        "no answer from a killed server"
    );

    let server = Server::start(&db, &[("TAVARO_PROVIDER_TIMEOUT_MS", "300")]).await;
    let (status, json) = retry_until_settled(&server, &partner, "killed", &body).await;
    assert!(
        status == StatusCode::CREATED || status == StatusCode::BAD_GATEWAY,
        "{status}: {json}"
    );
    let expected = if status == StatusCode::CREATED {
        10_000 - 450
    } else {
        10_000
    };
    assert_eq!(balance(&db, &partner).await, expected);
    assert_eq!(scalar(&db, "select count(*) from order_jobs").await, 0);
    assert_ledger_sound(&db).await;
}

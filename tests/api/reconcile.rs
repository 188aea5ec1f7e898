//! Unknown provider outcomes are settled by asking the provider, never by guessing.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use tavaro::config::Config;
use tavaro::provider::simulator::SimulatorMode;

use crate::helpers::{TestApp, spawn_app_with, success_data, wait_for_order};

fn unknown_outcomes(mode: SimulatorMode) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        c.simulator.mode = mode;
        c.simulator.latency = Duration::from_millis(400);
        c.orders.provider_timeout = Duration::from_millis(150);
        c.orders.reconcile_poll = Duration::from_millis(50);
        c.orders.reconcile_max_backoff = Duration::from_millis(200);
    }
}

async fn ledger_kinds(app: &TestApp, order_id: &str) -> Vec<String> {
    sqlx::query_scalar("select kind from ledger_entries where order_id = $1::uuid order by id")
        .bind(order_id)
        .fetch_all(&app.db)
        .await
        .unwrap()
}

#[sqlx::test]
async fn an_order_that_succeeded_after_our_time_out_is_completed_not_refunded(db: PgPool) {
    let app = spawn_app_with(db, unknown_outcomes(SimulatorMode::Late)).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let placed = app
        .place(
            &partner.key,
            &json!({"planId": "ae-5gb-7d", "quantity": 2}),
            StatusCode::ACCEPTED,
        )
        .await;
    assert_eq!(placed["status"], "processing");
    assert_eq!(placed["esims"], json!([]));
    let order_id = placed["orderId"].as_str().unwrap();

    let settled = wait_for_order(&app, &partner.key, order_id, "completed").await;
    assert_eq!(settled["esims"].as_array().unwrap().len(), 2);
    assert_eq!(ledger_kinds(&app, order_id).await, ["order_debit"]);
    assert_eq!(app.balance_cents(partner.id).await, 10_000 - 1_500);
    let jobs: i64 = sqlx::query_scalar("select count(*) from order_jobs")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(jobs, 0, "the job is retired with the order");
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn an_order_the_provider_fails_after_accepting_is_refunded(db: PgPool) {
    let app = spawn_app_with(db, unknown_outcomes(SimulatorMode::AcceptThenFail)).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let placed = app
        .place(
            &partner.key,
            &json!({"planId": "ae-5gb-7d"}),
            StatusCode::ACCEPTED,
        )
        .await;
    let order_id = placed["orderId"].as_str().unwrap();
    wait_for_order(&app, &partner.key, order_id, "failed").await;
    assert_eq!(
        ledger_kinds(&app, order_id).await,
        ["order_debit", "refund"]
    );
    assert_eq!(app.balance_cents(partner.id).await, 10_000);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_request_the_provider_never_received_is_refunded_once_it_cannot_arrive(db: PgPool) {
    let app = spawn_app_with(db, unknown_outcomes(SimulatorMode::Lost)).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let placed = app
        .place(
            &partner.key,
            &json!({"planId": "ae-5gb-7d"}),
            StatusCode::ACCEPTED,
        )
        .await;
    let order_id = placed["orderId"].as_str().unwrap();
    wait_for_order(&app, &partner.key, order_id, "failed").await;
    let waited: f64 = sqlx::query_scalar("select extract(epoch from updated_at - created_at)::float8 from orders where id = $1::uuid")
        .bind(order_id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(
        waited >= 0.3,
        "refunded after {waited} s, before twice the provider time-out"
    );
    assert_eq!(app.balance_cents(partner.id).await, 10_000);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn an_order_that_cannot_be_settled_in_time_is_flagged_never_refunded(db: PgPool) {
    let app = spawn_app_with(db, |c| {
        unknown_outcomes(SimulatorMode::AcceptThenStall)(c);
        c.orders.reconcile_window = Duration::from_millis(500);
    })
    .await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let placed = app
        .place(
            &partner.key,
            &json!({"planId": "ae-5gb-7d"}),
            StatusCode::ACCEPTED,
        )
        .await;
    let order_id = placed["orderId"].as_str().unwrap().to_owned();

    let started = std::time::Instant::now();
    let stuck = loop {
        let stuck = tavaro::orders::stuck::stuck(&app.db).await.unwrap();
        if !stuck.is_empty() {
            break stuck;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "order never flagged"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(stuck.len(), 1);
    assert_eq!(stuck[0].order_id.to_string(), order_id);
    assert_eq!(stuck[0].partner, "acme");
    assert!(
        stuck[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("pending"),
        "{:?}",
        stuck[0].last_error
    );
    let order = success_data(
        app.get(&format!("/v1/orders/{order_id}"), &partner.key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(order["status"], "processing");
    assert_eq!(
        app.balance_cents(partner.id).await,
        9_250,
        "never refunded on a guess"
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn several_servers_share_the_queue_and_settle_each_order_once(db: PgPool) {
    let first = spawn_app_with(db.clone(), unknown_outcomes(SimulatorMode::Late)).await;
    let second = spawn_app_with(db, unknown_outcomes(SimulatorMode::Late)).await;
    let partner = first.create_partner("acme", "0", "100.00").await;
    let mut orders = Vec::new();
    for i in 0..8 {
        let app = if i % 2 == 0 { &first } else { &second };
        let placed = app
            .place(
                &partner.key,
                &json!({"planId": "ae-1gb-7d"}),
                StatusCode::ACCEPTED,
            )
            .await;
        orders.push(placed["orderId"].as_str().unwrap().to_owned());
    }
    for order_id in &orders {
        wait_for_order(&first, &partner.key, order_id, "completed").await;
        assert_eq!(ledger_kinds(&first, order_id).await, ["order_debit"]);
    }
    assert_eq!(first.count("esims", partner.id).await, 8);
    assert_eq!(first.balance_cents(partner.id).await, 10_000 - 8 * 450);
    first.assert_ledger_sound().await;
}

#[sqlx::test]
async fn jobs_of_orders_completed_on_the_request_path_are_retired_in_bulk(db: PgPool) {
    // The worker polls once at start, then not again during this test.
    let app = spawn_app_with(db, |c: &mut Config| {
        c.orders.reconcile_poll = Duration::from_secs(3600);
    })
    .await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    // Let the worker's poll at start (which retires settled jobs) come and go first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let placed = app
            .place(
                &partner.key,
                &json!({"planId": "ae-5gb-7d"}),
                StatusCode::CREATED,
            )
            .await;
        ids.push(placed["orderId"].as_str().unwrap().to_owned());
    }
    let jobs = |db: PgPool| async move {
        sqlx::query_scalar::<_, i64>("select count(*) from order_jobs")
            .fetch_one(&db)
            .await
            .unwrap()
    };
    // Completed, and their jobs still queued: the request path does not delete them.
    assert_eq!(jobs(app.db.clone()).await, 3);
    // A job whose order is not settled stays (an order as a server that died left it).
    let pending = uuid::Uuid::new_v4();
    sqlx::query(
        "insert into orders (id, partner_id, plan_id, quantity, unit_cost_cents,
                             total_cost_cents, status, provider)
         values ($1, $2, 'ae-5gb-7d', 1, 750, 750, 'pending', 'simulator')",
    )
    .bind(pending)
    .bind(partner.id.0)
    .execute(&app.db)
    .await
    .unwrap();
    sqlx::query(
        "insert into order_jobs (order_id, partner_id, run_at) values ($1, $2, now() + interval '1 hour')",
    )
    .bind(pending)
    .bind(partner.id.0)
    .execute(&app.db)
    .await
    .unwrap();

    let retired = tavaro::orders::reconcile::retire_settled(&app.db)
        .await
        .unwrap();
    assert_eq!(retired, 3);
    let left: Vec<uuid::Uuid> = sqlx::query_scalar("select order_id from order_jobs")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(left, [pending]);
    for id in &ids {
        wait_for_order(&app, &partner.key, id, "completed").await;
    }
    assert_eq!(app.balance_cents(partner.id).await, 10_000 - 3 * 750);
}

#[sqlx::test]
async fn a_job_for_an_order_that_does_not_exist_is_deleted_not_leased_forever(db: PgPool) {
    let app = spawn_app_with(db, |c: &mut Config| {
        c.orders.reconcile_poll = Duration::from_secs(3600);
    })
    .await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let orphan = uuid::Uuid::new_v4();
    sqlx::query("insert into order_jobs (order_id, partner_id, run_at) values ($1, $2, now())")
        .bind(orphan)
        .bind(partner.id.0)
        .execute(&app.db)
        .await
        .unwrap();
    let claimed = tavaro::orders::reconcile::run_once(&app.state.orders)
        .await
        .unwrap();
    assert_eq!(claimed, 1);
    let left: i64 = sqlx::query_scalar("select count(*) from order_jobs")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 0, "the orphan job is gone");
}

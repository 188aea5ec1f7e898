//! The gateway across a database failover, on a PostgreSQL of the test's own
//! (`helpers::postgres`) that is stopped, restarted, turned into a standby and promoted
//! under a running gateway: while no primary answers, partners get 503
//! `service_unavailable` (never a 500, never only at the request time limit) and
//! `/readyz` answers 503; once a primary answers again the same process serves, a key
//! revoked afterwards is refused within 5 s, catalog changes reach it through the
//! listener again, and the reconciler settles what the outage left open.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use tavaro::config::Config;
use tavaro::db::is_unavailable;
use tavaro::provider::simulator::SimulatorMode;

use crate::helpers::postgres::{PgServer, Shutdown};
use crate::helpers::{
    TestApp, TestPartner, assert_error, spawn_app_with, success_data, wait_for_order,
    wait_for_status,
};

/// The request time limit in these tests: an outage must be answered well before it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(8);
/// How long an order waits for the simulator, which never answers: the order is then
/// left processing, and refunded by the reconciler once twice this has passed since it
/// was placed.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(3);
/// Credits enough for every order the traffic places.
const CREDITS: &str = "10000.00";
/// A plan withdrawn in SQL without a notification before the outage: only the reload
/// after the listener reconnects can show it.
const SILENT_PLAN: &str = "fr-1gb-3d";
/// A plan withdrawn with a notification after the outage: only a working LISTEN shows it.
const NOTIFIED_PLAN: &str = "de-1gb-3d";
/// The order placed under an Idempotency-Key, among the requests of
/// [`assert_outage_answers`].
const KEYED_ORDER: &str = "POST /v1/order with an Idempotency-Key";
/// The plan orders are placed on.
const ORDER_PLAN: &str = "ae-5gb-7d";

fn failover_config(c: &mut Config) {
    c.http.request_timeout = REQUEST_TIMEOUT;
    c.orders.provider_timeout = PROVIDER_TIMEOUT;
    c.orders.reconcile_poll = Duration::from_millis(100);
    c.orders.reconcile_max_backoff = Duration::from_millis(500);
    // Every order is lost on the way upstream: left processing at the provider
    // time-out, for the reconciler to refund.
    c.simulator.mode = SimulatorMode::Lost;
}

/// A gateway on `pg`, with a pool built as `tavaro serve` builds it.
async fn gateway_on(pg: &PgServer) -> TestApp {
    spawn_app_with(pg.gateway_pool(10).await, failover_config).await
}

/// What the scenario sets up before the database goes away.
struct Before {
    partner: TestPartner,
    /// A second key (id, token), revoked once the database is back.
    spare: (String, String),
}

async fn set_up(app: &TestApp) -> Before {
    let partner = app.create_partner("acme", "0", CREDITS).await;
    let spare = app.create_key(&partner, "Spare").await;
    let ready = app.client.get(format!("{}/readyz", app.address)).send();
    assert_eq!(ready.await.unwrap().status(), StatusCode::OK);
    let catalog = app.state.catalog.snapshot();
    for plan in [SILENT_PLAN, NOTIFIED_PLAN, ORDER_PLAN] {
        assert!(catalog.plan(plan).is_some(), "{plan} is on sale");
    }
    withdraw(&app.db, SILENT_PLAN, false).await;
    // Several connections in the pool, idle when the database goes.
    let warm = (0..6).map(|_| app.get("/v1/orders", &partner.key));
    for response in futures::future::join_all(warm).await {
        assert_eq!(response.status(), StatusCode::OK);
    }
    Before { partner, spare }
}

/// Places an order that is left processing: the database must go right after, so that it
/// is still open then (the reconciler refunds it twice the provider time-out after it
/// was placed, one provider time-out after this returns).
async fn leave_order_processing(app: &TestApp, before: &Before) -> String {
    let placed = app
        .place(&before.partner.key, &order_body(), StatusCode::ACCEPTED)
        .await;
    assert_eq!(placed["status"], "processing");
    placed["orderId"].as_str().unwrap().to_owned()
}

fn order_body() -> Value {
    json!({"planId": ORDER_PLAN})
}

/// Takes `plan` off sale, telling the servers or not.
async fn withdraw(db: &PgPool, plan: &str, notify: bool) {
    let mut tx = db.begin().await.unwrap();
    let moved = sqlx::query("update plans set active = false where id = $1")
        .bind(plan)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(moved.rows_affected(), 1);
    if notify {
        sqlx::query("select pg_notify($1, '')")
            .bind(tavaro::catalog::CATALOG_CHANNEL)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

/// Asserts that every kind of partner request, and `/readyz`, answers 503
/// `service_unavailable` with `Retry-After`, each before the request time limit (so it
/// is the outage that was recognised, not the time limit that fired); an order under an
/// Idempotency-Key (sent when `keyed`) at the latest at the time limit.
async fn assert_outage_answers(
    app: &TestApp,
    before: &Before,
    open_order: &str,
    phase: &str,
    keyed: bool,
) {
    let key = &before.partner.key;
    let url = |path: &str| format!("{}{path}", app.address);
    // /readyz answers from its last check for up to a second (the check is cached so
    // probes cannot flood the database): it turns 503 within that, never later.
    let started = Instant::now();
    while app
        .client
        .get(url("/readyz"))
        .send()
        .await
        .unwrap()
        .status()
        != StatusCode::SERVICE_UNAVAILABLE
    {
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "{phase}: /readyz still 200 {:?} after the database went away",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut requests: Vec<(&str, RequestBuilder)> = vec![
        ("GET /readyz", app.client.get(url("/readyz"))),
        (
            "GET /v1/balance",
            app.client.get(url("/v1/balance")).bearer_auth(key),
        ),
        (
            "GET /v1/balance/transactions",
            app.client
                .get(url("/v1/balance/transactions"))
                .bearer_auth(key),
        ),
        (
            "GET /v1/orders",
            app.client.get(url("/v1/orders")).bearer_auth(key),
        ),
        (
            "GET /v1/orders/{orderId}",
            app.client
                .get(url(&format!("/v1/orders/{open_order}")))
                .bearer_auth(key),
        ),
        (
            "POST /v1/order",
            app.client
                .post(url("/v1/order"))
                .bearer_auth(key)
                .json(&order_body()),
        ),
    ];
    if keyed {
        requests.push((
            KEYED_ORDER,
            app.client
                .post(url("/v1/order"))
                .bearer_auth(key)
                .header("idempotency-key", format!("outage-{phase}"))
                .json(&order_body()),
        ));
    }
    let answers = requests.into_iter().map(|(what, request)| async move {
        let started = Instant::now();
        let response = request
            .timeout(REQUEST_TIMEOUT * 2)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{phase}: {what} got no answer: {e}"));
        (what, started.elapsed(), response)
    });
    for (what, elapsed, response) in futures::future::join_all(answers).await {
        if what == KEYED_ORDER {
            // Its claim and then the claim's release each wait for a connection (the
            // pool's acquire time-out, 5 s): the time limit may answer first.
            assert!(
                elapsed < REQUEST_TIMEOUT + Duration::from_millis(1500),
                "{phase}: {what} took {elapsed:?}, past the request time limit"
            );
        } else {
            assert!(
                elapsed < REQUEST_TIMEOUT,
                "{phase}: {what} took {elapsed:?}, as long as the request time limit"
            );
        }
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{phase}: {what}"
        );
        assert_eq!(
            response.headers().get("retry-after").map(|v| v.as_bytes()),
            Some(&b"1"[..]),
            "{phase}: {what}"
        );
        assert_error(
            response,
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
        )
        .await;
    }
}

/// One answer the background traffic got.
#[derive(Debug)]
struct Answer {
    what: &'static str,
    status: u16,
    code: Option<String>,
    elapsed: Duration,
    order_id: Option<String>,
}

/// Partners' requests running all through the outage: two clients, each alternating
/// balance reads, history reads and orders.
struct Traffic {
    stop: Arc<AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<Vec<Answer>>>,
}

impl Traffic {
    /// Starts the clients and returns once they have had a few answers.
    async fn start(app: &TestApp, key: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let clients = (0..2)
            .map(|client| {
                let (stop, answered, http, base, key) = (
                    stop.clone(),
                    answered.clone(),
                    app.client.clone(),
                    app.address.clone(),
                    key.to_owned(),
                );
                tokio::spawn(async move {
                    let mut answers = Vec::new();
                    let mut turn = client;
                    while !stop.load(Ordering::Relaxed) {
                        turn += 1;
                        let (what, request) = match turn % 3 {
                            0 => ("GET /v1/balance", http.get(format!("{base}/v1/balance"))),
                            1 => ("GET /v1/orders", http.get(format!("{base}/v1/orders"))),
                            _ => (
                                "POST /v1/order",
                                http.post(format!("{base}/v1/order")).json(&order_body()),
                            ),
                        };
                        let started = Instant::now();
                        let response = request
                            .bearer_auth(&key)
                            .timeout(REQUEST_TIMEOUT * 2)
                            .send()
                            .await;
                        let elapsed = started.elapsed();
                        let (status, body) = match response {
                            Ok(r) => (r.status().as_u16(), r.json::<Value>().await.ok()),
                            Err(_) => (0, None),
                        };
                        let body = body.unwrap_or(Value::Null);
                        answers.push(Answer {
                            what,
                            status,
                            code: body["error"]["code"].as_str().map(str::to_owned),
                            elapsed,
                            order_id: body["data"]["orderId"].as_str().map(str::to_owned),
                        });
                        answered.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    answers
                })
            })
            .collect();
        let started = Instant::now();
        while answered.load(Ordering::Relaxed) < 6 {
            assert!(started.elapsed() < Duration::from_secs(10), "no traffic");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Self { stop, clients }
    }

    /// Tells the clients to stop after the request they are waiting for.
    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Stops the traffic and asserts that every request got a success or a 503
    /// `service_unavailable`, before the time limit. Returns the orders it placed.
    async fn finish(self) -> Vec<String> {
        self.stop();
        let mut answers = Vec::new();
        for client in self.clients {
            answers.extend(client.await.unwrap());
        }
        for answer in &answers {
            let fine = match answer.status {
                200 | 202 => answer.code.is_none(),
                503 => answer.code.as_deref() == Some("service_unavailable"),
                _ => false,
            };
            assert!(
                fine && answer.elapsed < REQUEST_TIMEOUT,
                "{} answered {} {:?} after {:?} during the outage",
                answer.what,
                answer.status,
                answer.code,
                answer.elapsed
            );
        }
        let unavailable = answers.iter().filter(|a| a.status == 503).count();
        assert!(unavailable > 0, "the traffic saw no outage: {answers:?}");
        assert!(
            unavailable < answers.len(),
            "the traffic saw no success: {answers:?}"
        );
        answers.into_iter().filter_map(|a| a.order_id).collect()
    }
}

/// Asserts the gateway serves again without a restart once a primary answers: ready,
/// reads and orders, a key revoked now refused within 5 s, the catalog reloaded after the
/// outage and notified changes followed, every order the outage left open settled and
/// refunded, the ledger sound.
async fn assert_back_in_service(
    app: &TestApp,
    before: &Before,
    open_order: &str,
    acknowledged: &[String],
) {
    let key = &before.partner.key;
    let started = Instant::now();
    loop {
        let ready = app.client.get(format!("{}/readyz", app.address)).send();
        if ready.await.unwrap().status() == StatusCode::OK {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "/readyz still 503 15 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let back_at: DateTime<Utc> = sqlx::query_scalar("select pg_postmaster_start_time()")
        .fetch_one(&app.db)
        .await
        .unwrap();

    // The first requests already succeed: no dead connection is handed out.
    success_data(app.get("/v1/balance", key).await, StatusCode::OK).await;
    success_data(app.get("/v1/orders", key).await, StatusCode::OK).await;
    let placed = app.place(key, &order_body(), StatusCode::ACCEPTED).await;

    // The listener is back: the catalog is reloaded (a change no notification announced
    // is seen) ...
    wait_until("the catalog reloaded after the outage", || {
        app.state.catalog.snapshot().plan(SILENT_PLAN).is_none()
    })
    .await;
    // ... and LISTEN works on its new connection.
    withdraw(&app.db, NOTIFIED_PLAN, true).await;
    wait_until("a catalog change notified after the outage applied", || {
        app.state.catalog.snapshot().plan(NOTIFIED_PLAN).is_none()
    })
    .await;

    // A key revoked after the failover is refused within 5 s; the other still works.
    tavaro::auth::revoke_key(&app.db, &before.spare.0)
        .await
        .unwrap();
    wait_for_status(
        app,
        "/v1/balance",
        &before.spare.1,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    success_data(app.get("/v1/balance", key).await, StatusCode::OK).await;

    // The reconciler resumed: the order left processing is settled, after the restart.
    wait_for_order(app, key, open_order, "failed").await;
    let settled_at: DateTime<Utc> =
        sqlx::query_scalar("select updated_at from orders where id = $1::uuid")
            .bind(open_order)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(
        settled_at > back_at,
        "settled at {settled_at}, before the database came back at {back_at}"
    );
    // So is every order the outage caught: nothing acknowledged lost, every one
    // refunded once. (The order placed just now may still be open.)
    let placed_now = placed["orderId"].as_str().unwrap();
    let started = Instant::now();
    loop {
        let open: Vec<String> =
            sqlx::query_scalar("select id::text from orders where status <> 'failed'")
                .fetch_all(&app.db)
                .await
                .unwrap();
        if open.iter().all(|order| order == placed_now) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "orders {open:?} still open 15 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for order in acknowledged {
        let status: Option<String> =
            sqlx::query_scalar("select status::text from orders where id = $1::uuid")
                .bind(order)
                .fetch_optional(&app.db)
                .await
                .unwrap();
        assert_eq!(status.as_deref(), Some("failed"), "order {order}");
    }
    let still_debited: i64 = sqlx::query_scalar(
        "select coalesce(sum(total_cost_cents), 0)::bigint from orders where status <> 'failed'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(
        app.balance_cents(before.partner.id).await,
        1_000_000 - still_debited,
        "every order the outage caught refunded, once"
    );
    app.assert_ledger_sound().await;
}

/// Polls `done` every 50 ms for at most 5 s.
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not within 5 s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_a_database_crash_partners_get_503s_and_the_same_gateway_serves_once_it_restarts() {
    let pg = PgServer::start().await;
    let app = gateway_on(&pg).await;
    let before = set_up(&app).await;
    let traffic = Traffic::start(&app, &before.partner.key).await;
    let open_order = leave_order_processing(&app, &before).await;

    pg.stop(Shutdown::Immediate).await;
    traffic.stop();
    assert_outage_answers(&app, &before, &open_order, "database down", true).await;
    let acknowledged = traffic.finish().await;

    pg.restart().await;
    assert_back_in_service(&app, &before, &open_order, &acknowledged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_a_switchover_partners_get_503s_never_a_standby_and_the_same_gateway_serves_the_promoted_primary()
 {
    let pg = PgServer::start().await;
    let app = gateway_on(&pg).await;
    let before = set_up(&app).await;
    let traffic = Traffic::start(&app, &before.partner.key).await;
    let open_order = leave_order_processing(&app, &before).await;

    // A fast shutdown ends the sessions in flight with 57P01.
    pg.stop(Shutdown::Fast).await;
    assert_outage_answers(&app, &before, &open_order, "database down", false).await;
    // The demoted node comes back read-only: the gateway must not use it (25006).
    pg.restart_as_standby().await;
    traffic.stop();
    assert_outage_answers(&app, &before, &open_order, "standby only", true).await;
    let acknowledged = traffic.finish().await;

    pg.promote().await;
    assert_back_in_service(&app, &before, &open_order, &acknowledged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_listener_whose_connection_goes_silent_is_replaced_and_catches_up() {
    let pg = PgServer::start().await;
    let app = spawn_app_with(pg.gateway_pool(10).await, |_| {}).await;
    // The listener's connection: its last statement is the LISTEN.
    let listener: i32 =
        sqlx::query_scalar("select pid from pg_stat_activity where query like 'LISTEN%'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let _frozen = pg.freeze(listener).await;

    withdraw(&app.db, NOTIFIED_PLAN, true).await;
    // Silence, a check that gets no answer, a new listener, and a reload.
    let started = Instant::now();
    while app.state.catalog.snapshot().plan(NOTIFIED_PLAN).is_some() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the catalog change never arrived past the frozen listener"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test]
async fn the_errors_a_server_going_away_sends_are_unavailable_and_a_constraint_is_not(db: PgPool) {
    // 57P01, what a fast shutdown or a switchover sends every session.
    let mut victim = db.acquire().await.unwrap();
    let pid: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(&mut *victim)
        .await
        .unwrap();
    sqlx::query("select pg_terminate_backend($1, 5000)")
        .bind(pid)
        .execute(&db)
        .await
        .unwrap();
    let e = sqlx::query("select 1")
        .execute(&mut *victim)
        .await
        .unwrap_err();
    assert_eq!(
        e.as_database_error().and_then(|d| d.code()).as_deref(),
        Some("57P01"),
        "{e}"
    );
    assert!(is_unavailable(&e), "{e}");
    drop(victim);

    // 25006, what a statement meets on a standby.
    let mut tx = db.begin().await.unwrap();
    sqlx::query("set transaction read only")
        .execute(&mut *tx)
        .await
        .unwrap();
    let e = sqlx::query("delete from idempotency_keys")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(
        e.as_database_error().and_then(|d| d.code()).as_deref(),
        Some("25006"),
        "{e}"
    );
    assert!(is_unavailable(&e), "{e}");
    drop(tx);

    // A bug, or the partner's fault, is not an outage.
    let e = sqlx::query("select * from no_such_table")
        .execute(&db)
        .await
        .unwrap_err();
    assert!(!is_unavailable(&e), "{e}");
    let e = sqlx::query(
        "insert into areas (code, name, geography) values ('XX', 'X', 'local'), ('XX', 'X', 'local')",
    )
    .execute(&db)
    .await
    .unwrap_err();
    assert!(
        e.as_database_error()
            .is_some_and(|d| d.is_unique_violation()),
        "{e}"
    );
    assert!(!is_unavailable(&e), "{e}");
}

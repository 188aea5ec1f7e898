//! `GET /v1/esim/{esimId}` routed to Airalo, against the orders of other partners: a
//! partner polling its eSIM flat out spends only the reads' share of Airalo's budget, so
//! another partner's order still goes through at once; and an eSIM's usage is asked of
//! Airalo at most once per `TAVARO_USAGE_TTL_SECS`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tavaro::provider::airalo::Airalo;
use wiremock::matchers::{header, method, path_regex};
use wiremock::{Mock, MockServer};

use super::{GREECE_1GB, TOKEN, authorised, mount_catalogue, server};
use crate::helpers::{TestApp, success_data};
use crate::providers::common::{self, Upstream, ok};

/// The ICCID of the second order's eSIM (the first's is the fixture's).
const SECOND_ICCID: &str = "8944465400003573261";

/// A gateway routed to Airalo at `server` with the usage TTL set to `ttl`, the Greece
/// plan synced; two orders answered (the fixture's eSIM, then one with
/// [`SECOND_ICCID`]) and usage answered for any eSIM.
async fn gateway(db: PgPool, server: &MockServer, ttl: Duration) -> (TestApp, String) {
    mount_catalogue(server, Airalo::fixture("packages_page2.json")).await;
    let mut second = Airalo::fixture("order.json");
    second["data"]["sims"][0]["iccid"] = json!(SECOND_ICCID);
    for answer in [ok(Airalo::fixture("order.json")), ok(second)] {
        authorised("POST", "/v2/orders")
            .respond_with(answer)
            .up_to_n_times(1)
            .mount(server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path_regex(r"^/v2/sims/[0-9]+/usage$"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ok(Airalo::fixture("usage.json")))
        .mount(server)
        .await;
    let upstream = Airalo::config(server);
    let app = common::spawn_gateway(db, move |config| {
        Airalo::route(config, upstream);
        config.providers.usage_ttl = ttl;
    })
    .await;
    common::sync_into(&app, "airalo").await;
    let plan = common::plan_for_sku(&app.db, "airalo", GREECE_1GB).await;
    (app, plan)
}

/// Usage requests Airalo received.
async fn usage_reads(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .iter()
        .filter(|r| r.url.path().ends_with("/usage"))
        .count()
}

#[sqlx::test]
async fn an_order_goes_through_at_once_while_another_partner_polls_its_esim_flat_out(db: PgPool) {
    let server = server().await;
    // No usage cache: every poll asks Airalo, as many different eSIMs would.
    let (app, plan) = gateway(db, &server, Duration::ZERO).await;
    let poller = app.create_partner("poller", "0", "100.00").await;
    let buyer = app.create_partner("buyer", "0", "100.00").await;
    let bought = app
        .place(&poller.key, &json!({"planId": plan}), StatusCode::CREATED)
        .await;
    let esim = format!(
        "/v1/esim/{}",
        bought["esims"][0]["esimId"].as_str().unwrap()
    );

    let app = Arc::new(app);
    let stop = Arc::new(AtomicBool::new(false));
    let polls: Vec<_> = (0..120)
        .map(|_| {
            let (app, stop, esim, key) = (
                Arc::clone(&app),
                Arc::clone(&stop),
                esim.clone(),
                poller.key.clone(),
            );
            tokio::spawn(async move {
                let mut answered = 0;
                while !stop.load(Ordering::Relaxed) {
                    let status = app.get(&esim, &key).await.status();
                    assert_eq!(status, StatusCode::OK, "every poll is answered");
                    answered += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                answered
            })
        })
        .collect();
    // Let the polls take every read token Airalo's budget has.
    tokio::time::sleep(Duration::from_millis(700)).await;

    let started = Instant::now();
    let order = app.order(&buyer.key, &json!({"planId": plan})).await;
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut answered = 0;
    for poll in polls {
        answered += poll.await.unwrap();
    }

    let data: Value = success_data(order, StatusCode::CREATED).await;
    assert_eq!(data["status"], "completed");
    assert_eq!(data["esims"][0]["iccid"], SECOND_ICCID);
    assert!(
        took < Duration::from_secs(2),
        "the order waited {took:?} behind the polls"
    );
    // The polls were answered (from our records once the reads' share was spent) and
    // did reach Airalo, within the reads' share: 2 a second of its 5.
    let reads = usage_reads(&server).await;
    assert!(
        answered > reads && reads >= 2,
        "{answered} polls, {reads} reads"
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_second_usage_read_within_the_ttl_asks_airalo_nothing(db: PgPool) {
    let server = server().await;
    let (app, plan) = gateway(db, &server, Duration::from_secs(60)).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let bought = app
        .place(&partner.key, &json!({"planId": plan}), StatusCode::CREATED)
        .await;
    let esim = format!(
        "/v1/esim/{}",
        bought["esims"][0]["esimId"].as_str().unwrap()
    );

    let first = success_data(app.get(&esim, &partner.key).await, StatusCode::OK).await;
    assert_eq!(usage_reads(&server).await, 1);
    // The fixture's usage: 2048 MB total, 767 left.
    assert_eq!(
        (&first["status"], &first["dataUsedMb"]),
        (&json!("ACTIVE"), &json!(1281))
    );

    let second = success_data(app.get(&esim, &partner.key).await, StatusCode::OK).await;
    assert_eq!(usage_reads(&server).await, 1, "answered from our records");
    assert_eq!(second["status"], first["status"]);
    assert_eq!(second["dataUsedMb"], first["dataUsedMb"]);
    app.assert_ledger_sound().await;
}

#[tokio::test]
async fn orders_keep_their_share_while_usage_reads_queue_for_theirs() {
    // Reads that wait (as reconciliation's do) queue on the reads' share alone.
    let server = server().await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v2/sims/[0-9]+/usage$"))
        .respond_with(ok(Airalo::fixture("usage.json")))
        .mount(&server)
        .await;
    authorised("POST", "/v2/orders")
        .respond_with(ok(Airalo::fixture("order.json")))
        .mount(&server)
        .await;
    let airalo = Arc::new(Airalo::against(&server));
    let reads: Vec<_> = (0..100)
        .map(|_| {
            let airalo = Arc::clone(&airalo);
            tokio::spawn(async move {
                use tavaro::provider::Provider;
                let _ = airalo.usage(&super::esim("8944465400003573253")).await;
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Spawned like the reads, so it is scheduled as they are (the test's own task is
    // polled first whenever it wakes, which would favour it).
    let order = Arc::clone(&airalo);
    let (issued, took) = tokio::spawn(async move {
        let started = Instant::now();
        let request = super::request(GREECE_1GB, 1);
        let issued = tavaro::provider::Provider::provision(order.as_ref(), &request)
            .await
            .unwrap();
        (issued, started.elapsed())
    })
    .await
    .unwrap();
    assert_eq!(issued.esims.len(), 1);
    assert!(
        took < Duration::from_millis(500),
        "the order waited {took:?}"
    );
    for read in reads {
        read.abort();
    }
}

//! Live usage: the eSIM view follows the provider's figures (read at most every
//! `TAVARO_USAGE_TTL_SECS`), keeps the last known ones through an outage (with
//! `usageUpdatedAt` saying when they were read), and the poller notices a depleted eSIM
//! without any partner asking, recording the change with its time.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use tavaro::provider::roamify::Roamify;
use tavaro::provider::simulator;
use wiremock::matchers::query_param;
use wiremock::{MockServer, ResponseTemplate};

use super::{esim, order_one};
use crate::helpers::{spawn_app_with_vars, success_data};
use crate::providers::common::{self, Upstream, ok, plan_for_sku, sync_into};
use crate::providers::roamify::{ICCID, INSTANT, SKU, authed, mount_catalog};

/// Roamify's usage answer for our eSIM with `remaining` of its 1024 MB left.
async fn usage_answers(server: &MockServer, status: &str, remaining: i64) {
    let mut body = Roamify::fixture("usage.json");
    body["data"]["status"] = json!(status);
    body["data"]["startedAt"] = json!(1_731_838_043);
    body["data"]["allowedData"] = json!(1024);
    body["data"]["remainingData"] = json!(remaining);
    authed("GET", "/api/esim/usage")
        .and(query_param("iccid", ICCID))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

#[sqlx::test]
async fn the_view_follows_the_providers_figures_and_keeps_the_last_ones_through_an_outage(
    db: PgPool,
) {
    let server = MockServer::start().await;
    mount_catalog(&server).await;
    authed("POST", INSTANT)
        .respond_with(ok(Roamify::fixture("order_instant.json")))
        .mount(&server)
        .await;
    let upstream = Roamify::config(&server);
    let app = common::spawn_gateway(db, move |config| {
        Roamify::route(config, upstream);
        // Every view asks Roamify: the test changes its figures between two views.
        config.providers.usage_ttl = Duration::ZERO;
    })
    .await;
    sync_into(&app, "roamify").await;
    let partner = app.create_partner("wanderly", "0", "100.00").await;
    let plan = plan_for_sku(&app.db, "roamify", SKU).await;
    let order = app
        .place(&partner.key, &json!({"planId": plan}), StatusCode::CREATED)
        .await;
    let id = order["esims"][0]["esimId"].as_str().unwrap().to_owned();

    usage_answers(&server, "INSTALLED", 924).await;
    let first = esim(&app, &partner.key, &id).await;
    assert_eq!(first["status"], "ACTIVE");
    assert_eq!(first["dataUsedMb"], 100);
    let read_at: DateTime<Utc> = first["usageUpdatedAt"].as_str().unwrap().parse().unwrap();

    // The traveller uses more: the next view shows it.
    server.reset().await;
    usage_answers(&server, "ACTIVATED", 24).await;
    // `usageUpdatedAt` is in whole seconds.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let second = esim(&app, &partner.key, &id).await;
    assert_eq!(second["dataUsedMb"], 1000);
    assert_eq!(second["dataRemainingMb"], 24);
    let reread_at: DateTime<Utc> = second["usageUpdatedAt"].as_str().unwrap().parse().unwrap();
    assert!(reread_at > read_at, "{read_at} → {reread_at}");

    // Roamify down: the last known figures, and when they were read.
    server.reset().await;
    authed("GET", "/api/esim/usage")
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let during = success_data(
        app.get(&format!("/v1/esim/{id}"), &partner.key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(during["dataUsedMb"], 1000);
    assert_eq!(during["status"], "ACTIVE");
    assert_eq!(during["usageUpdatedAt"], second["usageUpdatedAt"]);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn the_poller_marks_a_depleted_esim_without_any_partner_request(db: PgPool) {
    let app = spawn_app_with_vars(db, &[("TAVARO_USAGE_POLL_SECS", "1")]).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let order = order_one(&app, &partner, "ae-1gb-7d").await;
    let id: uuid::Uuid = order["esims"][0]["esimId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // The traveller uses it all; nobody asks the gateway.
    simulator::record_usage(&app.db, order["esims"][0]["iccid"].as_str().unwrap(), 1024)
        .await
        .unwrap();

    let started = Instant::now();
    let (status, used): (String, i64) = loop {
        let row: (String, i64) =
            sqlx::query_as("select status, data_used_mb from esims where id = $1")
                .bind(id)
                .fetch_one(&app.db)
                .await
                .unwrap();
        if row.0 == "DEPLETED" {
            break row;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "never polled: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!((status.as_str(), used), ("DEPLETED", 1024));
    let changes: Vec<(String, String, DateTime<Utc>)> = sqlx::query_as(
        "select from_status, to_status, changed_at from esim_status_changes
          where esim_id = $1 order by id",
    )
    .bind(id)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(
        (changes[0].0.as_str(), changes[0].1.as_str()),
        ("READY", "DEPLETED")
    );
    assert!(changes[0].2 > Utc::now() - chrono::Duration::seconds(30));
    let changed_at: DateTime<Utc> =
        sqlx::query_scalar("select status_changed_at from esims where id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(changed_at, changes[0].2);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_usage_read_taken_before_a_cancellation_settled_never_writes_its_old_status_back(
    db: PgPool,
) {
    // The race a partner's status request (or the poller) runs with the reconciler: the
    // eSIM is read `CANCEL_PENDING`, the provider's review rejects the refund (the eSIM is
    // `READY` again), and only then is the usage read recorded. It takes the figures and
    // leaves the settled status alone; and the other way round, a read taken before the
    // cancellation does not undo it.
    let mut vars = super::QUICK.to_vec();
    vars.push(("TAVARO_SIM_REFUNDS", "reviewed"));
    let app = spawn_app_with_vars(db, &vars).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let account = tavaro::mode::Account::live(partner.id);
    let order = app
        .place(
            &partner.key,
            &json!({"planId": "ae-5gb-7d", "quantity": 2}),
            StatusCode::CREATED,
        )
        .await;
    let ids: Vec<String> = (0..2)
        .map(|i| order["esims"][i]["esimId"].as_str().unwrap().to_owned())
        .collect();
    let ids = &ids;
    let id = |i: usize| tavaro::ids::EsimId(ids[i].parse().unwrap());
    let db = &app.db;
    let read = |i: usize| async move {
        tavaro::esims::find(db, account, id(i))
            .await
            .unwrap()
            .expect("the eSIM is the partner's")
    };
    let report = |used: i64| tavaro::provider::EsimUsage {
        status: tavaro::esims::EsimStatus::Ready,
        data_used_mb: used,
        activated_at: None,
        expires_at: None,
        data_total_mb: None,
    };
    let (app_ref, key) = (&app, partner.key.as_str());
    let cancel_it = |i: usize| async move {
        success_data(
            super::cancel(app_ref, key, &ids[i], None).await,
            StatusCode::ACCEPTED,
        )
        .await;
    };
    let stored = |i: usize| async move {
        sqlx::query_as::<_, (String, i64)>("select status, data_used_mb from esims where id = $1")
            .bind(id(i).0)
            .fetch_one(db)
            .await
            .unwrap()
    };

    // Read while the refund is under review; recorded after the review rejected it (the
    // report's figures differ from the record's, so it is written).
    cancel_it(0).await;
    let stale = read(0).await;
    assert_eq!(stale.status, tavaro::esims::EsimStatus::CancelPending);
    tavaro::orders::settle_refund(&app.db, id(0), false)
        .await
        .unwrap();
    tavaro::esims::apply_usage(&app.db, stale, report(1))
        .await
        .unwrap();
    assert_eq!(stored(0).await, ("READY".to_owned(), 1));

    // Read before the cancellation; recorded while it waits for the provider's review.
    let stale = read(1).await;
    assert_eq!(stale.status, tavaro::esims::EsimStatus::Ready);
    cancel_it(1).await;
    tavaro::esims::apply_usage(&app.db, stale, report(1))
        .await
        .unwrap();
    assert_eq!(stored(1).await, ("CANCEL_PENDING".to_owned(), 1));
    app.assert_ledger_sound().await;
}

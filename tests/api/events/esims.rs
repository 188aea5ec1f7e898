//! `esim.*` from usage: each status change told once as the read that notices it records
//! it (a partner's view, the poller, a sandbox simulation), `esim.low_data` once per
//! allowance (again after a top-up raises it), `esim.expiring` once per end of validity.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use tavaro::provider::simulator;

use super::{events, events_of, sandbox_key, told};
use crate::after_sale::{esim, order_one, topup};
use crate::helpers::{spawn_app, spawn_app_with_vars, success_data};

#[sqlx::test]
async fn usage_reads_tell_activated_low_data_depleted_and_expired_once_each_in_live(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let order = app
        .place(
            &partner.key,
            &json!({"planId": "ae-1gb-7d", "quantity": 2}),
            StatusCode::CREATED,
        )
        .await;
    let (used, expiring) = (&order["esims"][0], &order["esims"][1]);
    let id = used["esimId"].as_str().unwrap();
    let iccid = used["iccid"].as_str().unwrap();
    let other = expiring["esimId"].as_str().unwrap();
    let esim_events = || async {
        events(&app.db, partner.id)
            .await
            .into_iter()
            .filter(|t| t.kind.starts_with("esim."))
            .collect::<Vec<_>>()
    };

    // First use: activated. Read again: nothing more.
    simulator::record_usage(&app.db, iccid, 500).await.unwrap();
    assert_eq!(esim(&app, &partner.key, id).await["status"], "ACTIVE");
    esim(&app, &partner.key, id).await;
    assert_eq!(
        esim_events().await,
        [told("esim.activated", "live", Some(id))]
    );

    // 800 of 1024 MB is below 80 %; 820 is above.
    simulator::record_usage(&app.db, iccid, 300).await.unwrap();
    esim(&app, &partner.key, id).await;
    assert_eq!(esim_events().await.len(), 1);
    simulator::record_usage(&app.db, iccid, 20).await.unwrap();
    esim(&app, &partner.key, id).await;
    esim(&app, &partner.key, id).await;
    simulator::record_usage(&app.db, iccid, 300).await.unwrap();
    assert_eq!(esim(&app, &partner.key, id).await["status"], "DEPLETED");
    esim(&app, &partner.key, id).await;

    simulator::expire(&app.db, expiring["iccid"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(esim(&app, &partner.key, other).await["status"], "EXPIRED");
    esim(&app, &partner.key, other).await;
    assert_eq!(
        esim_events().await,
        [
            told("esim.activated", "live", Some(id)),
            told("esim.low_data", "live", Some(id)),
            told("esim.depleted", "live", Some(id)),
            told("esim.expired", "live", Some(other)),
        ]
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn the_poller_tells_what_it_notices_without_any_partner_request(db: PgPool) {
    let app = spawn_app_with_vars(db, &[("TAVARO_USAGE_POLL_SECS", "1")]).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let order = order_one(&app, &partner, "ae-1gb-7d").await;
    let id = order["esims"][0]["esimId"].as_str().unwrap();
    simulator::record_usage(&app.db, order["esims"][0]["iccid"].as_str().unwrap(), 1024)
        .await
        .unwrap();
    let started = Instant::now();
    while events_of(&app.db, partner.id, "esim.depleted")
        .await
        .is_empty()
    {
        assert!(started.elapsed() < Duration::from_secs(15), "never polled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // READY to DEPLETED in one read: first use, 80 %, and used up, told together.
    assert_eq!(
        events(&app.db, partner.id).await[1..],
        [
            told("esim.activated", "live", Some(id)),
            told("esim.depleted", "live", Some(id)),
            told("esim.low_data", "live", Some(id)),
        ]
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn sandbox_simulations_tell_their_changes_in_sandbox_mode(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let sandbox = sandbox_key(&app, &partner).await;
    let order = app
        .place(
            &sandbox,
            &json!({"planId": "ae-1gb-7d", "quantity": 2}),
            StatusCode::CREATED,
        )
        .await;
    let first = order["esims"][0]["esimId"].as_str().unwrap();
    let second = order["esims"][1]["esimId"].as_str().unwrap();
    let usage = |id: &str, mb: i64| {
        let (app, key) = (&app, sandbox.clone());
        let path = format!("/v1/sandbox/esims/{id}/usage");
        async move {
            success_data(
                app.post_json(&path, &key, &json!({ "mb": mb })).await,
                StatusCode::OK,
            )
            .await
        }
    };
    usage(first, 100).await;
    usage(first, 800).await;
    usage(first, 500).await;
    let response = app
        .post_json(
            &format!("/v1/sandbox/esims/{second}/expire"),
            &sandbox,
            &json!({}),
        )
        .await;
    success_data(response, StatusCode::OK).await;

    assert_eq!(
        events(&app.db, partner.id).await[1..],
        [
            told("esim.activated", "sandbox", Some(first)),
            told("esim.low_data", "sandbox", Some(first)),
            told("esim.depleted", "sandbox", Some(first)),
            told("esim.expired", "sandbox", Some(second)),
        ]
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn low_data_is_told_once_per_allowance_and_again_after_a_topup(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let order = order_one(&app, &partner, "ae-1gb-7d").await;
    let id = order["esims"][0]["esimId"].as_str().unwrap();
    let iccid = order["esims"][0]["iccid"].as_str().unwrap();
    let low = || async { events_of(&app.db, partner.id, "esim.low_data").await.len() };

    simulator::record_usage(&app.db, iccid, 900).await.unwrap();
    esim(&app, &partner.key, id).await;
    assert_eq!(low().await, 1);
    simulator::record_usage(&app.db, iccid, 50).await.unwrap();
    esim(&app, &partner.key, id).await;
    assert_eq!(low().await, 1, "the same allowance is told once");

    // 950 of 2048 MB after the top-up; 80 % of the new allowance is told again.
    success_data(
        topup(
            &app,
            &partner.key,
            id,
            &json!({"planId": "ae-1gb-7d"}),
            None,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let view = esim(&app, &partner.key, id).await;
    assert_eq!(view["dataTotalMb"], 2048);
    assert_eq!(low().await, 1);
    simulator::record_usage(&app.db, iccid, 700).await.unwrap();
    esim(&app, &partner.key, id).await;
    assert_eq!(low().await, 2);
    simulator::record_usage(&app.db, iccid, 100).await.unwrap();
    esim(&app, &partner.key, id).await;
    assert_eq!(
        events_of(&app.db, partner.id, "esim.low_data").await,
        [
            told("esim.low_data", "live", Some(id)),
            told("esim.low_data", "live", Some(id)),
        ]
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn expiring_is_told_once_a_day_before_the_end_and_again_for_a_later_end(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let sandbox = sandbox_key(&app, &partner).await;
    let live = app
        .place(
            &partner.key,
            &json!({"planId": "ae-1gb-7d", "quantity": 2}),
            StatusCode::CREATED,
        )
        .await;
    let test = app
        .place(
            &sandbox,
            &json!({"planId": "ae-1gb-7d"}),
            StatusCode::CREATED,
        )
        .await;
    let soon = live["esims"][0]["esimId"].as_str().unwrap();
    let later = live["esims"][1]["esimId"].as_str().unwrap();
    let test_soon = test["esims"][0]["esimId"].as_str().unwrap();
    let ends = |id: &str, hours: i32| {
        let (db, id) = (app.db.clone(), id.parse::<uuid::Uuid>().unwrap());
        async move {
            sqlx::query(
                "update esims set status = 'ACTIVE', activated_at = now() - interval '6 days',
                                  expires_at = now() + make_interval(hours => $2)
                  where id = $1",
            )
            .bind(id)
            .bind(hours)
            .execute(&db)
            .await
            .unwrap();
        }
    };
    ends(soon, 12).await;
    ends(later, 48).await;
    ends(test_soon, 3).await;

    assert_eq!(
        tavaro::esims::poller::notify_expiring(&app.db)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        tavaro::esims::poller::notify_expiring(&app.db)
            .await
            .unwrap(),
        0
    );
    let expiring = events_of(&app.db, partner.id, "esim.expiring").await;
    assert_eq!(expiring.len(), 2);
    assert!(expiring.contains(&told("esim.expiring", "live", Some(soon))));
    assert!(expiring.contains(&told("esim.expiring", "sandbox", Some(test_soon))));

    // A new end of validity (a top-up extends it) is told again when it comes near.
    ends(soon, 20).await;
    assert_eq!(
        tavaro::esims::poller::notify_expiring(&app.db)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        events_of(&app.db, partner.id, "esim.expiring").await.len(),
        3
    );
    app.assert_ledger_sound().await;
}

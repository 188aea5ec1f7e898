//! Top-ups: an order of kind `topup` debits once, shows in the eSIM view and the order
//! history, and revives a `DEPLETED` eSIM; what cannot be topped up is refused before any
//! debit; one Idempotency-Key is one debit however many requests race; a provider that
//! fails or loses the top-up gets it refunded or settled by reconciliation.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use tavaro::provider::simulator;

use super::{QUICK, cancel, entries, esim, order_one, topup};
use crate::helpers::{
    assert_error, cents, spawn_app, spawn_app_with_vars, success_data, wait_for_order,
};

#[sqlx::test]
async fn a_topup_debits_once_shows_in_the_esim_view_and_history_and_revives_a_depleted_esim(
    db: PgPool,
) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "20", "100.00").await;
    let order = order_one(&app, &partner, "ae-5gb-7d").await;
    let id = order["esims"][0]["esimId"].as_str().unwrap().to_owned();
    let iccid = order["esims"][0]["iccid"].as_str().unwrap().to_owned();
    simulator::record_usage(&app.db, &iccid, 5120)
        .await
        .unwrap();
    let depleted = esim(&app, &partner.key, &id).await;
    assert_eq!(depleted["status"], "DEPLETED");
    let expires: DateTime<Utc> = depleted["expiresAt"].as_str().unwrap().parse().unwrap();

    // The UAE plans that allow top-ups, at the partner's markup; never another country's,
    // never one that forbids top-ups.
    let offered = success_data(
        app.get(&format!("/v1/esim/{id}/topups"), &partner.key)
            .await,
        StatusCode::OK,
    )
    .await;
    let offered = offered.as_array().unwrap();
    let ids: HashSet<&str> = offered
        .iter()
        .map(|p| p["planId"].as_str().unwrap())
        .collect();
    assert!(ids.contains("ae-1gb-7d"), "{ids:?}");
    assert!(
        !ids.contains("ae-unlimited-7d"),
        "top-ups forbidden on it: {ids:?}"
    );
    assert!(ids.iter().all(|p| p.starts_with("ae-")), "{ids:?}");
    let one_gb = offered.iter().find(|p| p["planId"] == "ae-1gb-7d").unwrap();
    assert_eq!(cents(&one_gb["price"]), 540, "$4.50 net + 20%");

    let response = topup(
        &app,
        &partner.key,
        &id,
        &json!({"planId": "ae-1gb-7d", "reference": "BK-1-TU"}),
        None,
    )
    .await;
    let data = success_data(response, StatusCode::CREATED).await;
    assert_eq!(data["kind"], "topup");
    assert_eq!(data["esimId"], id.as_str());
    assert_eq!(data["status"], "completed");
    assert_eq!(data["quantity"], 1);
    assert_eq!(cents(&data["totalCost"]), 450, "debited at the net price");
    assert_eq!(cents(&data["balance"]), 10_000 - 750 - 450);
    assert_eq!(data["esims"].as_array().unwrap().len(), 1);
    assert_eq!(data["esims"][0]["esimId"], id.as_str());
    assert_eq!(data["esims"][0]["status"], "ACTIVE");
    let topup_id = data["orderId"].as_str().unwrap().to_owned();

    let view = esim(&app, &partner.key, &id).await;
    assert_eq!(view["status"], "ACTIVE", "{view}");
    assert_eq!(view["dataTotalMb"], 5120 + 1024);
    assert_eq!(view["dataUsedMb"], 5120);
    assert_eq!(view["dataRemainingMb"], 1024);
    assert_eq!(view["topupOrderIds"], json!([topup_id]));
    let extended: DateTime<Utc> = view["expiresAt"].as_str().unwrap().parse().unwrap();
    assert!(
        extended >= expires,
        "validity never shrinks: {expires} → {extended}"
    );
    assert!(extended >= Utc::now() + chrono::Duration::days(7) - chrono::Duration::minutes(1));

    let topups = success_data(
        app.get("/v1/orders?kind=topup", &partner.key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(topups.as_array().unwrap().len(), 1);
    assert_eq!(topups[0]["orderId"], topup_id.as_str());
    assert_eq!(topups[0]["esimId"], id.as_str());
    let news = success_data(
        app.get("/v1/orders?kind=esim", &partner.key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(news.as_array().unwrap().len(), 1);
    assert_eq!(news[0]["orderId"], order["orderId"]);
    assert_eq!(news[0]["kind"], "esim");
    assert_eq!(news[0]["esimId"], json!(null));
    let of_esim = success_data(
        app.get(&format!("/v1/orders?esimId={id}"), &partner.key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        of_esim.as_array().unwrap().len(),
        2,
        "the order that bought it and its top-up"
    );
    let single = success_data(
        app.get(&format!("/v1/orders/{topup_id}"), &partner.key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(single["esims"][0]["esimId"], id.as_str());

    let debits: Vec<_> = entries(&app, &partner.key)
        .await
        .into_iter()
        .filter(|e| e["orderId"] == topup_id.as_str())
        .collect();
    assert_eq!(debits.len(), 1, "one entry for the top-up: {debits:?}");
    assert_eq!(debits[0]["kind"], "order_debit");
    assert_eq!(cents(&debits[0]["amount"]), -450);
    assert_eq!(app.balance_cents(partner.id).await, 10_000 - 750 - 450);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn what_cannot_be_topped_up_is_refused_before_any_debit(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let key = partner.key.clone();
    let body = |plan: &str| json!({"planId": plan});

    let expired = order_one(&app, &partner, "ae-5gb-7d").await;
    let expired_id = expired["esims"][0]["esimId"].as_str().unwrap().to_owned();
    simulator::expire(&app.db, expired["esims"][0]["iccid"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(esim(&app, &key, &expired_id).await["status"], "EXPIRED");

    let cancelled = order_one(&app, &partner, "ae-5gb-7d").await;
    let cancelled_id = cancelled["esims"][0]["esimId"].as_str().unwrap().to_owned();
    success_data(
        cancel(&app, &key, &cancelled_id, None).await,
        StatusCode::OK,
    )
    .await;

    let forbidden = order_one(&app, &partner, "ae-unlimited-7d").await;
    let forbidden_id = forbidden["esims"][0]["esimId"].as_str().unwrap().to_owned();

    let fine = order_one(&app, &partner, "ae-5gb-7d").await;
    let fine_id = fine["esims"][0]["esimId"].as_str().unwrap().to_owned();
    let before = app.balance_cents(partner.id).await;

    for (id, reason) in [
        (&expired_id, "the eSIM has expired"),
        (&cancelled_id, "the eSIM is cancelled"),
        (&forbidden_id, "the eSIM's plan does not allow top-ups"),
    ] {
        let refused = assert_error(
            topup(&app, &key, id, &body("ae-1gb-7d"), None).await,
            StatusCode::CONFLICT,
            "topup_not_allowed",
        )
        .await;
        assert_eq!(refused["error"]["details"]["reason"], reason);
        let offered = success_data(
            app.get(&format!("/v1/esim/{id}/topups"), &key).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(offered, json!([]), "{reason}");
    }
    // On sale, but for another country.
    assert_error(
        topup(&app, &key, &fine_id, &body("us-1gb-7d"), None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "plan_not_compatible",
    )
    .await;
    assert_error(
        topup(&app, &key, &fine_id, &body("xx-none"), None).await,
        StatusCode::NOT_FOUND,
        "plan_not_found",
    )
    .await;
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_error(
        topup(&app, &key, &unknown, &body("ae-1gb-7d"), None).await,
        StatusCode::NOT_FOUND,
        "esim_not_found",
    )
    .await;
    assert_error(
        app.get(&format!("/v1/esim/{unknown}/topups"), &key).await,
        StatusCode::NOT_FOUND,
        "esim_not_found",
    )
    .await;
    assert_error(
        topup(
            &app,
            &key,
            &fine_id,
            &json!({"planId": "ae-1gb-7d", "quantity": 2}),
            None,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    // Another partner's eSIM is not found either.
    let other = app.create_partner("other", "0", "100.00").await;
    assert_error(
        topup(&app, &other.key, &fine_id, &body("ae-1gb-7d"), None).await,
        StatusCode::NOT_FOUND,
        "esim_not_found",
    )
    .await;

    let poor = app.create_partner("poor", "0", "8.00").await;
    let poor_order = order_one(&app, &poor, "ae-5gb-7d").await;
    let poor_id = poor_order["esims"][0]["esimId"].as_str().unwrap();
    assert_error(
        topup(&app, &poor.key, poor_id, &body("ae-1gb-7d"), None).await,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_credits",
    )
    .await;
    assert_eq!(app.balance_cents(poor.id).await, 800 - 750);

    assert_eq!(
        app.balance_cents(partner.id).await,
        before,
        "nothing debited"
    );
    let topups: i64 = sqlx::query_scalar("select count(*) from orders where kind = 'topup'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(topups, 0, "no top-up order exists");
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn fifty_concurrent_topups_with_one_idempotency_key_make_one_debit(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let order = order_one(&app, &partner, "ae-5gb-7d").await;
    let id = order["esims"][0]["esimId"].as_str().unwrap().to_owned();
    let body = json!({"planId": "ae-1gb-7d"});

    let requests = (0..50).map(|_| topup(&app, &partner.key, &id, &body, Some("topup-once")));
    let responses = futures::future::join_all(requests).await;
    let mut order_ids = HashSet::new();
    for response in responses {
        let status = response.status();
        let json: serde_json::Value = response.json().await.unwrap();
        match status {
            StatusCode::CREATED => {
                order_ids.insert(json["data"]["orderId"].as_str().unwrap().to_owned());
            }
            StatusCode::CONFLICT => assert_eq!(json["error"]["code"], "idempotency_in_progress"),
            other => panic!("unexpected {other}: {json}"),
        }
    }
    assert_eq!(order_ids.len(), 1, "one top-up order: {order_ids:?}");
    let replay = topup(&app, &partner.key, &id, &body, Some("topup-once")).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replayed = success_data(replay, StatusCode::CREATED).await;
    assert!(order_ids.contains(replayed["orderId"].as_str().unwrap()));

    let debits: i64 = sqlx::query_scalar(
        "select count(*) from ledger_entries l join orders o on o.id = l.order_id
          where o.kind = 'topup' and l.kind = 'order_debit'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(debits, 1);
    assert_eq!(app.balance_cents(partner.id).await, 10_000 - 750 - 450);
    assert_eq!(
        esim(&app, &partner.key, &id).await["dataTotalMb"],
        5120 + 1024
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_topup_the_provider_fails_is_502_and_refunded(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let sandbox =
        tavaro::auth::create_key_in(&app.db, partner.id, "Sandbox", tavaro::mode::Mode::Sandbox)
            .await
            .unwrap();
    app.sync_keys().await;
    let key = sandbox.token.expose().clone();
    let order = app
        .place(&key, &json!({"planId": "ae-5gb-7d"}), StatusCode::CREATED)
        .await;
    let id = order["esims"][0]["esimId"].as_str().unwrap().to_owned();
    let before = cents(&order["balance"]);

    let response = app
        .client
        .post(format!("{}/v1/esim/{id}/topup", app.address))
        .bearer_auth(&key)
        .header("sandbox-outcome", "upstream_error")
        .json(&json!({"planId": "ae-1gb-7d"}))
        .send()
        .await
        .unwrap();
    let body = assert_error(response, StatusCode::BAD_GATEWAY, "upstream_error").await;
    assert_eq!(body["error"]["details"]["refunded"], true);

    let balance = success_data(app.get("/v1/balance", &key).await, StatusCode::OK).await;
    assert_eq!(cents(&balance["balance"]), before, "the debit was refunded");
    let failed = success_data(app.get("/v1/orders?kind=topup", &key).await, StatusCode::OK).await;
    assert_eq!(failed[0]["status"], "failed");
    let kinds: Vec<String> = entries(&app, &key)
        .await
        .iter()
        .filter(|e| e["orderId"] == failed[0]["orderId"])
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["refund", "order_debit"]);
    assert_eq!(
        esim(&app, &key, &id).await["dataTotalMb"],
        5120,
        "nothing added"
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_topup_whose_answer_is_lost_is_processing_then_settled_by_reconciliation(db: PgPool) {
    // `late`: the simulator applies the top-up, and the answer never arrives in time.
    let mut vars = QUICK.to_vec();
    vars.push(("TAVARO_SIM_MODE", "late"));
    vars.push(("TAVARO_SIM_LATENCY_MS", "0"));
    let app = spawn_app_with_vars(db, &vars).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    // Orders in `late` mode answer after the latency (0 here): issued at once.
    let order = order_one(&app, &partner, "ae-5gb-7d").await;
    let id = order["esims"][0]["esimId"].as_str().unwrap().to_owned();

    let data = success_data(
        topup(
            &app,
            &partner.key,
            &id,
            &json!({"planId": "ae-1gb-7d"}),
            None,
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(data["status"], "processing");
    assert_eq!(data["kind"], "topup");
    let settled = wait_for_order(
        &app,
        &partner.key,
        data["orderId"].as_str().unwrap(),
        "completed",
    )
    .await;
    assert_eq!(settled["esims"][0]["esimId"], id.as_str());
    let view = esim(&app, &partner.key, &id).await;
    assert_eq!(view["dataTotalMb"], 5120 + 1024, "applied once: {view}");
    assert_eq!(app.balance_cents(partner.id).await, 10_000 - 750 - 450);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_topup_the_provider_never_received_is_refunded_by_reconciliation(db: PgPool) {
    // The eSIM is bought from a server whose simulator answers; the top-up goes to one
    // whose simulator loses every request (two servers on one database, as deployed).
    let buyer = spawn_app_with_vars(db.clone(), QUICK).await;
    let partner = buyer.create_partner("acme", "0", "100.00").await;
    let order = order_one(&buyer, &partner, "ae-5gb-7d").await;
    let id = order["esims"][0]["esimId"].as_str().unwrap().to_owned();
    let mut vars = QUICK.to_vec();
    vars.push(("TAVARO_SIM_MODE", "lost"));
    let app = spawn_app_with_vars(db, &vars).await;
    app.sync_keys().await;

    let data = success_data(
        topup(
            &app,
            &partner.key,
            &id,
            &json!({"planId": "ae-1gb-7d"}),
            None,
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let settled = wait_for_order(
        &app,
        &partner.key,
        data["orderId"].as_str().unwrap(),
        "failed",
    )
    .await;
    assert_eq!(settled["kind"], "topup");
    let view = esim(&app, &partner.key, &id).await;
    assert_eq!(view["dataTotalMb"], 5120, "nothing applied");
    assert_eq!(
        app.balance_cents(partner.id).await,
        10_000 - 750,
        "refunded"
    );
    // A failed top-up is no top-up: the eSIM may still be cancelled.
    success_data(cancel(&app, &partner.key, &id, None).await, StatusCode::OK).await;
    app.assert_ledger_sound().await;
}

//! `order.*` and `topup.*`: told in the transaction that settles the order (the request
//! path's batched completion, the reconciler's, a failure's refund), once, in the order's
//! mode; a 402 places nothing and tells nothing.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use super::{delivered_to, endpoint, events, events_of, sandbox_key, told};
use crate::after_sale::{QUICK, order_one, topup};
use crate::helpers::{
    assert_error, assert_ledger_sound, spawn_app, spawn_app_with_vars, success_data, wait_for_order,
};

#[sqlx::test]
async fn a_completed_order_is_told_once_to_its_modes_subscribed_endpoints_and_a_402_tells_nothing(
    db: PgPool,
) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "10.00").await;
    let sandbox = sandbox_key(&app, &partner).await;
    let all = endpoint(&app.db, partner.id, "live", None).await;
    let failures = endpoint(&app.db, partner.id, "live", Some(&["order.failed"])).await;
    let sandbox_all = endpoint(&app.db, partner.id, "sandbox", None).await;

    let live = order_one(&app, &partner, "ae-5gb-7d").await;
    let live_id = live["orderId"].as_str().unwrap();
    assert_eq!(
        events(&app.db, partner.id).await,
        [told("order.completed", "live", Some(live_id))]
    );
    assert_eq!(delivered_to(&app.db, all).await, ["order.completed"]);
    assert!(delivered_to(&app.db, failures).await.is_empty());
    assert!(delivered_to(&app.db, sandbox_all).await.is_empty());

    let test = app
        .place(
            &sandbox,
            &json!({"planId": "ae-1gb-7d"}),
            StatusCode::CREATED,
        )
        .await;
    let test_id = test["orderId"].as_str().unwrap();
    assert_eq!(
        events_of(&app.db, partner.id, "order.completed").await,
        [
            told("order.completed", "live", Some(live_id)),
            told("order.completed", "sandbox", Some(test_id)),
        ]
    );
    assert_eq!(
        delivered_to(&app.db, sandbox_all).await,
        ["order.completed"]
    );
    assert_eq!(delivered_to(&app.db, all).await, ["order.completed"]);

    // 2.50 left: the order is refused and nothing is told.
    let response = app
        .order(&partner.key, &json!({"planId": "ae-5gb-7d"}))
        .await;
    assert_error(
        response,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_credits",
    )
    .await;
    assert_eq!(events(&app.db, partner.id).await.len(), 2);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_failed_order_is_told_failed_in_live_and_sandbox(db: PgPool) {
    let app = spawn_app_with_vars(db, &[("TAVARO_SIM_FAILURE_RATE", "1")]).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let sandbox = sandbox_key(&app, &partner).await;

    let response = app
        .order(&partner.key, &json!({"planId": "ae-5gb-7d"}))
        .await;
    let refused = assert_error(response, StatusCode::BAD_GATEWAY, "upstream_error").await;
    assert_eq!(refused["error"]["details"]["refunded"], true);
    let response = app
        .client
        .post(format!("{}/v1/order", app.address))
        .bearer_auth(&sandbox)
        .header("sandbox-outcome", "upstream_error")
        .json(&json!({"planId": "ae-5gb-7d"}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_GATEWAY, "upstream_error").await;

    let failed: Vec<(String, String)> = sqlx::query_as(
        "select id::text, mode from orders where partner_id = $1 and status = 'failed'
          order by mode",
    )
    .bind(partner.id.0)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(failed.len(), 2);
    assert_eq!(
        events(&app.db, partner.id).await,
        [
            told("order.failed", "live", Some(&failed[0].0)),
            told("order.failed", "sandbox", Some(&failed[1].0)),
        ]
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn an_order_settled_by_reconciliation_is_told_completed_once(db: PgPool) {
    let app = spawn_app_with_vars(db, QUICK).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let sandbox = sandbox_key(&app, &partner).await;
    let response = app
        .client
        .post(format!("{}/v1/order", app.address))
        .bearer_auth(&sandbox)
        .header("sandbox-outcome", "processing")
        .json(&json!({"planId": "ae-1gb-7d"}))
        .send()
        .await
        .unwrap();
    let open = success_data(response, StatusCode::ACCEPTED).await;
    let id = open["orderId"].as_str().unwrap();
    assert!(
        events(&app.db, partner.id).await.is_empty(),
        "processing tells nothing"
    );
    wait_for_order(&app, &sandbox, id, "completed").await;
    // Later polls find it settled and tell nothing more.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        events(&app.db, partner.id).await,
        [told("order.completed", "sandbox", Some(id))]
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn topups_are_told_completed_or_failed_in_live_and_sandbox(db: PgPool) {
    let app = spawn_app_with_vars(db.clone(), QUICK).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let sandbox = sandbox_key(&app, &partner).await;
    let live_esim = order_one(&app, &partner, "ae-5gb-7d").await["esims"][0]["esimId"]
        .as_str()
        .unwrap()
        .to_owned();
    let test_esim = app
        .place(
            &sandbox,
            &json!({"planId": "ae-5gb-7d"}),
            StatusCode::CREATED,
        )
        .await["esims"][0]["esimId"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"planId": "ae-1gb-7d"});

    let live = success_data(
        topup(&app, &partner.key, &live_esim, &body, None).await,
        StatusCode::CREATED,
    )
    .await;
    let test = success_data(
        topup(&app, &sandbox, &test_esim, &body, None).await,
        StatusCode::CREATED,
    )
    .await;
    let response = app
        .client
        .post(format!("{}/v1/esim/{test_esim}/topup", app.address))
        .bearer_auth(&sandbox)
        .header("sandbox-outcome", "upstream_error")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_GATEWAY, "upstream_error").await;
    let test_failed: String = sqlx::query_scalar(
        "select id::text from orders where partner_id = $1 and mode = 'sandbox'
           and kind = 'topup' and status = 'failed'",
    )
    .bind(partner.id.0)
    .fetch_one(&app.db)
    .await
    .unwrap();

    // A live top-up the provider never received: failed and refunded by reconciliation.
    let mut vars = QUICK.to_vec();
    vars.push(("TAVARO_SIM_MODE", "lost"));
    let lossy = spawn_app_with_vars(db, &vars).await;
    lossy.sync_keys().await;
    let lost = success_data(
        topup(&lossy, &partner.key, &live_esim, &body, None).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let lost_id = lost["orderId"].as_str().unwrap();
    wait_for_order(&lossy, &partner.key, lost_id, "failed").await;

    assert_eq!(
        events_of(&app.db, partner.id, "topup.completed").await,
        [
            told("topup.completed", "live", live["orderId"].as_str()),
            told("topup.completed", "sandbox", test["orderId"].as_str()),
        ]
    );
    assert_eq!(
        events_of(&app.db, partner.id, "topup.failed").await,
        [
            told("topup.failed", "sandbox", Some(&test_failed)),
            told("topup.failed", "live", Some(lost_id)),
        ]
    );
    // A top-up is not an order of new eSIMs.
    assert_eq!(
        events_of(&app.db, partner.id, "order.completed")
            .await
            .len(),
        2
    );
    assert_ledger_sound(&app.db).await;
}

//! `esim.cancelled` and `refund.completed` with the refund that cancels an eSIM, in its
//! mode; `refund.rejected` when the provider's review refuses it; a second cancel (409)
//! tells nothing.

use reqwest::StatusCode;
use sqlx::PgPool;
use tavaro::provider::simulator;

use super::{events, sandbox_key, told};
use crate::after_sale::{QUICK, cancel, order_one, wait_for_esim};
use crate::helpers::{assert_error, spawn_app, spawn_app_with_vars, success_data};

#[sqlx::test]
async fn a_cancellation_is_told_with_its_refund_once_in_live_and_sandbox(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let sandbox = sandbox_key(&app, &partner).await;
    let live = order_one(&app, &partner, "ae-5gb-7d").await["esims"][0]["esimId"]
        .as_str()
        .unwrap()
        .to_owned();
    let test = app
        .place(
            &sandbox,
            &serde_json::json!({"planId": "ae-5gb-7d"}),
            StatusCode::CREATED,
        )
        .await["esims"][0]["esimId"]
        .as_str()
        .unwrap()
        .to_owned();
    for (key, id) in [(&partner.key, &live), (&sandbox, &test)] {
        success_data(cancel(&app, key, id, None).await, StatusCode::OK).await;
        assert_error(
            cancel(&app, key, id, None).await,
            StatusCode::CONFLICT,
            "esim_not_cancellable",
        )
        .await;
    }
    let told_after_sale: Vec<_> = events(&app.db, partner.id)
        .await
        .into_iter()
        .filter(|t| t.kind != "order.completed")
        .collect();
    assert_eq!(
        told_after_sale,
        [
            told("esim.cancelled", "live", Some(&live)),
            told("refund.completed", "live", Some(&live)),
            told("esim.cancelled", "sandbox", Some(&test)),
            told("refund.completed", "sandbox", Some(&test)),
        ]
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_reviewed_refund_is_told_completed_or_rejected_when_the_reconciler_settles_it(
    db: PgPool,
) {
    let mut vars = QUICK.to_vec();
    vars.push(("TAVARO_SIM_REFUNDS", "reviewed"));
    let app = spawn_app_with_vars(db, &vars).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let approved = order_one(&app, &partner, "ae-5gb-7d").await["esims"][0].clone();
    let rejected = order_one(&app, &partner, "ae-5gb-7d").await["esims"][0].clone();
    for esim in [&approved, &rejected] {
        let id = esim["esimId"].as_str().unwrap();
        success_data(
            cancel(&app, &partner.key, id, None).await,
            StatusCode::ACCEPTED,
        )
        .await;
    }
    let after_sale = || async {
        events(&app.db, partner.id)
            .await
            .into_iter()
            .filter(|t| t.kind != "order.completed")
            .collect::<Vec<_>>()
    };
    assert!(after_sale().await.is_empty(), "under review: nothing yet");

    simulator::review_refund(&app.db, approved["iccid"].as_str().unwrap(), true)
        .await
        .unwrap();
    simulator::review_refund(&app.db, rejected["iccid"].as_str().unwrap(), false)
        .await
        .unwrap();
    let (approved, rejected) = (
        approved["esimId"].as_str().unwrap(),
        rejected["esimId"].as_str().unwrap(),
    );
    wait_for_esim(&app, &partner.key, approved, "CANCELLED").await;
    wait_for_esim(&app, &partner.key, rejected, "READY").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut found = after_sale().await;
    found.sort_by(|a, b| a.kind.cmp(&b.kind));
    assert_eq!(
        found,
        [
            told("esim.cancelled", "live", Some(approved)),
            told("refund.completed", "live", Some(approved)),
            told("refund.rejected", "live", Some(rejected)),
        ]
    );
    app.assert_ledger_sound().await;
}

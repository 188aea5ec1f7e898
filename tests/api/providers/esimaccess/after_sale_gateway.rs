//! Top-ups and cancellation routed to eSIM Access through the gateway: its `TOPUP_…`
//! packages (never in the synced catalog) sold as the catalog plan they match, ordered by
//! their own code; an unused eSIM cancelled and refunded at once.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tavaro::provider::esimaccess::EsimAccess;
use wiremock::matchers::body_partial_json;
use wiremock::{MockServer, Request};

use super::{gateway, mount, post, profiles};
use crate::helpers::{cents, success_data};
use crate::providers::common::{Upstream, json_body, ok};

#[sqlx::test]
async fn an_esim_access_topup_is_sold_as_its_matching_plan_and_ordered_by_its_own_code(db: PgPool) {
    let server = MockServer::start().await;
    let (app, partner, plan) = gateway(db, &server).await;
    mount(
        &server,
        "/esim/order",
        ok(EsimAccess::fixture("order.json")),
    )
    .await;
    mount(&server, "/esim/query", ok(profiles("ours"))).await;
    post("/package/list")
        .and(body_partial_json(json!({"type": "TOPUP"})))
        .respond_with(ok(EsimAccess::fixture("topup_packages.json")))
        .with_priority(1)
        .mount(&server)
        .await;
    let topped_up = crate::providers::common::fixture(EsimAccess::NAME, "topup.json");
    post("/esim/topup")
        .respond_with(move |request: &Request| {
            let asked: Value = serde_json::from_slice(&request.body).unwrap();
            let body = topped_up.replace(
                "{{transactionId}}",
                asked["transactionId"].as_str().unwrap_or_default(),
            );
            ok(serde_json::from_str(&body).unwrap())
        })
        .mount(&server)
        .await;
    mount(
        &server,
        "/esim/cancel",
        ok(json!({"success": "true", "errorCode": null, "errorMessage": null, "obj": {}})),
    )
    .await;

    let order = success_data(
        app.order(&partner.key, &json!({"planId": plan, "quantity": 2}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let first = order["esims"][0]["esimId"].as_str().unwrap().to_owned();
    let second = order["esims"][1]["esimId"].as_str().unwrap().to_owned();
    let unit = cents(&order["unitCost"]);

    // TOPUP_CKH533 (Spain, 7 days, 1 GB) is the synced Spain 7-day 1 GB plan; the 30-day
    // 3 GB top-up matches no plan of the catalog and is not offered.
    let offered = success_data(
        app.get(&format!("/v1/esim/{first}/topups"), &partner.key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(offered.as_array().unwrap().len(), 1, "{offered}");
    assert_eq!(offered[0]["planId"], plan.as_str());

    let data = success_data(
        app.post_json(
            &format!("/v1/esim/{first}/topup"),
            &partner.key,
            &json!({"planId": plan}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(data["kind"], "topup");
    let sent = EsimAccess::requests_to(&server, "/esim/topup").await;
    assert_eq!(sent.len(), 1);
    let body = json_body(&sent[0]);
    assert_eq!(
        body["packageCode"], "TOPUP_CKH533",
        "ordered by the top-up's own code"
    );
    assert_eq!(body["transactionId"], data["orderId"]);

    // The other eSIM, never used: cancelled at eSIM Access and refunded at once.
    let cancelled = success_data(
        app.post_json(
            &format!("/v1/esim/{second}/cancel"),
            &partner.key,
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(cents(&cancelled["refund"]["amount"]), unit);
    assert_eq!(
        EsimAccess::requests_to(&server, "/esim/cancel").await.len(),
        1
    );
    // The topped-up one is not cancellable, and eSIM Access is not asked.
    let refused = app
        .post_json(
            &format!("/v1/esim/{first}/cancel"),
            &partner.key,
            &json!({}),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert_eq!(
        EsimAccess::requests_to(&server, "/esim/cancel").await.len(),
        1
    );
    assert_eq!(
        app.balance_cents(partner.id).await,
        10_000 - 2 * unit - cents(&data["totalCost"]) + unit
    );
    app.assert_ledger_sound().await;
}

//! `POST /v1/order` routed to eSIM Access: the synced plan sold end to end (polled until
//! allocated), and what a partner sees when eSIM Access is still allocating, refuses, runs
//! out of our balance or does not answer in time.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use tavaro::provider::esimaccess::EsimAccess;
use tavaro::provider::{Provider, ProviderError, Refusal};
use wiremock::MockServer;

use super::{ORDER_NO, SPAIN, assert_signed, gateway, mount, post, profiles, provision};
use crate::helpers::success_data;
use crate::providers::common::{self, TIMEOUT, Upstream, json_body, ok};

#[sqlx::test]
async fn an_order_through_the_gateway_returns_the_allocated_esims_and_debits_the_plan_price(
    db: PgPool,
) {
    let server = MockServer::start().await;
    let (app, partner, plan) = gateway(db, &server).await;
    mount(
        &server,
        "/esim/order",
        ok(EsimAccess::fixture("order.json")),
    )
    .await;
    post("/esim/query")
        .respond_with(ok(EsimAccess::fixture("query_allocating.json")))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server, "/esim/query", ok(profiles("ours"))).await;

    let order = json!({"planId": plan, "quantity": 2});
    let data = success_data(app.order(&partner.key, &order).await, StatusCode::CREATED).await;
    assert_eq!(data["status"], "completed");
    let allocated = profiles("ours");
    let esims = data["esims"].as_array().unwrap();
    assert_eq!(esims.len(), 2);
    for (esim, profile) in esims
        .iter()
        .zip(allocated["obj"]["esimList"].as_array().unwrap())
    {
        assert_eq!(esim["iccid"], profile["iccid"]);
        assert_eq!(esim["lpaCode"], profile["ac"]);
        assert_eq!(esim["smdpAddress"], "rsp-eu.redteamobile.com");
    }
    // Cost 1.50 + 20% margin = 1.80 a plan, 0% partner markup: 3.60 for two.
    let price: i64 = sqlx::query_scalar("select net_price_cents from plans where id = $1")
        .bind(&plan)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(price, 180);
    assert_eq!(app.balance_cents(partner.id).await, 10_000 - 2 * price);
    app.assert_ledger_sound().await;

    let orders = EsimAccess::requests_to(&server, "/esim/order").await;
    assert_eq!(orders.len(), 1);
    assert_signed(&orders[0]);
    assert_eq!(
        json_body(&orders[0]),
        json!({
            "transactionId": data["orderId"],
            "amount": 30_000,
            "packageInfoList": [{"packageCode": SPAIN, "count": 2, "price": 15_000}]
        })
    );
    let polls = EsimAccess::requests_to(&server, "/esim/query").await;
    assert_eq!(polls.len(), 2, "polled until allocated");
    for poll in &polls {
        assert_signed(poll);
        assert_eq!(
            json_body(poll),
            json!({"orderNo": ORDER_NO, "pager": {"pageNum": 1, "pageSize": 50}})
        );
    }
}

#[sqlx::test]
async fn an_order_still_being_allocated_is_accepted_and_left_processing(db: PgPool) {
    let server = MockServer::start().await;
    let (app, partner, plan) = gateway(db, &server).await;
    mount(
        &server,
        "/esim/order",
        ok(EsimAccess::fixture("order.json")),
    )
    .await;
    mount(
        &server,
        "/esim/query",
        ok(EsimAccess::fixture("query_allocating.json")),
    )
    .await;

    let pending = EsimAccess::against(&server)
        .provision(&provision(SPAIN, 1, Some(15_000)))
        .await;
    assert_eq!(
        pending.unwrap_err(),
        ProviderError::Accepted {
            provider_order_ref: ORDER_NO.into()
        }
    );
    assert!(
        EsimAccess::requests_to(&server, "/esim/query").await.len() >= 2,
        "polled more than once"
    );

    let data = app
        .place(&partner.key, &json!({"planId": plan}), StatusCode::ACCEPTED)
        .await;
    assert_eq!(data["status"], "processing");
    let stored: Option<String> =
        sqlx::query_scalar("select provider_order_ref from orders where partner_id = $1")
            .bind(partner.id.0)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(stored.as_deref(), Some(ORDER_NO));
    assert_eq!(
        app.balance_cents(partner.id).await,
        10_000 - 180,
        "not refunded"
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn insufficient_balance_is_our_problem_answered_502_and_refunded(db: PgPool) {
    let server = MockServer::start().await;
    let (app, partner, plan) = gateway(db, &server).await;
    mount(
        &server,
        "/esim/order",
        ok(EsimAccess::fixture("insufficient_balance.json")),
    )
    .await;

    let refused = EsimAccess::against(&server)
        .provision(&provision(SPAIN, 1, Some(15_000)))
        .await;
    assert!(
        matches!(refused, Err(ProviderError::InsufficientFunds(_))),
        "{refused:?}"
    );

    let body = common::order_refused_with_credits_intact(
        &app,
        &partner,
        &json!({"planId": plan}),
        StatusCode::BAD_GATEWAY,
        "upstream_error",
    )
    .await;
    assert_eq!(body["error"]["details"]["refunded"], true);
}

#[sqlx::test]
async fn an_unknown_package_is_refused_and_refunded_with_502(db: PgPool) {
    let server = MockServer::start().await;
    let (app, partner, plan) = gateway(db, &server).await;
    mount(
        &server,
        "/esim/order",
        ok(EsimAccess::fixture("package_not_found.json")),
    )
    .await;

    let refused = EsimAccess::against(&server)
        .provision(&provision(SPAIN, 1, Some(15_000)))
        .await;
    assert!(
        matches!(
            refused,
            Err(ProviderError::Rejected {
                reason: Refusal::InvalidPackage,
                ..
            })
        ),
        "{refused:?}"
    );

    let body = common::order_refused_with_credits_intact(
        &app,
        &partner,
        &json!({"planId": plan}),
        StatusCode::BAD_GATEWAY,
        "upstream_error",
    )
    .await;
    assert_eq!(body["error"]["details"]["refunded"], true);
}

#[sqlx::test]
async fn an_order_that_times_out_through_the_gateway_is_left_processing(db: PgPool) {
    let server = MockServer::start().await;
    let (app, partner, plan) = gateway(db, &server).await;
    let late =
        ok(EsimAccess::fixture("order.json")).set_delay(TIMEOUT + Duration::from_millis(500));
    mount(&server, "/esim/order", late).await;

    let data = app
        .place(&partner.key, &json!({"planId": plan}), StatusCode::ACCEPTED)
        .await;
    assert_eq!(data["status"], "processing");
    assert_eq!(
        app.balance_cents(partner.id).await,
        10_000 - 180,
        "not refunded on a guess"
    );
    app.assert_ledger_sound().await;
}

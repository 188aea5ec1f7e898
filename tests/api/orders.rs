//! `POST /v1/order`: validation, the debit, the provider, and the money invariants.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tavaro::provider::simulator::luhn_valid;

use crate::helpers::{
    TestApp, TestPartner, assert_error, cents, spawn_app, spawn_app_with, success_data,
    wait_for_order,
};

async fn order_count(app: &TestApp, partner: &TestPartner) -> i64 {
    app.count("orders", partner.id).await
}

#[sqlx::test]
async fn an_order_debits_the_net_price_and_returns_installable_esims(db: PgPool) {
    let app = spawn_app(db).await;
    // 20% markup: the catalog shows 9.00, but the partner pays the 7.50 net price.
    let partner = app.create_partner("acme", "20", "1000.00").await;
    let response = app
        .order(
            &partner.key,
            &json!({"planId": "ae-5gb-7d", "quantity": 1, "customerEmail": "traveller@example.com", "reference": "BK-12345"}),
        )
        .await;
    let data = success_data(response, StatusCode::CREATED).await;
    assert_eq!(data["status"], "completed");
    assert_eq!(data["planId"], "ae-5gb-7d");
    assert_eq!(data["reference"], "BK-12345");
    assert_eq!(data["customerEmail"], "traveller@example.com");
    assert_eq!(data["quantity"], 1);
    assert_eq!(data["unitCost"], json!(7.5));
    assert_eq!(data["totalCost"], json!(7.5));
    assert_eq!(data["currency"], "USD");
    assert_eq!(data["balance"], json!(992.5));
    assert!(uuid::Uuid::parse_str(data["orderId"].as_str().unwrap()).is_ok());
    let created_at = data["createdAt"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created_at).is_ok(),
        "{created_at}"
    );

    let esims = data["esims"].as_array().unwrap();
    assert_eq!(esims.len(), 1);
    let esim = &esims[0];
    let iccid = esim["iccid"].as_str().unwrap();
    assert_eq!(iccid.len(), 19);
    assert!(iccid.starts_with("89") && luhn_valid(iccid), "{iccid}");
    assert_eq!(esim["status"], "READY");
    let smdp = esim["smdpAddress"].as_str().unwrap();
    let code = esim["activationCode"].as_str().unwrap();
    let lpa = format!("LPA:1${smdp}${code}");
    assert_eq!(esim["lpaCode"], lpa.as_str());
    assert_eq!(
        esim["iosInstallUrl"],
        format!("https://esimsetup.apple.com/esim_qrcode_provisioning?carddata={lpa}")
    );
    assert_eq!(
        esim["androidInstallUrl"],
        format!("https://esimsetup.android.com/esim_qrcode_provisioning?carddata={lpa}")
    );
    let qr = esim["qrCodeUrl"].as_str().unwrap();
    assert!(
        qr.starts_with(&format!("{}/qr/", app.address)) && qr.ends_with(".png"),
        "{qr}"
    );

    assert_eq!(app.balance_cents(partner.id).await, 99_250);
    assert_eq!(app.ledger_sum(partner.id).await, 99_250);
    let (kind, amount): (String, i64) = sqlx::query_as(
        "select kind, amount_cents from ledger_entries where partner_id = $1 order by id desc limit 1",
    )
    .bind(partner.id.0)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((kind.as_str(), amount), ("order_debit", -750));
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn quantity_defaults_to_one_and_several_esims_are_all_distinct(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let one = success_data(
        app.order(&partner.key, &json!({"planId": "ae-1gb-7d"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(one["quantity"], 1);
    assert_eq!(one["esims"].as_array().unwrap().len(), 1);

    let three = success_data(
        app.order(&partner.key, &json!({"planId": "ae-1gb-7d", "quantity": 3}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let esims = three["esims"].as_array().unwrap();
    assert_eq!(esims.len(), 3);
    assert_eq!(cents(&three["totalCost"]), 3 * cents(&three["unitCost"]));
    let mut iccids: Vec<&str> = esims.iter().map(|e| e["iccid"].as_str().unwrap()).collect();
    iccids.dedup();
    assert_eq!(iccids.len(), 3);
    assert!(three["reference"].is_null() && three["customerEmail"].is_null());
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn each_invalid_field_gets_a_400_naming_it_and_nothing_is_charged(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"planId": "ae-5gb-7d", "quantity": 0}), "quantity"),
        (json!({"planId": "ae-5gb-7d", "quantity": 11}), "quantity"),
        (json!({"planId": "ae-5gb-7d", "quantity": "3"}), "quantity"),
        (json!({"planId": "ae-5gb-7d", "quantity": null}), "quantity"),
        (json!({"planId": "ae-5gb-7d", "quantity": -1}), "quantity"),
        (json!({"planId": "ae-5gb-7d", "quantity": 1.5}), "quantity"),
        (json!({"planId": "ae-5gb-7d", "quantity": 1e30}), "quantity"),
        (json!({"quantity": 1}), "planId"),
        (json!({"planId": 42}), "planId"),
        (json!({"planId": ""}), "planId"),
        (
            json!({"planId": "ae-5gb-7d", "customerEmail": "not-an-email"}),
            "customerEmail",
        ),
        (
            json!({"planId": "ae-5gb-7d", "customerEmail": "a@b"}),
            "customerEmail",
        ),
        (
            json!({"planId": "ae-5gb-7d", "reference": "x".repeat(65)}),
            "reference",
        ),
        (json!({"planId": "ae-5gb-7d", "reference": ""}), "reference"),
        (json!({"planId": "ae-5gb-7d", "promo": "FREE"}), "promo"),
    ];
    for (body, field) in cases {
        let response = app.order(&partner.key, &body).await;
        let error = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        let fields = error["error"]["details"]["fields"].as_array().unwrap();
        assert!(
            fields.iter().any(|f| f["field"] == field),
            "{body} → {error}"
        );
    }
    for raw in [
        "{\"planId\": ",
        "not json",
        "",
        "[]",
        "null",
        "{\"planId\":\"ae-5gb-7d\"}{}",
    ] {
        let response = app
            .client
            .post(format!("{}/v1/order", app.address))
            .bearer_auth(&partner.key)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        let error = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert_eq!(
            error["error"]["details"]["fields"][0]["field"], "body",
            "{raw:?}"
        );
    }
    assert_eq!(app.balance_cents(partner.id).await, 10_000);
    assert_eq!(order_count(&app, &partner).await, 0);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn an_unknown_plan_is_404_and_charges_nothing(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let response = app
        .order(&partner.key, &json!({"planId": "atlantis-1gb-7d"}))
        .await;
    assert_error(response, StatusCode::NOT_FOUND, "plan_not_found").await;
    assert_eq!(app.balance_cents(partner.id).await, 10_000);
    assert_eq!(order_count(&app, &partner).await, 0);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn short_of_credits_is_402_with_nothing_written(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "10.00").await;
    let entries_before = app.count("ledger_entries", partner.id).await;
    let response = app
        .order(&partner.key, &json!({"planId": "ae-5gb-7d", "quantity": 2}))
        .await;
    let body = assert_error(
        response,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_credits",
    )
    .await;
    assert_eq!(body["error"]["details"]["required"], json!(15));
    assert_eq!(body["error"]["details"]["balance"], json!(10));
    assert_eq!(body["error"]["details"]["currency"], "USD");
    assert_eq!(app.balance_cents(partner.id).await, 1_000);
    assert_eq!(order_count(&app, &partner).await, 0);
    assert_eq!(
        app.count("ledger_entries", partner.id).await,
        entries_before
    );
    assert_eq!(app.count("esims", partner.id).await, 0);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_hundred_concurrent_orders_against_a_balance_for_25_sell_exactly_25(db: PgPool) {
    let app = Arc::new(spawn_app(db).await);
    // ae-1gb-7d costs 4.50 net: 25 of them are 112.50.
    let partner = app.create_partner("acme", "0", "112.50").await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let app = app.clone();
            let key = partner.key.clone();
            tokio::spawn(async move {
                app.order(&key, &json!({"planId": "ae-1gb-7d"}))
                    .await
                    .status()
            })
        })
        .collect();
    let mut created = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::PAYMENT_REQUIRED => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((created, refused), (25, 75));
    assert_eq!(app.balance_cents(partner.id).await, 0);
    assert_eq!(app.ledger_sum(partner.id).await, 0);
    assert_eq!(order_count(&app, &partner).await, 25);
    assert_eq!(app.count("esims", partner.id).await, 25);
    let sim_esims: i64 = sqlx::query_scalar("select count(*) from sim_esims")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(sim_esims, 25, "the provider issued exactly 25 eSIMs");
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_provider_refusal_is_refunded_and_answered_502(db: PgPool) {
    let app = spawn_app_with(db, |c| c.simulator.failure_rate = 1.0).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let response = app
        .order(&partner.key, &json!({"planId": "ae-5gb-7d"}))
        .await;
    let body = assert_error(response, StatusCode::BAD_GATEWAY, "upstream_error").await;
    assert_eq!(body["error"]["details"]["refunded"], true);
    assert_eq!(app.balance_cents(partner.id).await, 10_000);
    assert_eq!(app.ledger_sum(partner.id).await, 10_000);
    let (status, kinds): (String, Vec<String>) = sqlx::query_as(
        "select o.status, array_agg(l.kind order by l.id)
         from orders o join ledger_entries l on l.order_id = o.id
         where o.partner_id = $1 group by o.status",
    )
    .bind(partner.id.0)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(status, "failed");
    assert_eq!(kinds, ["order_debit", "refund"]);
    assert_eq!(app.count("esims", partner.id).await, 0);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_provider_that_does_not_answer_in_time_leaves_the_order_processing_not_refunded(
    db: PgPool,
) {
    let app = spawn_app_with(db, |c| {
        c.simulator.latency = Duration::from_millis(1_500);
        c.orders.provider_timeout = Duration::from_millis(200);
    })
    .await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let response = app
        .order(&partner.key, &json!({"planId": "ae-5gb-7d"}))
        .await;
    let data = success_data(response, StatusCode::ACCEPTED).await;
    assert_eq!(data["status"], "processing");
    assert_eq!(data["esims"], json!([]));
    // Unknown is not failed: the debit stands until the provider is asked.
    assert_eq!(app.balance_cents(partner.id).await, 9_250);
    let status: String = sqlx::query_scalar("select status from orders where partner_id = $1")
        .bind(partner.id.0)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "processing");
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_plan_routed_to_an_unconfigured_provider_is_refused_before_any_money_moves(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    sqlx::query("update plans set provider = 'airalo', provider_sku = 'uae-7days-5gb' where id = 'ae-5gb-7d'")
        .execute(&app.db)
        .await
        .unwrap();
    app.state.catalog.reload(&app.db).await.unwrap();

    let response = app
        .order(&partner.key, &json!({"planId": "ae-5gb-7d", "quantity": 1}))
        .await;
    assert_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    assert_eq!(app.balance_cents(partner.id).await, 10_000);
    assert_eq!(order_count(&app, &partner).await, 0);
    // Plans on the simulator still sell.
    app.place(
        &partner.key,
        &json!({"planId": "ae-1gb-7d", "quantity": 1}),
        StatusCode::CREATED,
    )
    .await;
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_partner_hanging_up_mid_debit_does_not_leave_the_order_or_its_key_unsettled(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let body = json!({"planId": "ae-1gb-7d"});

    // Hold the partner's balance row, so the order's debit waits inside its transaction.
    let mut blocker = app.db.begin().await.unwrap();
    sqlx::query("select 1 from balances where partner_id = $1 for update")
        .bind(partner.id.0)
        .execute(&mut *blocker)
        .await
        .unwrap();

    // The partner gives up while the debit waits.
    let hasty = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let gave_up = hasty
        .post(format!("{}/v1/order", app.address))
        .bearer_auth(&partner.key)
        .header("idempotency-key", "hung-up")
        .json(&body)
        .send()
        .await;
    assert!(gave_up.unwrap_err().is_timeout());
    blocker.rollback().await.unwrap();

    // The order runs to the end without them: debited, provisioned, its answer stored.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let settled: i64 = sqlx::query_scalar(
            "select count(*) from idempotency_keys where key = 'hung-up' and response_status = 201",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
        if settled == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the order of a partner who hung up was not settled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status: String = sqlx::query_scalar("select status from orders where partner_id = $1")
        .bind(partner.id.0)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "completed");

    // The retry is answered with that order: one order, one debit.
    let retry = app.order_idempotently(&partner.key, "hung-up", &body).await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(order_count(&app, &partner).await, 1);
    app.assert_ledger_sound().await;
}

/// Orders completed at the same time are settled together (one statement): each still
/// gets its own eSIMs, its own stored answer, and exactly one debit.
#[sqlx::test]
async fn concurrent_orders_each_complete_with_their_own_esims_and_answer(db: PgPool) {
    let app = Arc::new(spawn_app(db).await);
    let partners = [
        app.create_partner("acme", "0", "1000.00").await,
        app.create_partner("globex", "0", "1000.00").await,
    ];
    let mut tasks = Vec::new();
    for i in 0..40 {
        let app = Arc::clone(&app);
        let key = partners[i % 2].key.clone();
        tasks.push(tokio::spawn(async move {
            let idempotency_key = format!("booking-{i}");
            let body = json!({"planId": "ae-5gb-7d", "quantity": i % 3 + 1});
            let response = app.order_idempotently(&key, &idempotency_key, &body).await;
            assert_eq!(response.status(), StatusCode::CREATED);
            let first = response.text().await.unwrap();
            (key, idempotency_key, body, first)
        }));
    }
    let mut iccids = std::collections::HashSet::new();
    let mut esims = 0;
    for task in tasks {
        let (key, idempotency_key, body, first) = task.await.unwrap();
        let placed: Value = serde_json::from_str(&first).unwrap();
        let data = &placed["data"];
        assert_eq!(data["status"], "completed");
        let quantity = data["quantity"].as_u64().unwrap() as usize;
        let issued = data["esims"].as_array().unwrap();
        assert_eq!(issued.len(), quantity);
        for esim in issued {
            assert!(iccids.insert(esim["iccid"].as_str().unwrap().to_owned()));
        }
        esims += quantity;
        // The answer stored with the settlement is the one sent, byte for byte.
        let replay = app.order_idempotently(&key, &idempotency_key, &body).await;
        assert_eq!(replay.status(), StatusCode::CREATED);
        assert_eq!(replay.headers()["idempotent-replayed"], "true");
        assert_eq!(replay.text().await.unwrap(), first);
    }
    let stored: i64 = sqlx::query_scalar("select count(*) from esims")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored, esims as i64);
    let debits: i64 =
        sqlx::query_scalar("select count(*) from ledger_entries where kind = 'order_debit'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(debits, 40);
    app.assert_ledger_sound().await;
}

async fn provider_orders(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from sim_orders")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[sqlx::test]
async fn an_order_outliving_the_request_time_limit_after_its_debit_answers_202_with_its_id(
    db: PgPool,
) {
    let app = spawn_app_with(db, |c| {
        c.http.request_timeout = Duration::from_millis(500);
        c.orders.provider_timeout = Duration::from_secs(5);
        c.simulator.latency = Duration::from_millis(1_500);
    })
    .await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let body = json!({"planId": "ae-5gb-7d"});

    // Debited, the provider still working: never "nothing was deducted".
    for key in [None, Some("late-1")] {
        let response = match key {
            Some(key) => app.order_idempotently(&partner.key, key, &body).await,
            None => app.order(&partner.key, &body).await,
        };
        let data = success_data(response, StatusCode::ACCEPTED).await;
        assert_eq!(data["status"], "processing");
        assert_eq!(data["esims"], json!([]));
        let order_id = data["orderId"].as_str().unwrap();
        // The order runs to its end without the request.
        wait_for_order(&app, &partner.key, order_id, "completed").await;
    }
    let replay = app.order_idempotently(&partner.key, "late-1", &body).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let settled = success_data(replay, StatusCode::CREATED).await;
    assert_eq!(settled["esims"].as_array().unwrap().len(), 1);
    assert_eq!(order_count(&app, &partner).await, 2);
    assert_eq!(app.balance_cents(partner.id).await, 10_000 - 2 * 750);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_request_timing_out_before_its_debit_is_503_and_a_late_debit_is_given_back(db: PgPool) {
    let app = spawn_app_with(db, |c| c.http.request_timeout = Duration::from_millis(500)).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let body = json!({"planId": "ae-5gb-7d"});

    // The debit waits on the partner's balance row past the request's time limit.
    let mut blocker = app.db.begin().await.unwrap();
    sqlx::query("select 1 from balances where partner_id = $1 for update")
        .bind(partner.id.0)
        .execute(&mut *blocker)
        .await
        .unwrap();
    let timed_out = app.order_idempotently(&partner.key, "stalled", &body).await;
    assert_error(
        timed_out,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    blocker.rollback().await.unwrap();

    // The debit commits after the partner was told nothing was deducted: it is refunded at
    // once, and no provider is called.
    let started = std::time::Instant::now();
    loop {
        let failed: i64 = sqlx::query_scalar(
            "select count(*) from orders where partner_id = $1 and status = 'failed'",
        )
        .bind(partner.id.0)
        .fetch_one(&app.db)
        .await
        .unwrap();
        if failed == 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the late debit was not given back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(provider_orders(&app).await, 0, "no provider call");
    assert_eq!(app.balance_cents(partner.id).await, 10_000);
    // As for any 503, a retry with the same key runs afresh.
    let retry = app.order_idempotently(&partner.key, "stalled", &body).await;
    assert!(retry.headers().get("idempotent-replayed").is_none());
    success_data(retry, StatusCode::CREATED).await;
    assert_eq!(app.balance_cents(partner.id).await, 10_000 - 750);
    app.assert_ledger_sound().await;
}

/// Waits until the partner's one order exists (debited) and returns its id.
async fn debited_order(app: &TestApp, partner: &TestPartner) -> uuid::Uuid {
    let started = std::time::Instant::now();
    loop {
        let id: Option<uuid::Uuid> =
            sqlx::query_scalar("select id from orders where partner_id = $1")
                .bind(partner.id.0)
                .fetch_optional(&app.db)
                .await
                .unwrap();
        if let Some(id) = id {
            return id;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never debited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// L2: while this request's provider call is slow, another server's reconciler finds the
/// order unknown upstream and refunds it. The request must answer the refund.
#[sqlx::test]
async fn an_order_refunded_elsewhere_during_its_provider_call_is_answered_as_refunded(db: PgPool) {
    let app = Arc::new(
        spawn_app_with(db, |c| {
            c.simulator.latency = Duration::from_millis(1_500);
            c.orders.provider_timeout = Duration::from_secs(5);
            c.orders.reconcile_poll = Duration::from_secs(3600);
        })
        .await,
    );
    let partner = app.create_partner("acme", "0", "100.00").await;
    let body = json!({"planId": "ae-5gb-7d"});
    let placing = {
        let (app, key, body) = (app.clone(), partner.key.clone(), body.clone());
        tokio::spawn(async move {
            let response = app.order_idempotently(&key, "raced", &body).await;
            (response.status(), response.text().await.unwrap())
        })
    };
    let order = debited_order(&app, &partner).await;
    // The reconciler of another server: the order is old, its job due, the simulator has
    // no record of it yet.
    sqlx::query("update orders set created_at = now() - interval '1 hour' where id = $1")
        .bind(order)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("update order_jobs set run_at = now() where order_id = $1")
        .bind(order)
        .execute(&app.db)
        .await
        .unwrap();
    tavaro::orders::reconcile::run_once(&app.state.orders)
        .await
        .unwrap();

    let (status, text) = placing.await.unwrap();
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["error"]["code"], "upstream_error");
    assert_eq!(answer["error"]["details"]["refunded"], true);
    let replay = app.order_idempotently(&partner.key, "raced", &body).await;
    assert_eq!(replay.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(
        replay.text().await.unwrap(),
        text,
        "the stored answer is the same"
    );
    assert_eq!(app.balance_cents(partner.id).await, 10_000);
    app.assert_ledger_sound().await;
}

/// L2: while this request's provider call is slow (and ends in a refusal), someone else
/// completes the order with its eSIM. The request must answer the completed order.
#[sqlx::test]
async fn an_order_completed_elsewhere_during_its_provider_call_is_answered_with_its_esims(
    db: PgPool,
) {
    let app = Arc::new(
        spawn_app_with(db, |c| {
            c.simulator.latency = Duration::from_millis(1_500);
            c.simulator.failure_rate = 1.0;
            c.orders.provider_timeout = Duration::from_secs(5);
        })
        .await,
    );
    let partner = app.create_partner("acme", "0", "100.00").await;
    let body = json!({"planId": "ae-5gb-7d"});
    let placing = {
        let (app, key, body) = (app.clone(), partner.key.clone(), body.clone());
        tokio::spawn(async move {
            let response = app.order_idempotently(&key, "raced", &body).await;
            (response.status(), response.text().await.unwrap())
        })
    };
    let order = debited_order(&app, &partner).await;
    let mut settler = app.db.begin().await.unwrap();
    sqlx::query("update orders set status = 'completed' where id = $1")
        .bind(order)
        .execute(&mut *settler)
        .await
        .unwrap();
    sqlx::query(
        "insert into esims (id, partner_id, order_id, iccid, smdp_address, activation_code,
                            qr_token, provider)
         values (gen_random_uuid(), $1, $2, '8901264426716552582', 'smdp.sim.tavaro.io',
                 'ELSEWHERE-1', 'Z3L9GpeleVVuSasqPCdBDxf0Ud', 'simulator')",
    )
    .bind(partner.id.0)
    .bind(order)
    .execute(&mut *settler)
    .await
    .unwrap();
    settler.commit().await.unwrap();

    let (status, text) = placing.await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["data"]["status"], "completed");
    assert_eq!(answer["data"]["esims"][0]["activationCode"], "ELSEWHERE-1");
    let replay = app.order_idempotently(&partner.key, "raced", &body).await;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.text().await.unwrap(), text);
    assert_eq!(
        app.balance_cents(partner.id).await,
        10_000 - 750,
        "not refunded"
    );
    app.assert_ledger_sound().await;
}

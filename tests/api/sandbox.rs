//! Sandbox (test mode): `tvr_test_` keys spend the partner's own sandbox balance, see the
//! live catalog at live prices, are fulfilled by the simulator whatever their plan names,
//! and never see a live object (nor live keys a sandbox one). `Sandbox-Outcome` forces the
//! outcomes partners must handle, and `/v1/sandbox/…` moves their eSIMs along.

use std::process::{Command, Output};
use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use tavaro::mode::Mode;
use tavaro::provider::roamify::Roamify;
use wiremock::MockServer;

use crate::helpers::{
    TestApp, TestPartner, assert_error, cents, database_url_of, spawn_app, success_data,
    wait_for_order,
};
use crate::providers::common::{self, Upstream, answer, plan_for_sku, sync_into};
use crate::providers::roamify::{INSTANT, authed, mount_catalog};

/// A partner's sandbox key, which the server knows when this returns.
async fn sandbox_key(app: &TestApp, partner: &TestPartner) -> String {
    let key = tavaro::auth::create_key_in(&app.db, partner.id, "Sandbox", Mode::Sandbox)
        .await
        .unwrap();
    app.sync_keys().await;
    key.token.expose().clone()
}

/// A partner with `credits` live dollars, its live key, and its sandbox key.
async fn partner_with_sandbox(app: &TestApp, name: &str, credits: &str) -> (TestPartner, String) {
    let partner = app.create_partner(name, "0", credits).await;
    let sandbox = sandbox_key(app, &partner).await;
    (partner, sandbox)
}

/// The `Tavaro-Mode` header of a response.
fn mode_of(response: &Response) -> Option<String> {
    response
        .headers()
        .get("tavaro-mode")
        .map(|v| v.to_str().unwrap().to_owned())
}

/// `GET path` with `key`: asserts 200 and `Tavaro-Mode: mode`, returns `data`.
async fn get_data(app: &TestApp, path: &str, key: &str, mode: &str) -> Value {
    let response = app.get(path, key).await;
    assert_eq!(mode_of(&response).as_deref(), Some(mode), "{path}");
    success_data(response, StatusCode::OK).await
}

/// The balance `GET /v1/balance` shows `key`, in cents.
async fn balance(app: &TestApp, key: &str) -> i64 {
    let response = app.get("/v1/balance", key).await;
    cents(&success_data(response, StatusCode::OK).await["balance"])
}

/// `GET /v1/balance/transactions` for `key`: the entries, newest first.
async fn transactions(app: &TestApp, key: &str) -> Vec<Value> {
    let data = success_data(
        app.get("/v1/balance/transactions?limit=100", key).await,
        StatusCode::OK,
    )
    .await;
    data.as_array().unwrap().clone()
}

/// The order ids of `GET /v1/orders` for `key`.
async fn order_ids(app: &TestApp, key: &str) -> Vec<String> {
    let data = success_data(app.get("/v1/orders?limit=100", key).await, StatusCode::OK).await;
    data.as_array()
        .unwrap()
        .iter()
        .map(|o| o["orderId"].as_str().unwrap().to_owned())
        .collect()
}

/// `POST /v1/order` with a `Sandbox-Outcome`.
async fn order_with_outcome(app: &TestApp, key: &str, outcome: &str, body: &Value) -> Response {
    app.client
        .post(format!("{}/v1/order", app.address))
        .bearer_auth(key)
        .header("sandbox-outcome", outcome)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[sqlx::test]
async fn a_sandbox_order_debits_only_the_sandbox_balance_and_a_live_order_only_the_live_one(
    db: PgPool,
) {
    let app = spawn_app(db).await;
    let (partner, sandbox) = partner_with_sandbox(&app, "acme", "100.00").await;
    let live = partner.key.as_str();
    assert!(sandbox.starts_with("tvr_test_"), "{sandbox}");

    // Two accounts: the sandbox opens with 1000.00 by a ledger entry of its own.
    let opened = get_data(&app, "/v1/balance", &sandbox, "sandbox").await;
    assert_eq!(cents(&opened["balance"]), 100_000);
    assert_eq!(balance(&app, live).await, 10_000);
    let sandbox_entries = transactions(&app, &sandbox).await;
    assert_eq!(sandbox_entries.len(), 1);
    assert_eq!(sandbox_entries[0]["kind"], "topup");
    assert_eq!(cents(&sandbox_entries[0]["amount"]), 100_000);
    let live_entries = transactions(&app, live).await;

    // The same catalog at the same prices.
    let live_plans = get_data(&app, "/v1/packages?country=AE", live, "live").await;
    let sandbox_plans = get_data(&app, "/v1/packages?country=AE", &sandbox, "sandbox").await;
    assert_eq!(live_plans, sandbox_plans);

    let response = app.order(&sandbox, &json!({"planId": "ae-1gb-7d"})).await;
    assert_eq!(mode_of(&response).as_deref(), Some("sandbox"));
    let order = success_data(response, StatusCode::CREATED).await;
    let cost = cents(&order["totalCost"]);
    assert!(cost > 0);
    assert_eq!(cents(&order["balance"]), 100_000 - cost);
    assert_eq!(balance(&app, &sandbox).await, 100_000 - cost);
    // Live money did not move.
    assert_eq!(balance(&app, live).await, 10_000);
    assert_eq!(app.balance_cents(partner.id).await, 10_000);
    assert_eq!(transactions(&app, live).await, live_entries);
    let sandbox_entries = transactions(&app, &sandbox).await;
    assert_eq!(sandbox_entries.len(), 2);
    assert_eq!(sandbox_entries[0]["kind"], "order_debit");
    assert_eq!(sandbox_entries[0]["orderId"], order["orderId"]);

    // And the other way round.
    let live_order = app
        .place(live, &json!({"planId": "ae-1gb-7d"}), StatusCode::CREATED)
        .await;
    assert_eq!(cents(&live_order["balance"]), 10_000 - cost);
    assert_eq!(balance(&app, &sandbox).await, 100_000 - cost);
    assert_eq!(transactions(&app, &sandbox).await, sandbox_entries);

    // A quote reads the balance of the key's mode.
    let quote = |key: String| {
        let app = &app;
        async move {
            success_data(
                app.post_json("/v1/order/quote", &key, &json!({"planId": "ae-1gb-7d"}))
                    .await,
                StatusCode::OK,
            )
            .await
        }
    };
    assert_eq!(
        cents(&quote(sandbox.clone()).await["balance"]),
        100_000 - cost
    );
    assert_eq!(
        cents(&quote(live.to_owned()).await["balance"]),
        10_000 - cost
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn orders_esims_transactions_and_idempotency_keys_of_one_mode_are_invisible_to_the_other(
    db: PgPool,
) {
    let app = spawn_app(db).await;
    let (partner, sandbox) = partner_with_sandbox(&app, "acme", "100.00").await;
    let live = partner.key.as_str();
    let body = json!({"planId": "ae-1gb-7d", "reference": "BK-1"});

    // One Idempotency-Key string, two modes: two independent orders, each debited once.
    let first_live = app.order_idempotently(live, "BK-1-attempt", &body).await;
    let live_order = success_data(first_live, StatusCode::CREATED).await;
    let first_sandbox = app
        .order_idempotently(&sandbox, "BK-1-attempt", &body)
        .await;
    assert!(
        first_sandbox.headers().get("idempotent-replayed").is_none(),
        "a live key's answer was replayed to a sandbox request"
    );
    let sandbox_order = success_data(first_sandbox, StatusCode::CREATED).await;
    assert_ne!(live_order["orderId"], sandbox_order["orderId"]);
    let cost = cents(&live_order["totalCost"]);
    assert_eq!(balance(&app, live).await, 10_000 - cost);
    assert_eq!(balance(&app, &sandbox).await, 100_000 - cost);
    // Each replay answers its own mode's order.
    for (key, order) in [(live, &live_order), (sandbox.as_str(), &sandbox_order)] {
        let replay = app.order_idempotently(key, "BK-1-attempt", &body).await;
        assert_eq!(replay.headers()["idempotent-replayed"], "true");
        let replayed = success_data(replay, StatusCode::CREATED).await;
        assert_eq!(replayed["orderId"], order["orderId"]);
    }
    assert_eq!(balance(&app, live).await, 10_000 - cost);
    assert_eq!(balance(&app, &sandbox).await, 100_000 - cost);

    let live_id = live_order["orderId"].as_str().unwrap();
    let sandbox_id = sandbox_order["orderId"].as_str().unwrap();
    let live_esim = live_order["esims"][0]["esimId"].as_str().unwrap();
    let sandbox_esim = sandbox_order["esims"][0]["esimId"].as_str().unwrap();
    for (key, own_order, own_esim, other_order, other_esim, mode) in [
        (live, live_id, live_esim, sandbox_id, sandbox_esim, "live"),
        (
            sandbox.as_str(),
            sandbox_id,
            sandbox_esim,
            live_id,
            live_esim,
            "sandbox",
        ),
    ] {
        // Its own objects, and nothing of the other mode: 404 as for another partner's.
        get_data(&app, &format!("/v1/orders/{own_order}"), key, mode).await;
        get_data(&app, &format!("/v1/esim/{own_esim}"), key, mode).await;
        let response = app.get(&format!("/v1/orders/{other_order}"), key).await;
        assert_eq!(mode_of(&response).as_deref(), Some(mode));
        assert_error(response, StatusCode::NOT_FOUND, "order_not_found").await;
        let response = app.get(&format!("/v1/esim/{other_esim}"), key).await;
        assert_error(response, StatusCode::NOT_FOUND, "esim_not_found").await;
        assert_eq!(order_ids(&app, key).await, [own_order]);
        let by_reference = get_data(&app, "/v1/orders?reference=BK-1", key, mode).await;
        assert_eq!(by_reference.as_array().unwrap().len(), 1);
        assert_eq!(by_reference[0]["orderId"], own_order);
        let order_entries: Vec<Value> = transactions(&app, key)
            .await
            .into_iter()
            .filter_map(|t| (!t["orderId"].is_null()).then(|| t["orderId"].clone()))
            .collect();
        assert_eq!(order_entries, [json!(own_order)]);
    }

    // The schema refuses a sandbox debit of a live order, whatever a statement says.
    let err = sqlx::query(
        "insert into ledger_entries (partner_id, mode, kind, amount_cents, balance_after_cents,
                                     order_id)
         values ($1, 'sandbox', 'refund', 450, 100450, $2)",
    )
    .bind(partner.id.0)
    .bind(uuid::Uuid::parse_str(live_id).unwrap())
    .execute(&app.db)
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("ledger_entries_order_partner_fk"),
        "{err}"
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_sandbox_order_of_a_plan_routed_to_a_real_upstream_never_calls_it_and_delivers_a_well_formed_esim(
    db: PgPool,
) {
    let server = MockServer::start().await;
    mount_catalog(&server).await;
    // Were any order to reach it, Roamify would refuse it (502, refunded).
    authed("POST", INSTANT)
        .respond_with(answer(
            404,
            Roamify::fixture("error_package_not_found.json"),
        ))
        .mount(&server)
        .await;
    let upstream = Roamify::config(&server);
    let app = common::spawn_gateway(db, move |c| Roamify::route(c, upstream)).await;
    sync_into(&app, "roamify").await;
    let plan = plan_for_sku(&app.db, "roamify", crate::providers::roamify::SKU).await;
    let (partner, sandbox) = partner_with_sandbox(&app, "acme", "100.00").await;
    let calls = || async { server.received_requests().await.unwrap().len() };
    let before = calls().await;

    let order = app
        .place(&sandbox, &json!({"planId": plan}), StatusCode::CREATED)
        .await;
    let esim = &order["esims"][0];
    let iccid = esim["iccid"].as_str().unwrap();
    assert_eq!(iccid.len(), 19);
    assert!(iccid.starts_with("89"));
    assert!(tavaro::provider::simulator::luhn_valid(iccid), "{iccid}");
    let lpa = esim["lpaCode"].as_str().unwrap();
    assert_eq!(
        lpa,
        format!(
            "LPA:1${}${}",
            esim["smdpAddress"].as_str().unwrap(),
            esim["activationCode"].as_str().unwrap()
        )
    );
    let png = app
        .client
        .get(esim["qrCodeUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let image = image::load_from_memory(&png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        image.width() as usize,
        image.height() as usize,
        |x, y| image.get_pixel(x as u32, y as u32).0[0],
    );
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    assert_eq!(grids[0].decode().unwrap().1, lpa);
    // Its status is the simulator's too.
    let id = esim["esimId"].as_str().unwrap();
    let view = get_data(&app, &format!("/v1/esim/{id}"), &sandbox, "sandbox").await;
    assert_eq!(view["status"], "READY");
    assert_eq!(
        calls().await,
        before,
        "a sandbox order reached the upstream"
    );

    // The same plan with a live key does go upstream (here refused, and refunded).
    let response = app.order(&partner.key, &json!({"planId": plan})).await;
    assert_error(response, StatusCode::BAD_GATEWAY, "upstream_error").await;
    assert!(
        calls().await > before,
        "the live order never reached the mock"
    );
    assert_eq!(app.balance_cents(partner.id).await, 10_000);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn each_sandbox_outcome_answers_as_documented_and_moves_the_sandbox_ledger_accordingly(
    db: PgPool,
) {
    let app = spawn_app(db).await;
    let (partner, sandbox) = partner_with_sandbox(&app, "acme", "100.00").await;
    let body = json!({"planId": "ae-1gb-7d"});
    let entries = |n: usize| {
        let app = &app;
        let sandbox = sandbox.clone();
        async move {
            let found = transactions(app, &sandbox).await;
            assert_eq!(found.len(), n, "{found:#?}");
            found
        }
    };

    // service_unavailable: 503, nothing debited, no order.
    let response = order_with_outcome(&app, &sandbox, "service_unavailable", &body).await;
    assert_eq!(mode_of(&response).as_deref(), Some("sandbox"));
    assert_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    assert_eq!(balance(&app, &sandbox).await, 100_000);
    assert!(order_ids(&app, &sandbox).await.is_empty());
    entries(1).await;

    // upstream_error: 502, refunded; the order is failed.
    let response = order_with_outcome(&app, &sandbox, "upstream_error", &body).await;
    let refused = assert_error(response, StatusCode::BAD_GATEWAY, "upstream_error").await;
    assert_eq!(refused["error"]["details"]["refunded"], true);
    assert_eq!(balance(&app, &sandbox).await, 100_000);
    let found = entries(3).await;
    assert_eq!(found[0]["kind"], "refund");
    assert_eq!(found[1]["kind"], "order_debit");
    assert_eq!(found[0]["orderId"], found[1]["orderId"]);
    let failed = found[0]["orderId"].as_str().unwrap();
    let failed = get_data(&app, &format!("/v1/orders/{failed}"), &sandbox, "sandbox").await;
    assert_eq!(failed["status"], "failed");

    // processing: 202 without eSIMs, debited, then completed by reconciliation in 10 s.
    let response = order_with_outcome(&app, &sandbox, "processing", &body).await;
    let open = success_data(response, StatusCode::ACCEPTED).await;
    assert_eq!(open["status"], "processing");
    assert_eq!(open["esims"], json!([]));
    let cost = cents(&open["totalCost"]);
    assert_eq!(balance(&app, &sandbox).await, 100_000 - cost);
    let started = std::time::Instant::now();
    let settled = wait_for_order(
        &app,
        &sandbox,
        open["orderId"].as_str().unwrap(),
        "completed",
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(settled["esims"].as_array().unwrap().len(), 1);
    assert_eq!(balance(&app, &sandbox).await, 100_000 - cost);
    entries(4).await;

    // An outcome we do not know is refused before anything happens.
    let response = order_with_outcome(&app, &sandbox, "teapot", &body).await;
    let refused = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(
        refused["error"]["details"]["fields"][0]["field"],
        "Sandbox-Outcome"
    );
    entries(4).await;
    // The live account saw none of it.
    assert_eq!(app.balance_cents(partner.id).await, 10_000);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_live_key_sending_sandbox_outcome_is_refused_and_nothing_is_debited(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    for outcome in ["upstream_error", "processing", "service_unavailable"] {
        let response =
            order_with_outcome(&app, &partner.key, outcome, &json!({"planId": "ae-1gb-7d"})).await;
        assert_eq!(mode_of(&response).as_deref(), Some("live"));
        let refused = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert_eq!(
            refused["error"]["details"]["fields"][0]["field"],
            "Sandbox-Outcome"
        );
    }
    assert_eq!(app.balance_cents(partner.id).await, 10_000);
    assert!(order_ids(&app, &partner.key).await.is_empty());
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn simulation_moves_a_sandbox_esim_through_its_statuses_and_sets_the_sandbox_balance(
    db: PgPool,
) {
    let app = spawn_app(db).await;
    let (partner, sandbox) = partner_with_sandbox(&app, "acme", "100.00").await;
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
        let app = &app;
        let path = format!("/v1/sandbox/esims/{id}/usage");
        let key = sandbox.clone();
        async move { app.post_json(&path, &key, &json!({ "mb": mb })).await }
    };

    let active = success_data(usage(first, 500).await, StatusCode::OK).await;
    assert_eq!(active["esimId"], first);
    assert_eq!(active["status"], "ACTIVE");
    assert_eq!(active["dataUsedMb"], 500);
    assert!(active["activatedAt"].is_string() && active["expiresAt"].is_string());
    let total = active["dataTotalMb"].as_i64().unwrap();
    assert_eq!(active["dataRemainingMb"], total - 500);
    let depleted = success_data(usage(first, total).await, StatusCode::OK).await;
    assert_eq!(depleted["status"], "DEPLETED");
    assert_eq!(depleted["dataRemainingMb"], 0);
    let read = get_data(&app, &format!("/v1/esim/{first}"), &sandbox, "sandbox").await;
    assert_eq!(read["status"], "DEPLETED");

    let response = app
        .post_json(
            &format!("/v1/sandbox/esims/{second}/expire"),
            &sandbox,
            &json!({}),
        )
        .await;
    let expired = success_data(response, StatusCode::OK).await;
    assert_eq!(expired["status"], "EXPIRED");
    let read = get_data(&app, &format!("/v1/esim/{second}"), &sandbox, "sandbox").await;
    assert_eq!(read["status"], "EXPIRED");
    let response = usage(first, 0).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;

    // The sandbox balance is set by one adjustment entry.
    let response = app
        .post_json("/v1/sandbox/balance", &sandbox, &json!({"balance": 250.0}))
        .await;
    let set = success_data(response, StatusCode::OK).await;
    assert_eq!(cents(&set["balance"]), 25_000);
    assert_eq!(set["currency"], "USD");
    assert_eq!(balance(&app, &sandbox).await, 25_000);
    let newest = &transactions(&app, &sandbox).await[0];
    assert_eq!(newest["kind"], "adjustment");
    assert_eq!(cents(&newest["balanceAfter"]), 25_000);
    let response = app
        .post_json("/v1/sandbox/balance", &sandbox, &json!({"balance": 0.001}))
        .await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    // Zero: the next order is short of credits.
    let response = app
        .post_json("/v1/sandbox/balance", &sandbox, &json!({"balance": 0}))
        .await;
    success_data(response, StatusCode::OK).await;
    let response = app.order(&sandbox, &json!({"planId": "ae-1gb-7d"})).await;
    assert_error(
        response,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_credits",
    )
    .await;

    // A live key may not simulate anything, not even on its own eSIMs.
    let live = partner.key.as_str();
    let live_order = app
        .place(live, &json!({"planId": "ae-1gb-7d"}), StatusCode::CREATED)
        .await;
    let live_esim = live_order["esims"][0]["esimId"].as_str().unwrap();
    for (path, body) in [
        (
            format!("/v1/sandbox/esims/{live_esim}/usage"),
            json!({"mb": 500}),
        ),
        (format!("/v1/sandbox/esims/{live_esim}/expire"), json!({})),
        ("/v1/sandbox/balance".to_owned(), json!({"balance": 250.0})),
    ] {
        let response = app.post_json(&path, live, &body).await;
        assert_eq!(mode_of(&response).as_deref(), Some("live"));
        assert_error(response, StatusCode::FORBIDDEN, "sandbox_only").await;
    }
    let read = get_data(&app, &format!("/v1/esim/{live_esim}"), live, "live").await;
    assert_eq!(read["status"], "READY");
    assert_eq!(
        app.balance_cents(partner.id).await,
        10_000 - cents(&live_order["totalCost"])
    );
    // A sandbox key cannot reach a live eSIM either.
    let response = usage(live_esim, 500).await;
    assert_error(response, StatusCode::NOT_FOUND, "esim_not_found").await;
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_malformed_or_relabelled_sandbox_key_is_refused_without_a_query(db: PgPool) {
    let app = spawn_app(db).await;
    let (partner, sandbox) = partner_with_sandbox(&app, "acme", "100.00").await;
    let keys = &app.state.keys;

    // A typo: the checksum refuses it from memory.
    let mut typo = sandbox.clone().into_bytes();
    let i = typo.len() - 10;
    typo[i] = if typo[i] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    // A live key's parts under the sandbox prefix, with a valid checksum: well formed,
    // and refused by its fast verifier, also from memory.
    let parsed = tavaro::auth::parse_key(&partner.key).unwrap();
    let relabelled = tavaro::auth::assemble_key_in(Mode::Sandbox, parsed.lookup_id, parsed.secret);
    let (queries, early) = (keys.lookup_queries(), keys.rejected_early());
    for bad in [&typo, &relabelled] {
        let response = app.get("/v1/balance", bad).await;
        assert!(
            mode_of(&response).is_none(),
            "an unauthenticated answer names a mode"
        );
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    assert_eq!(keys.lookup_queries(), queries, "a refused key cost a query");
    assert_eq!(keys.rejected_early(), early + 2);
    // The real one works.
    get_data(&app, "/v1/balance", &sandbox, "sandbox").await;
}

/// Runs the real `tavaro` binary against the app's database.
fn tavaro(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tavaro"))
        .args(args)
        .env("DATABASE_URL", database_url_of(&app.db))
        .env_remove("RUST_LOG")
        .output()
        .expect("the tavaro binary runs")
}

#[sqlx::test]
async fn key_create_makes_a_sandbox_key_key_list_shows_modes_and_ledger_verify_names_the_mode(
    db: PgPool,
) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let output = tavaro(
        &app,
        &[
            "key",
            "create",
            "--partner",
            "acme",
            "--label",
            "Test",
            "--sandbox",
            "--json",
        ],
    );
    assert!(output.status.success(), "{output:?}");
    let created: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(created["mode"], "sandbox");
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("tvr_test_"), "{key}");
    let output = tavaro(
        &app,
        &[
            "key",
            "create",
            "--partner",
            "acme",
            "--label",
            "Live",
            "--json",
        ],
    );
    let live: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(live["mode"], "live");
    assert!(!live["key"].as_str().unwrap().starts_with("tvr_test_"));

    let output = tavaro(&app, &["key", "list", "--partner", "acme", "--json"]);
    let listed: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    let modes: Vec<(&str, &str)> = listed
        .iter()
        .map(|k| (k["label"].as_str().unwrap(), k["mode"].as_str().unwrap()))
        .collect();
    assert!(modes.contains(&("Test", "sandbox")), "{modes:?}");
    assert!(modes.contains(&("Live", "live")), "{modes:?}");
    assert!(modes.contains(&("Production", "live")), "{modes:?}");
    let sandbox_prefix = listed.iter().find(|k| k["mode"] == "sandbox").unwrap()["prefix"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(sandbox_prefix.starts_with("tvr_test_"), "{sandbox_prefix}");
    let table =
        String::from_utf8(tavaro(&app, &["key", "list", "--partner", "acme"]).stdout).unwrap();
    assert!(
        table.contains("MODE") && table.contains("sandbox"),
        "{table}"
    );

    // The sandbox account opened by the key is sound, and the CLI key works over HTTP.
    app.sync_keys().await;
    app.place(&key, &json!({"planId": "ae-1gb-7d"}), StatusCode::CREATED)
        .await;
    let ok = tavaro(&app, &["ledger", "verify"]);
    assert!(ok.status.success(), "{ok:?}");

    // A sandbox balance that disagrees with its ledger is named with its mode.
    sqlx::query(
        "update balances set balance_cents = balance_cents - 50
         where partner_id = $1 and mode = 'sandbox'",
    )
    .bind(partner.id.0)
    .execute(&app.db)
    .await
    .unwrap();
    let report = tavaro::ledger::verify(&app.db).await.unwrap();
    assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
    assert_eq!(report.findings[0].mode, Some(Mode::Sandbox));
    assert!(
        report.findings[0].problem.contains("sandbox"),
        "{:?}",
        report.findings[0]
    );
    let broken = tavaro(&app, &["ledger", "verify"]);
    assert!(!broken.status.success());
    let out = String::from_utf8_lossy(&broken.stdout);
    assert!(out.contains("sandbox balance"), "{out}");
    assert!(out.contains(&partner.id.to_string()), "{out}");
}

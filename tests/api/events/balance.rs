//! The low-balance alert (`GET|PUT /v1/balance/alert`, one per mode) and `balance.low`:
//! told by the debit that takes the balance from at or above the threshold to below it,
//! once per crossing, whether the order debit's single statement or another ledger
//! debit (the sandbox balance set lower) crosses it.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tavaro::ledger::{self, EntryKind, NewEntry};
use tavaro::mode::Account;
use tavaro::money::Cents;

use super::{delivered_to, endpoint, events_of, sandbox_key, told};
use crate::helpers::server::Server;
use crate::helpers::{
    TestApp, assert_error, assert_ledger_sound, cents, create_partner, import_demo_catalog,
    spawn_app, success_data, wait_for_lock_waiters,
};

/// `PUT /v1/balance/alert` with `body`.
async fn put_alert(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .put(format!("{}/v1/balance/alert", app.address))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The threshold `GET /v1/balance/alert` shows `key`, in cents.
async fn alert(app: &TestApp, key: &str) -> i64 {
    let data = success_data(app.get("/v1/balance/alert", key).await, StatusCode::OK).await;
    cents(&data["threshold"])
}

#[sqlx::test]
async fn the_alert_is_read_and_set_per_mode_and_a_bad_threshold_is_refused_naming_it(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let sandbox = sandbox_key(&app, &partner).await;
    assert_eq!(alert(&app, &partner.key).await, 0, "off until set");

    let set = success_data(
        put_alert(&app, &partner.key, &json!({"threshold": 100.0})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(set, json!({"threshold": 100}));
    assert_eq!(alert(&app, &partner.key).await, 10_000);
    assert_eq!(alert(&app, &sandbox).await, 0, "the sandbox has its own");
    success_data(
        put_alert(&app, &sandbox, &json!({"threshold": 12.34})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(alert(&app, &sandbox).await, 1_234);
    assert_eq!(alert(&app, &partner.key).await, 10_000);

    for body in [
        json!({"threshold": -1}),
        json!({"threshold": 0.001}),
        json!({"threshold": "100"}),
        json!({"threshold": 1_000_000.01}),
        json!({}),
        json!({"threshold": 5, "colour": "red"}),
    ] {
        let refused = assert_error(
            put_alert(&app, &partner.key, &body).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
        let field = &refused["error"]["details"]["fields"][0]["field"];
        assert!(
            field == "threshold" || field == "colour",
            "{body}: {refused}"
        );
    }
    assert_eq!(alert(&app, &partner.key).await, 10_000, "nothing changed");

    // 0 turns it off; the operator's `tavaro partner low-balance` sets the same one.
    success_data(
        put_alert(&app, &partner.key, &json!({"threshold": 0})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(alert(&app, &partner.key).await, 0);
    tavaro::partners::set_low_balance_threshold(&app.db, partner.id, Cents::new(5_000))
        .await
        .unwrap();
    assert_eq!(alert(&app, &partner.key).await, 5_000);
}

#[sqlx::test]
async fn balance_low_is_told_once_per_crossing_by_order_debits(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "20.00").await;
    let hooked = endpoint(&app.db, partner.id, "live", Some(&["balance.low"])).await;
    success_data(
        put_alert(&app, &partner.key, &json!({"threshold": 10})).await,
        StatusCode::OK,
    )
    .await;
    let low = || async { events_of(&app.db, partner.id, "balance.low").await };
    let order = |plan: &'static str| {
        let (app, key) = (&app, partner.key.clone());
        async move { app.order(&key, &json!({ "planId": plan })).await }
    };

    // 20.00 → 12.50: above. 12.50 → 5.00: crossed, told. 5.00 → 0.50: below already.
    success_data(order("ae-5gb-7d").await, StatusCode::CREATED).await;
    assert!(low().await.is_empty());
    success_data(order("ae-5gb-7d").await, StatusCode::CREATED).await;
    assert_eq!(low().await, [told("balance.low", "live", None)]);
    success_data(order("ae-1gb-7d").await, StatusCode::CREATED).await;
    assert_error(
        order("ae-5gb-7d").await,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_credits",
    )
    .await;
    assert_eq!(low().await.len(), 1, "two debits below, one crossing");
    assert_eq!(delivered_to(&app.db, hooked).await, ["balance.low"]);

    // Credits bought: above again (no event for a credit), and the next crossing is told.
    let mut tx = app.db.begin().await.unwrap();
    ledger::post(
        &mut tx,
        NewEntry {
            account: Account::live(partner.id),
            kind: EntryKind::Topup,
            amount: Cents::new(2_000),
            order: None,
            esim: None,
            note: Some("test credits"),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    success_data(order("ae-5gb-7d").await, StatusCode::CREATED).await;
    assert_eq!(low().await.len(), 1, "20.50 → 13.00 stays above");
    success_data(order("ae-5gb-7d").await, StatusCode::CREATED).await;
    assert_eq!(low().await.len(), 2, "13.00 → 5.50 crosses again");
    assert_eq!(app.balance_cents(partner.id).await, 550);
    app.assert_ledger_sound().await;
}

/// An order whose debit crosses the threshold while the partner deletes the endpoint
/// subscribed to `balance.low`: the order is placed by its batch statement and the event
/// kept, with no delivery to the endpoint that is gone. (The fan-out read the endpoint
/// without the foreign key's lock, then failed on that key: the whole batch statement
/// failed and each of its orders was debited again alone.)
#[sqlx::test]
async fn an_order_crossing_the_threshold_while_its_endpoint_is_deleted_is_placed(db: PgPool) {
    import_demo_catalog(&db).await;
    let partner = create_partner(&db, "acme", "0", "20.00").await;
    let hooked = endpoint(&db, partner.id, "live", Some(&["balance.low"])).await;
    tavaro::partners::set_low_balance_threshold(&db, partner.id, Cents::new(1_000))
        .await
        .unwrap();
    let server = Server::start(&db, &[("RUST_LOG", "warn")]).await;
    let body = json!({"planId": "ae-5gb-7d"});
    // 20.00 → 12.50: above.
    success_data(
        server.order(&partner, "first", &body).await.unwrap(),
        StatusCode::CREATED,
    )
    .await;
    // The partner's DELETE of the endpoint, not committed yet.
    let mut delete = db.begin().await.unwrap();
    let deleted = sqlx::query("delete from webhook_endpoints where id = $1")
        .bind(hooked)
        .execute(&mut *delete)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(deleted, 1);
    // 12.50 → 5.00 crosses: its fan-out waits for the delete.
    let crossing = server.order(&partner, "second", &body);
    let (answer, ()) = tokio::join!(crossing, async {
        wait_for_lock_waiters(&db, 1).await;
        delete.commit().await.unwrap();
    });
    success_data(answer.unwrap(), StatusCode::CREATED).await;
    assert_eq!(
        events_of(&db, partner.id, "balance.low").await,
        [told("balance.low", "live", None)]
    );
    assert!(delivered_to(&db, hooked).await.is_empty());
    let failed: Vec<String> = server
        .output
        .lock()
        .unwrap()
        .iter()
        .filter(|line| line.contains("debiting orders together failed"))
        .cloned()
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert_ledger_sound(&db).await;
}

#[sqlx::test]
async fn balance_low_is_told_in_sandbox_by_any_debit_and_never_when_the_alert_is_off(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let sandbox = sandbox_key(&app, &partner).await;
    let set_balance = |dollars: f64| {
        let (app, key) = (&app, sandbox.clone());
        async move {
            let response = app
                .post_json("/v1/sandbox/balance", &key, &json!({ "balance": dollars }))
                .await;
            success_data(response, StatusCode::OK).await;
        }
    };
    let low = || async { events_of(&app.db, partner.id, "balance.low").await };

    // The alert off (0): a fall to zero tells nothing.
    set_balance(0.0).await;
    set_balance(1000.0).await;
    assert!(low().await.is_empty());

    success_data(
        put_alert(&app, &sandbox, &json!({"threshold": 500})).await,
        StatusCode::OK,
    )
    .await;
    // An adjustment entry (`ledger::post`) that crosses: told, in sandbox mode.
    set_balance(400.0).await;
    assert_eq!(low().await, [told("balance.low", "sandbox", None)]);
    set_balance(300.0).await;
    assert_eq!(low().await.len(), 1);
    // Above again, then an order's debit crosses.
    set_balance(600.0).await;
    let response = app
        .order(&sandbox, &json!({"planId": "ae-20gb-30d", "quantity": 3}))
        .await;
    success_data(response, StatusCode::CREATED).await;
    assert_eq!(
        low().await,
        [
            told("balance.low", "sandbox", None),
            told("balance.low", "sandbox", None),
        ]
    );
    // The live account's threshold is its own (0): live debits tell nothing.
    success_data(
        app.order(
            &partner.key,
            &json!({"planId": "ae-20gb-30d", "quantity": 2}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(low().await.len(), 2);
    app.assert_ledger_sound().await;
}

//! What partners reconcile against: order history, one order, ledger transactions, quotes.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{
    TestApp, TestPartner, assert_error, cents, spawn_app, spawn_app_with, success_data,
};

async fn page(app: &TestApp, partner: &TestPartner, path: &str) -> (Vec<Value>, Option<String>) {
    let response = app.get(path, &partner.key).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "success");
    let next = body["meta"]["nextCursor"].as_str().map(str::to_owned);
    assert!(
        body["meta"].get("nextCursor").is_some(),
        "meta.nextCursor is always present"
    );
    (body["data"].as_array().unwrap().clone(), next)
}

#[sqlx::test]
async fn orders_are_listed_newest_first_in_stable_pages(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let other = app.create_partner("other", "0", "100.00").await;
    app.place(
        &other.key,
        &json!({"planId": "ae-1gb-7d"}),
        StatusCode::CREATED,
    )
    .await;
    let mut placed = Vec::new();
    for i in 0..5 {
        let order = app
            .place(
                &partner.key,
                &json!({"planId": "ae-1gb-7d", "reference": format!("R{i}")}),
                StatusCode::CREATED,
            )
            .await;
        placed.push(order["orderId"].as_str().unwrap().to_owned());
    }
    placed.reverse(); // newest first

    let mut seen = Vec::new();
    let mut path = "/v1/orders?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let (items, next) = page(&app, &partner, &path).await;
        pages += 1;
        assert!(items.len() <= 2);
        for item in &items {
            for field in [
                "orderId",
                "status",
                "planId",
                "quantity",
                "unitCost",
                "totalCost",
                "createdAt",
                "reference",
            ] {
                assert!(item.get(field).is_some(), "{field} missing: {item}");
            }
            assert!(item.get("esims").is_none(), "the list view has no eSIMs");
            seen.push(item["orderId"].as_str().unwrap().to_owned());
        }
        match next {
            Some(cursor) => path = format!("/v1/orders?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen, placed,
        "every order once, newest first, none of the other partner's"
    );

    let (all, next) = page(&app, &partner, "/v1/orders").await;
    assert_eq!((all.len(), next), (5, None), "default limit 20");
}

#[sqlx::test]
async fn orders_filter_by_status_reference_and_time(db: PgPool) {
    let app = spawn_app(db.clone()).await;
    let failing = spawn_app_with(db, |c| c.simulator.failure_rate = 1.0).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let early = app
        .place(
            &partner.key,
            &json!({"planId": "ae-1gb-7d", "reference": "BK-1"}),
            StatusCode::CREATED,
        )
        .await;
    // `createdAt` has whole seconds: the first order is moved an hour back, rather than
    // the test waiting a second, so the two fall on either side of the later one's time.
    sqlx::query("update orders set created_at = created_at - interval '1 hour' where id = $1")
        .bind(uuid::Uuid::parse_str(early["orderId"].as_str().unwrap()).unwrap())
        .execute(&app.db)
        .await
        .unwrap();
    let late = app
        .place(
            &partner.key,
            &json!({"planId": "ae-1gb-7d", "reference": "BK-2"}),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(
        failing
            .order(
                &partner.key,
                &json!({"planId": "ae-1gb-7d", "reference": "BK-3"})
            )
            .await
            .status(),
        StatusCode::BAD_GATEWAY
    );

    let (failed, _) = page(&app, &partner, "/v1/orders?status=failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["reference"], "BK-3");
    let (completed, _) = page(&app, &partner, "/v1/orders?status=completed").await;
    assert_eq!(completed.len(), 2);
    let (by_reference, _) = page(&app, &partner, "/v1/orders?reference=BK-1").await;
    assert_eq!(by_reference.len(), 1);
    assert_eq!(by_reference[0]["orderId"], early["orderId"]);

    let from = late["createdAt"].as_str().unwrap();
    let (since, _) = page(
        &app,
        &partner,
        &format!("/v1/orders?from={from}&status=completed"),
    )
    .await;
    assert_eq!(since.len(), 1);
    assert_eq!(since[0]["orderId"], late["orderId"]);
    let (before, _) = page(&app, &partner, &format!("/v1/orders?to={from}")).await;
    assert_eq!(before.len(), 1);
    assert_eq!(before[0]["orderId"], early["orderId"]);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn bad_history_parameters_are_400_naming_the_parameter(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "0").await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("cursor=garbage", "cursor"),
        ("status=done", "status"),
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("cursor=", "cursor"),
        ("reference=", "reference"),
        ("page=2", "page"),
    ] {
        let response = app.get(&format!("/v1/orders?{query}"), &partner.key).await;
        let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert_eq!(
            body["error"]["details"]["fields"][0]["field"], field,
            "{query}"
        );
    }
    // An empty range is not an error: it matches nothing.
    let empty = app
        .get(
            "/v1/orders?from=2026-11-22T12:00:00Z&to=2026-11-21T12:00:00Z",
            &partner.key,
        )
        .await;
    assert_eq!(empty.status(), StatusCode::OK);
    assert_eq!(empty.json::<Value>().await.unwrap()["data"], json!([]));
    for (query, field) in [
        ("limit=0", "limit"),
        ("cursor=o1.1.x", "cursor"),
        ("kind=topup", "kind"),
    ] {
        let response = app
            .get(&format!("/v1/balance/transactions?{query}"), &partner.key)
            .await;
        let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert_eq!(
            body["error"]["details"]["fields"][0]["field"], field,
            "{query}"
        );
    }
}

#[sqlx::test]
async fn one_order_shows_its_esims_and_only_to_its_owner(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let other = app.create_partner("other", "0", "0").await;
    let placed = app
        .place(
            &partner.key,
            &json!({"planId": "ae-5gb-7d", "quantity": 2, "customerEmail": "t@example.com"}),
            StatusCode::CREATED,
        )
        .await;
    let id = placed["orderId"].as_str().unwrap();
    let order = success_data(
        app.get(&format!("/v1/orders/{id}"), &partner.key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(order["orderId"], id);
    assert_eq!(order["status"], "completed");
    assert_eq!(order["customerEmail"], "t@example.com");
    assert_eq!(order["totalCost"], json!(15));
    assert_eq!(order["esims"], placed["esims"]);

    assert_error(
        app.get(&format!("/v1/orders/{id}"), &other.key).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
    assert_error(
        app.get("/v1/orders/not-a-uuid", &partner.key).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    )
    .await;
}

#[sqlx::test]
async fn transactions_list_every_ledger_entry_newest_first(db: PgPool) {
    let app = spawn_app(db.clone()).await;
    let failing = spawn_app_with(db, |c| c.simulator.failure_rate = 1.0).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let ok = app
        .place(
            &partner.key,
            &json!({"planId": "ae-5gb-7d"}),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(
        failing
            .order(&partner.key, &json!({"planId": "ae-1gb-7d"}))
            .await
            .status(),
        StatusCode::BAD_GATEWAY
    );

    let (entries, next) = page(&app, &partner, "/v1/balance/transactions").await;
    assert_eq!(next, None);
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["refund", "order_debit", "order_debit", "topup"]);
    let amounts: Vec<i64> = entries.iter().map(|e| cents(&e["amount"])).collect();
    assert_eq!(amounts, [450, -450, -750, 10_000]);
    let after: Vec<i64> = entries.iter().map(|e| cents(&e["balanceAfter"])).collect();
    assert_eq!(after, [9_250, 8_800, 9_250, 10_000]);
    assert_eq!(entries[2]["orderId"], ok["orderId"]);
    assert_eq!(entries[0]["orderId"], entries[1]["orderId"]);
    assert!(entries[3]["orderId"].is_null());
    assert!(
        entries
            .iter()
            .all(|e| e["id"].is_string() && e["createdAt"].is_string())
    );

    let (first, cursor) = page(&app, &partner, "/v1/balance/transactions?limit=3").await;
    assert_eq!(first.len(), 3);
    let (rest, end) = page(
        &app,
        &partner,
        &format!(
            "/v1/balance/transactions?limit=3&cursor={}",
            cursor.unwrap()
        ),
    )
    .await;
    assert_eq!((rest.len(), end), (1, None));
    assert_eq!(rest[0]["kind"], "topup");
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_quote_prices_an_order_and_debits_nothing(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "20", "20.00").await;
    let quote = success_data(
        app.post_json(
            "/v1/order/quote",
            &partner.key,
            &json!({"planId": "ae-5gb-7d", "quantity": 2}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(quote["planId"], "ae-5gb-7d");
    assert_eq!(quote["quantity"], 2);
    assert_eq!(quote["unitCost"], json!(7.5), "net, like the debit");
    assert_eq!(quote["totalCost"], json!(15));
    assert_eq!(quote["currency"], "USD");
    assert_eq!(quote["balance"], json!(20));
    assert_eq!(quote["sufficient"], true);

    let short = success_data(
        app.post_json(
            "/v1/order/quote",
            &partner.key,
            &json!({"planId": "ae-5gb-7d", "quantity": 3}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(short["sufficient"], false);
    assert_error(
        app.post_json("/v1/order/quote", &partner.key, &json!({"planId": "nope"}))
            .await,
        StatusCode::NOT_FOUND,
        "plan_not_found",
    )
    .await;
    assert_error(
        app.post_json(
            "/v1/order/quote",
            &partner.key,
            &json!({"planId": "ae-5gb-7d", "quantity": 11}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_eq!(app.count("orders", partner.id).await, 0);
    assert_eq!(app.count("ledger_entries", partner.id).await, 1);
    assert_eq!(app.balance_cents(partner.id).await, 2_000);
}

//! The endpoints API: secrets shown once, the URL rules, per-partner and per-mode
//! visibility, deliveries and events listed, a failed delivery retried.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::receiver::Receiver;
use super::{app_for_receiver, body_of, create_endpoint, path_of, sandbox_key};
use crate::helpers::{assert_error, spawn_app, success_data, wait_for_lock_waiters};

#[sqlx::test]
async fn loopback_private_and_plain_http_urls_are_refused_without_the_override(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "0").await;
    for url in [
        "https://127.0.0.1/hooks",
        "https://10.0.0.1/hooks",
        "https://[::1]/hooks",
        "https://[fd00::1]/hooks",
        "https://169.254.169.254/latest",
        "https://localhost/hooks",
        "http://93.184.216.34/hooks",
        "http://127.0.0.1:9/hooks",
    ] {
        let response = app
            .post_json("/v1/webhooks", &partner.key, &json!({"url": url}))
            .await;
        let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_webhook_url").await;
        assert_eq!(body["error"]["details"]["field"], "url", "{url}");
    }
    // A literal public address needs no resolution: accepted.
    let created = create_endpoint(&app, &partner.key, "https://93.184.216.34/hooks", None).await;
    let id = created["webhookId"].as_str().unwrap();
    // PATCH checks the new URL the same way.
    let response = app
        .client
        .patch(format!("{}/v1/webhooks/{id}", app.address))
        .bearer_auth(&partner.key)
        .json(&json!({"url": "https://10.0.0.1/hooks"}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_webhook_url").await;
    let unchanged = success_data(
        app.get(&format!("/v1/webhooks/{id}"), &partner.key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unchanged["url"], "https://93.184.216.34/hooks");
    assert_eq!(app.count("webhook_endpoints", partner.id).await, 1);
}

#[sqlx::test]
async fn the_override_admits_plain_http_to_loopback(db: PgPool) {
    let app = app_for_receiver(db).await;
    let partner = app.create_partner("acme", "0", "0").await;
    let created = create_endpoint(&app, &partner.key, "http://127.0.0.1:9/hooks", None).await;
    assert_eq!(created["url"], "http://127.0.0.1:9/hooks");
}

#[sqlx::test]
async fn event_types_are_checked_and_the_field_named(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "0").await;
    let url = "https://93.184.216.34/hooks";
    for (events, field) in [
        (json!(["order.completed", "order.shipped"]), "events[1]"),
        (json!([]), "events"),
    ] {
        let response = app
            .post_json(
                "/v1/webhooks",
                &partner.key,
                &json!({"url": url, "events": events}),
            )
            .await;
        let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert_eq!(body["error"]["details"]["fields"][0]["field"], field);
    }
    let response = app.get("/v1/events?type=order.shipped", &partner.key).await;
    let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(body["error"]["details"]["fields"][0]["field"], "type");
    assert_eq!(app.count("webhook_endpoints", partner.id).await, 0);
}

#[sqlx::test]
async fn the_secret_is_shown_at_creation_and_rotation_only(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "0").await;
    let created = create_endpoint(
        &app,
        &partner.key,
        "https://93.184.216.34/hooks",
        Some(json!(["order.completed"])),
    )
    .await;
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    use base64::Engine;
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    assert!(key.len() >= 24, "{} bytes", key.len());
    assert_eq!(created["status"], "enabled");
    assert_eq!(created["events"], json!(["order.completed"]));
    let id = created["webhookId"].as_str().unwrap();

    let one = success_data(
        app.get(&format!("/v1/webhooks/{id}"), &partner.key).await,
        StatusCode::OK,
    )
    .await;
    let all = success_data(app.get("/v1/webhooks", &partner.key).await, StatusCode::OK).await;
    assert!(one.get("secret").is_none(), "{one}");
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert!(all[0].get("secret").is_none(), "{all}");
    assert!(
        !one.to_string()
            .contains(secret.trim_start_matches("whsec_"))
    );

    let rotated = success_data(
        app.post_json(
            &format!("/v1/webhooks/{id}/rotate-secret"),
            &partner.key,
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let new_secret = rotated["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_"));
    assert_ne!(new_secret, secret);
    let after = success_data(
        app.get(&format!("/v1/webhooks/{id}"), &partner.key).await,
        StatusCode::OK,
    )
    .await;
    assert!(after.get("secret").is_none());

    // PATCH, then DELETE.
    let response = app
        .client
        .patch(format!("{}/v1/webhooks/{id}", app.address))
        .bearer_auth(&partner.key)
        .json(&json!({"events": null, "description": "all of them", "status": "disabled"}))
        .send()
        .await
        .unwrap();
    let patched = success_data(response, StatusCode::OK).await;
    assert_eq!(patched["events"], Value::Null);
    assert_eq!(patched["description"], "all of them");
    assert_eq!(patched["status"], "disabled");
    let response = app
        .client
        .delete(format!("{}/v1/webhooks/{id}", app.address))
        .bearer_auth(&partner.key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        success_data(response, StatusCode::OK).await["deleted"],
        true
    );
    let gone = app.get(&format!("/v1/webhooks/{id}"), &partner.key).await;
    assert_error(gone, StatusCode::NOT_FOUND, "not_found").await;
}

#[sqlx::test]
async fn another_partners_or_the_other_modes_endpoints_are_not_found(db: PgPool) {
    let app = spawn_app(db).await;
    let acme = app.create_partner("acme", "0", "0").await;
    let other = app.create_partner("other", "0", "0").await;
    let acme_sandbox = sandbox_key(&app, &acme).await;
    let created = create_endpoint(&app, &acme.key, "https://93.184.216.34/hooks", None).await;
    let id = created["webhookId"].as_str().unwrap();
    for key in [other.key.as_str(), acme_sandbox.as_str()] {
        for path in [
            format!("/v1/webhooks/{id}"),
            format!("/v1/webhooks/{id}/deliveries"),
        ] {
            assert_error(
                app.get(&path, key).await,
                StatusCode::NOT_FOUND,
                "not_found",
            )
            .await;
        }
        for path in [
            format!("/v1/webhooks/{id}/test"),
            format!("/v1/webhooks/{id}/rotate-secret"),
        ] {
            let response = app.post_json(&path, key, &json!({})).await;
            assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
        }
        let listed = success_data(app.get("/v1/webhooks", key).await, StatusCode::OK).await;
        assert_eq!(listed, json!([]));
    }
    assert_error(
        app.get("/v1/webhooks/not-a-uuid", &acme.key).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // Nothing was sent on another's behalf.
    let deliveries: i64 = sqlx::query_scalar("select count(*) from webhook_deliveries")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(deliveries, 0);
}

#[sqlx::test]
async fn sandbox_endpoints_get_only_sandbox_events_and_live_ones_only_live_events(db: PgPool) {
    let receiver = Receiver::start().await;
    let app = app_for_receiver(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let sandbox = sandbox_key(&app, &partner).await;
    let live_url = receiver.url("ok", "live");
    let sandbox_url = receiver.url("ok", "sandbox");
    create_endpoint(&app, &partner.key, &live_url, None).await;
    create_endpoint(&app, &sandbox, &sandbox_url, None).await;

    let live_order = app
        .place(
            &partner.key,
            &json!({"planId": "ae-5gb-7d"}),
            StatusCode::CREATED,
        )
        .await;
    let sandbox_order = app
        .place(
            &sandbox,
            &json!({"planId": "ae-5gb-7d"}),
            StatusCode::CREATED,
        )
        .await;
    // Each order wrote its `order.completed` in its own completion.
    let produced = |o: &Value| {
        let order = o["orderId"].as_str().unwrap().to_owned();
        let db = app.db.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "select id from events where type = 'order.completed' and subject_id = $1",
            )
            .bind(order)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    let live_event = produced(&live_order).await;
    let sandbox_event = produced(&sandbox_order).await;

    let live = receiver
        .wait_for(&path_of(&live_url), 1, Duration::from_secs(10))
        .await;
    let sandboxed = receiver
        .wait_for(&path_of(&sandbox_url), 1, Duration::from_secs(10))
        .await;
    // A moment more: nothing else arrives.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(receiver.deliveries().await.len(), 2);
    assert_eq!(live[0]["id"], live_event.as_str());
    assert_eq!(sandboxed[0]["id"], sandbox_event.as_str());
    assert_eq!(body_of(&live[0])["mode"], "live");
    assert_eq!(body_of(&sandboxed[0])["mode"], "sandbox");
    assert_eq!(
        body_of(&sandboxed[0])["data"]["orderId"],
        sandbox_order["orderId"]
    );

    // Each mode lists its own events only.
    let live_events = success_data(app.get("/v1/events", &partner.key).await, StatusCode::OK).await;
    let sandbox_events = success_data(app.get("/v1/events", &sandbox).await, StatusCode::OK).await;
    assert_eq!(live_events.as_array().unwrap().len(), 1);
    assert_eq!(live_events[0]["id"], live_event.as_str());
    assert_eq!(sandbox_events.as_array().unwrap().len(), 1);
    assert_eq!(sandbox_events[0]["id"], sandbox_event.as_str());
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn deliveries_and_events_are_listed_newest_first_and_a_failed_delivery_can_be_retried(
    db: PgPool,
) {
    let receiver = Receiver::start().await;
    let app = app_for_receiver(db).await;
    let partner = app.create_partner("acme", "0", "0").await;
    let url = receiver.url("fail", "always");
    let created = create_endpoint(&app, &partner.key, &url, None).await;
    let id = created["webhookId"].as_str().unwrap();
    let queued = success_data(
        app.post_json(&format!("/v1/webhooks/{id}/test"), &partner.key, &json!({}))
            .await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(queued["status"], "pending");
    assert_eq!(queued["eventType"], "webhook.test");
    // Schedule 1,1: three attempts, then failed.
    receiver
        .wait_for(&path_of(&url), 3, Duration::from_secs(15))
        .await;
    let delivery_id = queued["deliveryId"].as_str().unwrap();
    let path = format!("/v1/webhooks/{id}/deliveries");
    let started = std::time::Instant::now();
    let failed = loop {
        let list = success_data(app.get(&path, &partner.key).await, StatusCode::OK).await;
        if list[0]["status"] == "failed" {
            break list;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{list}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(failed[0]["deliveryId"], delivery_id);
    assert_eq!(failed[0]["attempts"], 3);
    assert_eq!(failed[0]["lastResponseStatus"], 500);
    assert_eq!(failed[0]["nextAttemptAt"], Value::Null);
    let attempts: Vec<(i32, Option<i32>)> =
        sqlx::query_as("select attempt, response_status from webhook_attempts order by attempt")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(
        attempts,
        vec![(1, Some(500)), (2, Some(500)), (3, Some(500))]
    );

    let retried = success_data(
        app.post_json(
            &format!("{path}/{delivery_id}/retry"),
            &partner.key,
            &json!({}),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(retried["status"], "pending");
    receiver
        .wait_for(&path_of(&url), 4, Duration::from_secs(10))
        .await;
    let unknown = app
        .post_json(
            &format!("{path}/{}/retry", uuid::Uuid::new_v4()),
            &partner.key,
            &json!({}),
        )
        .await;
    assert_error(unknown, StatusCode::NOT_FOUND, "not_found").await;

    // Pages: two more test events, one per page.
    for _ in 0..2 {
        app.post_json(&format!("/v1/webhooks/{id}/test"), &partner.key, &json!({}))
            .await;
    }
    let first = app.get(&format!("{path}?limit=2"), &partner.key).await;
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["meta"]["nextCursor"].as_str().unwrap();
    let second: Value = app
        .get(&format!("{path}?limit=2&cursor={cursor}"), &partner.key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert_eq!(second["data"][0]["deliveryId"], delivery_id);
    assert_eq!(second["meta"]["nextCursor"], Value::Null);
    let events: Value = app
        .get("/v1/events?type=webhook.test&limit=2", &partner.key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(events["data"].as_array().unwrap().len(), 2);
    assert!(events["meta"]["nextCursor"].is_string());
    assert_eq!(events["data"][0]["type"], "webhook.test");
    let bad = app.get(&format!("{path}?cursor=nope"), &partner.key).await;
    assert_error(bad, StatusCode::BAD_REQUEST, "invalid_request").await;
}

/// A test delivery asked for while the partner's DELETE of the endpoint commits: not found,
/// never a 500 (the test delivery read the endpoint, then failed on its foreign key).
#[sqlx::test]
async fn a_test_delivery_of_an_endpoint_being_deleted_is_not_found(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "0").await;
    let (endpoint, _) = tavaro::webhooks::endpoints::create(
        &app.db,
        tavaro::mode::Account::live(partner.id),
        "https://hooks.example.com/a",
        None,
        None,
    )
    .await
    .unwrap();
    let id = endpoint.id;
    let mut delete = app.db.begin().await.unwrap();
    sqlx::query("delete from webhook_endpoints where id = $1")
        .bind(id)
        .execute(&mut *delete)
        .await
        .unwrap();
    let test = tokio::spawn({
        let (client, address, key) = (app.client.clone(), app.address.clone(), partner.key.clone());
        async move {
            client
                .post(format!("{address}/v1/webhooks/{id}/test"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
        }
    });
    wait_for_lock_waiters(&app.db, 1).await;
    delete.commit().await.unwrap();
    assert_error(test.await.unwrap(), StatusCode::NOT_FOUND, "not_found").await;
}

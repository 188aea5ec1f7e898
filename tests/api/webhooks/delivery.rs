//! Delivery: every delivery verifies with the `standardwebhooks` library; a 500 is
//! retried with the same `webhook-id` and a new timestamp; both secrets sign after a
//! rotation; a hanging endpoint slows no order; two servers never make one attempt
//! twice; an event emitted while no server runs is delivered once one starts; five days
//! of failures disable an endpoint.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tavaro::mode::Account;
use tavaro::webhooks::{EventType, Subject};

use super::receiver::Receiver;
use super::{app_for_receiver, body_of, create_endpoint, emit, path_of};
use crate::helpers::server::Server;
use crate::helpers::{
    TestApp, create_partner, spawn_app_with_vars, success_data, wait_for_lock_waiters,
};

fn all_verified(results: &[Value]) -> bool {
    !results.is_empty() && results.iter().all(|r| r["verified"] == true)
}

#[sqlx::test]
async fn a_test_delivery_verifies_with_standardwebhooks_and_carries_the_endpoint(db: PgPool) {
    let receiver = Receiver::start().await;
    let app = app_for_receiver(db).await;
    let partner = app.create_partner("acme", "0", "0").await;
    let url = receiver.url("ok", "test");
    let created = create_endpoint(&app, &partner.key, &url, None).await;
    let secret = created["secret"].as_str().unwrap();
    let id = created["webhookId"].as_str().unwrap();
    // A second endpoint must not receive the test.
    let other = receiver.url("ok", "other");
    create_endpoint(&app, &partner.key, &other, None).await;
    let queued = success_data(
        app.post_json(&format!("/v1/webhooks/{id}/test"), &partner.key, &json!({}))
            .await,
        StatusCode::ACCEPTED,
    )
    .await;

    let got = receiver
        .wait_for(&path_of(&url), 1, Duration::from_secs(10))
        .await;
    let verified = receiver.verify(secret, &path_of(&url)).await;
    assert!(all_verified(&verified), "{verified:?}");
    // Another secret does not verify it: the check is real.
    let wrong = receiver
        .verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &path_of(&url))
        .await;
    assert_eq!(wrong[0]["verified"], false, "{wrong:?}");
    let body = body_of(&got[0]);
    assert_eq!(got[0]["id"], queued["eventId"]);
    assert_eq!(body["id"], queued["eventId"]);
    assert_eq!(body["type"], "webhook.test");
    assert_eq!(body["mode"], "live");
    assert!(body["createdAt"].as_str().unwrap().ends_with('Z'));
    let view = success_data(
        app.get(&format!("/v1/webhooks/{id}"), &partner.key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["data"], view);
    // Exactly these fields, in this order, in the bytes sent.
    assert_eq!(body.as_object().unwrap().len(), 5);
    let raw = got[0]["body"].as_str().unwrap();
    let at = |field: &str| raw.find(&format!("\"{field}\":")).unwrap();
    assert!(raw.starts_with("{\"id\":"), "{raw}");
    assert!(
        at("type") < at("createdAt") && at("createdAt") < at("mode") && at("mode") < at("data")
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.deliveries_to(&path_of(&other)).await.is_empty());
    // The secret is stored for signing, never in an event's body or an attempt.
    let leaked: i64 =
        sqlx::query_scalar("select count(*) from events where payload::text like '%' || $1 || '%'")
            .bind(secret.trim_start_matches("whsec_"))
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(leaked, 0);
}

#[sqlx::test]
async fn a_delivery_answered_500_is_retried_with_the_same_webhook_id_and_a_new_timestamp(
    db: PgPool,
) {
    let receiver = Receiver::start().await;
    let app = app_for_receiver(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let url = receiver.url("fail-once", "orders");
    let created = create_endpoint(&app, &partner.key, &url, Some(json!(["order.completed"]))).await;
    let order = app
        .place(
            &partner.key,
            &json!({"planId": "ae-5gb-7d"}),
            StatusCode::CREATED,
        )
        .await;
    // Not subscribed: never sent.
    emit(
        &app.db,
        Account::live(partner.id),
        EventType::BalanceLow,
        Subject::Balance,
    )
    .await;
    // The order wrote its `order.completed` in its own completion.
    let event: String = sqlx::query_scalar(
        "select id from events where type = 'order.completed' and subject_id = $1",
    )
    .bind(order["orderId"].as_str().unwrap())
    .fetch_one(&app.db)
    .await
    .unwrap();

    let got = receiver
        .wait_for(&path_of(&url), 2, Duration::from_secs(10))
        .await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0]["id"], event.as_str());
    assert_eq!(got[1]["id"], event.as_str());
    let (t0, t1) = (
        got[0]["timestamp"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap(),
        got[1]["timestamp"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap(),
    );
    assert!(t1 > t0, "timestamps {t0} then {t1}");
    // The same body on every attempt, and it is the order as the API shows it.
    assert_eq!(got[0]["body"], got[1]["body"]);
    let verified = receiver
        .verify(created["secret"].as_str().unwrap(), &path_of(&url))
        .await;
    assert!(all_verified(&verified), "{verified:?}");
    let view = success_data(
        app.get(
            &format!("/v1/orders/{}", order["orderId"].as_str().unwrap()),
            &partner.key,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body_of(&got[1])["data"], view);
    assert_eq!(body_of(&got[1])["type"], "order.completed");

    let id = created["webhookId"].as_str().unwrap();
    let started = Instant::now();
    loop {
        let list = success_data(
            app.get(&format!("/v1/webhooks/{id}/deliveries"), &partner.key)
                .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        if list[0]["status"] == "succeeded" {
            assert_eq!(list[0]["attempts"], 2);
            assert_eq!(list[0]["lastResponseStatus"], 200);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{list}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let attempts: Vec<(i32, Option<i32>, Option<String>)> = sqlx::query_as(
        "select attempt, response_status, response_body from webhook_attempts order by attempt",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!((attempts[0].0, attempts[0].1), (1, Some(500)));
    assert!(
        attempts[0]
            .2
            .as_deref()
            .unwrap()
            .contains("failing on purpose")
    );
    assert_eq!((attempts[1].0, attempts[1].1), (2, Some(200)));
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn after_a_rotation_the_old_and_the_new_secret_both_verify(db: PgPool) {
    let receiver = Receiver::start().await;
    let app = app_for_receiver(db).await;
    let partner = app.create_partner("acme", "0", "0").await;
    let url = receiver.url("ok", "rotated");
    let created = create_endpoint(&app, &partner.key, &url, None).await;
    let id = created["webhookId"].as_str().unwrap();
    let old = created["secret"].as_str().unwrap();
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
    let new = rotated["secret"].as_str().unwrap();
    app.post_json(&format!("/v1/webhooks/{id}/test"), &partner.key, &json!({}))
        .await;
    let got = receiver
        .wait_for(&path_of(&url), 1, Duration::from_secs(10))
        .await;
    let signatures: Vec<_> = got[0]["signature"].as_str().unwrap().split(' ').collect();
    assert_eq!(signatures.len(), 2, "{signatures:?}");
    assert!(signatures.iter().all(|s| s.starts_with("v1,")));
    let with_old = receiver.verify(old, &path_of(&url)).await;
    let with_new = receiver.verify(new, &path_of(&url)).await;
    assert!(all_verified(&with_old), "{with_old:?}");
    assert!(all_verified(&with_new), "{with_new:?}");

    // Once the old secret's 24 h are over, only the new one signs.
    sqlx::query("update webhook_secrets set expires_at = now() - interval '1 second' where expires_at is not null")
        .execute(&app.db)
        .await
        .unwrap();
    app.post_json(&format!("/v1/webhooks/{id}/test"), &partner.key, &json!({}))
        .await;
    let got = receiver
        .wait_for(&path_of(&url), 2, Duration::from_secs(10))
        .await;
    assert_eq!(got[1]["signature"].as_str().unwrap().split(' ').count(), 1);
    let with_old = receiver.verify(old, &path_of(&url)).await;
    assert_eq!(with_old[1]["verified"], false, "{with_old:?}");
    assert!(all_verified(&receiver.verify(new, &path_of(&url)).await));
}

/// Median latency of `n` orders, in ms.
async fn order_latency_ms(app: &TestApp, key: &str, n: usize) -> (u128, u128) {
    let mut times = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        app.place(key, &json!({"planId": "ae-5gb-7d"}), StatusCode::CREATED)
            .await;
        times.push(started.elapsed().as_millis());
    }
    times.sort_unstable();
    (times[n / 2], *times.last().unwrap())
}

#[sqlx::test]
async fn an_endpoint_that_hangs_slows_neither_orders_nor_other_partners_deliveries(db: PgPool) {
    let receiver = Receiver::start().await;
    let app = app_for_receiver(db).await;
    let slow = app.create_partner("slow", "0", "1000.00").await;
    let quick = app.create_partner("quick", "0", "0").await;
    let (baseline, _) = order_latency_ms(&app, &slow.key, 5).await;

    let hang = receiver.url("hang", "slow");
    let created = create_endpoint(&app, &slow.key, &hang, None).await;
    let id = created["webhookId"].as_str().unwrap();
    for _ in 0..5 {
        app.post_json(&format!("/v1/webhooks/{id}/test"), &slow.key, &json!({}))
            .await;
    }
    receiver
        .wait_for(&path_of(&hang), 5, Duration::from_secs(10))
        .await;
    // Five deliveries hang now; orders keep their pace.
    let (during, worst) = order_latency_ms(&app, &slow.key, 5).await;
    assert!(
        during < baseline + 500 && worst < 3_000,
        "orders took {during} ms (worst {worst} ms) with hanging deliveries, {baseline} ms before"
    );
    // Another partner's delivery goes through meanwhile.
    let ok = receiver.url("ok", "quick");
    let quick_endpoint = create_endpoint(&app, &quick.key, &ok, None).await;
    let sent = Instant::now();
    app.post_json(
        &format!(
            "/v1/webhooks/{}/test",
            quick_endpoint["webhookId"].as_str().unwrap()
        ),
        &quick.key,
        &json!({}),
    )
    .await;
    receiver
        .wait_for(&path_of(&ok), 1, Duration::from_secs(5))
        .await;
    assert!(sent.elapsed() < Duration::from_secs(5));
    // The hanging attempts end as time-outs, recorded as failures to retry.
    let started = Instant::now();
    loop {
        let timed_out: i64 = sqlx::query_scalar(
            "select count(*) from webhook_attempts where response_status is null and error like 'no answer within 10 s%'",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
        if timed_out >= 5 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{timed_out} time-outs recorded"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn two_servers_on_one_database_never_make_the_same_attempt_twice(db: PgPool) {
    let receiver = Receiver::start().await;
    let vars = [("TAVARO_WEBHOOK_ALLOW_PRIVATE", "true")];
    let first = spawn_app_with_vars(db.clone(), &vars).await;
    let second = spawn_app_with_vars(db, &vars).await;
    let partner = first.create_partner("acme", "0", "0").await;
    second.sync_keys().await;
    let url = receiver.url("ok", "shared");
    create_endpoint(&first, &partner.key, &url, None).await;
    let mut ids = Vec::new();
    for _ in 0..40 {
        ids.push(
            emit(
                &first.db,
                Account::live(partner.id),
                EventType::BalanceLow,
                Subject::Balance,
            )
            .await,
        );
    }
    receiver
        .wait_for(&path_of(&url), 40, Duration::from_secs(20))
        .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let got = receiver.deliveries_to(&path_of(&url)).await;
    let mut received: Vec<String> = got
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    received.sort();
    ids.sort();
    assert_eq!(received, ids, "each event exactly once");
    let attempts: i64 = sqlx::query_scalar("select count(*) from webhook_attempts")
        .fetch_one(&first.db)
        .await
        .unwrap();
    assert_eq!(attempts, 40);
    drop(second);
}

#[sqlx::test]
async fn an_event_left_undelivered_by_a_killed_server_is_delivered_after_a_restart(db: PgPool) {
    let receiver = Receiver::start().await;
    let partner = create_partner(&db, "acme", "0", "0").await;
    let env = [("TAVARO_WEBHOOK_ALLOW_PRIVATE", "true")];
    let mut server = Server::start(&db, &env).await;
    let url = receiver.url("ok", "restart");
    let response = reqwest::Client::new()
        .post(format!("{}/v1/webhooks", server.base))
        .bearer_auth(&partner.key)
        .json(&json!({"url": url}))
        .send()
        .await
        .unwrap();
    let created = success_data(response, StatusCode::CREATED).await;
    server.child.kill().await.unwrap();
    // The change and its event commit while no server runs.
    let event = emit(
        &db,
        Account::live(partner.id),
        EventType::BalanceLow,
        Subject::Balance,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.deliveries().await.is_empty());

    let _restarted = Server::start(&db, &env).await;
    let got = receiver
        .wait_for(&path_of(&url), 1, Duration::from_secs(10))
        .await;
    assert_eq!(got[0]["id"], event.as_str());
    assert!(all_verified(
        &receiver
            .verify(created["secret"].as_str().unwrap(), &path_of(&url))
            .await
    ));
    let data = &body_of(&got[0])["data"];
    assert_eq!(data["currency"], "USD");
    assert!(data.get("balance").is_some(), "{data}");
}

#[sqlx::test]
async fn an_endpoint_failing_for_five_days_is_disabled_and_the_partner_told_on_its_others(
    db: PgPool,
) {
    let receiver = Receiver::start().await;
    let app = app_for_receiver(db).await;
    let partner = app.create_partner("acme", "0", "0").await;
    let failing_url = receiver.url("fail", "dead");
    let failing = create_endpoint(&app, &partner.key, &failing_url, None).await;
    let failing_id = failing["webhookId"].as_str().unwrap();
    let watcher_url = receiver.url("ok", "watcher");
    create_endpoint(
        &app,
        &partner.key,
        &watcher_url,
        Some(json!(["webhook.test"])),
    )
    .await;
    // Its deliveries have failed for six days.
    sqlx::query(
        "update webhook_endpoints set failing_since = now() - interval '6 days' where id = $1",
    )
    .bind(uuid::Uuid::parse_str(failing_id).unwrap())
    .execute(&app.db)
    .await
    .unwrap();
    emit(
        &app.db,
        Account::live(partner.id),
        EventType::BalanceLow,
        Subject::Balance,
    )
    .await;
    receiver
        .wait_for(&path_of(&failing_url), 1, Duration::from_secs(10))
        .await;
    let notice = receiver
        .wait_for(&path_of(&watcher_url), 1, Duration::from_secs(10))
        .await;
    let body = body_of(&notice[0]);
    assert_eq!(body["type"], "webhook.test");
    assert_eq!(body["data"]["webhookId"], failing_id);
    assert_eq!(body["data"]["status"], "disabled");
    let endpoint = success_data(
        app.get(&format!("/v1/webhooks/{failing_id}"), &partner.key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(endpoint["status"], "disabled");
    // Disabled: nothing more is sent to it.
    emit(
        &app.db,
        Account::live(partner.id),
        EventType::BalanceLow,
        Subject::Balance,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        receiver.deliveries_to(&path_of(&failing_url)).await.len(),
        1
    );

    let metrics = app.scrape_metrics().await;
    assert!(
        metrics.contains("tavaro_webhook_deliveries_total{outcome=\"retrying\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("tavaro_webhook_backlog"), "{metrics}");
    assert!(
        metrics.contains("tavaro_webhook_oldest_pending_seconds"),
        "{metrics}"
    );
}

/// An event's body stored by another server while this one's store waits for the row is
/// the body this one answers: never an error (it was a 500 on `GET /v1/events` under load,
/// when a delivery stored the body first).
#[sqlx::test]
async fn a_body_stored_by_another_server_meanwhile_is_the_one_answered(db: PgPool) {
    let partner = create_partner(&db, "acme", "0", "0").await;
    let event = "evt_0123456789abcdef0123456789abcdef";
    sqlx::query(
        "insert into events (id, partner_id, mode, type, subject_kind) values ($1, $2, 'live', 'balance.low', 'balance')",
    )
    .bind(event)
    .bind(partner.id.0)
    .execute(&db)
    .await
    .unwrap();
    // The other server holds the row, about to store its body.
    let mut other = db.begin().await.unwrap();
    sqlx::query("select 1 from events where id = $1 for update")
        .bind(event)
        .execute(&mut *other)
        .await
        .unwrap();
    let ours = tokio::spawn({
        let db = db.clone();
        async move { tavaro::webhooks::outbox::store_payload(&db, event, &json!({"ours": true})).await }
    });
    // Ours waits for the row.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and pid <> pg_backend_pid() and query like '%update events set payload%'",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the store never waited for the row"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sqlx::query("update events set payload = $2 where id = $1")
        .bind(event)
        .bind(json!({"theirs": true}))
        .execute(&mut *other)
        .await
        .unwrap();
    other.commit().await.unwrap();
    let answered = ours.await.unwrap().expect("the body stored meanwhile");
    assert_eq!(answered, json!({"theirs": true}));
}

/// A partner deleting an endpoint while an attempt to it is being recorded: the delete
/// succeeds and the record finds nothing left to record. (Recording took the delivery, then
/// the endpoint, while the delete takes the endpoint, then its deliveries; Postgres aborted
/// one of the two, and the partner's DELETE answered 500 under schemathesis.)
#[sqlx::test]
async fn an_endpoint_deleted_while_its_attempt_is_recorded_is_deleted_and_nothing_recorded(
    db: PgPool,
) {
    let partner = create_partner(&db, "acme", "0", "0").await;
    let account = Account::live(partner.id);
    let (endpoint, _) =
        tavaro::webhooks::endpoints::create(&db, account, "https://example.com/hook", None, None)
            .await
            .unwrap();
    emit(&db, account, EventType::BalanceLow, Subject::Balance).await;
    let mut claimed = tavaro::webhooks::outbox::claim(&db, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let job = claimed.pop().unwrap();

    // The partner's DELETE has taken the endpoint's row (the first thing it takes).
    let mut delete = db.begin().await.unwrap();
    sqlx::query("select 1 from webhook_endpoints where id = $1 for update")
        .bind(endpoint.id)
        .execute(&mut *delete)
        .await
        .unwrap();
    // The attempt failed and is being recorded.
    let recording = tokio::spawn({
        let db = db.clone();
        async move {
            let outcome = tavaro::webhooks::outbox::AttemptOutcome {
                status: Some(500),
                latency: Duration::from_millis(3),
                body: None,
                error: None,
            };
            tavaro::webhooks::outbox::record(&db, &job, &outcome, &[Duration::from_secs(1)]).await
        }
    });
    wait_for_lock_waiters(&db, 1).await;
    // The DELETE goes on to the deliveries (the cascade) and commits.
    let deleted = sqlx::query("delete from webhook_endpoints where id = $1")
        .bind(endpoint.id)
        .execute(&mut *delete)
        .await
        .expect("the delete never waits on the record")
        .rows_affected();
    assert_eq!(deleted, 1);
    delete.commit().await.unwrap();
    let recorded = recording.await.unwrap().expect("the record never fails");
    assert_eq!(recorded, None);
    let left: i64 = sqlx::query_scalar(
        "select (select count(*) from webhook_deliveries) + (select count(*) from webhook_attempts)",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(left, 0);
}

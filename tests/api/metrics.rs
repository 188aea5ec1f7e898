//! `/metrics`: the counters move with requests, orders, key checks and provider calls;
//! the exposition lives on a listener of its own, never on the partner port; and no
//! client can add series to it.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{assert_error, spawn_app, spawn_app_with, spawn_app_with_vars};

/// The value of the first sample of `metric` whose labels contain every `label`.
fn sample(text: &str, metric: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(metric) && !line.starts_with('#'))
        .find(|line| labels.iter().all(|l| line.contains(l)))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[sqlx::test]
async fn metrics_count_requests_orders_key_checks_and_provider_calls(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let metrics = app.metrics_address.clone().expect("a metrics listener");
    let scrape = || async {
        let response = app
            .client
            .get(format!("{metrics}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        response.text().await.unwrap()
    };
    let route = r#"route="/v1/balance""#;
    let before = scrape().await;
    for _ in 0..3 {
        app.get("/v1/balance", &partner.key).await;
    }
    app.get("/v1/balance", "tvr_not-a-key").await;
    app.place(
        &partner.key,
        &json!({"planId": "ae-1gb-7d", "quantity": 1}),
        StatusCode::CREATED,
    )
    .await;
    let after = scrape().await;

    let delta = |metric: &str, labels: &[&str]| {
        sample(&after, metric, labels) - sample(&before, metric, labels)
    };
    // The recorder is process-wide and other tests run at the same time, some of them on
    // this route: at least our three, never fewer.
    assert!(delta("tavaro_http_requests_total", &[route, r#"status="200""#]) >= 3.0);
    assert!(delta("tavaro_http_requests_total", &[route, r#"status="401""#]) >= 1.0);
    assert!(
        delta(
            "tavaro_http_request_duration_seconds_count",
            &[route, r#"status="200""#]
        ) >= 3.0
    );
    assert!(delta("tavaro_orders_total", &[r#"outcome="completed""#]) >= 1.0);
    assert!(
        delta(
            "tavaro_provider_calls_total",
            &[
                r#"provider="simulator""#,
                r#"operation="provision""#,
                r#"outcome="ok""#
            ]
        ) >= 1.0
    );
    assert!(
        delta(
            "tavaro_provider_call_duration_seconds_count",
            &[
                r#"provider="simulator""#,
                r#"operation="provision""#,
                r#"outcome="ok""#
            ]
        ) >= 1.0
    );
    assert!(delta("tavaro_key_cache_lookups_total", &[r#"result="hit""#]) >= 2.0);
    // The verifier's own counters are exported as they stand at scrape time (one server
    // per process in production; here other tests' servers share the registry).
    assert!(app.state.keys.rejected_early() >= 1);
    assert!(after.contains("tavaro_keys_rejected_without_lookup_total"));
    assert!(after.contains("tavaro_key_lookup_queries_total"));
    assert!(after.contains("tavaro_reconcile_backlog"));
    assert_eq!(
        sample(&after, "tavaro_partners_below_low_balance_threshold", &[]),
        0.0
    );
    // Below a $200 threshold with $92.50 left: counted at the next scrape.
    tavaro::partners::set_low_balance_threshold(
        &app.db,
        partner.id,
        tavaro::money::Cents::new(20_000),
    )
    .await
    .unwrap();
    let flagged = scrape().await;
    assert_eq!(
        sample(&flagged, "tavaro_partners_below_low_balance_threshold", &[]),
        1.0
    );
    // Metrics name routes, never keys.
    assert!(!after.contains(&partner.key));
}

#[sqlx::test]
async fn metrics_can_live_on_their_own_address_only(db: PgPool) {
    let app = spawn_app_with(db, |config| {
        config.http.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let on_main = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(on_main.status(), StatusCode::NOT_FOUND);

    let own = app
        .metrics_address
        .as_deref()
        .expect("the metrics listener is bound");
    assert_ne!(own, app.address);
    let scraped = app
        .client
        .get(format!("{own}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(scraped.headers().contains_key("x-request-id"));
    assert!(
        scraped.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = scraped.text().await.unwrap();
    // Rendered by this listener's own scrape: the key counters and the backlog read from
    // Postgres.
    for metric in [
        "tavaro_keys_rejected_without_lookup_total",
        "tavaro_reconcile_backlog",
    ] {
        assert!(text.contains(metric), "{metric} missing from:\n{text}");
    }
    // Only `/metrics` lives there: the API stays on the main listener.
    let api = app
        .client
        .get(format!("{own}/healthz"))
        .send()
        .await
        .unwrap();
    assert_error(api, StatusCode::NOT_FOUND, "not_found").await;
}

#[sqlx::test]
async fn made_up_http_methods_add_no_metrics_series(db: PgPool) {
    let app = spawn_app(db).await;
    let series = |text: &str| -> BTreeSet<String> {
        text.lines()
            .filter(|l| l.starts_with("tavaro_http_request"))
            .map(|l| {
                l.rsplit_once(' ')
                    .map_or(l, |(series, _)| series)
                    .to_owned()
            })
            .collect()
    };
    let before = series(&app.scrape_metrics().await);
    // 1,000 distinct methods, on an unknown path and on a real route.
    for i in 0..1_000 {
        let method = Method::from_bytes(format!("MADEUP{i}").as_bytes()).unwrap();
        let path = if i % 2 == 0 { "/nope" } else { "/healthz" };
        let response = app
            .client
            .request(method, format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    let text = app.scrape_metrics().await;
    assert!(!text.contains("MADEUP"), "a made-up method became a label");
    let methods: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.split("method=\"").nth(1)?.split('"').next())
        .collect();
    let fixed: BTreeSet<&str> = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other",
    ]
    .into();
    assert!(methods.is_subset(&fixed), "method labels {methods:?}");
    let added: Vec<String> = series(&text).difference(&before).cloned().collect();
    // At most a few `other` series (counter, histogram buckets, sum, count: 18 lines a
    // route and status), whatever other tests running meanwhile added aside.
    let ours: Vec<&String> = added
        .iter()
        .filter(|s| s.contains(r#"method="other""#))
        .collect();
    assert!(ours.len() <= 4 * 18, "{ours:#?}");
    assert!(
        text.contains(
            r#"tavaro_http_requests_total{method="other",route="unmatched",status="404"}"#
        ),
        "unknown paths are counted as `unmatched`"
    );
}

#[sqlx::test]
async fn metrics_are_never_served_on_the_partner_port(db: PgPool) {
    // Without a metrics listener (`off`), `/metrics` exists nowhere: the partner port
    // answers 404 in the envelope, as for any unknown path.
    let app = spawn_app_with_vars(db, &[("TAVARO_METRICS_ADDR", "off")]).await;
    assert!(app.metrics_address.is_none());
    let response = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

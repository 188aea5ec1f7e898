//! Connections at the TCP level: one that never sends a whole request (nothing at all,
//! half an HTTP/2 preface, half a request head) is closed after
//! `TAVARO_HEADER_TIMEOUT_SECS`, as is an idle
//! keep-alive one; and a flood of idle sockets beyond `TAVARO_MAX_CONNECTIONS` cannot keep
//! a real client out, nor cut off a request in progress.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::spawn_app_with_vars;

/// Reads until the server closes `stream` (end of file or a reset), for at most `limit`;
/// `false` when it is still open then. Whatever the server sends first (a 408) is read
/// past.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut buffer = [0_u8; 1024];
    loop {
        match tokio::time::timeout_at(deadline.into(), stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[sqlx::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout(db: PgPool) {
    let app = spawn_app_with_vars(db, &[("TAVARO_HEADER_TIMEOUT_SECS", "1")]).await;
    let mut silent = TcpStream::connect(app.socket_address()).await.unwrap();
    let started = Instant::now();
    assert!(
        closed_within(&mut silent, Duration::from_secs(5)).await,
        "a connection that sent nothing is still open after 5 s"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed too early"
    );
}

#[sqlx::test]
async fn a_connection_that_sends_half_an_http2_preface_is_closed_after_the_header_timeout(
    db: PgPool,
) {
    let app = spawn_app_with_vars(db, &[("TAVARO_HEADER_TIMEOUT_SECS", "1")]).await;
    for start in [&b"PRI"[..], b"PRI * HTTP/2.0\r\n\r\nSM\r\n"] {
        let mut stalled = TcpStream::connect(app.socket_address()).await.unwrap();
        stalled.write_all(start).await.unwrap();
        assert!(
            closed_within(&mut stalled, Duration::from_secs(5)).await,
            "a connection that sent {:?} and stalled is still open after 5 s",
            String::from_utf8_lossy(start)
        );
    }
}

#[sqlx::test]
async fn a_connection_that_stalls_in_its_request_headers_is_closed_after_the_header_timeout(
    db: PgPool,
) {
    let app = spawn_app_with_vars(db, &[("TAVARO_HEADER_TIMEOUT_SECS", "1")]).await;
    let mut slow = TcpStream::connect(app.socket_address()).await.unwrap();
    let started = Instant::now();
    // A head begun and never finished, one header line at a time.
    slow.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    slow.write_all(b"Host: gateway\r\n").await.unwrap();
    assert!(
        closed_within(&mut slow, Duration::from_secs(5)).await,
        "a connection that stalled in its headers is still open after 5 s"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed too early"
    );
}

#[sqlx::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout(db: PgPool) {
    let app = spawn_app_with_vars(db, &[("TAVARO_HEADER_TIMEOUT_SECS", "1")]).await;
    let mut client = TcpStream::connect(app.socket_address()).await.unwrap();
    client
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0_u8; 1024];
    let n = client.read(&mut buffer).await.unwrap();
    assert!(
        String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buffer[..n])
    );
    // Kept alive, then idle: closed once the header time-out has passed.
    assert!(closed_within(&mut client, Duration::from_secs(5)).await);
}

#[sqlx::test]
async fn a_flood_of_idle_connections_beyond_the_cap_does_not_keep_a_client_out(db: PgPool) {
    // A long header time-out: only the cap can close these sockets within the test.
    let app = spawn_app_with_vars(
        db,
        &[
            ("TAVARO_MAX_CONNECTIONS", "4"),
            ("TAVARO_HEADER_TIMEOUT_SECS", "60"),
        ],
    )
    .await;
    let evicted_before = evicted(&app.scrape_metrics().await);
    let mut idle = Vec::new();
    for _ in 0..12 {
        idle.push(TcpStream::connect(app.socket_address()).await.unwrap());
    }
    let started = Instant::now();
    let response = app
        .client
        .get(format!("{}/healthz", app.address))
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .expect("a real client is served despite the idle flood");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(2));

    // The oldest idle sockets made room: at most the cap's worth are still open.
    let mut closed = 0;
    for socket in &mut idle {
        if closed_within(socket, Duration::from_millis(300)).await {
            closed += 1;
        }
    }
    assert!(
        closed >= 12 - 4,
        "only {closed} of 12 idle sockets were closed"
    );
    assert!(
        closed_within(&mut idle[0], Duration::from_millis(100)).await,
        "the oldest goes first"
    );
    assert!(evicted(&app.scrape_metrics().await) - evicted_before >= 8.0);
}

#[sqlx::test]
async fn the_cap_never_cuts_off_a_request_in_progress(db: PgPool) {
    let app = spawn_app_with_vars(
        db,
        &[
            ("TAVARO_MAX_CONNECTIONS", "1"),
            ("TAVARO_SIM_LATENCY_MS", "1500"),
        ],
    )
    .await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let slow = {
        let (base, key) = (app.address.clone(), partner.key.clone());
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{base}/v1/order"))
                .bearer_auth(key)
                .json(&json!({"planId": "ae-5gb-7d"}))
                .timeout(Duration::from_secs(10))
                .send()
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A second connection waits for the only slot rather than taking it from the order.
    let second = reqwest::Client::new()
        .get(format!("{}/healthz", app.address))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("served once the order has been answered");
    assert_eq!(second.status(), StatusCode::OK);
    let order = slow.await.unwrap().expect("the order is answered");
    assert_eq!(order.status(), StatusCode::CREATED);
    app.assert_ledger_sound().await;
}

/// `tavaro_http_connections_evicted_total` of the partner listener.
fn evicted(metrics: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(r#"tavaro_http_connections_evicted_total{listener="api"}"#))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// The names of this process's threads (the test servers run in it).
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect()
}

#[sqlx::test]
async fn connections_are_served_on_the_serving_threads(db: PgPool) {
    let app = spawn_app_with_vars(db, &[]).await;
    let mut stream = TcpStream::connect(app.socket_address()).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // One per CPU by default, made by the first server of the process and kept.
    let serving = thread_names()
        .into_iter()
        .filter(|name| name.starts_with("tavaro-http-"))
        .count();
    assert_eq!(
        serving,
        std::thread::available_parallelism().unwrap().get(),
        "{:?}",
        thread_names()
    );
}

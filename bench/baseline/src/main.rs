//! Baseline HTTP server for `bench/run`: every GET answers the same static 1 KB JSON
//! document (the size of a small catalog answer), with no middleware, no database and no
//! per-request allocation beyond what axum and hyper need. What the gateway adds on top of
//! this is the figure `bench/run` reports as a ratio.
//!
//! Usage: `tavaro-bench-baseline [ADDR]` (default 127.0.0.1:18091).

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;

/// 1 KB of JSON in the gateway's envelope.
static BODY: &str = include_str!("body.json");

async fn static_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], BODY)
}

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18091".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
    let app = Router::new().fallback(static_json);
    axum::serve(listener, app).await.expect("server failed");
}

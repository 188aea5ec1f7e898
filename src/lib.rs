//! Tavaro partner gateway: the API travel platforms call to sell eSIM data plans,
//! paid from prepaid credits.
//!
//! # Layout
//! A request enters [`http`], is authenticated by [`auth`], and is served by a domain
//! module ([`catalog`], [`orders`], [`ledger`], [`esims`]) that talks to Postgres and,
//! for orders, to an upstream [`provider`]. Dependencies point one way, down that path:
//! only [`orders`] calls both the ledger and the provider.

/// Authentication: the `tvr_` key format, key storage and the verification cache.
pub mod auth;
/// Plans and coverage: the catalog file, its import, and the in-memory snapshot.
pub mod catalog;
/// The operator command line (`tavaro serve`, `partner`, `key`, `credits`, ...).
pub mod cli;
/// Work from concurrent requests done together (coalesced reads and writes).
pub mod coalesce;
/// Typed configuration read from the environment.
pub mod config;
/// The API error type and the JSON error envelope.
pub mod error;
/// eSIM records, statuses, install links and QR codes.
pub mod esims;
/// The HTTP surface: router, middleware, extractors and one module per resource.
pub mod http;
/// Identifier newtypes.
pub mod ids;
/// Prepaid credit balances and the append-only ledger.
pub mod ledger;
/// Prometheus metrics: names, labels and the recorder.
pub mod metrics;
/// Money as integer cents.
pub mod money;
/// The order workflow: debit, provisioning and compensation.
pub mod orders;
/// Partner accounts.
pub mod partners;
/// Upstream eSIM providers behind one trait, and the built-in simulator.
pub mod provider;
/// The HTTP server loop (header time-out, graceful stop).
pub mod serve;
/// Application start-up: pool, migrations, background tasks, the listener.
pub mod startup;
/// State shared by every request handler.
pub mod state;
/// Tracing subscriber set-up.
pub mod telemetry;

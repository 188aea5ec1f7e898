//! Tavaro partner gateway: the API travel platforms call to sell eSIM data plans,
//! paid from prepaid credits.
//!
//! # Layout
//! A request enters [`http`], is authenticated by [`auth`], and is served by a domain
//! module ([`catalog`], [`orders`], [`esims`], [`ledger`], [`partners`]) that talks to
//! Postgres and, for orders, to an upstream [`provider`]. Dependencies point one way,
//! down that path, to the leaf types at the bottom; only [`orders`] calls both the
//! ledger and a provider. `scripts/layers` checks it in `make test`, against the table
//! in the README's architecture section.

/// Authentication: the `tvr_` key format, key storage and the verification cache.
pub mod auth;
/// Plans and coverage: the catalog file, its import, the provider sync, the snapshot.
pub mod catalog;
/// The operator command line (`tavaro serve`, `partner`, `key`, `credits`, ...).
pub mod cli;
/// Work from concurrent requests done together (coalesced reads and writes).
pub mod coalesce;
/// Typed configuration read from the environment, one group per part of the gateway.
pub mod config;
/// The Postgres pool, migrations, and what a database error means.
pub mod db;
/// eSIM records, install links, usage refreshes and QR codes.
pub mod esims;
/// Crash points for the crash-safety tests (compiled in test builds only).
pub mod failpoint;
/// The HTTP surface: router, middleware, errors, extractors, one module per resource.
pub mod http;
/// Identifier newtypes.
pub mod ids;
/// Prepaid credit balances and the append-only ledger.
pub mod ledger;
/// Prometheus metrics: names, labels and the recorder.
pub mod metrics;
/// Live and sandbox (test mode), and a partner's account in one of them.
pub mod mode;
/// Money as integer cents.
pub mod money;
/// The order workflow: debit, provisioning, settlement, idempotency, reconciliation.
pub mod orders;
/// Partner accounts.
pub mod partners;
/// Upstream eSIM providers behind one trait, and the built-in simulator.
pub mod provider;
/// Values that never print.
pub mod secret;
/// Application start-up: pool, migrations, background tasks, the listeners.
pub mod startup;
/// The lifecycle of an eSIM.
pub mod status;
/// Tracing subscriber set-up.
pub mod telemetry;
/// Webhooks: the outbox of events partners are told of, and its deliveries.
pub mod webhooks;

//! Integration tests: the real server over HTTP, on a fresh Postgres database per test
//! (`#[sqlx::test]`), with the built-in simulator or a wiremock upstream (`providers`) as
//! the provider; crash tests run the real binary.

// One test binary: `pub` here means "for the other test modules", and `pub(crate)` on
// every helper would say the same thing louder.
#![allow(unreachable_pub)]

mod after_sale;
mod auth;
mod catalog;
mod cli;
mod configuration;
mod connections;
mod crash;
mod docs;
mod esims;
mod events;
mod failover;
mod helpers;
mod history;
mod idempotency;
mod ledger;
mod lifecycle;
mod logging;
mod metrics;
mod openapi;
mod openapi_errors;
mod orders;
mod providers;
mod rate_limits;
mod reconcile;
mod request_validation;
mod sandbox;
mod schema_check;
mod simulator;
mod upstream_outcomes;
mod webhooks;

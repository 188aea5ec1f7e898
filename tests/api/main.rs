//! Integration tests: the real server over HTTP, on a fresh Postgres database per test
//! (`#[sqlx::test]`), with the simulator or a wiremock server as the upstream.

mod auth;
mod catalog;
mod cli;
mod crash;
mod esims;
mod hardening;
mod helpers;
mod history;
mod idempotency;
mod ledger;
mod orders;
mod reconcile;

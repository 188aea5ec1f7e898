//! Integration tests: the real server over HTTP, on a fresh Postgres database per test
//! (`#[sqlx::test]`), with the built-in simulator or a wiremock upstream (`providers`) as
//! the provider; crash tests run the real binary.

mod abuse;
mod auth;
mod catalog;
mod cli;
mod crash;
mod docs;
mod esims;
mod hardening;
mod helpers;
mod history;
mod idempotency;
mod ledger;
mod openapi;
mod openapi_errors;
mod operations;
mod orders;
mod providers;
mod reconcile;
mod schema_check;
mod secrets;
mod simulator;

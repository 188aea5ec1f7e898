//! The operator's view of a provider, through the `tavaro` binary as issued: credentials
//! from the environment, `provider list`, `provider balance`, and `catalog sync` run twice
//! against a mock eSIM Go (the second run changes nothing), on a fresh database.

use serde_json::Value;
use sqlx::PgPool;
use tokio::process::Command;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::database_url_of;
use crate::providers::common::fixture_json;

async fn tavaro(db: &PgPool, server: &MockServer, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_tavaro"))
        .args(args)
        .arg("--json")
        .env("DATABASE_URL", database_url_of(db))
        .env("TAVARO_ESIMGO_API_KEY", "cli-test-key")
        .env("TAVARO_ESIMGO_BASE_URL", format!("{}/v2.4", server.uri()))
        .env_remove("RUST_LOG")
        .output()
        .await
        .expect("the tavaro binary runs");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON output")
}

#[sqlx::test]
async fn an_operator_syncs_an_upstream_catalog_twice_and_the_second_run_changes_nothing(
    db: PgPool,
) {
    let server = MockServer::start().await;
    for (page, name) in [(1, "catalogue_page1.json"), (2, "catalogue_page2.json")] {
        Mock::given(method("GET"))
            .and(path("/v2.4/catalogue"))
            .and(query_param("page", page.to_string()))
            .and(header("x-api-key", "cli-test-key"))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture_json("esimgo", name)))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/v2.4/organisation"))
        .and(header("x-api-key", "cli-test-key"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture_json("esimgo", "organisation.json")),
        )
        .mount(&server)
        .await;

    let providers = tavaro(&db, &server, &["provider", "list"]).await;
    assert_eq!(providers, serde_json::json!(["esimgo", "simulator"]));

    // A fresh database: no catalog imported, the sync creates the countries it needs.
    let first = tavaro(
        &db,
        &server,
        &["catalog", "sync", "--provider", "esimgo", "--margin", "25"],
    )
    .await;
    assert_eq!(first["provider"], "esimgo");
    assert!(first["added"].as_u64().unwrap() > 0, "{first}");
    assert_eq!(first["deactivated"], 0);
    let second = tavaro(&db, &server, &["catalog", "sync", "--provider", "esimgo"]).await;
    // A different margin re-prices every plan; the same margin twice changes nothing.
    assert_eq!(second["updated"], first["added"], "{second}");
    let third = tavaro(&db, &server, &["catalog", "sync", "--provider", "esimgo"]).await;
    assert_eq!(
        (&third["added"], &third["updated"], &third["deactivated"]),
        (&Value::from(0), &Value::from(0), &Value::from(0)),
        "{third}"
    );
    assert_eq!(third["unchanged"], first["added"]);

    let plans: i64 =
        sqlx::query_scalar("select count(*) from plans where provider = 'esimgo' and active")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(plans, first["added"].as_i64().unwrap());

    let balance = tavaro(
        &db,
        &server,
        &["provider", "balance", "--provider", "esimgo"],
    )
    .await;
    assert_eq!(balance["provider"], "esimgo");
    assert!(
        balance["currency"].is_string() && balance["balance"].is_string(),
        "{balance}"
    );
}

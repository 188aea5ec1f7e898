//! The operator CLI as issued: the real binary against the test database.

use std::process::{Command, Output};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{
    TestApp, assert_error, database_url_of, demo_catalog_path, spawn_app, success_data,
    wait_for_status,
};

fn tavaro(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tavaro"))
        .args(args)
        .env("DATABASE_URL", database_url_of(&app.db))
        .env_remove("RUST_LOG")
        .output()
        .expect("the tavaro binary runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// Fails with exactly one line on stderr, starting `error:`.
fn assert_one_line_error(output: &Output, needle: &str) {
    assert!(!output.status.success(), "expected failure");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("error:") && lines[0].contains(needle),
        "{stderr}"
    );
}

#[sqlx::test]
async fn an_operator_onboards_a_partner_end_to_end(db: PgPool) {
    let app = spawn_app(db).await;
    let created: Value = serde_json::from_str(&stdout(&tavaro(
        &app,
        &[
            "partner",
            "create",
            "--name",
            "Nexus DMC",
            "--markup",
            "15",
            "--json",
        ],
    )))
    .unwrap();
    assert_eq!(created["name"], "Nexus DMC");
    assert_eq!(created["markup"], 15);
    let partner_id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created.as_object().unwrap().len(), 3, "{created}");

    // --partner takes the id or the name.
    stdout(&tavaro(
        &app,
        &[
            "credits",
            "add",
            "--partner",
            "Nexus DMC",
            "--amount",
            "100.00",
            "--note",
            "wire 42",
        ],
    ));
    stdout(&tavaro(
        &app,
        &[
            "credits",
            "add",
            "--partner",
            &partner_id,
            "--amount",
            "0.5",
        ],
    ));

    let key: Value = serde_json::from_str(&stdout(&tavaro(
        &app,
        &[
            "key",
            "create",
            "--partner",
            "Nexus DMC",
            "--label",
            "Production",
            "--json",
        ],
    )))
    .unwrap();
    assert_eq!(key["partnerId"], partner_id.as_str());
    assert_eq!(key["label"], "Production");
    let token = key["key"].as_str().unwrap().to_owned();
    assert!(token.starts_with("tvr_"));
    assert_eq!(key["mode"], "live");
    assert_eq!(key.as_object().unwrap().len(), 5, "{key}");

    // The server learns of the new key from the CLI's notification, within moments.
    let balance = wait_for_status(&app, "/v1/balance", &token, StatusCode::OK).await;
    let balance = success_data(balance, StatusCode::OK).await;
    assert_eq!(balance["balance"], json!(100.5));
    assert_eq!(balance["currency"], "USD");
    let countries = success_data(app.get("/v1/countries", &token).await, StatusCode::OK).await;
    let ae = countries
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "AE")
        .unwrap()
        .clone();
    assert_eq!(ae["fromPrice"], json!(5.18), "4.50 × 1.15 = 5.175 → 5.18");

    // The key is shown once: listings never contain the secret.
    let listing = stdout(&tavaro(
        &app,
        &["key", "list", "--partner", "Nexus DMC", "--json"],
    ));
    assert!(!listing.contains(&token[token.len() - 20..]), "{listing}");
    let keys: Value = serde_json::from_str(&listing).unwrap();
    assert_eq!(keys[0]["label"], "Production");
    let partners = stdout(&tavaro(&app, &["partner", "list"]));
    assert!(
        partners.contains("Nexus DMC") && partners.contains("100.50"),
        "{partners}"
    );

    stdout(&tavaro(
        &app,
        &["key", "revoke", key["id"].as_str().unwrap()],
    ));
    wait_for_status(&app, "/v1/balance", &token, StatusCode::UNAUTHORIZED).await;
    assert_one_line_error(
        &tavaro(&app, &["key", "revoke", key["id"].as_str().unwrap()]),
        "already revoked",
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn bad_operator_input_fails_with_one_line(db: PgPool) {
    let app = spawn_app(db).await;
    stdout(&tavaro(&app, &["partner", "create", "--name", "acme"]));
    assert_one_line_error(
        &tavaro(&app, &["partner", "create", "--name", "acme"]),
        "already exists",
    );
    assert_one_line_error(
        &tavaro(
            &app,
            &["partner", "create", "--name", "x", "--markup", "lots"],
        ),
        "--markup",
    );
    assert_one_line_error(
        &tavaro(
            &app,
            &["credits", "add", "--partner", "acme", "--amount", "-5"],
        ),
        "--amount",
    );
    assert_one_line_error(
        &tavaro(
            &app,
            &["credits", "add", "--partner", "acme", "--amount", "1.234"],
        ),
        "--amount",
    );
    assert_one_line_error(
        &tavaro(
            &app,
            &["credits", "add", "--partner", "acme", "--amount", "0"],
        ),
        "--amount",
    );
    assert_one_line_error(
        &tavaro(
            &app,
            &["credits", "add", "--partner", "nobody", "--amount", "5"],
        ),
        "nobody",
    );
    assert_one_line_error(
        &tavaro(
            &app,
            &["key", "create", "--partner", "nobody", "--label", "x"],
        ),
        "nobody",
    );
    assert_one_line_error(
        &tavaro(
            &app,
            &["key", "revoke", "00000000-0000-0000-0000-000000000000"],
        ),
        "no API key",
    );
    assert_one_line_error(
        &tavaro(&app, &["catalog", "import", "/nonexistent.json"]),
        "cannot read",
    );
    assert_one_line_error(
        &tavaro(&app, &["sim", "use", "--esim", "nope", "--mb", "5"]),
        "--esim",
    );

    let without_db = Command::new(env!("CARGO_BIN_EXE_tavaro"))
        .args(["partner", "list"])
        .env_remove("DATABASE_URL")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_one_line_error(&without_db, "DATABASE_URL");
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn the_simulator_commands_drive_esim_status(db: PgPool) {
    let app = spawn_app(db).await;
    stdout(&tavaro(
        &app,
        &["catalog", "import", demo_catalog_path().to_str().unwrap()],
    ));
    let partner = app.create_partner("acme", "0", "50.00").await;
    let order = success_data(
        app.order(&partner.key, &json!({"planId": "ae-1gb-7d"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let esim_id = order["esims"][0]["esimId"].as_str().unwrap().to_owned();
    let path = format!("/v1/esim/{esim_id}");

    let out = stdout(&tavaro(
        &app,
        &["sim", "use", "--esim", &esim_id, "--mb", "300"],
    ));
    assert!(out.contains("ACTIVE"), "{out}");
    let status = success_data(app.get(&path, &partner.key).await, StatusCode::OK).await;
    assert_eq!(
        (status["status"].as_str(), status["dataUsedMb"].as_i64()),
        (Some("ACTIVE"), Some(300))
    );

    stdout(&tavaro(
        &app,
        &[
            "sim",
            "use",
            "--esim",
            order["esims"][0]["iccid"].as_str().unwrap(),
            "--mb",
            "5000",
        ],
    ));
    let status = success_data(app.get(&path, &partner.key).await, StatusCode::OK).await;
    assert_eq!(status["status"], "DEPLETED");

    stdout(&tavaro(&app, &["sim", "expire", "--esim", &esim_id]));
    let status = success_data(app.get(&path, &partner.key).await, StatusCode::OK).await;
    assert_eq!(status["status"], "EXPIRED");
    assert_one_line_error(
        &tavaro(&app, &["sim", "use", "--esim", &esim_id, "--mb", "1"]),
        "expired",
    );

    // Suspension through the CLI.
    stdout(&tavaro(&app, &["partner", "suspend", "--partner", "acme"]));
    let response = wait_for_status(&app, "/v1/balance", &partner.key, StatusCode::FORBIDDEN).await;
    assert_error(response, StatusCode::FORBIDDEN, "partner_suspended").await;
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn ledger_verify_passes_on_a_sound_ledger_and_names_the_offender_otherwise(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    success_data(
        app.order(&partner.key, &json!({"planId": "ae-1gb-7d"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let ok = stdout(&tavaro(&app, &["ledger", "verify"]));
    assert!(ok.contains("Ledger OK") && ok.contains("1 orders"), "{ok}");

    sqlx::query("update balances set balance_cents = balance_cents - 50 where partner_id = $1")
        .bind(partner.id.0)
        .execute(&app.db)
        .await
        .unwrap();
    let broken = tavaro(&app, &["ledger", "verify"]);
    assert!(!broken.status.success());
    let out = String::from_utf8_lossy(&broken.stdout);
    assert!(out.contains(&partner.id.to_string()), "{out}");
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(stderr.contains("1 problem"), "{stderr}");
}

#[sqlx::test]
async fn orders_stuck_lists_nothing_when_all_is_well(db: PgPool) {
    let app = spawn_app(db).await;
    let out = stdout(&tavaro(&app, &["orders", "stuck"]));
    assert!(out.contains("No stuck orders"), "{out}");
    let json: Value =
        serde_json::from_str(&stdout(&tavaro(&app, &["orders", "stuck", "--json"]))).unwrap();
    assert_eq!(json, json!([]));
}

#[sqlx::test]
async fn provider_commands_name_what_is_configured_and_refuse_what_is_not(db: PgPool) {
    let app = spawn_app(db).await;
    let listed: Value =
        serde_json::from_str(&stdout(&tavaro(&app, &["provider", "list", "--json"]))).unwrap();
    assert_eq!(listed, json!(["simulator"]));

    let output = tavaro(&app, &["catalog", "sync", "--provider", "airalo"]);
    assert_one_line_error(&output, "provider `airalo` is not configured");
    let output = tavaro(&app, &["provider", "balance", "--provider", "esimgo"]);
    assert_one_line_error(&output, "provider `esimgo` is not configured");
    let output = tavaro(
        &app,
        &[
            "catalog",
            "sync",
            "--provider",
            "airalo",
            "--margin",
            "lots",
        ],
    );
    assert_one_line_error(&output, "--margin `lots` is not a percentage");
    // The simulator sells what `catalog import` loaded; syncing it is refused plainly.
    let output = tavaro(&app, &["catalog", "sync", "--provider", "simulator"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("catalog import"));
}

#[sqlx::test]
async fn key_revoke_never_prints_a_pasted_key(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "10.00").await;
    let secret_part = |key: &str| key[key.len() - 38..].to_owned();

    // A key that matches nothing: the error names no part of the secret.
    let stranger = tavaro::auth::assemble_key("AAAAAAAAAAAA", &"b".repeat(32));
    // Its last character changed (to `x`, or `y` when it was an `x` already).
    let (kept, last) = partner.key.split_at(partner.key.len() - 1);
    let mistyped = format!("{kept}{}", if last == "x" { 'y' } else { 'x' });
    for pasted in [&stranger, &mistyped] {
        let output = tavaro(&app, &["key", "revoke", pasted]);
        assert_one_line_error(&output, "no API key");
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!printed.contains(&secret_part(pasted)), "{printed}");
    }

    // The partner's real key, pasted whole: revoked, and not printed back either.
    let output = tavaro(&app, &["key", "revoke", &partner.key]);
    let printed = stdout(&output);
    assert!(printed.starts_with("Revoked key "), "{printed}");
    assert!(!printed.contains(&secret_part(&partner.key)), "{printed}");
    wait_for_status(&app, "/v1/balance", &partner.key, StatusCode::UNAUTHORIZED).await;
    let output = tavaro(&app, &["key", "revoke", &partner.key]);
    assert_one_line_error(&output, "already revoked");
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains(&secret_part(&partner.key)),
        "{output:?}"
    );
    app.assert_ledger_sound().await;
}

/// `tavaro migrate` connected as the server's role applies nothing (it may not), says which
/// setting is missing when migrations are pending, and applies them over
/// `TAVARO_MIGRATION_DATABASE_URL`, the owner's connection.
#[sqlx::test]
async fn migrate_as_the_servers_role_needs_the_owners_connection_and_applies_with_it(db: PgPool) {
    let owner = database_url_of(&db);
    let separator = if owner.contains('?') { '&' } else { '?' };
    let as_server = format!("{owner}{separator}options=-c%20role%3Dtavaro_app");
    let migrate = |migration_url: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tavaro"));
        command
            .arg("migrate")
            .env("DATABASE_URL", &as_server)
            .env_remove("TAVARO_MIGRATION_DATABASE_URL")
            .env_remove("RUST_LOG");
        if let Some(url) = migration_url {
            command.env("TAVARO_MIGRATION_DATABASE_URL", url);
        }
        command.output().expect("the tavaro binary runs")
    };

    // Up to date: nothing to apply, nothing refused.
    assert!(stdout(&migrate(None)).contains("Database is up to date."));

    // The server-role migration can be applied again (its statements are idempotent).
    let latest: i64 = 20261215000003;
    sqlx::query("delete from _sqlx_migrations where version = $1")
        .bind(latest)
        .execute(&db)
        .await
        .unwrap();
    let refused = migrate(None);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("1 database migration(s) are pending")
            && stderr.contains("TAVARO_MIGRATION_DATABASE_URL"),
        "{stderr}"
    );

    assert!(stdout(&migrate(Some(&owner))).contains("Database is up to date."));
    let applied: bool =
        sqlx::query_scalar("select exists (select from _sqlx_migrations where version = $1)")
            .bind(latest)
            .fetch_one(&db)
            .await
            .unwrap();
    assert!(
        applied,
        "the owner's connection applied the pending migration"
    );
}

//! The ledger's guarantees hold in the database itself, whatever the code does.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::spawn_app;

#[sqlx::test]
async fn ledger_rows_cannot_be_updated_deleted_or_truncated(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    for statement in [
        "update ledger_entries set amount_cents = 1000000 where partner_id = $1",
        "delete from ledger_entries where partner_id = $1",
    ] {
        let err = sqlx::query(statement)
            .bind(partner.id.0)
            .execute(&app.db)
            .await
            .expect_err(statement);
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    let err = sqlx::query("truncate ledger_entries cascade")
        .execute(&app.db)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    assert_eq!(app.ledger_sum(partner.id).await, 10_000);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn a_balance_can_never_go_negative(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "1.00").await;
    let err = sqlx::query("update balances set balance_cents = -1 where partner_id = $1")
        .bind(partner.id.0)
        .execute(&app.db)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("check constraint"), "{err}");
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn an_order_can_be_debited_only_once_and_refunded_only_once(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let data = app
        .place(
            &partner.key,
            &json!({"planId": "ae-1gb-7d"}),
            StatusCode::CREATED,
        )
        .await;
    let order_id = uuid::Uuid::parse_str(data["orderId"].as_str().unwrap()).unwrap();
    let insert =
        "insert into ledger_entries (partner_id, kind, amount_cents, balance_after_cents, order_id)
                  values ($1, $2, $3, 0, $4)";
    let err = sqlx::query(insert)
        .bind(partner.id.0)
        .bind("order_debit")
        .bind(-450_i64)
        .bind(order_id)
        .execute(&app.db)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("ledger_entries_one_debit_per_order"),
        "{err}"
    );
    for _ in 0..2 {
        let _ = sqlx::query(insert)
            .bind(partner.id.0)
            .bind("refund")
            .bind(450_i64)
            .bind(order_id)
            .execute(&app.db)
            .await;
    }
    let refunds: i64 = sqlx::query_scalar(
        "select count(*) from ledger_entries where order_id = $1 and kind = 'refund'",
    )
    .bind(order_id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(refunds, 1);
    // That stray refund (and the balance it bypassed) is exactly what verification catches.
    let report = tavaro::ledger::verify(&app.db).await.unwrap();
    let problems: Vec<&str> = report.findings.iter().map(|f| f.problem.as_str()).collect();
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.order_id.map(|o| o.0) == Some(order_id) && f.problem.contains("refund")),
        "{problems:?}"
    );
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.partner_id == Some(partner.id)),
        "{problems:?}"
    );
}

#[sqlx::test]
async fn order_transitions_outside_the_state_machine_are_refused(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let data = app
        .place(
            &partner.key,
            &json!({"planId": "ae-1gb-7d"}),
            StatusCode::CREATED,
        )
        .await;
    let order_id = uuid::Uuid::parse_str(data["orderId"].as_str().unwrap()).unwrap();
    for status in ["pending", "failed", "processing"] {
        let err = sqlx::query("update orders set status = $2 where id = $1")
            .bind(order_id)
            .bind(status)
            .execute(&app.db)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("cannot go from completed"),
            "{err}"
        );
    }
    let err =
        sqlx::query("update orders set total_cost_cents = 1, unit_cost_cents = 1 where id = $1")
            .bind(order_id)
            .execute(&app.db)
            .await
            .unwrap_err();
    assert!(err.to_string().contains("immutable"), "{err}");
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn ledger_verify_names_a_balance_that_drifted_from_its_entries(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    app.assert_ledger_sound().await;
    // Credits created outside the ledger.
    sqlx::query("update balances set balance_cents = balance_cents + 1 where partner_id = $1")
        .bind(partner.id.0)
        .execute(&app.db)
        .await
        .unwrap();
    let report = tavaro::ledger::verify(&app.db).await.unwrap();
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    assert_eq!(report.findings[0].partner_id, Some(partner.id));
    assert!(
        report.findings[0].problem.contains("10001"),
        "{}",
        report.findings[0].problem
    );
}

#[sqlx::test]
async fn concurrent_balance_reads_each_get_their_own_partner_and_see_the_latest_debit(db: PgPool) {
    let app = spawn_app(db).await;
    let mut partners = Vec::new();
    for i in 0..20 {
        let credits = format!("{}.00", 10 + i);
        partners.push(app.create_partner(&format!("p{i}"), "0", &credits).await);
    }
    // Every partner at once, several times: the reads are answered together.
    for _ in 0..3 {
        let reads = partners.iter().map(|p| app.get("/v1/balance", &p.key));
        let answers = futures::future::join_all(reads).await;
        for (i, answer) in answers.into_iter().enumerate() {
            let data = crate::helpers::success_data(answer, StatusCode::OK).await;
            assert_eq!(
                data["balance"].as_f64(),
                Some(10.0 + i as f64),
                "partner {i}"
            );
            assert_eq!(data["currency"], "USD");
        }
    }
    // A read after an order sees its debit.
    app.place(
        &partners[0].key,
        &json!({"planId": "ae-1gb-7d"}),
        StatusCode::CREATED,
    )
    .await;
    let expected = app.balance_cents(partners[0].id).await;
    assert!(expected < 1_000);
    let data = crate::helpers::success_data(
        app.get("/v1/balance", &partners[0].key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(data["balance"].as_f64(), Some(expected as f64 / 100.0));
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn money_and_esims_can_only_name_an_order_of_their_own_partner(db: PgPool) {
    let app = spawn_app(db).await;
    let acme = app.create_partner("acme", "0", "100.00").await;
    let globex = app.create_partner("globex", "0", "100.00").await;
    let data = app
        .place(
            &acme.key,
            &json!({"planId": "ae-1gb-7d"}),
            StatusCode::CREATED,
        )
        .await;
    let order_id = uuid::Uuid::parse_str(data["orderId"].as_str().unwrap()).unwrap();
    // A refund of acme's order credited to globex.
    let err = sqlx::query(
        "insert into ledger_entries (partner_id, kind, amount_cents, balance_after_cents, order_id)
         values ($1, 'refund', 450, 10450, $2)",
    )
    .bind(globex.id.0)
    .bind(order_id)
    .execute(&app.db)
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("ledger_entries_order_partner_fk"),
        "{err}"
    );
    // An eSIM of acme's order given to globex.
    let err = sqlx::query(
        "insert into esims (id, partner_id, order_id, iccid, smdp_address, activation_code,
                            qr_token, provider)
         values (gen_random_uuid(), $1, $2, '8901264426716552582', 's', 'c', 'tok', 'simulator')",
    )
    .bind(globex.id.0)
    .bind(order_id)
    .execute(&app.db)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("esims_order_partner_fk"), "{err}");
    app.assert_ledger_sound().await;
}

async fn insert_esim(
    db: &PgPool,
    order: uuid::Uuid,
    iccid: &str,
    provider: &str,
    status: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into esims (id, partner_id, order_id, iccid, smdp_address, activation_code,
                            qr_token, provider, status)
         select gen_random_uuid(), partner_id, id, $2, 's', 'c', gen_random_uuid()::text, $3, $4
           from orders where id = $1",
    )
    .bind(order)
    .bind(iccid)
    .bind(provider)
    .bind(status)
    .execute(db)
    .await
    .map(|_| ())
}

#[sqlx::test]
async fn one_iccid_of_a_provider_belongs_to_one_live_esim(db: PgPool) {
    let app = spawn_app(db).await;
    let acme = app.create_partner("acme", "0", "100.00").await;
    let data = app
        .place(
            &acme.key,
            &json!({"planId": "ae-1gb-7d"}),
            StatusCode::CREATED,
        )
        .await;
    let order = uuid::Uuid::parse_str(data["orderId"].as_str().unwrap()).unwrap();
    let iccid = data["esims"][0]["iccid"].as_str().unwrap();

    let err = insert_esim(&app.db, order, iccid, "simulator", "READY")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("esims_live_iccid_key"), "{err}");
    // An expired eSIM holds nothing, and another provider's ICCIDs are its own.
    insert_esim(&app.db, order, iccid, "simulator", "EXPIRED")
        .await
        .unwrap();
    insert_esim(&app.db, order, iccid, "airalo", "READY")
        .await
        .unwrap();
    // Once the eSIM is over, its ICCID may come back on a new one (eSIM Access recycles).
    sqlx::query(
        "update esims set status = 'EXPIRED' where order_id = $1 and provider = 'simulator'",
    )
    .bind(order)
    .execute(&app.db)
    .await
    .unwrap();
    insert_esim(&app.db, order, iccid, "simulator", "READY")
        .await
        .unwrap();
}

/// A cancelled eSIM is over, as an expired one is: an upstream that recycles ICCIDs may
/// issue its ICCID on a new eSIM, and the new one is stored (nor does `ledger verify`
/// flag the pair). While its cancellation is pending, the ICCID is still the eSIM's.
#[sqlx::test]
async fn a_cancelled_esims_iccid_may_come_back_on_a_new_esim(db: PgPool) {
    let app = spawn_app(db).await;
    let acme = app.create_partner("acme", "0", "100.00").await;
    let plan = json!({"planId": "ae-1gb-7d"});
    let first = app.place(&acme.key, &plan, StatusCode::CREATED).await;
    let second = app.place(&acme.key, &plan, StatusCode::CREATED).await;
    let esim = first["esims"][0]["esimId"].as_str().unwrap();
    let iccid = first["esims"][0]["iccid"].as_str().unwrap();
    let newer = second["esims"][0]["esimId"].as_str().unwrap();
    // The second eSIM issued with the first one's ICCID, as a recycling upstream does.
    let recycle = || {
        sqlx::query("update esims set iccid = $2 where id = $1::uuid")
            .bind(newer)
            .bind(iccid)
            .execute(&app.db)
    };
    let status = |to: &'static str| {
        sqlx::query("update esims set status = $2 where id = $1::uuid")
            .bind(esim)
            .bind(to)
            .execute(&app.db)
    };

    status("CANCEL_PENDING").await.unwrap();
    let err = recycle().await.unwrap_err();
    assert!(err.to_string().contains("esims_live_iccid_key"), "{err}");
    status("READY").await.unwrap();
    let cancelled = crate::after_sale::cancel(&app, &acme.key, esim, None).await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    recycle().await.unwrap();
    app.assert_ledger_sound().await;
}

/// The migration that brings the live-ICCID guard works on a database that already holds
/// duplicates (stored while nothing refused them): it keeps them, names them through
/// `ledger verify`, and refuses any new one.
#[sqlx::test(migrations = false)]
async fn the_live_iccid_guard_migrates_a_database_that_already_holds_duplicates(db: PgPool) {
    const GUARD: i64 = 20261215000002;
    let mut before = sqlx::migrate!("./migrations");
    before.migrations = before
        .migrations
        .iter()
        .filter(|m| m.version < GUARD)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    before.run(&db).await.unwrap();
    crate::helpers::import_demo_catalog(&db).await;
    // In SQL: the library writes today's schema, not this older one.
    let acme = tavaro::ids::PartnerId::new();
    sqlx::query("insert into partners (id, name) values ($1, 'acme')")
        .bind(acme.0)
        .execute(&db)
        .await
        .unwrap();
    let mut orders = Vec::new();
    for _ in 0..2 {
        let id = uuid::Uuid::new_v4();
        sqlx::query(
            "insert into orders (id, partner_id, plan_id, quantity, unit_cost_cents,
                                 total_cost_cents, status, provider)
             values ($1, $2, 'ae-1gb-7d', 1, 450, 450, 'completed', 'simulator')",
        )
        .bind(id)
        .bind(acme.0)
        .execute(&db)
        .await
        .unwrap();
        sqlx::query(
            "insert into esims (id, partner_id, order_id, iccid, smdp_address, activation_code,
                                qr_token)
             values (gen_random_uuid(), $1, $2, '8901264426716552582', 's', 'c',
                     gen_random_uuid()::text)",
        )
        .bind(acme.0)
        .bind(id)
        .execute(&db)
        .await
        .unwrap();
        orders.push(id);
    }

    sqlx::migrate!("./migrations").run(&db).await.unwrap();

    let report = tavaro::ledger::verify(&db).await.unwrap();
    let duplicates: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.problem.contains("8901264426716552582"))
        .collect();
    assert_eq!(duplicates.len(), 1, "{:#?}", report.findings);
    assert_eq!(duplicates[0].order_id.map(|o| o.0), Some(orders[0]));
    let err = insert_esim(&db, orders[1], "8901264426716552582", "simulator", "READY")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("esims_live_iccid_key"), "{err}");
}

/// The server's role (`tavaro_app`, what `make run` serves as) cannot switch the ledger's
/// guards off: it owns no table, so it may not alter, drop or truncate one, disable or drop
/// a trigger, or create a table; and it may not update or delete a ledger entry at all.
#[sqlx::test]
async fn the_servers_role_cannot_disable_the_ledgers_triggers_alter_or_truncate(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let served: String = sqlx::query_scalar("select current_user::text")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(served, "tavaro_app");
    let mut server = app.state.db.acquire().await.unwrap();
    for statement in [
        "alter table ledger_entries disable trigger ledger_entries_no_update_or_delete",
        "alter table ledger_entries disable trigger all",
        "drop trigger ledger_entries_no_truncate on ledger_entries",
        "drop function ledger_entries_are_append_only() cascade",
        "truncate ledger_entries cascade",
        "truncate balances",
        "delete from ledger_entries",
        "update ledger_entries set amount_cents = 1000000",
        "alter table balances drop constraint if exists balances_balance_cents_check",
        "drop table orders cascade",
        "create table shadow_ledger (id bigint)",
        "delete from _sqlx_migrations",
    ] {
        let err = sqlx::query(statement)
            .execute(&mut *server)
            .await
            .expect_err(statement);
        let code = err
            .as_database_error()
            .and_then(|e| e.code().map(|c| c.into_owned()));
        // 42501: insufficient privilege; "must be owner" is the same code.
        assert_eq!(code.as_deref(), Some("42501"), "{statement}: {err}");
    }
    drop(server);
    assert_eq!(app.ledger_sum(partner.id).await, 10_000);
    let order = app
        .place(
            &partner.key,
            &json!({"planId": "ae-1gb-7d"}),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(order["status"], "completed", "{order}");
    app.assert_ledger_sound().await;
}

/// `tavaro ledger verify` reads every eSIM's refunds in one pass over the ledger, whatever
/// the planner makes of the tables: a sub-query per eSIM (no index covers every entry's
/// `esim_id`) made it quadratic, and it ran for hours on a ledger of a few hundred
/// thousand orders. The statement still finds a cancelled eSIM's one refund.
#[sqlx::test]
async fn ledger_verify_reads_the_esims_refunds_in_one_pass(db: PgPool) {
    let app = spawn_app(db).await;
    let acme = app.create_partner("acme", "0", "100.00").await;
    let data = app
        .place(
            &acme.key,
            &json!({"planId": "ae-5gb-7d", "quantity": 2}),
            StatusCode::CREATED,
        )
        .await;
    let cancelled = data["esims"][0]["esimId"].as_str().unwrap().to_owned();
    let response = app
        .client
        .post(format!("{}/v1/esim/{cancelled}/cancel", app.address))
        .bearer_auth(&acme.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let statement = include_str!("../../src/ledger/esim_refunds.sql");
    let rows: Vec<(uuid::Uuid, String, i64)> = sqlx::query_as(&format!(
        "select id, status, \"refunds!\" from ({statement}) checked"
    ))
    .fetch_all(&app.db)
    .await
    .unwrap();
    // The other eSIM of the order has no entry of its own and is not cancelled.
    assert_eq!(
        rows,
        [(cancelled.parse().unwrap(), "CANCELLED".to_owned(), 1)]
    );
    app.assert_ledger_sound().await;

    let plan: Vec<String> = sqlx::query_scalar(&format!("explain {statement}"))
        .fetch_all(&app.db)
        .await
        .unwrap();
    let plan = plan.join("\n");
    assert!(!plan.contains("SubPlan"), "{plan}");
    assert_eq!(plan.matches("on ledger_entries").count(), 1, "{plan}");
}

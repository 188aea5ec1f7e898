//! `GET /v1/esim/{esimId}`, statuses driven by the simulator, isolation, QR codes.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tavaro::esims::EsimStatus;
use tavaro::provider::simulator;

use crate::helpers::{TestApp, TestPartner, assert_error, spawn_app, success_data};

async fn order_one(app: &TestApp, partner: &TestPartner, plan: &str) -> Value {
    let data = app
        .place(&partner.key, &json!({"planId": plan}), StatusCode::CREATED)
        .await;
    data["esims"][0].clone()
}

async fn esim_status(app: &TestApp, partner: &TestPartner, id: &str) -> Value {
    success_data(
        app.get(&format!("/v1/esim/{id}"), &partner.key).await,
        StatusCode::OK,
    )
    .await
}

#[sqlx::test]
async fn an_esim_moves_from_ready_to_active_to_depleted(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let ordered = order_one(&app, &partner, "ae-5gb-7d").await;
    let id = ordered["esimId"].as_str().unwrap();
    let iccid = ordered["iccid"].as_str().unwrap();

    let ready = esim_status(&app, &partner, id).await;
    assert_eq!(ready["esimId"], id);
    assert_eq!(ready["iccid"], iccid);
    assert_eq!(ready["planId"], "ae-5gb-7d");
    assert_eq!(ready["status"], "READY");
    assert_eq!(ready["dataTotalMb"], 5120);
    assert_eq!(ready["dataUsedMb"], 0);
    assert_eq!(ready["dataRemainingMb"], 5120);
    assert!(ready["activatedAt"].is_null() && ready["expiresAt"].is_null());
    for field in [
        "orderId",
        "lpaCode",
        "qrCodeUrl",
        "iosInstallUrl",
        "androidInstallUrl",
        "createdAt",
    ] {
        assert!(ready[field].is_string(), "{field}");
    }
    assert_eq!(ready["lpaCode"], ordered["lpaCode"]);

    let usage = simulator::record_usage(&app.db, iccid, 1000).await.unwrap();
    assert_eq!(usage.status, EsimStatus::Active);
    let active = esim_status(&app, &partner, id).await;
    assert_eq!(active["status"], "ACTIVE");
    assert_eq!(active["dataUsedMb"], 1000);
    assert_eq!(active["dataRemainingMb"], 4120);
    let activated =
        chrono::DateTime::parse_from_rfc3339(active["activatedAt"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(active["expiresAt"].as_str().unwrap()).unwrap();
    let validity = expires - activated;
    assert!(
        (validity - chrono::Duration::days(7)).num_seconds().abs() <= 1,
        "first use + 7 days"
    );

    simulator::record_usage(&app.db, iccid, 10_000)
        .await
        .unwrap();
    let depleted = esim_status(&app, &partner, id).await;
    assert_eq!(depleted["status"], "DEPLETED");
    assert_eq!(depleted["dataUsedMb"], 5120);
    assert_eq!(depleted["dataRemainingMb"], 0);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn an_esim_expires_and_refuses_further_use(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let ordered = order_one(&app, &partner, "ae-1gb-7d").await;
    let iccid = ordered["iccid"].as_str().unwrap();
    simulator::expire(&app.db, iccid).await.unwrap();
    let expired = esim_status(&app, &partner, ordered["esimId"].as_str().unwrap()).await;
    assert_eq!(expired["status"], "EXPIRED");
    assert!(simulator::record_usage(&app.db, iccid, 1).await.is_err());
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn unlimited_esims_never_deplete(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "1000.00").await;
    let plans = success_data(app.get("/v1/packages", &partner.key).await, StatusCode::OK).await;
    let unlimited = plans
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["data"] == "Unlimited")
        .unwrap();
    let ordered = order_one(&app, &partner, unlimited["planId"].as_str().unwrap()).await;
    simulator::record_usage(&app.db, ordered["iccid"].as_str().unwrap(), 500_000)
        .await
        .unwrap();
    let status = esim_status(&app, &partner, ordered["esimId"].as_str().unwrap()).await;
    assert_eq!(status["status"], "ACTIVE");
    assert!(status["dataTotalMb"].is_null() && status["dataRemainingMb"].is_null());
    assert_eq!(status["dataUsedMb"], 500_000);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn another_partners_esim_is_not_found(db: PgPool) {
    let app = spawn_app(db).await;
    let alice = app.create_partner("alice", "0", "100.00").await;
    let bob = app.create_partner("bob", "0", "100.00").await;
    let ordered = order_one(&app, &alice, "ae-1gb-7d").await;
    let id = ordered["esimId"].as_str().unwrap();
    assert_error(
        app.get(&format!("/v1/esim/{id}"), &bob.key).await,
        StatusCode::NOT_FOUND,
        "esim_not_found",
    )
    .await;
    for bad in [
        "not-a-uuid",
        "00000000-0000-0000-0000-000000000000",
        "%FF%FE",
        "1%27%20or%201=1",
    ] {
        assert_error(
            app.get(&format!("/v1/esim/{bad}"), &alice.key).await,
            StatusCode::NOT_FOUND,
            "esim_not_found",
        )
        .await;
    }
    assert_eq!(esim_status(&app, &alice, id).await["esimId"], id);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn the_qr_code_png_decodes_to_the_lpa_code(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let ordered = order_one(&app, &partner, "ae-5gb-7d").await;
    let url = ordered["qrCodeUrl"].as_str().unwrap();
    let token = url.rsplit('/').next().unwrap().trim_end_matches(".png");
    assert!(token.len() >= 22, "at least 128 bits of base62");

    // Public: no API key needed.
    let response = app.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/png");
    let png = response.bytes().await.unwrap();

    let image = image::load_from_memory(&png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        image.width() as usize,
        image.height() as usize,
        |x, y| image.get_pixel(x as u32, y as u32).0[0],
    );
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_meta, content) = grids[0].decode().unwrap();
    assert_eq!(content, ordered["lpaCode"].as_str().unwrap());
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn unknown_qr_tokens_are_json_404s(db: PgPool) {
    let app = spawn_app(db).await;
    for path in [
        "/qr/AAAAAAAAAAAAAAAAAAAAAAAAAA.png",
        "/qr/short.png",
        "/qr/AAAAAAAAAAAAAAAAAAAAAAAAAA",
        "/qr/%00.png",
    ] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn install_links_percent_encode_an_activation_code_that_would_break_them(db: PgPool) {
    let app = spawn_app(db).await;
    let partner = app.create_partner("acme", "0", "100.00").await;
    let ordered = order_one(&app, &partner, "ae-1gb-7d").await;
    let id = ordered["esimId"].as_str().unwrap();
    // The simulator's links: an LPA string needs no encoding, and gets none.
    let lpa = ordered["lpaCode"].as_str().unwrap();
    assert_eq!(
        ordered["iosInstallUrl"],
        format!("https://esimsetup.apple.com/esim_qrcode_provisioning?carddata={lpa}")
    );

    // A code stored before upstream fields were checked, holding what ends a query value.
    sqlx::query("update esims set activation_code = $2 where id = $1")
        .bind(uuid::Uuid::parse_str(id).unwrap())
        .bind("AB&carddata=x#C D+E%")
        .execute(&app.db)
        .await
        .unwrap();
    let esim = esim_status(&app, &partner, id).await;
    assert_eq!(
        esim["lpaCode"],
        "LPA:1$smdp.sim.tavaro.io$AB&carddata=x#C D+E%"
    );
    let encoded = "LPA:1$smdp.sim.tavaro.io$AB%26carddata%3Dx%23C%20D%2BE%25";
    assert_eq!(
        esim["iosInstallUrl"],
        format!("https://esimsetup.apple.com/esim_qrcode_provisioning?carddata={encoded}")
    );
    assert_eq!(
        esim["androidInstallUrl"],
        format!("https://esimsetup.android.com/esim_qrcode_provisioning?carddata={encoded}")
    );
    let link = reqwest::Url::parse(esim["iosInstallUrl"].as_str().unwrap()).unwrap();
    let params: Vec<(String, String)> = link.query_pairs().into_owned().collect();
    assert_eq!(
        params,
        [(
            "carddata".to_owned(),
            esim["lpaCode"].as_str().unwrap().to_owned()
        )],
        "one parameter, decoding to the LPA string"
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn the_documented_iccid_pattern_admits_the_iccids_the_providers_send(db: PgPool) {
    let app = spawn_app(db).await;
    let document: Value = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemas = &document["components"]["schemas"];
    let iccid = schemas["Esim"]["properties"]["iccid"].clone();
    assert_eq!(iccid, schemas["OrderEsim"]["properties"]["iccid"]);
    assert_eq!(iccid["pattern"], "^89[0-9]{16,18}$");
    let validator = jsonschema::validator_for(&iccid).unwrap();
    for sent in [
        // The simulator's (19 digits, Luhn), eSIM Access's (20), eSIM Go's (19), Airalo's
        // (19, no check digit), Roamify's (18).
        simulator::new_iccid().as_str(),
        "89852245280000942210",
        "8944538532008160222",
        "8944465400003573253",
        "894000000000029365",
    ] {
        assert!(validator.is_valid(&json!(sent)), "{sent}");
    }
    for never in [
        "8901",
        "7944538532008160222",
        "894453853200816022x",
        "894453853200816022212",
    ] {
        assert!(!validator.is_valid(&json!(never)), "{never}");
    }
}

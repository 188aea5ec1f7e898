//! Provider callbacks (`POST /providers/{name}/webhook`): only hints. A forged eSIM Access
//! callback changes nothing its API does not confirm; an eSIM Go callback with a wrong
//! signature is 401 and causes not even a read; a callback for a `processing` order gets
//! it reconciled at once.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tavaro::provider::esimaccess::EsimAccess;
use tavaro::provider::esimgo::EsimGo;
use wiremock::matchers::body_partial_json;
use wiremock::{MockServer, Request};

use super::{events, told};
use crate::helpers::{TestApp, assert_error, success_data, wait_for_order};
use crate::providers::common::{CREDENTIAL, Upstream, ok};
use crate::providers::esimaccess::{ORDER_NO, gateway, mount, post, profiles};

/// POSTs `body` to `/providers/{name}/webhook` with `headers`.
async fn callback(
    app: &TestApp,
    name: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> reqwest::Response {
    let mut request = app
        .client
        .post(format!("{}/providers/{name}/webhook", app.address))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (k, v) in headers {
        request = request.header(*k, v);
    }
    request.send().await.unwrap()
}

/// Standard base64 with padding, as eSIM Go's v2.4 reference signs.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// The usage reads of `esim_tran_no` eSIM Access received.
async fn usage_reads(server: &MockServer, esim_tran_no: &str) -> usize {
    EsimAccess::requests_to(server, "/esim/query")
        .await
        .iter()
        .filter(|r: &&Request| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["esimTranNo"] == esim_tran_no
        })
        .count()
}

/// Waits (5 s at most) until eSIM Access has received `n` usage reads of `esim_tran_no`,
/// then a moment for what the read wrote to commit.
async fn wait_for_reads(server: &MockServer, esim_tran_no: &str, n: usize) {
    let started = Instant::now();
    while usage_reads(server, esim_tran_no).await < n {
        assert!(started.elapsed() < Duration::from_secs(5), "never read");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// The stored status and usage of the eSIM with `iccid`.
async fn stored(app: &TestApp, iccid: &str) -> (String, i64) {
    sqlx::query_as("select status, data_used_mb from esims where iccid = $1")
        .bind(iccid)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[sqlx::test]
async fn a_forged_esim_access_callback_changes_nothing_its_api_does_not_confirm(db: PgPool) {
    let server = MockServer::start().await;
    let (app, partner, plan) = gateway(db, &server).await;
    mount(
        &server,
        "/esim/order",
        ok(EsimAccess::fixture("order.json")),
    )
    .await;
    mount(&server, "/esim/query", ok(profiles("ours"))).await;
    let order = app
        .place(
            &partner.key,
            &json!({"planId": plan, "quantity": 2}),
            StatusCode::CREATED,
        )
        .await;
    let iccid = "89852245280000942210";
    let id = order["esims"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["iccid"] == iccid)
        .unwrap()["esimId"]
        .as_str()
        .unwrap()
        .to_owned();

    // Forged: 90 % used, says the callback; the API says unused.
    let forged = json!({
        "notifyType": "DATA_USAGE",
        "notifyId": "forged-1",
        "content": {"orderNo": ORDER_NO, "transactionId": order["orderId"], "iccid": iccid,
                    "esimTranNo": "25041514020101", "totalVolume": 1_073_741_824_i64,
                    "orderUsage": 966_367_641_i64, "remain": 107_374_183_i64}
    });
    let body = serde_json::to_vec(&forged).unwrap();
    let taken = success_data(
        callback(&app, "esimaccess", &[], &body).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(taken, json!({"received": true}));
    wait_for_reads(&server, "25041514020101", 1).await;
    assert_eq!(stored(&app, iccid).await, ("READY".to_owned(), 0));
    assert_eq!(
        events(&app.db, partner.id).await,
        [told("order.completed", "live", order["orderId"].as_str())]
    );

    // The same callback once the API shows the use: recorded, and told.
    post("/esim/query")
        .and(body_partial_json(json!({"esimTranNo": "25041514020101"})))
        .respond_with(ok(EsimAccess::fixture("query_in_use.json")))
        .with_priority(1)
        .mount(&server)
        .await;
    success_data(
        callback(&app, "esimaccess", &[], &body).await,
        StatusCode::OK,
    )
    .await;
    wait_for_reads(&server, "25041514020101", 2).await;
    assert_eq!(stored(&app, iccid).await, ("ACTIVE".to_owned(), 500));
    assert_eq!(
        events(&app.db, partner.id).await[1..],
        [told("esim.activated", "live", Some(&id))]
    );

    // Not JSON: 400, and nothing read.
    assert_error(
        callback(&app, "esimaccess", &[], b"{not json").await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    // A health check is taken and asks nothing.
    let health = serde_json::to_vec(&json!({"notifyType": "CHECK_HEALTH", "content": {}})).unwrap();
    success_data(
        callback(&app, "esimaccess", &[], &health).await,
        StatusCode::OK,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(usage_reads(&server, "25041514020101").await, 2);
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn an_esim_access_callback_for_a_processing_order_settles_it_at_once(db: PgPool) {
    let server = MockServer::start().await;
    let (app, partner, plan) = gateway(db, &server).await;
    mount(
        &server,
        "/esim/order",
        ok(EsimAccess::fixture("order.json")),
    )
    .await;
    post("/esim/query")
        .respond_with(ok(EsimAccess::fixture("query_allocating.json")))
        .with_priority(5)
        .mount(&server)
        .await;
    let open = app
        .place(&partner.key, &json!({"planId": plan}), StatusCode::ACCEPTED)
        .await;
    let id = open["orderId"].as_str().unwrap();
    // As if reconciliation had backed off for an hour.
    sqlx::query("update order_jobs set run_at = now() + interval '1 hour'")
        .execute(&app.db)
        .await
        .unwrap();

    let notice = serde_json::to_vec(&json!({
        "notifyType": "ORDER_STATUS",
        "content": {"orderNo": ORDER_NO, "orderStatus": "GOT_RESOURCE"}
    }))
    .unwrap();
    // Said ready while the API still says allocating: it stays processing.
    success_data(
        callback(&app, "esimaccess", &[], &notice).await,
        StatusCode::OK,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status: String = sqlx::query_scalar("select status from orders where id = $1::uuid")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "processing");
    assert!(events(&app.db, partner.id).await.is_empty());

    // Allocated now: the next callback settles it without waiting for the backed-off job.
    sqlx::query("update order_jobs set run_at = now() + interval '1 hour'")
        .execute(&app.db)
        .await
        .unwrap();
    let mut allocated = profiles(id);
    allocated["obj"]["esimList"]
        .as_array_mut()
        .unwrap()
        .truncate(1);
    post("/esim/query")
        .respond_with(ok(allocated))
        .with_priority(1)
        .mount(&server)
        .await;
    let started = Instant::now();
    success_data(
        callback(&app, "esimaccess", &[], &notice).await,
        StatusCode::OK,
    )
    .await;
    wait_for_order(&app, &partner.key, id, "completed").await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        events(&app.db, partner.id).await,
        [told("order.completed", "live", Some(id))]
    );
    app.assert_ledger_sound().await;
}

#[sqlx::test]
async fn an_esim_go_callback_must_carry_its_signature_and_a_wrong_one_is_401_and_ignored(
    db: PgPool,
) {
    let server = MockServer::start().await;
    let app = EsimGo::spawn_gateway(db, &server).await;
    let body = serde_json::to_vec(&json!({
        "iccid": "8944538532008160222", "alertType": "Utilisation",
        "bundle": {"name": "esim_1GB_7D_NL_V2", "initialQuantity": 1_000_000_000_i64,
                   "remainingQuantity": 100_000_000_i64, "unlimited": false}
    }))
    .unwrap();
    let sign = |key: &str| {
        use hmac::Mac as _;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(&body);
        mac.finalize().into_bytes().to_vec()
    };

    for headers in [
        vec![],
        vec![("x-signature-sha256", hex::encode(sign("not-our-api-key")))],
        vec![("x-signature-sha256", "garbage".to_owned())],
    ] {
        let refused = assert_error(
            callback(&app, "esimgo", &headers, &body).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
        assert_eq!(
            refused["error"]["message"],
            "the callback's signature does not verify"
        );
    }
    // Signed with our API key, in hex or in base64: taken (no eSIM of ours: nothing read).
    let mac = sign(CREDENTIAL);
    for signature in [hex::encode(&mac), base64(&mac)] {
        success_data(
            callback(&app, "esimgo", &[("x-signature-sha256", signature)], &body).await,
            StatusCode::OK,
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .all(|r| !r.url.path().contains("esims")),
        "no read of any eSIM"
    );
    // A provider we do not route to, or one that sends no callbacks: 404.
    for name in ["nosuch", "airalo", "simulator"] {
        assert_error(
            callback(&app, name, &[], &body).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
}

//! What every adapter checks at its boundary, against each provider's documented answers
//! altered: an eSIM whose ICCID, SM-DP+ address or activation code is not an eSIM's is
//! never handed on (the order's outcome is unknown: reconciliation, then the operator,
//! settles it); an answer larger than its cap is dropped unread (unknown for an order,
//! unavailable for a read).

use serde_json::{Value, json};
use tavaro::provider::airalo::Airalo;
use tavaro::provider::esimaccess::EsimAccess;
use tavaro::provider::esimgo::EsimGo;
use tavaro::provider::roamify::Roamify;
use tavaro::provider::upstream::{BodyLimits, UpstreamConfig};
use tavaro::provider::{Provider, ProviderError};
use wiremock::{MockServer, ResponseTemplate};

use super::common::{Upstream, ok};
use super::{airalo, esimaccess, esimgo, roamify};

/// The answer cap the size tests give the adapters: 64 KiB.
const CAP: usize = 64 * 1024;

/// A JSON answer of `bytes` bytes (four times the cap in the tests).
fn oversize(bytes: usize) -> ResponseTemplate {
    let body = format!("{{\"data\":{{\"pad\":\"{}\"}}}}", "x".repeat(bytes));
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

/// `U`'s adapter against `server` with a 64 KiB answer cap.
fn capped<U: Upstream>(server: &MockServer) -> U {
    U::with_config(UpstreamConfig {
        body_limits: BodyLimits {
            answer: CAP,
            catalog: CAP,
        },
        ..U::config(server)
    })
}

/// Whether `result` is an unknown outcome whose message says `why`.
fn unknown_because<T: std::fmt::Debug>(result: Result<T, ProviderError>, why: &str) {
    match result {
        Err(ProviderError::Unknown(message)) => {
            assert!(message.contains(why), "{message:?} does not say {why:?}")
        }
        other => panic!("expected an unknown outcome ({why}), got {other:?}"),
    }
}

/// Airalo's order answer with its eSIM's `field` set to `value`.
fn airalo_order_with(field: &str, value: &str) -> Value {
    let mut order = Airalo::fixture("order.json");
    order["data"]["sims"][0][field] = json!(value);
    if field != "iccid" {
        // The LPA string would otherwise stand in for the field.
        order["data"]["sims"][0]["qrcode"] = json!(null);
    }
    order
}

#[tokio::test]
async fn an_airalo_order_answered_with_an_esim_we_cannot_take_is_an_unknown_outcome() {
    for (field, value, why) in [
        ("iccid", "7944465400003573253", "ICCID"),
        ("iccid", "89444654000035732", "ICCID"),
        ("lpa", "RSP-3088.IDEMIA.IO/x?y=1", "SM-DP+ address"),
        ("matching_id", "YVTGM&carddata=evil", "activation code"),
        ("matching_id", "YVTGM\u{0}5LZC6", "activation code"),
    ] {
        let server = airalo::server().await;
        airalo::authorised("POST", "/v2/orders")
            .respond_with(ok(airalo_order_with(field, value)))
            .mount(&server)
            .await;
        let result = Airalo::against(&server)
            .provision(&airalo::request(airalo::GREECE_1GB, 1))
            .await;
        unknown_because(result, why);
    }
}

#[tokio::test]
async fn airalo_iccids_are_taken_without_a_check_digit_as_airalo_documents_them() {
    // 8944465400003573253 (the documented order's) fails the Luhn check: taken as sent.
    let server = airalo::server().await;
    airalo::authorised("POST", "/v2/orders")
        .respond_with(ok(Airalo::fixture("order.json")))
        .mount(&server)
        .await;
    let issued = Airalo::against(&server)
        .provision(&airalo::request(airalo::GREECE_1GB, 1))
        .await
        .unwrap();
    assert_eq!(issued.esims[0].iccid, "8944465400003573253");
}

#[tokio::test]
async fn an_esim_access_profile_we_cannot_take_is_an_unknown_outcome() {
    for (field, value, why) in [
        // The last digit changed: the Luhn check fails.
        ("iccid", "89852245280000942211", "ICCID"),
        (
            "ac",
            "LPA:1$rsp-eu.redteamobile.com:443$451F9802E6",
            "SM-DP+ address",
        ),
        (
            "ac",
            "LPA:1$rsp-eu.redteamobile.com$451F 9802#E6",
            "activation code",
        ),
    ] {
        let server = MockServer::start().await;
        esimaccess::mount(
            &server,
            "/esim/order",
            ok(EsimAccess::fixture("order.json")),
        )
        .await;
        let mut profiles = esimaccess::profiles("ours");
        profiles["obj"]["esimList"][0][field] = json!(value);
        esimaccess::mount(&server, "/esim/query", ok(profiles)).await;
        let result = EsimAccess::against(&server)
            .provision(&esimaccess::provision(esimaccess::SPAIN, 2, None))
            .await;
        unknown_because(result, why);
    }
}

#[tokio::test]
async fn an_esim_go_order_with_install_details_we_cannot_take_is_an_unknown_outcome() {
    for (field, value, why) in [
        // The documented 8944538532008160222 with its check digit changed.
        ("iccid", "8944538532008160223", "ICCID"),
        ("smdpAddress", "rsp-3104.idemia.io$evil", "SM-DP+ address"),
        ("matchingId", "E5VDM X0LO3", "activation code"),
    ] {
        let server = MockServer::start().await;
        let mut order = EsimGo::fixture("order_transaction.json");
        order["order"][0]["esims"][0][field] = json!(value);
        esimgo::api("POST", "/orders")
            .respond_with(ok(order))
            .mount(&server)
            .await;
        let result = EsimGo::against(&server)
            .provision(&esimgo::order_of(esimgo::NL, 2))
            .await;
        unknown_because(result, why);
    }
}

#[tokio::test]
async fn a_roamify_order_with_an_esim_we_cannot_take_is_an_unknown_outcome() {
    for (field, value, why) in [
        ("iccid", "794000000000029365", "ICCID"),
        ("smdpAddress", "lpa roamify.com", "SM-DP+ address"),
        ("activationCode", "TE#ST", "activation code"),
    ] {
        let server = MockServer::start().await;
        let mut order = Roamify::fixture("order_instant.json");
        let esim = &mut order["data"]["esims"][0];
        if field == "iccid" {
            esim[field] = json!(value);
        } else {
            esim["esim"][field] = json!(value);
        }
        roamify::authed("POST", roamify::INSTANT)
            .respond_with(ok(order))
            .mount(&server)
            .await;
        let result = Roamify::against(&server)
            .provision(&roamify::provision_request(roamify::SKU, 1))
            .await;
        unknown_because(result, why);
    }
}

#[tokio::test]
async fn an_oversize_answer_to_an_order_is_an_unknown_outcome_for_every_adapter() {
    let server = airalo::server().await;
    airalo::authorised("POST", "/v2/orders")
        .respond_with(oversize(4 * CAP))
        .mount(&server)
        .await;
    let airalo = capped::<Airalo>(&server);
    unknown_because(
        airalo
            .provision(&airalo::request(airalo::GREECE_1GB, 1))
            .await,
        "larger than 65536 bytes",
    );

    let server = MockServer::start().await;
    esimaccess::mount(&server, "/esim/order", oversize(4 * CAP)).await;
    let esimaccess = capped::<EsimAccess>(&server);
    unknown_because(
        esimaccess
            .provision(&esimaccess::provision(esimaccess::SPAIN, 1, None))
            .await,
        "larger than 65536 bytes",
    );

    let server = MockServer::start().await;
    esimgo::api("POST", "/orders")
        .respond_with(oversize(4 * CAP))
        .mount(&server)
        .await;
    unknown_because(
        capped::<EsimGo>(&server)
            .provision(&esimgo::order_of(esimgo::NL, 1))
            .await,
        "larger than 65536 bytes",
    );

    let server = MockServer::start().await;
    roamify::authed("POST", roamify::INSTANT)
        .respond_with(oversize(4 * CAP))
        .mount(&server)
        .await;
    unknown_because(
        capped::<Roamify>(&server)
            .provision(&roamify::provision_request(roamify::SKU, 1))
            .await,
        "larger than 65536 bytes",
    );
}

#[tokio::test]
async fn an_oversize_answer_to_a_read_leaves_the_upstream_unavailable_for_every_adapter() {
    let unavailable = |result: Result<tavaro::provider::EsimUsage, ProviderError>| match result {
        Err(ProviderError::Unavailable(message)) => {
            assert!(message.contains("larger than 65536 bytes"), "{message}")
        }
        other => panic!("expected unavailable, got {other:?}"),
    };

    let server = airalo::server().await;
    airalo::authorised("GET", "/v2/sims/8944465400003573253/usage")
        .respond_with(oversize(4 * CAP))
        .mount(&server)
        .await;
    unavailable(
        capped::<Airalo>(&server)
            .usage(&airalo::esim("8944465400003573253"))
            .await,
    );

    let server = MockServer::start().await;
    esimaccess::mount(&server, "/esim/query", oversize(4 * CAP)).await;
    let esim = tavaro::provider::EsimRef {
        iccid: "89852245280000942210".into(),
        provider_ref: Some("25041514020101".into()),
        sku: None,
    };
    unavailable(capped::<EsimAccess>(&server).usage(&esim).await);

    let server = MockServer::start().await;
    esimgo::api("GET", &format!("/esims/{}/bundles", esimgo::ICCID))
        .respond_with(oversize(4 * CAP))
        .mount(&server)
        .await;
    let esim = tavaro::provider::EsimRef {
        iccid: esimgo::ICCID.into(),
        provider_ref: None,
        sku: Some(esimgo::NL.into()),
    };
    unavailable(capped::<EsimGo>(&server).usage(&esim).await);

    let server = MockServer::start().await;
    roamify::authed("GET", "/api/esim/usage")
        .respond_with(oversize(4 * CAP))
        .mount(&server)
        .await;
    unavailable(
        capped::<Roamify>(&server)
            .usage(&roamify::esim_ref(roamify::ICCID))
            .await,
    );
}

#[tokio::test]
async fn an_answer_within_its_cap_is_read_whole() {
    // The documented order (a few KiB) under a 64 KiB cap: read as before.
    let server = airalo::server().await;
    airalo::authorised("POST", "/v2/orders")
        .respond_with(ok(Airalo::fixture("order.json")))
        .mount(&server)
        .await;
    let issued = capped::<Airalo>(&server)
        .provision(&airalo::request(airalo::GREECE_1GB, 1))
        .await
        .unwrap();
    assert_eq!(issued.esims.len(), 1);
}

#[tokio::test]
async fn a_lookup_that_finds_install_details_we_cannot_take_is_an_unknown_outcome() {
    // Reconciliation asks again and gets the same eSIM: never settled with it, never
    // refunded either (the upstream issued something); the operator decides.
    let server = MockServer::start().await;
    let mut order = EsimGo::fixture("order_transaction.json");
    order["order"][0]["esims"][0]["matchingId"] = json!("E5VDM$1.3.6.1.4$1");
    let reference = order["orderReference"].as_str().unwrap().to_owned();
    esimgo::api("GET", &format!("/orders/{reference}"))
        .respond_with(ok(order))
        .mount(&server)
        .await;
    let lookup = esimgo::lookup_of(Some(&reference), esimgo::NL, 2);
    unknown_because(
        EsimGo::against(&server).lookup(&lookup).await,
        "activation code",
    );
}

//! Instant orders: install data, an order answered before its eSIMs, and every documented
//! (and observed) error, each classified by what it says about the upstream's side effects.

use std::time::Duration;

use serde_json::{Value, json};
use tavaro::provider::roamify::Roamify;
use tavaro::provider::{Provider, ProviderError, ProvisionedEsim, Refusal};
use wiremock::matchers::query_param;
use wiremock::{MockServer, ResponseTemplate};

use super::{ESIM_ID, ICCID, INSTANT, ORDER_ID, SKU, authed, provision_request};
use crate::providers::common::{TIMEOUT, Upstream, answer, ok};

async fn order_answered(template: ResponseTemplate) -> Result<Vec<ProvisionedEsim>, ProviderError> {
    let server = MockServer::start().await;
    authed("POST", INSTANT)
        .respond_with(template)
        .mount(&server)
        .await;
    Roamify::against(&server)
        .provision(&provision_request(SKU, 1))
        .await
        .map(|p| p.esims)
}

fn failed(message: &str) -> Value {
    json!({"status": "failed", "message": message})
}

#[tokio::test]
async fn install_data_comes_from_its_parts_or_is_split_from_the_lpa_string() {
    let server = MockServer::start().await;
    let mut body = Roamify::fixture("order_instant.json");
    let mut second = body["data"]["esims"][0].clone();
    second["id"] = json!("22dcdb84-968b-415c-bb70-79e2f3ffc296");
    second["iccid"] = json!("89852245280000942210");
    second["esim"]["lpaCode"] = json!("LPA:1$rsp-3088.idemia.io$YVTGM-5LZC6-PIC56-KFEZJ");
    second["esim"]["smdpAddress"] = json!("");
    second["esim"]["activationCode"] = json!(null);
    body["data"]["esims"].as_array_mut().unwrap().push(second);
    authed("POST", INSTANT)
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;

    let issued = Roamify::against(&server)
        .provision(&provision_request(SKU, 2))
        .await
        .expect("the instant order issues");

    assert_eq!(issued.provider_order_ref.as_deref(), Some(ORDER_ID));
    assert_eq!(
        issued.esims,
        vec![
            ProvisionedEsim {
                iccid: ICCID.into(),
                smdp_address: "lpa.roamify.com".into(),
                activation_code: "TEST".into(),
                provider_ref: Some(ESIM_ID.into()),
            },
            ProvisionedEsim {
                iccid: "89852245280000942210".into(),
                smdp_address: "rsp-3088.idemia.io".into(),
                activation_code: "YVTGM-5LZC6-PIC56-KFEZJ".into(),
                provider_ref: Some("22dcdb84-968b-415c-bb70-79e2f3ffc296".into()),
            },
        ]
    );
}

#[tokio::test]
async fn esims_embedded_in_the_order_items_are_read_as_well() {
    let esim = Roamify::fixture("esim.json")["data"].clone();
    let mut body = Roamify::fixture("order_completed.json");
    let item = &mut body["data"]["items"][0];
    item["id"] = json!("item-0001");
    item["iccid"] = esim["iccid"].clone();
    item["esim"] = esim["esim"].clone();

    let esims = order_answered(ResponseTemplate::new(200).set_body_json(body))
        .await
        .expect("the eSIM in the item is delivered");

    assert_eq!(
        esims,
        vec![ProvisionedEsim {
            iccid: ICCID.into(),
            smdp_address: "lpa.roamify.com".into(),
            activation_code: "TEST".into(),
            provider_ref: Some(ESIM_ID.into()),
        }]
    );
}

/// An instant order that answers before its eSIMs are ready.
fn accepted_without_esims() -> ResponseTemplate {
    ok(Roamify::fixture("order_pending.json"))
}

#[tokio::test]
async fn an_order_answered_before_its_esims_is_polled_by_its_id_until_they_arrive() {
    let server = MockServer::start().await;
    authed("POST", INSTANT)
        .respond_with(accepted_without_esims())
        .expect(1)
        .mount(&server)
        .await;
    authed("GET", "/api/esim/order")
        .and(query_param("orderId", ORDER_ID))
        .respond_with(ok(Roamify::fixture("order_pending.json")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    authed("GET", "/api/esim/order")
        .and(query_param("orderId", ORDER_ID))
        .respond_with(ok(Roamify::fixture("order_completed.json")))
        .mount(&server)
        .await;
    authed("GET", "/api/esim")
        .and(query_param("esimId", ESIM_ID))
        .respond_with(ok(Roamify::fixture("esim.json")))
        .mount(&server)
        .await;

    let issued = Roamify::against(&server)
        .provision(&provision_request(SKU, 1))
        .await
        .expect("the eSIM arrives while polling");

    assert_eq!(issued.provider_order_ref.as_deref(), Some(ORDER_ID));
    assert_eq!(issued.esims.len(), 1);
    assert_eq!(issued.esims[0].iccid, ICCID);
    assert_eq!(issued.esims[0].provider_ref.as_deref(), Some(ESIM_ID));
}

#[tokio::test]
async fn an_order_still_processing_when_the_polling_budget_ends_is_accepted_under_its_order_id() {
    let server = MockServer::start().await;
    authed("POST", INSTANT)
        .respond_with(accepted_without_esims())
        .expect(1)
        .mount(&server)
        .await;
    authed("GET", "/api/esim/order")
        .and(query_param("orderId", ORDER_ID))
        .respond_with(ok(Roamify::fixture("order_pending.json")))
        .mount(&server)
        .await;

    let started = std::time::Instant::now();
    let err = Roamify::against(&server)
        .provision(&provision_request(SKU, 1))
        .await
        .unwrap_err();

    assert_eq!(
        err,
        ProviderError::Accepted {
            provider_order_ref: ORDER_ID.into()
        }
    );
    assert!(!err.issued_nothing());
    assert!(
        started.elapsed() < TIMEOUT,
        "polling stays within the time-out"
    );
}

#[tokio::test]
async fn insufficient_balance_means_our_provider_credit_is_exhausted() {
    let err = order_answered(answer(
        400,
        Roamify::fixture("error_insufficient_balance.json"),
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(err, ProviderError::InsufficientFunds(_)),
        "{err:?}"
    );
    assert!(err.issued_nothing());
}

#[tokio::test]
async fn unknown_packages_out_of_stock_and_other_refusals_are_told_apart() {
    let cases = [
        (
            404,
            Roamify::fixture("error_package_not_found.json"),
            Refusal::InvalidPackage,
        ),
        (422, failed("Invalid packageId"), Refusal::InvalidPackage),
        (
            400,
            failed("Package esim-x is inactive"),
            Refusal::InvalidPackage,
        ),
        (422, failed("Package is out of stock"), Refusal::OutOfStock),
        (
            409,
            failed("Order is already being processed"),
            Refusal::Other,
        ),
        (
            400,
            failed("items.0.quantity must be a positive number"),
            Refusal::Other,
        ),
    ];
    for (status, body, expected) in cases {
        let err = order_answered(ResponseTemplate::new(status).set_body_json(body.clone()))
            .await
            .unwrap_err();
        match &err {
            ProviderError::Rejected { reason, .. } => {
                assert_eq!(*reason, expected, "HTTP {status} {body}")
            }
            other => panic!("HTTP {status} {body}: {other:?}"),
        }
        assert!(err.issued_nothing());
    }
}

#[tokio::test]
async fn rate_limiting_is_reported_with_the_retry_after_delay() {
    let limited = || {
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "7")
            .set_body_json(failed("Too many requests"))
    };
    let expected = ProviderError::RateLimited {
        retry_after: Some(Duration::from_secs(7)),
    };
    assert_eq!(order_answered(limited()).await.unwrap_err(), expected);

    let server = MockServer::start().await;
    authed("GET", "/api/balance")
        .respond_with(limited())
        .mount(&server)
        .await;
    assert_eq!(
        Roamify::against(&server).balance().await.unwrap_err(),
        expected
    );
}

#[tokio::test]
async fn a_server_error_leaves_an_order_unknown_and_makes_a_read_unavailable() {
    // What Roamify really answers to an unknown packageId: the reconciler settles it.
    let err = order_answered(answer(500, Roamify::fixture("error_unknown.json")))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unknown(_)), "{err:?}");
    assert!(!err.issued_nothing());

    let server = MockServer::start().await;
    authed("GET", "/api/balance")
        .respond_with(answer(503, Roamify::fixture("error_unknown.json")))
        .mount(&server)
        .await;
    let err = Roamify::against(&server).balance().await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn a_time_out_leaves_an_order_unknown_and_makes_a_read_unavailable() {
    let server = MockServer::start().await;
    let late = TIMEOUT + Duration::from_millis(500);
    authed("POST", INSTANT)
        .respond_with(ok(Roamify::fixture("order_instant.json")).set_delay(late))
        .mount(&server)
        .await;
    authed("GET", "/api/balance")
        .respond_with(ok(Roamify::fixture("balance.json")).set_delay(late))
        .mount(&server)
        .await;
    let roamify = Roamify::against(&server);
    let request = provision_request(SKU, 1);

    let (order, read) = tokio::join!(roamify.provision(&request), roamify.balance());

    let order = order.unwrap_err();
    assert!(matches!(order, ProviderError::Unknown(_)), "{order:?}");
    let read = read.unwrap_err();
    assert!(matches!(read, ProviderError::Unavailable(_)), "{read:?}");
}

#[tokio::test]
async fn a_malformed_body_is_unknown_for_an_order_and_unavailable_for_a_read() {
    for body in [
        ResponseTemplate::new(200).set_body_string("<html>gateway</html>"),
        ResponseTemplate::new(200).set_body_json(json!({"status": "success", "data": "queued"})),
        ResponseTemplate::new(200)
            .set_body_json(json!({"status": "success", "data": {"status": "COMPLETED"}})),
    ] {
        let err = order_answered(body).await.unwrap_err();
        assert!(matches!(err, ProviderError::Unknown(_)), "{err:?}");
    }

    let server = MockServer::start().await;
    authed("GET", "/api/balance")
        .respond_with(
            ResponseTemplate::new(200).set_body_string("{\"status\":\"success\",\"data\":"),
        )
        .mount(&server)
        .await;
    let err = Roamify::against(&server).balance().await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
}

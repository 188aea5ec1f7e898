//! Orders: install data for each eSIM, an order accepted before its eSIMs (polled within
//! the time budget), and every documented error, time-out and malformed answer mapped onto
//! its class.

use std::time::Duration;

use serde_json::json;
use tavaro::provider::airalo::Airalo;
use tavaro::provider::{Provider, ProviderError, Refusal};
use wiremock::ResponseTemplate;
use wiremock::matchers::query_param;

use super::{
    GREECE_1GB, authorised, esim, multipart_fields, order_answer, rejected, request, server,
};
use crate::providers::common::{TIMEOUT, Upstream, answer, ok};

#[tokio::test]
async fn provisioning_returns_each_esims_iccid_smdp_address_and_activation_code() {
    let server = server().await;
    let order = request("eurolink-7days-1gb", 2);
    authorised("POST", "/v2/orders")
        .respond_with(order_answer("order_two_esims.json", &order.order_ref))
        .mount(&server)
        .await;
    let issued = Airalo::against(&server)
        .provision(&order)
        .await
        .expect("issued");
    assert_eq!(issued.provider_order_ref.as_deref(), Some("583748"));
    let installs: Vec<_> = issued
        .esims
        .iter()
        .map(|e| {
            (
                e.iccid.as_str(),
                e.smdp_address.as_str(),
                e.activation_code.as_str(),
                e.provider_ref.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        installs,
        [
            (
                "8944465400003573261",
                "RSP-3088.IDEMIA.IO",
                "Q7RTN-2LK8P-MX3WA-PL0QZ",
                Some("709007")
            ),
            // No `lpa`/`matching_id`: both come from the `qrcode` LPA string.
            (
                "89852245280000942210",
                "smdp.example-airalo.io",
                "K2M4N-7PQ9R-ZX5TB-WY3HD",
                Some("709008")
            ),
        ]
    );
    let fields = multipart_fields(&Airalo::requests_to(&server, "/orders").await[0]);
    assert_eq!(fields["quantity"], "2");
    assert_eq!(fields["description"], order.order_ref.to_string());
}

#[tokio::test]
async fn an_order_accepted_without_its_esims_is_polled_until_they_arrive() {
    let server = server().await;
    let order = request(GREECE_1GB, 1);
    let mut empty = Airalo::fixture("order.json");
    empty["data"]["sims"] = json!([]);
    authorised("POST", "/v2/orders")
        .respond_with(ok(empty.clone()))
        .mount(&server)
        .await;
    authorised("GET", "/v2/orders/583747")
        .and(query_param("include", "sims,status"))
        .respond_with(ok(empty.clone()))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    authorised("GET", "/v2/orders/583747")
        .respond_with(ok(Airalo::fixture("order.json")))
        .mount(&server)
        .await;
    let issued = Airalo::against(&server)
        .provision(&order)
        .await
        .expect("issued");
    assert_eq!(issued.esims[0].iccid, "8944465400003573253");
    assert_eq!(
        Airalo::requests_to(&server, "/orders/583747").await.len(),
        2
    );
}

#[tokio::test]
async fn an_order_whose_esims_never_arrive_is_reported_accepted_within_the_time_budget() {
    let server = server().await;
    let mut empty = Airalo::fixture("order.json");
    empty["data"]["sims"] = json!([]);
    authorised("POST", "/v2/orders")
        .respond_with(ok(empty.clone()))
        .mount(&server)
        .await;
    authorised("GET", "/v2/orders/583747")
        .respond_with(ok(empty.clone()))
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    let err = Airalo::against(&server)
        .provision(&request(GREECE_1GB, 1))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::Accepted {
            provider_order_ref: "583747".into()
        }
    );
    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
}

async fn order_error(answer: ResponseTemplate) -> ProviderError {
    let server = server().await;
    authorised("POST", "/v2/orders")
        .respond_with(answer)
        .mount(&server)
        .await;
    Airalo::against(&server)
        .provision(&request(GREECE_1GB, 1))
        .await
        .unwrap_err()
}

fn code(status: u16, code: i64, reason: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"code": code, "reason": reason}))
}

/// What an error must look like.
type Expectation = Box<dyn Fn(&ProviderError) -> bool>;

#[tokio::test]
async fn each_documented_error_maps_onto_its_class() {
    let cases: Vec<(ResponseTemplate, Expectation)> = vec![
        (
            answer(422, Airalo::fixture("insufficient_credit.json")),
            Box::new(|e| matches!(e, ProviderError::InsufficientFunds(_))),
        ),
        (
            code(422, 33, "Insufficient stock"),
            Box::new(rejected(Refusal::OutOfStock)),
        ),
        (
            code(422, 34, "Package is invalid or out of stock"),
            Box::new(rejected(Refusal::InvalidPackage)),
        ),
        (
            code(422, 13, "Operator under maintenance"),
            Box::new(|e| matches!(e, ProviderError::Unavailable(_))),
        ),
        (
            code(422, 43, "Bad request"),
            Box::new(rejected(Refusal::Other)),
        ),
        (
            code(422, 53, "Unexpected error"),
            Box::new(|e| matches!(e, ProviderError::Unknown(_))),
        ),
        (
            code(403, 89, "IP not allow-listed"),
            Box::new(|e| matches!(e, ProviderError::Auth(_))),
        ),
        (
            answer(422, Airalo::fixture("invalid_package.json")),
            Box::new(rejected(Refusal::InvalidPackage)),
        ),
        (
            answer(422, Airalo::fixture("quantity_unavailable.json")),
            Box::new(rejected(Refusal::OutOfStock)),
        ),
        (
            answer(
                422,
                json!({"data": {"description": "Too long."}, "meta": {"message": "the parameter is invalid"}}),
            ),
            Box::new(rejected(Refusal::Other)),
        ),
    ];
    for (answer, expected) in cases {
        let err = order_error(answer).await;
        assert!(expected(&err), "{err:?}");
    }
}

#[tokio::test]
async fn a_rate_limited_order_is_rate_limited_with_the_retry_after() {
    let err = order_error(
        ResponseTemplate::new(429)
            .insert_header("retry-after", "7")
            .set_body_json(Airalo::fixture("rate_limited.json")),
    )
    .await;
    assert_eq!(
        err,
        ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
}

#[tokio::test]
async fn a_server_error_is_unknown_for_an_order_and_unavailable_for_a_read() {
    let err = order_error(ResponseTemplate::new(500).set_body_string("Server Error")).await;
    assert!(matches!(err, ProviderError::Unknown(_)), "{err:?}");
    let server = server().await;
    authorised("GET", "/v2/balance")
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let err = Airalo::against(&server).balance().await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn a_time_out_is_unknown_for_an_order_and_unavailable_for_a_read() {
    let late = || ResponseTemplate::new(200).set_delay(TIMEOUT + Duration::from_millis(300));
    let server = server().await;
    authorised("POST", "/v2/orders")
        .respond_with(late().set_body_json(Airalo::fixture("order.json")))
        .mount(&server)
        .await;
    authorised("GET", "/v2/balance")
        .respond_with(late().set_body_json(Airalo::fixture("balance.json")))
        .mount(&server)
        .await;
    let airalo = Airalo::against(&server);
    let order = request(GREECE_1GB, 1);
    let (order, read) = tokio::join!(airalo.provision(&order), airalo.balance());
    assert!(matches!(order, Err(ProviderError::Unknown(_))), "{order:?}");
    assert!(
        matches!(read, Err(ProviderError::Unavailable(_))),
        "{read:?}"
    );
}

#[tokio::test]
async fn a_malformed_answer_is_unknown_for_an_order_and_unavailable_for_a_read() {
    let garbage = || ResponseTemplate::new(200).set_body_string("<html>upstream proxy</html>");
    let err = order_error(garbage()).await;
    assert!(matches!(err, ProviderError::Unknown(_)), "{err:?}");
    let server = server().await;
    authorised("GET", "/v2/sims/8944465400003573253/usage")
        .respond_with(garbage())
        .mount(&server)
        .await;
    let err = Airalo::against(&server)
        .usage(&esim("8944465400003573253"))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
}

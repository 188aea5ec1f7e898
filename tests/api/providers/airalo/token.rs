//! The client-credentials token: minted once from the client id and secret, shared by
//! concurrent callers, replaced once after a 401 or at the end of its life, and never
//! shown in an error.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use tavaro::provider::airalo::Airalo;
use tavaro::provider::{Provider, ProviderError};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{
    GREECE_1GB, TOKEN, authorised, form_fields, order_answer, request, server, token_answer,
};
use crate::providers::common::{CREDENTIAL, SECRET, Upstream, answer, ok};

#[tokio::test]
async fn one_token_minted_from_the_client_credentials_serves_every_call() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/token"))
        .respond_with(token_answer(TOKEN, 86_400))
        .expect(1)
        .mount(&server)
        .await;
    authorised("GET", "/v2/balance")
        .respond_with(ok(Airalo::fixture("balance.json")))
        .expect(3)
        .mount(&server)
        .await;
    let airalo = Airalo::against(&server);
    for _ in 0..3 {
        airalo.balance().await.expect("balance");
    }

    let token_requests = Airalo::requests_to(&server, "/token").await;
    assert_eq!(token_requests.len(), 1);
    let token_request = &token_requests[0];
    assert_eq!(
        token_request.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        form_fields(token_request),
        BTreeMap::from([
            ("client_id".to_owned(), CREDENTIAL.to_owned()),
            ("client_secret".to_owned(), SECRET.to_owned()),
            ("grant_type".to_owned(), "client_credentials".to_owned()),
        ])
    );
    for call in Airalo::requests_to(&server, "/balance").await {
        assert_eq!(
            call.headers["authorization"],
            format!("Bearer {TOKEN}").as_str()
        );
        assert_eq!(call.headers["accept"], "application/json");
    }
}

#[tokio::test]
async fn ten_concurrent_calls_cause_exactly_one_token_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/token"))
        // Slow enough that every caller arrives while the first is minting.
        .respond_with(token_answer(TOKEN, 86_400).set_delay(Duration::from_millis(200)))
        .expect(1)
        .mount(&server)
        .await;
    authorised("GET", "/v2/balance")
        .respond_with(ok(Airalo::fixture("balance.json")))
        .expect(10)
        .mount(&server)
        .await;
    let airalo = Airalo::against(&server);
    let results = futures::future::join_all((0..10).map(|_| airalo.balance())).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(Airalo::requests_to(&server, "/token").await.len(), 1);
}

#[tokio::test]
async fn a_token_refused_with_401_is_replaced_once_and_the_order_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/token"))
        .respond_with(token_answer("revoked-token", 86_400))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/token"))
        .respond_with(token_answer(TOKEN, 86_400))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/orders"))
        .and(header("authorization", "Bearer revoked-token"))
        .respond_with(answer(
            401,
            json!({"data": [], "meta": {"message": "Unauthenticated."}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let order = request(GREECE_1GB, 1);
    authorised("POST", "/v2/orders")
        .respond_with(order_answer("order.json", &order.order_ref))
        .expect(1)
        .mount(&server)
        .await;
    let airalo = Airalo::against(&server);

    let issued = airalo
        .provision(&order)
        .await
        .expect("issued after one re-mint");
    assert_eq!(issued.esims[0].iccid, "8944465400003573253");
    assert_eq!(Airalo::requests_to(&server, "/token").await.len(), 2);
    // The fresh token is kept: the next call mints nothing.
    authorised("GET", "/v2/balance")
        .respond_with(ok(Airalo::fixture("balance.json")))
        .mount(&server)
        .await;
    airalo.balance().await.expect("balance");
    assert_eq!(Airalo::requests_to(&server, "/token").await.len(), 2);
}

#[tokio::test]
async fn a_call_refused_twice_is_an_auth_error_after_a_single_re_mint() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v2/balance"))
        .respond_with(ResponseTemplate::new(401))
        .expect(2)
        .mount(&server)
        .await;
    let err = Airalo::against(&server).balance().await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth(_)), "{err:?}");
    assert_eq!(Airalo::requests_to(&server, "/token").await.len(), 2);
}

#[tokio::test]
async fn refused_client_credentials_are_an_auth_error_that_never_shows_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/token"))
        .respond_with(answer(
            401,
            json!({
                "data": [], "meta": {"message": format!("Client {CREDENTIAL} / {SECRET} unknown")}
            }),
        ))
        .mount(&server)
        .await;
    let err = Airalo::against(&server)
        .provision(&request(GREECE_1GB, 1))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Auth(_)), "{err:?}");
    assert!(err.issued_nothing());
    let text = err.to_string();
    assert!(
        !text.contains(SECRET) && !text.contains(CREDENTIAL),
        "{text}"
    );
    assert!(Airalo::requests_to(&server, "/orders").await.is_empty());
}

#[tokio::test]
async fn a_token_at_the_end_of_its_life_is_replaced_before_the_next_call() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/token"))
        .respond_with(token_answer(TOKEN, 0))
        .expect(2)
        .mount(&server)
        .await;
    authorised("GET", "/v2/balance")
        .respond_with(ok(Airalo::fixture("balance.json")))
        .mount(&server)
        .await;
    let airalo = Airalo::against(&server);
    airalo.balance().await.expect("first balance");
    airalo.balance().await.expect("second balance");
}

//! The bearer key on every request, and finding an order again (reconciliation's lookup).

use tavaro::ids::OrderId;
use tavaro::provider::roamify::Roamify;
use tavaro::provider::{OrderLookup, Provider, ProviderError};
use wiremock::matchers::{method, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{
    ESIM_ID, ICCID, ORDER_ID, SKU, authed, bearer, esim_ref, lookup_request, mount_catalog,
    order_for, provision_request,
};
use crate::providers::common::{CREDENTIAL, Upstream, answer, header_of, ok};

#[tokio::test]
async fn every_request_carries_the_bearer_key_and_an_order_is_sent_as_json() {
    let server = MockServer::start().await;
    mount_catalog(&server).await;
    authed("GET", "/api/balance")
        .respond_with(ok(Roamify::fixture("balance.json")))
        .mount(&server)
        .await;
    authed("GET", "/api/esim/usage")
        .respond_with(ok(Roamify::fixture("usage.json")))
        .mount(&server)
        .await;
    authed("POST", "/api/esim/order/instant")
        .respond_with(ok(Roamify::fixture("order_instant.json")))
        .mount(&server)
        .await;
    let roamify = Roamify::against(&server);

    roamify.packages().await.expect("catalog");
    roamify.balance().await.expect("balance");
    roamify.usage(&esim_ref(ICCID)).await.expect("usage");
    roamify
        .provision(&provision_request(SKU, 1))
        .await
        .expect("order");

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 6);
    for request in &requests {
        assert_eq!(
            header_of(request, "authorization"),
            Some(bearer().as_str()),
            "{}",
            request.url
        );
        if request.method.as_str() == "POST" {
            assert_eq!(header_of(request, "content-type"), Some("application/json"));
        }
    }
}

#[tokio::test]
async fn a_refused_key_is_an_auth_error_for_reads_and_orders() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(answer(401, Roamify::fixture("error_unauthorized.json")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(answer(403, Roamify::fixture("error_unauthorized.json")))
        .mount(&server)
        .await;
    let roamify = Roamify::against(&server);

    let read = roamify.balance().await.unwrap_err();
    assert!(matches!(read, ProviderError::Auth(_)), "{read:?}");
    let order = roamify
        .provision(&provision_request(SKU, 1))
        .await
        .unwrap_err();
    assert!(matches!(order, ProviderError::Auth(_)), "{order:?}");
    assert!(order.issued_nothing());
    assert!(!order.to_string().contains(CREDENTIAL));
}

#[tokio::test]
async fn lookup_by_our_reference_finds_a_completed_order_and_fetches_its_esims() {
    let server = MockServer::start().await;
    let ours = OrderId::new();
    authed("GET", "/api/esim/order")
        .and(query_param("referenceId", ours.to_string().as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(order_for("order_completed.json", ours)),
        )
        .expect(1)
        .mount(&server)
        .await;
    authed("GET", "/api/esim")
        .and(query_param("esimId", ESIM_ID))
        .respond_with(ok(Roamify::fixture("esim.json")))
        .expect(1)
        .mount(&server)
        .await;

    let found = Roamify::against(&server)
        .lookup(&lookup_request(ours, None))
        .await;

    let Ok(OrderLookup::Issued(issued)) = found else {
        panic!("{found:?}")
    };
    assert_eq!(issued.provider_order_ref.as_deref(), Some(ORDER_ID));
    assert_eq!(issued.esims.len(), 1);
    let esim = &issued.esims[0];
    assert_eq!(esim.iccid, ICCID);
    assert_eq!(esim.smdp_address, "lpa.roamify.com");
    assert_eq!(esim.activation_code, "TEST");
    assert_eq!(esim.provider_ref.as_deref(), Some(ESIM_ID));
}

#[tokio::test]
async fn lookup_by_order_id_reports_pending_and_cancelled_orders() {
    for (fixture_name, pending) in [
        ("order_pending.json", true),
        ("order_cancelled.json", false),
    ] {
        let server = MockServer::start().await;
        authed("GET", "/api/esim/order")
            .and(query_param("orderId", ORDER_ID))
            .respond_with(ok(Roamify::fixture(fixture_name)))
            .expect(1)
            .mount(&server)
            .await;

        let found = Roamify::against(&server)
            .lookup(&lookup_request(OrderId::new(), Some(ORDER_ID)))
            .await;

        if pending {
            assert!(matches!(found, Ok(OrderLookup::Pending)), "{found:?}");
        } else {
            assert!(matches!(found, Ok(OrderLookup::Failed(_))), "{found:?}");
        }
    }
}

#[tokio::test]
async fn an_answer_about_another_reference_is_not_taken_for_our_order() {
    let server = MockServer::start().await;
    // The fixture's order carries `ref-123456`, not ours.
    authed("GET", "/api/esim/order")
        .respond_with(ok(Roamify::fixture("order_completed.json")))
        .mount(&server)
        .await;

    let found = Roamify::against(&server)
        .lookup(&lookup_request(OrderId::new(), None))
        .await;

    assert!(matches!(found, Ok(OrderLookup::NotFound)), "{found:?}");
}

#[tokio::test]
async fn lookup_of_a_completed_order_whose_esim_has_no_install_data_yet_is_pending() {
    let server = MockServer::start().await;
    let ours = OrderId::new();
    authed("GET", "/api/esim/order")
        .respond_with(
            ResponseTemplate::new(200).set_body_json(order_for("order_completed.json", ours)),
        )
        .mount(&server)
        .await;
    authed("GET", "/api/esim")
        .and(query_param("esimId", ESIM_ID))
        .respond_with(ok(Roamify::fixture("esim_not_ready.json")))
        .mount(&server)
        .await;

    let found = Roamify::against(&server)
        .lookup(&lookup_request(ours, None))
        .await;

    assert!(matches!(found, Ok(OrderLookup::Pending)), "{found:?}");
}

#[tokio::test]
async fn lookup_of_an_unknown_reference_is_not_found() {
    let server = MockServer::start().await;
    authed("GET", "/api/esim/order")
        .respond_with(answer(404, Roamify::fixture("error_order_not_found.json")))
        .mount(&server)
        .await;

    let found = Roamify::against(&server)
        .lookup(&lookup_request(OrderId::new(), None))
        .await;

    assert!(matches!(found, Ok(OrderLookup::NotFound)), "{found:?}");
}

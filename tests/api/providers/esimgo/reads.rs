//! What every request carries (the API key header, asking for JSON), a refused key, and
//! finding an order again (reconciliation's lookup): by reference, or without one by the
//! single matching order in the time window, never a guess.

use serde_json::{Value, json};
use tavaro::provider::esimgo::EsimGo;
use tavaro::provider::{EsimRef, OrderLookup, Provider, ProviderError};
use wiremock::matchers::{method, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{ICCID, NL, api, at, lookup_of, mount_catalogue, order_of, refusal};
use crate::providers::common::{CREDENTIAL, Upstream, header_of, ok};

#[tokio::test]
async fn every_request_carries_the_api_key_header_and_asks_for_json() {
    let server = MockServer::start().await;
    mount_catalogue(
        &server,
        &[
            EsimGo::fixture("catalogue_page1.json"),
            EsimGo::fixture("catalogue_page2.json"),
        ],
    )
    .await;
    api("GET", "/organisation")
        .respond_with(ok(EsimGo::fixture("organisation.json")))
        .mount(&server)
        .await;
    api("POST", "/orders")
        .respond_with(ok(EsimGo::fixture("order_transaction.json")))
        .mount(&server)
        .await;
    api("GET", &format!("/esims/{ICCID}/bundles"))
        .respond_with(ok(EsimGo::fixture("esim_bundles.json")))
        .mount(&server)
        .await;
    api("GET", &format!("/esims/{ICCID}"))
        .respond_with(ok(EsimGo::fixture("esim_details.json")))
        .mount(&server)
        .await;
    let esimgo = EsimGo::against(&server);

    esimgo.packages().await.expect("catalogue");
    esimgo.balance().await.expect("balance");
    esimgo.provision(&order_of(NL, 2)).await.expect("order");
    let esim = EsimRef {
        iccid: ICCID.into(),
        provider_ref: None,
        sku: Some(NL.into()),
    };
    esimgo.usage(&esim).await.expect("usage");

    let received = server.received_requests().await.unwrap();
    assert_eq!(
        received.len(),
        6,
        "two catalogue pages, balance, order, bundles, eSIM"
    );
    for request in &received {
        assert_eq!(
            header_of(request, "x-api-key"),
            Some(CREDENTIAL),
            "{}",
            request.url
        );
        assert_eq!(
            header_of(request, "accept"),
            Some("application/json"),
            "{}",
            request.url
        );
        assert!(!request.url.as_str().contains(CREDENTIAL));
    }
}

#[tokio::test]
async fn a_refused_api_key_is_an_auth_error_for_reads_and_orders() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(refusal(401, "Invalid API key"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(refusal(403, "Forbidden: API key is invalid"))
        .mount(&server)
        .await;
    let esimgo = EsimGo::against(&server);
    assert!(matches!(
        esimgo.balance().await,
        Err(ProviderError::Auth(_))
    ));
    assert!(matches!(
        esimgo.packages().await,
        Err(ProviderError::Auth(_))
    ));
    let refused = esimgo.provision(&order_of(NL, 1)).await.unwrap_err();
    assert!(matches!(refused, ProviderError::Auth(_)), "{refused:?}");
    assert!(!refused.to_string().contains(CREDENTIAL));
}

const REFERENCE: &str = "e268b769-1cb3-4335-aed8-52ecb78425e9";

async fn lookup_answered(answer: ResponseTemplate) -> OrderLookup {
    let server = MockServer::start().await;
    api("GET", &format!("/orders/{REFERENCE}"))
        .respond_with(answer)
        .mount(&server)
        .await;
    EsimGo::against(&server)
        .lookup(&lookup_of(Some(REFERENCE), NL, 2))
        .await
        .unwrap()
}

#[tokio::test]
async fn lookup_by_reference_reports_a_completed_order_as_issued() {
    let found = lookup_answered(ok(EsimGo::fixture("order_transaction.json"))).await;
    let OrderLookup::Issued(issued) = found else {
        panic!("{found:?}")
    };
    assert_eq!(issued.provider_order_ref.as_deref(), Some(REFERENCE));
    let iccids: Vec<&str> = issued.esims.iter().map(|e| e.iccid.as_str()).collect();
    assert_eq!(iccids, ["8944538532008160222", "8944538532008160230"]);
    assert_eq!(issued.esims[0].activation_code, "E5VDM-X0LO3-3QRSB-0WPXG");
}

#[tokio::test]
async fn lookup_by_reference_fetches_install_details_missing_from_the_order() {
    let server = MockServer::start().await;
    let mut order = EsimGo::fixture("order_without_esims.json");
    order["orderReference"] = json!(REFERENCE);
    api("GET", &format!("/orders/{REFERENCE}"))
        .respond_with(ok(order))
        .mount(&server)
        .await;
    api("GET", "/esims/assignments")
        .and(query_param("reference", REFERENCE))
        .respond_with(ok(EsimGo::fixture("assignments.json")))
        .mount(&server)
        .await;
    let found = EsimGo::against(&server)
        .lookup(&lookup_of(Some(REFERENCE), NL, 2))
        .await
        .unwrap();
    assert!(
        matches!(&found, OrderLookup::Issued(p) if p.esims.len() == 2),
        "{found:?}"
    );
}

#[tokio::test]
async fn lookup_by_reference_reports_pending_failed_and_unknown_orders() {
    let mut processing = EsimGo::fixture("order_without_esims.json");
    processing["status"] = json!("processing");
    let found = lookup_answered(ok(processing)).await;
    assert!(matches!(found, OrderLookup::Pending), "{found:?}");

    let found = lookup_answered(refusal(503, "Processing - Please come back later")).await;
    assert!(matches!(found, OrderLookup::Pending), "{found:?}");

    let mut failed = EsimGo::fixture("order_without_esims.json");
    failed["status"] = json!("failed");
    failed["statusMessage"] = json!("Order failed: bundle could not be assigned");
    let found = lookup_answered(ok(failed)).await;
    assert!(
        matches!(&found, OrderLookup::Failed(why) if why == "Order failed: bundle could not be assigned"),
        "{found:?}"
    );

    let found = lookup_answered(refusal(404, "Order not found")).await;
    assert!(matches!(found, OrderLookup::NotFound), "{found:?}");
}

async fn mount_orders(server: &MockServer, orders: Value) {
    api("GET", "/orders")
        .respond_with(ok(orders))
        .mount(server)
        .await;
}

#[tokio::test]
async fn lookup_without_a_reference_takes_the_one_matching_order_in_the_time_window() {
    let server = MockServer::start().await;
    mount_orders(&server, EsimGo::fixture("orders_list.json")).await;
    let found = EsimGo::against(&server)
        .lookup(&lookup_of(None, NL, 1))
        .await
        .unwrap();
    let OrderLookup::Issued(issued) = found else {
        panic!("{found:?}")
    };
    assert_eq!(
        issued.provider_order_ref.as_deref(),
        Some("7c9e6679-7425-40de-944b-e07fc1f90ae7")
    );
    assert_eq!(issued.esims.len(), 1);
    assert_eq!(issued.esims[0].iccid, "8944538532008160248");

    let sent = EsimGo::requests_to(&server, "/orders").await;
    assert_eq!(sent.len(), 1, "a short page is the last");
    let query: Vec<(String, String)> = sent[0].url.query_pairs().into_owned().collect();
    let pairs: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("page", "1"),
            ("perPage", "50"),
            ("limit", "50"),
            ("includeIccids", "true"),
            ("createdAt", "gte:2025-05-22T12:50:20.000Z"),
            ("createdAt", "lte:2025-05-22T13:01:20.000Z"),
        ]
    );
}

#[tokio::test]
async fn lookup_without_a_reference_never_guesses_between_two_matching_orders() {
    let server = MockServer::start().await;
    let mut orders = EsimGo::fixture("orders_list.json");
    let mut twin = orders[0].clone();
    twin["orderReference"] = json!("c56a4180-65aa-42ec-a945-5fd21dec0538");
    twin["createdDate"] = json!("2025-05-22T12:55:00Z");
    orders.as_array_mut().unwrap().push(twin);
    mount_orders(&server, orders).await;
    let found = EsimGo::against(&server)
        .lookup(&lookup_of(None, NL, 1))
        .await
        .unwrap();
    assert!(matches!(found, OrderLookup::Pending), "{found:?}");
}

#[tokio::test]
async fn lookup_without_a_reference_and_no_matching_order_is_not_found() {
    let server = MockServer::start().await;
    mount_orders(
        &server,
        json!({"orders": EsimGo::fixture("orders_list.json"), "pageCount": 1}),
    )
    .await;
    let esimgo = EsimGo::against(&server);
    let found = esimgo
        .lookup(&lookup_of(None, "esim_2GB_15D_NL_V2", 1))
        .await
        .unwrap();
    assert!(matches!(found, OrderLookup::NotFound), "{found:?}");
    // An order of the right bundle and quantity, but placed an hour before ours.
    let mut early = lookup_of(None, NL, 1);
    early.placed_at = at("2025-05-22T13:55:00Z");
    assert!(matches!(
        esimgo.lookup(&early).await.unwrap(),
        OrderLookup::NotFound
    ));
}

#[tokio::test]
async fn a_listed_order_already_handed_to_another_order_is_not_taken_for_a_lost_one() {
    let server = MockServer::start().await;
    let listed = EsimGo::fixture("orders_list.json");
    let mut answer = listed[0].clone();
    answer["createdDate"] = json!("2025-05-22T12:51:21.5Z");
    api("POST", "/orders")
        .respond_with(ok(answer))
        .mount(&server)
        .await;
    mount_orders(&server, listed).await;
    let esimgo = EsimGo::against(&server);
    let issued = esimgo.provision(&order_of(NL, 1)).await.unwrap();
    assert_eq!(
        issued.provider_order_ref.as_deref(),
        Some("7c9e6679-7425-40de-944b-e07fc1f90ae7")
    );

    let found = esimgo.lookup(&lookup_of(None, NL, 1)).await.unwrap();
    assert!(matches!(found, OrderLookup::Pending), "{found:?}");
}

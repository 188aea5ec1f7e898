//! What every request carries (the access code, and a signature over the exact body when
//! a secret key is set), refused credentials, and finding an order again
//! (reconciliation's lookup): by order number, or by our `transactionId` paged through
//! the profiles queried around the order's time.

use serde_json::{Value, json};
use tavaro::ids::OrderId;
use tavaro::provider::esimaccess::EsimAccess;
use tavaro::provider::{EsimRef, OrderLookup, Provider, ProviderError};
use wiremock::matchers::body_partial_json;
use wiremock::{MockServer, ResponseTemplate};

use super::{ORDER_NO, SPAIN, assert_signed, lookup, mount, post, profiles, provision, refusal};
use crate::providers::common::{CREDENTIAL, Upstream, header_of, json_body, ok};

#[tokio::test]
async fn every_request_carries_the_access_code_and_a_signature_over_the_exact_body() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/balance/query",
        ok(EsimAccess::fixture("balance.json")),
    )
    .await;
    mount(
        &server,
        "/package/list",
        ok(EsimAccess::fixture("packages.json")),
    )
    .await;
    mount(
        &server,
        "/esim/query",
        ok(EsimAccess::fixture("query_in_use.json")),
    )
    .await;
    let esimaccess = EsimAccess::against(&server);
    esimaccess.balance().await.unwrap();
    esimaccess.packages().await.unwrap();
    let esim = EsimRef {
        iccid: "89852245280000942210".into(),
        provider_ref: Some("25041514020101".into()),
        sku: None,
    };
    esimaccess.usage(&esim).await.unwrap();

    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 3);
    for request in &received {
        assert_signed(request);
    }
    let ids: std::collections::HashSet<&str> = received
        .iter()
        .map(|r| header_of(r, "RT-RequestID").expect("RT-RequestID header"))
        .collect();
    assert_eq!(ids.len(), 3, "a fresh request id each time");
}

#[tokio::test]
async fn without_a_secret_key_requests_carry_only_the_access_code() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/balance/query",
        ok(EsimAccess::fixture("balance.json")),
    )
    .await;
    let mut config = EsimAccess::config(&server);
    config.secret = None;
    EsimAccess::new(config).unwrap().balance().await.unwrap();
    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(header_of(request, "RT-AccessCode"), Some(CREDENTIAL));
    for signed in ["RT-Signature", "RT-Timestamp", "RT-RequestID"] {
        assert!(request.headers.get(signed).is_none(), "{signed}");
    }
}

#[tokio::test]
async fn refused_credentials_are_an_auth_error() {
    let server = MockServer::start().await;
    mount(&server, "/balance/query", ResponseTemplate::new(401)).await;
    mount(
        &server,
        "/esim/order",
        refusal("101003", "signature mismatch"),
    )
    .await;
    let esimaccess = EsimAccess::against(&server);
    assert!(matches!(
        esimaccess.balance().await,
        Err(ProviderError::Auth(_))
    ));
    let refused = esimaccess
        .provision(&provision(SPAIN, 1, Some(15_000)))
        .await;
    assert!(
        matches!(refused, Err(ProviderError::Auth(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_reference_lookup_pages_through_the_whole_query_to_find_our_transaction() {
    let server = MockServer::start().await;
    let ours = OrderId::new();
    let mut first = profiles("someone-else");
    first["obj"]["esimList"].as_array_mut().unwrap().truncate(1);
    first["obj"]["esimList"][0]["orderNo"] = json!("B25041513000007");
    first["obj"]["pager"] = json!({"pageSize": 50, "pageNum": 1, "total": 52});
    let mut second = profiles(&ours.to_string());
    second["obj"]["pager"] = json!({"pageSize": 50, "pageNum": 2, "total": 52});
    for (page, answer) in [(1, first), (2, second)] {
        post("/esim/query")
            .and(body_partial_json(json!({"pager": {"pageNum": page}})))
            .respond_with(ok(answer))
            .mount(&server)
            .await;
    }

    let found = EsimAccess::against(&server)
        .lookup(&lookup(ours, None))
        .await
        .unwrap();
    let OrderLookup::Issued(issued) = found else {
        panic!("{found:?}")
    };
    assert_eq!(issued.provider_order_ref.as_deref(), Some(ORDER_NO));
    assert_eq!(issued.esims.len(), 2);

    let pages: Vec<Value> = EsimAccess::requests_to(&server, "/esim/query")
        .await
        .iter()
        .map(json_body)
        .collect();
    let window = |page: i64| {
        json!({
            "startTime": "2025-04-15T13:47:00+00:00",
            "endTime": "2025-04-15T15:02:00+00:00",
            "pager": {"pageNum": page, "pageSize": 50}
        })
    };
    assert_eq!(pages, [window(1), window(2)]);
}

#[tokio::test]
async fn a_reference_lookup_without_our_transaction_is_not_found() {
    let server = MockServer::start().await;
    mount(&server, "/esim/query", ok(profiles("someone-else"))).await;
    let found = EsimAccess::against(&server)
        .lookup(&lookup(OrderId::new(), None))
        .await;
    assert!(matches!(found, Ok(OrderLookup::NotFound)), "{found:?}");
}

#[tokio::test]
async fn lookup_by_order_number_reports_issued_failed_pending_and_not_found() {
    let server = MockServer::start().await;
    let mut cancelled = profiles("ours");
    for profile in cancelled["obj"]["esimList"].as_array_mut().unwrap() {
        profile["esimStatus"] = json!("CANCEL");
    }
    let answers = [
        (ORDER_NO, ok(profiles("ours"))),
        ("B-CANCELLED", ok(cancelled)),
        (
            "B-ALLOCATING",
            ok(EsimAccess::fixture("query_allocating.json")),
        ),
        ("B-UNKNOWN", refusal("310272", "orderNo does not exist")),
    ];
    for (order_no, answer) in answers {
        post("/esim/query")
            .and(body_partial_json(json!({"orderNo": order_no})))
            .respond_with(answer)
            .mount(&server)
            .await;
    }
    let esimaccess = EsimAccess::against(&server);
    let ask = |order_no: &'static str| {
        let esimaccess = &esimaccess;
        async move {
            esimaccess
                .lookup(&lookup(OrderId::new(), Some(order_no)))
                .await
        }
    };

    match ask(ORDER_NO).await {
        Ok(OrderLookup::Issued(issued)) => {
            assert_eq!(issued.provider_order_ref.as_deref(), Some(ORDER_NO));
            assert_eq!(issued.esims.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        ask("B-CANCELLED").await,
        Ok(OrderLookup::Failed(_))
    ));
    assert!(matches!(
        ask("B-ALLOCATING").await,
        Ok(OrderLookup::Pending)
    ));
    assert!(matches!(ask("B-UNKNOWN").await, Ok(OrderLookup::NotFound)));
}

//! Finding an order again (reconciliation's lookup): by Airalo's order id, or by our
//! reference in the order descriptions, paged; pending, failed and unknown orders.

use serde_json::{Value, json};
use tavaro::provider::airalo::Airalo;
use tavaro::provider::{OrderLookup, Provider};
use wiremock::matchers::query_param;

use super::{authorised, lookup_request, server};
use crate::providers::common::{Upstream, answer, ok};

#[tokio::test]
async fn lookup_by_airalo_order_id_finds_the_issued_esims() {
    let server = server().await;
    authorised("GET", "/v2/orders/583747")
        .and(query_param("include", "sims,status"))
        .respond_with(ok(Airalo::fixture("order.json")))
        .mount(&server)
        .await;
    let found = Airalo::against(&server)
        .lookup(&lookup_request(Some("583747")))
        .await
        .unwrap();
    let OrderLookup::Issued(issued) = found else {
        panic!("{found:?}");
    };
    assert_eq!(issued.provider_order_ref.as_deref(), Some("583747"));
    assert_eq!(issued.esims[0].activation_code, "YVTGM-5LZC6-PIC56-KFEZJ");
}

#[tokio::test]
async fn lookup_by_our_reference_pages_the_order_list_and_matches_the_description_exactly() {
    let server = server().await;
    let lookup = lookup_request(None);
    let reference = lookup.order_ref.to_string();
    let mut near_miss = Airalo::fixture("order.json")["data"].clone();
    near_miss["id"] = json!(583700);
    near_miss["description"] = json!(format!("{reference}-retry"));
    let mut ours = Airalo::fixture("order.json")["data"].clone();
    ours["description"] = json!(reference);
    let page = |data: Value, n: u32| json!({"data": data, "meta": {"message": "success", "current_page": n, "last_page": 2}});
    authorised("GET", "/v2/orders")
        .and(query_param("filter[description]", reference.as_str()))
        .and(query_param("include", "sims,status"))
        .and(query_param("page", "1"))
        .respond_with(ok(page(json!([near_miss]), 1)))
        .mount(&server)
        .await;
    authorised("GET", "/v2/orders")
        .and(query_param("filter[description]", reference.as_str()))
        .and(query_param("page", "2"))
        .respond_with(ok(page(json!({"1": ours}), 2)))
        .mount(&server)
        .await;
    let found = Airalo::against(&server).lookup(&lookup).await.unwrap();
    let OrderLookup::Issued(issued) = found else {
        panic!("{found:?}");
    };
    assert_eq!(issued.provider_order_ref.as_deref(), Some("583747"));
}

#[tokio::test]
async fn lookup_of_an_order_without_esims_is_pending_or_failed_by_its_status() {
    let server = server().await;
    let mut pending = Airalo::fixture("order.json");
    pending["data"]["sims"] = json!([]);
    pending["data"]["status"] = json!({"name": "Pending", "slug": "pending"});
    let mut failed = pending.clone();
    failed["data"]["status"] = json!({"name": "Failed", "slug": "failed"});
    authorised("GET", "/v2/orders/1")
        .respond_with(ok(pending))
        .mount(&server)
        .await;
    authorised("GET", "/v2/orders/2")
        .respond_with(ok(failed))
        .mount(&server)
        .await;
    let airalo = Airalo::against(&server);
    let first = airalo.lookup(&lookup_request(Some("1"))).await.unwrap();
    assert!(matches!(first, OrderLookup::Pending), "{first:?}");
    let second = airalo.lookup(&lookup_request(Some("2"))).await.unwrap();
    assert!(matches!(second, OrderLookup::Failed(_)), "{second:?}");
}

#[tokio::test]
async fn lookup_of_an_order_airalo_does_not_have_is_not_found() {
    let server = server().await;
    authorised("GET", "/v2/orders")
        .respond_with(ok(
            json!({"data": [], "meta": {"current_page": 1, "last_page": 1}}),
        ))
        .mount(&server)
        .await;
    authorised("GET", "/v2/orders/999")
        .respond_with(answer(404, Airalo::fixture("not_found.json")))
        .mount(&server)
        .await;
    let airalo = Airalo::against(&server);
    let by_reference = airalo.lookup(&lookup_request(None)).await.unwrap();
    assert!(
        matches!(by_reference, OrderLookup::NotFound),
        "{by_reference:?}"
    );
    let by_id = airalo.lookup(&lookup_request(Some("999"))).await.unwrap();
    assert!(matches!(by_id, OrderLookup::NotFound), "{by_id:?}");
}

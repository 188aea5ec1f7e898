//! After the sale: the top-ups one profile takes, top-ups by our `transactionId` (and
//! found again in the profile's `packageList`), cancellations refunded at once (or
//! refused with the profile's state), refund reviews read from the profile, and usage
//! counting the top-ups in its allowance.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use tavaro::ids::OrderId;
use tavaro::provider::esimaccess::EsimAccess;
use tavaro::provider::{
    CancelRequest, Cancelled, EsimRef, Provider, ProviderError, RefundReview, Refusal, ToppedUp,
    TopupLookup, TopupLookupRequest, TopupOffer, TopupRequest,
};
use wiremock::matchers::body_partial_json;
use wiremock::{MockServer, ResponseTemplate};

use super::{SPAIN, assert_signed, mount, post, refusal};
use crate::providers::common::{TIMEOUT, Upstream, json_body, ok};

/// The profile of the Spain eSIM in the query fixtures.
const ICCID: &str = "89852245280000942210";
/// Its `esimTranNo`.
const TRAN_NO: &str = "25041514020101";
/// The top-up package the tests buy.
const TOPUP: &str = "TOPUP_CKH533";

/// The Spain eSIM, known by its `esimTranNo` when `by_tran_no`.
fn esim(by_tran_no: bool) -> EsimRef {
    EsimRef {
        iccid: ICCID.into(),
        provider_ref: by_tran_no.then(|| TRAN_NO.into()),
        sku: Some(SPAIN.into()),
    }
}

fn topup_request() -> TopupRequest {
    TopupRequest {
        order_ref: OrderId::new(),
        esim: esim(true),
        plan_id: format!("esimaccess-{TOPUP}"),
        sku: TOPUP.into(),
        unit_cost_e4: Some(14_000),
        days: 7,
        data_mb: Some(1024),
    }
}

fn cancel_request(by_tran_no: bool) -> CancelRequest {
    CancelRequest {
        esim: esim(by_tran_no),
        order_ref: OrderId::new(),
        provider_order_ref: Some("B25041514020001".into()),
    }
}

/// The profile after our top-up `reference` was applied (`{{transactionId}}` of the
/// fixture), with `edit` applied to it.
fn topped_up(reference: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let text = crate::providers::common::fixture(EsimAccess::NAME, "query_topped_up.json")
        .replace("{{transactionId}}", reference);
    let mut body: Value = serde_json::from_str(&text).unwrap();
    edit(&mut body["obj"]["esimList"][0]);
    body
}

/// The in-use profile with its statuses set.
fn profile_in(esim_status: &str, smdp_status: &str) -> Value {
    let mut body = EsimAccess::fixture("query_in_use.json");
    body["obj"]["esimList"][0]["esimStatus"] = json!(esim_status);
    body["obj"]["esimList"][0]["smdpStatus"] = json!(smdp_status);
    body
}

#[tokio::test]
async fn the_topup_list_asks_for_this_profiles_topups_and_maps_each_package_to_an_offer() {
    let server = MockServer::start().await;
    post("/package/list")
        .and(body_partial_json(json!({"type": "TOPUP"})))
        .respond_with(ok(EsimAccess::fixture("topup_packages.json")))
        .mount(&server)
        .await;
    let esimaccess = EsimAccess::against(&server);
    let offers = esimaccess.topups(&esim(true), "esimaccess-CKH533").await;
    assert_eq!(
        offers.unwrap(),
        [
            TopupOffer {
                sku: "TOPUP_CKH533".into(),
                cost_e4: Some(14_000),
                days: Some(7),
                data_mb: Some(1024),
            },
            TopupOffer {
                sku: "TOPUP_CKH534".into(),
                cost_e4: Some(32_000),
                days: Some(30),
                data_mb: Some(3072),
            },
        ]
    );
    esimaccess
        .topups(&esim(false), "esimaccess-CKH533")
        .await
        .unwrap();
    let asked = EsimAccess::requests_to(&server, "/package/list").await;
    asked.iter().for_each(assert_signed);
    let asked: Vec<Value> = asked.iter().map(json_body).collect();
    assert_eq!(
        asked,
        [
            json!({"locationCode": "", "type": "TOPUP", "iccid": ICCID, "esimTranNo": TRAN_NO}),
            json!({"locationCode": "", "type": "TOPUP", "iccid": ICCID}),
        ]
    );
}

#[tokio::test]
async fn a_topup_sends_our_order_id_as_its_transaction_id_with_the_price_and_applies() {
    let server = MockServer::start().await;
    let request = topup_request();
    let answer = crate::providers::common::fixture(EsimAccess::NAME, "topup.json")
        .replace("{{transactionId}}", &request.order_ref.to_string());
    mount(
        &server,
        "/esim/topup",
        ok(serde_json::from_str(&answer).unwrap()),
    )
    .await;
    let topped_up = EsimAccess::against(&server).topup(&request).await;
    assert_eq!(
        topped_up.unwrap(),
        ToppedUp {
            provider_order_ref: None
        }
    );
    let sent = EsimAccess::requests_to(&server, "/esim/topup").await;
    assert_eq!(sent.len(), 1, "one top-up, never repeated");
    assert_signed(&sent[0]);
    assert_eq!(
        json_body(&sent[0]),
        json!({
            "esimTranNo": TRAN_NO,
            "packageCode": TOPUP,
            "transactionId": request.order_ref.to_string(),
            "amount": 14_000,
        })
    );
}

#[tokio::test]
async fn a_topup_the_provider_refuses_is_a_refusal_that_applied_nothing() {
    let cases = [
        ("310241", "packageCode does not exist", "invalid package"),
        ("200005", "package price error", "invalid package"),
        (
            "200002",
            "Operation not allowed due to order status",
            "other",
        ),
        ("000105", "Mandatory params missing", "other"),
    ];
    for (code, message, kind) in cases {
        let server = MockServer::start().await;
        mount(&server, "/esim/topup", refusal(code, message)).await;
        let err = EsimAccess::against(&server)
            .topup(&topup_request())
            .await
            .unwrap_err();
        let expected = match kind {
            "invalid package" => Refusal::InvalidPackage,
            _ => Refusal::Other,
        };
        match &err {
            ProviderError::Rejected { reason, message: m } => {
                assert_eq!(*reason, expected, "{code}");
                assert!(m.contains(code) && m.contains(message), "{m}");
            }
            other => panic!("{code}: {other:?}"),
        }
        assert!(err.issued_nothing(), "{code}");
    }
    let server = MockServer::start().await;
    mount(
        &server,
        "/esim/topup",
        refusal("200007", "insufficient balance"),
    )
    .await;
    let err = EsimAccess::against(&server)
        .topup(&topup_request())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::InsufficientFunds(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_server_error_a_time_out_or_a_malformed_answer_to_a_topup_is_unknown() {
    let answers = [
        ResponseTemplate::new(500),
        refusal("000001", "server error"),
        ok(EsimAccess::fixture("topup.json")).set_delay(TIMEOUT + Duration::from_millis(500)),
        ResponseTemplate::new(200).set_body_string("<html>gateway</html>"),
    ];
    for answer in answers {
        let server = MockServer::start().await;
        mount(&server, "/esim/topup", answer).await;
        let err = EsimAccess::against(&server)
            .topup(&topup_request())
            .await
            .unwrap_err();
        assert!(matches!(err, ProviderError::Unknown(_)), "{err:?}");
    }
}

#[tokio::test]
async fn a_topup_lookup_finds_ours_by_transaction_id_among_the_profiles_packages() {
    let ours = OrderId::new();
    let placed_at = Utc.with_ymd_and_hms(2025, 4, 20, 10, 0, 0).unwrap();
    let lookup = |order_ref: OrderId, placed_at| TopupLookupRequest {
        order_ref,
        provider_order_ref: None,
        esim: esim(true),
        sku: TOPUP.into(),
        placed_at,
    };
    let cases: [(Value, TopupLookupRequest, TopupLookup); 4] = [
        // Applied: a package of the profile carries our transactionId.
        (
            topped_up(&ours.to_string(), |_| {}),
            lookup(ours, placed_at),
            TopupLookup::Applied(ToppedUp {
                provider_order_ref: None,
            }),
        ),
        // Someone else's top-up, long after ours was placed: ours never arrived.
        (
            topped_up(&OrderId::new().to_string(), |_| {}),
            lookup(ours, placed_at),
            TopupLookup::NotFound,
        ),
        // Placed a moment ago: it may still be in flight.
        (
            topped_up(&OrderId::new().to_string(), |_| {}),
            lookup(ours, Utc::now() - chrono::Duration::seconds(30)),
            TopupLookup::Pending,
        ),
        // A top-up of the same package since ours, without a transactionId: maybe ours.
        (
            topped_up("", |profile| {
                profile["packageList"][1]
                    .as_object_mut()
                    .unwrap()
                    .remove("transactionId");
            }),
            lookup(ours, placed_at),
            TopupLookup::Pending,
        ),
    ];
    for (profile, request, expected) in cases {
        let server = MockServer::start().await;
        mount(&server, "/esim/query", ok(profile)).await;
        let found = EsimAccess::against(&server).topup_lookup(&request).await;
        assert_eq!(found.unwrap(), expected);
        let asked = EsimAccess::requests_to(&server, "/esim/query").await;
        assert_eq!(
            json_body(&asked[0]),
            json!({"esimTranNo": TRAN_NO, "pager": {"pageNum": 1, "pageSize": 50}})
        );
    }
}

#[tokio::test]
async fn cancelling_an_unused_esim_refunds_it_at_once() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/esim/cancel",
        ok(json!({"success": "true", "errorCode": null, "errorMessage": null, "obj": {}})),
    )
    .await;
    mount(
        &server,
        "/esim/query",
        ok(profile_in("GOT_RESOURCE", "RELEASED")),
    )
    .await;
    let esimaccess = EsimAccess::against(&server);
    assert_eq!(
        esimaccess.cancel(&cancel_request(true)).await.unwrap(),
        Cancelled::Refunded
    );
    // Known by its ICCID alone: its esimTranNo is looked up first.
    assert_eq!(
        esimaccess.cancel(&cancel_request(false)).await.unwrap(),
        Cancelled::Refunded
    );
    let cancels = EsimAccess::requests_to(&server, "/esim/cancel").await;
    cancels.iter().for_each(assert_signed);
    let cancels: Vec<Value> = cancels.iter().map(json_body).collect();
    assert_eq!(
        cancels,
        [
            json!({"esimTranNo": TRAN_NO}),
            json!({"esimTranNo": TRAN_NO})
        ]
    );
    let queries = EsimAccess::requests_to(&server, "/esim/query").await;
    assert_eq!(queries.len(), 1);
    assert_eq!(json_body(&queries[0])["iccid"], json!(ICCID));
}

#[tokio::test]
async fn an_esim_in_use_is_not_cancelled_and_the_refusal_says_why() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/esim/cancel",
        refusal("200002", "Operation not allowed due to order status"),
    )
    .await;
    mount(
        &server,
        "/esim/query",
        ok(EsimAccess::fixture("query_in_use.json")),
    )
    .await;
    let err = EsimAccess::against(&server)
        .cancel(&cancel_request(true))
        .await
        .unwrap_err();
    match err {
        ProviderError::Rejected {
            reason: Refusal::Other,
            message,
        } => {
            assert!(
                message.starts_with("the eSIM cannot be cancelled: it is in use"),
                "{message}"
            );
            assert!(
                message.contains("esimStatus IN_USE, smdpStatus ENABLED"),
                "{message}"
            );
            assert!(
                message.contains("Operation not allowed due to order status"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_esim_downloaded_to_a_device_is_not_cancelled() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/esim/cancel",
        refusal("200002", "Operation not allowed due to order status"),
    )
    .await;
    mount(
        &server,
        "/esim/query",
        ok(profile_in("GOT_RESOURCE", "DOWNLOAD")),
    )
    .await;
    let err = EsimAccess::against(&server)
        .cancel(&cancel_request(true))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Rejected { message, .. }
            if message.contains("it has been downloaded to a device")),
        "{err:?}"
    );
}

#[tokio::test]
async fn cancelling_again_an_esim_the_provider_cancelled_already_answers_refunded() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/esim/cancel",
        refusal("200002", "Operation not allowed due to order status"),
    )
    .await;
    mount(&server, "/esim/query", ok(profile_in("CANCEL", "RELEASED"))).await;
    let cancelled = EsimAccess::against(&server)
        .cancel(&cancel_request(true))
        .await;
    assert_eq!(cancelled.unwrap(), Cancelled::Refunded);
}

#[tokio::test]
async fn a_cancellation_without_a_definitive_answer_is_unknown() {
    let answers = [
        ok(json!({"success": "true", "obj": {}})).set_delay(TIMEOUT + Duration::from_millis(500)),
        ResponseTemplate::new(502),
        refusal("000001", "server error"),
        ResponseTemplate::new(200).set_body_string("<html>gateway</html>"),
    ];
    for answer in answers {
        let server = MockServer::start().await;
        mount(&server, "/esim/cancel", answer).await;
        let err = EsimAccess::against(&server)
            .cancel(&cancel_request(true))
            .await
            .unwrap_err();
        assert!(matches!(err, ProviderError::Unknown(_)), "{err:?}");
        assert!(
            EsimAccess::requests_to(&server, "/esim/query")
                .await
                .is_empty(),
            "an unsure cancellation is not settled by a guess"
        );
    }
}

#[tokio::test]
async fn a_refund_review_is_read_from_the_profile() {
    let cases = [
        (profile_in("CANCEL", "RELEASED"), RefundReview::Approved),
        (
            profile_in("GOT_RESOURCE", "RELEASED"),
            RefundReview::Pending,
        ),
    ];
    for (profile, expected) in cases {
        let server = MockServer::start().await;
        mount(&server, "/esim/query", ok(profile)).await;
        let review = EsimAccess::against(&server)
            .refund_status(&cancel_request(true), None)
            .await;
        assert_eq!(review.unwrap(), expected);
    }
    let server = MockServer::start().await;
    mount(&server, "/esim/query", ok(profile_in("IN_USE", "ENABLED"))).await;
    let review = EsimAccess::against(&server)
        .refund_status(&cancel_request(true), None)
        .await;
    assert!(
        matches!(&review, Ok(RefundReview::Rejected(why)) if why.contains("it is in use")),
        "{review:?}"
    );
}

#[tokio::test]
async fn usage_counts_the_topups_in_the_allowance_and_none_for_a_daily_allowance() {
    let server = MockServer::start().await;
    post("/esim/query")
        .and(body_partial_json(json!({"esimTranNo": TRAN_NO})))
        .respond_with(ok(topped_up(&OrderId::new().to_string(), |_| {})))
        .mount(&server)
        .await;
    post("/esim/query")
        .and(body_partial_json(json!({"esimTranNo": "daily"})))
        .respond_with(ok(topped_up("", |profile| profile["dataType"] = json!(2))))
        .mount(&server)
        .await;
    let esimaccess = EsimAccess::against(&server);
    let usage = esimaccess.usage(&esim(true)).await.unwrap();
    assert_eq!((usage.data_used_mb, usage.data_total_mb), (500, Some(2048)));
    let daily = EsimRef {
        provider_ref: Some("daily".into()),
        ..esim(true)
    };
    assert_eq!(esimaccess.usage(&daily).await.unwrap().data_total_mb, None);
}

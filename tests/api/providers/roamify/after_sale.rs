//! After the sale: compatible top-ups, top-up orders under our reference and their
//! lookup, refund requests on cancel (under review, a repeat answered with the open
//! request's id, a refused one in Roamify's words) and the review's outcome.

use std::time::Duration;

use serde_json::json;
use tavaro::ids::OrderId;
use tavaro::provider::roamify::Roamify;
use tavaro::provider::{
    CancelRequest, Cancelled, Provider, ProviderError, RefundReview, Refusal, ToppedUp,
    TopupLookup, TopupLookupRequest, TopupOffer, TopupRequest,
};
use wiremock::matchers::query_param;
use wiremock::{MockServer, ResponseTemplate};

use super::{ESIM_ID, ICCID, authed, esim_ref};
use crate::providers::common::{TIMEOUT, Upstream, answer, json_body, ok};

/// The top-up the tests buy.
const TOPUP: &str = "esim-afghanistan-7days-1gb-topup";
/// Roamify's id of the top-up order in `order_topup.json`.
const TOPUP_ORDER: &str = "0501aef3-7cf1-4b4c-a293-c03a6bd7a8ab";
/// Roamify's id of the refund request in the refund fixtures.
const REFUND: &str = "rfd_01JD2K8Q3W";

fn topup_request() -> TopupRequest {
    TopupRequest {
        order_ref: OrderId::new(),
        esim: esim_ref(ICCID),
        plan_id: "roamify-topup-1gb".into(),
        sku: TOPUP.into(),
        unit_cost_e4: Some(45_000),
        days: 7,
        data_mb: Some(1024),
    }
}

fn cancel_request() -> CancelRequest {
    CancelRequest {
        esim: esim_ref(ICCID),
        order_ref: OrderId::new(),
        provider_order_ref: Some(super::ORDER_ID.into()),
    }
}

fn lookup_request(order_ref: OrderId, provider_order_ref: Option<&str>) -> TopupLookupRequest {
    TopupLookupRequest {
        order_ref,
        provider_order_ref: provider_order_ref.map(str::to_owned),
        esim: esim_ref(ICCID),
        sku: TOPUP.into(),
        placed_at: chrono::Utc::now(),
    }
}

#[tokio::test]
async fn top_up_offers_are_roamifys_compatible_packages_for_the_iccid_with_their_cost() {
    let server = MockServer::start().await;
    authed("GET", "/api/esim/topup/packages")
        .and(query_param("iccid", ICCID))
        .respond_with(ok(Roamify::fixture("topup_packages.json")))
        .expect(1)
        .mount(&server)
        .await;

    let offers = Roamify::against(&server)
        .topups(&esim_ref(ICCID), "roamify-plan")
        .await;

    assert_eq!(
        offers,
        Ok(vec![
            TopupOffer {
                sku: TOPUP.into(),
                cost_e4: Some(45_000),
                days: None,
                data_mb: None,
            },
            TopupOffer {
                sku: "esim-afghanistan-30days-3gb-topup".into(),
                cost_e4: Some(112_500),
                days: None,
                data_mb: None,
            },
        ])
    );
}

#[tokio::test]
async fn a_top_up_sends_the_iccid_package_and_our_id_as_reference_and_maps_the_completed_order() {
    let server = MockServer::start().await;
    authed("POST", "/api/esim/order/topup")
        .respond_with(ok(Roamify::fixture("order_topup.json")))
        .expect(1)
        .mount(&server)
        .await;
    let request = topup_request();

    let topped = Roamify::against(&server).topup(&request).await;

    assert_eq!(
        topped,
        Ok(ToppedUp {
            provider_order_ref: Some(TOPUP_ORDER.into())
        })
    );
    let sent = Roamify::requests_to(&server, "/api/esim/order/topup").await;
    assert_eq!(
        json_body(&sent[0]),
        json!({
            "iccid": ICCID,
            "packageId": TOPUP,
            "referenceId": request.order_ref.to_string(),
        })
    );
}

#[tokio::test]
async fn a_refused_top_up_is_rejected_and_a_server_error_time_out_or_malformed_answer_is_unknown() {
    let answered = |response: ResponseTemplate| async move {
        let server = MockServer::start().await;
        authed("POST", "/api/esim/order/topup")
            .respond_with(response)
            .mount(&server)
            .await;
        Roamify::against(&server).topup(&topup_request()).await
    };
    let refused = answered(answer(
        400,
        json!({"message": "This eSIM does not support top-ups", "status": "failed"}),
    ))
    .await;
    assert!(
        matches!(&refused, Err(ProviderError::Rejected { reason: Refusal::Other, message }) if message.contains("does not support top-ups")),
        "{refused:?}"
    );
    let mut cancelled = Roamify::fixture("order_topup.json");
    cancelled["data"]["status"] = json!("CANCELLED");
    let refused = answered(ok(cancelled)).await;
    assert!(
        matches!(refused, Err(ProviderError::Rejected { .. })),
        "{refused:?}"
    );
    for response in [
        answer(500, Roamify::fixture("error_unknown.json")),
        ok(Roamify::fixture("order_topup.json")).set_delay(TIMEOUT + Duration::from_millis(300)),
        ResponseTemplate::new(200).set_body_string("<html>gateway</html>"),
    ] {
        let outcome = answered(response).await;
        assert!(
            matches!(outcome, Err(ProviderError::Unknown(_))),
            "{outcome:?}"
        );
    }
}

#[tokio::test]
async fn a_top_up_is_looked_up_by_our_reference_and_each_order_status_has_its_outcome() {
    let cases = [
        (
            "COMPLETED",
            Some(TopupLookup::Applied(ToppedUp {
                provider_order_ref: Some(TOPUP_ORDER.into()),
            })),
        ),
        ("PENDING", Some(TopupLookup::Pending)),
        (
            "REFUNDED",
            Some(TopupLookup::Failed("order REFUNDED".into())),
        ),
        ("WHATEVER", None),
    ];
    for (status, expected) in cases {
        let server = MockServer::start().await;
        let ours = OrderId::new();
        let mut order = Roamify::fixture("order_topup.json");
        order["data"]["referenceId"] = json!(ours.to_string());
        order["data"]["status"] = json!(status);
        authed("GET", "/api/esim/order")
            .and(query_param("referenceId", ours.to_string()))
            .respond_with(ok(order))
            .expect(1)
            .mount(&server)
            .await;

        let found = Roamify::against(&server)
            .topup_lookup(&lookup_request(ours, None))
            .await;

        match expected {
            Some(outcome) => assert_eq!(found, Ok(outcome), "{status}"),
            None => assert!(
                matches!(found, Err(ProviderError::Unavailable(_))),
                "{status}: {found:?}"
            ),
        }
    }
    // No order under our reference.
    let server = MockServer::start().await;
    authed("GET", "/api/esim/order")
        .respond_with(answer(404, Roamify::fixture("error_order_not_found.json")))
        .mount(&server)
        .await;
    assert_eq!(
        Roamify::against(&server)
            .topup_lookup(&lookup_request(OrderId::new(), None))
            .await,
        Ok(TopupLookup::NotFound)
    );
    // Someone else's order, from an API that ignored the filter: not ours.
    let server = MockServer::start().await;
    authed("GET", "/api/esim/order")
        .respond_with(ok(Roamify::fixture("order_topup.json")))
        .mount(&server)
        .await;
    assert_eq!(
        Roamify::against(&server)
            .topup_lookup(&lookup_request(OrderId::new(), None))
            .await,
        Ok(TopupLookup::NotFound)
    );
}

#[tokio::test]
async fn a_cancel_is_a_refund_request_under_review_and_a_repeat_gets_the_open_requests_id() {
    let server = MockServer::start().await;
    authed("POST", "/api/refund")
        .respond_with(ok(Roamify::fixture("refund_created.json")))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    let roamify = Roamify::against(&server);

    assert_eq!(
        roamify.cancel(&cancel_request()).await,
        Ok(Cancelled::UnderReview {
            refund_ref: Some(REFUND.into())
        })
    );
    let sent = Roamify::requests_to(&server, "/api/refund").await;
    let body = json_body(&sent[0]);
    assert_eq!(body["iccid"], json!(ICCID));
    assert_eq!(body["esimId"], json!(ESIM_ID));
    assert!(body["reason"].is_string(), "{body}");

    // One open request per eSIM: the repeat is refused with 409 and the open one's id.
    authed("POST", "/api/refund")
        .respond_with(answer(409, Roamify::fixture("error_refund_open.json")))
        .mount(&server)
        .await;
    assert_eq!(
        roamify.cancel(&cancel_request()).await,
        Ok(Cancelled::UnderReview {
            refund_ref: Some(REFUND.into())
        })
    );
}

#[tokio::test]
async fn an_esim_already_refunded_is_refused_in_roamifys_words_and_a_time_out_is_unknown() {
    let answered = |response: ResponseTemplate| async move {
        let server = MockServer::start().await;
        authed("POST", "/api/refund")
            .respond_with(response)
            .mount(&server)
            .await;
        Roamify::against(&server).cancel(&cancel_request()).await
    };
    let refused = answered(answer(
        422,
        Roamify::fixture("error_refund_already_refunded.json"),
    ))
    .await;
    assert!(
        matches!(&refused, Err(ProviderError::Rejected { reason: Refusal::Other, message })
            if message.contains("already been refunded") && message.contains("esim_already_refunded")),
        "{refused:?}"
    );
    for response in [
        ok(Roamify::fixture("refund_created.json")).set_delay(TIMEOUT + Duration::from_millis(300)),
        answer(500, Roamify::fixture("error_unknown.json")),
    ] {
        let outcome = answered(response).await;
        assert!(
            matches!(outcome, Err(ProviderError::Unknown(_))),
            "{outcome:?}"
        );
    }
}

#[tokio::test]
async fn the_refund_review_is_read_by_its_id_approved_pending_or_rejected_with_the_reason() {
    let mut refunded = Roamify::fixture("refund_created.json");
    refunded["data"]["status"] = json!("REFUNDED");
    let mut processing = Roamify::fixture("refund_created.json");
    processing["data"]["status"] = json!("PROCESSING");
    let cases = [
        (refunded, RefundReview::Approved),
        (
            Roamify::fixture("refund_created.json"),
            RefundReview::Pending,
        ),
        (processing, RefundReview::Pending),
        (
            Roamify::fixture("refund_rejected.json"),
            RefundReview::Rejected("The eSIM was installed and has used data".into()),
        ),
    ];
    for (body, expected) in cases {
        let server = MockServer::start().await;
        authed("GET", "/api/refund")
            .and(query_param("refundId", REFUND))
            .respond_with(ok(body))
            .expect(1)
            .mount(&server)
            .await;

        let review = Roamify::against(&server)
            .refund_status(&cancel_request(), Some(REFUND))
            .await;

        assert_eq!(review, Ok(expected));
    }
    // A listing that is not about the request asked for settles nothing.
    let server = MockServer::start().await;
    let mut other = Roamify::fixture("refund_rejected.json");
    other["data"]["refundId"] = json!("rfd_someone_else");
    authed("GET", "/api/refund")
        .respond_with(ok(other))
        .mount(&server)
        .await;
    let review = Roamify::against(&server)
        .refund_status(&cancel_request(), Some(REFUND))
        .await;
    assert!(
        matches!(review, Err(ProviderError::Unavailable(_))),
        "{review:?}"
    );
}

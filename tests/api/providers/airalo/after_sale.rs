//! After the sale: the top-ups one eSIM takes, top-up orders with our reference as the
//! description (found again as orders are), refund requests under Airalo's review (which
//! no endpoint reports on), and every documented refusal, time-out and malformed answer.

use std::time::Duration;

use serde_json::{Value, json};
use tavaro::ids::OrderId;
use tavaro::provider::airalo::Airalo;
use tavaro::provider::{
    CancelRequest, Cancelled, Provider, ProviderError, RefundReview, Refusal, ToppedUp,
    TopupLookup, TopupLookupRequest, TopupOffer, TopupRequest,
};
use wiremock::ResponseTemplate;
use wiremock::matchers::query_param;

use super::{authorised, esim, multipart_fields, rejected, server};
use crate::providers::common::{TIMEOUT, Upstream, answer, ok};

/// The eSIM of the order fixture.
const ICCID: &str = "8944465400003573253";
/// The top-up the tests buy.
const TOPUP: &str = "meraki-mobile-7days-1gb-topup";

fn topup_request() -> TopupRequest {
    TopupRequest {
        order_ref: OrderId::new(),
        esim: esim(ICCID),
        plan_id: format!("airalo-{TOPUP}"),
        sku: TOPUP.into(),
        unit_cost_e4: Some(40_000),
        days: 7,
        data_mb: Some(1024),
    }
}

fn cancel_request() -> CancelRequest {
    CancelRequest {
        esim: esim(ICCID),
        order_ref: OrderId::new(),
        provider_order_ref: Some("583747".into()),
    }
}

fn code(status: u16, code: i64, reason: &str) -> ResponseTemplate {
    answer(status, json!({"code": code, "reason": reason}))
}

/// The top-up order fixture, for our `reference`.
fn topup_order(reference: &str) -> Value {
    let mut body = Airalo::fixture("topup_order.json");
    body["data"]["description"] = json!(reference);
    body
}

/// What a top-up answered `answer` comes to.
async fn topup_with(answer: ResponseTemplate) -> Result<ToppedUp, ProviderError> {
    let server = server().await;
    authorised("POST", "/v2/orders/topups")
        .respond_with(answer)
        .mount(&server)
        .await;
    Airalo::against(&server).topup(&topup_request()).await
}

/// What a cancellation answered `answer` comes to.
async fn cancel_with(answer: ResponseTemplate) -> Result<Cancelled, ProviderError> {
    let server = server().await;
    authorised("POST", "/v2/refund")
        .respond_with(answer)
        .mount(&server)
        .await;
    Airalo::against(&server).cancel(&cancel_request()).await
}

#[tokio::test]
async fn the_topup_list_is_this_esims_and_maps_each_package_to_an_offer_at_its_net_price() {
    let server = server().await;
    let route = format!("/v2/sims/{ICCID}/topups");
    authorised("GET", &route)
        .respond_with(ok(Airalo::fixture("topups.json")))
        .mount(&server)
        .await;
    let offers = Airalo::against(&server)
        .topups(&esim(ICCID), "airalo-meraki-mobile-7days-1gb")
        .await;
    assert_eq!(
        offers.unwrap(),
        [
            TopupOffer {
                sku: "meraki-mobile-7days-1gb-topup".into(),
                cost_e4: Some(40_000),
                days: Some(7),
                data_mb: Some(1024),
            },
            TopupOffer {
                sku: "meraki-mobile-30days-3gb-topup".into(),
                cost_e4: Some(92_000),
                days: Some(30),
                data_mb: Some(3072),
            },
            // No net price stated (discount pricing): no cost we could vouch for.
            TopupOffer {
                sku: "meraki-mobile-30days-10gb-topup".into(),
                cost_e4: None,
                days: Some(30),
                data_mb: Some(10240),
            },
        ]
    );
    let asked = Airalo::requests_to(&server, &format!("/sims/{ICCID}/topups")).await;
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].method.as_str(), "GET");
}

#[tokio::test]
async fn the_topup_list_of_an_unknown_or_recycled_esim_is_refused() {
    let server = server().await;
    authorised("GET", "/v2/sims/8944465400000000404/topups")
        .respond_with(answer(404, Airalo::fixture("not_found.json")))
        .mount(&server)
        .await;
    authorised("GET", format!("/v2/sims/{ICCID}/topups").as_str())
        .respond_with(answer(422, Airalo::fixture("recycled.json")))
        .mount(&server)
        .await;
    let airalo = Airalo::against(&server);
    let unknown = airalo
        .topups(&esim("8944465400000000404"), "p")
        .await
        .unwrap_err();
    assert!(rejected(Refusal::Other)(&unknown), "{unknown:?}");
    let recycled = airalo.topups(&esim(ICCID), "p").await.unwrap_err();
    assert!(
        matches!(&recycled, ProviderError::Rejected { message, .. }
            if message.contains("airalo error 73") && message.contains("has been recycled")),
        "{recycled:?}"
    );
    let not_an_iccid = airalo.topups(&esim("../balance"), "p").await.unwrap_err();
    assert!(rejected(Refusal::Other)(&not_an_iccid), "{not_an_iccid:?}");
}

#[tokio::test]
async fn a_topup_order_carries_our_reference_as_its_description_and_answers_airalos_id() {
    let server = server().await;
    let request = topup_request();
    let reference = request.order_ref.to_string();
    authorised("POST", "/v2/orders/topups")
        .respond_with(ok(topup_order(&reference)))
        .mount(&server)
        .await;
    let topped_up = Airalo::against(&server).topup(&request).await;
    assert_eq!(
        topped_up.unwrap(),
        ToppedUp {
            provider_order_ref: Some("111".into())
        }
    );
    let sent = Airalo::requests_to(&server, "/orders/topups").await;
    assert_eq!(sent.len(), 1, "one top-up, never repeated");
    assert_eq!(
        multipart_fields(&sent[0]),
        [
            ("description".to_owned(), reference),
            ("iccid".to_owned(), ICCID.to_owned()),
            ("package_id".to_owned(), TOPUP.to_owned()),
        ]
        .into()
    );
}

#[tokio::test]
async fn a_topup_airalo_refuses_is_a_refusal_that_applied_nothing() {
    let disabled = topup_with(answer(422, Airalo::fixture("topup_disabled.json")))
        .await
        .unwrap_err();
    assert!(
        matches!(&disabled, ProviderError::Rejected { reason: Refusal::Other, message }
            if message.contains("airalo error 23") && message.contains("disabled")),
        "{disabled:?}"
    );
    let recycled = topup_with(answer(422, Airalo::fixture("recycled.json")))
        .await
        .unwrap_err();
    assert!(rejected(Refusal::Other)(&recycled), "{recycled:?}");
    let invalid = topup_with(answer(422, Airalo::fixture("invalid_topup_package.json")))
        .await
        .unwrap_err();
    assert!(rejected(Refusal::InvalidPackage)(&invalid), "{invalid:?}");
    let limit = topup_with(answer(
        422,
        json!({"data": {"package_id": "validation.order_exceed_limit"}, "meta": {"message": "the parameter is invalid"}}),
    ))
    .await
    .unwrap_err();
    assert!(matches!(limit, ProviderError::Rejected { .. }), "{limit:?}");
    let broke = topup_with(answer(422, Airalo::fixture("insufficient_credit.json")))
        .await
        .unwrap_err();
    assert!(
        matches!(broke, ProviderError::InsufficientFunds(_)),
        "{broke:?}"
    );
    for err in [disabled, recycled, invalid, limit, broke] {
        assert!(err.issued_nothing(), "{err:?}");
    }
}

#[tokio::test]
async fn a_server_error_a_time_out_or_a_malformed_answer_to_a_topup_is_unknown() {
    let answers = [
        ResponseTemplate::new(500).set_body_string("Server Error"),
        code(422, 53, "Unexpected error"),
        ok(topup_order("x")).set_delay(TIMEOUT + Duration::from_millis(300)),
        ResponseTemplate::new(200).set_body_string("<html>upstream proxy</html>"),
    ];
    for answer in answers {
        let err = topup_with(answer).await.unwrap_err();
        assert!(matches!(err, ProviderError::Unknown(_)), "{err:?}");
    }
}

#[tokio::test]
async fn a_topup_lookup_finds_the_order_by_airalos_id_or_by_our_reference() {
    let server = server().await;
    let reference = OrderId::new();
    authorised("GET", "/v2/orders/111")
        .respond_with(ok(topup_order(&reference.to_string())))
        .mount(&server)
        .await;
    let mut failed = topup_order("other");
    failed["data"]["id"] = json!(112);
    failed["data"]["status"] = json!({"name": "Failed", "slug": "failed"});
    authorised("GET", "/v2/orders/112")
        .respond_with(ok(failed))
        .mount(&server)
        .await;
    authorised("GET", "/v2/orders")
        .and(query_param("filter[description]", reference.to_string()))
        .respond_with(ok(json!({
            "data": [topup_order(&reference.to_string())["data"]],
            "meta": {"current_page": 1, "last_page": 1}
        })))
        .mount(&server)
        .await;
    authorised("GET", "/v2/orders")
        .respond_with(ok(
            json!({"data": [], "meta": {"current_page": 1, "last_page": 1}}),
        ))
        .mount(&server)
        .await;
    let lookup = |order_ref, provider_order_ref: Option<&str>| TopupLookupRequest {
        order_ref,
        provider_order_ref: provider_order_ref.map(str::to_owned),
        esim: esim(ICCID),
        sku: TOPUP.into(),
        placed_at: chrono::Utc::now(),
    };
    let airalo = Airalo::against(&server);
    let applied = TopupLookup::Applied(ToppedUp {
        provider_order_ref: Some("111".into()),
    });
    assert_eq!(
        airalo
            .topup_lookup(&lookup(reference, Some("111")))
            .await
            .unwrap(),
        applied
    );
    assert_eq!(
        airalo.topup_lookup(&lookup(reference, None)).await.unwrap(),
        applied
    );
    let failed = airalo
        .topup_lookup(&lookup(OrderId::new(), Some("112")))
        .await
        .unwrap();
    assert!(matches!(failed, TopupLookup::Failed(_)), "{failed:?}");
    assert_eq!(
        airalo
            .topup_lookup(&lookup(OrderId::new(), None))
            .await
            .unwrap(),
        TopupLookup::NotFound
    );
}

#[tokio::test]
async fn a_cancellation_files_a_refund_request_that_stays_under_review() {
    let server = server().await;
    authorised("POST", "/v2/refund")
        .respond_with(answer(202, Airalo::fixture("refund.json")))
        .mount(&server)
        .await;
    let airalo = Airalo::against(&server);
    let request = cancel_request();
    assert_eq!(
        airalo.cancel(&request).await.unwrap(),
        Cancelled::UnderReview {
            refund_ref: Some("12345".into())
        }
    );
    let sent = Airalo::requests_to(&server, "/refund").await;
    assert_eq!(sent.len(), 1);
    let fields = multipart_fields(&sent[0]);
    assert_eq!(fields["iccids[]"], ICCID);
    assert_eq!(fields["reason"], "TRIP_CANCELLATION");
    assert!(
        fields["notes"].contains(&request.order_ref.to_string()),
        "{fields:?}"
    );

    // No endpoint tells how a request stands: it stays pending, and nothing is asked.
    let before = server.received_requests().await.unwrap().len();
    assert_eq!(
        airalo.refund_status(&request, Some("12345")).await.unwrap(),
        RefundReview::Pending
    );
    assert_eq!(server.received_requests().await.unwrap().len(), before);
}

#[tokio::test]
async fn a_refund_request_airalo_refuses_is_refused_in_its_words() {
    let words = "The following ICCIDs do not belong to your company: 8944465400003573253";
    for status in [422, 202] {
        let err = cancel_with(answer(status, Airalo::fixture("refund_foreign_iccid.json")))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ProviderError::Rejected { reason: Refusal::Other, message }
                if message == &format!("airalo refused the refund: {words}")),
            "{status}: {err:?}"
        );
    }
    let invalid_reason = cancel_with(answer(
        422,
        json!({"data": {"reason": "The selected reason is invalid."}, "meta": {"message": "the parameter is invalid"}}),
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(&invalid_reason, ProviderError::Rejected { message, .. }
            if message.ends_with("the parameter is invalid: The selected reason is invalid.")),
        "{invalid_reason:?}"
    );
    let recycled = cancel_with(answer(422, Airalo::fixture("recycled.json")))
        .await
        .unwrap_err();
    assert!(rejected(Refusal::Other)(&recycled), "{recycled:?}");
}

#[tokio::test]
async fn a_refund_request_without_a_definitive_answer_is_unknown() {
    let answers = [
        answer(202, Airalo::fixture("refund.json")).set_delay(TIMEOUT + Duration::from_millis(300)),
        ResponseTemplate::new(500).set_body_string("Server Error"),
        ResponseTemplate::new(202).set_body_string("<html>upstream proxy</html>"),
        answer(202, json!({"data": {}, "meta": {"message": "success"}})),
    ];
    for answer in answers {
        let err = cancel_with(answer).await.unwrap_err();
        assert!(matches!(err, ProviderError::Unknown(_)), "{err:?}");
    }
}

#[tokio::test]
async fn refund_requests_past_airalos_five_a_minute_are_refused_before_sending() {
    let server = server().await;
    authorised("POST", "/v2/refund")
        .respond_with(answer(202, Airalo::fixture("refund.json")))
        .mount(&server)
        .await;
    let airalo = Airalo::against(&server);
    for _ in 0..5 {
        airalo.cancel(&cancel_request()).await.unwrap();
    }
    let sixth = airalo.cancel(&cancel_request()).await.unwrap_err();
    assert!(
        matches!(
            sixth,
            ProviderError::RateLimited {
                retry_after: Some(_)
            }
        ),
        "{sixth:?}"
    );
    assert_eq!(Airalo::requests_to(&server, "/refund").await.len(), 5);
}

//! Orders: install details fetched by order reference, an order whose eSIMs are not
//! listed in time, and every refusal, rate limit, server error, time-out and malformed body
//! mapped onto its class.

use std::time::{Duration, Instant};

use serde_json::json;
use tavaro::provider::esimgo::EsimGo;
use tavaro::provider::{Provider, ProviderError, Refusal};
use wiremock::matchers::{header, query_param};
use wiremock::{MockServer, ResponseTemplate};

use super::{NL, api, order_of, refusal};
use crate::providers::common::{TIMEOUT, Upstream, answer, ok};

#[tokio::test]
async fn install_details_of_a_large_order_are_fetched_by_order_reference_as_json() {
    let server = MockServer::start().await;
    api("POST", "/orders")
        .respond_with(ok(EsimGo::fixture("order_without_esims.json")))
        .mount(&server)
        .await;
    api("GET", "/esims/assignments")
        .and(query_param(
            "reference",
            "1a2b3c4d-5e6f-4a8b-9c10-11d12e13f14a",
        ))
        .and(header("accept", "application/json"))
        .respond_with(ok(EsimGo::fixture("assignments.json")))
        .expect(1)
        .mount(&server)
        .await;

    let issued = EsimGo::against(&server)
        .provision(&order_of(NL, 2))
        .await
        .unwrap();
    assert_eq!(
        issued.provider_order_ref.as_deref(),
        Some("1a2b3c4d-5e6f-4a8b-9c10-11d12e13f14a")
    );
    let first = &issued.esims[0];
    assert_eq!(first.iccid, "8944123456789012348");
    assert_eq!(
        first.smdp_address, "smdp.example.com",
        "the URL scheme is not part of an LPA"
    );
    assert_eq!(first.activation_code, "A1B2-C3D4-E5F6-G7H8");
    assert_eq!(first.provider_ref, None);
    assert_eq!(issued.esims[1].iccid, "8944123456789012355");
    assert_eq!(issued.esims[1].activation_code, "J9K8-L7M6-N5P4-Q3R2");
}

#[tokio::test]
async fn an_order_whose_esims_are_not_listed_in_time_is_accepted_with_its_reference() {
    let server = MockServer::start().await;
    api("POST", "/orders")
        .respond_with(ok(EsimGo::fixture("order_without_esims.json")))
        .mount(&server)
        .await;
    api("GET", "/esims/assignments")
        .respond_with(ok(json!([])))
        .mount(&server)
        .await;

    let started = Instant::now();
    let outcome = EsimGo::against(&server).provision(&order_of(NL, 2)).await;
    assert_eq!(
        outcome.unwrap_err(),
        ProviderError::Accepted {
            provider_order_ref: "1a2b3c4d-5e6f-4a8b-9c10-11d12e13f14a".into()
        }
    );
    assert!(
        started.elapsed() < TIMEOUT,
        "polls within two thirds of the time-out"
    );
    assert!(
        EsimGo::requests_to(&server, "/esims/assignments")
            .await
            .len()
            >= 2,
        "polled more than once"
    );
}

#[tokio::test]
async fn an_order_answered_with_a_failed_status_is_left_to_the_lookup() {
    let server = MockServer::start().await;
    let mut failed = EsimGo::fixture("order_transaction.json");
    failed["status"] = json!("failed");
    failed["order"][0]["esims"] = json!([]);
    api("POST", "/orders")
        .respond_with(ok(failed))
        .mount(&server)
        .await;
    let outcome = EsimGo::against(&server).provision(&order_of(NL, 2)).await;
    assert!(
        matches!(outcome, Err(ProviderError::Accepted { ref provider_order_ref }) if provider_order_ref == "e268b769-1cb3-4335-aed8-52ecb78425e9"),
        "{outcome:?}"
    );
}

async fn provision_answered(answer: ResponseTemplate) -> ProviderError {
    let server = MockServer::start().await;
    api("POST", "/orders")
        .respond_with(answer)
        .mount(&server)
        .await;
    EsimGo::against(&server)
        .provision(&order_of(NL, 1))
        .await
        .unwrap_err()
}

async fn balance_answered(answer: ResponseTemplate) -> ProviderError {
    let server = MockServer::start().await;
    api("GET", "/organisation")
        .respond_with(answer)
        .mount(&server)
        .await;
    EsimGo::against(&server).balance().await.unwrap_err()
}

#[tokio::test]
async fn messages_about_balance_credit_or_funds_are_insufficient_funds() {
    for answer in [
        refusal(400, "Insufficient balance to complete this order"),
        refusal(403, "Organisation does not have enough credit"),
        refusal(400, "Not enough funds"),
        refusal(402, "Payment required"),
    ] {
        let error = provision_answered(answer).await;
        assert!(
            matches!(error, ProviderError::InsufficientFunds(_)),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn refusals_are_told_apart_by_their_message() {
    let cases = [
        ("Bundle esim_NOPE_V2 not found", Refusal::InvalidPackage),
        ("Invalid item: esim_1gb_7d_nl_v2", Refusal::InvalidPackage),
        ("Unknown bundle name", Refusal::InvalidPackage),
        (
            "Bundle esim_1GB_7D_NL_V2 is currently unavailable",
            Refusal::OutOfStock,
        ),
        ("Out of stock", Refusal::OutOfStock),
        ("quantity must be at least 1", Refusal::Other),
    ];
    for (message, reason) in cases {
        let error = provision_answered(refusal(400, message)).await;
        assert!(
            matches!(&error, ProviderError::Rejected { reason: r, message: m } if *r == reason && m.contains(message)),
            "{message}: {error:?}"
        );
    }
}

#[tokio::test]
async fn rate_limiting_is_reported_with_its_retry_after() {
    let limited = || refusal(429, "Rate limit exceeded").insert_header("Retry-After", "3");
    let expected = ProviderError::RateLimited {
        retry_after: Some(Duration::from_secs(3)),
    };
    assert_eq!(provision_answered(limited()).await, expected);
    assert_eq!(balance_answered(limited()).await, expected);
}

#[tokio::test]
async fn a_server_error_is_unknown_for_an_order_and_unavailable_for_a_read() {
    let error = provision_answered(refusal(500, "Internal Server Error")).await;
    assert!(matches!(error, ProviderError::Unknown(_)), "{error:?}");
    let error = balance_answered(refusal(500, "Internal Server Error")).await;
    assert!(matches!(error, ProviderError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn processing_503_to_an_order_is_unknown_or_accepted_when_it_names_the_order() {
    let error = provision_answered(refusal(503, "Processing - Please come back later")).await;
    assert!(matches!(error, ProviderError::Unknown(_)), "{error:?}");
    let named = answer(
        503,
        json!({"message": "Processing", "orderReference": "3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c"}),
    );
    assert_eq!(
        provision_answered(named).await,
        ProviderError::Accepted {
            provider_order_ref: "3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c".into()
        }
    );
}

#[tokio::test]
async fn a_time_out_is_unknown_for_an_order_and_unavailable_for_a_read() {
    let late = || {
        ok(EsimGo::fixture("order_transaction.json"))
            .set_delay(TIMEOUT + Duration::from_millis(300))
    };
    let error = provision_answered(late()).await;
    assert!(matches!(error, ProviderError::Unknown(_)), "{error:?}");
    let error = balance_answered(late()).await;
    assert!(matches!(error, ProviderError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn a_malformed_body_is_unknown_for_an_order_and_unavailable_for_a_read() {
    let html = || ResponseTemplate::new(200).set_body_string("<html>gateway</html>");
    let error = provision_answered(html()).await;
    assert!(matches!(error, ProviderError::Unknown(_)), "{error:?}");
    let error = balance_answered(html()).await;
    assert!(matches!(error, ProviderError::Unavailable(_)), "{error:?}");
    let no_reference = ok(json!({"order": [], "status": "completed"}));
    assert!(matches!(
        provision_answered(no_reference).await,
        ProviderError::Unknown(_)
    ));

    let server = MockServer::start().await;
    api("GET", "/catalogue")
        .respond_with(ok(json!({"bundles": "none"})))
        .mount(&server)
        .await;
    let error = EsimGo::against(&server).packages().await.unwrap_err();
    assert!(matches!(error, ProviderError::Unavailable(_)), "{error:?}");
}

//! After the sale: top-up offers from the catalogue checked for compatibility, top-ups
//! onto the eSIM's ICCID, their lookup without a client reference, cancellations that
//! credit our balance (and refuse a started bundle without revoking it), and usage
//! counting the top-ups.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use tavaro::esims::EsimStatus;
use tavaro::ids::OrderId;
use tavaro::provider::esimgo::EsimGo;
use tavaro::provider::{
    CancelRequest, Cancelled, EsimRef, Provider, ProviderError, RefundReview, Refusal, ToppedUp,
    TopupLookup, TopupLookupRequest, TopupOffer, TopupRequest,
};
use wiremock::matchers::query_param;
use wiremock::{MockServer, ResponseTemplate};

use super::{ICCID, NL, api, at, refusal};
use crate::providers::common::{TIMEOUT, Upstream, json_body, ok};

/// The top-up the tests buy.
const NL3: &str = "esim_3GB_30D_NL_V2";
/// eSIM Go's reference of the top-up order in `order_topup.json`.
const TOPUP_REF: &str = "7c1d2e3f-4a5b-4c6d-8e7f-90a1b2c3d4e5";

fn esim() -> EsimRef {
    EsimRef {
        iccid: ICCID.into(),
        provider_ref: None,
        sku: Some(NL.into()),
    }
}

fn topup_request() -> TopupRequest {
    TopupRequest {
        order_ref: OrderId::new(),
        esim: esim(),
        plan_id: "esimgo-nl-3gb".into(),
        sku: NL3.into(),
        unit_cost_e4: Some(54_000),
        days: 30,
        data_mb: Some(3000),
    }
}

fn cancel_request() -> CancelRequest {
    CancelRequest {
        esim: esim(),
        order_ref: OrderId::new(),
        provider_order_ref: Some("e268b769-1cb3-4335-aed8-52ecb78425e9".into()),
    }
}

fn lookup_request(
    provider_order_ref: Option<&str>,
    placed_at: chrono::DateTime<Utc>,
) -> TopupLookupRequest {
    TopupLookupRequest {
        order_ref: OrderId::new(),
        provider_order_ref: provider_order_ref.map(str::to_owned),
        esim: esim(),
        sku: NL3.into(),
        placed_at,
    }
}

async fn mount_bundles(server: &MockServer, bundles: serde_json::Value) {
    api("GET", &format!("/esims/{ICCID}/bundles"))
        .and(query_param("includeUsed", "true"))
        .respond_with(ok(bundles))
        .mount(server)
        .await;
}

#[tokio::test]
async fn top_up_offers_are_the_catalogues_bundles_for_the_esims_countries_that_esim_go_calls_compatible()
 {
    let server = MockServer::start().await;
    api("GET", &format!("/catalogue/bundle/{NL}"))
        .respond_with(ok(EsimGo::fixture("catalogue_bundle_nl.json")))
        .mount(&server)
        .await;
    api("GET", "/catalogue")
        .and(query_param("countries", "NL"))
        .and(query_param("page", "1"))
        .respond_with(ok(EsimGo::fixture("catalogue_topups_nl.json")))
        .mount(&server)
        .await;
    for (bundle, compatible) in [(NL, true), (NL3, true), ("esim_5GB_30D_EUNL_V2", false)] {
        api("GET", &format!("/esims/{ICCID}/compatible/{bundle}"))
            .respond_with(ok(json!({ "compatible": compatible })))
            .expect(1)
            .mount(&server)
            .await;
    }

    let offers = EsimGo::against(&server)
        .topups(&esim(), "esimgo-plan")
        .await
        .unwrap();

    assert_eq!(
        offers,
        vec![
            TopupOffer {
                sku: NL.into(),
                cost_e4: Some(22_800),
                days: None,
                data_mb: None,
            },
            TopupOffer {
                sku: NL3.into(),
                cost_e4: Some(54_000),
                days: None,
                data_mb: None,
            },
        ]
    );
    // The German-only bundle does not cover the eSIM's country: never even asked about.
    assert!(
        EsimGo::requests_to(
            &server,
            &format!("/esims/{ICCID}/compatible/esim_1GB_7D_DE_V2")
        )
        .await
        .is_empty()
    );
}

#[tokio::test]
async fn a_top_up_orders_the_bundle_onto_the_esims_iccid_and_maps_a_completed_order() {
    let server = MockServer::start().await;
    api("POST", "/orders")
        .respond_with(ok(EsimGo::fixture("order_topup.json")))
        .expect(1)
        .mount(&server)
        .await;

    let topped = EsimGo::against(&server).topup(&topup_request()).await;

    assert_eq!(
        topped,
        Ok(ToppedUp {
            provider_order_ref: Some(TOPUP_REF.into())
        })
    );
    let sent = EsimGo::requests_to(&server, "/orders").await;
    assert_eq!(
        json_body(&sent[0]),
        json!({
            "type": "transaction",
            "assign": true,
            "order": [{
                "type": "bundle",
                "quantity": 1,
                "item": NL3,
                "iccids": [ICCID],
                "allowReassign": false,
            }],
        })
    );
}

#[tokio::test]
async fn a_refused_top_up_is_rejected_and_a_server_error_time_out_or_malformed_answer_is_unknown() {
    let answered = |response: ResponseTemplate| async move {
        let server = MockServer::start().await;
        api("POST", "/orders")
            .respond_with(response)
            .mount(&server)
            .await;
        EsimGo::against(&server).topup(&topup_request()).await
    };
    let refused = answered(refusal(
        400,
        "Bundle esim_3GB_30D_NL_V2 is not compatible with ICCID",
    ))
    .await;
    assert!(
        matches!(&refused, Err(ProviderError::Rejected { reason: Refusal::Other, message }) if message.contains("not compatible")),
        "{refused:?}"
    );
    let unknown_bundle = answered(refusal(400, "Bundle not found")).await;
    assert!(
        matches!(
            unknown_bundle,
            Err(ProviderError::Rejected {
                reason: Refusal::InvalidPackage,
                ..
            })
        ),
        "{unknown_bundle:?}"
    );
    for response in [
        refusal(500, "Internal error"),
        ok(EsimGo::fixture("order_topup.json")).set_delay(TIMEOUT + Duration::from_millis(300)),
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
async fn a_top_up_is_found_by_its_order_reference_when_the_answer_gave_one() {
    let server = MockServer::start().await;
    let mut failed = EsimGo::fixture("order_topup.json");
    failed["status"] = json!("failed");
    failed["statusMessage"] = json!("Bundle could not be applied");
    for (reference, body) in [
        ("done", EsimGo::fixture("order_topup.json")),
        ("failed", failed),
    ] {
        api("GET", &format!("/orders/{reference}"))
            .respond_with(ok(body))
            .mount(&server)
            .await;
    }
    api("GET", "/orders/gone")
        .respond_with(refusal(404, "Order not found"))
        .mount(&server)
        .await;
    let go = EsimGo::against(&server);
    let placed = Utc::now();

    assert_eq!(
        go.topup_lookup(&lookup_request(Some("done"), placed)).await,
        Ok(TopupLookup::Applied(ToppedUp {
            provider_order_ref: Some("done".into())
        }))
    );
    assert_eq!(
        go.topup_lookup(&lookup_request(Some("failed"), placed))
            .await,
        Ok(TopupLookup::Failed("Bundle could not be applied".into()))
    );
    assert_eq!(
        go.topup_lookup(&lookup_request(Some("gone"), placed)).await,
        Ok(TopupLookup::NotFound)
    );
}

#[tokio::test]
async fn without_a_reference_a_top_up_is_found_by_the_esims_assignments_since_it_was_asked_for() {
    let server = MockServer::start().await;
    mount_bundles(&server, EsimGo::fixture("esim_bundles_topped_up.json")).await;
    let go = EsimGo::against(&server);

    // Assigned at 09:00:02, asked for at 09:00:00: applied.
    let asked = at("2025-05-29T09:00:00Z");
    assert_eq!(
        go.topup_lookup(&lookup_request(None, asked)).await,
        Ok(TopupLookup::Applied(ToppedUp {
            provider_order_ref: None
        }))
    );
    // Asked for a day later (long past eSIM Go's ten minutes): that assignment is older
    // than the top-up, which is not there.
    let later = at("2025-05-30T09:00:00Z");
    assert_eq!(
        go.topup_lookup(&lookup_request(None, later)).await,
        Ok(TopupLookup::NotFound)
    );
    // Asked for just now: eSIM Go may not show the assignment yet.
    assert_eq!(
        go.topup_lookup(&lookup_request(None, Utc::now())).await,
        Ok(TopupLookup::Pending)
    );
}

#[tokio::test]
async fn cancelling_an_unstarted_bundle_revokes_it_to_our_balance_and_a_repeat_answers_the_same() {
    let server = MockServer::start().await;
    mount_bundles(&server, EsimGo::fixture("esim_bundles_unstarted.json")).await;
    api("DELETE", &format!("/esims/{ICCID}/bundles/{NL}"))
        .and(query_param("refundToBalance", "true"))
        .and(query_param("type", "transaction"))
        .and(query_param("offerId", "215009266"))
        .respond_with(ok(EsimGo::fixture("revoked_to_balance.json")))
        .expect(1)
        .mount(&server)
        .await;
    let go = EsimGo::against(&server);

    assert_eq!(go.cancel(&cancel_request()).await, Ok(Cancelled::Refunded));

    // The repeat finds the bundle revoked and does not revoke again.
    let mut revoked = EsimGo::fixture("esim_bundles_unstarted.json");
    revoked["bundles"][0]["assignments"][0]["bundleState"] = json!("revoked");
    server.reset().await;
    mount_bundles(&server, revoked).await;
    api("DELETE", &format!("/esims/{ICCID}/bundles/{NL}"))
        .respond_with(ok(EsimGo::fixture("revoked_to_balance.json")))
        .expect(0)
        .mount(&server)
        .await;
    assert_eq!(go.cancel(&cancel_request()).await, Ok(Cancelled::Refunded));
    // Instant credits: nothing is ever under review.
    assert_eq!(
        go.refund_status(&cancel_request(), None).await,
        Ok(RefundReview::Pending)
    );
}

#[tokio::test]
async fn a_started_or_used_bundle_is_refused_with_its_state_and_never_revoked() {
    let cases = [
        ("active", 750_000_000_i64, "has started (active)"),
        ("depleted", 0, "has started (depleted)"),
        ("queued", 999_000_000, "has used data"),
    ];
    for (state, remaining, why) in cases {
        let server = MockServer::start().await;
        let mut bundles = EsimGo::fixture("esim_bundles_unstarted.json");
        bundles["bundles"][0]["assignments"][0]["bundleState"] = json!(state);
        bundles["bundles"][0]["assignments"][0]["remainingQuantity"] = json!(remaining);
        mount_bundles(&server, bundles).await;
        api("DELETE", &format!("/esims/{ICCID}/bundles/{NL}"))
            .respond_with(ok(EsimGo::fixture("revoked_to_balance.json")))
            .expect(0)
            .mount(&server)
            .await;

        let refused = EsimGo::against(&server).cancel(&cancel_request()).await;

        assert!(
            matches!(&refused, Err(ProviderError::Rejected { reason: Refusal::Other, message }) if message.contains(why) && message.contains(NL)),
            "{state}: {refused:?}"
        );
    }
}

#[tokio::test]
async fn a_revoke_refused_by_esim_go_is_rejected_in_its_words_and_a_time_out_is_unknown() {
    let answered = |response: ResponseTemplate| async move {
        let server = MockServer::start().await;
        mount_bundles(&server, EsimGo::fixture("esim_bundles_unstarted.json")).await;
        api("DELETE", &format!("/esims/{ICCID}/bundles/{NL}"))
            .respond_with(response)
            .mount(&server)
            .await;
        EsimGo::against(&server).cancel(&cancel_request()).await
    };
    // Words about the balance are a refusal of the revoke, not our funds running out.
    let refused = answered(refusal(
        400,
        "Bundle purchased outside of the refund period; cannot refund to balance",
    ))
    .await;
    assert!(
        matches!(&refused, Err(ProviderError::Rejected { reason: Refusal::Other, message }) if message.contains("refund period")),
        "{refused:?}"
    );
    for response in [
        ok(EsimGo::fixture("revoked_to_balance.json"))
            .set_delay(TIMEOUT + Duration::from_millis(300)),
        refusal(500, "Internal error"),
    ] {
        let outcome = answered(response).await;
        assert!(
            matches!(outcome, Err(ProviderError::Unknown(_))),
            "{outcome:?}"
        );
    }
}

#[tokio::test]
async fn usage_counts_the_allowance_of_the_plan_and_every_top_up() {
    let server = MockServer::start().await;
    mount_bundles(&server, EsimGo::fixture("esim_bundles_topped_up.json")).await;
    api("GET", &format!("/esims/{ICCID}"))
        .respond_with(ok(EsimGo::fixture("esim_details.json")))
        .mount(&server)
        .await;

    let usage = EsimGo::against(&server).usage(&esim()).await.unwrap();

    assert_eq!(usage.data_total_mb, Some(4000), "1 GB plan + 3 GB top-up");
    assert_eq!(
        usage.data_used_mb, 1500,
        "1000 MB of the plan + 500 of the top-up"
    );
    assert_eq!(usage.status, EsimStatus::Depleted, "the plan's own bundle");
}

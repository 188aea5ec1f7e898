//! Usage and balance: the eSIM's own bundle in decimal megabytes, every bundle state in
//! our terms, and the organisation's balance.

use serde_json::{Value, json};
use tavaro::esims::EsimStatus;
use tavaro::provider::esimgo::EsimGo;
use tavaro::provider::{EsimRef, Provider, ProviderError};
use wiremock::MockServer;
use wiremock::matchers::query_param;

use super::{ICCID, NL, api, at};
use crate::providers::common::{Upstream, ok};

async fn usage_answered(
    bundles: Value,
    sku: Option<&str>,
) -> (
    Result<tavaro::provider::EsimUsage, ProviderError>,
    MockServer,
) {
    let server = MockServer::start().await;
    api("GET", &format!("/esims/{ICCID}/bundles"))
        .and(query_param("includeUsed", "true"))
        .respond_with(ok(bundles))
        .mount(&server)
        .await;
    api("GET", &format!("/esims/{ICCID}"))
        .respond_with(ok(EsimGo::fixture("esim_details.json")))
        .mount(&server)
        .await;
    let esim = EsimRef {
        iccid: ICCID.into(),
        provider_ref: None,
        sku: sku.map(str::to_owned),
    };
    let usage = EsimGo::against(&server).usage(&esim).await;
    (usage, server)
}

#[tokio::test]
async fn usage_reads_the_esims_own_bundle_in_decimal_megabytes() {
    let (usage, server) = usage_answered(EsimGo::fixture("esim_bundles.json"), Some(NL)).await;
    let usage = usage.unwrap();
    assert_eq!(usage.status, EsimStatus::Active);
    assert_eq!(usage.data_used_mb, 250, "1,000,000,000 − 750,000,000 bytes");
    assert_eq!(
        usage.data_total_mb,
        Some(1000),
        "initialQuantity, decimal MB"
    );
    assert_eq!(
        usage.activated_at,
        Some(at("2024-08-13T09:37:57.280Z")),
        "firstInstalledDateTime"
    );
    assert_eq!(usage.expires_at, None);
    assert_eq!(
        EsimGo::requests_to(&server, &format!("/esims/{ICCID}"))
            .await
            .len(),
        1
    );

    // Without the plan's bundle name: the latest assignment, queued, not yet started.
    let (usage, server) = usage_answered(EsimGo::fixture("esim_bundles.json"), None).await;
    let usage = usage.unwrap();
    assert_eq!(
        (usage.status, usage.data_used_mb, usage.activated_at),
        (EsimStatus::Ready, 0, None)
    );
    assert_eq!(
        usage.data_total_mb, None,
        "an unlimited bundle has no allowance"
    );
    assert!(
        EsimGo::requests_to(&server, &format!("/esims/{ICCID}"))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn every_bundle_state_maps_onto_our_status_with_its_validity() {
    let cases = [
        ("processing", EsimStatus::Ready),
        ("queued", EsimStatus::Ready),
        ("active", EsimStatus::Active),
        ("depleted", EsimStatus::Depleted),
        ("expired", EsimStatus::Expired),
        ("revoked", EsimStatus::Expired),
        ("lapsed", EsimStatus::Expired),
    ];
    for (state, status) in cases {
        let bundles = json!({"assignments": [{
            "id": "1", "callTypeGroup": "data", "initialQuantity": 2_000_000_000_i64,
            "remainingQuantity": 500_000_000, "assignmentDateTime": "2025-05-22T12:51:20Z",
            "bundleState": state, "unlimited": false,
            "startTime": "2025-05-23T08:00:00Z", "endTime": "2025-05-30T08:00:00Z"}]});
        let (usage, _server) = usage_answered(bundles, Some(NL)).await;
        let usage = usage.unwrap();
        assert_eq!(usage.status, status, "{state}");
        assert_eq!(usage.data_used_mb, 1500, "{state}");
        assert_eq!(usage.data_total_mb, Some(2000), "{state}");
        assert_eq!(
            usage.activated_at,
            Some(at("2025-05-23T08:00:00Z")),
            "{state}"
        );
        assert_eq!(
            usage.expires_at,
            Some(at("2025-05-30T08:00:00Z")),
            "{state}"
        );
    }
}

#[tokio::test]
async fn an_unknown_bundle_state_or_no_bundle_is_unavailable() {
    let unknown = json!({"bundles": [{"name": NL, "assignments": [{"bundleState": "suspended"}]}]});
    let (usage, _server) = usage_answered(unknown, Some(NL)).await;
    assert!(
        matches!(usage, Err(ProviderError::Unavailable(ref m)) if m.contains("suspended")),
        "{usage:?}"
    );
    let (usage, _server) = usage_answered(json!({"bundles": []}), Some(NL)).await;
    assert!(
        matches!(usage, Err(ProviderError::Unavailable(_))),
        "{usage:?}"
    );
}

#[tokio::test]
async fn the_balance_is_read_in_ten_thousandths_with_its_currency() {
    let server = MockServer::start().await;
    api("GET", "/organisation")
        .respond_with(ok(EsimGo::fixture("organisation.json")))
        .mount(&server)
        .await;
    let balance = EsimGo::against(&server).balance().await.unwrap();
    assert_eq!(
        (balance.amount_e4, balance.currency.as_str()),
        (12_345_678, "USD")
    );
}

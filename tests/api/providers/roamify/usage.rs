//! Usage and balance: Roamify's statuses, MB and epoch seconds in our terms.

use chrono::{DateTime, Utc};
use serde_json::json;
use tavaro::esims::EsimStatus;
use tavaro::provider::roamify::Roamify;
use tavaro::provider::{EsimUsage, Provider, ProviderError, UpstreamBalance};
use wiremock::matchers::query_param;
use wiremock::{MockServer, ResponseTemplate};

use super::{ICCID, authed, esim_ref};
use crate::providers::common::{Upstream, ok};

fn at(epoch: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(epoch, 0)
}

#[tokio::test]
async fn usage_maps_roamify_statuses_to_ours_in_megabytes_and_utc() {
    let server = MockServer::start().await;
    let max = 9_007_199_254_740_991_i64;
    let cases = [
        // status, startedAt, allowed, remaining → ours, used MB
        (
            "INSTALLED",
            json!(1_731_838_043),
            json!(1024),
            json!(924),
            Some((EsimStatus::Active, 100)),
        ),
        (
            "NEW",
            json!(null),
            json!(1024),
            json!(1024),
            Some((EsimStatus::Ready, 0)),
        ),
        (
            "READY",
            json!(null),
            json!(1024),
            json!(1024),
            Some((EsimStatus::Ready, 0)),
        ),
        (
            "INSTALLED",
            json!(null),
            json!(1024),
            json!(1024),
            Some((EsimStatus::Ready, 0)),
        ),
        (
            "ACTIVATED",
            json!(1_731_838_043),
            json!(1024),
            json!(0),
            Some((EsimStatus::Depleted, 1024)),
        ),
        (
            "ACTIVATED",
            json!(1_731_838_043),
            json!(max),
            json!(max - 2048),
            Some((EsimStatus::Active, 2048)),
        ),
        (
            "EXPIRED",
            json!(1_731_838_043),
            json!(1024),
            json!(0),
            Some((EsimStatus::Expired, 1024)),
        ),
        (
            "REVOKED",
            json!(null),
            json!(1024),
            json!(1024),
            Some((EsimStatus::Expired, 0)),
        ),
        (
            "DELETED",
            json!(1_731_838_043),
            json!(1024),
            json!(512),
            Some((EsimStatus::Expired, 512)),
        ),
        ("UNKNOWN", json!(null), json!(1024), json!(1024), None),
    ];
    let roamify = Roamify::against(&server);
    for (status, started, allowed, remaining, expected) in cases {
        let mut body = Roamify::fixture("usage.json");
        body["data"]["status"] = json!(status);
        body["data"]["startedAt"] = started.clone();
        let allowed_mb = allowed.as_i64().filter(|a| *a < max);
        body["data"]["allowedData"] = allowed;
        body["data"]["remainingData"] = remaining;
        server.reset().await;
        authed("GET", "/api/esim/usage")
            .and(query_param("iccid", ICCID))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;

        let usage = roamify.usage(&esim_ref(ICCID)).await;

        match expected {
            Some((ours, used)) => assert_eq!(
                usage,
                Ok(EsimUsage {
                    // allowedData; none for an unlimited allowance.
                    data_total_mb: allowed_mb,
                    status: ours,
                    data_used_mb: used,
                    activated_at: started.as_i64().and_then(at),
                    expires_at: at(1_732_442_843),
                }),
                "{status}"
            ),
            None => assert!(
                matches!(usage, Err(ProviderError::Unavailable(_))),
                "{usage:?}"
            ),
        }
    }
}

#[tokio::test]
async fn the_balance_is_read_in_ten_thousandths_of_its_currency() {
    let server = MockServer::start().await;
    authed("GET", "/api/balance")
        .respond_with(ok(Roamify::fixture("balance.json")))
        .mount(&server)
        .await;

    let balance = Roamify::against(&server).balance().await;

    assert_eq!(
        balance,
        Ok(UpstreamBalance {
            amount_e4: 37_233_500,
            currency: "USD".into()
        })
    );
}

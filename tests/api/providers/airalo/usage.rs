//! Usage and balance: Airalo's SIM statuses, megabytes (used, and the allowance `total`
//! counts with its top-ups) and expiry in our terms, and the available balance.

use chrono::{TimeZone, Utc};
use serde_json::json;
use tavaro::esims::EsimStatus;
use tavaro::provider::airalo::Airalo;
use tavaro::provider::{Provider, ProviderError, Refusal};

use super::{authorised, esim, rejected, server};
use crate::providers::common::{Upstream, answer, ok};

#[tokio::test]
async fn usage_maps_statuses_megabytes_and_expiry() {
    let server = server().await;
    let statuses = [
        ("8944465400000000001", "NOT_ACTIVE", false),
        ("8944465400000000002", "ACTIVE", false),
        ("8944465400000000003", "FINISHED", false),
        ("8944465400000000004", "EXPIRED", false),
        ("8944465400000000005", "RECYCLED", false),
        ("8944465400000000006", "ACTIVE", true),
        ("8944465400000000007", "UNKNOWN", false),
    ];
    for (iccid, status, unlimited) in statuses {
        let mut body = Airalo::fixture("usage.json");
        body["data"]["status"] = json!(status);
        body["data"]["is_unlimited"] = json!(unlimited);
        if unlimited {
            body["data"]["remaining"] = json!(0);
            body["data"]["total"] = json!(0);
        }
        authorised("GET", format!("/v2/sims/{iccid}/usage").as_str())
            .respond_with(ok(body))
            .mount(&server)
            .await;
    }
    let airalo = Airalo::against(&server);
    let mut seen = Vec::new();
    for (iccid, _, _) in &statuses[..6] {
        let usage = airalo.usage(&esim(iccid)).await.expect("usage");
        seen.push((usage.status, usage.data_used_mb, usage.data_total_mb));
        assert_eq!(
            usage.expires_at,
            Some(Utc.with_ymd_and_hms(2022, 1, 1, 0, 0, 0).unwrap())
        );
        assert_eq!(usage.activated_at, None);
    }
    assert_eq!(
        seen,
        [
            (EsimStatus::Ready, 1281, Some(2048)),
            (EsimStatus::Active, 1281, Some(2048)),
            (EsimStatus::Depleted, 1281, Some(2048)),
            (EsimStatus::Expired, 1281, Some(2048)),
            (EsimStatus::Expired, 1281, Some(2048)),
            // Unlimited: `total` is 0 and means nothing.
            (EsimStatus::Active, 0, None),
        ]
    );
    let err = airalo.usage(&esim(statuses[6].0)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn usage_of_an_iccid_airalo_does_not_know_is_refused() {
    let server = server().await;
    authorised("GET", "/v2/sims/8944465400009999999/usage")
        .respond_with(answer(404, Airalo::fixture("not_found.json")))
        .mount(&server)
        .await;
    let err = Airalo::against(&server)
        .usage(&esim("8944465400009999999"))
        .await
        .unwrap_err();
    assert!(rejected(Refusal::Other)(&err), "{err:?}");
}

#[tokio::test]
async fn balance_is_the_available_amount_in_ten_thousandths() {
    let server = server().await;
    authorised("GET", "/v2/balance")
        .respond_with(ok(Airalo::fixture("balance.json")))
        .mount(&server)
        .await;
    let balance = Airalo::against(&server).balance().await.unwrap();
    assert_eq!(
        (balance.amount_e4, balance.currency.as_str()),
        (10_004_500, "USD")
    );
}

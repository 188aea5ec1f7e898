//! Usage and balance: eSIM Access's statuses, megabytes (used and in the allowance) and
//! times in our terms (asked by transaction number or ICCID), and the balance in
//! ten-thousandths.

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use tavaro::esims::EsimStatus;
use tavaro::provider::esimaccess::EsimAccess;
use tavaro::provider::{EsimRef, Provider, ProviderError};
use wiremock::MockServer;
use wiremock::matchers::body_partial_json;

use super::{SPAIN, mount, post};
use crate::providers::common::{Upstream, json_body, ok};

#[tokio::test]
async fn usage_reports_status_megabytes_and_utc_times() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/esim/query",
        ok(EsimAccess::fixture("query_in_use.json")),
    )
    .await;
    let esimaccess = EsimAccess::against(&server);
    let mut esim = EsimRef {
        iccid: "89852245280000942210".into(),
        provider_ref: Some("25041514020101".into()),
        sku: Some(SPAIN.into()),
    };
    let usage = esimaccess.usage(&esim).await.unwrap();
    assert_eq!(usage.status, EsimStatus::Active);
    assert_eq!(usage.data_used_mb, 500);
    assert_eq!(usage.data_total_mb, Some(1024), "totalVolume, 1 GiB");
    assert_eq!(
        usage.activated_at,
        Some(Utc.with_ymd_and_hms(2025, 4, 16, 8, 30, 0).unwrap())
    );
    assert_eq!(
        usage.expires_at,
        Some(Utc.with_ymd_and_hms(2025, 4, 23, 8, 30, 0).unwrap())
    );

    esim.provider_ref = None;
    esimaccess.usage(&esim).await.unwrap();
    let asked: Vec<Value> = EsimAccess::requests_to(&server, "/esim/query")
        .await
        .iter()
        .map(json_body)
        .collect();
    let pager = json!({"pageNum": 1, "pageSize": 50});
    assert_eq!(
        asked,
        [
            json!({"esimTranNo": "25041514020101", "pager": pager}),
            json!({"iccid": "89852245280000942210", "pager": pager}),
        ]
    );
}

#[tokio::test]
async fn every_documented_esim_status_maps_onto_ours() {
    let server = MockServer::start().await;
    let cases = [
        ("GOT_RESOURCE", Some(EsimStatus::Ready)),
        ("RELEASED", Some(EsimStatus::Ready)),
        ("IN_USE", Some(EsimStatus::Active)),
        ("ENABLED", Some(EsimStatus::Active)),
        ("USED_UP", Some(EsimStatus::Depleted)),
        ("USED_EXPIRED", Some(EsimStatus::Expired)),
        ("UNUSED_EXPIRED", Some(EsimStatus::Expired)),
        ("CANCEL", Some(EsimStatus::Expired)),
        ("REVOKED", Some(EsimStatus::Expired)),
        ("FROZEN", None),
    ];
    for (status, _) in cases {
        let mut answer = EsimAccess::fixture("query_in_use.json");
        answer["obj"]["esimList"][0]["esimStatus"] = json!(status);
        post("/esim/query")
            .and(body_partial_json(json!({"esimTranNo": status})))
            .respond_with(ok(answer))
            .mount(&server)
            .await;
    }
    let esimaccess = EsimAccess::against(&server);
    for (status, expected) in cases {
        let esim = EsimRef {
            iccid: "89852245280000942210".into(),
            provider_ref: Some(status.into()),
            sku: None,
        };
        match (esimaccess.usage(&esim).await, expected) {
            (Ok(usage), Some(expected)) => assert_eq!(usage.status, expected, "{status}"),
            (Err(ProviderError::Unavailable(_)), None) => {}
            (other, _) => panic!("{status}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_balance_is_read_in_ten_thousandths_of_a_dollar() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/balance/query",
        ok(EsimAccess::fixture("balance.json")),
    )
    .await;
    let balance = EsimAccess::against(&server).balance().await.unwrap();
    assert_eq!(
        (balance.amount_e4, balance.currency.as_str()),
        (1_234_500, "USD")
    );
    assert_eq!(
        json_body(&EsimAccess::requests_to(&server, "/balance/query").await[0]),
        json!({})
    );
}

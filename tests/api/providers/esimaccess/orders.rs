//! Orders: install data from the allocated profiles, and every documented refusal, rate
//! limit, server error, time-out and malformed body mapped onto its class.

use std::time::Duration;

use serde_json::json;
use tavaro::provider::esimaccess::EsimAccess;
use tavaro::provider::{Provider, ProviderError, ProvisionedEsim, Refusal};
use wiremock::{MockServer, ResponseTemplate};

use super::{ORDER_NO, SPAIN, mount, profiles, provision, refusal};
use crate::providers::common::{TIMEOUT, Upstream, json_body, ok};

#[tokio::test]
async fn install_data_and_provider_ids_come_from_the_allocated_profiles() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/esim/order",
        ok(EsimAccess::fixture("order.json")),
    )
    .await;
    mount(&server, "/esim/query", ok(profiles("ours"))).await;
    let request = provision(SPAIN, 2, None);
    let issued = EsimAccess::against(&server)
        .provision(&request)
        .await
        .unwrap();

    assert_eq!(issued.provider_order_ref.as_deref(), Some(ORDER_NO));
    let esim = |iccid: &str, code: &str, tran_no: &str| ProvisionedEsim {
        iccid: iccid.into(),
        smdp_address: "rsp-eu.redteamobile.com".into(),
        activation_code: code.into(),
        provider_ref: Some(tran_no.into()),
    };
    assert_eq!(
        issued.esims,
        [
            esim(
                "89852245280000942210",
                "451F9802E6A4E5F1B0F8A3C2",
                "25041514020101"
            ),
            esim(
                "89852245280000942228",
                "7C3E1A90B2D4F6E8A0C2E4F6",
                "25041514020102"
            ),
        ]
    );
    // No recorded cost: the order states no price and lets the provider charge its own.
    assert_eq!(
        json_body(&EsimAccess::requests_to(&server, "/esim/order").await[0]),
        json!({
            "transactionId": request.order_ref.to_string(),
            "packageInfoList": [{"packageCode": SPAIN, "count": 2}]
        })
    );
}

#[tokio::test]
async fn a_stale_price_and_missing_stock_are_refusals_of_their_own_kind() {
    for (code, reason) in [
        ("200005", Refusal::InvalidPackage),
        ("200011", Refusal::OutOfStock),
        ("200008", Refusal::Other),
    ] {
        let server = MockServer::start().await;
        mount(&server, "/esim/order", refusal(code, "refused")).await;
        let refused = EsimAccess::against(&server)
            .provision(&provision(SPAIN, 1, Some(15_000)))
            .await;
        match refused {
            Err(ProviderError::Rejected { reason: got, .. }) => assert_eq!(got, reason, "{code}"),
            other => panic!("{code}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn rate_limits_are_reported_with_the_retry_after() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/esim/order",
        ResponseTemplate::new(429).insert_header("Retry-After", "7"),
    )
    .await;
    mount(&server, "/balance/query", refusal("900001", "system busy")).await;
    let esimaccess = EsimAccess::against(&server);
    let limited = esimaccess
        .provision(&provision(SPAIN, 1, Some(15_000)))
        .await;
    assert_eq!(
        limited.unwrap_err(),
        ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
    assert!(matches!(
        esimaccess.balance().await,
        Err(ProviderError::RateLimited { .. })
    ));
}

#[tokio::test]
async fn a_server_error_is_unknown_for_an_order_and_unavailable_for_a_read() {
    let server = MockServer::start().await;
    mount(&server, "/esim/order", ResponseTemplate::new(500)).await;
    mount(&server, "/balance/query", ResponseTemplate::new(503)).await;
    let esimaccess = EsimAccess::against(&server);
    let order = esimaccess
        .provision(&provision(SPAIN, 1, Some(15_000)))
        .await;
    assert!(matches!(order, Err(ProviderError::Unknown(_))), "{order:?}");
    assert!(matches!(
        esimaccess.balance().await,
        Err(ProviderError::Unavailable(_))
    ));

    let server = MockServer::start().await;
    mount(&server, "/esim/order", refusal("000001", "server error")).await;
    let order = EsimAccess::against(&server)
        .provision(&provision(SPAIN, 1, Some(15_000)))
        .await;
    assert!(matches!(order, Err(ProviderError::Unknown(_))), "{order:?}");
}

#[tokio::test]
async fn a_time_out_is_unknown_for_an_order_and_unavailable_for_a_read() {
    let server = MockServer::start().await;
    let late = |file| ok(EsimAccess::fixture(file)).set_delay(TIMEOUT + Duration::from_millis(500));
    mount(&server, "/esim/order", late("order.json")).await;
    mount(&server, "/balance/query", late("balance.json")).await;
    let esimaccess = EsimAccess::against(&server);
    let request = provision(SPAIN, 1, Some(15_000));
    let (order, balance) = futures::join!(esimaccess.provision(&request), esimaccess.balance());
    assert!(matches!(order, Err(ProviderError::Unknown(_))), "{order:?}");
    assert!(
        matches!(balance, Err(ProviderError::Unavailable(_))),
        "{balance:?}"
    );
}

#[tokio::test]
async fn a_malformed_body_is_unknown_for_an_order_and_unavailable_for_a_read() {
    let server = MockServer::start().await;
    let garbage = ResponseTemplate::new(200).set_body_string("<html>gateway</html>");
    mount(&server, "/esim/order", garbage.clone()).await;
    mount(&server, "/balance/query", garbage).await;
    mount(
        &server,
        "/package/list",
        ok(json!({"success": "true", "obj": {"packageList": "none"}})),
    )
    .await;
    let esimaccess = EsimAccess::against(&server);
    let order = esimaccess
        .provision(&provision(SPAIN, 1, Some(15_000)))
        .await;
    assert!(matches!(order, Err(ProviderError::Unknown(_))), "{order:?}");
    assert!(matches!(
        esimaccess.balance().await,
        Err(ProviderError::Unavailable(_))
    ));
    assert!(matches!(
        esimaccess.packages().await,
        Err(ProviderError::Unavailable(_))
    ));
}

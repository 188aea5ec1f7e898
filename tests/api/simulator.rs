//! The built-in simulator as an upstream: issues of concurrent orders are written together,
//! and each order still gets its own eSIMs, once.

use std::collections::HashSet;
use std::sync::Arc;

use sqlx::PgPool;
use tavaro::ids::OrderId;
use tavaro::provider::simulator::Simulator;
use tavaro::provider::{Provider, ProvisionRequest};

use crate::helpers::test_config;

fn request(order_ref: OrderId, quantity: u32) -> ProvisionRequest {
    ProvisionRequest {
        order_ref,
        plan_id: "fr-1gb-3d".into(),
        sku: "fr-1gb-3d".into(),
        unit_cost_e4: None,
        quantity,
        days: 3,
        data_mb: Some(1024),
    }
}

#[sqlx::test]
async fn concurrent_orders_each_get_their_own_esims_and_a_repeated_reference_the_same_ones(
    db: PgPool,
) {
    let simulator = Arc::new(Simulator::new(db.clone(), test_config().simulator));
    let repeated = OrderId::new();
    // 40 orders at once (quantities 1 to 4), and the same reference asked 5 times among them.
    let mut calls = Vec::new();
    let mut distinct = Vec::new();
    for i in 0..40u32 {
        let order = OrderId::new();
        distinct.push((order, i % 4 + 1));
        calls.push((order, i % 4 + 1));
    }
    for _ in 0..5 {
        calls.push((repeated, 2));
    }
    let tasks: Vec<_> = calls
        .into_iter()
        .map(|(order, quantity)| {
            let simulator = Arc::clone(&simulator);
            tokio::spawn(async move {
                let issued = simulator.provision(&request(order, quantity)).await;
                (order, quantity, issued.expect("the simulator issues"))
            })
        })
        .collect();
    let mut iccids = HashSet::new();
    let mut repeated_answers = HashSet::new();
    for task in tasks {
        let (order, quantity, issued) = task.await.unwrap();
        assert_eq!(issued.esims.len(), quantity as usize, "order {order}");
        assert_eq!(
            issued.provider_order_ref.as_deref(),
            Some(format!("SIM-{order}").as_str())
        );
        let mut these: Vec<_> = issued.esims.iter().map(|e| e.iccid.clone()).collect();
        these.sort();
        if order == repeated {
            repeated_answers.insert(these);
        } else {
            for iccid in these {
                assert!(iccids.insert(iccid), "an ICCID was given to two orders");
            }
        }
    }
    assert_eq!(
        repeated_answers.len(),
        1,
        "a repeated reference got other eSIMs"
    );
    let expected: u32 = distinct.iter().map(|(_, q)| q).sum::<u32>() + 2;
    let stored: i64 = sqlx::query_scalar("select count(*) from sim_esims")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(stored, i64::from(expected));
    let orders: i64 = sqlx::query_scalar("select count(*) from sim_orders")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(orders, 41);
    // Asked again later, an order gets what it was issued.
    let (first, quantity) = distinct[7];
    let again = simulator
        .provision(&request(first, quantity))
        .await
        .unwrap();
    let again: Vec<_> = again.esims.iter().map(|e| e.iccid.clone()).collect();
    let stored: Vec<String> =
        sqlx::query_scalar("select iccid from sim_esims where order_ref = $1 order by iccid")
            .bind(first.to_string())
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(again, stored);
}

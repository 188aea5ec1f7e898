//! Completions from the request path, coalesced: the orders completed at the same time are
//! settled by one statement.
//!
//! Completing an order is a statement of its own (the order moved, its eSIMs, the answer
//! kept for its Idempotency-Key), with a transaction, a round trip and a Postgres backend
//! woken for each. Here each completion is handed to one of a few writers; a writer takes
//! every completion waiting and writes them in one statement, then answers each.
//!
//! Same outcome as one statement each: every part selects from the orders it moved (an
//! order someone else settled gets nothing written), nothing is answered before it is
//! committed, and when the statement fails (say, an upstream named an ICCID that a live
//! eSIM of another order holds, which `esims_live_iccid_key` refuses) every completion of
//! it is written again on its own, so only the one at fault fails.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::OrderError;
use super::settlement::{self as settle, Completion, Settled};
use crate::coalesce::{Coalescer, Job};
use crate::db::Lane;

/// Writers at once: while one writes, the other gathers the next completions. Two, as
/// for the debits: statements of about twice the orders, so half the statements, round
/// trips and commits (bench/changes.md #37).
const WRITERS: usize = 2;
/// Most orders one statement completes.
const BATCH: usize = 128;

/// What a completion comes to: whether it moved the order, and when it was stored.
type Outcome = Result<(Settled, DateTime<Utc>), OrderError>;

/// Hands completions to the writers. The writers stop when it is dropped.
pub(super) struct Completions {
    writers: Coalescer<Completion, Outcome>,
}

impl Completions {
    /// Starts the writers on the current runtime.
    pub(super) fn start(db: PgPool) -> Self {
        // An order twice in one statement would be moved once and given both sets of
        // eSIMs: the second waits for the next statement, which finds it settled.
        let order = |c: &Completion| c.order;
        let lane = Lane::planned(db, WRITERS);
        let write = move |batch| write(lane.clone(), batch);
        Self {
            writers: Coalescer::start_distinct(WRITERS, BATCH, order, write),
        }
    }

    /// Writes `completion` (with others waiting): whether it moved the order, and when.
    pub(super) async fn complete(&self, completion: Completion) -> Outcome {
        self.writers.call(completion).await.unwrap_or_else(|| {
            Err(OrderError::Internal(anyhow::anyhow!(
                "the writers of order completions stopped"
            )))
        })
    }
}

/// Writes one statement's completions and answers them.
async fn write(lane: Lane, batch: Vec<Job<Completion, Outcome>>) {
    let db = lane.pool();
    let completions: Vec<&Completion> = batch.iter().map(|(c, _)| c).collect();
    let written = lane
        .run(async |conn| settle::store(conn, &completions, false).await)
        .await;
    match written {
        Ok((moved, stored_at)) => {
            for (c, reply) in batch {
                let outcome = settle::outcome(db, c.order, &moved, stored_at).await;
                // A caller that went away has dropped its receiver: nothing to do.
                let _ = reply.send(outcome);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, orders = batch.len(), "completing orders together failed; completing each alone");
            for (c, reply) in batch {
                let _ = reply.send(settle::complete_with(db, &c, false).await);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;
    use tokio::sync::oneshot;

    use super::*;
    use crate::esims::NewEsims;
    use crate::ids::OrderId;
    use crate::provider::ProvisionedEsim;

    /// A partner with a plan on the simulator, and `pending` orders of it.
    async fn pending_orders(db: &PgPool, count: usize) -> (uuid::Uuid, Vec<OrderId>) {
        let partner = uuid::Uuid::new_v4();
        sqlx::query("insert into partners (id, name) values ($1, 'acme')")
            .bind(partner)
            .execute(db)
            .await
            .unwrap();
        sqlx::query("insert into areas (code, name, geography) values ('AE', 'UAE', 'local')")
            .execute(db)
            .await
            .unwrap();
        sqlx::query(
            "insert into plans (id, name, area_code, days, net_price_cents, hotspot,
                                data_roaming, top_up)
             values ('ae-1gb-7d', 'UAE 1GB', 'AE', 7, 450, true, true, false)",
        )
        .execute(db)
        .await
        .unwrap();
        let mut orders = Vec::new();
        for _ in 0..count {
            let id = OrderId::new();
            sqlx::query(
                "insert into orders (id, partner_id, plan_id, quantity, unit_cost_cents,
                                     total_cost_cents, status, provider)
                 values ($1, $2, 'ae-1gb-7d', 1, 450, 450, 'pending', 'simulator')",
            )
            .bind(id.0)
            .bind(partner)
            .execute(db)
            .await
            .unwrap();
            orders.push(id);
        }
        (partner, orders)
    }

    fn completion(order: OrderId, iccid: &str) -> Completion {
        Completion {
            order,
            provider_order_ref: None,
            data_total_mb: Some(1024),
            esims: NewEsims::of(&[ProvisionedEsim {
                iccid: iccid.to_owned(),
                smdp_address: "smdp.sim.tavaro.io".to_owned(),
                activation_code: format!("CODE-{iccid}"),
                provider_ref: None,
            }]),
            answer: None,
        }
    }

    #[sqlx::test]
    async fn a_completion_the_database_refuses_fails_alone_and_the_rest_of_its_batch_completes(
        db: PgPool,
    ) {
        let (_, orders) = pending_orders(&db, 4).await;
        // The first order holds ICCID ...001, live.
        let (moved, _) = settle::store(&db, &[&completion(orders[0], "8900000000000000001")], true)
            .await
            .unwrap();
        assert!(moved.contains(&orders[0]));

        // One statement for three orders, the middle one naming that ICCID again.
        let mut answers = Vec::new();
        let mut batch = Vec::new();
        for (order, iccid) in [
            (orders[1], "8900000000000000002"),
            (orders[2], "8900000000000000001"),
            (orders[3], "8900000000000000003"),
        ] {
            let (reply, answer) = oneshot::channel();
            batch.push((completion(order, iccid), reply));
            answers.push(answer);
        }
        write(Lane::new(db.clone(), 1), batch).await;

        let mut outcomes = Vec::new();
        for answer in answers {
            outcomes.push(answer.await.unwrap());
        }
        assert!(
            matches!(outcomes[0], Ok((Settled::Moved, _))),
            "{:?}",
            outcomes[0]
        );
        assert!(
            matches!(outcomes[2], Ok((Settled::Moved, _))),
            "{:?}",
            outcomes[2]
        );
        match &outcomes[1] {
            Err(OrderError::Database(sqlx::Error::Database(e))) => {
                assert_eq!(e.constraint(), Some(settle::LIVE_ICCID_INDEX));
            }
            other => panic!("the duplicate was not refused: {other:?}"),
        }
        let statuses: Vec<String> =
            sqlx::query_scalar("select status from orders where id = any($1) order by id = $2")
                .bind(vec![orders[1].0, orders[2].0, orders[3].0])
                .bind(orders[2].0)
                .fetch_all(&db)
                .await
                .unwrap();
        assert_eq!(statuses, ["completed", "completed", "pending"]);
        let live: i64 = sqlx::query_scalar(
            "select count(*) from esims where iccid = '8900000000000000001' and status <> 'EXPIRED'",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        assert_eq!(live, 1);
    }

    /// The partner's events: (type, mode, subject).
    async fn told(db: &PgPool, partner: uuid::Uuid) -> Vec<(String, String, Option<String>)> {
        sqlx::query_as(
            "select type, mode, subject_id from events where partner_id = $1 order by created_at",
        )
        .bind(partner)
        .fetch_all(db)
        .await
        .unwrap()
    }

    #[sqlx::test]
    async fn a_batch_tells_each_order_it_moved_and_a_late_settlement_tells_nothing(db: PgPool) {
        let (partner, orders) = pending_orders(&db, 2).await;
        let batch = [
            completion(orders[0], "8900000000000000011"),
            completion(orders[1], "8900000000000000012"),
        ];
        let (moved, _) = settle::store(&db, &[&batch[0], &batch[1]], false)
            .await
            .unwrap();
        assert_eq!(moved.len(), 2);
        let mut told_now = told(&db, partner).await;
        told_now.sort();
        let mut expected: Vec<_> = orders
            .iter()
            .map(|o| {
                (
                    "order.completed".to_owned(),
                    "live".to_owned(),
                    Some(o.to_string()),
                )
            })
            .collect();
        expected.sort();
        assert_eq!(told_now, expected);

        // Settled already: a second completion and a failure move nothing and tell nothing.
        let late = completion(orders[0], "8900000000000000013");
        let (moved, _) = settle::store(&db, &[&late], true).await.unwrap();
        assert!(moved.is_empty());
        let record = crate::orders::OrderRecord {
            id: orders[1],
            partner_id: crate::ids::PartnerId(partner),
            mode: crate::mode::Mode::Live,
            kind: crate::orders::OrderKind::Esim,
            esim_id: None,
            plan_id: "ae-1gb-7d".to_owned(),
            quantity: 1,
            unit_cost: crate::money::Cents::new(450),
            total_cost: crate::money::Cents::new(450),
            status: crate::orders::OrderStatus::Pending,
            reference: None,
            customer_email: None,
            created_at: Utc::now(),
        };
        let failed = settle::fail_and_refund(&db, &record, "late").await.unwrap();
        assert_eq!(failed, Settled::AlreadySettled);
        assert_eq!(told(&db, partner).await.len(), 2);
    }
}

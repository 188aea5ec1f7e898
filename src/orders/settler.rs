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
//! committed, and when the statement fails (say, an ICCID an upstream issued twice) every
//! completion of it is written again on its own, so only the one at fault fails.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::settle::{self, Completion, Settled};
use crate::coalesce::{Coalescer, Job};
use crate::error::{ApiError, ApiResult};

/// Writers at once: while some write, the others gather the next completions.
const WRITERS: usize = 4;
/// Most orders one statement completes.
const BATCH: usize = 128;

/// What a completion comes to: whether it moved the order, and when it was stored.
type Outcome = ApiResult<(Settled, DateTime<Utc>)>;

/// Hands completions to the writers. The writers stop when it is dropped.
pub struct Settler {
    writers: Coalescer<Completion, Outcome>,
}

impl Settler {
    /// Starts the writers on the current runtime.
    pub fn start(db: PgPool) -> Self {
        // An order twice in one statement would be moved once and given both sets of
        // eSIMs: the second waits for the next statement, which finds it settled.
        let order = |c: &Completion| c.order;
        let write = move |batch| write(db.clone(), batch);
        Self {
            writers: Coalescer::start_distinct(WRITERS, BATCH, order, write),
        }
    }

    /// Writes `completion` (with others waiting): whether it moved the order, and when.
    pub(super) async fn complete(&self, completion: Completion) -> Outcome {
        self.writers.call(completion).await.unwrap_or_else(|| {
            Err(ApiError::Internal(anyhow::anyhow!(
                "the order settlers stopped"
            )))
        })
    }
}

/// Writes one statement's completions and answers them.
async fn write(db: PgPool, batch: Vec<Job<Completion, Outcome>>) {
    let orders = batch.len();
    let esims: usize = batch.iter().map(|(c, _)| c.esims.ids.len()).sum();
    let mut ids = Vec::with_capacity(orders);
    let mut provider_refs = Vec::with_capacity(orders);
    let mut data_mb = Vec::with_capacity(orders);
    let mut keys = Vec::with_capacity(orders);
    let mut statuses = Vec::with_capacity(orders);
    let mut bodies = Vec::with_capacity(orders);
    let mut esim_orders = Vec::with_capacity(esims);
    let mut esim_ids = Vec::with_capacity(esims);
    let mut iccids = Vec::with_capacity(esims);
    let mut smdps = Vec::with_capacity(esims);
    let mut codes = Vec::with_capacity(esims);
    let mut refs = Vec::with_capacity(esims);
    let mut tokens = Vec::with_capacity(esims);
    for (c, _) in &batch {
        ids.push(c.order.0);
        provider_refs.push(c.provider_order_ref.as_deref());
        data_mb.push(c.data_total_mb);
        keys.push(c.answer.as_ref().map(|a| a.0.as_str()));
        statuses.push(c.answer.as_ref().map(|a| a.1 as i16));
        bodies.push(c.answer.as_ref().map(|a| a.2.as_str()));
        let e = &c.esims;
        for i in 0..e.ids.len() {
            esim_orders.push(c.order.0);
            esim_ids.push(e.ids[i]);
            iccids.push(e.iccids[i].as_str());
            smdps.push(e.smdp_addresses[i].as_str());
            codes.push(e.activation_codes[i].as_str());
            refs.push(e.provider_refs[i].as_deref());
            tokens.push(e.qr_tokens[i].as_str());
        }
    }
    // `o.id = any($1)` makes the orders an index probe each: joined to `asked` alone, the
    // planner may scan every order.
    let written = sqlx::query!(
        r#"with asked as (
               select * from unnest($1::uuid[], $2::text[], $3::int[], $4::text[],
                                    $5::int2[], $6::text[])
                 as a(order_id, provider_ref, data_mb, key, status, body)
           ), moved as (
               update orders o
                  set status = 'completed', updated_at = now(),
                      provider_order_ref = coalesce(a.provider_ref, o.provider_order_ref)
                 from asked a
                where o.id = any($1) and o.id = a.order_id
                  and o.status in ('pending', 'processing')
            returning o.id, o.partner_id
           ), issued as (
               insert into esims (id, partner_id, order_id, iccid, smdp_address,
                                  activation_code, provider_ref, data_total_mb, qr_token)
               select e.id, m.partner_id, m.id, e.iccid, e.smdp, e.code, e.ref, a.data_mb, e.token
                 from unnest($7::uuid[], $8::uuid[], $9::text[], $10::text[], $11::text[],
                             $12::text[], $13::text[])
                        as e(order_id, id, iccid, smdp, code, ref, token)
                 join moved m on m.id = e.order_id
                 join asked a on a.order_id = e.order_id
           ), answered as (
               update idempotency_keys k
                  set response_status = a.status, response_body = a.body, locked_at = null
                 from asked a join moved m on m.id = a.order_id
                where a.key is not null and k.partner_id = m.partner_id and k.key = a.key
           )
           select array(select id from moved) as "moved!", now() as "stored_at!""#,
        &ids[..],
        &provider_refs as &[Option<&str>],
        &data_mb as &[Option<i32>],
        &keys as &[Option<&str>],
        &statuses as &[Option<i16>],
        &bodies as &[Option<&str>],
        &esim_orders[..],
        &esim_ids[..],
        &iccids as &[&str],
        &smdps as &[&str],
        &codes as &[&str],
        &refs as &[Option<&str>],
        &tokens as &[&str],
    )
    .fetch_one(&db)
    .await;
    match written {
        Ok(written) => {
            let moved: HashSet<uuid::Uuid> = written.moved.into_iter().collect();
            for (c, reply) in batch {
                let outcome = if moved.contains(&c.order.0) {
                    tracing::info!(order_id = %c.order, "order completed");
                    Ok((Settled::Moved, written.stored_at))
                } else {
                    settle::not_moved(&db, c.order)
                        .await
                        .map(|()| (Settled::AlreadySettled, written.stored_at))
                        .map_err(ApiError::from)
                };
                // A caller that went away has dropped its receiver: nothing to do.
                let _ = reply.send(outcome);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, orders, "completing orders together failed; completing each alone");
            for (c, reply) in batch {
                let _ = reply.send(settle::complete_with(&db, &c, false).await);
            }
        }
    }
}

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

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::OrderError;
use super::settlement::{self as settle, Completion, Settled};
use crate::coalesce::{Coalescer, Job};

/// Writers at once: while some write, the others gather the next completions.
const WRITERS: usize = 4;
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
        let write = move |batch| write(db.clone(), batch);
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
async fn write(db: PgPool, batch: Vec<Job<Completion, Outcome>>) {
    let completions: Vec<&Completion> = batch.iter().map(|(c, _)| c).collect();
    let written = settle::store(&db, &completions, false).await;
    match written {
        Ok((moved, stored_at)) => {
            for (c, reply) in batch {
                let outcome = settle::outcome(&db, c.order, &moved, stored_at).await;
                // A caller that went away has dropped its receiver: nothing to do.
                let _ = reply.send(outcome);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, orders = batch.len(), "completing orders together failed; completing each alone");
            for (c, reply) in batch {
                let _ = reply.send(settle::complete_with(&db, &c, false).await);
            }
        }
    }
}

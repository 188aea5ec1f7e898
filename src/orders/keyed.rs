//! Placing an order under an `Idempotency-Key`: the state machine that makes a retried
//! order request answer what the first one did, and never debit twice.
//!
//! - a key the partner has not used (nearly every order) is claimed by the debit
//!   statement itself, and the answer is kept by the statement that settles the order;
//! - otherwise the key is claimed first ([`idempotency::claim`]): a stored answer is
//!   replayed (a 202 once the order has settled is replaced by its outcome), a key linked
//!   to a debited order is answered from that order, a running request gets
//!   [`OrderError::KeyInProgress`], another request [`OrderError::KeyReused`];
//! - outcomes that are the order's (placed, short of credits, no such plan, refused) are
//!   kept for replays; anything else releases the key so a retry runs afresh.
//!
//! What is kept is the caller's answer, status and exact bytes: the caller says how an
//! answer looks through [`Answers`], so the statements that place the order can store it
//! without a statement of their own.

use std::sync::Arc;
use std::time::Duration;

use super::idempotency::{self, Claim, IdempotencyKey};
use super::place::{Placed, detached};
use super::{NewOrder, OrderError, OrderReceipt, OrderStatus, Orders};
use crate::ids::{OrderId, PartnerId};

/// An answer as the caller sent it and will send it again: HTTP status and exact body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAnswer {
    /// HTTP status.
    pub status: u16,
    /// Exact body.
    pub body: String,
}

/// What [`Orders::place_keyed`] answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyedAnswer {
    /// The answer.
    pub answer: StoredAnswer,
    /// Whether it is the stored answer to an earlier request with the same key.
    pub replayed: bool,
}

/// How the caller answers an order, rendered in advance so it can be kept for replays.
pub trait Answers: Send + Sync + 'static {
    /// The answer to an order placed (completed or processing).
    fn placed(&self, receipt: &OrderReceipt) -> StoredAnswer;
    /// The answer to an order refused for good (no such plan, short of credits, refused
    /// by the provider and refunded).
    fn refused(&self, error: &OrderError) -> StoredAnswer;
}

/// The Idempotency-Key an order is placed under, so that the statements that debit and
/// settle the order also claim the key and keep the answer.
pub(super) struct Keyed<'a> {
    /// The key.
    pub(super) key: &'a IdempotencyKey,
    /// `Some` when the key is not claimed yet: the debit claims it, for the request with
    /// this fingerprint, for this long. The debit then happens only if the key is new to
    /// the partner; otherwise the order answers [`Placed::NotClaimed`] having written
    /// nothing, and the key goes through [`idempotency::claim`].
    pub(super) claim: Option<(&'a [u8], Duration)>,
    /// How answers look.
    pub(super) answers: &'a dyn Answers,
}

impl Orders {
    /// Places an order under `key` (see the module documentation). Errors are what is
    /// not kept under the key: the key's conflicts, and failures after which a retry
    /// runs afresh.
    pub async fn place_keyed(
        &self,
        partner: PartnerId,
        new: NewOrder,
        key: IdempotencyKey,
        answers: Arc<dyn Answers>,
    ) -> Result<KeyedAnswer, OrderError> {
        let orders = self.clone();
        detached(async move { orders.keyed(partner, &new, &key, &*answers).await }).await
    }

    async fn keyed(
        &self,
        partner: PartnerId,
        new: &NewOrder,
        key: &IdempotencyKey,
        answers: &dyn Answers,
    ) -> Result<KeyedAnswer, OrderError> {
        let db = &self.0.db;
        let hash = idempotency::fingerprint("/v1/order", new);
        let first = Keyed {
            key,
            claim: Some((&hash, self.0.config.idempotency_ttl)),
            answers,
        };
        let outcome = match self.place_with(partner, new, Some(&first)).await {
            Ok(Placed::NotClaimed) => {
                if let Some(answer) = self.claimed_elsewhere(partner, key, &hash, answers).await? {
                    return Ok(answer);
                }
                let claimed = Keyed {
                    claim: None,
                    ..first
                };
                self.place_with(partner, new, Some(&claimed)).await
            }
            outcome => outcome,
        };

        let answer = match outcome {
            Ok(Placed::Order {
                stored: Some((status, body)),
                ..
            }) => return Ok(fresh(StoredAnswer { status, body })),
            Ok(Placed::Order { receipt, .. }) => answers.placed(&receipt),
            Ok(Placed::NotClaimed) => {
                return Err(anyhow::anyhow!("an order under a claimed key was not placed").into());
            }
            // Answers that are the order's outcome are kept for retries.
            Err(
                e @ (OrderError::InsufficientCredits { .. }
                | OrderError::PlanNotFound
                | OrderError::Refused { .. }),
            ) => {
                tracing::debug!(error = %e, "order refused");
                answers.refused(&e)
            }
            // Anything else: a retry runs afresh or, if an order was debited, is answered
            // from that order once it settles.
            Err(e) => {
                idempotency::release(db, partner, key).await?;
                return Err(e);
            }
        };
        idempotency::store_response(db, partner, key, answer.status, &answer.body).await?;
        Ok(fresh(answer))
    }

    /// Claims `key` for this request; `None` when it is now ours to run, else the answer
    /// the key already has (a replay), or its conflict.
    async fn claimed_elsewhere(
        &self,
        partner: PartnerId,
        key: &IdempotencyKey,
        hash: &[u8],
        answers: &dyn Answers,
    ) -> Result<Option<KeyedAnswer>, OrderError> {
        let ttl = self.0.config.idempotency_ttl;
        let claim = idempotency::claim(&self.0.db, partner, key, hash, ttl).await?;
        match claim {
            Claim::New => Ok(None),
            Claim::Mismatch => Err(OrderError::KeyReused),
            Claim::InProgress => Err(OrderError::KeyInProgress),
            Claim::Replay {
                status,
                body,
                order,
            } => {
                // A 202 is only as good as what we knew then: once settled, answer the
                // outcome.
                if let (202, Some(order)) = (status, order) {
                    if let Some(fresh) = self.settled_answer(partner, key, order, answers).await? {
                        return Ok(Some(replayed(fresh)));
                    }
                }
                Ok(Some(replayed(StoredAnswer { status, body })))
            }
            Claim::Linked(order) => {
                match self.settled_answer(partner, key, order, answers).await? {
                    Some(answer) => Ok(Some(replayed(answer))),
                    None => Err(OrderError::KeyInProgress),
                }
            }
        }
    }

    /// The answer for an order that has left `pending` (stored for later replays once
    /// final); `None` while it is still pending.
    async fn settled_answer(
        &self,
        partner: PartnerId,
        key: &IdempotencyKey,
        order: OrderId,
        answers: &dyn Answers,
    ) -> Result<Option<StoredAnswer>, OrderError> {
        let Some(receipt) = self.receipt(partner, order).await? else {
            return Ok(None);
        };
        let answer = match receipt.order.status {
            OrderStatus::Pending => return Ok(None),
            OrderStatus::Processing | OrderStatus::Completed => answers.placed(&receipt),
            OrderStatus::Failed => answers.refused(&OrderError::Refused { refunded: true }),
        };
        if receipt.order.status != OrderStatus::Processing {
            idempotency::store_response(&self.0.db, partner, key, answer.status, &answer.body)
                .await?;
        }
        Ok(Some(answer))
    }
}

fn fresh(answer: StoredAnswer) -> KeyedAnswer {
    KeyedAnswer {
        answer,
        replayed: false,
    }
}

fn replayed(answer: StoredAnswer) -> KeyedAnswer {
    KeyedAnswer {
        answer,
        replayed: true,
    }
}

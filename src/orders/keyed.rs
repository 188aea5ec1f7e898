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
//! Each claim has its identity ([`ClaimId`]): the debit, the stored answer and the release
//! all act only under the claim of the request that runs, so a request whose claim was
//! taken over (it was slow past the stale window) changes nothing and answers
//! [`OrderError::KeyInProgress`].
//!
//! What is kept is the caller's answer, status and exact bytes: the caller says how an
//! answer looks through [`Answers`], so the statements that place the order can store it
//! without a statement of their own.

use std::sync::Arc;
use std::time::Duration;

use super::idempotency::{self, Claim, ClaimId, IdempotencyKey};
use super::place::{Placed, detached};
use super::{NewOrder, OrderError, OrderReceipt, OrderStatus, Orders};
use crate::ids::OrderId;
use crate::mode::Account;

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

/// How the caller answers an order, rendered in advance so it can be kept for replays,
/// and how it hears that the order was debited.
pub trait Answers: Send + Sync + 'static {
    /// The answer to an order placed (completed or processing).
    fn placed(&self, receipt: &OrderReceipt) -> StoredAnswer;
    /// The answer to an order refused for good (no such plan, short of credits, refused
    /// by the provider or not issued, and refunded).
    fn refused(&self, error: &OrderError) -> StoredAnswer;
    /// The order's debit has committed; `receipt` is the order as the partner may be told
    /// of it until the provider answers (`processing`, no eSIMs). Returns whether the
    /// caller still waits: `false` when it has already told its partner that nothing was
    /// deducted (its time limit ran out before the debit), and the workflow then refunds
    /// the order at once and calls no provider.
    fn debited(&self, receipt: &OrderReceipt) -> bool;
}

/// The Idempotency-Key an order is placed under, so that the statements that debit and
/// settle the order also claim the key and keep the answer.
pub(super) struct Keyed<'a> {
    /// The key.
    pub(super) key: &'a IdempotencyKey,
    /// The claim this request holds the key under (or will, once the debit claims it).
    pub(super) claim_id: ClaimId,
    /// `Some` when the key is not claimed yet: the debit claims it, for the request with
    /// this fingerprint, for this long. The debit then happens only if the key is new to
    /// the partner; otherwise the order answers [`Placed::NotClaimed`] having written
    /// nothing, and the key goes through [`idempotency::claim`].
    pub(super) claim: Option<(&'a [u8], Duration)>,
}

/// Whose turn it is after [`idempotency::claim`].
enum Turn {
    /// The key is this request's, under this claim: run the order.
    Ours(ClaimId),
    /// The key already has an answer (a replay).
    Answered(KeyedAnswer),
}

impl Orders {
    /// Places an order under `key` (see the module documentation). Errors are what is
    /// not kept under the key: the key's conflicts, and failures before any debit after
    /// which a retry runs afresh.
    pub async fn place_keyed(
        &self,
        account: Account,
        new: NewOrder,
        key: IdempotencyKey,
        answers: Arc<dyn Answers>,
    ) -> Result<KeyedAnswer, OrderError> {
        let orders = self.clone();
        detached(async move { orders.keyed(account, &new, &key, &*answers).await }).await
    }

    async fn keyed(
        &self,
        account: Account,
        new: &NewOrder,
        key: &IdempotencyKey,
        answers: &dyn Answers,
    ) -> Result<KeyedAnswer, OrderError> {
        let db = &self.0.db;
        let hash = idempotency::fingerprint("/v1/order", new);
        let first = Keyed {
            key,
            claim_id: ClaimId::new(),
            claim: Some((&hash, self.0.config.idempotency_ttl)),
        };
        let (claim_id, outcome) = match self.place_with(account, new, Some(&first), answers).await {
            Ok(Placed::NotClaimed) => {
                let claim_id = match self.claimed_elsewhere(account, key, &hash, answers).await? {
                    Turn::Ours(claim_id) => claim_id,
                    Turn::Answered(answer) => return Ok(answer),
                };
                let claimed = Keyed {
                    key,
                    claim_id,
                    claim: None,
                };
                let outcome = self.place_with(account, new, Some(&claimed), answers).await;
                (claim_id, outcome)
            }
            outcome => (first.claim_id, outcome),
        };

        // `debited`: the answer tells of money that moved, and is sent even if it cannot
        // be stored (a retry is then answered from the order the key is linked to).
        let (answer, debited) = match outcome {
            Ok(Placed::Order {
                stored: Some((status, body)),
                ..
            }) => return Ok(fresh(StoredAnswer { status, body })),
            Ok(Placed::Order { receipt, .. }) => (answers.placed(&receipt), true),
            Ok(Placed::NotClaimed) => {
                return Err(anyhow::anyhow!("an order under a claimed key was not placed").into());
            }
            // Another request took the claim over while this one was slow: it runs the order.
            Ok(Placed::ClaimLost) => return Err(OrderError::KeyInProgress),
            // Answers that are the order's outcome are kept for retries.
            Err(e @ OrderError::Refused { .. }) => {
                tracing::debug!(error = %e, "order refused and refunded");
                (answers.refused(&e), true)
            }
            Err(
                e @ (OrderError::InsufficientCredits { .. }
                | OrderError::PlanNotFound
                | OrderError::EsimNotFound
                | OrderError::TopupNotAllowed { .. }
                | OrderError::PlanNotCompatible),
            ) => {
                tracing::debug!(error = %e, "order refused");
                (answers.refused(&e), false)
            }
            // Anything else: a retry runs afresh or, if an order was debited, is answered
            // from that order once it settles.
            Err(e) => {
                idempotency::release(db, account, key, claim_id).await?;
                return Err(e);
            }
        };
        let stored =
            idempotency::store_response(db, account, key, claim_id, answer.status, &answer.body)
                .await;
        match stored {
            Ok(()) => {}
            Err(e) if debited => {
                tracing::warn!(error = %e, "the answer to a debited order was not stored under its Idempotency-Key; a retry is answered from the order");
            }
            Err(e) => return Err(e.into()),
        }
        Ok(fresh(answer))
    }

    /// Claims `key` for this request: its turn (and claim) when it is now ours to run,
    /// else the answer the key already has (a replay), or its conflict.
    async fn claimed_elsewhere(
        &self,
        account: Account,
        key: &IdempotencyKey,
        hash: &[u8],
        answers: &dyn Answers,
    ) -> Result<Turn, OrderError> {
        let config = &self.0.config;
        let claim = idempotency::claim(
            &self.0.db,
            account,
            key,
            hash,
            config.idempotency_ttl,
            config.stale_claim,
        )
        .await?;
        match claim {
            Claim::New(claim_id) => Ok(Turn::Ours(claim_id)),
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
                    if let Some(fresh) = self.settled_answer(account, key, order, answers).await {
                        return Ok(Turn::Answered(replayed(fresh)));
                    }
                }
                Ok(Turn::Answered(replayed(StoredAnswer { status, body })))
            }
            Claim::Linked(order) => match self.settled_answer(account, key, order, answers).await {
                Some(answer) => Ok(Turn::Answered(replayed(answer))),
                None => Err(OrderError::KeyInProgress),
            },
        }
    }

    /// The answer for a debited order that has left `pending` (stored for later replays
    /// once final); `None` while it is still pending, or when it cannot be read now: the
    /// money has moved, so the caller answers what it already has or "in progress",
    /// never "nothing was deducted".
    async fn settled_answer(
        &self,
        account: Account,
        key: &IdempotencyKey,
        order: OrderId,
        answers: &dyn Answers,
    ) -> Option<StoredAnswer> {
        let receipt = match self.receipt(account, order).await {
            Ok(receipt) => receipt?,
            Err(e) => {
                tracing::warn!(error = %e, order_id = %order, "the order behind an Idempotency-Key could not be read");
                return None;
            }
        };
        let answer = match receipt.order.status {
            OrderStatus::Pending => return None,
            OrderStatus::Processing | OrderStatus::Completed => answers.placed(&receipt),
            OrderStatus::Failed => answers.refused(&OrderError::Refused { refunded: true }),
        };
        if receipt.order.status != OrderStatus::Processing {
            let stored = idempotency::store_settled(
                &self.0.db,
                account,
                key,
                order,
                answer.status,
                &answer.body,
            )
            .await;
            if let Err(e) = stored {
                tracing::warn!(error = %e, order_id = %order, "a settled order's answer was not stored under its Idempotency-Key");
            }
        }
        Some(answer)
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

//! What the order workflow answers when an order is not placed as asked: each variant
//! tells the partner something true about its money.

use crate::ledger;
use crate::money::Cents;

/// Why an order (or a quote) was not placed as asked. Each variant tells the partner
/// something true about its money.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// No plan with this id is on sale. Nothing was written.
    #[error("no such plan on sale")]
    PlanNotFound,
    /// The total exceeds the balance. Nothing was written.
    #[error("insufficient credits: balance {balance}, required {required}")]
    InsufficientCredits {
        /// What the order would cost.
        required: Cents,
        /// What the partner holds.
        balance: Cents,
    },
    /// The provider refused the order, or did not issue it (an outage of ours or of the
    /// upstream after the debit). `refunded`: the refund entry is committed.
    #[error("the provider did not issue the order")]
    Refused {
        /// Whether the debit has been given back.
        refunded: bool,
    },
    /// Our side cannot serve the order now (a plan routed to an unconfigured provider),
    /// found before any debit. Nothing was debited. (Once debited, an order that cannot
    /// be provisioned is refunded, [`OrderError::Refused`], or left `processing`.)
    #[error("the service is unavailable")]
    Unavailable,
    /// No eSIM with this id in the account (a top-up's or a cancellation's target).
    #[error("no such eSIM")]
    EsimNotFound,
    /// The eSIM cannot be topped up (expired, cancelled, or its plan forbids top-ups).
    /// Nothing was written.
    #[error("the eSIM cannot be topped up: {reason}")]
    TopupNotAllowed {
        /// Why, for the partner.
        reason: String,
    },
    /// The plan is on sale but not among the eSIM's top-ups. Nothing was written.
    #[error("the plan cannot top up this eSIM")]
    PlanNotCompatible,
    /// The eSIM cannot be cancelled (used, topped up, refunded or refused by its
    /// provider). Nothing was refunded.
    #[error("the eSIM cannot be cancelled: {reason}")]
    NotCancellable {
        /// Why, for the partner.
        reason: String,
    },
    /// The Idempotency-Key was used with a different request.
    #[error("the Idempotency-Key was used with a different request")]
    KeyReused,
    /// A request with the same Idempotency-Key is still being processed.
    #[error("a request with this Idempotency-Key is still in progress")]
    KeyInProgress,
    /// The database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Anything else unexpected: a bug.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<ledger::LedgerError> for OrderError {
    fn from(e: ledger::LedgerError) -> Self {
        match e {
            ledger::LedgerError::Database(e) => Self::Database(e),
            other => Self::Internal(other.into()),
        }
    }
}

//! The lifecycle of an eSIM, shared by every layer: providers report it, `esims` stores
//! it, the API shows it. Stored as its upper-case name (`READY`, ...).

use serde::Serialize;

/// Lifecycle of an eSIM as partners see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EsimStatus {
    /// Issued (installed or not), no data used yet.
    Ready,
    /// In use.
    Active,
    /// Validity over.
    Expired,
    /// Data used up before expiry.
    Depleted,
    /// Cancellation asked for; the provider is reviewing the refund.
    CancelPending,
    /// Cancelled before any use, and refunded.
    Cancelled,
}

impl EsimStatus {
    /// `READY`, `ACTIVE`, `EXPIRED`, `DEPLETED`, `CANCEL_PENDING` or `CANCELLED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "READY",
            Self::Active => "ACTIVE",
            Self::Expired => "EXPIRED",
            Self::Depleted => "DEPLETED",
            Self::CancelPending => "CANCEL_PENDING",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// Whether a provider's usage report may still move it: a cancellation (pending or
    /// done) is ours to settle, not a usage read's.
    pub fn follows_usage(self) -> bool {
        !matches!(self, Self::CancelPending | Self::Cancelled)
    }
}

//! The lifecycle of an eSIM, shared by every layer: providers report it, `esims` stores
//! it, the API shows it. Stored as its upper-case name (`READY`, ...).

use serde::Serialize;

/// Lifecycle of an eSIM as partners see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
#[sqlx(type_name = "text", rename_all = "UPPERCASE")]
pub enum EsimStatus {
    /// Issued (installed or not), no data used yet.
    Ready,
    /// In use.
    Active,
    /// Validity over.
    Expired,
    /// Data used up before expiry.
    Depleted,
}

impl EsimStatus {
    /// `READY`, `ACTIVE`, `EXPIRED` or `DEPLETED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "READY",
            Self::Active => "ACTIVE",
            Self::Expired => "EXPIRED",
            Self::Depleted => "DEPLETED",
        }
    }
}

//! Live and sandbox (test mode): every key, balance, ledger entry, order, eSIM and
//! Idempotency-Key belongs to one mode, and the two never meet. A sandbox key sees the live
//! catalog at live prices, spends the partner's sandbox balance, and its orders are always
//! fulfilled by the built-in simulator.

use std::fmt;

use serde::Serialize;

use crate::ids::PartnerId;

// Stored as its lower-case name (`live`, `sandbox`).
/// Whether a key, and everything done with it, is real or a test.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Mode {
    /// Real money, real upstreams.
    #[default]
    Live,
    /// Test mode: the sandbox balance, the simulator, nothing real.
    Sandbox,
}

impl Mode {
    /// `live` or `sandbox`: the name stored, shown in `Tavaro-Mode` and in key objects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Sandbox => "sandbox",
        }
    }

    /// Whether this is test mode.
    pub fn is_sandbox(self) -> bool {
        self == Self::Sandbox
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One partner's money in one mode: whose balance moves, whose orders are read. Every
/// partner has a live account; its sandbox account opens with its first sandbox key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Account {
    /// The partner.
    pub partner: PartnerId,
    /// The mode.
    pub mode: Mode,
}

impl Account {
    /// The partner's live account.
    pub fn live(partner: PartnerId) -> Self {
        Self {
            partner,
            mode: Mode::Live,
        }
    }

    /// The partner's sandbox account.
    pub fn sandbox(partner: PartnerId) -> Self {
        Self {
            partner,
            mode: Mode::Sandbox,
        }
    }
}

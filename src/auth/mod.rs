//! Who is calling: `tvr_` keys, their format, storage and verification. The middleware
//! that guards the `/v1` routes lives in `http::auth`; this module knows partners and
//! keys, nothing of orders, money or HTTP.

mod key;
mod store;
mod verifier;

use std::time::Duration;

pub use key::{
    GeneratedKey, KEY_LEN, PREFIX, SANDBOX_KEY_LEN, SANDBOX_PREFIX, assemble as assemble_key,
    assemble_in as assemble_key_in, generate as generate_key, generate_in as generate_key_in,
    parse as parse_key,
};
pub use store::{CreatedKey, KeyInfo, create_key, create_key_in, list_keys, revoke_key};
pub use verifier::{
    CHANGE_POLL_INTERVAL, FAILURE_BUDGET, FAILURE_WINDOW, KeyVerifier, VerifyError,
};

use crate::ids::{ApiKeyId, PartnerId};
use crate::mode::{Account, Mode};

/// How keys are verified (`TAVARO_KEY_CACHE_*`, `TAVARO_ARGON2_CONCURRENCY`).
#[derive(Clone, Debug)]
pub struct VerifierConfig {
    /// How long a verified key stays cached.
    pub cache_ttl: Duration,
    /// How many verified keys are cached at most.
    pub cache_capacity: u64,
    /// How many argon2 verifications may run at once.
    pub argon2_concurrency: usize,
}

/// The authenticated caller of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The partner the key belongs to.
    pub partner_id: PartnerId,
    /// The key used.
    pub key_id: ApiKeyId,
    /// The key's mode: which balance, orders and eSIMs the request sees.
    pub mode: Mode,
    /// The partner's markup in basis points, for catalog prices.
    pub markup_bps: i32,
    /// A suspended partner's keys authenticate but every call answers 403.
    pub suspended: bool,
}

impl Principal {
    /// The account the request acts on: the partner's, in the key's mode.
    pub fn account(&self) -> Account {
        Account {
            partner: self.partner_id,
            mode: self.mode,
        }
    }
}

//! `Idempotency-Key` on `POST /v1/order`: a retried order request never debits twice.
//!
//! Keys are scoped per partner and mode (the same string sent with a live and with a
//! sandbox key is two keys, for two orders) and remembered for `TAVARO_IDEMPOTENCY_TTL_HOURS` (24 h).
//! A request first *claims* its key, after authentication and validation (so 401 and 400
//! answers are never stored). Then:
//!
//! - new key → the request runs; the key is linked to the order in the debit transaction
//!   and the response is stored once known;
//! - same key, same request, response stored → the stored response, byte for byte;
//! - same key, same request, still running → 409 `idempotency_in_progress`, `Retry-After`;
//! - same key, different request → 422 `idempotency_key_reused`.
//!
//! A claim whose holder died before debiting anything can be taken over once it is
//! older than `OrdersConfig::stale_claim` (longer than any request may take). A claim
//! linked to an order is answered from that order once the order has left `pending`,
//! whoever settled it.
//!
//! Every claim has an identity ([`ClaimId`]): the debit after a claim debits only while
//! that claim holds the key unlinked, locking the key until it commits, and answers are
//! stored and keys released only under the claim that ran the request. A takeover
//! therefore never debits twice under one key, even when the first holder was merely slow
//! (see `super::debit`).

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::NewOrder;
use crate::ids::{OrderId, PartnerId};
use crate::mode::{Account, Mode};

/// How much longer than the request time limit a claim must stay unlinked before it counts
/// as abandoned.
pub const STALE_CLAIM_MARGIN: Duration = Duration::from_secs(10);

/// The identity of one claim on a key: which request holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimId(pub uuid::Uuid);

impl ClaimId {
    /// A fresh claim.
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4())
    }
}

impl Default for ClaimId {
    fn default() -> Self {
        Self::new()
    }
}

/// A validated Idempotency-Key header value: 1–255 printable ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

/// A header value that is not an Idempotency-Key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("an Idempotency-Key must be 1 to 255 printable ASCII characters")]
pub struct InvalidIdempotencyKey;

impl IdempotencyKey {
    /// Validates a header value.
    pub fn parse(raw: &[u8]) -> Result<Self, InvalidIdempotencyKey> {
        let valid = (1..=255).contains(&raw.len()) && raw.iter().all(|b| (0x20..0x7f).contains(b));
        let text = std::str::from_utf8(raw)
            .ok()
            .filter(|_| valid)
            .map(str::trim);
        match text {
            Some(key) if !key.is_empty() => Ok(Self(key.to_owned())),
            _ => Err(InvalidIdempotencyKey),
        }
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// SHA-256 of the method, path and normalised request: two bodies that mean the same
/// order (say, with and without the default `"quantity": 1`) are the same request.
pub fn fingerprint(path: &str, new: &NewOrder) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(b"POST ");
    hash.update(path.as_bytes());
    hash.update(b"\n");
    hash.update(serde_json::to_vec(new).expect("a NewOrder serializes"));
    hash.finalize().to_vec()
}

/// What claiming a key found.
#[derive(Debug)]
pub enum Claim {
    /// The key is ours, under this claim: run the request.
    New(ClaimId),
    /// A response is stored: send it again.
    Replay {
        /// HTTP status.
        status: u16,
        /// Exact body.
        body: String,
        /// The order, if the request got that far.
        order: Option<OrderId>,
    },
    /// The original request has debited an order that has no stored response yet.
    Linked(OrderId),
    /// The original request is still running.
    InProgress,
    /// The key was used with a different request.
    Mismatch,
}

/// Claims `key` for a request with fingerprint `hash`, for `ttl`; a claim older than
/// `stale` that never debited is taken over.
pub async fn claim(
    db: &PgPool,
    account: Account,
    key: &IdempotencyKey,
    hash: &[u8],
    ttl: Duration,
    stale: Duration,
) -> Result<Claim, sqlx::Error> {
    let id = ClaimId::new();
    // Insert, or take over a key that expired or whose holder died before any debit. A
    // debit in flight under the old claim holds the row locked: the takeover waits for it,
    // then finds the key linked and takes nothing.
    let claimed = sqlx::query_scalar!(
        r#"insert into idempotency_keys
                  (partner_id, key, request_hash, locked_at, expires_at, claim_id, mode)
           values ($1, $2, $3, now(), now() + make_interval(secs => $4), $6, $7)
           on conflict (partner_id, mode, key) do update
              set request_hash = excluded.request_hash, locked_at = now(), order_id = null,
                  response_status = null, response_body = null, created_at = now(),
                  expires_at = excluded.expires_at, claim_id = excluded.claim_id
            where idempotency_keys.expires_at <= now()
               or (idempotency_keys.order_id is null
                   and idempotency_keys.response_status is null
                   and idempotency_keys.request_hash = excluded.request_hash
                   and idempotency_keys.locked_at < now() - make_interval(secs => $5))
           returning true as "claimed!""#,
        account.partner as PartnerId,
        key.as_str(),
        hash,
        ttl.as_secs_f64(),
        stale.as_secs_f64(),
        id.0,
        account.mode as Mode,
    )
    .fetch_optional(db)
    .await?;
    if claimed.is_some() {
        return Ok(Claim::New(id));
    }
    let row = sqlx::query!(
        r#"select request_hash, order_id as "order_id: OrderId", response_status, response_body
           from idempotency_keys where partner_id = $1 and mode = $3 and key = $2"#,
        account.partner as PartnerId,
        key.as_str(),
        account.mode as Mode,
    )
    .fetch_optional(db)
    .await?;
    // Deleted between the two statements (purged, or released): nothing to replay.
    let Some(row) = row else {
        return Ok(Claim::InProgress);
    };
    if row.request_hash != hash {
        return Ok(Claim::Mismatch);
    }
    Ok(
        match (row.response_status, row.response_body, row.order_id) {
            (Some(status), Some(body), order) => Claim::Replay {
                status: status as u16,
                body,
                order,
            },
            (_, _, Some(order)) => Claim::Linked(order),
            _ => Claim::InProgress,
        },
    )
}

/// Stores the response to replay, while `claim` still holds the key: a request whose
/// claim was taken over never overwrites the answer of the one that took it.
pub async fn store_response(
    db: &PgPool,
    account: Account,
    key: &IdempotencyKey,
    claim: ClaimId,
    status: u16,
    body: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update idempotency_keys set response_status = $3, response_body = $4, locked_at = null
         where partner_id = $1 and mode = $6 and key = $2 and claim_id = $5",
        account.partner as PartnerId,
        key.as_str(),
        status as i16,
        body,
        claim.0,
        account.mode as Mode,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Stores the final answer of `order` under the key linked to it (a replay answered from
/// the order once it settled).
pub async fn store_settled(
    db: &PgPool,
    account: Account,
    key: &IdempotencyKey,
    order: OrderId,
    status: u16,
    body: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update idempotency_keys set response_status = $3, response_body = $4, locked_at = null
         where partner_id = $1 and mode = $6 and key = $2 and order_id = $5",
        account.partner as PartnerId,
        key.as_str(),
        status as i16,
        body,
        order as OrderId,
        account.mode as Mode,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Gives a key back when the request under `claim` failed before doing anything (no order
/// linked), so a retry runs afresh.
pub async fn release(
    db: &PgPool,
    account: Account,
    key: &IdempotencyKey,
    claim: ClaimId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "delete from idempotency_keys
         where partner_id = $1 and mode = $4 and key = $2 and claim_id = $3
           and order_id is null and response_status is null",
        account.partner as PartnerId,
        key.as_str(),
        claim.0,
        account.mode as Mode,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Forgets a key whose order under `claim` was given back at once (its request had been
/// answered "nothing was deducted" before the debit committed): a retry runs afresh.
pub async fn forget(
    db: &PgPool,
    account: Account,
    key: &IdempotencyKey,
    claim: ClaimId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "delete from idempotency_keys
         where partner_id = $1 and mode = $4 and key = $2 and claim_id = $3",
        account.partner as PartnerId,
        key.as_str(),
        claim.0,
        account.mode as Mode,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes expired keys; run periodically by every server.
pub async fn purge_expired(db: &PgPool) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query!("delete from idempotency_keys where expires_at <= now()")
            .execute(db)
            .await?
            .rows_affected(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_ascii_up_to_255() {
        assert!(IdempotencyKey::parse(b"8e03978e-40d5-43e8-bc93-6894a57f9324").is_ok());
        assert!(IdempotencyKey::parse("a".repeat(255).as_bytes()).is_ok());
        for bad in [
            &b""[..],
            b"   ",
            b"tab\there",
            b"new\nline",
            "é".as_bytes(),
            &[b'a'; 256],
        ] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_fingerprint_ignores_spelling_but_not_meaning() {
        let order = |quantity| NewOrder {
            plan_id: "ae-5gb-7d".into(),
            quantity,
            customer_email: None,
            reference: None,
            sandbox_outcome: None,
            topup_of: None,
        };
        assert_eq!(
            fingerprint("/v1/order", &order(1)),
            fingerprint("/v1/order", &order(1))
        );
        assert_ne!(
            fingerprint("/v1/order", &order(1)),
            fingerprint("/v1/order", &order(2))
        );
    }
}

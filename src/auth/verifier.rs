//! Verifying API keys without paying argon2 on every request.
//!
//! 1. [`key::parse`] refuses malformed keys and bad checksums: no database, no argon2.
//! 2. A cache maps SHA-256(key) to the verified principal (or to "refused"), bounded in
//!    size and TTL. Concurrent requests with the same uncached key share one verification.
//! 3. On a miss, the key's row is read by its lookup id; unknown or revoked keys are
//!    refused without argon2.
//! 4. A key this server has already verified against the same stored hash is not hashed
//!    again: when its cache entry expires (or a revocation elsewhere clears the cache),
//!    re-reading the row is enough. Without this, every key's first request after each
//!    TTL paid argon2 (~20 ms of CPU, queued behind the others), a stampede every TTL.
//! 5. Otherwise argon2 runs on the blocking pool, at most `argon2_concurrency` at a time,
//!    each in one of as many reused working memories (19 MiB each).
//!
//! Revocation: the CLI notifies [`KEYS_CHANNEL`](crate::partners::KEYS_CHANNEL); every
//! server then bumps its cache generation, which is part of the cache key, so no entry
//! read before the revocation can answer again. Should notifications be missed (the
//! listener's connection dropped), the generation is bumped on reconnect, and the TTL
//! bounds staleness in any case.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moka::future::Cache;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::Semaphore;

use super::Principal;
use super::key::{self, ParsedKey};
use crate::error::ApiError;
use crate::ids::{ApiKeyId, PartnerId};

type CacheKey = (u64, [u8; 32]);

/// How long an unknown key is refused without asking the database again.
const UNKNOWN_TTL: Duration = Duration::from_secs(30);
/// How many unknown keys are remembered at most.
const UNKNOWN_CAPACITY: u64 = 100_000;

/// Checks bearer keys; shared by all requests of one server.
pub struct KeyVerifier {
    cache: Cache<CacheKey, Option<Principal>>,
    /// Well-formed keys whose lookup id matched nothing, remembered briefly so a flood of
    /// made-up keys costs one query each per [`UNKNOWN_TTL`], not one per request. Small
    /// entries in a bounded cache: filling it evicts old ones, never valid keys.
    unknown: Cache<[u8; 32], ()>,
    /// SHA-256(key) → the stored hash argon2 matched it against. Not generation-scoped:
    /// a revocation is seen in the row, which is read again on every main-cache miss.
    verified: Cache<[u8; 32], Arc<str>>,
    generation: AtomicU64,
    argon2_slots: Arc<Semaphore>,
    /// argon2 working memories, one per slot at most, reused.
    argon2_memory: Arc<Mutex<Vec<Vec<argon2::Block>>>>,
    argon2_runs: AtomicU64,
    lookup_queries: AtomicU64,
    rejected_early: AtomicU64,
}

/// Why a lookup produced no cacheable answer.
#[derive(Debug, thiserror::Error)]
enum LookupError {
    /// No key with this lookup id: refused, and remembered in the bounded negative cache
    /// (not in the main cache, which valid keys live in).
    #[error("unknown key")]
    Unknown,
    /// The database failed; the caller answers 503.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The argon2 task panicked or was cancelled.
    #[error("argon2 task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl KeyVerifier {
    /// A verifier with a cache of `capacity` keys living `ttl`, running at most
    /// `argon2_concurrency` argon2 verifications at once.
    pub fn new(capacity: u64, ttl: Duration, argon2_concurrency: usize) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
            unknown: Cache::builder()
                .max_capacity(UNKNOWN_CAPACITY)
                .time_to_live(UNKNOWN_TTL)
                .build(),
            verified: Cache::builder().max_capacity(capacity).build(),
            generation: AtomicU64::new(0),
            argon2_slots: Arc::new(Semaphore::new(argon2_concurrency.max(1))),
            argon2_memory: Arc::default(),
            argon2_runs: AtomicU64::new(0),
            lookup_queries: AtomicU64::new(0),
            rejected_early: AtomicU64::new(0),
        }
    }

    /// The principal behind `token`, `Ok(None)` when the key is malformed, unknown,
    /// revoked or wrong, and 503 when the database could not be asked.
    pub async fn verify(&self, db: &PgPool, token: &str) -> Result<Option<Principal>, ApiError> {
        let Some(parsed) = key::parse(token) else {
            self.rejected_early.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        };
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cache_key = (self.generation.load(Ordering::Acquire), digest);
        if let Some(principal) = self.cache.get(&cache_key).await {
            crate::metrics::key_cache(true);
            return Ok(principal);
        }
        if self.unknown.contains_key(&digest) {
            crate::metrics::key_cache(true);
            return Ok(None);
        }
        crate::metrics::key_cache(false);
        match self
            .cache
            .try_get_with(cache_key, self.lookup(db, parsed, digest))
            .await
        {
            Ok(principal) => Ok(principal),
            Err(e) => match &*e {
                LookupError::Unknown => {
                    self.unknown.insert(digest, ()).await;
                    Ok(None)
                }
                LookupError::Database(_) | LookupError::Task(_) => {
                    tracing::warn!(error = %e, "API key verification failed");
                    Err(ApiError::ServiceUnavailable)
                }
            },
        }
    }

    /// Forgets every cached verification (a key was revoked or a partner changed).
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate_all();
        self.unknown.invalidate_all();
    }

    /// How many argon2 verifications this verifier has run (for tests and metrics).
    pub fn argon2_runs(&self) -> u64 {
        self.argon2_runs.load(Ordering::Relaxed)
    }

    /// How many database lookups of a key id this verifier has made.
    pub fn lookup_queries(&self) -> u64 {
        self.lookup_queries.load(Ordering::Relaxed)
    }

    /// How many keys it refused on their format or checksum alone (no hashing, no query).
    pub fn rejected_early(&self) -> u64 {
        self.rejected_early.load(Ordering::Relaxed)
    }

    async fn lookup(
        &self,
        db: &PgPool,
        key: ParsedKey<'_>,
        digest: [u8; 32],
    ) -> Result<Option<Principal>, LookupError> {
        self.lookup_queries.fetch_add(1, Ordering::Relaxed);
        let row = sqlx::query!(
            r#"select k.id as "id: ApiKeyId", k.partner_id as "partner_id: PartnerId",
                      k.secret_hash, k.revoked_at, p.markup_bps, p.status
               from api_keys k join partners p on p.id = k.partner_id
               where k.lookup_id = $1"#,
            key.lookup_id
        )
        .fetch_optional(db)
        .await?;
        let Some(row) = row else {
            tracing::debug!(key.lookup_id = key.lookup_id, "unknown API key");
            return Err(LookupError::Unknown);
        };
        if row.revoked_at.is_some() {
            tracing::debug!(key.id = %row.id, "revoked API key");
            return Ok(None);
        }

        let known = self
            .verified
            .get(&digest)
            .await
            .is_some_and(|hash| *hash == *row.secret_hash);
        if !known {
            if !self.argon2(key.secret, &row.secret_hash).await? {
                tracing::debug!(key.id = %row.id, "API key secret does not match");
                return Ok(None);
            }
            self.verified.insert(digest, row.secret_hash.into()).await;
        }

        // Coarse by design: updated once per cache miss, not on every request.
        sqlx::query!(
            "update api_keys set last_used_at = now() where id = $1",
            row.id as ApiKeyId
        )
        .execute(db)
        .await?;

        Ok(Some(Principal {
            partner_id: row.partner_id,
            key_id: row.id,
            markup_bps: row.markup_bps,
            suspended: row.status != "active",
        }))
    }

    /// Whether `secret` matches `hash`: argon2 on the blocking pool, in a reused working
    /// memory, at most `argon2_concurrency` at a time.
    async fn argon2(&self, secret: &str, hash: &str) -> Result<bool, LookupError> {
        let permit = self
            .argon2_slots
            .clone()
            .acquire_owned()
            .await
            .expect("the argon2 semaphore is never closed");
        self.argon2_runs.fetch_add(1, Ordering::Relaxed);
        let (secret, hash) = (secret.to_owned(), hash.to_owned());
        let memories = Arc::clone(&self.argon2_memory);
        Ok(tokio::task::spawn_blocking(move || {
            let _permit = permit;
            // Holding a permit guarantees a memory is free or may be allocated.
            let mut memory = memories
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop()
                .unwrap_or_default();
            let matches = key::verify_secret_in(&secret, &hash, &mut memory);
            memories
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(memory);
            matches
        })
        .await?)
    }
}

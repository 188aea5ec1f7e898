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
//! 6. A key id that has failed [`FAILURE_BUDGET`] secrets within [`FAILURE_WINDOW`] is
//!    refused without argon2 (429 until the window ends), except for keys this server has
//!    already verified (step 4). A real key id with random secrets is the one flood that
//!    neither the checksum nor the negative cache stops, and argon2 is ~20 ms of CPU each:
//!    without the budget it would take every argon2 slot from valid partners' first
//!    requests and the CPU from everyone else.
//!
//! Revocation: the CLI notifies `partners::KEYS_CHANNEL`; every
//! server then bumps its cache generation, which is part of the cache key, so no entry
//! read before the revocation can answer again. Should notifications be missed (the
//! listener's connection dropped), the generation is bumped on reconnect, and the TTL
//! bounds staleness in any case.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::future::Cache;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::Semaphore;

use super::key::{self, ParsedKey};
use super::{Principal, VerifierConfig};
use crate::ids::{ApiKeyId, PartnerId};
use crate::partners::PartnerStatus;

type CacheKey = (u64, [u8; 32]);

/// How long an unknown key is refused without asking the database again.
const UNKNOWN_TTL: Duration = Duration::from_secs(30);
/// How many unknown keys are remembered at most.
const UNKNOWN_CAPACITY: u64 = 100_000;
/// Wrong secrets a key id may be tried with per [`FAILURE_WINDOW`] before it is refused
/// without argon2. A partner's integration never sends wrong secrets at volume: a typo
/// fails its checksum before counting here.
pub const FAILURE_BUDGET: u32 = 10;
/// How long a key id's failures count, from its first failure.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// Failed secrets of one key id since `started`.
struct Failures {
    started: Instant,
    count: std::sync::atomic::AtomicU32,
}

impl Failures {
    /// When the budget is spent: the seconds until the window ends.
    fn exhausted(&self) -> Option<u64> {
        if self.count.load(Ordering::Relaxed) < FAILURE_BUDGET {
            return None;
        }
        let left = FAILURE_WINDOW.saturating_sub(self.started.elapsed());
        Some(left.as_secs_f64().ceil().max(1.0) as u64)
    }
}

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
    /// Key id → its failed secrets in the current window (entries live one window).
    failures: Cache<ApiKeyId, Arc<Failures>>,
    generation: AtomicU64,
    argon2_slots: Arc<Semaphore>,
    /// argon2 working memories, one per slot at most, reused.
    argon2_memory: Arc<Mutex<Vec<Vec<argon2::Block>>>>,
    argon2_runs: AtomicU64,
    lookup_queries: AtomicU64,
    rejected_early: AtomicU64,
    refused_after_failures: AtomicU64,
}

/// Why a key could not be checked (a key that is checked and wrong is `Ok(None)`).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The key id has spent its budget of wrong secrets: retry after this many seconds.
    #[error("too many failed secrets for this key id")]
    TooManyFailures {
        /// Seconds until the window ends.
        retry_after_secs: u64,
    },
    /// The database could not be asked.
    #[error("API key verification is unavailable")]
    Unavailable,
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
    /// The key id spent its failure budget; the caller answers 429.
    #[error("too many failed secrets for this key id")]
    TooManyFailures { retry_after_secs: u64 },
    /// The argon2 task panicked or was cancelled.
    #[error("argon2 task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl KeyVerifier {
    /// A verifier with a cache of `cache_capacity` keys living `cache_ttl`, running at
    /// most `argon2_concurrency` argon2 verifications at once.
    pub fn new(config: &VerifierConfig) -> Self {
        let (capacity, ttl) = (config.cache_capacity, config.cache_ttl);
        let argon2_concurrency = config.argon2_concurrency;
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
            failures: Cache::builder()
                .max_capacity(UNKNOWN_CAPACITY)
                .time_to_live(FAILURE_WINDOW)
                .build(),
            generation: AtomicU64::new(0),
            argon2_slots: Arc::new(Semaphore::new(argon2_concurrency.max(1))),
            argon2_memory: Arc::default(),
            argon2_runs: AtomicU64::new(0),
            lookup_queries: AtomicU64::new(0),
            rejected_early: AtomicU64::new(0),
            refused_after_failures: AtomicU64::new(0),
        }
    }

    /// The principal behind `token`; `Ok(None)` when the key is malformed, unknown,
    /// revoked or wrong.
    pub async fn verify(&self, db: &PgPool, token: &str) -> Result<Option<Principal>, VerifyError> {
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
                LookupError::TooManyFailures { retry_after_secs } => {
                    self.refused_after_failures.fetch_add(1, Ordering::Relaxed);
                    Err(VerifyError::TooManyFailures {
                        retry_after_secs: *retry_after_secs,
                    })
                }
                LookupError::Database(_) | LookupError::Task(_) => {
                    tracing::warn!(error = %e, "API key verification failed");
                    Err(VerifyError::Unavailable)
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

    /// How many requests it refused, without argon2, because their key id had spent its
    /// budget of failed secrets.
    pub fn refused_after_failures(&self) -> u64 {
        self.refused_after_failures.load(Ordering::Relaxed)
    }

    /// 429 when the key id has spent its failure budget.
    async fn check_failures(&self, id: ApiKeyId) -> Result<(), LookupError> {
        match self.failures.get(&id).await.and_then(|f| f.exhausted()) {
            Some(retry_after_secs) => {
                tracing::debug!(key.id = %id, "key id refused: too many failed secrets");
                Err(LookupError::TooManyFailures { retry_after_secs })
            }
            None => Ok(()),
        }
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
                      k.secret_hash, k.revoked_at, p.markup_bps,
                      p.status as "status: PartnerStatus"
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
            self.check_failures(row.id).await?;
            if !self.argon2(row.id, key.secret, &row.secret_hash).await? {
                tracing::debug!(key.id = %row.id, "API key secret does not match");
                self.failures
                    .get_with(row.id, async {
                        Arc::new(Failures {
                            started: Instant::now(),
                            count: 0.into(),
                        })
                    })
                    .await
                    .count
                    .fetch_add(1, Ordering::Relaxed);
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
            suspended: row.status != PartnerStatus::Active,
        }))
    }

    /// Whether `secret` matches `hash`: argon2 on the blocking pool, in a reused working
    /// memory, at most `argon2_concurrency` at a time.
    /// Checks the failure budget again once a slot is free: a burst of wrong secrets that
    /// queued for slots together is cut off as soon as the budget is spent.
    async fn argon2(&self, id: ApiKeyId, secret: &str, hash: &str) -> Result<bool, LookupError> {
        let permit = self
            .argon2_slots
            .clone()
            .acquire_owned()
            .await
            .expect("the argon2 semaphore is never closed");
        self.check_failures(id).await?;
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

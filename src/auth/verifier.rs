//! Verifying API keys without paying argon2 on every request, and without letting anyone
//! who does not hold a key cost a database query, an argon2 run, or the real key's access.
//!
//! 1. A cache maps SHA-256(key) to the verified principal (or to "refused"), bounded in
//!    size and TTL: the hot path, one lookup in memory (only a token of a key's length is
//!    hashed). Concurrent requests with the same uncached key share one verification.
//! 2. On a miss, [`key::parse`] refuses malformed keys and bad checksums: no database,
//!    no argon2. Only keys that parse are ever cached.
//! 3. Every server holds the directory of live keys in memory: each lookup id not revoked,
//!    with the key's fast verifier (HMAC-SHA-256 of the key, [`key::fast_verifier`]). A
//!    lookup id it does not hold is refused, and so is a secret the fast verifier refutes:
//!    no query, no argon2, nothing remembered about the attempt. A forged key costs a
//!    hash, and wrong secrets never count against the real key, which the fast verifier
//!    accepts on any server, fresh or not. Every refusal is the same 401, so no answer
//!    tells an existing lookup id from a made-up one.
//! 4. A key that passes has its row read (revoked? partner suspended? markup?), then is
//!    cached: one query per key per cache TTL, no argon2.
//! 5. Keys created before fast verifiers existed have none until argon2 first verifies
//!    them, which stores one: every server learns it within a second (step "Staying
//!    current"), and the key leaves the argon2 path for good. Until then, argon2 runs on
//!    the blocking pool, at most `argon2_concurrency` at a time, each in one of as many
//!    reused working memories (19 MiB each); and a lookup id that has failed
//!    [`FAILURE_BUDGET`] secrets within [`FAILURE_WINDOW`] is refused without a query or
//!    argon2 for the rest of the window (401 like any wrong secret). Only such a key can
//!    still be locked out by someone who knows its lookup id, and only until its first
//!    successful use on any server after the upgrade.
//!
//! Staying current: the directory is loaded before the server serves. `tavaro key create`,
//! `key revoke` and `partner suspend`/`activate` notify `partners::KEYS_CHANNEL` at
//! commit; and every server reads the one-row watermark `api_key_changes` every
//! [`CHANGE_POLL_INTERVAL`] ([`KeyVerifier::refresh_if_changed`]), which triggers move
//! inside the changing transaction, so a lost notification (or a change made in SQL)
//! delays nothing by more than that. A change to what cached verifications depend on (a
//! revocation, a suspension) reloads the directory and bumps the cache generation, which
//! is part of the cache key, so no entry read before the change can answer again; a new
//! key or a stored fast verifier reloads the directory only.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use moka::future::Cache;
use quick_cache::UnitWeighter;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::Semaphore;

use super::key::{self, FastVerifier, ParsedKey};
use super::{Principal, VerifierConfig};
use crate::ids::{ApiKeyId, PartnerId};
use crate::mode::Mode;
use crate::partners::PartnerStatus;

type CacheKey = (u64, [u8; 32]);

/// What a verification found, kept in the cache under its key's digest.
#[derive(Clone, Copy)]
enum Checked {
    /// The answer (`None`: refused) until the cache TTL from the check has passed.
    Answer {
        principal: Option<Principal>,
        until: Instant,
    },
    /// The check failed ([`LookupError`]): the answer of the requests that waited on it,
    /// never of a later one (which checks again).
    Failed(Failure),
}

#[derive(Clone, Copy)]
enum Failure {
    /// The database or the argon2 task failed: 503.
    Unavailable,
    /// The lookup id spent its failure budget: 401.
    OverBudget,
}

impl Checked {
    /// The answer, while it still counts at `now`.
    fn answer(self, now: Instant) -> Option<Option<Principal>> {
        match self {
            Self::Answer { principal, until } if now < until => Some(principal),
            _ => None,
        }
    }
}

/// How often every server checks `api_key_changes` for changes it was not told about: the
/// bound on how long a lost notification can delay a revocation (the contract: 5 s).
pub const CHANGE_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How many lookup ids of keys without a fast verifier are tracked for failures at most.
const FAILURES_CAPACITY: u64 = 100_000;
/// Wrong secrets a lookup id without a fast verifier may be tried with per
/// [`FAILURE_WINDOW`] before its secrets are refused without argon2. A partner's
/// integration never sends wrong secrets at volume: a typo fails its checksum before
/// counting here.
pub const FAILURE_BUDGET: u32 = 10;
/// How long a lookup id's failures count, from its first failure.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// The `api_key_changes` row a directory was loaded at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Watermark {
    revision: i64,
    directory: i64,
}

/// Every key not revoked, by lookup id, with its fast verifier (`None`: the key predates
/// fast verifiers and argon2 has not verified it since). About 100 bytes a key.
struct Directory {
    keys: HashMap<String, Option<FastVerifier>>,
    /// `None` until first loaded: every key is then refused.
    loaded_at: Option<Watermark>,
}

/// What the directory says of a key, before any query.
enum Screening {
    /// Unknown or revoked lookup id, or a secret its fast verifier refutes.
    Refused,
    /// A key without a fast verifier whose lookup id has spent its failure budget.
    OverBudget,
    /// Worth reading the row: the fast verifier matched, or there is none yet.
    Lookup,
}

/// Checks bearer keys; shared by all requests of one server.
pub struct KeyVerifier {
    /// Not moka (the failures below): a hit, every request's path, is a read lock on one
    /// shard; moka's also queues the read for its eviction policy and runs that queue.
    cache: quick_cache::sync::Cache<CacheKey, Checked, UnitWeighter, foldhash::fast::RandomState>,
    cache_ttl: Duration,
    directory: RwLock<Directory>,
    /// One reload at a time (the change listener and the periodic check may both ask).
    refreshing: tokio::sync::Mutex<()>,
    /// Lookup id → its failed secrets in the current window: an entry lives one window
    /// from the first failure. Only keys without a fast verifier fail here.
    failures: Cache<String, Arc<AtomicU32>>,
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
    /// The database could not be asked.
    #[error("API key verification is unavailable")]
    Unavailable,
}

/// Why a lookup produced no cacheable answer.
#[derive(Debug, thiserror::Error)]
enum LookupError {
    /// The database failed; the caller answers 503.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The argon2 task panicked or was cancelled.
    #[error("argon2 task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The lookup id spent its failure budget while this secret waited for an argon2 slot.
    #[error("too many failed secrets for this lookup id")]
    OverBudget,
}

impl KeyVerifier {
    /// A verifier with a cache of `cache_capacity` keys living `cache_ttl`, running at
    /// most `argon2_concurrency` argon2 verifications at once. It refuses every key until
    /// [`Self::refresh_if_changed`] has loaded the key directory.
    pub fn new(config: &VerifierConfig) -> Self {
        let (capacity, ttl) = (config.cache_capacity, config.cache_ttl);
        let argon2_concurrency = config.argon2_concurrency;
        Self {
            cache: quick_cache::sync::Cache::with(
                usize::try_from(capacity).unwrap_or(usize::MAX),
                capacity,
                UnitWeighter,
                foldhash::fast::RandomState::default(),
                Default::default(),
            ),
            cache_ttl: ttl,
            directory: RwLock::new(Directory {
                keys: HashMap::new(),
                loaded_at: None,
            }),
            refreshing: tokio::sync::Mutex::new(()),
            failures: Cache::builder()
                .max_capacity(FAILURES_CAPACITY)
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
        // Only a token of a key's length is hashed; the cache holds only tokens that
        // parsed (below), so a hit needs no parse: its digest is the whole token's.
        if !key::has_key_length(token) {
            self.rejected_early.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cache_key = (self.generation.load(Ordering::Acquire), digest);
        if let Some(checked) = self.cache.get(&cache_key) {
            let now = Instant::now();
            if let Some(principal) = checked.answer(now) {
                crate::metrics::key_cache(true);
                return Ok(principal);
            }
            // Past its TTL, or a failure whose waiters have had it.
            self.cache
                .remove_if(&cache_key, |checked| checked.answer(now).is_none());
        }
        let Some(parsed) = key::parse(token) else {
            self.rejected_early.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        };
        match self.screen(parsed, token).await {
            Screening::Refused => {
                crate::metrics::key_cache(true);
                self.rejected_early.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
            Screening::OverBudget => {
                crate::metrics::key_cache(true);
                self.refused_after_failures.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
            Screening::Lookup => {}
        }
        crate::metrics::key_cache(false);
        // One check per key at a time: concurrent requests with the same key wait on the
        // first one's guard and take its outcome, failures included.
        let checked = match self.cache.get_value_or_guard_async(&cache_key).await {
            Ok(checked) => checked,
            Err(guard) => {
                let checked = match self.lookup(db, parsed, token).await {
                    Ok(principal) => Checked::Answer {
                        principal,
                        until: Instant::now() + self.cache_ttl,
                    },
                    Err(LookupError::OverBudget) => Checked::Failed(Failure::OverBudget),
                    Err(e) => {
                        tracing::warn!(error = %e, "API key verification failed");
                        Checked::Failed(Failure::Unavailable)
                    }
                };
                let _ = guard.insert(checked);
                checked
            }
        };
        match checked {
            // A check that ended just now, here or in the request this one waited on (an
            // answer past its TTL already is still that check's answer).
            Checked::Answer { principal, .. } => Ok(principal),
            Checked::Failed(Failure::OverBudget) => {
                self.refused_after_failures.fetch_add(1, Ordering::Relaxed);
                Ok(None)
            }
            Checked::Failed(Failure::Unavailable) => Err(VerifyError::Unavailable),
        }
    }

    /// Forgets every cached verification (a key was revoked or a partner changed).
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.clear();
    }

    /// Brings the key directory up to date with `api_key_changes`: reloads it when keys
    /// were created, revoked or given a fast verifier since it was loaded, and also drops
    /// every cached verification when a revocation or a partner change is among them.
    /// Costs one single-row query when nothing changed. Run at start, on every
    /// notification of `partners::KEYS_CHANNEL`, and every [`CHANGE_POLL_INTERVAL`].
    pub async fn refresh_if_changed(&self, db: &PgPool) -> Result<(), sqlx::Error> {
        let _one_at_a_time = self.refreshing.lock().await;
        let current = sqlx::query_as!(Watermark, "select revision, directory from api_key_changes")
            .fetch_one(db)
            .await?;
        let loaded_at = self.read_directory().loaded_at;
        if loaded_at == Some(current) {
            return Ok(());
        }

        // The watermark and the keys from one snapshot: the directory is exactly the
        // state that watermark describes.
        let mut tx = db.begin().await?;
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *tx)
            .await?;
        let watermark =
            sqlx::query_as!(Watermark, "select revision, directory from api_key_changes")
                .fetch_one(&mut *tx)
                .await?;
        let rows =
            sqlx::query!("select lookup_id, fast_verifier from api_keys where revoked_at is null")
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        let keys = rows
            .into_iter()
            .map(|row| {
                let verifier = row
                    .fast_verifier
                    .and_then(|v| FastVerifier::try_from(v.as_slice()).ok());
                (row.lookup_id, verifier)
            })
            .collect();
        *self.directory.write().unwrap_or_else(|e| e.into_inner()) = Directory {
            keys,
            loaded_at: Some(watermark),
        };
        if loaded_at.is_none_or(|seen| seen.revision != watermark.revision) {
            self.invalidate_all();
        }
        Ok(())
    }

    /// How many argon2 verifications this verifier has run (for tests and metrics).
    pub fn argon2_runs(&self) -> u64 {
        self.argon2_runs.load(Ordering::Relaxed)
    }

    /// How many database lookups of a key id this verifier has made.
    pub fn lookup_queries(&self) -> u64 {
        self.lookup_queries.load(Ordering::Relaxed)
    }

    /// How many keys it refused without a query or argon2: malformed, a bad checksum, a
    /// lookup id not in the directory (unknown or revoked), or a secret the key's fast
    /// verifier refutes.
    pub fn rejected_early(&self) -> u64 {
        self.rejected_early.load(Ordering::Relaxed)
    }

    /// How many requests it refused, without a query or argon2, because the lookup id of
    /// their key (one without a fast verifier yet) had spent its budget of failed secrets.
    pub fn refused_after_failures(&self) -> u64 {
        self.refused_after_failures.load(Ordering::Relaxed)
    }

    fn read_directory(&self) -> std::sync::RwLockReadGuard<'_, Directory> {
        self.directory.read().unwrap_or_else(|e| e.into_inner())
    }

    /// What the directory alone says of a key.
    async fn screen(&self, key: ParsedKey<'_>, token: &str) -> Screening {
        let entry = self.read_directory().keys.get(key.lookup_id).copied();
        match entry {
            None => Screening::Refused,
            Some(Some(stored)) if key::fast_verifier_matches(token, &stored) => Screening::Lookup,
            Some(Some(_)) => Screening::Refused,
            Some(None) if self.over_budget(key.lookup_id).await => Screening::OverBudget,
            Some(None) => Screening::Lookup,
        }
    }

    /// Records a fast verifier read from a key's row or just stored by this server, so
    /// the next wrong secret for it is refused from memory.
    fn learn(&self, lookup_id: &str, verifier: FastVerifier) {
        let mut directory = self.directory.write().unwrap_or_else(|e| e.into_inner());
        if let Some(slot @ None) = directory.keys.get_mut(lookup_id) {
            *slot = Some(verifier);
        }
    }

    async fn over_budget(&self, lookup_id: &str) -> bool {
        self.failures
            .get(lookup_id)
            .await
            .is_some_and(|failed| failed.load(Ordering::Relaxed) >= FAILURE_BUDGET)
    }

    async fn count_failure(&self, lookup_id: &str) {
        self.failures
            .get_with_by_ref(lookup_id, async { Arc::default() })
            .await
            .fetch_add(1, Ordering::Relaxed);
    }

    async fn lookup(
        &self,
        db: &PgPool,
        key: ParsedKey<'_>,
        token: &str,
    ) -> Result<Option<Principal>, LookupError> {
        self.lookup_queries.fetch_add(1, Ordering::Relaxed);
        let row = sqlx::query!(
            r#"select k.id as "id: ApiKeyId", k.partner_id as "partner_id: PartnerId",
                      k.secret_hash, k.fast_verifier, k.revoked_at, k.mode as "mode: Mode",
                      p.markup_bps,
                      p.status as "status: PartnerStatus"
               from api_keys k join partners p on p.id = k.partner_id
               where k.lookup_id = $1"#,
            key.lookup_id
        )
        .fetch_optional(db)
        .await?;
        let Some(row) = row else {
            // Deleted since the directory was loaded; the next reload drops it.
            tracing::debug!("API key no longer exists");
            return Ok(None);
        };
        if row.revoked_at.is_some() {
            tracing::debug!(key.id = %row.id, "revoked API key");
            return Ok(None);
        }
        // The prefix is the key's word for its mode, the row the truth: a key whose prefix
        // was edited (argon2 checks the secret alone) is refused.
        if row.mode != key.mode {
            tracing::debug!(key.id = %row.id, "API key prefix does not match its mode");
            return Ok(None);
        }

        let stored = row
            .fast_verifier
            .as_deref()
            .and_then(|v| FastVerifier::try_from(v).ok());
        let store = match stored {
            Some(stored) => {
                self.learn(key.lookup_id, stored);
                if !key::fast_verifier_matches(token, &stored) {
                    tracing::debug!(key.id = %row.id, "API key secret does not match");
                    return Ok(None);
                }
                None
            }
            None => {
                if !self
                    .argon2(key.lookup_id, key.secret, &row.secret_hash)
                    .await?
                {
                    tracing::debug!(key.id = %row.id, "API key secret does not match");
                    self.count_failure(key.lookup_id).await;
                    return Ok(None);
                }
                Some(key::fast_verifier(token))
            }
        };

        // Coarse by design: updated once per cache miss, not on every request. A key that
        // argon2 just verified gets its fast verifier here, once.
        sqlx::query!(
            "update api_keys set last_used_at = now(),
                                 fast_verifier = coalesce(fast_verifier, $2)
             where id = $1",
            row.id as ApiKeyId,
            store.as_ref().map(|v| &v[..]),
        )
        .execute(db)
        .await?;
        if let Some(stored) = store {
            self.learn(key.lookup_id, stored);
        }

        Ok(Some(Principal {
            partner_id: row.partner_id,
            key_id: row.id,
            mode: row.mode,
            markup_bps: row.markup_bps,
            suspended: row.status != PartnerStatus::Active,
        }))
    }

    /// Whether `secret` matches `hash`: argon2 on the blocking pool, in a reused working
    /// memory, at most `argon2_concurrency` at a time.
    /// Checks the failure budget again once a slot is free: a burst of wrong secrets that
    /// queued for slots together is cut off as soon as the budget is spent.
    async fn argon2(&self, lookup_id: &str, secret: &str, hash: &str) -> Result<bool, LookupError> {
        let permit = self
            .argon2_slots
            .clone()
            .acquire_owned()
            .await
            .expect("the argon2 semaphore is never closed");
        if self.over_budget(lookup_id).await {
            return Err(LookupError::OverBudget);
        }
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

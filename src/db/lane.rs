//! Connections kept in hand between statements, for the paths that run one statement after
//! another under load: the debit of every order, and the coalesced writers and readers.
//!
//! sqlx tests every connection given back to its pool with a round trip of its own (a
//! `Sync` and the server's `ReadyForQuery`) before another task may take it, so each
//! checkout of a one-statement path cost two round trips: the statement's and the test's.
//! A lane keeps up to `keep` connections out of the pool after a statement that ran to its
//! end, and hands them to the next caller as they are; they go back to the pool (tested
//! there as always) once idle for [`PARK`], so a quiet lane holds nothing another task of
//! the process may need.
//!
//! Only a connection whose work finished is kept: [`Leased::release`] says so. One whose
//! statement failed goes back to the pool ([`Leased::give_back`]: the lane's settings
//! reset first), tested there as sqlx tests any connection given back, and closed if it
//! does not answer. One dropped without either (a cancelled future, a statement cut off
//! mid-answer) goes back the same way, or is closed at once from a lane that changed its
//! settings.
//! Nor is one kept that has been out of the pool for [`MAX_OUT`]: under steady load a kept
//! connection would otherwise never meet the pool's own rules again (its lifetime limit
//! among them).
//!
//! A planned lane's connections ([`Lane::planned`]) plan once, with index access
//! ([`PLANNED`]): the coalesced writers and readers run a few fixed statements batched
//! over arrays (`unnest($1::uuid[], ...)`), which Postgres otherwise planned afresh at
//! many executions (a custom plan knows the arrays' lengths, so it looks cheaper than the
//! generic one), and a plan made while a table was nearly empty (a new database, its
//! first minute) scanned the whole table per order until autovacuum analysed it. Out of
//! the lane, a connection gets its settings back before the pool has it again, so
//! nothing else of the process plans that way. Only for statements whose outcome does
//! not hang on the order the plan takes its row locks in: a generic plan keeps a `CASE`
//! on a parameter that a custom plan folds away, and with it when a sub-select runs. The
//! debits (claims locked before balances) plan as Postgres chooses, with index access
//! only ([`Lane::indexed`], [`INDEXED`]): a debit batch's plan made while
//! `idempotency_keys` was small read the whole table, growing by an order a row, for
//! every batch until the table was analysed again.

use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::Notify;

/// A kept connection unused this long goes back to the pool: well under the pool's own
/// idle check ([`super::IDLE_BEFORE_CHECK`]), so no connection skips that check by waiting
/// here.
const PARK: Duration = Duration::from_millis(100);

/// A connection out of the pool this long goes back to it when next released, instead of
/// being kept.
const MAX_OUT: Duration = Duration::from_secs(300);

/// What a lane sets on a connection it takes from the pool, and what puts it back before
/// the pool has the connection again.
struct Settings {
    set: &'static str,
    reset: &'static str,
}

/// A planned lane's: its statements get a generic plan, made once per connection (and
/// again when a table it reads is analysed), and that plan reaches rows through their
/// indexes even when a table is small enough for a scan to look cheaper. Every lane
/// statement has an index for each table it reads. The reset puts back the session's
/// defaults (the database's or role's, when the operator set any).
const PLANNED: Settings = Settings {
    set: "set plan_cache_mode = force_generic_plan; set enable_seqscan = off",
    reset: "reset plan_cache_mode; reset enable_seqscan",
};

/// An indexed lane's: plans as Postgres chooses them, reaching rows through their indexes
/// only.
const INDEXED: Settings = Settings {
    set: "set enable_seqscan = off",
    reset: "reset enable_seqscan",
};

/// Hands out connections of `pool`, keeping up to `keep` in hand between uses. Cheap to
/// clone (one reference).
#[derive(Clone)]
pub struct Lane(Arc<Inner>);

struct Inner {
    pool: PgPool,
    keep: usize,
    max_out: Duration,
    /// What its connections are set to while out of the pool, if anything.
    settings: Option<&'static Settings>,
    idle: Mutex<Vec<Kept>>,
    /// Told of every connection kept, to wake a caller waiting for one.
    released: Notify,
}

impl Lane {
    /// A lane over `pool` keeping up to `keep` connections in hand, and never more than a
    /// quarter of the pool's (each lane of a process may keep that many at once). Starts,
    /// on the current runtime, the sweeper that gives idle ones back; it stops with the
    /// last clone.
    pub fn new(pool: PgPool, keep: usize) -> Self {
        Self::with_max_out(pool, keep, MAX_OUT, None)
    }

    /// [`Lane::new`], for batched statements: its connections plan once, with index
    /// access ([`PLANNED`]), and get their settings back before the pool has them again.
    pub fn planned(pool: PgPool, keep: usize) -> Self {
        Self::with_max_out(pool, keep, MAX_OUT, Some(&PLANNED))
    }

    /// [`Lane::new`], for statements that must plan as Postgres chooses but never scan a
    /// whole table ([`INDEXED`]); the connections get their settings back as a planned
    /// lane's do.
    pub fn indexed(pool: PgPool, keep: usize) -> Self {
        Self::with_max_out(pool, keep, MAX_OUT, Some(&INDEXED))
    }

    fn with_max_out(
        pool: PgPool,
        keep: usize,
        max_out: Duration,
        settings: Option<&'static Settings>,
    ) -> Self {
        let quarter = (pool.options().get_max_connections() as usize / 4).max(1);
        let keep = keep.min(quarter);
        let inner = Arc::new(Inner {
            pool,
            keep,
            max_out,
            settings,
            idle: Mutex::new(Vec::with_capacity(keep)),
            released: Notify::new(),
        });
        tokio::spawn(sweep(Arc::downgrade(&inner)));
        Self(inner)
    }

    /// A connection: one kept from an earlier use, or else the first of one from the pool
    /// and one another caller of the lane releases meanwhile. Under load every caller
    /// waits, and a released connection goes to one of them, not to the pool's queue.
    pub async fn acquire(&self) -> Result<Leased, sqlx::Error> {
        let from_pool = self.0.pool.acquire();
        tokio::pin!(from_pool);
        let (conn, out_since) = loop {
            // Registered before looking, so a release between the two is not missed.
            let released = self.0.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if let Some(kept) = self.0.idle.lock().expect("lane lock").pop() {
                break (kept.conn, kept.out_since);
            }
            tokio::select! {
                conn = &mut from_pool => {
                    let mut conn = conn?;
                    if let Some(settings) = self.0.settings {
                        // Failed, it set nothing (one implicit transaction): back to the
                        // pool.
                        settle(&mut conn, settings.set).await?;
                    }
                    break (conn, Instant::now());
                }
                () = released => {}
            }
        };
        Ok(Leased {
            conn: Some(conn),
            out_since,
            lane: Arc::clone(&self.0),
        })
    }

    /// Runs `work` on a connection of the lane, and keeps the connection in hand when
    /// `work` succeeds ([`Leased::release`]). On an error it goes back to the pool, tested
    /// there, after its settings are reset ([`Leased::give_back`]); were the future
    /// dropped, it goes back as [`Leased`] says. `work` runs single statements (no
    /// transaction left open behind an error).
    pub async fn run<T, E>(
        &self,
        work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<sqlx::Error>,
    {
        let mut conn = self.acquire().await?;
        match work(&mut conn).await {
            Ok(done) => {
                conn.release();
                Ok(done)
            }
            Err(e) => {
                conn.give_back();
                Err(e)
            }
        }
    }

    /// The pool behind the lane.
    pub fn pool(&self) -> &PgPool {
        &self.0.pool
    }
}

/// A connection in hand: since when it is unused, and since when it is out of the pool.
struct Kept {
    conn: PoolConnection<Postgres>,
    idle_since: Instant,
    out_since: Instant,
}

/// Gives connections idle for [`PARK`] back to the pool, until the lane is dropped.
async fn sweep(lane: Weak<Inner>) {
    let mut tick = tokio::time::interval(PARK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(lane) = lane.upgrade() else { return };
        let stale: Vec<_> = {
            let mut idle = lane.idle.lock().expect("lane lock");
            let cut = idle.partition_point(|kept| kept.idle_since.elapsed() >= PARK);
            idle.drain(..cut).collect()
        };
        // Outside the lock: each goes back to the pool, tested there.
        for kept in stale {
            if let Some(settings) = lane.settings {
                restore(kept.conn, settings).await;
            }
        }
    }
}

/// Runs `settings` (a [`Settings`]' set or reset) on `conn`, in one round trip. Boxed as
/// `Send`: the lanes' callers' futures must be `Send` for every lifetime they hold.
fn settle<'c>(
    conn: &'c mut PgConnection,
    settings: &'static str,
) -> Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'c>> {
    // A query without arguments goes as one simple-protocol message: both statements.
    Box::pin(async move { sqlx::Executor::execute(conn, settings).await.map(drop) })
}

/// A connection of a lane with settings, with them reset, back to the pool (dropped at the
/// end), or closed if they could not be.
async fn restore(mut conn: PoolConnection<Postgres>, settings: &Settings) {
    if let Err(e) = settle(&mut conn, settings.reset).await {
        tracing::debug!(error = %e, "closing a lane connection whose settings could not be restored");
        conn.close_on_drop();
    }
}

/// A connection from a [`Lane`]. Dropped, it goes back to the pool, or from a lane with settings
/// is closed (its work may have stopped anywhere, mid-statement or mid-transaction, with
/// the lane's settings on); [`Leased::release`] keeps it in the lane for the next caller
/// instead.
pub struct Leased {
    conn: Option<PoolConnection<Postgres>>,
    out_since: Instant,
    lane: Arc<Inner>,
}

impl Leased {
    /// The work on this connection finished (every statement answered, any transaction
    /// committed or rolled back): the lane may hand it to the next caller untested.
    pub fn release(mut self) {
        let Some(conn) = self.conn.take() else { return };
        let mut idle = self.lane.idle.lock().expect("lane lock");
        if idle.len() < self.lane.keep && self.out_since.elapsed() < self.lane.max_out {
            // Oldest first: the sweeper cuts from the front.
            idle.push(Kept {
                conn,
                idle_since: Instant::now(),
                out_since: self.out_since,
            });
            drop(idle);
            self.lane.released.notify_one();
        } else {
            drop(idle);
            to_pool(&self.lane, conn);
        }
    }

    /// The work on this connection ended with an error Postgres answered (a refused
    /// statement, say a key taken meanwhile), not cut off: back to the pool, with the
    /// lane's settings reset first (closed if they cannot be, as a broken connection's
    /// are). Were it closed instead, every refused statement would cost a new connection.
    pub fn give_back(mut self) {
        if let Some(conn) = self.conn.take() {
            to_pool(&self.lane, conn);
        }
    }
}

/// `conn` back to the pool (tested there), with `lane`'s settings reset first if it has
/// any.
fn to_pool(lane: &Inner, conn: PoolConnection<Postgres>) {
    if let Some(settings) = lane.settings {
        tokio::spawn(restore(conn, settings));
    }
}

impl Drop for Leased {
    fn drop(&mut self) {
        if let Some(conn) = &mut self.conn
            && self.lane.settings.is_some()
        {
            conn.close_on_drop();
        }
    }
}

impl Deref for Leased {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.conn.as_ref().expect("a leased connection")
    }
}

impl DerefMut for Leased {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn.as_mut().expect("a leased connection")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[sqlx::test(migrations = false)]
    async fn a_released_connection_is_handed_out_again_and_a_dropped_one_is_not(pool: PgPool) {
        let lane = Lane::new(pool, 1);
        let backend = |mut conn: Leased| async move {
            let pid: i32 = sqlx::query_scalar("select pg_backend_pid()")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            (pid, conn)
        };
        let (first, conn) = backend(lane.acquire().await.unwrap()).await;
        conn.release();
        let (again, conn) = backend(lane.acquire().await.unwrap()).await;
        assert_eq!(
            again, first,
            "the kept connection is the one handed out next"
        );

        // Two at once: the lane keeps one, the other goes back to the pool.
        let (other, second) = backend(lane.acquire().await.unwrap()).await;
        assert_ne!(other, first);
        conn.release();
        second.release();
        assert_eq!(lane.0.idle.lock().unwrap().len(), 1);

        // Not released (say, its statement was cut off): back to the pool, not kept.
        let (_, conn) = backend(lane.acquire().await.unwrap()).await;
        drop(conn);
        assert!(lane.0.idle.lock().unwrap().is_empty());
    }

    /// Waits up to 5 s for `done`.
    async fn eventually(what: &str, done: impl Fn() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < Duration::from_secs(5), "{what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn settings(conn: &mut PgConnection) -> (i32, String, String) {
        sqlx::query_as(
            "select pg_backend_pid(), current_setting('plan_cache_mode'), \
                    current_setting('enable_seqscan')",
        )
        .fetch_one(conn)
        .await
        .unwrap()
    }

    /// A connection of `lane` carries its settings (`plan_cache_mode`, `enable_seqscan`)
    /// while out of the pool; kept, then given back once idle, it is the same backend with
    /// the defaults again.
    async fn set_then_given_back_as_it_was(pool: &PgPool, lane: &Lane, set: (&str, &str)) {
        let mut conn = lane.acquire().await.unwrap();
        let (pid, plans, scans) = settings(&mut conn).await;
        assert_eq!((plans.as_str(), scans.as_str()), set);
        conn.release();
        eventually("not given back", || {
            lane.0.idle.lock().unwrap().is_empty() && pool.num_idle() == pool.size() as usize
        })
        .await;
        let mut back = pool.acquire().await.unwrap();
        let (again, plans, scans) = settings(&mut back).await;
        assert_eq!(again, pid, "given back to the pool, not closed");
        assert_eq!((plans.as_str(), scans.as_str()), ("auto", "on"));
    }

    #[sqlx::test(migrations = false)]
    async fn a_lane_plans_once_with_indexes_and_the_pool_gets_its_connections_back_as_they_were(
        pool: PgPool,
    ) {
        let lane = Lane::planned(pool.clone(), 1);
        set_then_given_back_as_it_was(&pool, &lane, ("force_generic_plan", "off")).await;
    }

    #[sqlx::test(migrations = false)]
    async fn an_indexed_lane_only_turns_scans_off_and_the_pool_gets_its_connections_back_as_they_were(
        pool: PgPool,
    ) {
        let lane = Lane::indexed(pool.clone(), 1);
        set_then_given_back_as_it_was(&pool, &lane, ("auto", "off")).await;
    }

    #[sqlx::test(migrations = false)]
    async fn a_lane_connection_dropped_unreleased_never_reaches_the_pool_with_the_lane_settings(
        pool: PgPool,
    ) {
        let lane = Lane::planned(pool.clone(), 1);
        let mut conn = lane.acquire().await.unwrap();
        let (pid, plans, _) = settings(&mut conn).await;
        assert_eq!(plans, "force_generic_plan");
        drop(conn);
        // Given back, it would be idle in the pool once its test there ended.
        eventually("neither closed nor back", || {
            pool.num_idle() == pool.size() as usize
        })
        .await;
        let mut next = pool.acquire().await.unwrap();
        let (other, plans, scans) = settings(&mut next).await;
        assert_ne!(other, pid, "closed, not given back");
        assert_eq!((plans.as_str(), scans.as_str()), ("auto", "on"));
    }

    #[sqlx::test(migrations = false)]
    async fn a_connection_the_lane_cannot_keep_goes_back_to_the_pool_as_it_was(pool: PgPool) {
        let lane = Lane::planned(pool.clone(), 1);
        let first = lane.acquire().await.unwrap();
        let mut second = lane.acquire().await.unwrap();
        let (pid, plans, _) = settings(&mut second).await;
        assert_eq!(plans, "force_generic_plan");
        first.release();
        // The lane keeps one: the second goes back to the pool, its settings restored.
        second.release();
        let started = Instant::now();
        loop {
            let mut conn = pool.acquire().await.unwrap();
            let (other, plans, scans) = settings(&mut conn).await;
            if other == pid {
                assert_eq!((plans.as_str(), scans.as_str()), ("auto", "on"));
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "never given back"
            );
            drop(conn);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[sqlx::test(migrations = false)]
    async fn run_keeps_the_connection_of_work_that_succeeded_only(pool: PgPool) {
        let lane = Lane::new(pool, 1);
        let failed: Result<i32, sqlx::Error> = lane
            .run(async |conn| sqlx::query_scalar("select nonsense").fetch_one(conn).await)
            .await;
        assert!(failed.is_err());
        assert!(lane.0.idle.lock().unwrap().is_empty(), "an error: not kept");
        let one: i32 = lane
            .run(async |conn| sqlx::query_scalar("select 1").fetch_one(conn).await)
            .await
            .unwrap();
        assert_eq!(one, 1);
        assert_eq!(lane.0.idle.lock().unwrap().len(), 1, "a success: kept");
    }

    #[sqlx::test(migrations = false)]
    async fn a_refused_statement_gives_its_connection_back_to_the_pool_with_the_defaults(
        pool: PgPool,
    ) {
        let lane = Lane::indexed(pool.clone(), 1);
        let mut pid = 0;
        let failed: Result<i32, sqlx::Error> = lane
            .run(async |conn| {
                pid = settings(conn).await.0;
                sqlx::query_scalar("select nonsense").fetch_one(conn).await
            })
            .await;
        assert!(failed.is_err());
        assert!(lane.0.idle.lock().unwrap().is_empty(), "an error: not kept");
        eventually("neither closed nor back", || {
            pool.num_idle() == pool.size() as usize
        })
        .await;
        let mut back = pool.acquire().await.unwrap();
        let (again, plans, scans) = settings(&mut back).await;
        assert_eq!(again, pid, "given back to the pool, not closed");
        assert_eq!((plans.as_str(), scans.as_str()), ("auto", "on"));
    }

    #[sqlx::test(migrations = false)]
    async fn a_connection_out_of_the_pool_for_long_is_given_back_not_kept(pool: PgPool) {
        let lane = Lane::with_max_out(pool, 1, Duration::from_millis(50), None);
        let conn = lane.acquire().await.unwrap();
        conn.release();
        assert_eq!(lane.0.idle.lock().unwrap().len(), 1, "kept while fresh");
        let conn = lane.acquire().await.unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
        conn.release();
        assert!(
            lane.0.idle.lock().unwrap().is_empty(),
            "out too long: back to the pool"
        );
    }

    #[sqlx::test(migrations = false)]
    async fn a_kept_connection_idle_for_a_while_goes_back_to_the_pool(pool: PgPool) {
        let lane = Lane::new(pool.clone(), 2);
        lane.acquire().await.unwrap().release();
        assert_eq!(lane.0.idle.lock().unwrap().len(), 1);
        let started = Instant::now();
        while !lane.0.idle.lock().unwrap().is_empty() || pool.num_idle() != pool.size() as usize {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "still kept or not back in the pool"
            );
            tokio::time::sleep(PARK / 2).await;
        }
        assert!(started.elapsed() >= PARK, "kept for a while first");
    }
}

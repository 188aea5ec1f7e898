//! Building and running the server: the pool, migrations, the catalog snapshot, the key
//! directory, the background tasks (change listener, key change watch, order reconciler,
//! idempotency purge, webhook delivery), and the HTTP listener. Tests call [`Application::build_with_pool`]
//! with port 0 and talk to the real server over HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::PgListener;
use sqlx::{Executor, PgPool};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::KeyVerifier;
use crate::catalog::{CATALOG_CHANNEL, Catalog};
use crate::config::Config;
use crate::esims::UsageCache;
use crate::http::AnswerCache;
use crate::http::rate_limit::RateLimits;
use crate::http::serve::ConnectionLimits;
use crate::http::state::{AppState, Shared};
use crate::ledger::BalanceReader;
use crate::orders::Orders;
use crate::partners::KEYS_CHANNEL;
use crate::provider::Registry;

/// Connections the metrics listener serves at once: a scraper or two, on a private address.
const METRICS_MAX_CONNECTIONS: usize = 16;

/// A built, not yet running, server.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    metrics_listener: Option<TcpListener>,
    state: AppState,
    background: BackgroundTasks,
    stop: watch::Sender<bool>,
}

/// Background tasks of one server. On shutdown they see the stop signal and finish their
/// current step; whatever is still running after the grace period (or when the server is
/// dropped) is aborted, which is safe: every step is one transaction.
struct BackgroundTasks(Vec<JoinHandle<()>>);

impl BackgroundTasks {
    async fn stop(mut self, within: Duration) {
        let tasks = std::mem::take(&mut self.0);
        for mut task in tasks {
            if tokio::time::timeout(within, &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

impl Drop for BackgroundTasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl Application {
    /// Connects, migrates and builds the server.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = config.database.pool().await?;
        config.database.migrate(&db).await?;
        if crate::db::role_owns_the_schema(&db).await? {
            tracing::warn!(
                "DATABASE_URL's role owns the tables (or is a superuser): it could disable the ledger's triggers; serve as tavaro_app and migrate with TAVARO_MIGRATION_DATABASE_URL (README, Database roles)"
            );
        }
        Self::build_with_pool(config, db).await
    }

    /// Builds the server on an existing (migrated) pool.
    pub async fn build_with_pool(config: Config, db: PgPool) -> anyhow::Result<Self> {
        crate::failpoint::check()?;
        crate::metrics::install();
        for warning in config.warnings() {
            tracing::warn!("{warning}");
        }
        let Config {
            http,
            auth,
            orders,
            providers,
            simulator,
            webhooks,
            ..
        } = config;
        let listener = TcpListener::bind(http.listen_addr)
            .await
            .with_context(|| format!("cannot listen on {}", http.listen_addr))?;
        let address = listener.local_addr()?;
        let public_base_url = http
            .public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://{address}"));
        let catalog = Catalog::load(&db)
            .await
            .context("cannot load the catalog")?;
        let usage_cache = UsageCache::new(providers.usage_ttl);
        let usage_poll = providers.usage_poll;
        let providers = Arc::new(Registry::new(&providers, &simulator, &db)?);
        tracing::info!(providers = ?providers.names(), "providers configured");
        let orders = Orders::new(db.clone(), catalog.clone(), Arc::clone(&providers), orders);
        // Subscribe before loading what notifications announce, so no change can slip
        // between the load and the subscription.
        let changes = listen_for_changes(&db).await?;
        let keys = KeyVerifier::new(&auth);
        keys.refresh_if_changed(&db)
            .await
            .context("cannot load the API keys")?;
        let state = AppState::new(Shared {
            rate_limits: RateLimits::new(&http.rate_limit, &http.client_limit),
            readiness: Default::default(),
            balances: BalanceReader::start(db.clone()),
            keys,
            catalog_answers: AnswerCache::default(),
            db,
            http,
            public_base_url,
            catalog,
            orders,
            providers,
            usage_cache,
            webhooks,
        });

        let (stop, stopped) = watch::channel(false);
        let background = BackgroundTasks(vec![
            tokio::spawn(until_stopped(
                stopped.clone(),
                follow_changes(changes, state.clone()),
            )),
            tokio::spawn(until_stopped(
                stopped.clone(),
                watch_key_changes(state.clone()),
            )),
            tokio::spawn(crate::orders::reconcile::run(
                state.orders.clone(),
                stopped.clone(),
            )),
            tokio::spawn(until_stopped(
                stopped.clone(),
                purge_idempotency_keys(state.clone()),
            )),
            tokio::spawn(crate::esims::poller::run(
                state.db.clone(),
                Arc::clone(&state.providers),
                usage_poll,
                stopped.clone(),
            )),
            tokio::spawn(crate::http::deliver_webhooks(
                state.clone(),
                stopped.clone(),
            )),
            tokio::spawn(until_stopped(stopped, crate::metrics::upkeep())),
        ]);
        let metrics_listener = match state.http.metrics_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} (TAVARO_METRICS_ADDR)"))?,
            ),
            None => None,
        };

        Ok(Self {
            listener,
            address,
            metrics_listener,
            state,
            background,
            stop,
        })
    }

    /// The address actually bound (port 0 resolved).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The state handlers receive; tests use it to reach the pool and counters.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The address serving only `/metrics` (`TAVARO_METRICS_ADDR`), unless it is `off`.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully (see [`Self::run_until`]).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `signal` completes, then: stops accepting connections, lets in-flight
    /// requests finish (an order being provisioned included) for at most
    /// `TAVARO_SHUTDOWN_GRACE_SECS`, stops the background workers after their current
    /// step, and closes the pool.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            address,
            metrics_listener,
            state,
            background,
            stop,
        } = self;
        let grace = state.http.shutdown_grace;
        let stopping = stop.subscribe();
        tokio::spawn(async move {
            signal.await;
            tracing::info!("shutdown requested: no new connections, draining in-flight requests");
            let _ = stop.send(true);
        });

        let idle_timeout = state.http.header_timeout;
        let metrics_server = metrics_listener.map(|listener| {
            if let Ok(address) = listener.local_addr() {
                tracing::info!(%address, "serving /metrics");
            }
            let router = crate::http::metrics_router(state.clone());
            let limits = ConnectionLimits {
                listener: "metrics",
                idle_timeout,
                max_connections: METRICS_MAX_CONNECTIONS,
                threads: None,
            };
            tokio::spawn(crate::http::serve::serve(
                listener,
                router,
                limits,
                stopped(stopping.clone()),
            ))
        });
        let router = crate::http::router(state.clone());
        tracing::info!(%address, "serving");
        let limits = ConnectionLimits {
            listener: "api",
            idle_timeout,
            max_connections: state.http.max_connections,
            threads: Some(state.http.threads),
        };
        let server = crate::http::serve::serve(listener, router, limits, stopped(stopping.clone()));
        let deadline = async {
            stopped(stopping.clone()).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            () = server => {},
            () = deadline => {
                tracing::warn!(?grace, "drain time exceeded; dropping the requests still open");
            }
        }
        if let Some(task) = metrics_server {
            task.abort();
        }
        background.stop(Duration::from_secs(5)).await;
        state.db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Completes once the stop signal is set.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Runs `task` until the stop signal is set.
async fn until_stopped(stop: watch::Receiver<bool>, task: impl Future<Output = ()>) {
    tokio::select! {
        () = task => {},
        () = stopped(stop) => {},
    }
}

/// A listener subscribed to every change channel.
async fn listen_for_changes(db: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut changes = PgListener::connect_with(db).await?;
    changes.listen_all([KEYS_CHANNEL, CATALOG_CHANNEL]).await?;
    Ok(changes)
}

/// Silence on the change listener after which its connection is checked: a primary lost
/// without a word (a frozen host, a cut network) leaves the connection open but dead, and
/// LISTEN on it would wait for ever. One round trip per server every few seconds.
const LISTENER_CHECK_AFTER: Duration = Duration::from_secs(5);
/// How long that check may take before the connection is given up for a new one.
const LISTENER_CHECK_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause between attempts to open the listener again, and to redo a refresh that failed.
const LISTENER_RETRY: Duration = Duration::from_secs(1);

/// Applies change notifications from other processes (the CLI, other servers): key and
/// partner changes refresh the key directory and cache, catalog imports rebuild the
/// snapshot.
///
/// Notifications sent while the listener had no connection are lost, so whenever it is
/// connected again (sqlx reconnecting by itself, or a new listener after an error or a
/// failed check) both caches are refreshed, once LISTEN is in place (refreshing before
/// would leave a gap where a change is neither seen nor announced); a refresh that fails
/// is retried every second until it succeeds. Connections come from the pool, so after a
/// failover the listener follows the pool to the new primary. [`watch_key_changes`]
/// bounds what a lost key notification delays in any case.
async fn follow_changes(mut changes: PgListener, state: AppState) {
    // A refresh after a reconnection failed and is still owed.
    let mut owed = false;
    loop {
        let wait = if owed {
            LISTENER_RETRY
        } else {
            LISTENER_CHECK_AFTER
        };
        // Cancelling `try_recv` while it waits is safe (nothing is read from the socket
        // until a whole message is there); after any doubt the listener is replaced.
        let lost = match tokio::time::timeout(wait, changes.try_recv()).await {
            Ok(Ok(Some(notification))) => {
                match notification.channel() {
                    KEYS_CHANNEL => refresh_keys(&state).await,
                    CATALOG_CHANNEL => owed |= !reload_catalog(&state).await,
                    _ => {}
                }
                false
            }
            Ok(Ok(None)) => {
                // sqlx has reconnected and re-issued LISTEN before answering `None`.
                tracing::warn!("change listener reconnected; refreshing caches");
                owed = !refresh_caches(&state).await;
                false
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "change listener failed; reconnecting");
                true
            }
            Err(_silence) => {
                // A `&str` runs unprepared: one round trip.
                let check = (&mut changes).execute("select 1");
                match tokio::time::timeout(LISTENER_CHECK_TIMEOUT, check).await {
                    Ok(Ok(_)) => {
                        if owed {
                            owed = !refresh_caches(&state).await;
                        }
                        false
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "change listener connection failed its check; reconnecting");
                        true
                    }
                    Err(_) => {
                        tracing::warn!(
                            timeout = ?LISTENER_CHECK_TIMEOUT,
                            "change listener connection did not answer its check; reconnecting"
                        );
                        true
                    }
                }
            }
        };
        if lost {
            // Give the dead connection back before waiting for a new one.
            drop(changes);
            changes = reconnect_listener(&state).await;
            tracing::warn!("change listener reconnected; refreshing caches");
            owed = !refresh_caches(&state).await;
        }
    }
}

/// A new listener, subscribed, trying every second until the database answers.
async fn reconnect_listener(state: &AppState) -> PgListener {
    loop {
        tokio::time::sleep(LISTENER_RETRY).await;
        match listen_for_changes(&state.db).await {
            Ok(changes) => return changes,
            Err(e) => tracing::warn!(error = %e, "change listener cannot reconnect"),
        }
    }
}

/// Refreshes both caches after notifications may have been lost; whether the catalog
/// could be reloaded (the key directory has its own once-a-second check).
async fn refresh_caches(state: &AppState) -> bool {
    refresh_keys(state).await;
    reload_catalog(state).await
}

/// Checks `api_key_changes` every `auth::CHANGE_POLL_INTERVAL`: a revocation, suspension
/// or new key whose notification was lost (or that was made in SQL) reaches this server
/// within that interval.
async fn watch_key_changes(state: AppState) {
    let mut tick = tokio::time::interval(crate::auth::CHANGE_POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = state.keys.refresh_if_changed(&state.db).await {
            tracing::warn!(error = %e, "API key change check failed; retrying");
        }
    }
}

/// Brings the key directory and cache up to date; when the database cannot say what
/// changed, drops the cache anyway (rows are read again), and the next check reloads.
async fn refresh_keys(state: &AppState) {
    if let Err(e) = state.keys.refresh_if_changed(&state.db).await {
        tracing::warn!(error = %e, "API key refresh failed; dropping the key cache");
        state.keys.invalidate_all();
    }
}

/// Forgets expired Idempotency-Keys, every minute.
async fn purge_idempotency_keys(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        match crate::orders::idempotency::purge_expired(&state.db).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "expired idempotency keys purged"),
            Err(e) => tracing::warn!(error = %e, "idempotency key purge failed"),
        }
    }
}

/// Rebuilds the catalog snapshot; whether it could (on failure the previous one stays).
async fn reload_catalog(state: &AppState) -> bool {
    match state.catalog.reload(&state.db).await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(
                error = format!("{e:#}"),
                "catalog reload failed; keeping the previous snapshot"
            );
            false
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

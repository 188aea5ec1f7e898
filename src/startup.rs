//! Building and running the server: the pool, migrations, the catalog snapshot, the
//! background tasks (change listener, order reconciler, idempotency purge), and the HTTP
//! listener. Tests call [`Application::build_with_pool`]
//! with port 0 and talk to the real server over HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::auth::KeyVerifier;
use crate::catalog::{CATALOG_CHANNEL, Catalog};
use crate::config::Config;
use crate::partners::KEYS_CHANNEL;
use crate::state::AppState;

/// A built, not yet running, server.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    state: AppState,
    background: BackgroundTasks,
}

/// Background tasks of one server, stopped when the server stops (or is dropped).
struct BackgroundTasks(Vec<JoinHandle<()>>);

impl Drop for BackgroundTasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Connects a pool sized by the configuration.
pub async fn connect(config: &Config) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(config.db_max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(config.database_url.expose())
        .await
        .context("cannot connect to the database (check DATABASE_URL)")
}

/// Applies pending migrations (embedded in the binary). Safe with several servers
/// starting at once: sqlx takes an advisory lock.
pub async fn migrate(db: &PgPool) -> anyhow::Result<()> {
    sqlx::migrate!("./migrations")
        .run(db)
        .await
        .context("database migration failed")
}

impl Application {
    /// Connects, migrates and builds the server.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = connect(&config).await?;
        migrate(&db).await?;
        Self::build_with_pool(config, db).await
    }

    /// Builds the server on an existing (migrated) pool.
    pub async fn build_with_pool(config: Config, db: PgPool) -> anyhow::Result<Self> {
        crate::metrics::install();
        let listener = TcpListener::bind(config.listen_addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen_addr))?;
        let address = listener.local_addr()?;
        let public_base_url = config
            .public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://{address}"));
        let catalog = Catalog::load(&db)
            .await
            .context("cannot load the catalog")?;
        let keys = Arc::new(KeyVerifier::new(
            config.key_cache_capacity,
            config.key_cache_ttl,
            config.argon2_concurrency,
        ));
        let providers = Arc::new(crate::provider::Registry::from_config(&config, &db));
        tracing::info!(providers = ?providers.names(), "providers configured");
        let state = AppState {
            db,
            config: Arc::new(config),
            public_base_url: public_base_url.into(),
            keys,
            catalog,
            providers,
        };

        // Subscribe before serving, so no revocation can slip between start and subscribe.
        let mut changes = PgListener::connect_with(&state.db).await?;
        changes.listen_all([KEYS_CHANNEL, CATALOG_CHANNEL]).await?;
        let background = BackgroundTasks(vec![
            tokio::spawn(follow_changes(changes, state.clone())),
            tokio::spawn(crate::orders::reconcile::run(state.clone())),
            tokio::spawn(purge_idempotency_keys(state.clone())),
        ]);

        Ok(Self {
            listener,
            address,
            state,
            background,
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

    /// Serves until SIGINT or SIGTERM, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let router = crate::http::router(self.state.clone());
        tracing::info!(address = %self.address, "serving");
        axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        drop(self.background);
        tracing::info!("stopped");
        Ok(())
    }
}

/// Applies change notifications from other processes (the CLI, other servers): key
/// revocations drop the key cache, catalog imports rebuild the snapshot. After a lost
/// connection both are refreshed, since notifications may have been missed meanwhile.
async fn follow_changes(mut changes: PgListener, state: AppState) {
    loop {
        match changes.try_recv().await {
            Ok(Some(notification)) => match notification.channel() {
                KEYS_CHANNEL => state.keys.invalidate_all(),
                CATALOG_CHANNEL => reload_catalog(&state).await,
                _ => {}
            },
            Ok(None) => {
                tracing::warn!("change listener reconnected; refreshing caches");
                state.keys.invalidate_all();
                reload_catalog(&state).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "change listener failed; retrying");
                state.keys.invalidate_all();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
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

async fn reload_catalog(state: &AppState) {
    if let Err(e) = state.catalog.reload(&state.db).await {
        tracing::error!(
            error = format!("{e:#}"),
            "catalog reload failed; keeping the previous snapshot"
        );
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

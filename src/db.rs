//! The Postgres connection: one place that builds the pool (the server and the CLI both
//! come here), applies the migrations, and tells a passing outage from a bug.

use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use crate::secret::Secret;

/// Where the database is and how many connections a process may hold.
#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    /// Postgres connection string (`DATABASE_URL`).
    pub url: Secret<String>,
    /// Maximum pooled connections per process (`TAVARO_DB_MAX_CONNECTIONS`).
    pub max_connections: u32,
}

/// A pooled connection idle this long is pinged before it is handed out.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

impl DatabaseConfig {
    /// `DATABASE_URL` from the environment, with `max_connections` connections: what the
    /// operator commands use (they need no other setting).
    pub fn from_env(max_connections: u32) -> anyhow::Result<Self> {
        let url = std::env::var("DATABASE_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .context("DATABASE_URL is not set (see .env.example)")?;
        Ok(Self {
            url: Secret::new(url),
            max_connections,
        })
    }

    /// Connects a pool of this size. A failure names its real cause (connection refused,
    /// unknown host, authentication failed), never just "timed out".
    pub async fn pool(&self) -> anyhow::Result<PgPool> {
        let options: PgConnectOptions = self
            .url
            .expose()
            .parse()
            .map_err(|e| anyhow::anyhow!("DATABASE_URL is invalid: {e}"))?;
        let pool = PgPoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(Duration::from_secs(5))
            // sqlx pings every connection it hands out by default: one extra round trip per
            // checkout, several per order. A connection in use moments ago is alive; only
            // one idle for a while (the database may have restarted meanwhile) is checked.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= IDLE_BEFORE_PING {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options.clone())
            .await;
        match pool {
            Ok(pool) => Ok(pool),
            Err(e) => {
                // The pool reports "timed out"; one direct attempt names the real cause.
                let cause = match PgConnection::connect_with(&options).await {
                    Err(direct) => direct.to_string(),
                    Ok(_) => e.to_string(),
                };
                anyhow::bail!("cannot connect to the database (check DATABASE_URL): {cause}")
            }
        }
    }
}

/// Applies pending migrations (embedded in the binary). Safe with several servers
/// starting at once: sqlx takes an advisory lock.
pub async fn migrate(db: &PgPool) -> anyhow::Result<()> {
    sqlx::migrate!("./migrations")
        .run(db)
        .await
        .context("database migration failed")
}

/// Whether a database error means "try again" (pool exhausted, connection lost) rather
/// than a bug.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
    )
}

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
    /// The schema owner's connection string, used only to apply migrations
    /// (`TAVARO_MIGRATION_DATABASE_URL`). Unset: migrations run over `url`, which then
    /// must be the owner's.
    pub migration_url: Option<Secret<String>>,
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
            migration_url: migration_url_from(|name| std::env::var(name).ok())?,
        })
    }

    /// Connects a pool of this size. A failure names its real cause (connection refused,
    /// unknown host, authentication failed), never just "timed out".
    pub async fn pool(&self) -> anyhow::Result<PgPool> {
        connect(&self.url, "DATABASE_URL", self.max_connections).await
    }

    /// Applies pending migrations as the schema owner: over `migration_url` when set
    /// (one connection, closed afterwards), else over `db`. A server whose role cannot
    /// create tables (the `tavaro_app` role) and has no `migration_url` applies nothing:
    /// it checks the schema is current and refuses to start on one behind its binary.
    pub async fn migrate(&self, db: &PgPool) -> anyhow::Result<()> {
        if let Some(url) = &self.migration_url {
            let owner = connect(url, "TAVARO_MIGRATION_DATABASE_URL", 1).await?;
            let applied = migrate(&owner).await;
            owner.close().await;
            return applied;
        }
        let may_create: bool =
            sqlx::query_scalar("select has_schema_privilege(current_schema(), 'CREATE')")
                .fetch_one(db)
                .await
                .context("cannot read the database role's privileges")?;
        if may_create {
            return migrate(db).await;
        }
        let pending = pending_migrations(db).await?;
        if pending > 0 {
            anyhow::bail!(
                "{pending} database migration(s) are pending and DATABASE_URL's role may not apply them: set TAVARO_MIGRATION_DATABASE_URL to the schema owner's connection (README, Database roles)"
            );
        }
        Ok(())
    }
}

/// `TAVARO_MIGRATION_DATABASE_URL` from `lookup`: unset or empty is none.
pub(crate) fn migration_url_from(
    lookup: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<Secret<String>>> {
    let Some(url) = lookup("TAVARO_MIGRATION_DATABASE_URL").filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        anyhow::bail!(
            "TAVARO_MIGRATION_DATABASE_URL is invalid: expected postgres://user[:password]@host[:port]/database"
        );
    }
    Ok(Some(Secret::new(url)))
}

/// How many of the binary's migrations the database has not applied (all of them when it
/// has none).
async fn pending_migrations(db: &PgPool) -> anyhow::Result<usize> {
    let applied: Vec<i64> =
        match sqlx::query_scalar("select version from _sqlx_migrations where success")
            .fetch_all(db)
            .await
        {
            Ok(applied) => applied,
            // 42P01: no migration was ever applied here.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => Vec::new(),
            Err(e) => return Err(e).context("cannot read which migrations are applied"),
        };
    Ok(MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .filter(|m| !applied.contains(&m.version))
        .count())
}

/// The server's role can alter the tables (it owns them or is a superuser), so it could
/// also switch off the ledger's triggers: the single-role set-up `serve` warns about.
pub async fn role_owns_the_schema(db: &PgPool) -> anyhow::Result<bool> {
    sqlx::query_scalar(
        "select coalesce((select rolsuper from pg_roles where rolname = current_user), false)
             or pg_has_role(current_user, c.relowner, 'USAGE')
           from pg_class c
          where c.oid = 'ledger_entries'::regclass",
    )
    .fetch_one(db)
    .await
    .context("cannot read the database role's privileges")
}

/// The binary's migrations.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connects a pool of `max_connections` to `url` (the variable `name` holds it).
async fn connect(url: &Secret<String>, name: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = url
        .expose()
        .parse()
        .map_err(|e| anyhow::anyhow!("{name} is invalid: {e}"))?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
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
            anyhow::bail!("cannot connect to the database (check {name}): {cause}")
        }
    }
}

/// Applies pending migrations (embedded in the binary). Safe with several servers
/// starting at once: sqlx takes an advisory lock.
pub async fn migrate(db: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(db).await.context("database migration failed")
}

/// Whether a database error means "try again" (pool exhausted, connection lost) rather
/// than a bug.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
    )
}

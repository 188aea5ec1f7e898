//! The Postgres connection: one place that builds the pool (the server and the CLI both
//! come here), applies the migrations, and tells a passing outage from a bug.
//!
//! Across a failover the pool holds only connections to a primary: a connection that
//! lands on a standby (a demoted node the proxy still routes to for a moment) is refused
//! when it is opened, and one idle long enough to have outlived its server is checked
//! before it is handed out; a connection that failed mid-statement is closed by sqlx when
//! it is given back. [`is_unavailable`] is the one judge of whether a database error is
//! such an outage (503, try again) or a bug (500).

mod lane;

use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, PgPool, Row};

use crate::secret::Secret;

pub use lane::{Lane, Leased};

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

/// A pooled connection idle this long is checked (alive, still on the primary) before it
/// is handed out.
const IDLE_BEFORE_CHECK: Duration = Duration::from_secs(1);

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
        let Some(url) = &self.migration_url else {
            return migrate_as(db, "DATABASE_URL").await;
        };
        let owner = connect(url, "TAVARO_MIGRATION_DATABASE_URL", 1).await?;
        let applied = migrate_as(&owner, "TAVARO_MIGRATION_DATABASE_URL").await;
        owner.close().await;
        applied
    }
}

/// Applies pending migrations over `db` (its connection string is in the variable `name`)
/// when its role may create tables; otherwise applies nothing and fails only when some
/// are pending.
async fn migrate_as(db: &PgPool, name: &str) -> anyhow::Result<()> {
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
            "{pending} database migration(s) are pending and {name}'s role may not apply them: set TAVARO_MIGRATION_DATABASE_URL to the schema owner's connection (README, Database roles)"
        );
    }
    Ok(())
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
        // A new connection must reach the primary: one on a standby would fail every
        // write with 25006 while looking healthy. Refused here, sqlx tries again (until
        // the acquire time-out), so a failover reads as a short wait, then a 503.
        .after_connect(|conn, _meta| Box::pin(async move { require_primary(conn).await }))
        // sqlx pings every connection it hands out by default: one extra round trip per
        // checkout, several per order. A connection in use moments ago is alive; only
        // one idle for a while (the database may have restarted or failed over
        // meanwhile) is checked, with one query in place of the ping.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for < IDLE_BEFORE_CHECK {
                    return Ok(true);
                }
                Ok(!in_recovery(conn).await?)
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
                Ok(mut conn) => match require_primary(&mut conn).await {
                    Err(standby) => standby.to_string(),
                    Ok(()) => e.to_string(),
                },
            };
            anyhow::bail!("cannot connect to the database (check {name}): {cause}")
        }
    }
}

/// Whether the connection's server is a standby (in recovery): one round trip, on the
/// simple query protocol (no statement to prepare first).
async fn in_recovery(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    // A `&str` runs unprepared (simple query protocol).
    conn.fetch_one("select pg_is_in_recovery()")
        .await?
        .try_get(0)
}

/// Refuses a connection to a standby: the gateway writes on every path that moves money,
/// and only the primary accepts writes.
async fn require_primary(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    if in_recovery(conn).await? {
        return Err(sqlx::Error::Io(std::io::Error::other(
            "the server is a read-only standby, not the primary (pg_is_in_recovery() is true)",
        )));
    }
    Ok(())
}

/// Applies pending migrations (embedded in the binary). Safe with several servers
/// starting at once: sqlx takes an advisory lock.
pub async fn migrate(db: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(db).await.context("database migration failed")
}

/// Whether a database error means "try again" (the database cannot be reached or cannot
/// take writes right now) rather than a bug: answered 503 `service_unavailable`, never 500.
///
/// Counted: the pool exhausted or closed; the connection lost or refused (I/O); TLS and
/// protocol errors, which with our fixed statements only come from the transport (a
/// proxy that accepts and closes at once, with no primary behind it, reads as "unexpected
/// response from SSLRequest"); and these SQLSTATEs: class 08 (connection exception),
/// 57P01 (admin shutdown: a fast shutdown or switchover ending sessions, also "unexpected
/// postmaster exit"), 57P02 (crash shutdown: another backend crashed), 57P03 (cannot
/// connect now: starting up, shutting down, in recovery) and 25006 (read-only
/// transaction: a statement that reached a standby).
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(e) => e.code().is_some_and(|code| is_unavailable_sqlstate(&code)),
        _ => false,
    }
}

/// The SQLSTATEs [`is_unavailable`] counts.
fn is_unavailable_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "25006")
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::error::Error as StdError;

    use sqlx::error::{DatabaseError, ErrorKind};

    use super::*;

    /// A database error with a given SQLSTATE, as the server would send it.
    #[derive(Debug)]
    struct Sqlstate(&'static str);

    impl std::fmt::Display for Sqlstate {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "error with SQLSTATE {}", self.0)
        }
    }

    impl StdError for Sqlstate {}

    impl DatabaseError for Sqlstate {
        fn message(&self) -> &str {
            "from the server"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn StdError + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn StdError + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    fn from_server(code: &'static str) -> sqlx::Error {
        sqlx::Error::Database(Box::new(Sqlstate(code)))
    }

    #[test]
    fn the_sqlstates_of_a_failover_are_unavailable_and_the_others_are_bugs() {
        for code in [
            "08000", // connection_exception
            "08003", // connection_does_not_exist
            "08006", // connection_failure
            "08001", // sqlclient_unable_to_establish_sqlconnection
            "08P01", // protocol_violation
            "57P01", // admin_shutdown: fast shutdown, switchover, postmaster gone
            "57P02", // crash_shutdown
            "57P03", // cannot_connect_now: starting up, shutting down
            "25006", // read_only_sql_transaction: a standby
        ] {
            assert!(is_unavailable(&from_server(code)), "{code} is an outage");
        }
        for code in [
            "23505", // unique_violation
            "23514", // check_violation
            "40001", // serialization_failure
            "42601", // syntax_error
            "42P01", // undefined_table
            "57014", // query_canceled (statement time-out)
            "25P02", // in_failed_sql_transaction
            "P0001", // raise_exception (a trigger refusing)
        ] {
            assert!(
                !is_unavailable(&from_server(code)),
                "{code} is not an outage"
            );
        }
    }

    #[test]
    fn lost_connections_are_unavailable_and_query_mistakes_are_not() {
        let unavailable = [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into()),
            sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into()),
            sqlx::Error::Io(std::io::ErrorKind::UnexpectedEof.into()),
            sqlx::Error::Tls("handshake failed".into()),
            sqlx::Error::Protocol("unexpected response from SSLRequest: 0x00".to_owned()),
        ];
        for e in &unavailable {
            assert!(is_unavailable(e), "{e} is an outage");
        }
        let bugs = [
            sqlx::Error::RowNotFound,
            sqlx::Error::ColumnNotFound("plan_id".to_owned()),
            sqlx::Error::Configuration("bad url".into()),
            sqlx::Error::Decode("not a bool".into()),
        ];
        for e in &bugs {
            assert!(!is_unavailable(e), "{e} is not an outage");
        }
    }

    /// What a proxy with no primary behind it does: accept, take the client's first
    /// message, and close without a word.
    async fn closing_listener() -> std::net::SocketAddr {
        use tokio::io::AsyncReadExt;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut first = [0u8; 512];
                let _ = socket.read(&mut first).await;
                drop(socket);
            }
        });
        address
    }

    #[tokio::test]
    async fn a_connection_closed_at_once_is_unavailable_with_or_without_tls() {
        let address = closing_listener().await;
        for (sslmode, expected) in [("prefer", "SSLRequest"), ("disable", "")] {
            let url = format!("postgres://tavaro@{address}/tavaro?sslmode={sslmode}");
            let e = PgConnection::connect(&url)
                .await
                .expect_err("nothing answers");
            assert!(e.to_string().contains(expected), "sslmode={sslmode}: {e}");
            assert!(is_unavailable(&e), "sslmode={sslmode}: {e:?} is an outage");
        }
    }
}

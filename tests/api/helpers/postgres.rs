//! A PostgreSQL server of the test's own, to stop, restart, turn into a standby and
//! promote while a gateway runs on it: initdb into a temporary directory, on a free port,
//! driven with `pg_ctl`. As root the server runs as the `postgres` user (initdb refuses
//! root); otherwise as the current user. Dropped, it is stopped and its directory removed.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::PgPool;
use tavaro::db::DatabaseConfig;
use tavaro::secret::Secret;
use tokio::process::Command;

/// How `pg_ctl stop` ends the sessions.
#[derive(Clone, Copy, Debug)]
pub enum Shutdown {
    /// `-m fast`: every session is ended with `57P01 terminating connection due to
    /// administrator command` (what a switchover does to the old primary).
    Fast,
    /// `-m immediate`: the server quits without a clean shutdown (a crash: recovery at
    /// the next start).
    Immediate,
}

impl Shutdown {
    fn mode(self) -> &'static str {
        match self {
            Self::Fast => "fast",
            Self::Immediate => "immediate",
        }
    }
}

/// A running (or stopped) PostgreSQL server in a temporary directory.
pub struct PgServer {
    bin: PathBuf,
    dir: PathBuf,
    data: PathBuf,
    port: u16,
    /// The uid and gid the server runs as, when the tests run as root.
    owner: Option<(u32, u32)>,
}

impl PgServer {
    /// initdb and start a new server on a free port.
    pub async fn start() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let bin = pg_bindir();
        let owner = if is_root() {
            Some(postgres_user())
        } else {
            None
        };
        let dir = std::env::temp_dir().join(format!(
            "tavaro-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the server's directory");
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown to postgres");
        }
        let data = dir.join("data");
        let mut server = Self {
            bin,
            dir,
            data,
            port: 0,
            owner,
        };
        server
            .run(
                "initdb",
                &[
                    "-D".as_ref(),
                    server.data.as_os_str(),
                    "-U".as_ref(),
                    "tavaro".as_ref(),
                    "-A".as_ref(),
                    "trust".as_ref(),
                    "-E".as_ref(),
                    "UTF8".as_ref(),
                    "--locale=C.UTF-8".as_ref(),
                    "--no-sync".as_ref(),
                ],
            )
            .await;
        // A free port can be taken between the probe and the start: try a few.
        for attempt in 1..=5 {
            server.port = free_port();
            server.configure();
            if server.try_start().await {
                return server;
            }
            assert!(
                attempt < 5,
                "PostgreSQL does not start:\n{}",
                server.log_tail()
            );
        }
        unreachable!()
    }

    /// `postgres://tavaro@127.0.0.1:PORT/postgres`, with the default `sslmode=prefer` (the
    /// server has no TLS and answers the SSLRequest with `N`).
    pub fn url(&self) -> String {
        format!("postgres://tavaro@127.0.0.1:{}/postgres", self.port)
    }

    /// A pool as the gateway builds it (`DatabaseConfig::pool`), migrations applied.
    pub async fn gateway_pool(&self, max_connections: u32) -> PgPool {
        let config = DatabaseConfig {
            url: Secret::new(self.url()),
            max_connections,
            migration_url: None,
        };
        let pool = config.pool().await.expect("the gateway's pool connects");
        tavaro::db::migrate(&pool).await.expect("migrations apply");
        pool
    }

    /// Stops the server (`pg_ctl stop -m fast|immediate`), waiting until it is down.
    pub async fn stop(&self, how: Shutdown) {
        self.pg_ctl(&["stop", "-m", how.mode(), "-w", "-t", "60"])
            .await;
    }

    /// Starts the stopped server again, on the same port and data.
    pub async fn restart(&self) {
        assert!(
            self.try_start().await,
            "PostgreSQL does not start again:\n{}",
            self.log_tail()
        );
    }

    /// Starts the stopped server as a standby (read-only, in recovery): what a demoted
    /// primary is, or what a proxy may still route to in the middle of a failover.
    pub async fn restart_as_standby(&self) {
        std::fs::write(self.data.join("standby.signal"), b"").expect("write standby.signal");
        self.restart().await;
    }

    /// Promotes the standby to a primary (`pg_ctl promote`), waiting until it takes writes.
    pub async fn promote(&self) {
        self.pg_ctl(&["promote", "-w", "-t", "60"]).await;
    }

    /// Freezes a server process (SIGSTOP) until the guard is dropped: a backend that
    /// holds its connection open and says nothing, like a host that froze or a network
    /// that drops every packet.
    pub async fn freeze(&self, pid: i32) -> Frozen {
        let status = Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status()
            .await
            .expect("kill runs");
        assert!(status.success(), "kill -STOP {pid} failed");
        Frozen(pid)
    }

    async fn try_start(&self) -> bool {
        let log = self.dir.join("server.log");
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "start"])
            .status()
            .await
            .expect("pg_ctl runs");
        status.success()
    }

    /// Settings for a throw-away server: this port, loopback only, no Unix socket, no
    /// fsync (nothing here must survive a power cut). Commits stay synchronous: an
    /// immediate shutdown must not lose what was acknowledged.
    fn configure(&self) {
        let settings = format!(
            "\n# tests/api/helpers/postgres.rs\nport = {}\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = ''\nfsync = off\nfull_page_writes = off\nshared_buffers = 16MB\nmax_connections = 60\n",
            self.port
        );
        let path = self.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(&settings);
        std::fs::write(&path, text).expect("write the server's settings");
    }

    async fn pg_ctl(&self, args: &[&str]) {
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(args)
            .status()
            .await
            .expect("pg_ctl runs");
        assert!(
            status.success(),
            "pg_ctl {args:?} failed:\n{}",
            self.log_tail()
        );
    }

    async fn run(&self, program: &str, args: &[&std::ffi::OsStr]) {
        let output = self
            .command(program)
            .args(args)
            .output()
            .await
            .unwrap_or_else(|e| panic!("{program} runs: {e}"));
        assert!(
            output.status.success(),
            "{program} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// `program` from the PostgreSQL binaries, as the server's owner, quiet, in the
    /// server's directory (which that owner can enter).
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        command
            .current_dir(&self.dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .env_remove("PGDATA")
            .env_remove("PGPORT");
        if let Some((uid, gid)) = self.owner {
            command.uid(uid).gid(gid);
        }
        command
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let mut command = std::process::Command::new(self.bin.join("pg_ctl"));
        command
            .arg("-D")
            .arg(&self.data)
            .args(["stop", "-m", "immediate", "-w", "-t", "30"])
            .current_dir(&self.dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some((uid, gid)) = self.owner {
            std::os::unix::process::CommandExt::uid(&mut command, uid);
            std::os::unix::process::CommandExt::gid(&mut command, gid);
        }
        let _ = command.status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where `initdb` and `pg_ctl` are: the newest `/usr/lib/postgresql/*/bin` (Debian), else
/// `pg_config --bindir` (as `scripts/lib.sh` looks for them).
fn pg_bindir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return bin;
    }
    let output = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .expect("PostgreSQL server binaries (initdb, pg_ctl): install the postgresql package");
    let bin = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    assert!(
        bin.join("initdb").exists(),
        "no initdb in {}: install the PostgreSQL server",
        bin.display()
    );
    bin
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The uid and gid of the `postgres` user.
fn postgres_user() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            match fields.as_slice() {
                ["postgres", _, uid, gid, ..] => Some((uid.parse().ok()?, gid.parse().ok()?)),
                _ => None,
            }
        })
        .expect("a `postgres` user to run PostgreSQL as (tests run as root)")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A frozen server process, let run again (SIGCONT) when dropped.
pub struct Frozen(i32);

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-CONT", &self.0.to_string()])
            .status();
    }
}

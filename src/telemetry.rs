//! Tracing set-up shared by the server, the CLI and the tests.
//!
//! What we log: one span per request (request id, method, route, partner id), errors once
//! with their cause chain. What we never log: API keys, request bodies, LPA activation codes.

use std::str::FromStr;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Log output format (`LOG_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (default).
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

impl FromStr for LogFormat {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => anyhow::bail!("unknown log format `{other}` (expected: text or json)"),
        }
    }
}

/// The filter used when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,tower_http=warn";

/// The server's log sink: lines are formatted on the thread that logs them and written to
/// stdout by a thread of their own, as many at a time as are waiting (one `write` for a
/// burst, not one per line), so a request never waits on the log's pipe or file. Never
/// lossy: when 128k lines are waiting, loggers wait. The guard writes out what is queued
/// when dropped; hold it for as long as the server runs.
pub fn background_stdout() -> (
    tracing_appender::non_blocking::NonBlocking,
    tracing_appender::non_blocking::WorkerGuard,
) {
    tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("tavaro-log")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stdout(),
        ))
}

/// Installs the global subscriber writing to `sink`. Safe to call more than once (later
/// calls are ignored), which the tests rely on.
pub fn init<W>(format: LogFormat, default_filter: &str, sink: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sink);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .flatten_event(true)
            .try_init(),
        LogFormat::Text => builder.with_target(false).try_init(),
    };
}

//! Tracing set-up shared by the server, the CLI and the tests.
//!
//! What we log: one span per request (request id, method, route, partner id), errors once
//! with their cause chain. What we never log: API keys, request bodies, LPA activation codes.

use std::io;
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

mod json;

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

/// Where the log thread writes out what is waiting, at the latest.
const FLUSH_EVERY: Duration = Duration::from_millis(10);
/// Waiting bytes that wake the log thread before [`FLUSH_EVERY`].
const FLUSH_AT: usize = 64 * 1024;
/// Waiting bytes beyond which loggers wait for the log thread (never lossy).
const WAIT_AT: usize = 8 * 1024 * 1024;

/// The server's log sink: each line is formatted on the thread that logs it and appended to
/// one buffer; a thread of its own writes the buffer to stdout every 10 ms, or as soon as
/// 64 KiB are waiting. A request never waits on the log's pipe or file, and never wakes
/// another thread for its line (a wake-up per line, and the log thread taking a core from
/// the server for it, was what the previous writer cost). Never lossy: with 8 MiB waiting,
/// loggers wait. The flusher writes out what is waiting when dropped; hold it for as long
/// as the server runs.
pub fn background_stdout() -> (LogSink, LogFlusher) {
    background(io::stdout())
}

/// [`background_stdout`], writing to `out`.
fn background(mut out: impl io::Write + Send + 'static) -> (LogSink, LogFlusher) {
    let shared = Arc::new(Shared::default());
    let writer = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("tavaro-log".to_owned())
        .spawn(move || writer.write_out(&mut out))
        .expect("the log thread starts");
    (
        LogSink(Arc::clone(&shared)),
        LogFlusher {
            shared,
            thread: Some(thread),
        },
    )
}

/// Appends log lines to the waiting buffer ([`background_stdout`]).
pub struct LogSink(Arc<Shared>);

/// Stops the log thread once everything waiting is written ([`background_stdout`]).
pub struct LogFlusher {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for LogFlusher {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[derive(Default)]
struct Shared {
    waiting: Mutex<Waiting>,
    /// The log thread waits on it: enough is waiting, or the server is stopping.
    wake: Condvar,
    /// Loggers held back by a full buffer wait on it.
    drained: Condvar,
}

#[derive(Default)]
struct Waiting {
    bytes: Vec<u8>,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends one line (the formatters write a line at a time, so lines never interleave).
    fn append(&self, line: &[u8]) {
        let mut waiting = self.lock();
        while waiting.bytes.len() >= WAIT_AT && !waiting.closed {
            waiting = self
                .drained
                .wait(waiting)
                .unwrap_or_else(PoisonError::into_inner);
        }
        waiting.bytes.extend_from_slice(line);
        if waiting.bytes.len() >= FLUSH_AT {
            self.wake.notify_one();
        }
    }

    /// The log thread: takes what is waiting every [`FLUSH_EVERY`] (sooner when enough is)
    /// and writes it out, until the flusher is dropped and nothing is left.
    fn write_out(&self, out: &mut impl io::Write) {
        let mut batch = Vec::new();
        loop {
            let closed = {
                let mut waiting = self.lock();
                if waiting.bytes.len() < FLUSH_AT && !waiting.closed {
                    waiting = self
                        .wake
                        .wait_timeout(waiting, FLUSH_EVERY)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                std::mem::swap(&mut batch, &mut waiting.bytes);
                self.drained.notify_all();
                waiting.closed
            };
            if !batch.is_empty() {
                // Nowhere to report a failed write to: the log is the report.
                let _ = out.write_all(&batch).and_then(|()| out.flush());
                batch.clear();
            }
            if closed && self.lock().bytes.is_empty() {
                return;
            }
        }
    }
}

/// One line's writer, from [`LogSink`].
pub struct LineWriter<'a>(&'a Shared);

impl io::Write for LineWriter<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        self.0.append(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogSink {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(&self.0)
    }
}

/// Installs the global subscriber writing to `sink`. Safe to call more than once (later
/// calls are ignored), which the tests rely on.
pub fn init<W>(format: LogFormat, default_filter: &str, sink: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    match format {
        LogFormat::Json => {
            let _ = json_lines(filter, sink).try_init();
        }
        LogFormat::Text => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(sink)
                .with_target(false)
                .try_init();
        }
    }
}

/// `LOG_FORMAT=json`: the subscriber writing [`json`]'s lines, filtered by `filter`.
fn json_lines<W>(filter: EnvFilter, sink: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt;
    tracing_subscriber::registry()
        .with(filter)
        .with(json::JsonLines::new(sink))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Every line logged from several threads is written out whole, each thread's in its
    /// order, within the flush interval while the server runs and all of them when it
    /// stops.
    #[test]
    fn the_log_thread_writes_every_line_whole_and_the_rest_when_stopped() {
        let captured = Captured::default();
        let (sink, flusher) = background(captured.clone());
        let line = |thread: usize, n: usize| format!("{{\"thread\":{thread},\"n\":{n}}}\n");
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let sink = &sink;
                scope.spawn(move || {
                    for n in 0..5_000 {
                        io::Write::write_all(&mut sink.make_writer(), line(thread, n).as_bytes())
                            .unwrap();
                    }
                });
            }
        });
        io::Write::write_all(&mut sink.make_writer(), b"last\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !String::from_utf8_lossy(&captured.0.lock().unwrap()).ends_with("last\n") {
            assert!(
                std::time::Instant::now() < deadline,
                "the last line was never written"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        io::Write::write_all(&mut sink.make_writer(), b"after\n").unwrap();
        drop(flusher);

        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4 * 5_000 + 2);
        assert_eq!(lines[lines.len() - 2..], ["last", "after"]);
        let mut next = [0_u64; 4];
        for line in &lines[..lines.len() - 2] {
            let line: Value = serde_json::from_str(line).unwrap();
            let thread = line["thread"].as_u64().unwrap() as usize;
            assert_eq!(line["n"], next[thread], "thread {thread}'s lines in order");
            next[thread] += 1;
        }
        assert_eq!(next, [5_000; 4]);
    }

    /// Log shippers parse these lines: the request's fields, the partner recorded after the
    /// span opened, and the event's own fields, each where the line has always put them.
    #[test]
    fn a_json_line_carries_the_event_its_span_and_the_span_list() {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = json_lines(EnvFilter::new("info"), move || sink.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "request",
                method = "GET",
                route = "/v1/balance",
                request_id = "r-1",
                partner_id = tracing::field::Empty,
            );
            span.record("partner_id", "p-1");
            span.in_scope(|| {
                tracing::info!(status = 200_u16, latency_ms = 3_u64, "request finished");
                tracing::debug!("below the filter");
            });
            tracing::warn!(reason = "quoted \"text\"", "outside any span");
        });

        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let mut lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        for line in &mut lines {
            let timestamp = line.as_object_mut().unwrap().remove("timestamp").unwrap();
            assert!(timestamp.as_str().unwrap().ends_with('Z'), "{timestamp}");
        }
        let span = json!({
            "name": "request",
            "method": "GET",
            "route": "/v1/balance",
            "request_id": "r-1",
            "partner_id": "p-1",
        });
        assert_eq!(
            lines[0],
            json!({
                "level": "INFO",
                "target": "tavaro::telemetry::tests",
                "message": "request finished",
                "status": 200,
                "latency_ms": 3,
                "span": span,
                "spans": [span],
            })
        );
        assert_eq!(
            lines[1],
            json!({
                "level": "WARN",
                "target": "tavaro::telemetry::tests",
                "message": "outside any span",
                "reason": "quoted \"text\"",
            })
        );
    }

    /// What a request, an order and the odd field type log, under `log`.
    fn log_a_request() {
        let request = tracing::info_span!(
            "request",
            method = "POST",
            route = "/v1/order",
            request_id = "r-\"2\"",
            partner_id = tracing::field::Empty,
        );
        request.record("partner_id", tracing::field::display("p-1"));
        request.in_scope(|| {
            let order = tracing::info_span!(
                "orders.place",
                order_id = tracing::field::Empty,
                quantity = 2_u32,
                sandbox = false
            );
            order.record("order_id", "o-1");
            order.in_scope(|| {
                tracing::info!(
                    order_id = %"o-1",
                    ratio = 0.25_f64,
                    nan = f64::NAN,
                    balance = -250_i64,
                    big = u64::MAX,
                    error = &io::Error::other("no\nroute") as &dyn std::error::Error,
                    debug = ?Some("line\tbreak"),
                    "order completed in {} ms",
                    7
                );
            });
            // Recorded again: the newer value replaces the older, in both spans.
            request.record("partner_id", "p-2");
            order.record("order_id", "o-2");
            order.in_scope(|| tracing::warn!(control = "\u{1}\u{1f}", "again"));
            tracing::info!(status = 201_u16, latency_ms = 3_u64, "request finished");
        });
        tracing::error!(ok = true, "outside any span");
    }

    /// The line is tracing-subscriber's own JSON line (`.json()` with the event flattened,
    /// the current span and the span list), field for field, for every kind of field and
    /// for fields recorded after their span opened, more than once.
    #[test]
    fn a_json_line_is_tracing_subscribers_json_line() {
        let lines = |captured: &Captured| -> Vec<Value> {
            String::from_utf8(captured.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(|line| {
                    let mut line: Value = serde_json::from_str(line).unwrap();
                    line.as_object_mut().unwrap().remove("timestamp").unwrap();
                    line
                })
                .collect()
        };
        let ours = Captured::default();
        let sink = ours.clone();
        tracing::subscriber::with_default(
            json_lines(EnvFilter::new("info"), move || sink.clone()),
            log_a_request,
        );
        let theirs = Captured::default();
        let sink = theirs.clone();
        tracing::subscriber::with_default(
            tracing_subscriber::fmt()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(true)
                .with_env_filter(EnvFilter::new("info"))
                .with_writer(move || sink.clone())
                .finish(),
            log_a_request,
        );
        // No member written twice (a parse keeps the last of two): the line is as long as
        // the object it parses to, written again.
        for line in String::from_utf8(ours.0.lock().unwrap().clone())
            .unwrap()
            .lines()
        {
            let parsed: Value = serde_json::from_str(line).unwrap();
            assert_eq!(
                serde_json::to_string(&parsed).unwrap().len(),
                line.len(),
                "{line}"
            );
        }
        let (ours, theirs) = (lines(&ours), lines(&theirs));
        assert_eq!(ours.len(), 4, "{ours:#?}");
        assert_eq!(ours, theirs);
        assert_eq!(ours[1]["span"]["order_id"], "o-2");
        assert_eq!(ours[1]["spans"][0]["partner_id"], "p-2");
        assert_eq!(ours[0]["message"], "order completed in 7 ms");
    }
}

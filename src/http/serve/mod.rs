//! The HTTP server loop: hyper's HTTP/1 and HTTP/2 connection handling around a router,
//! with what `axum::serve` does not let us set.
//!
//! - **Idle connections are closed.** A connection may go `TAVARO_HEADER_TIMEOUT_SECS`
//!   without a request in progress: from accept until its first request's headers have
//!   arrived, and between two requests (keep-alive, HTTP/2 included). This is the only
//!   header timer: hyper's would start only once it has told HTTP/1 from HTTP/2 (a client
//!   that sends nothing, or `PRI` and stalls, would be held for ever), and would cost a
//!   timer per request. A connection past its time
//!   is shut down gracefully (HTTP/2 gets a GOAWAY) and dropped if it is still there after
//!   the same time again (a client that does not read its answer).
//! - **Connections are capped** (`TAVARO_MAX_CONNECTIONS`). At the cap a new connection
//!   closes the one that has gone longest without a request in progress (a socket that
//!   never spoke, or a keep-alive one between requests), so a flood of idle sockets only
//!   ever displaces itself: a real client sends its request within milliseconds and is
//!   the newest, hence the last to go. A connection with a request in progress is never
//!   closed for room; while every connection has one, new connections wait in the listen
//!   backlog. Reaching the cap is logged once per episode and counted in
//!   `tavaro_http_connection_limit_reached_total`; closed connections in
//!   `tavaro_http_connections_evicted_total`.
//! - **Connections are served on threads of their own** ([`lanes`], the partner
//!   listener only): one single-threaded runtime per serving thread, connections dealt
//!   to them in turn.
//! - The client's address reaches the router as [`ConnectInfo`]; HTTP/2 has keep-alive
//!   pings and a stream limit; a stop lets in-flight requests finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tower::ServiceExt;

mod lanes;
mod tracker;

use lanes::Lanes;

use tracker::{Slot, Tracker};

/// How one listener treats its connections.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// The listener's name in logs and metrics labels: `api` or `metrics`.
    pub listener: &'static str,
    /// Longest time without a request in progress (`TAVARO_HEADER_TIMEOUT_SECS`).
    pub idle_timeout: Duration,
    /// Connections served at once (`TAVARO_MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// Serve the connections on the serving threads ([`lanes`], `TAVARO_HTTP_THREADS` of
    /// them), or `None`: on the caller's runtime.
    pub threads: Option<usize>,
}

/// Largest request head (request line and headers) a client may send, in bytes.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Serves `router` on `listener` until `stop` completes, then stops accepting and waits
/// for the open connections to finish their requests (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
) {
    let builder = Arc::new(builder());
    let tracker = Arc::new(Tracker::new(limits.listener, limits.max_connections));
    let (drain, draining) = watch::channel(false);
    let mut stop = std::pin::pin!(stop);
    let mut accept_failing = false;
    let lanes = limits.threads.map(Lanes::get);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => {
                    accept_failing = false;
                    accepted
                }
                Err(e) => {
                    // Out of file descriptors and the like: make room, back off, keep
                    // serving. Logged once until an accept succeeds again.
                    if !accept_failing {
                        tracing::warn!(listener = limits.listener, error = %e, "accept failed; closing the longest-idle connection and retrying");
                        accept_failing = true;
                    }
                    tracker.evict_longest_idle();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let slot = tokio::select! {
            slot = Tracker::admit(&tracker) => slot,
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let accepted = Accepted {
            builder: Arc::clone(&builder),
            peer,
            router: router.clone(),
            slot,
            idle_timeout: limits.idle_timeout,
            draining: draining.clone(),
        };
        let Some(lanes) = lanes else {
            tokio::spawn(connection(accepted, stream));
            continue;
        };
        // The socket leaves this runtime's driver for the lane's (`from_std` registers it
        // with the runtime it runs on). Either step failing drops it, and its slot.
        let Ok(stream) = stream.into_std() else {
            continue;
        };
        lanes.spawn(async move {
            match TcpStream::from_std(stream) {
                Ok(stream) => connection(accepted, stream).await,
                Err(e) => {
                    tracing::warn!(error = %e, "could not hand a connection to its serving thread")
                }
            }
        });
    }
    drop(listener);
    let _ = drain.send(true);
    tracker.all_closed().await;
}

fn builder() -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    // No header timer of hyper's: the connection's own watchdog (below) closes a
    // connection that has gone `idle_timeout` without a request in progress, whether it
    // sent nothing, half a request head or nothing more after its last answer. hyper's
    // would arm and cancel a timer for every request.
    builder
        .http1()
        .header_read_timeout(None)
        .max_buf_size(MAX_HEAD_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(20))
        .max_concurrent_streams(100);
    builder
}

/// An accepted connection's peer and slot, with what its listener serves it with.
struct Accepted {
    builder: Arc<Builder<TokioExecutor>>,
    peer: SocketAddr,
    router: Router,
    slot: Slot,
    idle_timeout: Duration,
    draining: watch::Receiver<bool>,
}

/// Serves one connection until it ends, is idle too long, is closed to make room, or the
/// server stops.
async fn connection(accepted: Accepted, stream: TcpStream) {
    let Accepted {
        builder,
        peer,
        router,
        slot,
        idle_timeout,
        draining,
    } = accepted;
    let activity = slot.clone_handle();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let busy = activity.busy();
        let router = router.clone();
        async move {
            let _busy = busy;
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            router.oneshot(request).await
        }
    });
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    // The reasons to close are watched by a task of their own: polled here, each would be
    // polled again on every wake-up of the connection, that is on every request.
    let (close_tx, mut close) = oneshot::channel();
    tokio::spawn(watch_connection(
        slot.watcher(),
        idle_timeout,
        draining,
        close_tx,
    ));
    // Set once a graceful shutdown has begun for idleness or room: the connection is
    // dropped if it has not ended by then.
    let give_up = tokio::time::sleep(Duration::from_secs(365 * 24 * 3600));
    let mut give_up = std::pin::pin!(give_up);
    let mut closing = false;
    let mut forced = false;
    loop {
        tokio::select! {
            ended = connection.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            reason = &mut close, if !closing => {
                closing = true;
                // The watcher is gone only if its task was: nothing asks for a close then.
                let Ok(reason) = reason else { continue };
                connection.as_mut().graceful_shutdown();
                if reason != Close::Drain {
                    forced = true;
                    give_up.as_mut().reset(tokio::time::Instant::now() + idle_timeout);
                }
            }
            () = &mut give_up, if forced => {
                tracing::debug!("dropping a connection that did not close in time");
                return;
            }
        }
    }
}

/// Why a connection is to close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Close {
    /// It went the idle time-out without a request in progress.
    Idle,
    /// A new connection needs its place.
    Room,
    /// The server is stopping (the caller bounds how long in-flight requests may take).
    Drain,
}

/// Tells its connection when to close (`close`), and ends when the connection has.
async fn watch_connection(
    watcher: tracker::Watcher,
    idle_timeout: Duration,
    mut draining: watch::Receiver<bool>,
    mut close: oneshot::Sender<Close>,
) {
    let watchdog = tokio::time::sleep(idle_timeout);
    let mut watchdog = std::pin::pin!(watchdog);
    let reason = loop {
        tokio::select! {
            () = close.closed() => return,
            () = &mut watchdog => {
                let now = tokio::time::Instant::now();
                match watcher.idle_for() {
                    Some(idle) if idle >= idle_timeout => {
                        tracing::debug!(?idle, "closing an idle connection");
                        break Close::Idle;
                    }
                    Some(idle) => watchdog.as_mut().reset(now + (idle_timeout - idle)),
                    None => watchdog.as_mut().reset(now + idle_timeout),
                }
            }
            () = watcher.evicted() => {
                tracing::debug!("closing an idle connection to make room");
                break Close::Room;
            }
            _ = draining.wait_for(|stop| *stop) => break Close::Drain,
        }
    };
    let _ = close.send(reason);
}

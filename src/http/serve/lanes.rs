//! The threads that serve the partner listener's connections (`TAVARO_HTTP_THREADS`, one
//! per CPU by default): each runs a single-threaded tokio runtime of its own, and the
//! accept loop deals new connections to them in turn. A connection, its requests and
//! the tasks they spawn then stay on one thread: on a multi-threaded runtime a woken
//! task runs on whichever worker polled the wake-up, so a request's task, its
//! connection's buffers and the counters it touches moved between the cores, and each
//! move cost cache misses on both (`bench/changes.md` #42 and #43: 1–2 µs of a catalog
//! request's ~11).
//!
//! Everything else (the accept loop, the metrics listener, the background workers, the
//! debit and completion writers) stays on the main runtime; the simulator's issue
//! writers start where its first order runs, on a serving thread. Pool connections, timers
//! and channels are shared between the runtimes: tokio's resources are woken by the
//! driver of the runtime that made them, and every lane's driver runs for as long as
//! the process does.
//!
//! The lanes are made once per process, by the first server that asks, and live until
//! the process ends, like the main runtime's own workers: the work a request leaves
//! running (an order's money workflow, which settles on its own) is never cut short by
//! a server stopping before the process exits.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::Handle;

/// The serving threads' runtimes.
pub(super) struct Lanes {
    handles: Vec<Handle>,
    next: AtomicUsize,
}

static LANES: OnceLock<Lanes> = OnceLock::new();

impl Lanes {
    /// The process's lanes, `threads` of them if this is the first call.
    pub(super) fn get(threads: usize) -> &'static Lanes {
        LANES.get_or_init(|| Lanes {
            handles: (0..threads.max(1)).map(start).collect(),
            next: AtomicUsize::new(0),
        })
    }

    /// Runs `task` on the next lane in turn.
    pub(super) fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let lane = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        self.handles[lane].spawn(task);
    }
}

/// Starts lane `index`'s thread and returns its runtime's handle.
fn start(index: usize) -> Handle {
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(format!("tavaro-http-{index}"))
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a serving thread's runtime");
            let _ = handle_tx.send(runtime.handle().clone());
            // Drives the lane's tasks, timers and sockets until the process exits.
            runtime.block_on(std::future::pending::<()>());
        })
        .expect("a serving thread");
    handle_rx.recv().expect("the serving thread's runtime")
}

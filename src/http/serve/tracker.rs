//! The connections of one listener, for the cap and the idle time-out: which are open,
//! which have a request in progress, and which has gone longest without one (the first to
//! close when a new connection needs room). A request marks its connection busy and idle
//! again in the connection's own counters, without the listener's lock; the one idle the
//! longest is looked for only when a new connection needs room.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The connections of one listener: how many are open, which have a request in progress,
/// and which has gone longest without one.
pub(super) struct Tracker {
    listener: &'static str,
    max: usize,
    /// When the tracker was made: idle times are kept as nanoseconds since.
    epoch: Instant,
    /// `Inner::open`, readable without the lock.
    open: AtomicUsize,
    inner: Mutex<Inner>,
    /// A connection closed or went idle: there may be room now.
    room: Notify,
    /// A connection task ended.
    closed: Notify,
}

#[derive(Default)]
struct Inner {
    /// Connections counted against the cap (not those already told to close for room).
    open: usize,
    /// Connection tasks still running, counted or not.
    live: usize,
    next_id: u64,
    connections: HashMap<u64, Connection>,
    /// Inside an episode at the cap (logged once).
    at_cap: bool,
}

struct Connection {
    requests: Arc<Requests>,
    /// Still counted against the cap (false once told to close for room).
    counted: bool,
    evict: Arc<Notify>,
}

/// A connection's requests in progress, updated by the requests themselves.
#[derive(Default)]
struct Requests {
    /// Requests being handled now (HTTP/2 may have several).
    in_flight: AtomicUsize,
    /// Since when nothing has been in progress (nanoseconds since the tracker's epoch).
    idle_since: AtomicU64,
}

impl Requests {
    fn idle_since(&self) -> Option<u64> {
        (self.in_flight.load(Ordering::Acquire) == 0)
            .then(|| self.idle_since.load(Ordering::Acquire))
    }
}

impl Tracker {
    pub(super) fn new(listener: &'static str, max: usize) -> Self {
        Self {
            listener,
            max: max.max(1),
            epoch: Instant::now(),
            open: AtomicUsize::new(0),
            inner: Mutex::default(),
            room: Notify::new(),
            closed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Now, as nanoseconds since the epoch.
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// `inner.open` changed: mirrored for the requests, and for the metrics.
    fn set_open(&self, inner: &Inner) {
        self.open.store(inner.open, Ordering::Release);
        crate::metrics::set_open_connections(self.listener, inner.open);
    }

    /// A slot for a new connection: at once below the cap; at the cap by closing the
    /// connection idle the longest; otherwise once one has finished its request.
    pub(super) async fn admit(this: &Arc<Self>) -> Slot {
        loop {
            {
                let mut inner = this.lock();
                if inner.open >= this.max {
                    if !inner.at_cap {
                        inner.at_cap = true;
                        tracing::warn!(
                            listener = this.listener,
                            max_connections = this.max,
                            "connection limit reached (TAVARO_MAX_CONNECTIONS): closing the connections idle the longest to admit new ones; new connections wait while every connection has a request in progress"
                        );
                        crate::metrics::connection_limit_reached(this.listener);
                    }
                    this.evict_longest_idle_locked(&mut inner);
                }
                if inner.open < this.max {
                    return this.register(&mut inner);
                }
            }
            this.room.notified().await;
        }
    }

    /// Tells the connection idle the longest to close, and stops counting it.
    pub(super) fn evict_longest_idle(&self) {
        let mut inner = self.lock();
        self.evict_longest_idle_locked(&mut inner);
    }

    fn evict_longest_idle_locked(&self, inner: &mut Inner) {
        // Requests mark their connections without this lock: one whose request begins
        // just after it was chosen is told to close gracefully, so that request still
        // finishes and is answered.
        let longest = inner
            .connections
            .iter()
            .filter(|(_, connection)| connection.counted)
            .filter_map(|(id, connection)| Some((connection.requests.idle_since()?, *id)))
            .min();
        let Some(connection) = longest.and_then(|(_, id)| inner.connections.get_mut(&id)) else {
            return;
        };
        connection.counted = false;
        connection.evict.notify_one();
        inner.open -= 1;
        crate::metrics::connection_evicted(self.listener);
        self.set_open(inner);
    }

    fn register(self: &Arc<Self>, inner: &mut Inner) -> Slot {
        let id = inner.next_id;
        inner.next_id += 1;
        let evict = Arc::new(Notify::new());
        let requests = Arc::new(Requests::default());
        requests.idle_since.store(self.now(), Ordering::Release);
        inner.connections.insert(
            id,
            Connection {
                requests: Arc::clone(&requests),
                counted: true,
                evict: Arc::clone(&evict),
            },
        );
        inner.open += 1;
        inner.live += 1;
        self.set_open(inner);
        Slot {
            tracker: Arc::clone(self),
            id,
            requests,
            evict,
        }
    }

    /// Waits until every connection task has ended.
    pub(super) async fn all_closed(&self) {
        loop {
            if self.lock().live == 0 {
                return;
            }
            self.closed.notified().await;
        }
    }
}

/// A connection's place in its [`Tracker`]; dropping it frees the place.
pub(super) struct Slot {
    tracker: Arc<Tracker>,
    id: u64,
    requests: Arc<Requests>,
    evict: Arc<Notify>,
}

impl Slot {
    /// A handle for the connection's service, to mark requests in progress.
    pub(super) fn clone_handle(&self) -> Activity {
        Activity {
            tracker: Arc::clone(&self.tracker),
            requests: Arc::clone(&self.requests),
        }
    }

    /// What the connection's watcher needs: its idle time and its eviction.
    pub(super) fn watcher(&self) -> Watcher {
        Watcher {
            tracker: Arc::clone(&self.tracker),
            requests: Arc::clone(&self.requests),
            evict: Arc::clone(&self.evict),
        }
    }
}

/// A connection's idle time and eviction, for the task that watches them.
pub(super) struct Watcher {
    tracker: Arc<Tracker>,
    requests: Arc<Requests>,
    evict: Arc<Notify>,
}

impl Watcher {
    /// How long the connection has been without a request in progress; `None` while one
    /// is.
    pub(super) fn idle_for(&self) -> Option<Duration> {
        let since = self.requests.idle_since()?;
        Some(Duration::from_nanos(
            self.tracker.now().saturating_sub(since),
        ))
    }

    /// Completes once the tracker has told this connection to close for room.
    pub(super) fn evicted(&self) -> tokio::sync::futures::Notified<'_> {
        self.evict.notified()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let tracker = &self.tracker;
        let mut inner = tracker.lock();
        if let Some(connection) = inner.connections.remove(&self.id) {
            if connection.counted {
                inner.open -= 1;
            }
        }
        inner.live -= 1;
        if inner.at_cap && inner.open < tracker.max - tracker.max / 4 {
            inner.at_cap = false;
            tracing::info!(
                listener = tracker.listener,
                open = inner.open,
                "connections back under the limit"
            );
        }
        tracker.set_open(&inner);
        drop(inner);
        tracker.room.notify_one();
        tracker.closed.notify_one();
    }
}

/// Marks a connection's requests in progress.
#[derive(Clone)]
pub(super) struct Activity {
    tracker: Arc<Tracker>,
    requests: Arc<Requests>,
}

impl Activity {
    /// A request has begun; it ends when the guard is dropped.
    pub(super) fn busy(&self) -> Busy {
        self.requests.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }
}

/// A request in progress on a connection.
pub(super) struct Busy(Activity);

impl Drop for Busy {
    fn drop(&mut self) {
        let Activity { tracker, requests } = &self.0;
        // Written first: once the count reads 0, the time is this request's end, never the
        // end of the connection's previous idle spell.
        requests.idle_since.store(tracker.now(), Ordering::Release);
        if requests.in_flight.fetch_sub(1, Ordering::AcqRel) == 1
            && tracker.open.load(Ordering::Acquire) >= tracker.max
        {
            // Someone may be waiting at the cap for a connection to go idle.
            tracker.room.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Connections counted against the cap, and those of them idle.
    fn counts(tracker: &Tracker) -> (usize, usize) {
        let inner = tracker.lock();
        let idle = inner
            .connections
            .values()
            .filter(|c| c.counted && c.requests.idle_since().is_some())
            .count();
        (inner.open, idle)
    }

    #[tokio::test]
    async fn at_the_cap_the_longest_idle_connection_makes_room() {
        let tracker = Arc::new(Tracker::new("test", 2));
        let first = Tracker::admit(&tracker).await;
        let second = Tracker::admit(&tracker).await;
        assert_eq!(counts(&tracker), (2, 2));
        // The first one is busy, then idle again: now the second is the oldest idle.
        drop(first.clone_handle().busy());
        let third = Tracker::admit(&tracker).await;
        assert_eq!(counts(&tracker), (2, 2));
        tokio::time::timeout(Duration::from_millis(10), second.watcher().evicted())
            .await
            .expect("the longest-idle connection is told to close");
        assert!(
            tokio::time::timeout(Duration::from_millis(10), first.watcher().evicted())
                .await
                .is_err(),
            "the recently busy one stays"
        );
        drop((first, second, third));
        assert_eq!(counts(&tracker), (0, 0));
        assert_eq!(tracker.lock().live, 0);
    }

    #[tokio::test]
    async fn when_every_connection_is_busy_a_new_one_waits_for_the_first_to_finish() {
        let tracker = Arc::new(Tracker::new("test", 1));
        let only = Tracker::admit(&tracker).await;
        let busy = only.clone_handle().busy();
        assert_eq!(only.watcher().idle_for(), None);
        let waiting = tokio::spawn({
            let tracker = Arc::clone(&tracker);
            async move { Tracker::admit(&tracker).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiting.is_finished(),
            "no connection with a request in progress is closed"
        );
        drop(busy);
        let admitted = tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("admitted once the request is done")
            .unwrap();
        tokio::time::timeout(Duration::from_millis(10), only.watcher().evicted())
            .await
            .expect("the now idle connection makes room");
        assert!(only.watcher().idle_for().is_some());
        drop((only, admitted));
        assert_eq!(counts(&tracker), (0, 0));
    }

    #[tokio::test]
    async fn a_connection_is_idle_only_once_its_last_request_ends() {
        let tracker = Arc::new(Tracker::new("test", 1));
        let only = Tracker::admit(&tracker).await;
        let activity = only.clone_handle();
        let (first, second) = (activity.busy(), activity.busy());
        assert_eq!(counts(&tracker), (1, 0));
        drop(first);
        assert_eq!(
            only.watcher().idle_for(),
            None,
            "one request is still in progress"
        );
        tracker.evict_longest_idle();
        assert_eq!(
            counts(&tracker),
            (1, 0),
            "a busy connection is never evicted"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
        drop(second);
        let idle = only.watcher().idle_for().expect("idle once both ended");
        assert!(
            idle < Duration::from_millis(5),
            "idle since the last one ended: {idle:?}"
        );
        tracker.evict_longest_idle();
        assert_eq!(counts(&tracker), (0, 0));
        tokio::time::timeout(Duration::from_millis(10), only.watcher().evicted())
            .await
            .expect("told to close");
    }
}

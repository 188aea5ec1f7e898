//! The connections of one listener, for the cap and the idle time-out: which are open,
//! which have a request in progress, and which has gone longest without one (the first to
//! close when a new connection needs room).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The connections of one listener: how many are open, which have a request in progress,
/// and which has gone longest without one.
pub(super) struct Tracker {
    listener: &'static str,
    max: usize,
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
    next_idle: u64,
    connections: HashMap<u64, Connection>,
    /// Connections without a request in progress, in the order they became so.
    idle: BTreeMap<u64, u64>,
    /// Inside an episode at the cap (logged once).
    at_cap: bool,
}

struct Connection {
    /// Requests being handled now (HTTP/2 may have several).
    in_flight: usize,
    /// The connection's key in `Inner::idle`, while it is idle and counted.
    idle_key: Option<u64>,
    /// Since when nothing has been in progress.
    idle_since: Instant,
    /// Still counted against the cap (false once told to close for room).
    counted: bool,
    evict: Arc<Notify>,
}

impl Tracker {
    pub(super) fn new(listener: &'static str, max: usize) -> Self {
        Self {
            listener,
            max: max.max(1),
            inner: Mutex::default(),
            room: Notify::new(),
            closed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
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
        let Some((_, id)) = inner.idle.pop_first() else {
            return;
        };
        let Some(connection) = inner.connections.get_mut(&id) else {
            return;
        };
        connection.idle_key = None;
        connection.counted = false;
        connection.evict.notify_one();
        inner.open -= 1;
        crate::metrics::connection_evicted(self.listener);
        crate::metrics::set_open_connections(self.listener, inner.open);
    }

    fn register(self: &Arc<Self>, inner: &mut Inner) -> Slot {
        let id = inner.next_id;
        inner.next_id += 1;
        let idle_key = inner.next_idle;
        inner.next_idle += 1;
        inner.idle.insert(idle_key, id);
        let evict = Arc::new(Notify::new());
        inner.connections.insert(
            id,
            Connection {
                in_flight: 0,
                idle_key: Some(idle_key),
                idle_since: Instant::now(),
                counted: true,
                evict: Arc::clone(&evict),
            },
        );
        inner.open += 1;
        inner.live += 1;
        crate::metrics::set_open_connections(self.listener, inner.open);
        Slot {
            tracker: Arc::clone(self),
            id,
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
    evict: Arc<Notify>,
}

impl Slot {
    /// A handle for the connection's service, to mark requests in progress.
    pub(super) fn clone_handle(&self) -> Activity {
        Activity {
            tracker: Arc::clone(&self.tracker),
            id: self.id,
        }
    }

    /// How long the connection has been without a request in progress; `None` while one
    /// is.
    pub(super) fn idle_for(&self) -> Option<Duration> {
        let inner = self.tracker.lock();
        let connection = inner.connections.get(&self.id)?;
        (connection.in_flight == 0).then(|| connection.idle_since.elapsed())
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
            if let Some(key) = connection.idle_key {
                inner.idle.remove(&key);
            }
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
        crate::metrics::set_open_connections(tracker.listener, inner.open);
        drop(inner);
        tracker.room.notify_one();
        tracker.closed.notify_one();
    }
}

/// Marks a connection's requests in progress.
#[derive(Clone)]
pub(super) struct Activity {
    tracker: Arc<Tracker>,
    id: u64,
}

impl Activity {
    /// A request has begun; it ends when the guard is dropped.
    pub(super) fn busy(&self) -> Busy {
        let mut inner = self.tracker.lock();
        let inner = &mut *inner;
        if let Some(connection) = inner.connections.get_mut(&self.id) {
            connection.in_flight += 1;
            if let Some(key) = connection.idle_key.take() {
                inner.idle.remove(&key);
            }
        }
        Busy(self.clone())
    }
}

/// A request in progress on a connection.
pub(super) struct Busy(Activity);

impl Drop for Busy {
    fn drop(&mut self) {
        let tracker = &self.0.tracker;
        let mut inner = tracker.lock();
        let inner = &mut *inner;
        let Some(connection) = inner.connections.get_mut(&self.0.id) else {
            return;
        };
        connection.in_flight -= 1;
        if connection.in_flight > 0 {
            return;
        }
        connection.idle_since = Instant::now();
        if connection.counted {
            let key = inner.next_idle;
            inner.next_idle += 1;
            connection.idle_key = Some(key);
            inner.idle.insert(key, self.0.id);
            // Someone may be waiting at the cap for a connection to go idle.
            if inner.open >= tracker.max {
                tracker.room.notify_one();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(tracker: &Tracker) -> (usize, usize) {
        let inner = tracker.lock();
        (inner.open, inner.idle.len())
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
        tokio::time::timeout(Duration::from_millis(10), second.evicted())
            .await
            .expect("the longest-idle connection is told to close");
        assert!(
            tokio::time::timeout(Duration::from_millis(10), first.evicted())
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
        assert_eq!(only.idle_for(), None);
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
        tokio::time::timeout(Duration::from_millis(10), only.evicted())
            .await
            .expect("the now idle connection makes room");
        assert!(only.idle_for().is_some());
        drop((only, admitted));
        assert_eq!(counts(&tracker), (0, 0));
    }
}

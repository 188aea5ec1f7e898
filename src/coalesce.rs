//! Work from concurrent requests, done together: the pattern behind the balance reads, the
//! simulator's issues and the request path's order completions.
//!
//! Each request hands its item to one of a few workers and waits for its answer. A worker
//! takes every item waiting (up to a batch), does them all at once (one statement instead
//! of one per request: one round trip, one transaction, one Postgres backend woken), and
//! answers each. While some workers are busy, the others gather the next items, so the
//! batches grow with the load and a lone request waits for nobody.

use std::collections::HashSet;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};

/// Items waiting for a worker at most; beyond that callers wait to enqueue.
const QUEUE: usize = 4096;

/// An item and where its answer goes.
pub type Job<T, R> = (T, oneshot::Sender<R>);

/// Hands items to the workers. The workers stop when it is dropped.
pub struct Coalescer<T, R> {
    requests: mpsc::Sender<Job<T, R>>,
}

impl<T: Send + 'static, R: Send + 'static> Coalescer<T, R> {
    /// Starts `workers` workers on the current runtime, each calling `work` with up to
    /// `batch` items; `work` must answer every item it is given.
    pub fn start<W, F>(workers: usize, batch: usize, work: W) -> Self
    where
        W: Fn(Vec<Job<T, R>>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        Self::start_with(workers, batch, None::<fn(&T)>, work)
    }

    /// [`Coalescer::start`], where items with the same `key` never share a batch: the
    /// later ones go in the next.
    pub fn start_distinct<K, W, F>(workers: usize, batch: usize, key: fn(&T) -> K, work: W) -> Self
    where
        K: Hash + Eq + 'static,
        W: Fn(Vec<Job<T, R>>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        Self::start_with(workers, batch, Some(key), work)
    }

    fn start_with<K, W, F>(
        workers: usize,
        batch: usize,
        distinct: Option<fn(&T) -> K>,
        work: W,
    ) -> Self
    where
        K: Hash + Eq + 'static,
        W: Fn(Vec<Job<T, R>>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let (requests, queue) = mpsc::channel(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..workers {
            tokio::spawn(work_loop(Arc::clone(&queue), batch, distinct, work.clone()));
        }
        Self { requests }
    }

    /// Hands `item` over and waits for its answer; `None` if the workers are gone.
    pub async fn call(&self, item: T) -> Option<R> {
        let (reply, answer) = oneshot::channel();
        self.requests.send((item, reply)).await.ok()?;
        answer.await.ok()
    }
}

/// One worker: waits for an item, takes every other one already waiting (up to `batch`),
/// works them, and again.
async fn work_loop<T, R, K, W, F>(
    queue: Arc<Mutex<mpsc::Receiver<Job<T, R>>>>,
    batch: usize,
    distinct: Option<fn(&T) -> K>,
    work: W,
) where
    K: Hash + Eq,
    W: Fn(Vec<Job<T, R>>) -> F,
    F: Future<Output = ()>,
{
    let mut waiting = Vec::with_capacity(batch);
    loop {
        {
            let mut queue = queue.lock().await;
            if queue.recv_many(&mut waiting, batch).await == 0 {
                return; // Every sender is gone: the server is shutting down.
            }
        }
        let Some(key) = distinct else {
            work(std::mem::take(&mut waiting)).await;
            continue;
        };
        while !waiting.is_empty() {
            let (now, later): (Vec<_>, Vec<_>) = {
                let mut seen = HashSet::new();
                waiting
                    .drain(..)
                    .partition(|(item, _): &Job<T, R>| seen.insert(key(item)))
            };
            work(now).await;
            waiting = later;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_item_is_answered_and_keys_never_share_a_batch() {
        let batches = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = Arc::clone(&batches);
        let doubler: Coalescer<(u32, u32), u32> = Coalescer::start_distinct(
            2,
            8,
            |item: &(u32, u32)| item.0,
            move |jobs| {
                let seen = Arc::clone(&seen);
                async move {
                    seen.lock()
                        .unwrap()
                        .push(jobs.iter().map(|(item, _)| item.0).collect::<Vec<_>>());
                    tokio::task::yield_now().await;
                    for ((_, n), reply) in jobs {
                        let _ = reply.send(n * 2);
                    }
                }
            },
        );
        let doubler = Arc::new(doubler);
        let calls: Vec<_> = (0..100u32)
            .map(|n| {
                let doubler = Arc::clone(&doubler);
                tokio::spawn(async move { (n, doubler.call((n % 5, n)).await) })
            })
            .collect();
        for call in calls {
            let (n, answer) = call.await.unwrap();
            assert_eq!(answer, Some(n * 2));
        }
        for batch in batches.lock().unwrap().iter() {
            assert!(batch.len() <= 8);
            let keys: HashSet<_> = batch.iter().collect();
            assert_eq!(keys.len(), batch.len(), "a key twice in {batch:?}");
        }
    }
}

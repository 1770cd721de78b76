//! [`SingleFlight`]: concurrent callers of one key share one computation.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::OnceCell;

/// Runs at most one computation per key at a time within a process; callers that arrive while it
/// runs wait for it and get a clone of its result.
///
/// Used by [`crate::Cache::get_or_set`] and by cachette-http so that a thousand concurrent misses of
/// one key call the loader (or the handler) once. If the caller running the computation is
/// cancelled (its future dropped), one of the waiters takes over and runs its own computation, so a
/// cancelled request never leaves the others hanging. Once a result is ready the key is released:
/// the next caller starts a new computation (by then the value is normally in the cache).
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use cachette_core::SingleFlight;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let flights = Arc::new(SingleFlight::<u32>::new());
/// let calls = Arc::new(AtomicUsize::new(0));
/// let tasks: Vec<_> = (0..100).map(|_| {
///     let (flights, calls) = (flights.clone(), calls.clone());
///     tokio::spawn(async move {
///         flights.run("key", || async {
///             calls.fetch_add(1, Ordering::SeqCst);
///             tokio::time::sleep(std::time::Duration::from_millis(50)).await;
///             7
///         }).await
///     })
/// }).collect();
/// for t in tasks { assert_eq!(t.await.unwrap(), 7); }
/// assert_eq!(calls.load(Ordering::SeqCst), 1);
/// # });
/// ```
pub struct SingleFlight<V> {
    flights: Mutex<HashMap<String, Arc<OnceCell<V>>>>,
    completed: AtomicU64,
}

impl<V> Default for SingleFlight<V> {
    fn default() -> Self {
        SingleFlight { flights: Mutex::new(HashMap::new()), completed: AtomicU64::new(0) }
    }
}

impl<V> std::fmt::Debug for SingleFlight<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleFlight").field("in_flight", &self.in_flight()).finish()
    }
}

impl<V> SingleFlight<V> {
    /// No computation in flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many keys have a computation running now.
    pub fn in_flight(&self) -> usize {
        self.lock().len()
    }

    /// How many computations have finished so far, of any key. A caller that read the cache,
    /// missed, and then leads a computation need only read again if this changed meanwhile: a
    /// computation of its key may have stored the value in between. (One atomic load, so that
    /// the common miss makes one read, not two.)
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Acquire)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<OnceCell<V>>>> {
        // The map stays consistent even if a holder panicked: every operation on it is one call.
        self.flights.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<V: Clone> SingleFlight<V> {
    /// Runs `compute` for `key` unless a computation for `key` is already running, in which case it
    /// waits for that one. Returns the shared result.
    pub async fn run<F, Fut>(&self, key: &str, compute: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let cell = {
            let mut flights = self.lock();
            match flights.get(key) {
                Some(cell) => cell.clone(),
                None => flights.entry(key.to_owned()).or_default().clone(),
            }
        };
        let _leave = Leave { flights: self, key, cell: &cell };
        cell.get_or_init(compute).await.clone()
    }
}

/// Releases the key when its result is ready, or when the last caller waiting on it leaves.
struct Leave<'a, V> {
    flights: &'a SingleFlight<V>,
    key: &'a str,
    cell: &'a Arc<OnceCell<V>>,
}

impl<V> Drop for Leave<'_, V> {
    fn drop(&mut self) {
        let mut flights = self.flights.lock();
        if let Some(current) = flights.get(self.key)
            && Arc::ptr_eq(current, self.cell)
            && (self.cell.initialized() || Arc::strong_count(self.cell) <= 2)
        {
            flights.remove(self.key);
            if self.cell.initialized() {
                self.flights.completed.fetch_add(1, Ordering::Release);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn cancelled_leader_hands_over_to_a_waiter() {
        let flights = Arc::new(SingleFlight::<u32>::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let leader = {
            let (flights, calls) = (flights.clone(), calls.clone());
            tokio::spawn(async move {
                flights
                    .run("k", || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        1
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let waiter = {
            let (flights, calls) = (flights.clone(), calls.clone());
            tokio::spawn(async move {
                flights
                    .run("k", || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        2
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        leader.abort();
        assert_eq!(tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap(), 2);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(flights.in_flight(), 0);
    }

    #[tokio::test]
    async fn released_after_completion() {
        let flights = SingleFlight::<u32>::new();
        assert_eq!(flights.run("a", || async { 1 }).await, 1);
        assert_eq!(flights.in_flight(), 0);
        assert_eq!(flights.run("a", || async { 2 }).await, 2, "a finished key starts a new computation");
    }
}

//! One render per key at a time: concurrent misses of a key wait for the first one's response.
//!
//! cachette-core's `SingleFlight` shares the result of a future; it cannot serve here, because a miss
//! is not finished when the handler's future is: its body is still being streamed to the first
//! client, and the entry exists only after the last byte. So the leader holds a [`Leader`] guard
//! that travels with the streamed body and publishes the stored entry when the body ends; dropping
//! it unpublished (client gone, handler error) releases the followers to try again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::FutureExt;
use futures::channel::oneshot;
use futures::future::Shared;

use crate::entry::Entry;

/// What a leader's render came to.
#[derive(Clone)]
pub(crate) enum Outcome {
    /// The response was stored: every follower serves this entry.
    Stored(Arc<Entry>),
    /// The response may not be stored (a cookie, a status the filter rejects, too large): each
    /// follower calls the inner service itself.
    NotStorable,
}

type Waiter = Shared<oneshot::Receiver<Outcome>>;

/// The keys being rendered now.
#[derive(Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<String, (u64, Waiter)>>,
    next_id: AtomicU64,
}

/// The caller's part in a key's render.
pub(crate) enum Role {
    /// Render it, and publish the outcome through the guard.
    Leader(Leader),
    /// Wait: `Ok(outcome)`, or `Err` if the leader went away without an outcome.
    Follower(Waiter),
}

impl Flights {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, (u64, Waiter)>> {
        // Every operation on the map is one call, so it is consistent even after a panic.
        self.map.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Joins the render of `key` in progress, or becomes its leader.
    pub(crate) fn join(self: &Arc<Self>, key: &str) -> Role {
        let mut map = self.lock();
        if let Some((_, waiter)) = map.get(key) {
            return Role::Follower(waiter.clone());
        }
        let (tx, rx) = oneshot::channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        map.insert(key.to_owned(), (id, rx.shared()));
        Role::Leader(Leader { flights: self.clone(), key: key.to_owned(), id, tx: Some(tx) })
    }

    /// How many keys are being rendered now.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.lock().len()
    }
}

/// The right and duty to render one key. Publishing or dropping it ends the flight.
pub(crate) struct Leader {
    flights: Arc<Flights>,
    key: String,
    id: u64,
    tx: Option<oneshot::Sender<Outcome>>,
}

impl Leader {
    /// Hands `outcome` to every follower and ends the flight.
    pub(crate) fn publish(mut self, outcome: Outcome) {
        if let Some(tx) = self.tx.take() {
            // No follower listening is fine.
            let _ = tx.send(outcome);
        }
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        let mut map = self.flights.lock();
        if map.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            map.remove(&self.key);
        }
        // Dropping an unsent `tx` tells the followers the leader is gone.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn followers_get_the_outcome_or_learn_the_leader_is_gone() {
        let flights = Arc::new(Flights::default());
        let Role::Leader(leader) = flights.join("k") else { panic!("first caller leads") };
        let Role::Follower(waiter) = flights.join("k") else { panic!("second caller follows") };
        leader.publish(Outcome::NotStorable);
        assert!(matches!(waiter.await, Ok(Outcome::NotStorable)));
        assert_eq!(flights.in_flight(), 0);

        let Role::Leader(leader) = flights.join("k") else { panic!("a finished key starts a new flight") };
        let Role::Follower(waiter) = flights.join("k") else { panic!() };
        drop(leader);
        assert!(waiter.await.is_err());
        assert_eq!(flights.in_flight(), 0);
    }
}

//! One render per key at a time: concurrent misses of a key wait for the first one's response.
//!
//! cachette-core's `SingleFlight` shares the result of a future; it cannot serve here, because a miss
//! is not finished when the handler's future is: its body is still being streamed to the first
//! client, and the entry exists only after the last byte. So the leader holds a [`Leader`] guard
//! that travels with the streamed body and publishes the entry when the body ends; dropping it
//! unpublished (its client went away mid-render) releases the followers to try again.
//!
//! A published entry is answered to the leader's client before it is stored: the store runs
//! behind, holding the flight ([`Storing`]), so that requests arriving meanwhile — whose lookup
//! missed, the store not having landed — are handed the published entry at once instead of
//! rendering it again.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::FutureExt;
use futures::channel::oneshot;
use futures::future::Shared;
use http::StatusCode;

use crate::prepared::Prepared;

/// What a leader's render came to.
#[derive(Clone)]
pub(crate) enum Outcome {
    /// The response may be shared: every follower serves this entry (stored, or being stored).
    Entry(Arc<Prepared>),
    /// An entry with tags that are read only when it is stored (the handler's `Cache-Tag`,
    /// `Surrogate-Key` or [`CacheTags`](crate::CacheTags)): if one was invalidated during the
    /// render, the store keeps nothing, and the entry must serve no request but the one that
    /// rendered it (a follower may have come after the invalidation). So it is not handed on:
    /// followers wait for the store and look again.
    Unverified,
    /// The response may not be stored (a cookie, a status the filter rejects, too large): each
    /// follower calls the inner service itself.
    NotStorable,
    /// The render failed: see [`Failure`] for what each follower does.
    Failed(Failure),
}

/// How a render failed, as the leader publishes it to its followers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The inner service returned an error: the leader's caller gets it; each follower serves its
    /// stale entry, or renders its own (an `S::Error` cannot be shared).
    Error,
    /// The handler answered a `5xx`: each follower serves its stale entry, or renders its own.
    Status(StatusCode),
    /// The handler panicked: each follower serves its stale entry, or answers `500` at once.
    Panic,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Error => f.write_str("the inner service returned an error"),
            Failure::Status(status) => write!(f, "the handler answered {status}"),
            Failure::Panic => f.write_str("the handler panicked"),
        }
    }
}

type Waiter = Shared<oneshot::Receiver<Outcome>>;

/// Resolves when the store of a published entry has finished (with `Err(Canceled)`: nothing is
/// ever sent, the sender is dropped).
pub(crate) type Stored = Shared<oneshot::Receiver<()>>;

/// The keys being rendered now, or whose rendered entry is being stored.
#[derive(Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<String, Flight>>,
    next_id: AtomicU64,
    stores: AtomicU64,
}

struct Flight {
    id: u64,
    waiter: Waiter,
    /// The versions of the tags its leader's lookup read (see [`Seen`](crate::call::Seen)).
    versions: Option<Vec<u64>>,
    /// Set once the outcome is published while the flight goes on (its entry is being stored).
    published: Option<(Outcome, Stored)>,
}

/// The caller's part in a key's render.
pub(crate) enum Role {
    /// Render it, and publish the outcome through the guard.
    Leader(Leader),
    /// Wait: `Ok(outcome)`, or `Err` if the leader went away without an outcome.
    Follower(Waiter),
    /// The render has finished and its entry is being stored: its outcome, at once, and the end
    /// of the store (after which a new flight may start).
    Published(Outcome, Stored),
    /// A render whose lookup read other tag versions than the caller's — a tag was invalidated
    /// in between, so its response may be older than the invalidation: wait for its end (its
    /// outcome, or its store), then join again.
    Outdated(Waiter, Option<Stored>),
}

impl Flights {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Flight>> {
        // Every operation on the map is one call, so it is consistent even after a panic.
        self.map.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Joins the render of `key` in progress, or becomes its leader. `versions`: those the
    /// caller's lookup read of its tags (`None`: unknown, taken as the same as any).
    pub(crate) fn join(self: &Arc<Self>, key: &str, versions: Option<&[u64]>) -> Role {
        let mut map = self.lock();
        if let Some(flight) = map.get(key) {
            if let (Some(theirs), Some(ours)) = (&flight.versions, versions)
                && cachette_core::Cache::invalidated_between(theirs, ours)
            {
                let stored = flight.published.as_ref().map(|(_, stored)| stored.clone());
                return Role::Outdated(flight.waiter.clone(), stored);
            }
            return match &flight.published {
                Some((outcome, stored)) => Role::Published(outcome.clone(), stored.clone()),
                None => Role::Follower(flight.waiter.clone()),
            };
        }
        let (tx, rx) = oneshot::channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let flight = Flight { id, waiter: rx.shared(), versions: versions.map(<[u64]>::to_vec), published: None };
        map.insert(key.to_owned(), flight);
        Role::Leader(Leader { flights: self.clone(), key: key.to_owned(), id, tx: Some(tx) })
    }

    /// How many stores this layer has made so far, of any key (see [`Flights::count_store`]). A
    /// request that missed and then leads the render of its key need only look again if this
    /// changed since its lookup: an entry of its key may have been stored in between. One atomic
    /// load, so that the common miss makes one backend round trip before it renders, not two.
    pub(crate) fn stores(&self) -> u64 {
        self.stores.load(Ordering::Acquire)
    }

    /// Counts a store that has finished (whatever its result: a write that timed out may still
    /// have landed). Called before the store's flight ends, so that a request that finds the
    /// flight gone also finds the count changed.
    pub(crate) fn count_store(&self) {
        self.stores.fetch_add(1, Ordering::Release);
    }

    /// The end of the store of `key`'s just-rendered entry, if one is in progress (a render still
    /// in progress is not waited for: it may take as long as the handler likes).
    pub(crate) fn storing(&self, key: &str) -> Option<Stored> {
        self.lock().get(key)?.published.as_ref().map(|(_, stored)| stored.clone())
    }

    /// How many keys are being rendered or stored now.
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

/// The flight of a published entry while it is stored: requests that join it are handed the
/// entry at once. Dropping it (when the store has finished) ends the flight.
pub(crate) struct Storing {
    // Dropped first: the flight leaves the map before `stored` resolves.
    _leader: Leader,
    _stored: oneshot::Sender<()>,
}

impl Leader {
    /// Hands `outcome` to every follower and ends the flight.
    pub(crate) fn publish(mut self, outcome: Outcome) {
        self.send(outcome);
    }

    /// Hands `outcome` to every follower, and to every request that joins until the returned
    /// guard is dropped: hold it while the entry is stored.
    pub(crate) fn publish_and_hold(mut self, outcome: Outcome) -> Storing {
        let (stored_tx, stored_rx) = oneshot::channel();
        if let Some(flight) = self.flights.lock().get_mut(&self.key)
            && flight.id == self.id
        {
            flight.published = Some((outcome.clone(), stored_rx.shared()));
        }
        self.send(outcome);
        Storing { _leader: self, _stored: stored_tx }
    }

    fn send(&mut self, outcome: Outcome) {
        if let Some(tx) = self.tx.take() {
            // No follower listening is fine.
            let _ = tx.send(outcome);
        }
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        let mut map = self.flights.lock();
        if map.get(&self.key).is_some_and(|flight| flight.id == self.id) {
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
        let Role::Leader(leader) = flights.join("k", None) else { panic!("first caller leads") };
        let Role::Follower(waiter) = flights.join("k", None) else { panic!("second caller follows") };
        leader.publish(Outcome::NotStorable);
        assert!(matches!(waiter.await, Ok(Outcome::NotStorable)));
        assert_eq!(flights.in_flight(), 0);

        let Role::Leader(leader) = flights.join("k", None) else { panic!("a finished key starts a new flight") };
        let Role::Follower(waiter) = flights.join("k", None) else { panic!() };
        drop(leader);
        assert!(waiter.await.is_err());
        assert_eq!(flights.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_request_that_joins_while_the_entry_is_stored_gets_it_at_once() {
        let flights = Arc::new(Flights::default());
        let Role::Leader(leader) = flights.join("k", None) else { panic!("first caller leads") };
        let Role::Follower(waiter) = flights.join("k", None) else { panic!("second caller follows") };
        assert!(flights.storing("k").is_none(), "a render in progress is not a store");
        let storing = leader.publish_and_hold(Outcome::NotStorable);
        assert!(matches!(waiter.await, Ok(Outcome::NotStorable)));
        assert!(matches!(flights.join("k", None), Role::Published(Outcome::NotStorable, _)), "no wait, no new render");
        let stored = flights.storing("k").expect("the store is in progress");
        assert_eq!(flights.in_flight(), 1);
        drop(storing);
        assert!(stored.await.is_err(), "resolves when the store has finished");
        assert_eq!(flights.in_flight(), 0);
        assert!(matches!(flights.join("k", None), Role::Leader(_)), "then the next miss renders afresh");
    }
}

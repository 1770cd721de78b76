//! [`ChangeFeed`]: changes to a backend's keys made by any process, as the backend itself reports
//! them (Redis client tracking), for an in-process tier to evict what it holds.
//!
//! An optional capability: [`BaseCache::change_feed`](crate::BaseCache::change_feed) returns
//! `None` unless a backend can tell. The tier (cachette-tiered) asks for a feed and, without one,
//! uses an invalidation bus or bounds staleness by its own time-to-live; a backend never needs to
//! know that a tier exists, and the tier never needs to know which backend it is over.
//!
//! # What a feed promises
//!
//! * It sends [`Change::Following`] only when every change made after that moment will be
//!   reported, and before that (at start) nothing it sends may be relied on.
//! * A change is reported *after* it is visible to readers of the backend: a read that begins
//!   after the report sees the new value. (Redis sends an invalidation after executing the
//!   write.)
//! * As soon as it may have missed a change (a connection dropped or stopped answering, the
//!   servers it follows changed) it sends [`Change::Lost`], and [`Change::Following`] again only
//!   once it is complete again. A receiver keeps nothing from the backend in between.
//! * Keys are the cache's keys as [`BaseCache`](crate::BaseCache) names them, not the backend's
//!   stored form; changes the backend cannot map back to a key of this cache are not sent.
//!
//! A feed is a stream of [`Change`]s produced by a future that the receiving end drives:
//! [`ChangeFeed::next`] polls both, so the producer needs no task of its own, runs on whatever
//! runtime polls the feed, and stops when the feed is dropped.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use tokio::sync::mpsc;

/// What a [`ChangeFeed`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The feed now reports every change: values read from the backend from here on may be
    /// kept until a change of their key is reported. Sent at start and after each
    /// [`Lost`](Change::Lost), once the feed is complete again.
    Following,
    /// The feed may have missed changes (its connection dropped, the servers changed): anything
    /// kept from the backend may be stale and must not be served until the next
    /// [`Following`](Change::Following).
    Lost,
    /// These keys of the cache (as the trait names them, without the backend's prefix) changed.
    Keys(Vec<String>),
    /// Any key may have changed (the backend's database was flushed).
    All,
}

/// The producing end of a [`ChangeFeed`].
#[derive(Debug, Clone)]
pub struct ChangeSender(mpsc::UnboundedSender<Change>);

impl ChangeSender {
    /// Reports `change`; `false` once the feed has been dropped (the producer should end).
    pub fn send(&self, change: Change) -> bool {
        self.0.send(change).is_ok()
    }

    /// Whether the feed has been dropped.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

type Producer = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Changes to a backend's keys made by any process (see the [module docs](self)).
///
/// ```
/// use cachette_core::change_feed::{Change, ChangeFeed};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut feed = ChangeFeed::new(|changes| async move {
///     changes.send(Change::Following);
///     changes.send(Change::Keys(vec!["user:7".to_owned()]));
/// });
/// assert_eq!(feed.next().await, Some(Change::Following));
/// assert_eq!(feed.next().await, Some(Change::Keys(vec!["user:7".to_owned()])));
/// assert_eq!(feed.next().await, None, "the producer ended");
/// # }
/// ```
pub struct ChangeFeed {
    changes: mpsc::UnboundedReceiver<Change>,
    producer: Option<Producer>,
}

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed").field("producing", &self.producer.is_some()).finish()
    }
}

impl ChangeFeed {
    /// A feed whose changes `produce` sends. The future runs only while [`next`](Self::next) is
    /// awaited (so it starts at the first call, on the caller's runtime), and is dropped with
    /// the feed.
    pub fn new<F, Fut>(produce: F) -> ChangeFeed
    where
        F: FnOnce(ChangeSender) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (sender, changes) = mpsc::unbounded_channel();
        ChangeFeed { changes, producer: Some(Box::pin(produce(ChangeSender(sender)))) }
    }

    /// The next change, driving the producer meanwhile; `None` once the producer has ended and
    /// every change it sent has been taken.
    pub async fn next(&mut self) -> Option<Change> {
        std::future::poll_fn(|cx| {
            if let Poll::Ready(change) = self.changes.poll_recv(cx) {
                return Poll::Ready(change);
            }
            if let Some(producer) = self.producer.as_mut()
                && producer.as_mut().poll(cx).is_ready()
            {
                // Its sender is dropped with it: what it sent is still queued, then the end.
                self.producer = None;
                return self.changes.poll_recv(cx);
            }
            Poll::Pending
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn changes_sent_before_the_producer_ends_are_all_taken() {
        let mut feed = ChangeFeed::new(|changes| async move {
            for change in [Change::Following, Change::All, Change::Lost] {
                assert!(changes.send(change));
            }
        });
        let mut got = Vec::new();
        while let Some(change) = feed.next().await {
            got.push(change);
        }
        assert_eq!(got, [Change::Following, Change::All, Change::Lost]);
    }

    #[tokio::test]
    async fn a_dropped_feed_drops_its_producer_and_closes_every_sender() {
        let (keep, kept) = tokio::sync::oneshot::channel();
        let mut feed = ChangeFeed::new(|changes| {
            let _ = keep.send(changes.clone());
            async move {
                changes.send(Change::Following);
                std::future::pending::<()>().await;
            }
        });
        assert_eq!(feed.next().await, Some(Change::Following));
        let sender = kept.await.unwrap();
        assert!(!sender.is_closed());
        drop(feed);
        assert!(sender.is_closed());
        assert!(!sender.send(Change::All));
    }
}

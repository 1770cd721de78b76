//! Following the backend's own [`ChangeFeed`] (Redis client tracking): the tier's invalidation
//! channel when the backend offers one and no bus is configured.
//!
//! The feed runs in a task of the tokio runtime: the one current when the tier is built, or, for
//! a tier built outside any runtime (a `static` initialised early), the one of the first read or
//! write, which goes to the backend anyway, since the tier is bypassed until the feed follows.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Weak};

use cachette_core::change_feed::{Change, ChangeFeed};
use tokio::task::JoinHandle;

use crate::tier::Tier;

/// The task that applies a change feed to a tier.
pub(crate) struct FeedListener {
    state: Mutex<State>,
    running: AtomicBool,
}

enum State {
    /// Not started: no runtime was current yet.
    Waiting(ChangeFeed, Weak<Tier>),
    Running(JoinHandle<()>),
    /// Taken out while starting.
    Empty,
}

impl Drop for FeedListener {
    fn drop(&mut self) {
        if let State::Running(task) = &*self.state.lock().unwrap_or_else(|p| p.into_inner()) {
            task.abort();
        }
    }
}

impl FeedListener {
    /// Follows `feed` for `tier`, from now if a runtime is current.
    pub(crate) fn new(feed: ChangeFeed, tier: Weak<Tier>) -> FeedListener {
        let listener = FeedListener { state: Mutex::new(State::Waiting(feed, tier)), running: AtomicBool::new(false) };
        listener.start();
        listener
    }

    /// Starts the task if it is not running and a runtime is current (one atomic load once it runs).
    pub(crate) fn start(&self) {
        if self.running.load(Ordering::Acquire) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let State::Waiting(feed, tier) = std::mem::replace(&mut *state, State::Empty) {
            *state = State::Running(runtime.spawn(listen(feed, tier)));
            self.running.store(true, Ordering::Release);
        }
    }
}

/// Applies the feed's changes until the tier is dropped. A feed that ends (it never should while
/// it is polled) leaves the tier bypassed: nothing would report changes any more.
async fn listen(mut feed: ChangeFeed, tier: Weak<Tier>) {
    while let Some(change) = feed.next().await {
        let Some(tier) = tier.upgrade() else { return };
        match change {
            Change::Following => tier.resume(),
            Change::Lost => tier.suspend(),
            Change::Keys(keys) => {
                for key in &keys {
                    tier.evict(key);
                    tier.received();
                }
            }
            Change::All => {
                tier.flush();
                tier.received();
            }
        }
    }
    if let Some(tier) = tier.upgrade() {
        tracing::error!("the backend's change feed ended; the in-process tier stays bypassed");
        tier.suspend();
    }
}

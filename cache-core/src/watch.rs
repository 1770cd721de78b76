//! [`KeyWatch`]: a backend's word that a key is unchanged since a moment, for keeping in process
//! something derived from the key's value without reading the key again.
//!
//! An optional capability: [`BaseCache::watch`](crate::BaseCache::watch) returns `None` unless a
//! backend can tell. The in-process tier (cachette-tiered) can, while its invalidation channel
//! follows; memoize uses it to keep a function's version in process on a shared backend (see
//! `cache/kept.rs`; tags' versions are kept the same way).

use std::fmt;

/// A watch on one key, taken before a read of it: [`unchanged`](KeyWatch::unchanged) stays `true`
/// while the backend would still answer a read of the key with what a read begun when the watch
/// was taken answered, and turns `false` (for good) as soon as it may not.
///
/// It is as coherent as the backend's own reads, no more: a change made by another process that
/// the backend has not been told of yet (an invalidation in flight) does not turn it. It may turn
/// without a change (a change of another key, a lost channel): the holder then reads the key
/// again.
pub struct KeyWatch(Box<dyn Fn() -> bool + Send + Sync>);

impl KeyWatch {
    /// A watch that holds while `unchanged()` returns `true`. `unchanged` is called on the hot
    /// path of its holder (memoize: every call): it must be cheap, must not block, and once it
    /// has returned `false` must never return `true` again.
    pub fn new(unchanged: impl Fn() -> bool + Send + Sync + 'static) -> KeyWatch {
        KeyWatch(Box::new(unchanged))
    }

    /// Whether the key is unchanged since the watch was taken, as far as the backend knows.
    pub fn unchanged(&self) -> bool {
        (self.0)()
    }
}

impl fmt::Debug for KeyWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyWatch").field("unchanged", &self.unchanged()).finish()
    }
}

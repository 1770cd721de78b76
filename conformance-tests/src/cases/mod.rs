//! The conformance cases. Each takes a [`Ctx`] and panics with a message naming the case and what
//! differed when the backend does not behave as [`BaseCache`] documents.
//!
//! Every case is a function of this module, in three groups:
//!
//! * universal: true of every backend, including one that stores nothing
//!   ([`UNIVERSAL_CASES`](crate::UNIVERSAL_CASES));
//! * storing: reads, writes, counters, expiry, keys and values, the typed facade; each reads back
//!   what was written ([`STORING_CASES`](crate::STORING_CASES));
//! * storeless: the documented answers of a backend that stores nothing
//!   ([`STORELESS_CASES`](crate::STORELESS_CASES)).

use std::sync::Arc;
use std::time::Duration;

use cachette_core::{BaseCache, Bytes, Ttl};

#[cfg(doc)]
use crate::Ctx;

mod counters;
mod expiry;
mod facade;
mod keys_and_values;
mod reads_and_writes;
mod storeless;
mod tags;
mod universal;

pub use counters::*;
pub use expiry::*;
pub use facade::*;
pub use keys_and_values::*;
pub use reads_and_writes::*;
pub use storeless::*;
pub use tags::*;
pub use universal::*;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn long_ttl() -> Ttl {
    Ttl::After(Duration::from_secs(600))
}

/// `get`, and the backend's answer at once when it gives one: the two must agree (see
/// [`BaseCache::get_at_once`]).
async fn get(cache: &Arc<dyn BaseCache>, key: &str) -> Option<Bytes> {
    let value = cache.get(key).await.unwrap_or_else(|e| panic!("get({key:?}) failed: {e}"));
    if let Some(at_once) = cache.get_at_once(key) {
        let at_once = at_once.unwrap_or_else(|e| panic!("get_at_once({key:?}) failed: {e}"));
        assert_eq!(at_once, value, "get_at_once({key:?}) differs from get({key:?})");
    }
    value
}

async fn set(cache: &Arc<dyn BaseCache>, key: &str, value: Bytes, ttl: Ttl) {
    cache.set(key, value, ttl).await.unwrap_or_else(|e| panic!("set({key:?}) failed: {e}"))
}

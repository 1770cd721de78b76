//! The core of [cachette](https://docs.rs/cachette): the [`BaseCache`] trait every backend
//! implements, [`Ttl`], [`CacheError`], the value [`codec`], [`Config`] (Flask-Caching's `CACHE_*`
//! keys), the backend [`Registry`], and the typed [`Cache`] facade with `get_or_set`,
//! [`SingleFlight`] and [`Memoized`] functions.
//!
//! Applications depend on the `cachette` crate, which re-exports this one and registers the
//! backends enabled by its cargo features. Authors of a backend depend on this crate alone.

pub mod admin;
#[cfg(feature = "axum")]
mod axum;
mod backend;
mod cache;
pub mod change_feed;
pub mod codec;
pub mod config;
mod error;
pub mod fail_safe;
mod memoize;
pub mod observe;
mod registry;
mod single_flight;
pub mod suggest;
#[cfg(test)]
mod test_log;
#[cfg(feature = "tls")]
pub mod tls;
mod ttl;
mod watch;

pub use admin::Admin;
pub use async_trait::async_trait;
pub use backend::BaseCache;
pub use bytes::Bytes;
pub use cache::{Cache, CacheStats, Lease, Leased, LoadPolicy, TagsSeen, early_refresh_due};
pub use config::{Config, ConfigValue, Options};
pub use error::{BoxError, CacheError, ErrorSource, Result, shorten};
pub use fail_safe::{BreakerState, BreakerStats, FailSafePolicy};
pub use memoize::{Condition, Memoized};
pub use observe::{CacheEvent, EventKind, EventSource};
pub use registry::{Factory, LinkedBackend, Registry, Wrapper};

#[doc(hidden)]
pub use inventory as __inventory;
pub use single_flight::SingleFlight;
pub use ttl::{DEFAULT_TIMEOUT, Expiry, Ttl};
pub use watch::KeyWatch;

//! The conformance suite that every cachette backend passes — the built-in ones and yours.
//!
//! One macro call in a test file runs every case against a backend, each case as its own test:
//!
//! ```
//! // tests/conformance.rs of a backend crate
//! use std::sync::Arc;
//! use cachette_core::{BaseCache, Config};
//! use cachette_simple::SimpleCache;
//!
//! cachette_conformance::conformance_suite!(simple, |config: Config| async move {
//!     Ok(Arc::new(SimpleCache::new(&config)?) as Arc<dyn BaseCache>)
//! });
//! # fn main() {}
//! ```
//!
//! The factory receives a [`Config`](cachette_core::Config) with the key prefix and default timeout
//! that a case needs (every case uses its own random prefix, so cases can share one server) and
//! fills in its own settings (server address, directory, ...). A backend whose expiry has a coarse
//! resolution says so with [`Backend::with_ttl_resolution`], and the expiry cases wait accordingly.
//!
//! A backend that stores nothing (like `NullCache`) runs the [`UNIVERSAL_CASES`] and
//! [`STORELESS_CASES`] with `conformance_suite!(name, factory, stores_nothing)`; the
//! [`STORING_CASES`] are skipped for it, because each reads back a value that was written.
//!
//! # Contents
//!
//! * [`conformance_suite!`]: one `#[test]` per case for your backend;
//! * [`Backend`] and [`BackendFactory`]: what the suite builds caches with;
//! * [`cases`]: every case, callable one by one with [`run_case`] and a [`Ctx`];
//! * [`change_feed`] and [`change_feed_suite!`]: the cases of a backend's change feed;
//! * the real-server harness (cargo feature `harness`): redis, sentinel, cluster and memcached
//!   on loopback, for backends that need a server.
#![cfg_attr(
    all(feature = "harness", unix),
    doc = "\n# The harness\n\nThe [`harness`] module starts real servers (redis, sentinel, cluster, memcached) on \
           loopback for the backends that need them, or uses the servers that environment variables name."
)]
//!
//! # Cargo features
//!
//! * `harness` (on by default, Unix only): the `harness` module, which starts real servers as
//!   local processes and cleans them up when the test process ends. It needs Unix process control
//!   (and, to kill the servers of a test process that dies on a signal, Linux's
//!   `PR_SET_PDEATHSIG`), so it is not built on Windows. A backend that needs no server depends
//!   on the suite alone, on any platform:
//!
//! ```toml
//! [dev-dependencies]
//! cachette-conformance = { version = "0.1", default-features = false }
//! ```

mod backend;
pub mod cases;
pub mod change_feed;
mod ctx;
#[cfg(all(feature = "harness", unix))]
pub mod harness;
pub mod isolation;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod properties;
pub mod spans;
mod suite;

pub use backend::{Backend, BackendFactory};
pub use ctx::{CASE_TIMEOUT, Ctx, run_case};
pub use suite::{STORELESS_CASES, STORING_CASES, TYPED_CASES, UNIVERSAL_CASES};

#[doc(hidden)]
pub mod __private {
    pub use async_trait::async_trait;
}

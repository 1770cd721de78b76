//! Cached HTTP views for tower and axum: what Flask-Caching's `@cache.cached` does for a Flask
//! view, plus what its users had to bolt on by hand.
//!
//! [`CacheLayer`] is a tower `Layer` for an axum `Router`, a single route, or any tower `Service`
//! of `http::Request`s. It stores whole responses in a cachette [`Cache`](cachette_core::Cache) (any
//! backend), and adds:
//!
//! * **Dynamic freshness**: fixed, [`Freshness::until_midnight`], computed per response
//!   ([`Freshness::from_fn`]), or set by the handler on its own response ([`CacheTtl`]).
//! * **Stale-while-revalidate**: past the fresh period and within a margin, the stored response is
//!   served at once while one background refresh renders a new one; a [`Refresher`] re-renders
//!   named routes on a schedule.
//! * **Client caching**: a [`CacheControl`] policy per route, a strong ETag from the body's hash
//!   (the same in every process and after restarts), `Last-Modified`, `304 Not Modified` for
//!   `If-None-Match` / `If-Modified-Since`, and `X-Cache: HIT | MISS | STALE`.
//! * **No stampedes**: concurrent misses of one key call the handler once.
//! * **Shared-cache safety**: requests with `Authorization` or `Cookie` and responses with
//!   `Set-Cookie`, `no-store` or `private` are not cached unless the route caches
//!   [`per_user`](CacheLayer::per_user); a response's `Vary` is honoured.
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, routing::get};
//! use cachette_core::{Cache, Config, Ttl};
//! use cachette_http::{CacheControl, CacheLayer, Freshness};
//! # use cachette_core::{async_trait, BaseCache, Bytes, Result};
//! # use std::{collections::HashMap, sync::{Arc, Mutex}};
//! # #[derive(Default)] struct MapCache(Mutex<HashMap<String, Bytes>>);
//! # #[async_trait] impl BaseCache for MapCache {
//! #   fn type_name(&self) -> &'static str { "MapCache" }
//! #   async fn get(&self, k: &str) -> Result<Option<Bytes>> { Ok(self.0.lock().unwrap().get(k).cloned()) }
//! #   async fn set(&self, k: &str, v: Bytes, _: Ttl) -> Result<()> { self.0.lock().unwrap().insert(k.into(), v); Ok(()) }
//! #   async fn add(&self, k: &str, v: Bytes, _: Ttl) -> Result<bool> { let mut m = self.0.lock().unwrap(); if m.contains_key(k) { return Ok(false) } m.insert(k.into(), v); Ok(true) }
//! #   async fn delete(&self, k: &str) -> Result<bool> { Ok(self.0.lock().unwrap().remove(k).is_some()) }
//! #   async fn inc(&self, k: &str, d: i64) -> Result<i64> { Ok(d) }
//! #   async fn touch(&self, k: &str, _: Ttl) -> Result<bool> { Ok(self.0.lock().unwrap().contains_key(k)) }
//! #   async fn clear(&self) -> Result<()> { self.0.lock().unwrap().clear(); Ok(()) }
//! # }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
//! // In an application: `cachette::Cache::from_env()?` (SimpleCache, Redis, ... by CACHE_TYPE).
//! let cache = Cache::new(Arc::new(MapCache::default()), Config::default());
//!
//! let daily = CacheLayer::new(cache.clone())
//!     .fresh_for(Freshness::until_midnight(0)) // fresh until 00:00 UTC
//!     .cache_control(CacheControl::public().max_age_until_expiry());
//! let slow = CacheLayer::new(cache.clone())
//!     .fresh_for(Duration::from_secs(10))
//!     .stale_while_revalidate(Duration::from_secs(60));
//!
//! let app = Router::new()
//!     .route("/daily", get(|| async { "today's numbers" }).layer(daily))
//!     .route("/slow", get(|| async { "took a while" }).layer(slow));
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(async move { axum::serve(listener, app).await });
//!
//! let client = reqwest::Client::new();
//! let first = client.get(format!("http://{addr}/daily")).send().await?;
//! assert_eq!(first.headers()["x-cache"], "MISS");
//! let etag = first.headers()["etag"].clone();
//! let again = client.get(format!("http://{addr}/daily")).header("if-none-match", etag).send().await?;
//! assert_eq!(again.status(), 304);
//! assert_eq!(again.headers()["x-cache"], "HIT");
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod body;
mod call;
mod clock;
mod conditional;
mod entry;
mod flight;
mod freshness;
mod future;
mod hit;
mod key;
mod layer;
mod miss;
mod policy;
mod refresh;
mod service;
mod shared;
mod stats;
mod store;

pub use body::CacheBody;
pub use call::X_CACHE;
pub use clock::Clock;
pub use conditional::strong_etag;
pub use freshness::{CacheTtl, Freshness, FreshnessFn, next_midnight};
pub use future::ResponseFuture;
pub use key::{KeyFn, UserFn};
pub use layer::{CacheLayer, DEFAULT_MAX_BODY_SIZE};
pub use policy::{CacheControl, MaxAge};
pub use refresh::{Refresher, RefresherHandle};
pub use service::{CacheService, Revalidate};
pub use shared::{ResponseFilterFn, UnlessFn};
pub use stats::HttpCacheStats;

//! cachette-http over real HTTP: axum bound to 127.0.0.1, reqwest as the client. Every case runs on
//! SimpleCache, on RedisCache (a real redis-server from the harness) and on MemcachedCache (a real
//! memcached): the layer behaves the same on each backend.
//!
//! One test binary with a module per topic (`keys::redis::head_is_served_from_the_get_entry`):
//! each binary would start its own servers and link axum, reqwest and every backend again.

/// Runs each case, an `async fn(Cache)` of the calling module, on each backend:
/// `simple::case`, `redis::case` and `memcached::case`.
macro_rules! on_every_backend {
    ($($case:ident),* $(,)?) => {
        on_every_backend!(@on simple: $($case),*);
        on_every_backend!(@on redis: $($case),*);
        on_every_backend!(@on memcached: $($case),*);
    };
    (@on $backend:ident: $($case:ident),*) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(crate::support::$backend(stringify!($case)).await).await
                }
            )*
        }
    };
}

mod backends;
mod support;

mod any_service;
mod cache_control;
mod conditional;
mod failing_handlers;
mod failures;
mod freshness;
mod invalidation;
mod keys;
mod midnight;
mod misses;
mod observe;
mod options;
mod outages;
mod poisoning;
mod safety;
mod spans;
mod stale;
mod stored;

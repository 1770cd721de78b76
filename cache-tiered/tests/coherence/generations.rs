//! The generation cases: process A invalidates 200 times what process B (this binary re-run as
//! a reader) computes with four concurrent tasks, by one of two mechanisms ([`Via`]):
//!
//! * memoize: A forgets every result of a memoized function (`delete_memoized_all`); B calls the
//!   function;
//! * tags: A invalidates a tag (`invalidate_tag`); B reads a value loaded under that tag
//!   (`get_or_set_with`, a `LoadPolicy` with the tag).
//!
//! On a tier that follows its channel B keeps the function's version, or the tag's, in process
//! (under the tier's `KeyWatch`, see cachette-core's `cache/kept.rs`), so these are the cases
//! that show a kept version is dropped when the invalidation arrives.
//!
//! B's result is a generation: before its `i`-th invalidation, A writes `i` to the key `gen` in
//! the backend itself (not through its tier, so that on the bus it publishes nothing), and B's
//! loader reads `gen` from its backend. B's result computed after A's `i`-th invalidation is
//! then `i`.
//!
//! * The window: from the start of A's `i`-th invalidation to B's first call that returns `i`;
//!   p50, p99 and max printed. It includes B's reload (a version drawn or read, a lease, `gen`
//!   read, the result stored: several round trips), so it is longer than the main case's. A
//!   waits for it (10 s at most) before the next: a version kept after the invalidation would
//!   leave B returning `i - 1` for ever.
//! * Stale results, which must be 0: a call in B that returned less than a generation returned
//!   by a call that ended before it began (results went back in time), or, on the bus, less
//!   than the number of A's invalidations B had applied when it began (on the bus B receives
//!   only A's publishes, one per invalidation; with client tracking B also receives every write,
//!   its own included, so the count says nothing there).
//! * Halfway, every connection of the channel is killed, as in the main case.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::Duration;

use cachette_core::{BaseCache, Bytes, Cache, Config, LoadPolicy, Ttl};

use crate::scenario::{self, Kind, Scenario};
use crate::{
    Event, assert_coherent, end_reader, exit_with_the_writer, now_nanos, report_reader, start_reader, summary,
};

/// A's invalidations.
const FORGETS: u64 = 200;
/// B's concurrent calling tasks.
const CALLERS: usize = 4;
const FUNCTION: &str = "coherence::generation";
const TAG: &str = "generation";

/// How A invalidates what B computes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Via {
    Memoize,
    Tag,
}

impl Via {
    /// The value of [`ROLE`](crate::ROLE) that makes this binary B of this case.
    pub(crate) fn reader_role(self) -> &'static str {
        match self {
            Via::Memoize => "memoize",
            Via::Tag => "tag",
        }
    }

    /// The case whose B runs in `role`.
    pub(crate) fn of_role(role: &str) -> Option<Via> {
        [Via::Memoize, Via::Tag].into_iter().find(|via| via.reader_role() == role)
    }

    /// What A does to make B compute again.
    async fn invalidate(self, a: &Cache) {
        match self {
            Via::Memoize => a.delete_memoized_all(FUNCTION).await.unwrap(),
            Via::Tag => a.invalidate_tag(TAG).await.unwrap(),
        }
    }

    /// One call of B: the generation, from the cache or computed now.
    async fn call(self, b: &Cache, backend: &Arc<dyn BaseCache>) -> u64 {
        let backend = backend.clone();
        let load = move || async move { read_generation(&backend).await };
        match self {
            Via::Memoize => b.memoized(FUNCTION, Ttl::Never).call(&(), load).await.unwrap(),
            Via::Tag => {
                let policy = LoadPolicy::new(Duration::from_secs(3600)).tags([TAG]);
                b.get_or_set_with("generation", &policy, load).await.unwrap()
            }
        }
    }
}

/// The generation A last wrote, read from the backend under the tier.
async fn read_generation(backend: &Arc<dyn BaseCache>) -> std::io::Result<u64> {
    let bytes = backend.get("gen").await.map_err(std::io::Error::other)?;
    let bytes = bytes.ok_or_else(|| std::io::Error::other("A writes gen before B starts"))?;
    Ok(std::str::from_utf8(&bytes).unwrap().parse().unwrap())
}

/// Process A.
pub(crate) async fn writer(kind: Kind, via: Via) {
    let scenario = Scenario::start(kind);
    let settings = scenario.settings();
    let config = Config::from_map(settings.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
    let tier = scenario::tiered(&config).await;
    let backend = tier.backend().clone();
    let a = Cache::new(tier, config);
    backend.set("gen", Bytes::from_static(b"0"), Ttl::Never).await.unwrap();
    let (b, lifeline, events) = start_reader(via.reader_role(), &settings);
    let mut windows = Vec::new();
    for i in 1..=FORGETS {
        if i == FORGETS / 2 {
            println!("{}: killed {} connections of the invalidation channel", kind.name(), scenario.kill_channel());
        }
        backend.set("gen", Bytes::from(i.to_string()), Ttl::Never).await.unwrap();
        let started = now_nanos();
        via.invalidate(&a).await;
        match events.next(&format!("generation {i}")) {
            Event::Seen(seen, at) if seen == i => windows.push(at.saturating_sub(started)),
            other => panic!("expected generation {i} seen, got {other:?}"),
        }
    }
    let (stale, losses) = end_reader(b, lifeline, &events).await;
    println!(
        "{}: {via:?} invalidations {}; stale results: {stale:?}; B's channel losses: {losses:?}",
        kind.name(),
        summary(windows),
    );
    assert_coherent(stale, losses, "no call returned a result older than one B had already seen or been told of");
}

/// Process B: prints `seen <i> <nanos>` the first time a call returns generation `i`, and at the
/// end `stale <count>` and `losses <count>`.
pub(crate) async fn reader(via: Via) {
    exit_with_the_writer();
    let config = Config::from_env().expect("the writer passes a valid CACHE_* environment");
    let on_bus = config.l1_bus_url.is_some();
    let tier = scenario::tiered(&config).await;
    let backend = tier.backend().clone();
    let b = Cache::new(tier.clone(), config);
    println!("ready");
    let max_seen = Arc::new(AtomicU64::new(0));
    let stale = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (tier, backend, b, max_seen, stale) =
                (tier.clone(), backend.clone(), b.clone(), max_seen.clone(), stale.clone());
            tokio::spawn(async move {
                while max_seen.load(Ordering::SeqCst) < FORGETS {
                    // Both taken before the call begins: what B knew when it called.
                    let applied = if on_bus { tier.invalidations_received() } else { 0 };
                    let seen_before = max_seen.load(Ordering::SeqCst);
                    let i = via.call(&b, &backend).await;
                    let at = now_nanos();
                    if i < seen_before.max(applied) {
                        stale.fetch_add(1, Ordering::SeqCst);
                    }
                    if max_seen.fetch_max(i, Ordering::SeqCst) < i {
                        println!("seen {i} {at}");
                    }
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    report_reader(tasks, &stale, || tier.channel_losses()).await;
}

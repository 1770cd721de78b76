//! The memoize case: process A forgets every result of a memoized function
//! (`delete_memoized_all`) 200 times; process B (this binary re-run as a memoize reader) calls the
//! function with four concurrent tasks. On a tier that follows its channel B keeps the function's
//! version in process (under the tier's `KeyWatch`, see cachette-core's `memoize/versions.rs`),
//! so this is the case that shows the kept version is dropped when the invalidation arrives.
//!
//! The function's result is a generation: before its `i`-th `delete_memoized_all`, A writes `i`
//! to the key `gen` in the backend itself (not through its tier, so that on the bus it publishes
//! nothing), and B's loader reads `gen` from its backend. B's result under the version drawn
//! after A's `i`-th forget is then `i`.
//!
//! * The window: from the start of A's `i`-th forget to B's first call that returns `i`; p50,
//!   p99 and max printed. It includes B's reload (a version drawn, a lease, `gen` read, the
//!   result stored: several round trips), so it is longer than the main case's. A waits for it (10 s at most) before the next: a version kept after
//!   the invalidation would leave B returning `i - 1` for ever.
//! * Stale results, which must be 0: a call in B that returned less than a generation returned
//!   by a call that ended before it began (results went back in time), or, on the bus, less
//!   than the number of A's forgets B had applied when it began (on the bus B receives only A's
//!   publishes, one per forget; with client tracking B also receives every write, its own
//!   included, so the count says nothing there).
//! * Halfway, every connection of the channel is killed, as in the main case.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cachette_core::{BaseCache, Bytes, Cache, Config, Memoized, Ttl};

use crate::scenario::{self, Kind, Scenario};
use crate::{Event, end_reader, exit_with_the_writer, now_nanos, start_reader, summary};

/// A's `delete_memoized_all`s.
const FORGETS: u64 = 200;
/// The value of [`ROLE`](crate::ROLE) that makes this binary B of this case.
pub(crate) const READER: &str = "memoize";
/// B's concurrent calling tasks.
const CALLERS: usize = 4;
const FUNCTION: &str = "coherence::generation";

fn generation(cache: &Cache) -> Memoized {
    cache.memoized(FUNCTION, Ttl::Never)
}

/// The generation A last wrote, read from the backend under the tier.
async fn read_generation(backend: &Arc<dyn BaseCache>) -> std::io::Result<u64> {
    let bytes = backend.get("gen").await.map_err(std::io::Error::other)?;
    let bytes = bytes.ok_or_else(|| std::io::Error::other("A writes gen before B starts"))?;
    Ok(std::str::from_utf8(&bytes).unwrap().parse().unwrap())
}

/// Process A.
pub(crate) async fn writer(kind: Kind) {
    let scenario = Scenario::start(kind);
    let settings = scenario.settings();
    let config = Config::from_map(settings.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
    let tier = scenario::tiered(&config).await;
    let backend = tier.backend().clone();
    let a = Cache::new(tier, config);
    backend.set("gen", Bytes::from_static(b"0"), Ttl::Never).await.unwrap();
    let (b, lifeline, events) = start_reader(READER, &settings);
    let mut windows = Vec::new();
    for i in 1..=FORGETS {
        if i == FORGETS / 2 {
            println!("{}: killed {} connections of the invalidation channel", kind.name(), scenario.kill_channel());
        }
        backend.set("gen", Bytes::from(i.to_string()), Ttl::Never).await.unwrap();
        let started = now_nanos();
        a.delete_memoized_all(FUNCTION).await.unwrap();
        match events.next(&format!("generation {i}")) {
            Event::Seen(seen, at) if seen == i => windows.push(at.saturating_sub(started)),
            other => panic!("expected generation {i} seen, got {other:?}"),
        }
    }
    let (stale, losses) = end_reader(b, lifeline, &events).await;
    println!(
        "{}: delete_memoized_all {}; stale results: {stale:?}; B's channel losses: {losses:?}",
        kind.name(),
        summary(windows),
    );
    assert_eq!(stale, Event::Stale(0), "no call returned a result older than one B had already seen or been told of");
    assert!(matches!(losses, Event::Losses(n) if n >= 1), "B noticed that its channel was killed");
}

/// Process B: prints `seen <i> <nanos>` the first time a call returns generation `i`, and at the
/// end `stale <count>` and `losses <count>`.
pub(crate) async fn reader() {
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
            let (tier, backend, function, max_seen, stale) =
                (tier.clone(), backend.clone(), generation(&b), max_seen.clone(), stale.clone());
            tokio::spawn(async move {
                while max_seen.load(Ordering::SeqCst) < FORGETS {
                    // Both taken before the call begins: what B knew when it called.
                    let applied = if on_bus { tier.invalidations_received() } else { 0 };
                    let seen_before = max_seen.load(Ordering::SeqCst);
                    let backend = backend.clone();
                    let i = function.call(&(), || async move { read_generation(&backend).await }).await.unwrap();
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
    for task in tasks {
        task.await.unwrap();
    }
    println!("stale {}", stale.load(Ordering::SeqCst));
    println!("losses {}", tier.channel_losses());
}

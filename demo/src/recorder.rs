//! [`Recorder`]: the demo's [`Timeline`]s, one per cached route and memoized function, filled by a
//! timing middleware around the cached routes (the `X-Cache` each answer carries, and its time)
//! and by a [`Cache::on_event`] hook (each memoized function's hits and misses).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use cachette::observe::Series;
use cachette::{Cache, CacheEvent, EventKind, EventSource};

use crate::timeline::{Outcome, Timeline};

/// Where the time comes from: the wall clock, or a test's.
type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The timelines of the routes and functions, shared by the middleware, the hook and `/stats`.
#[derive(Clone)]
pub struct Recorder {
    timelines: Arc<Mutex<Timelines>>,
    clock: Clock,
}

#[derive(Default)]
struct Timelines {
    routes: BTreeMap<String, Timeline>,
    functions: BTreeMap<String, Timeline>,
}

impl Default for Recorder {
    fn default() -> Recorder {
        Recorder::with_clock(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
    }
}

impl Recorder {
    /// A recorder whose seconds come from `clock` (Unix seconds).
    pub fn with_clock(clock: impl Fn() -> u64 + Send + Sync + 'static) -> Recorder {
        Recorder { timelines: Arc::default(), clock: Arc::new(clock) }
    }

    /// Counts `cache`'s memoized functions' hits and misses from now on.
    pub fn follow(&self, cache: &Cache) {
        let recorder = self.clone();
        cache.on_event(move |event| recorder.event(event));
    }

    fn event(&self, event: &CacheEvent<'_>) {
        // Views are counted by the middleware, from the answer each request got.
        let EventSource::Memoized { function } = event.source else { return };
        let outcome = match event.kind {
            EventKind::Hit => Outcome::Hit,
            EventKind::Miss => Outcome::Miss,
            _ => return,
        };
        let now = (self.clock)();
        self.lock().functions.entry(function.to_owned()).or_insert_with(|| Timeline::new(now)).count(now, outcome);
    }

    /// Records one call of the memoized `function` that took `took` (hits and misses come from
    /// the hook).
    pub fn time_function(&self, function: &str, took: Duration) {
        let now = (self.clock)();
        self.lock().functions.entry(function.to_owned()).or_insert_with(|| Timeline::new(now)).time(now, took);
    }

    /// Records one request to `route`, answered as `outcome` (`None`: the cache was bypassed)
    /// in `took`.
    pub fn route(&self, route: &str, outcome: Option<Outcome>, took: Duration) {
        let now = (self.clock)();
        let mut timelines = self.lock();
        let timeline = timelines.routes.entry(route.to_owned()).or_insert_with(|| Timeline::new(now));
        if let Some(outcome) = outcome {
            timeline.count(now, outcome);
        }
        timeline.time(now, took);
    }

    /// Every route's and function's series as of now.
    pub fn series(&self) -> (BTreeMap<String, Series>, BTreeMap<String, Series>) {
        let now = (self.clock)();
        let mut timelines = self.lock();
        let all = |map: &mut BTreeMap<String, Timeline>| -> BTreeMap<String, Series> {
            map.iter_mut().map(|(name, t)| (name.clone(), t.series(now))).collect()
        };
        let routes = all(&mut timelines.routes);
        (routes, all(&mut timelines.functions))
    }

    fn lock(&self) -> MutexGuard<'_, Timelines> {
        // A panic while counting leaves counts that are still counts.
        self.timelines.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The middleware around a cached route: times the whole answer, hit or miss, and reads how it
/// was answered from `X-Cache`.
pub(crate) async fn time_route(
    State(recorder): State<Recorder>,
    route: MatchedPath,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    let outcome = match response.headers().get("x-cache").map(|v| v.as_bytes()) {
        Some(b"HIT") => Some(Outcome::Hit),
        Some(b"STALE") => Some(Outcome::Stale),
        Some(b"MISS") => Some(Outcome::Miss),
        _ => None,
    };
    recorder.route(route.as_str(), outcome, started.elapsed());
    response
}

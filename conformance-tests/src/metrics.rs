//! Reading what a test recorded through the `metrics` facade (feature `metrics`): the checks of
//! cachette-core's and cachette-http's metrics tests, written once.
//!
//! [`recorded`] runs the work with `metrics-util`'s debugging recorder installed for its thread
//! only (`with_local_recorder`), on a current-thread runtime, so that tests running in parallel do
//! not see each other's metrics and tasks the work spawns record on it too.

use std::future::Future;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};

/// One metric as recorded: name, labels (sorted), value.
pub type Recorded = Vec<(String, Vec<(String, String)>, DebugValue)>;

/// Runs `work` with a recorder of its own and returns what it recorded.
pub fn recorded<F, Fut>(work: F) -> Recorded
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    metrics::with_local_recorder(&recorder, || rt.block_on(work()));
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let (_, key) = key.into_parts();
            let mut labels: Vec<_> = key.labels().map(|l| (l.key().to_owned(), l.value().to_owned())).collect();
            labels.sort();
            (key.name().to_owned(), labels, value)
        })
        .collect()
}

/// The value of the metric `name` with exactly `labels`, if it was recorded.
pub fn find<'a>(metrics: &'a Recorded, name: &str, labels: &[(&str, &str)]) -> Option<&'a DebugValue> {
    let mut wanted: Vec<(String, String)> = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    wanted.sort();
    metrics.iter().find(|(n, l, _)| n == name && *l == wanted).map(|(_, _, v)| v)
}

/// A counter's value (0 if it was never recorded); panics if `name` is not a counter.
pub fn counter(metrics: &Recorded, name: &str, labels: &[(&str, &str)]) -> u64 {
    match find(metrics, name, labels) {
        Some(DebugValue::Counter(n)) => *n,
        None => 0,
        other => panic!("{name} {labels:?} is not a counter: {other:?}"),
    }
}

/// A histogram's recorded values; panics if there is none.
pub fn histogram(metrics: &Recorded, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
    match find(metrics, name, labels) {
        Some(DebugValue::Histogram(values)) => values.iter().map(|v| v.into_inner()).collect(),
        other => panic!("{name} {labels:?} is not a histogram: {other:?}\n{metrics:#?}"),
    }
}

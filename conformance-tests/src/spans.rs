//! The spans a test's work opened, with their fields, their parents and the events inside them:
//! for tests of what `RUST_LOG=cachette=debug` shows under each operation (a `tracing` layer
//! over the `tracing-subscriber` registry, which keeps the spans' parents for it).
//!
//! ```
//! let (_, spans) = cachette_conformance::spans::capture(|| tracing::debug_span!("op", n = 1).in_scope(|| ()));
//! assert_eq!(spans.named("op")[0].field("n"), Some("1"));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::NoSubscriber;
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// A span as it was when it closed.
#[derive(Debug, Clone, Default)]
pub struct SpanRecord {
    /// Its name (`cachette.get`).
    pub name: String,
    /// Its fields that have a value, as text (`Display` for strings, `Debug` otherwise).
    pub fields: BTreeMap<String, String>,
    /// The name of the span it was opened in, if any.
    pub parent: Option<String>,
    /// The messages of the events that happened inside it.
    pub events: Vec<String>,
}

impl SpanRecord {
    /// The value of the field `name`, if it was given one.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// The spans closed while the test's work ran, in the order they closed.
#[derive(Debug, Clone, Default)]
pub struct Spans(pub Vec<SpanRecord>);

impl Spans {
    /// The spans named `name`, in the order they closed.
    pub fn named(&self, name: &str) -> Vec<&SpanRecord> {
        self.0.iter().filter(|s| s.name == name).collect()
    }

    /// Every field value and event message of every span, for checks that something never shows.
    pub fn text(&self) -> String {
        self.0.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join("\n")
    }
}

/// `work()`'s result and the spans (at every level) closed while it ran on this thread.
pub fn capture<T>(work: impl FnOnce() -> T) -> (T, Spans) {
    let closed = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(Capture { closed: closed.clone() });
    let out = with_subscriber(subscriber, work);
    let spans = std::mem::take(&mut *closed.lock().unwrap());
    (out, Spans(spans))
}

/// `work()`'s result, with `subscriber` as this thread's default while it runs
/// ([`tracing::subscriber::with_default`]), made safe beside other tests of the same binary.
///
/// `tracing` decides whether a span or event site is wanted once, when the site is first hit,
/// and while a single dispatcher is registered in the process it asks only the *hitting thread's*
/// subscriber: a test without one, on another thread, that reaches a site first makes it "never"
/// for good, and this test's spans there are never made (a fresh-clone run lost a request's span
/// that way). With a second dispatcher registered for the life of the process (one that wants
/// nothing), `tracing` asks every registered dispatcher instead, and it asks again whenever a new
/// one is registered, as `with_default` does.
pub fn with_subscriber<S, T>(subscriber: S, work: impl FnOnce() -> T) -> T
where
    S: Subscriber + Send + Sync + 'static,
{
    static SECOND_DISPATCHER: LazyLock<Dispatch> = LazyLock::new(|| Dispatch::new(NoSubscriber::default()));
    LazyLock::force(&SECOND_DISPATCHER);
    tracing::subscriber::with_default(subscriber, work)
}

struct Capture {
    closed: Arc<Mutex<Vec<SpanRecord>>>,
}

/// Field values as text.
struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let span = ctx.span(id).expect("a new span is in the registry");
        let mut record = SpanRecord {
            name: attrs.metadata().name().to_owned(),
            parent: span.parent().map(|p| p.name().to_owned()),
            ..SpanRecord::default()
        };
        attrs.record(&mut Fields(&mut record.fields));
        span.extensions_mut().insert(record);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(record) = span.extensions_mut().get_mut::<SpanRecord>()
        {
            values.record(&mut Fields(&mut record.fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.event_span(event)
            && let Some(record) = span.extensions_mut().get_mut::<SpanRecord>()
        {
            let mut fields = BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            record.events.push(fields.remove("message").unwrap_or_default());
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && let Some(record) = span.extensions_mut().remove::<SpanRecord>()
        {
            self.closed.lock().unwrap().push(record);
        }
    }
}

//! Flask-Caching's decorator options on `#[memoize]`: `cache_none`, `unless`, `forced_update`,
//! `is_stale`, `response_filter`, `make_name` and `args_to_ignore`, each on functions of its own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use cachette::{Cache, Config, EventKind::*, LoadPolicy};
use serde::{Deserialize, Serialize};

use crate::support::{Events, KeyLog, simple_cache};

/// Counts the runs of one function's body.
struct Runs(AtomicUsize);

impl Runs {
    const fn new() -> Runs {
        Runs(AtomicUsize::new(0))
    }
    fn run(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

static CACHE: LazyLock<Cache> = LazyLock::new(simple_cache);

static FINDS: Runs = Runs::new();

#[cachette::memoize(cache = CACHE)]
async fn find_user(id: u64) -> Option<String> {
    FINDS.run();
    (id == 1).then(|| "ada".to_string())
}

static LOOKUPS: Runs = Runs::new();

#[cachette::memoize(cache = CACHE)]
async fn lookup(id: u64) -> Result<Option<String>, std::io::Error> {
    LOOKUPS.run();
    Ok((id == 1).then(|| "ada".to_string()))
}

#[tokio::test]
async fn a_none_result_is_not_stored_by_default_even_inside_a_result() {
    assert_eq!(find_user(2).await.unwrap(), None);
    assert_eq!(find_user(2).await.unwrap(), None);
    assert_eq!(FINDS.count(), 2, "None was called again");
    find_user(1).await.unwrap();
    assert_eq!(find_user(1).await.unwrap().as_deref(), Some("ada"));
    assert_eq!(FINDS.count(), 3, "Some was stored");
    assert_eq!(lookup(2).await.unwrap(), None);
    assert_eq!(lookup(2).await.unwrap(), None);
    assert_eq!(LOOKUPS.count(), 2, "Ok(None) was called again");
}

/// An alias: the option is checked on the type, not on how it is written.
type Missing = Option<u32>;
static NEGATIVES: Runs = Runs::new();

#[cachette::memoize(cache = CACHE, cache_none = true)]
async fn price(sku: String) -> Missing {
    NEGATIVES.run();
    (sku == "known").then_some(5)
}

#[tokio::test]
async fn cache_none_stores_a_none_result() {
    assert_eq!(price("gone".into()).await.unwrap(), None);
    assert_eq!(price("gone".into()).await.unwrap(), None);
    assert_eq!(NEGATIVES.count(), 1, "the None was served from the cache");
}

static LOGGED: LazyLock<(Cache, Arc<KeyLog>)> = LazyLock::new(|| KeyLog::cache(Config::default()));
static REPORTS: Runs = Runs::new();

#[cachette::memoize(cache = LOGGED.0, unless = user == "admin")]
async fn report(user: String) -> usize {
    REPORTS.run()
}

#[tokio::test]
async fn unless_skips_the_cache_with_no_read_no_write_and_no_event() {
    let events = Events::of(&LOGGED.0);
    let touches = LOGGED.1.touches();
    assert_eq!(report("admin".into()).await.unwrap(), 1);
    assert_eq!(report("admin".into()).await.unwrap(), 2, "each admin call runs the body");
    assert_eq!(LOGGED.1.touches(), touches, "and calls no backend operation");
    assert!(events.take().is_empty());
    assert_eq!(report("ada".into()).await.unwrap(), 3);
    assert_eq!(report("ada".into()).await.unwrap(), 3, "other users' are cached");
    assert_eq!(events.take(), [Miss, Store, Hit]);
}

static RATES: Runs = Runs::new();
/// Its own cache: the test looks at the events.
static RATE_CACHE: LazyLock<Cache> = LazyLock::new(simple_cache);

/// `refresh` asks for a forced update and is no part of the key.
#[cachette::memoize(cache = RATE_CACHE, forced_update = refresh, args_to_ignore = [refresh])]
async fn rate(currency: String, refresh: bool) -> usize {
    RATES.run()
}

#[tokio::test]
async fn forced_update_loads_and_stores_even_on_a_hit() {
    let events = Events::of(&RATE_CACHE);
    assert_eq!(rate("EUR".into(), false).await.unwrap(), 1);
    assert_eq!(rate("EUR".into(), false).await.unwrap(), 1);
    assert_eq!(rate("EUR".into(), true).await.unwrap(), 2, "forced: the body ran");
    assert_eq!(rate("EUR".into(), false).await.unwrap(), 2, "and its value was stored");
    assert_eq!(events.take(), [Miss, Store, Hit, Store, Hit], "a forced update is a store, no hit or miss");
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Token {
    serial: usize,
    expired: bool,
}

static TOKENS: Runs = Runs::new();

#[cachette::memoize(cache = CACHE, is_stale = |token: &Token| token.expired)]
async fn token(scope: String) -> Token {
    let serial = TOKENS.run();
    Token { serial, expired: serial == 1 }
}

#[tokio::test]
async fn is_stale_makes_a_stored_value_a_miss() {
    assert_eq!(token("read".into()).await.unwrap().serial, 1);
    assert_eq!(token("read".into()).await.unwrap().serial, 2, "the first was expired: loaded again");
    assert_eq!(token("read".into()).await.unwrap().serial, 2, "the second is served");
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Page {
    status: u16,
}

static PAGES: Runs = Runs::new();

#[cachette::memoize(cache = CACHE, response_filter = |page: &Page| page.status < 500)]
async fn page(path: String) -> Page {
    Page { status: if PAGES.run() == 1 { 503 } else { 200 } }
}

#[tokio::test]
async fn response_filter_keeps_a_refused_value_out_of_the_cache() {
    assert_eq!(page("/".into()).await.unwrap().status, 503);
    assert_eq!(page("/".into()).await.unwrap().status, 200, "the 503 was not stored");
    assert_eq!(page("/".into()).await.unwrap().status, 200);
    assert_eq!(PAGES.count(), 2, "the 200 was");
}

static LANGUAGE: Mutex<&str> = Mutex::new("de");
static MENUS: Runs = Runs::new();

fn in_language(name: &str) -> String {
    format!("{name}.{}", LANGUAGE.lock().unwrap())
}

#[cachette::memoize(cache = CACHE, make_name = in_language)]
async fn menu() -> String {
    MENUS.run();
    format!("menu in {}", LANGUAGE.lock().unwrap())
}

#[tokio::test]
async fn make_name_keeps_one_result_per_computed_name() {
    assert_eq!(menu().await.unwrap(), "menu in de");
    *LANGUAGE.lock().unwrap() = "fr";
    assert_eq!(menu().await.unwrap(), "menu in fr");
    assert!(menu_forget().await.unwrap(), "forget forgets the current name's result");
    *LANGUAGE.lock().unwrap() = "de";
    assert_eq!(menu().await.unwrap(), "menu in de", "the other name's stayed");
    menu_forget_all(&CACHE).await.unwrap();
    assert_eq!(menu().await.unwrap(), "menu in de");
    assert_eq!(MENUS.count(), 3);
}

/// A database handle: not serializable, no part of the key.
struct Db {
    calls: AtomicUsize,
}

#[cachette::memoize(cache = CACHE, args_to_ignore = [db, "trace_id"])]
async fn profile(db: &Db, id: u64, trace_id: String) -> String {
    db.calls.fetch_add(1, Ordering::SeqCst);
    let _logged = trace_id;
    format!("profile {id}")
}

#[tokio::test]
async fn ignored_arguments_are_out_of_the_key_and_of_forgets_parameters() {
    let (first, second) = (Db { calls: AtomicUsize::new(0) }, Db { calls: AtomicUsize::new(0) });
    profile(&first, 7, "trace-1".into()).await.unwrap();
    profile(&second, 7, "trace-2".into()).await.unwrap();
    assert_eq!(first.calls.load(Ordering::SeqCst) + second.calls.load(Ordering::SeqCst), 1, "one key for id 7");
    assert!(profile_forget(7).await.unwrap(), "forget takes the id alone (typed: see ui/)");
    profile(&second, 7, "trace-3".into()).await.unwrap();
    assert_eq!(second.calls.load(Ordering::SeqCst), 1);
}

struct AppState {
    cache: Cache,
}

#[cachette::memoize(cache = state.cache, args_to_ignore = [state])]
async fn greeting(state: &AppState, user: String) -> String {
    format!("hello, {user}")
}

#[tokio::test]
async fn an_ignored_argument_the_cache_comes_from_stays_a_parameter_of_forget() {
    let state = AppState { cache: simple_cache() };
    greeting(&state, "ada".into()).await.unwrap();
    assert!(greeting_forget(&state, "ada".into()).await.unwrap());
}

static CONVERSIONS: Runs = Runs::new();

#[cachette::memoize(
    cache = CACHE,
    policy = LoadPolicy::new(Duration::from_secs(60)).stale_while_revalidate(Duration::from_secs(60)),
    response_filter = |rate: &Option<f64>| rate.is_some_and(|r| r > 0.0),
)]
async fn conversion(pair: String) -> Option<f64> {
    Some(if CONVERSIONS.run() == 1 { -1.0 } else { 1.08 })
}

#[tokio::test]
async fn options_hold_with_a_load_policy_too() {
    assert_eq!(conversion("EURUSD".into()).await.unwrap(), Some(-1.0));
    assert_eq!(conversion("EURUSD".into()).await.unwrap(), Some(1.08), "the refused rate was not stored");
    assert_eq!(conversion("EURUSD".into()).await.unwrap(), Some(1.08));
    assert_eq!(CONVERSIONS.count(), 2);
}

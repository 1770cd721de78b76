//! Flask-Caching's decorator options on a `Memoized` handle (code without the attribute):
//! `cache_none`, `unless`, `forced_update`, `is_stale`, `response_filter` and `make_name`, with
//! the loads, the hooks' events and the stats each call leaves.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cachette::{CacheError, Config, EventKind::*, LoadPolicy, Memoized, Ttl};

use crate::support::{Events, KeyLog, Loads, simple_cache};

fn handle(name: &str) -> Memoized {
    simple_cache().memoized(name, Ttl::Default)
}

#[tokio::test]
async fn a_none_result_is_returned_but_not_stored_by_default() {
    let (finder, loads) = (handle("app::find"), Loads::default());
    let events = Events::of(finder.cache());
    assert_eq!(finder.call(&7, loads.of(None::<String>)).await.unwrap(), None);
    assert_eq!(finder.call(&7, loads.of(None::<String>)).await.unwrap(), None);
    assert_eq!(loads.count(), 2, "None was loaded again");
    assert_eq!(events.take(), [Miss, Miss], "no store for a None");
    assert_eq!(finder.call(&7, loads.of(Some("ada".to_string()))).await.unwrap().as_deref(), Some("ada"));
    assert_eq!(finder.call(&7, loads.of(Some("bob".to_string()))).await.unwrap().as_deref(), Some("ada"));
    assert_eq!(loads.count(), 3, "a Some is stored");
}

#[tokio::test]
async fn cache_none_stores_a_none_like_any_value() {
    let (finder, loads) = (handle("app::find").cache_none(true), Loads::default());
    let events = Events::of(finder.cache());
    finder.call(&7, loads.of(None::<String>)).await.unwrap();
    assert_eq!(finder.call(&7, loads.of(Some("late".to_string()))).await.unwrap(), None, "the None was served");
    assert_eq!((loads.count(), events.take()), (1, vec![Miss, Store, Hit]));
}

#[tokio::test]
async fn a_none_stored_with_cache_none_is_a_miss_for_a_handle_without_it() {
    let cache = simple_cache();
    let loads = Loads::default();
    let negative = cache.memoized("app::find", Ttl::Default).cache_none(true);
    negative.call(&7, loads.of(None::<u64>)).await.unwrap();
    let plain = cache.memoized("app::find", Ttl::Default);
    assert_eq!(plain.call(&7, loads.of(Some(1))).await.unwrap(), Some(1));
    assert_eq!(loads.count(), 2);
}

#[tokio::test]
async fn only_a_top_level_none_is_left_out() {
    let (nested, loads) = (handle("app::nested"), Loads::default());
    assert_eq!(nested.call(&1, loads.of(Some(None::<u8>))).await.unwrap(), Some(None));
    assert_eq!(nested.call(&1, loads.of(Some(Some(2)))).await.unwrap(), Some(None), "Some(None) is a value");
    let unit = handle("app::unit");
    unit.call(&1, loads.of(())).await.unwrap();
    unit.call(&1, loads.of(())).await.unwrap();
    assert_eq!(loads.count(), 2, "and so is ()");
}

#[tokio::test]
async fn unless_skips_the_cache_entirely_no_read_no_write_no_event() {
    let (cache, log) = KeyLog::cache(Config::default());
    let events = Events::of(&cache);
    let loads = Loads::default();
    let skipped = cache.memoized("app::report", Ttl::Default).unless(true);
    assert_eq!(skipped.call(&1, loads.of(5)).await.unwrap(), 5);
    assert_eq!(skipped.call(&1, loads.of(6)).await.unwrap(), 6);
    assert_eq!(loads.count(), 2);
    assert_eq!(log.touches(), 0, "the backend was not called, not even for the version");
    assert!(events.take().is_empty(), "a skipped call is neither a hit nor a miss");
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.loads), (0, 0, 0));
}

#[tokio::test]
async fn unless_is_asked_on_each_call() {
    let skip = Arc::new(AtomicBool::new(false));
    let asked = skip.clone();
    let (report, loads) = (handle("app::report").unless(move || asked.load(Ordering::SeqCst)), Loads::default());
    report.call(&1, loads.of(1)).await.unwrap();
    assert_eq!(report.call(&1, loads.of(2)).await.unwrap(), 1, "cached while unless is false");
    skip.store(true, Ordering::SeqCst);
    assert_eq!(report.call(&1, loads.of(3)).await.unwrap(), 3, "skipped while it is true");
    skip.store(false, Ordering::SeqCst);
    assert_eq!(report.call(&1, loads.of(4)).await.unwrap(), 1, "the skipped call stored nothing");
}

#[tokio::test]
async fn forced_update_loads_and_stores_even_on_a_hit_and_is_neither_hit_nor_miss() {
    let cache = simple_cache();
    let events = Events::of(&cache);
    let loads = Loads::default();
    let rates = cache.memoized("app::rates", Ttl::Default);
    rates.call(&"EUR", loads.of(1.08)).await.unwrap();
    let before = cache.stats();
    events.take();
    let forced = rates.clone().forced_update(true);
    assert_eq!(forced.call(&"EUR", loads.of(1.09)).await.unwrap(), 1.09);
    assert_eq!(events.take(), [Store], "a store, no hit or miss");
    let after = cache.stats();
    assert_eq!((after.hits, after.misses, after.loads), (before.hits, before.misses, before.loads + 1));
    assert_eq!(rates.call(&"EUR", loads.of(0.0)).await.unwrap(), 1.09, "the forced value is the stored one");
    assert_eq!(loads.count(), 2);
}

#[tokio::test]
async fn forced_update_with_a_policy_replaces_the_stored_value() {
    let policy = LoadPolicy::new(Duration::from_secs(60)).stale_while_revalidate(Duration::from_secs(60));
    let (rates, loads) = (handle("app::rates"), Loads::default());
    rates.call_with(&"EUR", &policy, loads.of(1.08)).await.unwrap();
    assert_eq!(rates.clone().forced_update(true).call_with(&"EUR", &policy, loads.of(1.09)).await.unwrap(), 1.09);
    assert_eq!(rates.call_with(&"EUR", &policy, loads.of(0.0)).await.unwrap(), 1.09);
    assert_eq!(loads.count(), 2);
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Token {
    value: String,
    expired: bool,
}

fn token(value: &str, expired: bool) -> Token {
    Token { value: value.into(), expired }
}

#[tokio::test]
async fn is_stale_makes_a_stored_value_a_miss_that_is_loaded_again() {
    let cache = simple_cache();
    let events = Events::of(&cache);
    let loads = Loads::default();
    let tokens = cache.memoized("app::token", Ttl::Never).is_stale(|t: &Token| t.expired);
    tokens.call(&(), loads.of(token("a", true))).await.unwrap();
    assert_eq!(tokens.call(&(), loads.of(token("b", false))).await.unwrap(), token("b", false), "stale: loaded");
    assert_eq!(tokens.call(&(), loads.of(token("c", false))).await.unwrap(), token("b", false), "fresh: served");
    assert_eq!(events.take(), [Miss, Store, Miss, Store, Hit]);
    assert_eq!(loads.count(), 2);
}

#[tokio::test]
async fn is_stale_with_a_policy_is_no_stale_fallback_either() {
    let policy = LoadPolicy::new(Duration::from_secs(60)).stale_if_error(Duration::from_secs(600));
    let loads = Loads::default();
    let tokens = handle("app::token").is_stale(|t: &Token| t.expired);
    tokens.call_with(&(), &policy, loads.of(token("a", true))).await.unwrap();
    let fresh = tokens.call_with(&(), &policy, loads.of(token("b", false))).await.unwrap();
    assert_eq!((fresh, loads.count()), (token("b", false), 2));
    let failing = || async { Err::<Token, _>(std::io::Error::other("down")) };
    let served = tokens.clone().forced_update(true).call_with(&(), &policy, failing).await;
    assert!(matches!(served, Err(CacheError::Loader(_))), "a forced update has no fallback: {served:?}");
}

#[tokio::test]
async fn response_filter_returns_a_refused_value_without_storing_it() {
    let cache = simple_cache();
    let events = Events::of(&cache);
    let loads = Loads::default();
    let pages = cache.memoized("app::page", Ttl::Default).response_filter(|status: &u16| *status < 500);
    assert_eq!(pages.call(&"/", loads.of(503u16)).await.unwrap(), 503);
    assert_eq!(pages.call(&"/", loads.of(200u16)).await.unwrap(), 200, "the 503 was not stored");
    assert_eq!(pages.call(&"/", loads.of(201u16)).await.unwrap(), 200, "the 200 was");
    assert_eq!(events.take(), [Miss, Miss, Store, Hit]);
    assert_eq!(loads.count(), 2);
}

#[tokio::test]
async fn a_test_of_another_type_is_a_config_error_naming_both_types() {
    let pages = handle("app::page").response_filter(|status: &u16| *status < 500);
    let error = pages.call(&"/", Loads::default().of("a string".to_string())).await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, CacheError::Config { .. }), "{error:?}");
    assert!(text.contains("Memoized::response_filter") && text.contains("u16") && text.contains("String"), "{text}");
}

#[tokio::test]
async fn make_name_keeps_one_result_per_computed_name_and_forget_all_forgets_every_one() {
    let language = Arc::new(std::sync::Mutex::new("de"));
    let current = language.clone();
    let menu = handle("app::menu").make_name(move |name| format!("{name}.{}", current.lock().unwrap()));
    let loads = Loads::default();
    assert_eq!(menu.call(&(), loads.of(String::from("Speisekarte"))).await.unwrap(), "Speisekarte");
    *language.lock().unwrap() = "fr";
    assert_eq!(menu.call(&(), loads.of(String::from("Carte"))).await.unwrap(), "Carte");
    *language.lock().unwrap() = "de";
    assert_eq!(menu.call(&(), loads.of(String::from("?"))).await.unwrap(), "Speisekarte");
    assert!(menu.delete(&()).await.unwrap(), "delete forgets the current name's result");
    *language.lock().unwrap() = "fr";
    assert_eq!(menu.call(&(), loads.of(String::from("?"))).await.unwrap(), "Carte", "and only that one");
    menu.delete_all().await.unwrap();
    assert_eq!(
        menu.call(&(), loads.of(String::from("Menu"))).await.unwrap(),
        "Menu",
        "delete_all forgets every name's"
    );
    assert_eq!(loads.count(), 3);
}

#[tokio::test]
async fn a_computed_name_never_shares_results_with_another_function() {
    let (cache, log) = KeyLog::cache(Config::default());
    let loads = Loads::default();
    // `price` computes the name `stock` has, and both compute "shared".
    let price = cache.memoized("app::price", Ttl::Default).make_name(|_| "app::stock".to_string());
    let stock = cache.memoized("app::stock", Ttl::Default);
    let shared_price = cache.memoized("app::price2", Ttl::Default).make_name(|_| "shared".to_string());
    let shared_stock = cache.memoized("app::stock2", Ttl::Default).make_name(|_| "shared".to_string());
    assert_eq!(price.call(&1, loads.of(10)).await.unwrap(), 10);
    assert_eq!(stock.call(&1, loads.of(3)).await.unwrap(), 3);
    assert_eq!(shared_price.call(&1, loads.of(20)).await.unwrap(), 20);
    assert_eq!(shared_stock.call(&1, loads.of(4)).await.unwrap(), 4);
    assert_eq!(loads.count(), 4);
    let results: Vec<String> = log.keys().into_iter().filter(|k| k.starts_with("memoize:")).collect();
    assert!(results[0].starts_with("memoize:app::price:") && results[1].starts_with("memoize:app::stock:"));
    assert!(results[2].starts_with("memoize:app::price2:") && results[3].starts_with("memoize:app::stock2:"));
}

//! The isolation property, for any backend whose caches share a server or a directory: two caches
//! with different `CACHE_KEY_PREFIX`es never see each other's keys — not through `get`, not
//! through `delete`, not through `clear` — for random pairs of prefixes made of the characters
//! that matter (`:`, glob `*?[]\`, hash-tag braces, digits, a multi-byte letter), the empty prefix,
//! and pairs where one prefix extends the other (`app:` and `app:v2:`).
//!
//! ```no_run
//! use std::sync::Arc;
//! use cachette_core::{BaseCache, Config};
//!
//! /// `my_cache` builds your backend on the one server that every prefix shares.
//! pub fn any_two_prefixes_are_disjoint(my_cache: impl Fn(&Config) -> Arc<dyn BaseCache>) {
//!     cachette_conformance::isolation::check("MyCache", |prefix| {
//!         let mut config = Config::default();
//!         config.key_prefix = prefix.to_owned();
//!         my_cache(&config)
//!     });
//! }
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cachette_core::{BaseCache, Bytes, CacheError, Ttl};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// Prefix pairs per topology: every shape (empty, nested, glob, braces) comes up dozens of times,
/// and a run takes seconds.
pub const CASES: u32 = 300;

/// A fixed seed: every run checks the same pairs, so a failure reproduces.
const SEED: &[u8; 32] = b"cachette: prefixes are disjoint!";

/// What prefixes are made of: the glob characters SCAN interprets, the `:` and digits of the key
/// encoding, the braces of Redis Cluster hash tags, and a letter that is two bytes in UTF-8.
const ALPHABET: &[char] = &[':', '*', '?', '[', ']', '\\', '^', '-', '{', '}', '0', '1', 'a', 'b', 'é'];

/// How long the keys written by a case live (the empty prefix cannot be cleared).
const LIFETIME: Duration = Duration::from_secs(60);

fn prefix() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 0..7).prop_map(String::from_iter)
}

/// Two different prefixes: half of them independent, half one extending the other, either way round.
fn prefix_pair() -> impl Strategy<Value = (String, String)> {
    let independent = (prefix(), prefix());
    let extending = (prefix(), prefix().prop_filter("a non-empty tail", |t| !t.is_empty()), any::<bool>()).prop_map(
        |(short, tail, swap)| {
            let long = format!("{short}{tail}");
            if swap { (long, short) } else { (short, long) }
        },
    );
    prop_oneof![independent, extending].prop_filter("two different prefixes", |(a, b)| a != b)
}

/// Checks [`CASES`] random prefix pairs on the server(s) behind `make`, which builds a cache with
/// the given prefix. Panics with the smallest failing pair. Call it from a plain `#[test]` (it
/// runs its own runtime).
pub fn check(topology: &str, make: impl Fn(&str) -> Arc<dyn BaseCache>) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // One cache per prefix for the whole run: a cache's connection lives in this runtime.
    let caches: RefCell<HashMap<String, Arc<dyn BaseCache>>> = RefCell::default();
    let side = |prefix: &str| Side {
        prefix: prefix.to_owned(),
        cache: caches.borrow_mut().entry(prefix.to_owned()).or_insert_with(|| make(prefix)).clone(),
    };
    let config = Config { cases: CASES, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, SEED));
    // What the pairs covered, for the report line: (one extends the other, one is empty).
    let shapes = RefCell::new((0, 0));
    let started = Instant::now();
    let outcome = runner.run(&prefix_pair(), |(a, b)| {
        let mut shapes = shapes.borrow_mut();
        shapes.0 += usize::from(a.starts_with(&b) || b.starts_with(&a));
        shapes.1 += usize::from(a.is_empty() || b.is_empty());
        runtime.block_on(check_pair(&side(&a), &side(&b)))
    });
    if let Err(failure) = outcome {
        panic!("{topology}: two prefixes share keys: {failure}");
    }
    let (nested, empty) = shapes.into_inner();
    println!(
        "{topology}: {CASES} prefix pairs are disjoint ({nested} nested, {empty} with the empty prefix) in {:?}",
        started.elapsed()
    );
}

/// One cache of a pair.
struct Side {
    prefix: String,
    cache: Arc<dyn BaseCache>,
}

impl Side {
    /// The keys this side writes: a plain key, a hash-tagged key, a glob character — and, when
    /// the other prefix extends this one, the key that plain concatenation would store at the
    /// other side's `k` (`app:` + `v2:k` = `app:v2:` + `k`).
    fn keys(&self, other: &Side) -> Vec<String> {
        let mut keys = vec!["k".to_owned(), "{tag}k".to_owned(), "*".to_owned()];
        if let Some(tail) = other.prefix.strip_prefix(&self.prefix) {
            keys.push(format!("{tail}k"));
        }
        keys
    }

    /// What this side stores under `key`: it names the side, so a read shows whose value it got.
    fn value(&self, key: &str) -> Bytes {
        Bytes::from(format!("{:?} wrote {key:?}", self.prefix))
    }

    async fn write(&self, other: &Side) -> Result<(), TestCaseError> {
        let keys = self.keys(other);
        let items: Vec<(&str, Bytes)> = keys.iter().map(|k| (k.as_str(), self.value(k))).collect();
        self.cache.set_many(&items, Ttl::After(LIFETIME)).await.map_err(|e| failed(self, "set_many", e))
    }

    /// Every key this side wrote holds this side's value.
    async fn intact(&self, other: &Side, after: &str) -> Result<(), TestCaseError> {
        let keys = self.keys(other);
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let got = self.cache.get_many(&refs).await.map_err(|e| failed(self, "get_many", e))?;
        for (key, value) in keys.iter().zip(got) {
            let expected = Some(self.value(key));
            prop_assert_eq!(
                &value,
                &expected,
                "after {}, prefix {:?} read the wrong thing at {:?}",
                after,
                self.prefix,
                key
            );
        }
        Ok(())
    }

    /// No key this side wrote is left.
    async fn gone(&self, other: &Side) -> Result<(), TestCaseError> {
        for key in self.keys(other) {
            let value = self.cache.get(&key).await.map_err(|e| failed(self, "get", e))?;
            prop_assert_eq!(value, None, "prefix {:?} kept {:?} through its own clear", self.prefix, key);
        }
        Ok(())
    }

    /// `delete` of each of this side's keys removes one key of its own.
    async fn delete_all(&self, other: &Side) -> Result<(), TestCaseError> {
        for key in self.keys(other) {
            let removed = self.cache.delete(&key).await.map_err(|e| failed(self, "delete", e))?;
            prop_assert!(removed, "prefix {:?} found nothing to delete at {:?}", self.prefix, key);
        }
        Ok(())
    }

    /// `clear`: removes this side's keys, or — a backend may refuse it for the empty prefix, as
    /// the Redis ones do — is refused and removes nothing.
    async fn clear(&self, other: &Side) -> Result<(), TestCaseError> {
        match self.cache.clear().await {
            Ok(()) => self.gone(other).await,
            Err(CacheError::Refused { .. }) if self.prefix.is_empty() => self.intact(other, "a refused clear").await,
            outcome => Err(TestCaseError::fail(format!("clear of prefix {:?} answered {outcome:?}", self.prefix))),
        }
    }
}

fn failed(side: &Side, operation: &str, error: CacheError) -> TestCaseError {
    TestCaseError::fail(format!("{operation} through prefix {:?} failed: {error}", side.prefix))
}

/// Writes through both caches, then reads, deletes and clears through one at a time, checking
/// after each step that the other's keys are untouched.
async fn check_pair(a: &Side, b: &Side) -> Result<(), TestCaseError> {
    for (one, other) in [(a, b), (b, a)] {
        a.write(b).await?;
        b.write(a).await?;
        one.intact(other, "both wrote").await?;
        other.intact(one, "both wrote").await?;

        one.delete_all(other).await?;
        other.intact(one, &format!("deletes through {:?}", one.prefix)).await?;

        one.write(other).await?;
        one.clear(other).await?;
        other.intact(one, &format!("clear through {:?}", one.prefix)).await?;
    }
    Ok(())
}

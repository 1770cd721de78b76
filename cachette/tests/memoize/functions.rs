//! `#[memoize]` on free functions: results per argument set, lifetimes from the arguments, and
//! forgetting with the function's own argument types.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cachette::{Cache, CacheError, Config, Ttl};
use serde::{Deserialize, Serialize};

use crate::support::{KeyLog, simple_cache};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Profile {
    id: u64,
    name: String,
}

static CACHE: LazyLock<Cache> = LazyLock::new(simple_cache);
static PROFILE_LOADS: AtomicUsize = AtomicUsize::new(0);

#[cachette::memoize(cache = CACHE, ttl = Ttl::After(Duration::from_secs(60)))]
async fn profile(id: u64, name: String) -> std::result::Result<Profile, std::io::Error> {
    PROFILE_LOADS.fetch_add(1, Ordering::SeqCst);
    if id == 0 {
        return Err(std::io::Error::other("no user 0"));
    }
    Ok(Profile { id, name })
}

#[tokio::test]
async fn memoize_attribute_caches_per_argument_set() {
    let ada = profile(1, "Ada".into()).await.unwrap();
    assert_eq!(ada, Profile { id: 1, name: "Ada".into() });
    assert_eq!(profile(1, "Ada".into()).await.unwrap(), ada);
    assert_eq!(profile(2, "Bob".into()).await.unwrap().name, "Bob");
    assert_eq!(PROFILE_LOADS.load(Ordering::SeqCst), 2);

    let err = profile(0, "nobody".into()).await.unwrap_err();
    assert!(matches!(&err, CacheError::Loader(e) if e.to_string() == "no user 0"), "{err:?}");
    assert_eq!(PROFILE_LOADS.load(Ordering::SeqCst), 3);

    assert!(profile_forget(1, "Ada".into()).await.unwrap());
    profile(1, "Ada".into()).await.unwrap();
    assert_eq!(PROFILE_LOADS.load(Ordering::SeqCst), 4);
    profile_forget_all(&CACHE).await.unwrap();
    profile(1, "Ada".into()).await.unwrap();
    profile(2, "Bob".into()).await.unwrap();
    assert_eq!(PROFILE_LOADS.load(Ordering::SeqCst), 6);
}

static LOGGED: LazyLock<(Cache, std::sync::Arc<KeyLog>)> = LazyLock::new(|| KeyLog::cache(Config::default()));

#[cachette::memoize(cache = LOGGED.0, ttl = Ttl::After(Duration::from_secs(valid_for)), name = "ticket")]
async fn ticket(scope: String, valid_for: u64) -> String {
    format!("{scope} for {valid_for} s")
}

#[tokio::test]
async fn the_ttl_may_use_the_arguments() {
    assert_eq!(ticket("read".into(), 60).await.unwrap(), "read for 60 s");
    assert_eq!(LOGGED.1.ttl_of("memoize:ticket:"), Some(Ttl::After(Duration::from_secs(60))));
    ticket("write".into(), 5).await.unwrap();
    assert_eq!(LOGGED.1.ttl_of("memoize:ticket:"), Some(Ttl::After(Duration::from_secs(5))));
}

static SQUARES: AtomicUsize = AtomicUsize::new(0);

#[cachette::memoize(cache = CACHE)]
async fn square(n: u64) -> u64 {
    SQUARES.fetch_add(1, Ordering::SeqCst);
    n * n
}

#[tokio::test]
async fn forget_takes_the_functions_own_argument_types_and_forgets_that_set() {
    assert_eq!(square(12).await.unwrap(), 144);
    assert_eq!(square(13).await.unwrap(), 169);
    // `12` is a u64 here, as in `square`: the same key (an i32 does not compile: see ui/).
    assert!(square_forget(12).await.unwrap(), "the result for 12 was there");
    assert!(!square_forget(12).await.unwrap(), "and is gone");
    square(12).await.unwrap();
    square(13).await.unwrap();
    assert_eq!(SQUARES.load(Ordering::SeqCst), 3, "13 stayed cached");

    square_forget_all(&CACHE).await.unwrap();
    assert!(!square_forget(13).await.unwrap(), "forget_all forgot 13 too");
    square(13).await.unwrap();
    assert_eq!(SQUARES.load(Ordering::SeqCst), 4);
}

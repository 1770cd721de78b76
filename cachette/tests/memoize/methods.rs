//! `#[memoize]` on methods: the instance is part of the key, types never share results, and
//! forgetting takes the instance too.

use std::marker::PhantomData;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use cachette::Cache;
use serde::Serialize;

use crate::support::simple_cache;

struct Service {
    id: u32,
    cache: Cache,
    calls: AtomicUsize,
}

impl Service {
    #[cachette::memoize(cache = self.cache, instance = self.id)]
    async fn double(&self, n: i64) -> i64 {
        self.calls.fetch_add(1, Ordering::SeqCst);
        n * 2
    }
}

#[tokio::test]
async fn memoize_attribute_on_methods_and_infallible_functions() {
    let service = Service { id: 1, cache: simple_cache(), calls: AtomicUsize::new(0) };
    assert_eq!(service.double(21).await.unwrap(), 42);
    assert_eq!(service.double(21).await.unwrap(), 42);
    assert_eq!(service.double(1).await.unwrap(), 2);
    assert_eq!(service.calls.load(Ordering::SeqCst), 2);
}

struct Account {
    id: u64,
    cache: Cache,
}

impl Account {
    #[cachette::memoize(cache = self.cache, instance = self.id)]
    async fn balance(&self) -> u64 {
        self.id * 100
    }
}

#[tokio::test]
async fn a_method_caches_per_instance() {
    let cache = simple_cache();
    let a = Account { id: 1, cache: cache.clone() };
    let b = Account { id: 2, cache };
    assert_eq!(a.balance().await.unwrap(), 100);
    assert_eq!(b.balance().await.unwrap(), 200);
    assert_eq!(a.balance().await.unwrap(), 100);
}

#[tokio::test]
async fn a_method_forgets_one_instance_or_all_of_them() {
    let cache = simple_cache();
    let (a, b) = (Account { id: 1, cache: cache.clone() }, Account { id: 2, cache: cache.clone() });
    a.balance().await.unwrap();
    b.balance().await.unwrap();
    assert!(a.balance_forget().await.unwrap());
    assert!(!a.balance_forget().await.unwrap(), "a's result is gone");
    assert!(b.balance_forget().await.unwrap(), "b's stayed");
    b.balance().await.unwrap();
    Account::balance_forget_all(&cache).await.unwrap();
    assert!(!b.balance_forget().await.unwrap(), "forget_all forgot every instance");
}

static SHARED: LazyLock<Cache> = LazyLock::new(simple_cache);

#[derive(Serialize)]
struct Cat;
#[derive(Serialize)]
struct Dog;

impl Cat {
    #[cachette::memoize(cache = SHARED, instance = self)]
    async fn speak(&self) -> String {
        "meow".into()
    }

    #[cachette::memoize(cache = SHARED)]
    async fn species() -> String {
        "cat".into()
    }
}

impl Dog {
    #[cachette::memoize(cache = SHARED, instance = self)]
    async fn speak(&self) -> String {
        "woof".into()
    }

    #[cachette::memoize(cache = SHARED)]
    async fn species() -> String {
        "dog".into()
    }
}

#[tokio::test]
async fn two_types_with_a_method_of_the_same_name_do_not_share_results() {
    assert_eq!(Cat.speak().await.unwrap(), "meow");
    assert_eq!(Dog.speak().await.unwrap(), "woof");
    Cat::speak_forget_all(&SHARED).await.unwrap();
    assert!(Dog.speak_forget().await.unwrap(), "forgetting Cat's kept Dog's");
}

#[tokio::test]
async fn two_types_with_an_associated_function_of_the_same_name_do_not_share_results() {
    assert_eq!(Cat::species().await.unwrap(), "cat");
    assert_eq!(Dog::species().await.unwrap(), "dog");
}

/// `instance = self` serializes the whole value: equal values share, different ones don't.
#[derive(Serialize)]
struct Point {
    x: i32,
    y: i32,
}

static POINT_LOADS: AtomicUsize = AtomicUsize::new(0);

impl Point {
    #[cachette::memoize(cache = SHARED, instance = self)]
    async fn norm(&self) -> i32 {
        POINT_LOADS.fetch_add(1, Ordering::SeqCst);
        self.x.abs() + self.y.abs()
    }
}

#[tokio::test]
async fn instance_self_keys_on_the_serialized_value() {
    assert_eq!(Point { x: 1, y: 2 }.norm().await.unwrap(), 3);
    assert_eq!(Point { x: 1, y: 2 }.norm().await.unwrap(), 3);
    assert_eq!(Point { x: -3, y: 4 }.norm().await.unwrap(), 7);
    assert_eq!(POINT_LOADS.load(Ordering::SeqCst), 2);
}

struct Counter {
    id: u8,
    cache: Cache,
    runs: usize,
}

impl Counter {
    #[cachette::memoize(cache = self.cache, instance = self.id)]
    async fn bump(&mut self, by: usize) -> usize {
        self.runs += by;
        self.runs
    }

    #[cachette::memoize(cache = self.cache, instance = self.id)]
    async fn into_runs(self) -> usize {
        self.runs
    }
}

#[tokio::test]
async fn mut_self_and_self_receivers_are_memoized_per_instance() {
    let cache = simple_cache();
    let mut first = Counter { id: 1, cache: cache.clone(), runs: 0 };
    assert_eq!(first.bump(5).await.unwrap(), 5);
    assert_eq!(first.bump(5).await.unwrap(), 5, "cached: the body did not run again");
    assert_eq!(first.runs, 5);
    let mut second = Counter { id: 2, cache: cache.clone(), runs: 0 };
    assert_eq!(second.bump(5).await.unwrap(), 5);
    assert!(second.bump_forget(5).await.unwrap());

    assert_eq!(first.into_runs().await.unwrap(), 5);
    assert_eq!(Counter { id: 1, cache: cache.clone(), runs: 99 }.into_runs().await.unwrap(), 5);
    assert_eq!(Counter { id: 3, cache: cache.clone(), runs: 99 }.into_runs().await.unwrap(), 99);
    // The companion borrows: forgetting does not consume the instance.
    let third = Counter { id: 3, cache, runs: 0 };
    assert!(third.into_runs_forget().await.unwrap());
    assert_eq!(third.id, 3);
}

struct Repo<T> {
    id: u32,
    cache: Cache,
    _of: PhantomData<T>,
}

impl<T> Repo<T> {
    fn new(id: u32, cache: &Cache) -> Repo<T> {
        Repo { id, cache: cache.clone(), _of: PhantomData }
    }

    #[cachette::memoize(cache = self.cache, instance = self.id)]
    async fn element_type(&self) -> String {
        std::any::type_name::<T>().to_string()
    }
}

#[tokio::test]
async fn instantiations_of_a_generic_impl_do_not_share_results() {
    let cache = simple_cache();
    assert_eq!(Repo::<u8>::new(1, &cache).element_type().await.unwrap(), "u8");
    assert_eq!(Repo::<u16>::new(1, &cache).element_type().await.unwrap(), "u16");
    assert_eq!(Repo::<u8>::new(1, &cache).element_type().await.unwrap(), "u8");
}

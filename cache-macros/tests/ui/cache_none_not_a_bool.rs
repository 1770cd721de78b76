// `cache_none` is a `bool` literal.
use std::sync::LazyLock;

use cachette::{Cache, Config};

static CACHE: LazyLock<Cache> = LazyLock::new(|| Cache::from_config(Config::default()).unwrap());

#[cachette::memoize(cache = CACHE, cache_none = "yes")]
async fn find(n: u64) -> Option<u64> {
    Some(n)
}

fn main() {}

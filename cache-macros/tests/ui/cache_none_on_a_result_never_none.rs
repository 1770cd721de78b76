// `cache_none` says whether a `None` result is stored: a `u64` is never `None`.
use std::sync::LazyLock;

use cachette::{Cache, Config};

static CACHE: LazyLock<Cache> = LazyLock::new(|| Cache::from_config(Config::default()).unwrap());

#[cachette::memoize(cache = CACHE, cache_none = true)]
async fn count(n: u64) -> u64 {
    n
}

fn main() {}

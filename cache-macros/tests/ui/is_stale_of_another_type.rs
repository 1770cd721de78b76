// `is_stale` tests the function's values: a test of strings on a `u64` function does not compile.
use std::sync::LazyLock;

use cachette::{Cache, Config};

static CACHE: LazyLock<Cache> = LazyLock::new(|| Cache::from_config(Config::default()).unwrap());

#[cachette::memoize(cache = CACHE, is_stale = |value: &String| value.is_empty())]
async fn count(n: u64) -> u64 {
    n
}

fn main() {}

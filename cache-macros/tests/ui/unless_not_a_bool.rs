// `unless` is a `bool` expression, evaluated on each call.
use std::sync::LazyLock;

use cachette::{Cache, Config};

static CACHE: LazyLock<Cache> = LazyLock::new(|| Cache::from_config(Config::default()).unwrap());

#[cachette::memoize(cache = CACHE, unless = n)]
async fn count(n: u64) -> u64 {
    n
}

fn main() {}

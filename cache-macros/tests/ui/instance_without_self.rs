// A function without `self` has no instance to put in the key.
use std::sync::LazyLock;

use cachette::{Cache, Config};

static CACHE: LazyLock<Cache> = LazyLock::new(|| Cache::from_config(Config::default()).unwrap());

#[cachette::memoize(cache = CACHE, instance = id)]
async fn balance(id: u64) -> u64 {
    id * 100
}

fn main() {}

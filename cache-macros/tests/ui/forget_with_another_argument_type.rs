// Forgetting `square(12)` with an `i32` would hash another key and forget nothing.
use std::sync::LazyLock;

use cachette::{Cache, Config};

static CACHE: LazyLock<Cache> = LazyLock::new(|| Cache::from_config(Config::default()).unwrap());

#[cachette::memoize(cache = CACHE)]
async fn square(n: u64) -> u64 {
    n * n
}

async fn forget() {
    let twelve: i32 = 12;
    let _ = square_forget(twelve).await;
}

fn main() {
    let _ = forget();
}

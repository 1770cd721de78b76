// An ignored argument is no part of the key, and so no parameter of `_forget`.
use std::sync::LazyLock;

use cachette::{Cache, Config};

static CACHE: LazyLock<Cache> = LazyLock::new(|| Cache::from_config(Config::default()).unwrap());

struct Db;

#[cachette::memoize(cache = CACHE, args_to_ignore = [db])]
async fn profile(db: &Db, id: u64) -> String {
    let _ = db;
    format!("profile {id}")
}

async fn forget() {
    let _ = profile_forget(&Db, 7).await;
}

fn main() {
    let _ = forget();
}

// A misspelt argument would otherwise stay in the key unnoticed.
use std::sync::LazyLock;

use cachette::{Cache, Config};

static CACHE: LazyLock<Cache> = LazyLock::new(|| Cache::from_config(Config::default()).unwrap());

#[cachette::memoize(cache = CACHE, args_to_ignore = [conection])]
async fn profile(connection: String, id: u64) -> String {
    format!("{connection} {id}")
}

fn main() {}

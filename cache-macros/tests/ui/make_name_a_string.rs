// `make_name` computes the name on each call; a fixed name is `name`'s.
use std::sync::LazyLock;

use cachette::{Cache, Config};

static CACHE: LazyLock<Cache> = LazyLock::new(|| Cache::from_config(Config::default()).unwrap());

#[cachette::memoize(cache = CACHE, make_name = "menu_de")]
async fn menu() -> String {
    "menu".into()
}

fn main() {}

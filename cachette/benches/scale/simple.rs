//! SimpleCache through `Cache` against a bare `moka::future::Cache` of the same bound.

use std::sync::Arc;

use cachette::{Cache, Config};
use tokio::runtime::Runtime;

use crate::measure::{Curve, Side, Sides};
use crate::typed::Typed;
use crate::{VALUE, keys};

struct Moka {
    cache: moka::future::Cache<String, String>,
    keys: Arc<Vec<String>>,
}

impl Side for Moka {
    async fn get(&self, r: u64) {
        let key = &self.keys[r as usize % self.keys.len()];
        assert!(self.cache.get(key).await.is_some(), "{key} is stored");
    }

    async fn set(&self, r: u64) {
        let key = &self.keys[r as usize % self.keys.len()];
        self.cache.insert(key.clone(), VALUE.to_owned()).await;
    }
}

/// Both bounded at the number of entries and full; `set` overwrites a stored key.
pub(crate) fn curve(rt: &Runtime, sizes: &[usize], rounds: usize) {
    let title = "SimpleCache (typed, through Cache) vs bare moka::future::Cache, 100-byte values, random keys";
    // 200,000 calls: a call costs ~1 µs, not a round trip.
    let curve = Curve { calls: |_| 200_000, ..Curve::new(title, sizes, rounds) };
    curve.run(rt, |size| {
        let keys = Arc::new(keys(size));
        let threshold = size.to_string();
        let config =
            Config::from_map([("CACHE_TYPE", "SimpleCache"), ("CACHE_THRESHOLD", threshold.as_str())]).unwrap();
        let cachette = Typed { cache: Cache::from_config(config).unwrap(), keys: keys.clone() };
        let moka = moka::future::Cache::builder().max_capacity(size as u64).build();
        rt.block_on(async {
            cachette.fill(0).await;
            for key in keys.iter() {
                moka.insert(key.clone(), VALUE.to_owned()).await;
            }
        });
        let sides: Sides = vec![("SimpleCache", Box::new(cachette)), ("moka", Box::new(Moka { cache: moka, keys }))];
        sides
    });
}

//! The cachette side of the SimpleCache, Redis and memcached curves: typed get and set of a
//! 100-character string through `Cache`, over stored keys.

use std::sync::Arc;

use cachette::{Cache, Ttl};

use crate::VALUE;
use crate::measure::Side;

/// `cache` holding every one of `keys`.
pub(crate) struct Typed {
    pub(crate) cache: Cache,
    pub(crate) keys: Arc<Vec<String>>,
}

impl Typed {
    /// Stores every key, `chunk` keys per `set_many` call (0: one `set` per key).
    pub(crate) async fn fill(&self, chunk: usize) {
        if chunk == 0 {
            for key in self.keys.iter() {
                self.cache.set(key, VALUE, Ttl::Default).await.unwrap();
            }
            return;
        }
        for keys in self.keys.chunks(chunk) {
            let items: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), VALUE)).collect();
            self.cache.set_many(&items, Ttl::Default).await.unwrap();
        }
    }
}

impl Side for Typed {
    async fn get(&self, r: u64) {
        let key = &self.keys[r as usize % self.keys.len()];
        assert!(self.cache.get::<String>(key).await.unwrap().is_some(), "{key} is stored");
    }

    async fn set(&self, r: u64) {
        let key = &self.keys[r as usize % self.keys.len()];
        self.cache.set(key, VALUE, Ttl::Default).await.unwrap();
    }
}

//! RedisCache through `Cache` against raw redis-rs (a multiplexed connection) on the same server.

use std::sync::Arc;

use cachette::{Cache, Config};
use cachette_conformance::harness::redis::RedisServer;
use cachette_redis::RedisCache;
use redis::aio::MultiplexedConnection;
use tokio::runtime::Runtime;

use crate::measure::{Curve, Side, Sides};
use crate::typed::Typed;
use crate::{VALUE, keys};

struct Raw {
    conn: MultiplexedConnection,
    keys: Arc<Vec<String>>,
}

impl Side for Raw {
    async fn get(&self, r: u64) {
        let key = &self.keys[r as usize % self.keys.len()];
        let value: Option<Vec<u8>> = redis::cmd("GET").arg(key).query_async(&mut self.conn.clone()).await.unwrap();
        assert!(value.is_some(), "{key} is stored");
    }

    async fn set(&self, r: u64) {
        let key = &self.keys[r as usize % self.keys.len()];
        let set = redis::cmd("SET").arg(key).arg(VALUE).arg("PX").arg(300_000).clone();
        set.query_async::<()>(&mut self.conn.clone()).await.unwrap();
    }
}

/// One client, one call at a time (the cost of a call, not the server's throughput); `set`
/// overwrites a stored key. The database is emptied between sizes.
pub(crate) fn curve(rt: &Runtime, sizes: &[usize], rounds: usize) {
    let server = RedisServer::start();
    let title =
        "RedisCache (typed, through Cache) vs raw redis-rs GET / SET PX, 100-byte values, random keys, one client";
    let curve = Curve::new(title, sizes, rounds);
    curve.run(rt, |size| {
        let config =
            Config::from_map([("CACHE_REDIS_URL", server.url()), ("CACHE_KEY_PREFIX", "scale:".into())]).unwrap();
        let cache = Cache::new(Arc::new(RedisCache::new(&config).unwrap()), config);
        let cachette = Typed { cache, keys: Arc::new(keys(size)) };
        let raw_keys: Vec<String> = keys(size).into_iter().map(|k| format!("raw:{k}")).collect();
        let raw = rt.block_on(async {
            let mut conn = redis::Client::open(server.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
            redis::cmd("FLUSHDB").query_async::<()>(&mut conn).await.unwrap();
            cachette.fill(1_000).await;
            for keys in raw_keys.chunks(1_000) {
                let mut pipe = redis::pipe();
                for key in keys {
                    pipe.cmd("SET").arg(key).arg(VALUE).arg("PX").arg(300_000).ignore();
                }
                pipe.query_async::<()>(&mut conn).await.unwrap();
            }
            Raw { conn, keys: Arc::new(raw_keys) }
        });
        let sides: Sides = vec![("RedisCache", Box::new(cachette)), ("redis-rs", Box::new(raw))];
        sides
    });
}

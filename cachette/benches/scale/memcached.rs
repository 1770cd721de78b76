//! MemcachedCache through `Cache` against one raw meta-protocol connection on the same server.

use std::sync::{Arc, Mutex};

use cachette::{Cache, Config};
use cachette_conformance::harness::memcached::{MemcachedOptions, MemcachedServer};
use cachette_memcached::MemcachedCache;
use memcache::exp::{MetaCommand, MetaConnection, MetaOp, ReturnCode};
use tokio::runtime::Runtime;

use crate::measure::{Curve, Side, Sides};
use crate::typed::Typed;
use crate::{VALUE, keys};

/// One connection of the `memcache` crate's meta-protocol client (`memcache::exp`), the
/// protocol MemcachedCache speaks by default: the round trip with no pool, no routing, no codec.
/// (The crate's pooled `Client` checks each connection out of r2d2 with a test round trip, which
/// makes it ~4x slower than the server: not the engine's cost. benches/memcached in
/// cachette-memcached compares against that client under load.)
struct Raw {
    connection: Mutex<MetaConnection>,
    keys: Arc<Vec<String>>,
}

impl Raw {
    fn set_key(&self, key: &str) {
        let response = self.connection.lock().unwrap().execute(&set_command(key)).unwrap();
        assert_eq!(response.rc(), ReturnCode::Hd, "{key} is stored");
    }
}

impl Side for Raw {
    async fn get(&self, r: u64) {
        let key = &self.keys[r as usize % self.keys.len()];
        let get = MetaCommand::new(MetaOp::Get, key.as_str()).flag("v");
        let response = self.connection.lock().unwrap().execute(&get).unwrap();
        assert!(response.value().is_some(), "{key} is stored");
    }

    async fn set(&self, r: u64) {
        self.set_key(&self.keys[r as usize % self.keys.len()]);
    }
}

/// One client, one call at a time; `set` overwrites a stored key. The server is flushed between
/// sizes and has 1 GiB, room for both sides' million entries.
pub(crate) fn curve(rt: &Runtime, sizes: &[usize], rounds: usize) {
    let server = MemcachedServer::start_with(MemcachedOptions::new().memory_mb(1024).arg("-o").arg("hashpower=22"));
    let title = "MemcachedCache (typed, through Cache) vs one meta-protocol connection (memcache::exp), \
                 100-byte values, random keys, one client";
    let curve = Curve::new(title, sizes, rounds);
    curve.run(rt, |size| {
        let mut config = Config::from_map([("CACHE_KEY_PREFIX", "scale:")]).unwrap();
        config.memcached_servers = vec![server.address()];
        let cache = Cache::new(Arc::new(MemcachedCache::new(&config).unwrap()), config);
        let connect = || MetaConnection::connect(server.address()).unwrap();
        flush_all(&server.address());
        let cachette = Typed { cache, keys: Arc::new(keys(size)) };
        rt.block_on(cachette.fill(1_000));
        let raw_keys: Vec<String> = keys(size).into_iter().map(|k| format!("raw:{k}")).collect();
        let raw = Raw { connection: Mutex::new(connect()), keys: Arc::new(raw_keys) };
        for keys in raw.keys.chunks(1_000) {
            let sets: Vec<MetaCommand> = keys.iter().map(|k| set_command(k)).collect();
            let responses = raw.connection.lock().unwrap().execute_batch(&sets).unwrap();
            assert!(responses.iter().all(|r| r.rc() == ReturnCode::Hd), "every key is stored");
        }
        let sides: Sides = vec![("MemcachedCache", Box::new(cachette)), ("memcache meta", Box::new(raw))];
        sides
    });
}

/// `ms <key> 100 T300`: the value for 300 s.
fn set_command(key: &str) -> MetaCommand {
    MetaCommand::new(MetaOp::Set, key).flag("T300").value(VALUE)
}

/// Empties the server between sizes: `flush_all` in the text protocol (which shares the port with
/// the meta protocol; the meta connection has no command for it).
fn flush_all(address: &str) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.write_all(b"flush_all\r\n").unwrap();
    let mut reply = [0u8; 4];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"OK\r\n", "flush_all answered");
}

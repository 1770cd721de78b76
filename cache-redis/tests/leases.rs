//! One load per key across real processes on Redis: this binary re-executes itself as workers
//! (`cachette_conformance::harness::leases`), as a web server's workers sharing one Redis would.

use std::sync::Arc;

use cachette_conformance::harness::leases::{self, LeaseReport};
use cachette_conformance::harness::redis::RedisServer;
use cachette_core::{BaseCache, Config, Result};
use cachette_redis::RedisCache;

fn redis(config: &Config) -> Result<Arc<dyn BaseCache>> {
    Ok(Arc::new(RedisCache::new(config)?))
}

fn config(server: &RedisServer, prefix: &str) -> Vec<(&'static str, String)> {
    vec![("CACHE_REDIS_URL", server.url()), ("CACHE_KEY_PREFIX", prefix.to_owned())]
}

fn report(name: &str, report: LeaseReport) {
    println!("test {name} ... ok ({} load, {:?})", report.loads, report.elapsed);
}

fn main() {
    leases::run_worker_if_asked(redis);
    let server = RedisServer::start();
    report(
        "four_processes_of_250_calls_load_a_cold_key_once",
        leases::one_load_for_a_cold_key(redis, &config(&server, "cold:")),
    );
    report(
        "a_killed_lease_holder_is_replaced_by_one_load_and_its_value_never_stored",
        leases::a_killed_holder_is_replaced(redis, &config(&server, "killed:")),
    );
    leases::a_delete_during_a_load_keeps_its_value_out(redis, &config(&server, "deleted:"));
    println!("test a_delete_during_a_slow_load_keeps_its_value_out_of_the_cache ... ok");
}

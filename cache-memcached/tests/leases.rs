//! One load per key across real processes on memcached, on each protocol: this binary
//! re-executes itself as workers (`cachette_conformance::harness::leases`), as a web server's
//! workers sharing one memcached would.

use std::sync::Arc;

use cachette_conformance::harness::leases::{self, LeaseReport};
use cachette_conformance::harness::memcached::MemcachedServer;
use cachette_core::{BaseCache, Config, Result};
use cachette_memcached::MemcachedCache;

fn memcached(config: &Config) -> Result<Arc<dyn BaseCache>> {
    Ok(Arc::new(MemcachedCache::new(config)?))
}

fn config(server: &MemcachedServer, protocol: &str, prefix: &str) -> Vec<(&'static str, String)> {
    vec![
        ("CACHE_TYPE", "MemcachedCache".to_owned()),
        ("CACHE_MEMCACHED_SERVERS", server.target().servers_list()),
        ("CACHE_OPTIONS", format!("protocol={protocol}")),
        ("CACHE_KEY_PREFIX", format!("{protocol}:{prefix}")),
    ]
}

fn report(name: &str, report: LeaseReport) {
    println!("test {name} ... ok ({} load, {:?})", report.loads, report.elapsed);
}

fn main() {
    leases::run_worker_if_asked(memcached);
    let server = MemcachedServer::start();
    for protocol in ["meta", "binary"] {
        report(
            &format!("{protocol}::four_processes_of_250_calls_load_a_cold_key_once"),
            leases::one_load_for_a_cold_key(memcached, &config(&server, protocol, "cold:")),
        );
        report(
            &format!("{protocol}::a_killed_lease_holder_is_replaced_by_one_load_and_its_value_never_stored"),
            leases::a_killed_holder_is_replaced(memcached, &config(&server, protocol, "killed:")),
        );
        leases::a_delete_during_a_load_keeps_its_value_out(memcached, &config(&server, protocol, "deleted:"));
        println!("test {protocol}::a_delete_during_a_slow_load_keeps_its_value_out_of_the_cache ... ok");
    }
}

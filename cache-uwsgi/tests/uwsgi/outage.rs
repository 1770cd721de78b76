//! The facade's fail-safe over a uWSGI server that is killed and restarted, or stalled and resumed.

use std::sync::Arc;

use cachette_conformance::harness::faults::{fault_config, survives_an_outage};
use cachette_conformance::harness::uwsgi::UwsgiServer;
use cachette_core::{Cache, Config};
use cachette_uwsgi::UwsgiCache;

fn cache_on(server: &UwsgiServer) -> Cache {
    let mut config = fault_config(Config::default());
    server.target().apply(&mut config);
    config.key_prefix = "outage:".to_owned();
    Cache::new(Arc::new(UwsgiCache::new(&config).unwrap()), config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_and_restarted_server_is_a_miss_then_a_hit_again() {
    let mut server = UwsgiServer::start();
    let cache = cache_on(&server);
    let report = survives_an_outage(&cache, &mut server, UwsgiServer::kill, UwsgiServer::restart, 6).await;
    eprintln!("kill/restart: {report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_and_resumed_server_is_a_miss_then_a_hit_again() {
    let mut server = UwsgiServer::start();
    let cache = cache_on(&server);
    let report = survives_an_outage(&cache, &mut server, UwsgiServer::stall, UwsgiServer::resume, 6).await;
    eprintln!("stall/resume: {report:?}");
}

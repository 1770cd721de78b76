//! Client tracking on a real Redis: the change feed cases, and what the feed does when its
//! connection is killed, the server stalls, restarts or is flushed.

use std::sync::Arc;

use cachette_conformance::change_feed::{following, follows_again, wait_for};
use cachette_conformance::harness::redis::{self, RedisServer};
use cachette_core::change_feed::Change;
use cachette_core::{BaseCache, Bytes, Config, Ttl};
use cachette_redis::RedisCache;
use cachette_redis::tracking::CONNECTION_NAME;

cachette_conformance::change_feed_suite!(standalone, |mut config: Config| async move {
    redis::standalone().apply(&mut config);
    Ok(Arc::new(RedisCache::new(&config)?) as Arc<dyn BaseCache>)
});

fn cache_on(server: &RedisServer) -> RedisCache {
    let config = Config::from_map([("CACHE_REDIS_URL", server.url()), ("CACHE_KEY_PREFIX", "faults:".into())]).unwrap();
    RedisCache::new(&config).unwrap()
}

async fn write(server: &RedisServer, key: &str) {
    cache_on(server).set(key, Bytes::from_static(b"v"), Ttl::Default).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_tracking_connection_is_reported_lost_then_followed_again() {
    let server = RedisServer::start();
    let mut feed = following(&cache_on(&server)).await;
    assert_eq!(server.kill_clients_named(CONNECTION_NAME), 1, "one tracking connection, named");
    wait_for(&mut feed, &Change::Lost).await;
    follows_again(&mut feed, "after", write(&server, "after")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_server_is_reported_lost_and_followed_again_when_it_answers() {
    let mut server = RedisServer::start();
    let mut feed = following(&cache_on(&server)).await;
    server.stall();
    wait_for(&mut feed, &Change::Lost).await;
    server.resume();
    follows_again(&mut feed, "after", write(&server, "after")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_is_followed_again_and_its_flush_reports_every_key() {
    let mut server = RedisServer::start();
    let mut feed = following(&cache_on(&server)).await;
    server.kill();
    wait_for(&mut feed, &Change::Lost).await;
    server.restart();
    wait_for(&mut feed, &Change::Following).await;
    assert_eq!(server.cli(&["FLUSHDB"]).trim(), "OK");
    wait_for(&mut feed, &Change::All).await;
}

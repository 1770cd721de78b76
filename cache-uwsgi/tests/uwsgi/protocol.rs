//! What is specific to uWSGI: values shared with the uWSGI side, the operations it cannot do,
//! and the cost of one request.

use std::time::{Duration, Instant};

use cachette_conformance::harness::uwsgi::{self, UwsgiOptions, UwsgiServer};
use cachette_core::{BaseCache, Bytes, CacheError, Config, Ttl};
use cachette_uwsgi::UwsgiCache;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn cache(target: &uwsgi::UwsgiTarget, prefix: &str) -> UwsgiCache {
    let mut config = Config::default();
    target.apply(&mut config);
    config.key_prefix = prefix.to_owned();
    UwsgiCache::new(&config).unwrap()
}

/// uWSGI's own simple get (modifier2 0: `[111][key size][0] key`, answered `[111][size][0] value`),
/// the raw request uWSGI's internal clients use; it reads the server's first cache.
async fn uwsgi_simple_get(address: &str, key: &[u8]) -> Option<Vec<u8>> {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut request = vec![111];
    request.extend_from_slice(&(key.len() as u16).to_le_bytes());
    request.push(0);
    request.extend_from_slice(key);
    stream.write_all(&request).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    (answer.len() >= 4).then(|| answer[4..].to_vec())
}

#[tokio::test]
async fn a_value_stored_by_uwsgi_itself_is_read_back() {
    // --load-file-in-cache stores a file's bytes under its path, as the uWSGI side writes any value.
    let dir = tempfile_dir();
    let file = dir.join("shared.txt");
    std::fs::write(&file, b"written by uWSGI").unwrap();
    let path = file.to_str().unwrap().to_owned();
    let server = UwsgiServer::start_with(UwsgiOptions::new().arg("--load-file-in-cache").arg(&path));
    let cache = cache(&server.target(), "");
    assert_eq!(cache.get(&path).await.unwrap(), Some(Bytes::from_static(b"written by uWSGI")));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_value_written_by_cachette_is_read_by_uwsgis_own_get() {
    let target = uwsgi::single();
    let cache = cache(&target, "");
    let key = format!("shared:{:x}", rand_u64());
    cache.set(&key, Bytes::from_static(b"from rust"), Ttl::Default).await.unwrap();
    assert_eq!(uwsgi_simple_get(target.address(), key.as_bytes()).await.as_deref(), Some(&b"from rust"[..]));
}

/// A WSGI app run by the same uWSGI as the cache (`--eval`), answering `GET /?<key>` with the
/// Python side's `uwsgi.cache_get(key, <the cache's name>)`: what a Flask app on Flask-Caching's
/// UWSGICache reads (it calls the same function).
fn python_app() -> String {
    format!(
        "import uwsgi
def application(env, start_response):
    value = uwsgi.cache_get(env['QUERY_STRING'], '{}')
    start_response('200 OK' if value is not None else '404 Not Found', [])
    return [value or b'']
",
        uwsgi::CACHE_NAME
    )
}

/// The status line's code and the body of `GET /?<key>` to the HTTP socket at `socket`.
async fn python_cache_get(socket: &std::path::Path, key: &str) -> (u16, Vec<u8>) {
    let mut stream = tokio::net::UnixStream::connect(socket).await.unwrap();
    stream.write_all(format!("GET /?{key} HTTP/1.0\r\n\r\n").as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP answer") + 4;
    let status = String::from_utf8_lossy(&answer[9..12]).parse().unwrap();
    (status, answer[end..].to_vec())
}

#[tokio::test]
async fn a_value_written_by_cachette_is_read_by_the_python_side_of_the_same_uwsgi() {
    const PLUGIN: &str = "/usr/lib/uwsgi/plugins/python3_plugin.so";
    assert!(
        std::path::Path::new(PLUGIN).exists(),
        "uWSGI's Python plugin is not installed ({PLUGIN}): `sudo apt-get install -y uwsgi-plugin-python3`, or run \
         ./scripts/test, which installs it"
    );
    let dir = tempfile_dir();
    let socket = dir.join("app.sock");
    let options = UwsgiOptions::new().arg("--plugin").arg("python3").arg("--http-socket");
    let server = UwsgiServer::start_with(options.arg(socket.to_str().unwrap()).arg("--eval").arg(&python_app()));
    let cache = cache(&server.target(), "app:");
    let key = format!("{:x}", rand_u64());
    assert_eq!(python_cache_get(&socket, &format!("app:{key}")).await.0, 404, "nothing there yet");
    cache.set(&key, Bytes::from_static(b"from rust \x00\xff"), Ttl::Default).await.unwrap();
    let (status, body) = python_cache_get(&socket, &format!("app:{key}")).await;
    assert_eq!((status, body.as_slice()), (200, &b"from rust \x00\xff"[..]), "Python reads the bytes cachette wrote");
    cache.delete(&key).await.unwrap();
    assert_eq!(python_cache_get(&socket, &format!("app:{key}")).await.0, 404, "and sees the delete");
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn keys_are_the_prefix_and_the_key_as_flask_caching_sends_them() {
    let target = uwsgi::single();
    let key = format!("{:x}", rand_u64());
    cache(&target, "app:").set(&key, Bytes::from_static(b"v"), Ttl::Default).await.unwrap();
    let bare = cache(&target, "");
    assert_eq!(bare.get(&format!("app:{key}")).await.unwrap(), Some(Bytes::from_static(b"v")));
}

#[tokio::test]
async fn inc_and_touch_are_refused_naming_the_limitation() {
    let cache = cache(&uwsgi::single(), "refused:");
    let inc = cache.inc("n", 1).await.unwrap_err();
    assert!(matches!(inc, CacheError::Refused { .. }) && inc.to_string().contains("atomic increment"), "{inc}");
    assert!(!inc.is_backend_failure(), "a limitation is reported even under CACHE_IGNORE_ERRORS");
    let touch = cache.touch("k", Ttl::Never).await.unwrap_err();
    assert!(matches!(touch, CacheError::Refused { .. }), "{touch}");
    let empty = cache.set("k", Bytes::new(), Ttl::Default).await.unwrap_err();
    assert!(empty.to_string().contains("empty values"), "{empty}");
}

#[tokio::test]
async fn a_value_over_the_item_size_is_an_error_and_removes_the_old_value() {
    let cache = cache(&uwsgi::single(), &format!("large:{:x}:", rand_u64()));
    cache.set("k", Bytes::from_static(b"old"), Ttl::Default).await.unwrap();
    let err = cache.set("k", Bytes::from(vec![7u8; 33 * 1024 * 1024]), Ttl::Default).await.unwrap_err();
    assert!(err.to_string().contains("item size"), "{err}");
    assert_eq!(cache.get("k").await.unwrap(), None, "the old value is not served in place of the refused one");
}

#[tokio::test]
async fn an_unknown_cache_name_makes_writes_fail_naming_the_setting() {
    let target = uwsgi::single();
    let mut config = Config::default();
    config.uwsgi_name = Some(format!("nosuchcache@{}", target.address()));
    let cache = UwsgiCache::new(&config).unwrap();
    let err = cache.set("k", Bytes::from_static(b"v"), Ttl::Default).await.unwrap_err();
    assert!(err.to_string().contains("CACHE_UWSGI_NAME"), "{err}");
    assert!(cache.clear().await.unwrap_err().to_string().contains("no cache named"));
}

#[tokio::test]
async fn a_dead_server_is_a_connection_error() {
    let mut server = UwsgiServer::start();
    let cache = cache(&server.target(), "");
    server.kill();
    let err = cache.get("k").await.unwrap_err();
    assert!(matches!(err, CacheError::Connection { .. }) && err.is_backend_failure(), "{err}");
}

/// Not a timed assertion: prints the cost of one request (connect, exchange, close) on loopback.
#[tokio::test]
async fn one_request_costs_a_connection() {
    let cache = cache(&uwsgi::single(), "cost:");
    cache.set("k", Bytes::from_static(b"value"), Ttl::Default).await.unwrap();
    let rounds = 500u32;
    let started = Instant::now();
    for _ in 0..rounds {
        assert!(cache.get("k").await.unwrap().is_some());
    }
    let each: Duration = started.elapsed() / rounds;
    eprintln!("one get (connect + request + answer + close) on loopback: {each:?}");
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cachette-uwsgi-test-{:x}", rand_u64()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn odd_keys_work_for_every_supported_operation() {
    let cache = cache(&uwsgi::single(), &format!("odd:{:x}:", rand_u64()));
    for key in ["a key with spaces", "ключ/鍵/🔑/ñ", &"0123456789".repeat(30)] {
        let v = Bytes::from_static(b"v");
        cache.set(key, v.clone(), Ttl::Default).await.unwrap();
        assert_eq!(cache.get(key).await.unwrap(), Some(v.clone()));
        assert!(cache.has(key).await.unwrap());
        assert_eq!(cache.get_many(&[key, "plain"]).await.unwrap(), vec![Some(v.clone()), None]);
        assert!(!cache.add(key, Bytes::from_static(b"w"), Ttl::Default).await.unwrap());
        assert!(cache.delete(key).await.unwrap());
        assert!(cache.add(key, v, Ttl::Default).await.unwrap());
        assert_eq!(cache.delete_many(&[key]).await.unwrap(), 1);
    }
}

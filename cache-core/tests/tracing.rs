//! What `RUST_LOG=cachette_core=debug` (and `=trace`) shows: why a read missed, each backend call
//! with its outcome and latency; keys cut short, values never.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use cachette_core::Ttl;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything logged at `level` or above while `work` runs on this thread.
fn logged<F, Fut>(level: tracing::Level, work: F) -> String
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(level).with_ansi(false).with_writer(move || writer.clone()).finish();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    cachette_conformance::spans::with_subscriber(subscriber, || rt.block_on(work()));
    String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned()
}

#[test]
fn at_debug_a_read_says_whether_it_hit_and_why_it_missed() {
    let log = logged(tracing::Level::DEBUG, || async {
        let cache = support::simple(&[]);
        cache.set("user:1", "a secret value", Ttl::Default).await.unwrap();
        cache.get::<String>("user:1").await.unwrap();
        cache.get::<String>("user:2").await.unwrap();
        cache.set_tagged("page:1", "tagged value", Ttl::Default, &["users"]).await.unwrap();
        cache.invalidate_tag("users").await.unwrap();
        cache.get::<String>("page:1").await.unwrap();
        cache.memoize("app::f", &1, Ttl::Default, || async { Ok::<_, std::io::Error>(1) }).await.unwrap();
    });
    assert!(log.contains("cache hit") && log.contains("key=user:1"), "{log}");
    assert!(log.contains("cache miss") && log.contains("key=user:2") && log.contains("no current value"), "{log}");
    assert!(log.contains("key=page:1") && log.contains("tags were invalidated"), "{log}");
    assert!(log.contains("had no version"), "a memoized function's first call says why it missed: {log}");
    assert!(!log.contains("secret value") && !log.contains("tagged value"), "values are never logged: {log}");
    assert!(!log.contains("cache backend call"), "backend calls are at trace level: {log}");
}

#[test]
fn at_trace_every_backend_call_has_its_operation_outcome_and_latency_and_long_keys_are_cut() {
    let long = format!("user:{}", "x".repeat(300));
    let log = logged(tracing::Level::TRACE, || async {
        let cache = support::simple(&[]);
        cache.set(&long, &1, Ttl::Default).await.unwrap();
        cache.get::<i32>(&long).await.unwrap();
        support::down(&[]).get::<i32>("k").await.unwrap_err();
    });
    assert!(log.contains("backend=\"SimpleCache\" operation=\"set\" outcome=\"ok\" latency_us="), "{log}");
    assert!(log.contains("backend=\"Down\" operation=\"get\" outcome=\"error\""), "{log}");
    assert!(log.contains("(305 bytes, #"), "a long key is cut, with its length and a hash: {log}");
    assert!(!log.contains(&"x".repeat(100)), "{log}");
}

#[test]
fn a_warning_about_a_long_key_shows_it_cut_never_whole() {
    let secret = format!("session:{}", "t0ken".repeat(40));
    let log = logged(tracing::Level::WARN, || async {
        let cache = support::simple(&[]);
        cache.set_bytes(&secret, &b"\xff not a value"[..], Ttl::Default).await.unwrap();
        cache.get_or_set(&secret, Ttl::Default, || async { Ok::<_, std::io::Error>(1u32) }).await.unwrap();
    });
    assert!(log.contains("does not decode") && log.contains(&format!("({} bytes, #", secret.len())), "{log}");
    assert!(!log.contains(&secret), "{log}");
}

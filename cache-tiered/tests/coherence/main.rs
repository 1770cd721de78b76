//! Two real processes, each with an in-process tier, on one backend: process A (this test)
//! writes a key 1,000 times and deletes it after every tenth write; process B (this binary re-run
//! as a reader, see `reader.rs`) reads it with four concurrent tasks. Over each backend and
//! channel of `scenario.rs`: RedisCache and RedisClusterCache with client tracking, MemcachedCache
//! and RedisCache with the pub/sub bus.
//!
//! * The window: from the start of A's write of value `i` (or of its delete) to B's first read
//!   of `i` (or of the key's absence); p50, p99 and max are printed (a report, not an assertion:
//!   performance is for benchmarks). `cargo test --release -p cachette-tiered --test coherence`
//!   for the figures; a scenario alone with its name as argument (`-- cluster_tracking`). B's
//!   four readers spin on two worker threads, so that they race in parallel with the fills and
//!   invalidations (the race fixed by the read's epoch check needed that); on a 2-core machine
//!   they then take both cores from A and the server, and the p99 is the kernel's scheduling
//!   tick (4, 8, 12 ms steps on a 250 Hz kernel). `CACHETTE_TIERED_READER_THREADS=1` gives B one
//!   worker thread, and a p99 of the propagation itself (0.2-1.5 ms in the same conditions).
//! * Stale reads after the invalidation arrived: a read in B that began after B had applied the
//!   invalidation of an operation later than write `i` and returned `i`. Must be 0.
//! * After half the operations, every connection of the channel is killed (tracking
//!   connections by `CLIENT KILL ID`, pub/sub ones by `CLIENT KILL TYPE pubsub`): B must still
//!   see every later value and delete (a missed invalidation would leave it serving the old
//!   value for the 60 s tier life; the run fails if one is not seen within 10 s), and must have
//!   noticed the loss.
//!
//! And the generation cases (`generations.rs`): A's `delete_memoized_all`, or its
//! `invalidate_tag`, is seen by B's next call once its invalidation arrives, with no stale
//! result, over the same backends and channels.

mod generations;
mod reader;
mod scenario;

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::pin::Pin;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cachette_core::{BaseCache, Bytes, Config, Ttl};
use scenario::{Kind, Scenario};

const WRITES: u64 = 1_000;
/// A delete follows every tenth write.
const DELETE_EVERY: u64 = 10;
const ROLE: &str = "CACHETTE_TIERED_READER";
/// B's worker threads (default 2, so that its readers race in parallel; see the module docs).
const READER_THREADS: &str = "CACHETTE_TIERED_READER_THREADS";
/// How long B may take to see a write or a delete.
const LIMIT: Duration = Duration::from_secs(10);

fn now_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// A's operations (writes and deletes) up to and including the write of `i` (0 for the value
/// written before B started).
fn ops_through_write(i: u64) -> u64 {
    i + i.saturating_sub(1) / DELETE_EVERY
}

/// Process A's side of a case over one kind of backend and channel.
type Writer = fn(Kind) -> Pin<Box<dyn Future<Output = ()>>>;

fn main() {
    let threads = match std::env::var(ROLE) {
        Ok(_) => std::env::var(READER_THREADS).ok().and_then(|n| n.parse().ok()).unwrap_or(2),
        Err(_) => 2,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build().unwrap();
    if let Ok(role) = std::env::var(ROLE) {
        return match generations::Via::of_role(&role) {
            Some(via) => runtime.block_on(generations::reader(via)),
            None => runtime.block_on(reader::run()),
        };
    }
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    // Each case over each kind, named as a test and chosen by the arguments as `cargo test` would.
    let cases: [(&str, Writer); 3] = [
        ("a_write_or_delete_in_one_process_is_seen_by_another_and_never_after_its_invalidation", |kind| {
            Box::pin(writer(kind))
        }),
        (
            "a_delete_memoized_all_in_one_process_is_seen_by_the_next_call_of_another_once_its_invalidation_arrives",
            |kind| Box::pin(generations::writer(kind, generations::Via::Memoize)),
        ),
        (
            "an_invalidate_tag_in_one_process_is_seen_by_the_next_read_of_another_once_its_invalidation_arrives",
            |kind| Box::pin(generations::writer(kind, generations::Via::Tag)),
        ),
    ];
    for (case, test) in cases {
        for kind in Kind::ALL {
            let name = format!("{case}_{}", kind.name());
            if only.is_empty() || only.iter().any(|filter| name.contains(filter.as_str())) {
                runtime.block_on(test(kind));
                println!("test {name} ... ok");
            }
        }
    }
}

/// What B reported.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    Ready,
    Seen(u64, u64),
    Gone(u64, u64),
    Stale(u64),
    Losses(u64),
}

fn parse(line: &str) -> Option<Event> {
    let parts: Vec<&str> = line.split_whitespace().collect();
    let n = |i: usize| parts.get(i).and_then(|p| p.parse().ok());
    match *parts.first()? {
        "ready" => Some(Event::Ready),
        "seen" => Some(Event::Seen(n(1)?, n(2)?)),
        "gone" => Some(Event::Gone(n(1)?, n(2)?)),
        "stale" => Some(Event::Stale(n(1)?)),
        "losses" => Some(Event::Losses(n(1)?)),
        _ => None,
    }
}

/// B's events, as its standard output brings them.
struct Events(mpsc::Receiver<Event>);

impl Events {
    fn next(&self, what: &str) -> Event {
        self.0
            .recv_timeout(LIMIT)
            .unwrap_or_else(|_| panic!("process B did not report {what} within {LIMIT:?}: a stale value stayed"))
    }
}

/// Starts process B in `role` with the `CACHE_*` `settings`, once it is ready: the process, its
/// lifeline (B exits when it closes: A's end, or A's death; see [`exit_with_the_writer`]) and
/// its events.
fn start_reader(role: &str, settings: &[(&str, String)]) -> (Child, Option<ChildStdin>, Events) {
    let mut b = Command::new(std::env::current_exe().unwrap())
        .env(ROLE, role)
        .envs(settings.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lifeline = b.stdin.take();
    let (tx, rx) = mpsc::channel();
    let out = BufReader::new(b.stdout.take().unwrap());
    std::thread::spawn(move || {
        out.lines().map_while(Result::ok).filter_map(|l| parse(&l)).try_for_each(|e| tx.send(e))
    });
    let events = Events(rx);
    assert_eq!(events.next("ready"), Event::Ready);
    (b, lifeline, events)
}

/// B's last reports, its stale count and its channel losses, once it has exited cleanly; its
/// lifeline is closed after.
async fn end_reader(b: Child, lifeline: Option<ChildStdin>, events: &Events) -> (Event, Event) {
    let mut b = b;
    let reports = (events.next("its stale count"), events.next("its losses"));
    let status = tokio::task::spawn_blocking(move || b.wait().unwrap()).await.unwrap();
    drop(lifeline);
    assert!(status.success(), "process B failed");
    reports
}

/// What every case asks of B's last reports: no stale result (`what` says which), and the killed
/// channel noticed.
fn assert_coherent(stale: Event, losses: Event, what: &str) {
    assert_eq!(stale, Event::Stale(0), "{what}");
    assert!(matches!(losses, Event::Losses(n) if n >= 1), "B noticed that its channel was killed");
}

/// In process B: waits for its reading `tasks`, then reports its `stale` count and its tier's
/// channel losses, counted once the tasks are done (what [`end_reader`] reads).
async fn report_reader(tasks: Vec<tokio::task::JoinHandle<()>>, stale: &AtomicU64, losses: impl FnOnce() -> u64) {
    for task in tasks {
        task.await.unwrap();
    }
    println!("stale {}", stale.load(Ordering::SeqCst));
    println!("losses {}", losses());
}

/// In process B: exits when the writer closes its standard input (its end, or its death).
fn exit_with_the_writer() {
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(2);
    });
}

/// p50, p99 and max of `windows` in milliseconds.
fn summary(mut windows: Vec<u64>) -> String {
    windows.sort_unstable();
    let at = |p: usize| windows[(windows.len() * p / 100).min(windows.len() - 1)] as f64 / 1e6;
    format!("p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms over {}", at(50), at(99), at(100), windows.len())
}

/// Process A.
async fn writer(kind: Kind) {
    let scenario = Scenario::start(kind);
    let settings = scenario.settings();
    let config = Config::from_map(settings.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
    let a = scenario::tiered(&config).await;
    a.set("k", Bytes::from_static(b"0"), Ttl::Never).await.unwrap();
    let (b, lifeline, events) = start_reader("1", &settings);
    let (mut writes, mut deletes) = (Vec::new(), Vec::new());
    let mut ops = 0;
    // Counts A's operations; halfway, kills the channel.
    let mut next_op = || {
        ops += 1;
        if ops == ops_through_write(WRITES) / 2 {
            println!("{}: killed {} connections of the invalidation channel", kind.name(), scenario.kill_channel());
        }
    };
    for i in 1..=WRITES {
        next_op();
        let started = now_nanos();
        a.set("k", Bytes::from(i.to_string()), Ttl::Never).await.unwrap();
        match events.next(&format!("value {i}")) {
            Event::Seen(seen, at) if seen == i => writes.push(at.saturating_sub(started)),
            other => panic!("expected value {i} seen, got {other:?}"),
        }
        if i % DELETE_EVERY == 0 {
            next_op();
            let started = now_nanos();
            a.delete("k").await.unwrap();
            match events.next(&format!("the delete after {i}")) {
                Event::Gone(gone, at) if gone == i => deletes.push(at.saturating_sub(started)),
                other => panic!("expected the delete after {i} seen, got {other:?}"),
            }
        }
    }
    let (stale, losses) = end_reader(b, lifeline, &events).await;
    println!(
        "{}: writes {}; deletes {}; stale reads after the invalidation arrived: {stale:?}; B's channel losses: {losses:?}",
        kind.name(),
        summary(writes),
        summary(deletes),
    );
    assert_coherent(stale, losses, "no read after an invalidation arrived returned the old value");
}

//! One load per key across real processes: the checks of the `Cache` facade's leases, written
//! once here for every shared backend's multi-process tests.
//!
//! A test binary with `harness = false` calls [`run_worker_if_asked`] first thing in `main`: the
//! checks re-execute that binary as workers (`CACHETTE_LEASE_WORKER=<role>`), as the workers of a
//! web server behind a load balancer would run, each with its own connection to the server.
//!
//! * [`one_load_for_a_cold_key`]: [`WORKERS`] processes × [`CALLS`] concurrent `get_or_set` of one
//!   cold key → the loader runs once in all, and every call gets its value;
//! * [`a_killed_holder_is_replaced`]: the process holding the lease is killed (SIGKILL) during its
//!   load → the others load once between them after the lease expires, and the killed process's
//!   value is never stored.
//!
//! * [`a_delete_during_a_load_keeps_its_value_out`]: a delete (or a tag invalidation) while a
//!   load runs → the load's value is returned to its caller but not kept.
//!
//! The checks count loads (an `inc` of [`LOADS`] on the server inside the loader), never time.
//!
//! The two fleet checks take the work of their workers as [`Roles`]: [`GET_OR_SET`] is the
//! facade's, and a layer built on the cache brings its own (the HTTP layer's workers serve a
//! cached route over HTTP, and count their renders in [`LOADS`]) with
//! [`run_worker_if_asked_with`], [`one_load_with`] and [`a_killed_holder_is_replaced_with`].

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cachette_core::{BaseCache, Cache, Config, Result, Ttl};
use futures::future::BoxFuture;

/// Worker processes racing for one key.
pub const WORKERS: usize = 4;
/// Concurrent calls in each worker.
pub const CALLS: usize = 250;
/// `CACHE_OPTIONS.lease` of the checks: short, so that a killed holder's lease expires soon.
pub const LEASE: &str = "2s";

const ROLE: &str = "CACHETTE_LEASE_WORKER";
const CONFIG: &str = "CACHETTE_LEASE_CONFIG";
const DIR: &str = "CACHETTE_LEASE_DIR";
const KEY: &str = "lease:cold";
/// The counter of loads (or renders) on the server: each worker's loader adds one to it with
/// `cache.inc(LOADS, 1)`, and the checks read it.
pub const LOADS: &str = "lease:loads";

/// Builds the backend of a worker from its config (e.g. `|c| Ok(Arc::new(RedisCache::new(c)?))`).
pub type MakeBackend = fn(&Config) -> Result<Arc<dyn BaseCache>>;

/// The work of a worker process: given its cache (on the check's server, with the check's
/// config) and the check's directory. A racer calls [`ready_and_wait_for_go`] before its
/// [`CALLS`] concurrent calls, checks their answers itself (a failed assertion fails the
/// check), and counts each load in [`LOADS`]; a holder calls [`holding`] once its load has
/// started, and never finishes it (it is killed).
pub type Role = fn(Cache, PathBuf) -> BoxFuture<'static, ()>;

/// The roles of a fleet check, by name (as given to [`run_worker_if_asked_with`]).
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    /// The role of the racing workers.
    pub racer: &'static str,
    /// The role of the worker killed while it holds the lease.
    pub holder: &'static str,
}

/// The facade's own roles: `get_or_set` of one key whose loader answers "loaded".
pub const GET_OR_SET: Roles = Roles { racer: "racer", holder: "holder" };

/// If this process was started as a worker by one of the checks, runs it and exits; otherwise
/// returns at once. Call it first in the test binary's `main`.
pub fn run_worker_if_asked(make: MakeBackend) {
    run_worker_if_asked_with(make, &[]);
}

/// [`run_worker_if_asked`], with roles of the caller's own besides [`GET_OR_SET`]'s.
pub fn run_worker_if_asked_with(make: MakeBackend, roles: &[(&str, Role)]) {
    let Ok(role) = std::env::var(ROLE) else { return };
    let pairs = std::env::var(CONFIG).expect("the check passes the config");
    let dir = PathBuf::from(std::env::var(DIR).expect("the check passes a directory"));
    let config = Config::from_map(pairs.lines().filter_map(|l| l.split_once('='))).expect("the check's config");
    let cache = Cache::new(make(&config).expect("a worker's backend"), config);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async move {
        match role.as_str() {
            "racer" => race(&cache, &dir).await,
            "holder" => hold(&cache, &dir).await,
            other => match roles.iter().find(|(name, _)| *name == other) {
                Some((_, work)) => work(cache, dir).await,
                None => panic!("unknown lease worker role {other}"),
            },
        }
    });
    std::process::exit(0);
}

/// For a racer: says it is ready, and waits for the check's start (a file in `dir`).
pub fn ready_and_wait_for_go(dir: &Path) {
    touch(&dir.join(format!("ready-{}", std::process::id())));
    wait_for(&dir.join("go"));
}

/// For a holder: says its load has started (it holds the lease), so the check starts the racers.
pub fn holding(dir: &Path) {
    touch(&dir.join("holding"));
}

/// A racer: waits for the start, then [`CALLS`] concurrent `get_or_set` of the key whose loader
/// counts itself on the server and answers "loaded".
async fn race(cache: &Cache, dir: &Path) {
    ready_and_wait_for_go(dir);
    let calls = (0..CALLS).map(|_| {
        cache.get_or_set(KEY, Ttl::After(Duration::from_secs(60)), || async {
            cache.inc(LOADS, 1).await?;
            tokio::time::sleep(Duration::from_millis(200)).await;
            Ok::<_, cachette_core::CacheError>("loaded".to_owned())
        })
    });
    for answer in futures::future::join_all(calls).await {
        assert_eq!(answer.expect("get_or_set"), "loaded");
    }
    let stats = cache.stats();
    eprintln!("lease worker {}: {} load(s), {} backend error(s)", std::process::id(), stats.loads, stats.errors);
}

/// A holder: takes the lease and never finishes its load (it is killed during it).
async fn hold(cache: &Cache, dir: &Path) {
    let _: String = cache
        .get_or_set(KEY, Ttl::After(Duration::from_secs(60)), || async {
            holding(dir);
            tokio::time::sleep(Duration::from_secs(600)).await;
            Ok::<_, cachette_core::CacheError>("the killed holder's value".to_owned())
        })
        .await
        .expect("killed before it returns");
}

/// What a check saw.
#[derive(Debug, Clone, Copy)]
pub struct LeaseReport {
    /// How many times the loader ran, in every process together.
    pub loads: i64,
    /// From the start (or the holder's kill) until every worker had its value.
    pub elapsed: Duration,
}

/// [`WORKERS`] processes × [`CALLS`] concurrent calls for one cold key: one load in all.
/// `make` builds the backend from `config`, the `CACHE_*` map of its server (with a prefix of
/// the test's own).
pub fn one_load_for_a_cold_key(make: MakeBackend, config: &[(&str, String)]) -> LeaseReport {
    one_load_with(make, config, GET_OR_SET)
}

/// [`one_load_for_a_cold_key`] with the racers of `roles`.
pub fn one_load_with(make: MakeBackend, config: &[(&str, String)], roles: Roles) -> LeaseReport {
    let fleet = Fleet::new(make, config);
    let racers = fleet.spawn_racers(roles.racer);
    fleet.wait_until_ready(WORKERS);
    let started = Instant::now();
    fleet.go();
    fleet.join(racers);
    let report = LeaseReport { loads: fleet.loads(), elapsed: started.elapsed() };
    assert_eq!(report.loads, 1, "{WORKERS} processes x {CALLS} calls of one cold key: one load in all");
    report
}

/// A worker takes the lease and is killed during its load while the others wait: one of them
/// loads once the lease expires, every call gets that value, and the killed worker's value is
/// never stored.
pub fn a_killed_holder_is_replaced(make: MakeBackend, config: &[(&str, String)]) -> LeaseReport {
    a_killed_holder_is_replaced_with(make, config, GET_OR_SET)
}

/// [`a_killed_holder_is_replaced`] with the holder and racers of `roles`. The racers check that
/// they never get an answer of the holder's.
pub fn a_killed_holder_is_replaced_with(make: MakeBackend, config: &[(&str, String)], roles: Roles) -> LeaseReport {
    let fleet = Fleet::new(make, config);
    let mut holder = fleet.spawn(roles.holder);
    wait_for(&fleet.dir.join("holding"));
    let racers = fleet.spawn_racers(roles.racer);
    fleet.wait_until_ready(WORKERS);
    fleet.go();
    std::thread::sleep(Duration::from_millis(300)); // the racers are waiting on the lease
    holder.kill().expect("kill the lease holder");
    let _ = holder.wait();
    let killed = Instant::now();
    fleet.join(racers);
    let report = LeaseReport { loads: fleet.loads(), elapsed: killed.elapsed() };
    assert_eq!(report.loads, 1, "after the holder's death one racer loads for all");
    report
}

/// A delete of the key during a slow `get_or_set`, and an invalidation of its tag during a slow
/// `get_or_set_with`: the callers get the loaded values, and neither is kept in the cache.
pub fn a_delete_during_a_load_keeps_its_value_out(make: MakeBackend, config: &[(&str, String)]) {
    let fleet = Fleet::new(make, config);
    let backend = make(&fleet.config).expect("the check's backend");
    let cache = Cache::new(backend, fleet.config.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async move {
        let started = Arc::new(tokio::sync::Notify::new());
        let finish = Arc::new(tokio::sync::Notify::new());
        let load = {
            let (cache, started, finish) = (cache.clone(), started.clone(), finish.clone());
            tokio::spawn(async move {
                cache
                    .get_or_set("lease:deleted", Ttl::After(Duration::from_secs(60)), || async move {
                        started.notify_one();
                        finish.notified().await;
                        Ok::<_, cachette_core::CacheError>("loaded before the delete".to_owned())
                    })
                    .await
            })
        };
        started.notified().await;
        cache.delete("lease:deleted").await.expect("delete");
        finish.notify_one();
        assert_eq!(load.await.unwrap().unwrap(), "loaded before the delete", "the caller gets its value");
        assert_eq!(cache.get::<String>("lease:deleted").await.unwrap(), None, "the delete wins over the slow load");

        let policy = cachette_core::LoadPolicy::new(Duration::from_secs(60)).tags(["lease:tag"]);
        let (started, finish) = (Arc::new(tokio::sync::Notify::new()), Arc::new(tokio::sync::Notify::new()));
        let load = {
            let (cache, started, finish) = (cache.clone(), started.clone(), finish.clone());
            tokio::spawn(async move {
                cache
                    .get_or_set_with("lease:tagged", &policy, move || async move {
                        started.notify_one();
                        finish.notified().await;
                        Ok::<_, cachette_core::CacheError>("loaded before the invalidation".to_owned())
                    })
                    .await
            })
        };
        started.notified().await;
        cache.invalidate_tag("lease:tag").await.expect("invalidate_tag");
        finish.notify_one();
        assert_eq!(load.await.unwrap().unwrap(), "loaded before the invalidation");
        assert_eq!(
            cache.get::<String>("lease:tagged").await.unwrap(),
            None,
            "the invalidation wins over the slow load"
        );
    });
}

/// The set-up of a check with worker processes: the config they get (the check's, with a short
/// `CACHE_OPTIONS.lease`), and a directory of their own through which they and the check signal
/// each other with files. The checks above use it; a check of a layer's own composes its steps.
pub struct Fleet {
    pairs: String,
    config: Config,
    dir: PathBuf,
    make: MakeBackend,
}

impl Fleet {
    /// A fleet whose workers build their backend with `make` from `config` (with
    /// `CACHE_OPTIONS.lease` = [`LEASE`] unless `config` gives one).
    pub fn new(make: MakeBackend, config: &[(&str, String)]) -> Fleet {
        let mut pairs: Vec<(String, String)> = config.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        let options = pairs.iter_mut().find(|(k, _)| k == "CACHE_OPTIONS");
        match options {
            // A check whose loads are slower may give its own `lease` (longer than a load).
            Some((_, v)) if v.split(',').any(|o| o.trim_start().starts_with("lease=")) => {}
            Some((_, v)) => v.push_str(&format!(",lease={LEASE}")),
            None => pairs.push(("CACHE_OPTIONS".to_owned(), format!("lease={LEASE}"))),
        }
        let text: String = pairs.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        let config = Config::from_map(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).expect("config");
        let dir =
            std::env::temp_dir().join(format!("cachette-leases-{}-{}", std::process::id(), rand::random::<u32>()));
        std::fs::create_dir_all(&dir).unwrap();
        Fleet { pairs: text, config, dir, make }
    }

    /// The directory of the fleet's signal files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A cache of the check's own on the fleet's server, with the workers' config.
    pub fn cache(&self) -> Cache {
        Cache::new((self.make)(&self.config).expect("the check's backend"), self.config.clone())
    }

    /// Starts a worker process in `role`.
    pub fn spawn(&self, role: &str) -> Child {
        Command::new(std::env::current_exe().unwrap())
            .env(ROLE, role)
            .env(CONFIG, &self.pairs)
            .env(DIR, &self.dir)
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("re-execute the test binary as a worker")
    }

    /// Starts [`WORKERS`] workers in `role`.
    pub fn spawn_racers(&self, role: &str) -> Vec<Child> {
        (0..WORKERS).map(|_| self.spawn(role)).collect()
    }

    /// Waits until `n` workers have called [`ready_and_wait_for_go`].
    pub fn wait_until_ready(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = std::fs::read_dir(&self.dir)
                .unwrap()
                .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().starts_with("ready-")))
                .count();
            if ready >= n {
                return;
            }
            assert!(Instant::now() < deadline, "the workers did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Starts the workers waiting in [`ready_and_wait_for_go`].
    pub fn go(&self) {
        touch(&self.dir.join("go"));
    }

    /// Waits for every worker to exit, and checks that each succeeded.
    pub fn join(&self, workers: Vec<Child>) {
        for mut worker in workers {
            let status = worker.wait().unwrap();
            assert!(status.success(), "a worker failed: {status:?}");
        }
    }

    /// The loads counted on the server ([`LOADS`]), read by a process of the check's own.
    pub fn loads(&self) -> i64 {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let config = self.config.clone();
        let backend = (self.make)(&config).expect("the check's backend");
        runtime.block_on(async move {
            let cache = Cache::new(backend, config);
            cache.inc(LOADS, 0).await.expect("read the load count")
        })
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Creates the signal file `path`.
pub fn touch(path: &Path) {
    std::fs::write(path, b"").unwrap();
}

/// Waits until the signal file `path` exists (at most a minute: then the check fails).
pub fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(1));
    }
}

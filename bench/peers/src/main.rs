//! The peer benchmark: cachette's cached axum route against hitbox, axum-response-cache,
//! tower-http-cache and Flask-Caching (README.md says what is measured and how each peer is set
//! up). `../run` builds, installs and runs everything; this binary has three commands:
//!
//! * `cachette-peers http` — the HTTP tables: requests/s and server CPU per request under wrk,
//!   as ratios to the uncached route, the Flask ratio, and the stampede count;
//! * `cachette-peers memoize-table <target dir>` — the table of `benches/memoize.rs`;
//! * `cachette-peers serve <peer>` — one server (the driver starts these itself).
//!
//! Settings (environment): `BENCH_SECS` (5) per wrk run, `BENCH_ROUNDS` (5), `PEERS_VENV` (the
//! venv with gunicorn and Flask-Caching; the Flask rows are left out, saying so, without it).

mod flask;
mod memoize_table;
mod process;
mod servers;
mod stampede;
mod stats;
mod throughput;
mod wrk;

use std::path::{Path, PathBuf};
use std::time::Duration;

use process::Server;
use servers::Peer;
use throughput::Target;

const FLASK: &str = "Flask, no cache";
const FLASK_CACHING: &str = "Flask-Caching";
/// Stampedes per peer (each on a new cold key).
const STAMPEDES: u64 = 3;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("serve"), Some(peer)) => servers::serve(Peer::parse(peer).unwrap_or_else(|e| panic!("{e}"))),
        (Some("memoize-table"), Some(dir)) => memoize_table::print(Path::new(dir)),
        (Some("http") | None, _) => http(),
        _ => {
            eprintln!("usage: cachette-peers [http | memoize-table <target dir> | serve <peer>]");
            std::process::exit(2);
        }
    }
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().map_or(default, |v| v.parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")))
}

fn http() {
    let duration = Duration::from_secs(setting("BENCH_SECS", 5));
    let rounds = setting("BENCH_ROUNDS", 5) as usize;
    let exe = std::env::current_exe().unwrap();
    let servers: Vec<(Peer, Server)> =
        Peer::ALL.iter().map(|&p| (p, Server::start(exe.to_str().unwrap(), &["serve", p.name()], None))).collect();
    let flask = std::env::var_os("PEERS_VENV")
        .map(|venv| flask::start(&PathBuf::from(venv), &Path::new(env!("CARGO_MANIFEST_DIR")).join("flask")));

    let mut targets: Vec<Target<'_>> = servers
        .iter()
        .map(|(peer, server)| Target {
            name: peer.name().to_owned(),
            url: format!("http://127.0.0.1:{}/page", server.port),
            server,
        })
        .collect();
    if let Some(server) = &flask {
        let url = |path: &str| format!("http://127.0.0.1:{}{path}", server.port);
        targets.push(Target { name: FLASK.to_owned(), url: url("/page"), server });
        targets.push(Target { name: FLASK_CACHING.to_owned(), url: url("/cached"), server });
    }
    let results = throughput::measure(&targets, rounds, duration);

    let uncached = Peer::Uncached.name();
    println!(
        "\nthe same axum handler (1 KiB), cached by each peer; wrk -t1 -c{} on core {}, each server on core {} \
         (one tokio worker); {rounds} rounds x {} s in alternating order; medians, ratios within a round",
        wrk::CONNECTIONS,
        process::LOAD_CORE,
        process::SERVER_CORE,
        duration.as_secs()
    );
    println!("{:<22} {:>10} {:>12} {:>14} {:>16}", "peer", "req/s", "vs uncached", "CPU µs / req", "CPU vs uncached");
    for (peer, _) in &servers {
        let name = peer.name();
        println!(
            "{name:<22} {:>10.0} {:>12.2} {:>14.2} {:>15.2}x",
            results.rate(name),
            results.rate_ratio(name, uncached),
            results.cpu_us(name),
            results.cpu_ratio(name, uncached)
        );
    }
    if flask.is_some() {
        let cachette = Peer::Cachette.name();
        println!(
            "\nFlask under gunicorn -w {} (sync workers, both on core {}), same wrk:",
            flask::WORKERS,
            process::SERVER_CORE
        );
        println!("{:<22} {:>10} {:>14}", "", "req/s", "CPU µs / req");
        for name in [FLASK, FLASK_CACHING] {
            println!("{name:<22} {:>10.0} {:>14.1}", results.rate(name), results.cpu_us(name));
        }
        println!(
            "cachette's cached route / Flask-Caching's: {:.1}x the requests/s, {:.3}x the CPU per request; \
             Flask-Caching / Flask uncached: {:.2}x",
            results.rate_ratio(cachette, FLASK_CACHING),
            results.cpu_ratio(cachette, FLASK_CACHING),
            results.rate_ratio(FLASK_CACHING, FLASK)
        );
    } else {
        println!("\nFlask: not measured (PEERS_VENV is unset; ./run installs the venv and sets it)");
    }
    stampedes(&servers);
    eprintln!("({} rounds)", results.rounds());
}

/// [`STAMPEDES`] stampedes of 1,000 concurrent cold requests per peer, and the handler's calls.
fn stampedes(servers: &[(Peer, Server)]) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    println!(
        "\nstampede: {} concurrent requests for one cold key (handler: {} ms), {STAMPEDES} times per peer",
        stampede::REQUESTS,
        servers::STAMPEDE_WORK.as_millis()
    );
    println!("{:<22} {:>20} {:>20} {:>24}", "peer", "handler calls", "200 + body", "last response after");
    for (peer, server) in servers {
        let runs: Vec<stampede::Stampede> =
            (0..STAMPEDES).map(|key| runtime.block_on(stampede::run(server.port, key))).collect();
        let column = |f: &dyn Fn(&stampede::Stampede) -> String| runs.iter().map(f).collect::<Vec<_>>().join(" / ");
        println!(
            "{:<22} {:>20} {:>20} {:>24}",
            peer.name(),
            column(&|s| s.handler_calls.to_string()),
            column(&|s| s.ok.to_string()),
            column(&|s| format!("{:.2}s", s.took.as_secs_f64()))
        );
    }
}

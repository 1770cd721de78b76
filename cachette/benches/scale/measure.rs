//! Timing one side of a comparison, alternating rounds, and the printed table.

use std::future::Future;
use std::time::Instant;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::runtime::Runtime;

/// A store measured: the cachette backend or the raw engine beneath it. `r` is a random number
/// the store maps to one of its keys (a stored key for `get`; for `set` a stored key, or a new
/// one where the store says so).
pub(crate) trait Side {
    /// Reads one stored key (and checks that it was there).
    fn get(&self, r: u64) -> impl Future<Output = ()>;
    /// Writes one key.
    fn set(&self, r: u64) -> impl Future<Output = ()>;
}

/// What is timed.
#[derive(Clone, Copy)]
pub(crate) enum Op {
    Get,
    Set,
}

/// Nanoseconds per call of `op` on `side`, over `calls` sequential calls with random keys.
pub(crate) fn time<S: Side>(rt: &Runtime, side: &S, op: Op, calls: usize) -> f64 {
    rt.block_on(async {
        // The same sequence of keys for every side; SmallRng costs a few ns and no allocation.
        let mut random = SmallRng::seed_from_u64(0x9e37_79b9_7f4a_7c15);
        let started = Instant::now();
        for _ in 0..calls {
            match op {
                Op::Get => side.get(random.random()).await,
                Op::Set => side.set(random.random()).await,
            }
        }
        started.elapsed().as_nanos() as f64 / calls as f64
    })
}

/// A [`Side`] behind a pointer: dispatched once per measurement, never per call.
pub(crate) trait Timed {
    /// [`time`] of this side.
    fn time(&self, rt: &Runtime, op: Op, calls: usize) -> f64;
}

impl<S: Side> Timed for S {
    fn time(&self, rt: &Runtime, op: Op, calls: usize) -> f64 {
        time(rt, self, op, calls)
    }
}

/// The sides of one size, filled, with their names: the cachette backend first, the raw engine
/// second, then any others.
pub(crate) type Sides = Vec<(&'static str, Box<dyn Timed>)>;

/// A ratio printed per size: `sides[a]`'s cost of `op` over `sides[b]`'s.
pub(crate) struct Ratio {
    pub(crate) op: Op,
    pub(crate) a: usize,
    pub(crate) b: usize,
}

/// The ratios of most curves: the cachette side's get and set over the raw engine's.
pub(crate) const AGAINST_RAW: &[Ratio] = &[Ratio { op: Op::Get, a: 0, b: 1 }, Ratio { op: Op::Set, a: 0, b: 1 }];

/// How to run one backend's curve ([`Curve::new`] for the usual one).
pub(crate) struct Curve<'a> {
    pub(crate) title: &'a str,
    pub(crate) sizes: &'a [usize],
    pub(crate) rounds: usize,
    /// Calls per measurement, for a size.
    pub(crate) calls: fn(usize) -> usize,
    pub(crate) ratios: &'a [Ratio],
}

impl<'a> Curve<'a> {
    /// The cachette side against the raw engine: 20,000 calls per measurement, get and set
    /// ratios.
    pub(crate) fn new(title: &'a str, sizes: &'a [usize], rounds: usize) -> Curve<'a> {
        Curve { title, sizes, rounds, calls: |_| 20_000, ratios: AGAINST_RAW }
    }

    /// For each size: `build(size)` fills the sides, every side's get and set are timed in
    /// alternating rounds, and a row is printed; the sides are dropped (emptied) before the next
    /// size. Ends with each cost's growth from the smallest size to the largest.
    pub(crate) fn run(&self, rt: &Runtime, mut build: impl FnMut(usize) -> Sides) {
        let mut table: Option<Table> = None;
        let mut first: Option<Vec<f64>> = None;
        let mut last = Vec::new();
        for &size in self.sizes {
            let sides = build(size);
            let calls = (self.calls)(size);
            // A tenth of a round first, unrecorded: the first calls after a fill meet the
            // server's or the allocator's after-work (memcached's LRU maintainer moving a
            // million new items, say) and would be charged to whichever side runs first.
            for op in [Op::Get, Op::Set] {
                for (_, side) in &sides {
                    side.time(rt, op, calls / 10);
                }
            }
            let mut measurements: Vec<Box<dyn FnMut() -> f64 + '_>> = Vec::new();
            for op in [Op::Get, Op::Set] {
                for (_, side) in &sides {
                    measurements.push(Box::new(move || side.time(rt, op, calls)));
                }
            }
            let mut refs: Vec<&mut dyn FnMut() -> f64> = measurements.iter_mut().map(|m| &mut **m as _).collect();
            let medians = alternate(self.rounds, &mut refs);
            drop(refs);
            drop(measurements);
            let cost = |op: Op, side: usize| medians[op as usize * sides.len() + side];
            let table = table.get_or_insert_with(|| {
                let mut columns: Vec<String> = Vec::new();
                for op in ["get", "set"] {
                    columns.extend(sides.iter().map(|(name, _)| format!("{op} {name}")));
                }
                columns.extend(self.ratios.iter().map(|r| {
                    let op = if matches!(r.op, Op::Get) { "get" } else { "set" };
                    format!("{op} {} / {}", sides[r.a].0, sides[r.b].0)
                }));
                let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
                Table::start(self.title, &columns)
            });
            let mut cells: Vec<String> = medians.iter().map(|&m| ns(m)).collect();
            cells.extend(self.ratios.iter().map(|r| ratio(cost(r.op, r.a), cost(r.op, r.b))));
            table.row(size, &cells);
            first.get_or_insert_with(|| medians.clone());
            last = medians;
        }
        if let (Some(first), Some(&from), Some(&to)) = (first, self.sizes.first(), self.sizes.last()) {
            let growth: Vec<String> = first.iter().zip(&last).map(|(a, b)| format!("{:.2}", b / a)).collect();
            println!("{:>10} {}   (cost at {to} entries / cost at {from}, per column)", "growth", growth.join(" "));
        }
    }
}

/// Runs every measurement once per round for `rounds` rounds, forwards in even rounds and
/// backwards in odd ones, and returns each one's median.
pub(crate) fn alternate(rounds: usize, measurements: &mut [&mut dyn FnMut() -> f64]) -> Vec<f64> {
    let n = measurements.len();
    let mut samples = vec![Vec::with_capacity(rounds); n];
    for round in 0..rounds {
        let order: Vec<usize> = if round % 2 == 0 { (0..n).collect() } else { (0..n).rev().collect() };
        for i in order {
            samples[i].push(measurements[i]());
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect()
}

/// A printed table: a title, column names, and one row per size.
pub(crate) struct Table {
    columns: Vec<String>,
}

impl Table {
    /// Prints the title and the header.
    pub(crate) fn start(title: &str, columns: &[&str]) -> Table {
        println!("\n{title}");
        let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        print!("{:>10}", "entries");
        for c in &columns {
            print!(" {c:>w$}", w = c.len().max(9));
        }
        println!();
        Table { columns }
    }

    /// Prints one row: the number of entries, then one value per column (formatted by `cell`).
    pub(crate) fn row(&self, entries: usize, cells: &[String]) {
        print!("{entries:>10}");
        for (c, cell) in self.columns.iter().zip(cells) {
            print!(" {cell:>w$}", w = c.len().max(9));
        }
        println!();
    }
}

/// `ns` as a table cell.
pub(crate) fn ns(value: f64) -> String {
    if value >= 10_000.0 { format!("{:.1} µs", value / 1000.0) } else { format!("{value:.0} ns") }
}

/// `a / b` as a table cell.
pub(crate) fn ratio(a: f64, b: f64) -> String {
    format!("{:.2}", a / b)
}

//! The table of `benches/memoize.rs`, from criterion's results on disk.

use std::path::Path;

/// The criterion group of `benches/memoize.rs`.
const GROUP: &str = "peers_memoized_hit";
/// The denominator of the ratios.
const BASELINE: &str = "moka future::Cache::get_with";

/// Prints each function's median time per hit and its ratio to moka's `future::Cache::get_with`,
/// from `<target dir>/criterion/peers_memoized_hit/*/new/`.
pub fn print(target_dir: &Path) {
    let group = target_dir.join("criterion").join(GROUP);
    let mut rows: Vec<(String, f64)> = std::fs::read_dir(&group)
        .unwrap_or_else(|e| {
            panic!("no criterion results in {} ({e}): run `cargo bench --bench memoize`", group.display())
        })
        .flatten()
        .filter_map(|dir| read(&dir.path().join("new")))
        .collect();
    rows.sort_by(|a, b| a.1.total_cmp(&b.1));
    let base = rows.iter().find(|(name, _)| name == BASELINE).map(|r| r.1).expect("the moka baseline was measured");
    println!("\nmemoized hits: 1,000 ids, a 100-character String, 300 s, stores of 10,000 (criterion medians)");
    println!("{:<36} {:>10} {:>24}", "way", "ns / hit", "x moka future get_with");
    for (name, ns) in rows {
        println!("{name:<36} {ns:>10.0} {:>24.2}", ns / base);
    }
}

/// `(function name, median ns)` of one criterion result directory.
fn read(dir: &Path) -> Option<(String, f64)> {
    let json = |file: &str| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(dir.join(file)).ok()?).ok()
    };
    let name = json("benchmark.json")?["function_id"].as_str()?.to_owned();
    let median = json("estimates.json")?["median"]["point_estimate"].as_f64()?;
    Some((name, median))
}

//! How results are shown: one JSON object on stdout with `--json`, otherwise aligned tables and
//! plain lines (kubectl's style: upper-case headers, columns padded with spaces, no borders, so
//! `awk` and `cut` work on them too).

use std::time::Duration;

use comfy_table::{CellAlignment, ContentArrangement, Table, presets};
use serde::Serialize;

/// `--json` or not.
#[derive(Clone, Copy)]
pub(crate) struct Out {
    pub(crate) json: bool,
}

impl Out {
    /// Prints `value` as one line of JSON, or what `human` makes of it.
    pub(crate) fn show<T: Serialize>(&self, value: &T, human: impl FnOnce(&T) -> String) {
        if self.json {
            println!("{}", to_json(value));
        } else {
            let text = human(value);
            if !text.is_empty() {
                println!("{}", text.trim_end_matches('\n'));
            }
        }
    }
}

/// One line of JSON (our types always serialize).
pub(crate) fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"cannot write JSON: {e}\"}}"))
}

/// A table with `header`: its first `text` columns left-aligned, the others (numbers)
/// right-aligned; no borders.
pub(crate) fn table(header: &[&str], text: usize) -> Table {
    let mut table = Table::new();
    table.load_style(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled).set_header(header);
    for column in table.column_iter_mut().skip(text) {
        column.set_cell_alignment(CellAlignment::Right);
    }
    for column in table.column_iter_mut() {
        column.set_padding((0, 3));
    }
    table
}

/// A two-column table of names and values, left-aligned.
pub(crate) fn fields<'a>(rows: impl IntoIterator<Item = (&'a str, String)>) -> String {
    let mut table = Table::new();
    table.load_style(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled);
    for (name, value) in rows {
        table.add_row([name.to_owned(), value]);
    }
    for column in table.column_iter_mut() {
        column.set_padding((0, 3));
    }
    trimmed(&table)
}

/// A table's text without the padding comfy-table leaves at the end of each line.
pub(crate) fn trimmed(table: &Table) -> String {
    table.lines().map(|line| line.trim_end().to_owned()).collect::<Vec<_>>().join("\n")
}

/// A latency for people: `850ns`, `312µs`, `4.2ms`, `1.50s`.
pub(crate) fn latency(d: Duration) -> String {
    let ns = d.as_nanos();
    match ns {
        0..1_000 => format!("{ns}ns"),
        1_000..10_000 => format!("{:.1}µs", ns as f64 / 1e3),
        10_000..1_000_000 => format!("{}µs", ns / 1_000),
        1_000_000..1_000_000_000 => format!("{:.1}ms", ns as f64 / 1e6),
        _ => format!("{:.2}s", ns as f64 / 1e9),
    }
}

/// Microseconds (as the JSON carries them) for people.
pub(crate) fn micros(us: u64) -> String {
    latency(Duration::from_micros(us))
}

/// A share as a percentage, `-` when there is none.
pub(crate) fn percent(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

/// Bytes for people: `512 B`, `1.2 MiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// An optional figure, `-` when absent.
pub(crate) fn or_dash<T>(value: Option<T>, show: impl FnOnce(T) -> String) -> String {
    value.map_or_else(|| "-".to_owned(), show)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(latency(Duration::from_nanos(850)), "850ns");
        assert_eq!(latency(Duration::from_nanos(4_250)), "4.2µs");
        assert_eq!(latency(Duration::from_micros(312)), "312µs");
        assert_eq!(latency(Duration::from_micros(4_200)), "4.2ms");
        assert_eq!(latency(Duration::from_millis(1_500)), "1.50s");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1_258_291), "1.2 MiB");
        assert_eq!(percent(Some(0.9876)), "98.8%");
        assert_eq!(percent(None), "-");
    }

    #[test]
    fn tables_align_columns_without_borders() {
        let mut t = table(&["NAME", "COUNT"], 1);
        t.add_row(["a", "1"]);
        t.add_row(["longer", "1000"]);
        let text = trimmed(&t);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines, ["NAME     COUNT", "a            1", "longer    1000"], "{text}");
    }
}

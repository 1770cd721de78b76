//! The HTML view of `/stats`: for each cached route and memoized function, its hit ratio and
//! latency over the last five minutes as server-rendered SVG charts (no script, nothing fetched),
//! then the JSON the endpoint serves. The template is `templates/stats.html` (minijinja, with
//! HTML escaping); the geometry is computed here.

use cachette::observe::{AppStats, Sample, Series};
use minijinja::Environment;
use serde::Serialize;

use crate::timeline::HISTORY;

/// The chart's drawing area in SVG units (the SVG scales to the page's width).
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 140.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 590.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 112.0;
/// The latency axis: 10 µs to 10 s, logarithmic (a hit takes microseconds, a miss seconds).
const LOG_MIN: f64 = 1.0;
const LOG_MAX: f64 = 7.0;

/// The page for `stats` (`json` is the same stats as the endpoint's JSON, shown at the end),
/// as of the Unix second `now`.
pub(crate) fn render(stats: &AppStats, json: &str, now: u64) -> String {
    let panels: Vec<Panel> = stats
        .routes
        .iter()
        .map(|(name, s)| panel("route", name, s, now))
        .chain(stats.functions.iter().map(|(name, s)| panel("function", name, s, now)))
        .collect();
    let c = &stats.cache;
    let page = PageData {
        backend: &stats.backend,
        time: clock(now),
        reads: c.hits + c.misses,
        hit_ratio: percent((c.hits + c.misses > 0).then(|| c.hit_ratio())),
        errors: c.errors,
        breaker: format!("{:?}", c.breaker.state).to_lowercase(),
        panels,
        json,
    };
    let mut env = Environment::new();
    env.add_template("stats.html", include_str!("../templates/stats.html")).expect("the template parses");
    env.get_template("stats.html")
        .and_then(|template| template.render(&page))
        .unwrap_or_else(|e| format!("<!doctype html><title>stats</title><p>the stats page failed to render: {e}</p>"))
}

#[derive(Serialize)]
struct PageData<'a> {
    backend: &'a str,
    time: String,
    reads: u64,
    hit_ratio: String,
    errors: u64,
    breaker: String,
    panels: Vec<Panel>,
    json: &'a str,
}

/// One route or function: its totals and its two charts.
#[derive(Serialize)]
struct Panel {
    kind: &'static str,
    name: String,
    totals: String,
    charts: [Chart; 2],
}

#[derive(Serialize)]
struct Chart {
    /// `hit-ratio` or `latency`.
    kind: &'static str,
    title: &'static str,
    width: f64,
    height: f64,
    grid: Vec<Mark>,
    ticks: Vec<Mark>,
    lines: Vec<Line>,
    /// Seconds with something to draw.
    points: usize,
}

/// A grid line (at `at` on the y axis) or a time tick (at `at` on the x axis), labelled.
#[derive(Serialize)]
struct Mark {
    at: f64,
    label: String,
}

/// One measure drawn as polylines (broken where seconds had no calls) and a dot per second.
#[derive(Serialize)]
struct Line {
    class: &'static str,
    label: &'static str,
    segments: Vec<String>,
    dots: Vec<Dot>,
}

#[derive(Serialize)]
struct Dot {
    x: f64,
    y: f64,
    title: String,
}

fn panel(kind: &'static str, name: &str, series: &Series, now: u64) -> Panel {
    let calls = series.hits + series.stale + series.misses;
    let totals = format!(
        "{calls} calls: {} hits, {} stale, {} misses ({} answered by the cache)",
        series.hits,
        series.stale,
        series.misses,
        percent(series.hit_ratio())
    );
    let history = &series.history;
    let ratio = Measure {
        class: "ratio",
        label: "hit ratio",
        value: |s: &Sample| s.hit_ratio().map(|r| (r, ratio_y(r))),
        title: |s: &Sample, r| {
            let calls = s.hits + s.stale + s.misses;
            format!("{}: {} of {calls} calls from the cache", clock(s.second), percent(Some(r)))
        },
    };
    let p50 = Measure {
        class: "p50",
        label: "p50",
        value: |s: &Sample| s.latency.map(|l| (l.p50_us as f64, latency_y(l.p50_us))),
        title: |s: &Sample, v| {
            format!("{}: p50 {} over {} calls", clock(s.second), micros(v), s.latency.map_or(0, |l| l.calls))
        },
    };
    let p99 = Measure {
        class: "p99",
        label: "p99",
        value: |s: &Sample| s.latency.map(|l| (l.p99_us as f64, latency_y(l.p99_us))),
        title: |s: &Sample, v| format!("{}: p99 {}", clock(s.second), micros(v)),
    };
    let (ratio, p50, p99) = (line(ratio, history, now), line(p50, history, now), line(p99, history, now));
    let ratio_grid = [(0.0, "0%"), (0.5, "50%"), (1.0, "100%")];
    let latency_grid = [(100, "100µs"), (1_000, "1ms"), (10_000, "10ms"), (100_000, "100ms"), (1_000_000, "1s")];
    Panel {
        kind,
        name: name.to_owned(),
        totals,
        charts: [
            chart("hit-ratio", "hit ratio, last 5 minutes", ratio_grid.map(|(r, l)| mark(ratio_y(r), l)), vec![ratio]),
            chart("latency", "latency p50 / p99", latency_grid.map(|(us, l)| mark(latency_y(us), l)), vec![p50, p99]),
        ],
    }
}

fn chart(kind: &'static str, title: &'static str, grid: impl Into<Vec<Mark>>, lines: Vec<Line>) -> Chart {
    let ticks =
        (0..=5).map(|m| mark(LEFT + (RIGHT - LEFT) * m as f64 / 5.0, ["-5m", "-4m", "-3m", "-2m", "-1m", "now"][m]));
    let points = lines.iter().map(|l| l.dots.len()).max().unwrap_or(0);
    Chart { kind, title, width: WIDTH, height: HEIGHT, grid: grid.into(), ticks: ticks.collect(), lines, points }
}

fn mark(at: f64, label: &str) -> Mark {
    Mark { at: round(at), label: label.to_owned() }
}

/// What one line of a chart draws: `value` gives a second's value and its y (`None`: nothing
/// to draw that second), `title` the dot's tooltip.
struct Measure<V, T> {
    class: &'static str,
    label: &'static str,
    value: V,
    title: T,
}

/// The seconds of `history` that have a value, joined into polylines over consecutive seconds,
/// with a titled dot each.
fn line<V, T>(measure: Measure<V, T>, history: &[Sample], now: u64) -> Line
where
    V: Fn(&Sample) -> Option<(f64, f64)>,
    T: Fn(&Sample, f64) -> String,
{
    let Measure { class, label, value, title } = measure;
    let mut segments = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut dots = Vec::new();
    for sample in history {
        match value(sample) {
            Some((v, y)) => {
                let x = time_x(sample.second, now);
                current.push(format!("{x},{}", round(y)));
                dots.push(Dot { x, y: round(y), title: title(sample, v) });
            }
            None if !current.is_empty() => segments.push(std::mem::take(&mut current).join(" ")),
            None => {}
        }
    }
    if !current.is_empty() {
        segments.push(current.join(" "));
    }
    Line { class, label, segments, dots }
}

/// x of the middle of `second`, five minutes before `now` at the left edge.
fn time_x(second: u64, now: u64) -> f64 {
    let age = now.saturating_sub(second) as f64 - 0.5;
    round(RIGHT - (RIGHT - LEFT) * age / HISTORY as f64)
}

fn ratio_y(ratio: f64) -> f64 {
    BOTTOM - (BOTTOM - TOP) * ratio.clamp(0.0, 1.0)
}

fn latency_y(us: u64) -> f64 {
    let log = (us.max(1) as f64).log10().clamp(LOG_MIN, LOG_MAX);
    BOTTOM - (BOTTOM - TOP) * (log - LOG_MIN) / (LOG_MAX - LOG_MIN)
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn percent(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

fn micros(us: f64) -> String {
    match us {
        us if us < 1_000.0 => format!("{us:.0}µs"),
        us if us < 1_000_000.0 => format!("{:.1}ms", us / 1e3),
        us => format!("{:.2}s", us / 1e6),
    }
}

/// `HH:MM:SS UTC` of a Unix second.
fn clock(second: u64) -> String {
    let day = second % 86_400;
    format!("{:02}:{:02}:{:02} UTC", day / 3600, day % 3600 / 60, day % 60)
}

#[cfg(test)]
mod tests {
    use cachette::observe::Latency;

    use super::*;

    fn sample(second: u64, hits: u64, misses: u64, p50_us: u64) -> Sample {
        let mut s = Sample::new(second);
        s.hits = hits;
        s.misses = misses;
        let mut latency = Latency::new(hits + misses);
        latency.p50_us = p50_us;
        latency.p99_us = p50_us * 10;
        s.latency = Some(latency);
        s
    }

    #[test]
    fn seconds_without_calls_break_the_line_and_each_second_with_calls_is_a_dot() {
        let history = [sample(97, 1, 1, 100), Sample::new(98), sample(99, 3, 1, 1_000)];
        let measure = Measure {
            class: "ratio",
            label: "hit ratio",
            value: |s: &Sample| s.hit_ratio().map(|r| (r, ratio_y(r))),
            title: |_: &Sample, _| String::new(),
        };
        let l = line(measure, &history, 100);
        assert_eq!(l.segments.len(), 2, "{:?}", l.segments);
        assert_eq!(l.dots.len(), 2);
        assert!(l.dots[0].x < l.dots[1].x && l.dots[1].x < RIGHT, "time runs left to right");
        assert!(l.dots[1].y < l.dots[0].y, "75% is drawn higher than 50%");
    }

    #[test]
    fn latency_is_on_a_log_scale_from_10_microseconds_to_10_seconds() {
        assert_eq!(latency_y(10), BOTTOM);
        assert_eq!(latency_y(10_000_000), TOP);
        let decade = latency_y(100) - latency_y(1_000);
        assert!((decade - (latency_y(100_000) - latency_y(1_000_000))).abs() < 1e-9, "decades are equal steps");
    }

    #[test]
    fn names_are_escaped_in_the_page() {
        let mut stats = AppStats::new("SimpleCache");
        let mut series = Series::default();
        series.history = vec![sample(99, 1, 0, 50)];
        stats.functions.insert("<script>alert(1)</script>".into(), series);
        let html = render(&stats, "{\"a\":\"</pre>\"}", 100);
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;") && html.contains("&lt;&#x2f;pre&gt;"), "{html}");
    }
}

//! The typed layer's codec on JSON-like values of 1 KiB, 64 KiB and 1 MiB (records of ids,
//! names, e-mails, tags, scores): encode and decode time with postcard and JSON, with and
//! without zstd, and the stored sizes with the compression ratio, printed before the timings.
//!
//! `cargo bench -p cachette-core --bench codec`

// criterion_group! defines a public function it cannot document.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use cachette_core::Config;
use cachette_core::codec::{self, Codec};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    id: u64,
    name: String,
    email: String,
    tags: Vec<String>,
    score: f64,
    active: bool,
}

/// Records whose JSON is at least `size` bytes.
fn records(size: usize) -> Vec<Record> {
    let mut out = Vec::new();
    let mut json_len = 1;
    let mut i = 0u64;
    while json_len < size {
        let record = Record {
            id: i * 7919 % 100_003,
            name: format!("user-{i}"),
            email: format!("user{i}@example.com"),
            tags: vec!["admin".into(), format!("team-{}", i % 13)],
            score: i as f64 * 1.37,
            active: i.is_multiple_of(3),
        };
        json_len += serde_json::to_vec(&record).unwrap().len() + 1;
        out.push(record);
        i += 1;
    }
    out
}

/// The codecs compared, by name.
fn codecs() -> Vec<(&'static str, Codec)> {
    let with = |settings: &[(&str, &str)]| {
        let mut config = Config::default();
        for (key, value) in settings {
            config.set(key, *value).unwrap();
        }
        config.codec
    };
    vec![
        ("postcard", with(&[])),
        ("postcard+zstd", with(&[("CACHE_COMPRESSION", "zstd")])),
        ("json", with(&[("CACHE_SERIALIZER", "json")])),
        ("json+zstd", with(&[("CACHE_SERIALIZER", "json"), ("CACHE_COMPRESSION", "zstd")])),
    ]
}

const SIZES: [(&str, usize); 3] = [("1KiB", 1024), ("64KiB", 64 * 1024), ("1MiB", 1024 * 1024)];

fn print_sizes() {
    println!("\nstored sizes (bytes) and compression ratio (uncompressed / compressed, same serializer):");
    for (label, size) in SIZES {
        let value = records(size);
        let sizes: Vec<(&str, usize)> =
            codecs().into_iter().map(|(name, codec)| (name, codec.encode("k", &value).unwrap().len())).collect();
        let line: Vec<String> = sizes.iter().map(|(name, len)| format!("{name} {len}")).collect();
        println!(
            "  {label:>5}: {} | zstd ratio: postcard {:.1}x, json {:.1}x",
            line.join(", "),
            sizes[0].1 as f64 / sizes[1].1 as f64,
            sizes[2].1 as f64 / sizes[3].1 as f64,
        );
    }
    println!();
}

fn bench(c: &mut Criterion) {
    print_sizes();
    for (direction, decode) in [("encode", false), ("decode", true)] {
        let mut group = c.benchmark_group(format!("codec/{direction}"));
        group.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
        for (label, size) in SIZES {
            let value = records(size);
            let json_len = serde_json::to_vec(&value).unwrap().len() as u64;
            group.throughput(Throughput::Bytes(json_len));
            for (name, codec) in codecs() {
                let id = BenchmarkId::new(name, label);
                if decode {
                    let stored = codec.encode("k", &value).unwrap();
                    group.bench_with_input(id, &stored, |b, stored| {
                        b.iter(|| black_box(codec::decode::<Vec<Record>>("k", stored).unwrap()))
                    });
                } else {
                    group.bench_with_input(id, &value, |b, value| {
                        b.iter(|| black_box(codec.encode("k", value).unwrap()))
                    });
                }
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

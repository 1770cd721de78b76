//! Properties of `codec::decode` on arbitrary bytes, for a few types (the same ones as the
//! `codec` fuzz target in `fuzz/`): it never panics, never hangs, fails only with
//! `CacheError::Codec`, and whatever decodes encodes and decodes back to itself.
//!
//! The inputs come from a fixed seed, so every run checks the same cases; the run has a time
//! budget, so a decode that hangs fails the test instead of stalling the suite.

use std::collections::BTreeMap;
use std::fmt::Debug;

use cachette_conformance::properties::check;
use cachette_core::{CacheError, codec};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Nested {
    Leaf,
    Node(Box<Nested>),
    Pair(Box<Nested>, Box<Nested>),
    List(Vec<Nested>),
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Kind {
    Unit,
    Newtype(i64),
    Tuple(u16, bool),
    Struct { a: u128, b: Option<String> },
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Record {
    id: u64,
    name: String,
    tags: Vec<String>,
    score: Option<i32>,
    attrs: BTreeMap<String, Vec<u8>>,
    kind: Kind,
    units: Vec<()>,
    pair: (u8, char),
}

fn sample() -> Record {
    Record {
        id: 7,
        name: "Zoë".into(),
        tags: vec!["a".into(), "b c".into()],
        score: Some(-3),
        attrs: [("k".to_string(), vec![1, 2, 3])].into(),
        kind: Kind::Struct { a: u128::MAX, b: Some("x".into()) },
        units: vec![(); 3],
        pair: (9, 'é'),
    }
}

/// Decodes `bytes` as `T`: a value that round-trips, or a codec error.
fn decodes_or_refuses<T: DeserializeOwned + Serialize + PartialEq + Debug>(bytes: &[u8]) -> Result<(), TestCaseError> {
    match codec::decode::<T>("k", bytes) {
        Ok(value) => {
            let stored = codec::encode("k", &value).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(codec::decode::<T>("k", &stored).ok(), Some(value));
        }
        Err(CacheError::Codec { .. }) => {}
        Err(other) => prop_assert!(false, "not a codec error: {other:?}"),
    }
    Ok(())
}

fn decodes_as_every_type(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    decodes_or_refuses::<i64>(&bytes)?;
    decodes_or_refuses::<u128>(&bytes)?;
    decodes_or_refuses::<String>(&bytes)?;
    decodes_or_refuses::<Vec<()>>(&bytes)?;
    decodes_or_refuses::<Vec<Vec<((), ())>>>(&bytes)?;
    decodes_or_refuses::<BTreeMap<(), ()>>(&bytes)?;
    decodes_or_refuses::<Nested>(&bytes)?;
    decodes_or_refuses::<Record>(&bytes)?;
    decodes_or_refuses::<Vec<Record>>(&bytes)?;
    match codec::decode_borrowed::<(&str, &[u8], Option<&str>)>("k", &bytes) {
        Ok(_) | Err(CacheError::Codec { .. }) => Ok(()),
        Err(other) => Err(TestCaseError::fail(format!("not a codec error: {other:?}"))),
    }
}

/// Bytes that reach the decoders: mostly a binary format byte (bincode's, postcard's) followed
/// by bytes biased to varint markers and small variant indexes, which make long lengths and deep
/// nesting; and text made of JSON's punctuation.
fn stored_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![4 => any::<u8>(), 1 => Just(0u8), 2 => Just(1u8), 1 => 250u8..=255, 1 => 0x80u8..=0xff];
    let format = prop_oneof![Just(codec::FORMAT_BINCODE2), Just(codec::FORMAT_POSTCARD)];
    prop_oneof![
        1 => vec(any::<u8>(), 0..64),
        1 => "-?[0-9]{0,45}".prop_map(String::into_bytes),
        2 => r#"[\[\]{}":,0-9a-z. \-]{0,80}"#.prop_map(String::into_bytes),
        6 => (format, vec(byte, 0..300)).prop_map(|(format, tail)| [&[format][..], &tail].concat()),
    ]
}

/// A stored `Record` with a few bytes changed, and cut short or extended.
fn damaged_records() -> impl Strategy<Value = Vec<u8>> {
    damaged(codec::encode("k", &vec![sample(), sample()]).unwrap().to_vec())
}

/// `Record`s stored as JSON, compressed postcard or compressed JSON, damaged.
fn damaged_other_forms() -> impl Strategy<Value = Vec<u8>> {
    let records = vec![sample(), sample()];
    let with = |settings: &[(&str, &str)]| {
        let config = cachette_core::Config::from_map(settings.iter().copied()).unwrap();
        config.codec.encode("k", &records).unwrap().to_vec()
    };
    let zstd = [("CACHE_COMPRESSION", "zstd"), ("CACHE_COMPRESSION_MIN_SIZE", "0")];
    let json = with(&[("CACHE_SERIALIZER", "json")]);
    let postcard_zstd = with(&zstd);
    let json_zstd = with(&[zstd[0], zstd[1], ("CACHE_SERIALIZER", "json")]);
    assert_eq!([json[0], postcard_zstd[0], json_zstd[0]], [b'[', codec::FORMAT_POSTCARD_ZSTD, codec::FORMAT_JSON_ZSTD]);
    prop_oneof![damaged(json), damaged(postcard_zstd), damaged(json_zstd)]
}

/// `stored` with a few bytes changed, and cut short or extended.
fn damaged(stored: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = stored.len();
    (vec((1..len, any::<u8>()), 1..6), 1..len + 8).prop_map(move |(changes, keep)| {
        let mut bytes = stored.clone();
        for (at, byte) in changes {
            bytes[at] = byte;
        }
        bytes.resize(keep, 0);
        bytes
    })
}

#[test]
fn arbitrary_bytes_decode_as_any_type_or_are_codec_errors() {
    check(1000, 0x5eed_0001, stored_bytes, decodes_as_every_type);
}

#[test]
fn damaged_stored_values_decode_as_any_type_or_are_codec_errors() {
    check(3000, 0x5eed_0002, damaged_records, decodes_as_every_type);
}

#[test]
fn damaged_json_and_compressed_values_decode_as_any_type_or_are_codec_errors() {
    check(1500, 0x5eed_0003, damaged_other_forms, decodes_as_every_type);
}

#[test]
fn the_sample_round_trips() {
    // If this fails, damaged_records mutates garbage and tests nothing.
    let stored = codec::encode("k", &vec![sample(), sample()]).unwrap();
    assert_eq!(codec::decode::<Vec<Record>>("k", &stored).unwrap(), vec![sample(), sample()]);
}

//! Decoding is bounded by the input, whatever the type: a stored value that claims more than its
//! bytes can hold, or nests deeper than the stack allows, is a `CacheError::Codec`, quickly.
//!
//! Each hostile decode runs on its own thread and the test gives up after a few seconds, so a
//! regression fails the test instead of hanging the suite.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::mpsc;
use std::time::Duration;

use cachette_core::{CacheError, Result, codec};
use serde::{Deserialize, Serialize};

/// How long a decode may take before the test calls it a hang (a bounded decode of these inputs
/// takes microseconds; the unbounded one of a `Vec<()>` took forever).
const GIVE_UP_AFTER: Duration = Duration::from_secs(5);

/// Runs `decode` on a thread with the default 2 MiB stack (the size of tokio's worker threads) and
/// returns its result, or panics if it has not finished in [`GIVE_UP_AFTER`].
fn within_time<T: Send + 'static>(decode: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let _ = tx.send(decode());
        })
        .expect("spawn the decoding thread");
    rx.recv_timeout(GIVE_UP_AFTER)
        .unwrap_or_else(|_| panic!("decoding did not finish in {GIVE_UP_AFTER:?}: it is not bounded by its input"))
}

/// A tagged (format byte 0x01) bincode value whose first item is a varint length of `len`.
fn claiming(len: u64) -> Vec<u8> {
    let mut bytes = vec![codec::FORMAT_BINCODE2, 253];
    bytes.extend_from_slice(&len.to_le_bytes());
    bytes
}

fn assert_codec_error<T: std::fmt::Debug>(result: Result<T>, mentions: &str) {
    match result {
        Err(CacheError::Codec { message, .. }) => {
            assert!(message.contains(mentions), "the message should say {mentions:?}: {message}")
        }
        other => panic!("expected a codec error mentioning {mentions:?}, got {other:?}"),
    }
}

#[test]
fn a_vec_of_units_claiming_two_to_the_sixty_elements_is_refused_in_time() {
    let bytes = claiming(1 << 60);
    assert_eq!(bytes.len(), 10);
    let result = within_time(move || codec::decode::<Vec<()>>("k", &bytes));
    assert_codec_error(result, "more elements than its 10 bytes can hold");
}

#[test]
fn zero_sized_elements_in_maps_and_nested_sequences_are_refused_in_time() {
    let bytes = claiming(u64::MAX >> 4);
    let result = within_time(move || codec::decode::<BTreeMap<(), ()>>("k", &bytes));
    assert_codec_error(result, "more elements than");
    // One outer element, whose inner Vec claims 2^40 units.
    let mut bytes = vec![codec::FORMAT_BINCODE2, 1, 253];
    bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
    let result = within_time(move || codec::decode::<Vec<Vec<((), ())>>>("k", &bytes));
    assert_codec_error(result, "more elements than");
}

/// A recursive type: every `Node` is one byte (its variant index), so a few bytes nest deeply.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Nested {
    Leaf,
    Node(Box<Nested>),
}

fn nested(depth: usize) -> Nested {
    (0..depth).fold(Nested::Leaf, |inner, _| Nested::Node(Box::new(inner)))
}

#[test]
fn a_deeply_nested_value_is_refused_without_overflowing_the_stack() {
    // A million `Node`s and a `Leaf`: before the depth bound this overflowed the thread's stack
    // and aborted the process.
    let mut bytes = vec![codec::FORMAT_BINCODE2];
    bytes.extend(std::iter::repeat_n(1u8, 1_000_000));
    bytes.push(0);
    let result = within_time(move || codec::decode::<Nested>("k", &bytes));
    assert_codec_error(result, "nests deeper than");
}

/// An id typed by what it identifies: zero-sized fields beside the one that takes bytes.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct TypedId {
    raw: u64,
    marker: PhantomData<String>,
    unit: (),
}

#[test]
fn values_within_the_bounds_still_decode() {
    let units = vec![(); 1000];
    let stored = codec::encode("k", &units).unwrap();
    assert_eq!(codec::decode::<Vec<()>>("k", &stored).unwrap(), units);
    let deep = nested(100);
    let stored = codec::encode("k", &deep).unwrap();
    assert_eq!(within_time(move || codec::decode::<Nested>("k", &stored)).unwrap(), deep);
    let map: BTreeMap<String, Vec<Option<u8>>> =
        (0..5000).map(|i| (i.to_string(), vec![Some(1), None, Some(u8::MAX)])).collect();
    let stored = codec::encode("k", &map).unwrap();
    assert_eq!(codec::decode::<BTreeMap<String, Vec<Option<u8>>>>("k", &stored).unwrap(), map);
    // A struct's own fields are not elements: a hundred thousand of these take 1 byte each.
    let ids: Vec<TypedId> = (0..100_000).map(|i| TypedId { raw: i % 200, marker: PhantomData, unit: () }).collect();
    let stored = codec::encode("k", &ids).unwrap();
    assert_eq!(codec::decode::<Vec<TypedId>>("k", &stored).unwrap(), ids);
    let bytes: Vec<u8> = (0..=255).cycle().take(1 << 20).collect();
    let stored = codec::encode("k", &bytes).unwrap();
    assert_eq!(codec::decode::<Vec<u8>>("k", &stored).unwrap(), bytes);
}

#[test]
fn borrowed_decoding_is_bounded_too() {
    let bytes = claiming(1 << 60);
    let result = within_time(move || codec::decode_borrowed::<Vec<()>>("k", &bytes).map(|v| v.len()));
    assert_codec_error(result, "more elements than");
}

#[test]
fn postcard_and_json_values_are_bounded_as_bincode_ones_are() {
    // postcard: the format byte, then a LEB128 varint of 2^60.
    let mut bytes = vec![codec::FORMAT_POSTCARD];
    bytes.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]);
    let result = within_time(move || codec::decode::<Vec<()>>("k", &bytes));
    assert_codec_error(result, "more elements than its 10 bytes can hold");
    // JSON: more units than the allowance for zero-sized elements, one byte each.
    let units = format!("[{}]", vec!["null"; 6000].join(","));
    let result = within_time(move || codec::decode::<Vec<()>>("k", units.as_bytes()).map(|v| v.len()));
    assert_eq!(result.unwrap(), 6000, "a unit that takes input bytes is charged to them");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let result = within_time(move || codec::decode::<serde_json::Value>("k", deep.as_bytes()).map(|_| ()));
    assert!(matches!(result, Err(CacheError::Codec { .. })), "{result:?}");
}

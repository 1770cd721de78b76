//! Properties of the stored-entry decoder on arbitrary bytes (the same code as the `http_entry`
//! fuzz target in `fuzz/`): decoding an entry and using it as a hit does never panics, never
//! hangs, and fails only with `CacheError::Codec`.
//!
//! The inputs come from a fixed seed, so every run checks the same cases; the run has a time
//! budget, so a decode that hangs fails the test instead of stalling the suite.

use bytes::Bytes;
use cachette_conformance::properties::check;
use cachette_core::{CacheError, codec};
use cachette_http::__fuzz::serve_stored;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// The stored form of an entry, as `Entry::encode` writes it: the entry's format byte, then
/// `(head, headers, body)` with the head's fields `(status, last_modified, fresh_until_ms,
/// stale_until_ms, vary, rendered_at_ms, render_ms)`.
type Stored<'a> = (Head, &'a serde_bytes::Bytes, &'a serde_bytes::Bytes);
type Head = (u16, u64, Option<u64>, Option<u64>, Vary, u64, u32);
type Vary = Vec<(String, Option<serde_bytes::ByteBuf>)>;

/// The entry's format byte (cachette-http's `ENTRY_FORMAT`).
const ENTRY_FORMAT: u8 = 0x48;

/// A head, a block of `(u32 LE length, bytes)` header frames and a body.
type Parts = (Head, Vec<u8>, Vec<u8>);

fn stored((head, headers, body): &Parts) -> Bytes {
    let stored: Stored<'_> = (head.clone(), serde_bytes::Bytes::new(headers), serde_bytes::Bytes::new(body));
    let mut bytes = vec![ENTRY_FORMAT];
    bytes.extend_from_slice(&codec::encode("k", &stored).unwrap());
    Bytes::from(bytes)
}

fn serves_or_refuses(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    match serve_stored(&Bytes::from(bytes)) {
        Ok(()) | Err(CacheError::Codec { .. }) => Ok(()),
        Err(other) => Err(TestCaseError::fail(format!("not a codec error: {other:?}"))),
    }
}

/// A block of header frames: mostly well framed, with arbitrary names and values (invalid ones
/// are dropped when served), sometimes arbitrary bytes.
fn header_block() -> impl Strategy<Value = Vec<u8>> {
    let frame = (vec(any::<u8>(), 0..12), vec(any::<u8>(), 0..24)).prop_map(|(name, value)| {
        let mut frame = Vec::new();
        for part in [name, value] {
            frame.extend_from_slice(&(part.len() as u32).to_le_bytes());
            frame.extend_from_slice(&part);
        }
        frame
    });
    prop_oneof![4 => vec(frame, 0..6).prop_map(|frames| frames.concat()), 1 => vec(any::<u8>(), 0..64)]
}

/// The parts of an entry, every field over its whole range (a `last_modified` past what
/// `SystemTime` holds made a hit panic: `fuzz_regressions.rs`).
fn parts() -> impl Strategy<Value = Parts> {
    let vary = vec(("[a-z-]{0,12}", option::of(vec(any::<u8>(), 0..16).prop_map(serde_bytes::ByteBuf::from))), 0..4);
    let head = (
        any::<u16>(),
        any::<u64>(),
        option::of(any::<u64>()),
        option::of(any::<u64>()),
        vary,
        any::<u64>(),
        any::<u32>(),
    );
    (head, header_block(), vec(any::<u8>(), 0..64))
}

/// Stored entries: well formed with arbitrary fields, the same with a few bytes changed and cut
/// short or extended, and arbitrary bytes after the format bytes.
fn stored_entries() -> impl Strategy<Value = Vec<u8>> {
    let damaged = (parts(), vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), any::<prop::sample::Index>())
        .prop_map(|(parts, changes, keep)| {
            let mut bytes = stored(&parts).to_vec();
            for (at, byte) in changes {
                let at = at.index(bytes.len() - 1) + 1;
                bytes[at] = byte;
            }
            bytes.truncate(keep.index(bytes.len() + 1).max(1));
            bytes
        });
    prop_oneof![
        3 => parts().prop_map(|parts| stored(&parts).to_vec()),
        3 => damaged,
        2 => vec(any::<u8>(), 0..200).prop_map(|tail| [&[ENTRY_FORMAT, codec::FORMAT_BINCODE2][..], &tail].concat()),
    ]
}

#[test]
fn stored_entries_are_served_or_are_codec_errors() {
    check(4000, 0x5eed_0101, stored_entries, serves_or_refuses);
}

#[test]
fn a_well_formed_entry_is_served() {
    // If this fails, the layout above is not Entry's any more and the property tests garbage.
    let head = (200, 1_800_000_000, Some(1), None, vec![("accept".into(), None)], 1_800_000_000_000, 40);
    let parts: Parts = (head, Vec::new(), b"hi".to_vec());
    serve_stored(&stored(&parts)).unwrap();
}

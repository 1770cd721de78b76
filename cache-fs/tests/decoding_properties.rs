//! Properties of the entry-file decoder (`decode_entry`, the same code as the `fs_entry` fuzz
//! target in `fuzz/`) on arbitrary file contents: it never panics, never hangs, and accepts only
//! a file whose header is ours and whose length field matches its size.
//!
//! The inputs come from a fixed seed, so every run checks the same cases; the run has a time
//! budget, so a decode that hangs fails the test instead of stalling the suite.

use cachette_conformance::properties::check;
use cachette_fs::{HEADER_LEN, NotAnEntry, decode_entry};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// File contents: arbitrary, or our magic and version followed by arbitrary reserved bytes,
/// expiry and length fields (often the length of what follows) and a value.
fn file_contents() -> impl Strategy<Value = Vec<u8>> {
    let ours = (vec(any::<u8>(), 3), any::<u64>(), prop::option::of(any::<u64>()), vec(any::<u8>(), 0..64)).prop_map(
        |(reserved, expiry, claimed, value)| {
            let mut file = b"CKFS\x01".to_vec();
            file.extend_from_slice(&reserved);
            file.extend_from_slice(&expiry.to_le_bytes());
            file.extend_from_slice(&claimed.unwrap_or(value.len() as u64).to_le_bytes());
            file.extend_from_slice(&value);
            file
        },
    );
    prop_oneof![1 => vec(any::<u8>(), 0..64), 3 => ours]
}

fn accepts_only_consistent_entries(file: Vec<u8>) -> Result<(), TestCaseError> {
    match decode_entry(&file) {
        Ok(header) => {
            prop_assert_eq!(&file[..5], b"CKFS\x01");
            prop_assert_eq!(header.value_len, file.len() - HEADER_LEN);
            let expiry = u64::from_le_bytes(file[8..16].try_into().unwrap());
            prop_assert_eq!(header.expires_at_ms, (expiry != 0).then_some(expiry));
        }
        Err(NotAnEntry::Truncated) => prop_assert!(file.len() < HEADER_LEN),
        Err(NotAnEntry::NotOurs) => prop_assert_ne!(&file[..4], b"CKFS"),
        Err(NotAnEntry::UnknownVersion(v)) => prop_assert_ne!(v, 1),
        Err(NotAnEntry::LengthMismatch) => {
            let claimed = u64::from_le_bytes(file[16..24].try_into().unwrap());
            prop_assert_ne!(claimed, (file.len() - HEADER_LEN) as u64);
        }
    }
    Ok(())
}

#[test]
fn file_contents_are_an_entry_only_when_consistent() {
    check(20_000, 0x5eed_0301, file_contents, accepts_only_consistent_entries);
}

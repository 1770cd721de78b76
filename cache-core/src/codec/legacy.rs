//! bincode 2: the format cachette wrote before postcard, read so that entries stored by an older
//! version decode after an upgrade. Never written: bincode 2.0.1 is the last release and is
//! flagged unmaintained (RUSTSEC-2025-0141); 3.0.0 is a release with no code.

use serde::de::Deserialize;

use super::{Budget, Limits, MAX_DECODE_BYTES, check_size, finish};
use crate::Result;

fn bincode_config() -> bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<MAX_DECODE_BYTES>,
> {
    bincode::config::standard().with_limit::<MAX_DECODE_BYTES>()
}

/// Decodes a value tagged [`FORMAT_BINCODE2`](super::FORMAT_BINCODE2) (`bytes` includes the
/// format byte).
pub(super) fn decode<'de, T: Deserialize<'de>>(key: &str, bytes: &'de [u8]) -> Result<T> {
    let body = &bytes[1..];
    check_size(key, body)?;
    let budget = Budget::new(Limits::for_input(bytes.len()));
    let decoded = bincode::serde::seed_decode_from_slice(budget.seed::<T>(), body, bincode_config())
        .map(|(value, used)| (value, body.len() - used));
    finish(key, bytes.len(), &budget, decoded)
}

/// The bincode 2 encoding of `value` with its format byte, as cachette wrote it before postcard:
/// for tests that old entries still decode.
#[cfg(test)]
pub(super) fn encode<T: serde::Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = vec![super::FORMAT_BINCODE2];
    bincode::serde::encode_into_std_write(value, &mut out, bincode_config()).expect("bincode encodes");
    out
}

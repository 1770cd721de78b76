//! JSON (`CACHE_SERIALIZER=json`): plain JSON text with no format byte, readable by
//! `redis-cli GET` and by any language.

use serde::de::{Deserialize, DeserializeSeed};
use serde::ser::Serialize;

use super::{Budget, Limits, MAX_DECODE_BYTES, finish};
use crate::{CacheError, Result};

/// Whether a stored value starting with `first` is JSON text: an object, an array, a string,
/// `true`, `false`, `null` or whitespace before one (numbers start with a digit or `-`, which
/// the caller tries as an integer first). No format byte is among these.
pub(super) fn starts_json(first: u8) -> bool {
    matches!(first, b'{' | b'[' | b'"' | b't' | b'f' | b'n' | b' ' | b'\t' | b'\n' | b'\r')
}

/// `value` as JSON text.
pub(super) fn encode<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| {
        CacheError::codec(
            key,
            format!(
                "cannot encode the value as JSON (CACHE_SERIALIZER=json): {e}; \
                 map keys must be strings or integers (or use CACHE_SERIALIZER=postcard)"
            ),
        )
    })
}

/// Decodes JSON text as `T`.
pub(super) fn decode<'de, T: Deserialize<'de>>(key: &str, bytes: &'de [u8]) -> Result<T> {
    if bytes.len() > MAX_DECODE_BYTES {
        return Err(CacheError::codec(
            key,
            format!("the stored value is {} bytes, over the decoding limit of {MAX_DECODE_BYTES}", bytes.len()),
        ));
    }
    let budget = Budget::new(Limits::for_input(bytes.len()));
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    // `end` refuses anything but whitespace after the value, as trailing bytes are refused in
    // the binary formats.
    let decoded =
        budget.seed::<T>().deserialize(&mut deserializer).and_then(|value| deserializer.end().map(|()| (value, 0)));
    finish(key, bytes.len(), &budget, decoded)
}

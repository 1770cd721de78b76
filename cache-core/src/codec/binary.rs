//! postcard: the default binary format (`CACHE_SERIALIZER=postcard`), the maintained successor
//! of bincode in serde's ecosystem (varint integers, no schema, `no_std` friendly, a stable wire
//! format since 1.0).

use serde::de::{Deserialize, DeserializeSeed};
use serde::ser::Serialize;

use super::{Budget, FORMAT_POSTCARD, Limits, check_size, finish};
use crate::{CacheError, Result};

/// `value` in postcard, after the format byte [`FORMAT_POSTCARD`].
pub(super) fn encode<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64);
    out.push(FORMAT_POSTCARD);
    postcard::to_extend(value, out).map_err(|e| CacheError::codec(key, format!("cannot encode the value: {e}")))
}

/// [`encode`] into `buf`, without allocating: the bytes written, or `None` if they do not fit (or
/// the value cannot be encoded: [`encode`] then says why).
pub(super) fn encode_into<'b, T: Serialize + ?Sized>(value: &T, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let (format, body) = buf.split_first_mut()?;
    *format = FORMAT_POSTCARD;
    let written = postcard::to_slice(value, body).ok()?.len();
    Some(&buf[..=written])
}

/// Decodes a value tagged [`FORMAT_POSTCARD`] (`bytes` includes the format byte).
pub(super) fn decode<'de, T: Deserialize<'de>>(key: &str, bytes: &'de [u8]) -> Result<T> {
    let body = &bytes[1..];
    check_size(key, body)?;
    let budget = Budget::new(Limits::for_input(bytes.len()));
    let mut deserializer = postcard::Deserializer::from_bytes(body);
    let decoded = budget
        .seed::<T>()
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.finalize().map(|rest| (value, rest.len())));
    finish(key, bytes.len(), &budget, decoded)
}

//! The stored form of typed values.
//!
//! * [The stored form](#the-stored-form)
//! * [Choosing the format: `Codec`](Codec) (`CACHE_SERIALIZER`, `CACHE_COMPRESSION`)
//! * [Bounded decoding](#bounded-decoding)
//! * [Borrowing from the stored bytes](decode_borrowed)
//!
//! # The stored form
//!
//! * An integer (any of `i8`..`i128`, `u8`..`u128`, at the top level) is stored as plain decimal
//!   text, e.g. `b"42"`, whatever the serializer, so that Redis `INCRBY`, memcached `incr` and
//!   every backend's [`BaseCache::inc`](crate::BaseCache::inc) work on it, and a value set by one
//!   application in another language reads back.
//! * With `CACHE_SERIALIZER=postcard` (the default), anything else is the format byte
//!   [`FORMAT_POSTCARD`] followed by the value in [postcard](https://docs.rs/postcard).
//! * With `CACHE_SERIALIZER=json`, anything else is plain JSON with no format byte, so that
//!   `redis-cli GET` shows it and any language reads it. A JSON text starts with `{`, `[`, `"`,
//!   `t`, `f`, `n`, a digit, `-` or whitespace; every format byte is a control character outside
//!   those, so the two never meet (nor with the envelope of stale-while-revalidate, `0xE1`).
//! * Compressed (`CACHE_COMPRESSION=zstd`, values of `CACHE_COMPRESSION_MIN_SIZE` bytes or more):
//!   [`FORMAT_POSTCARD_ZSTD`] or [`FORMAT_JSON_ZSTD`] followed by one zstd frame of the postcard
//!   body or the JSON text.
//! * [`FORMAT_BINCODE2`]: what cachette wrote before postcard. Never written any more (bincode 2
//!   is unmaintained, RUSTSEC-2025-0141), still read, so entries stored by an older version of
//!   the application decode after an upgrade.
//!
//! Reading needs no configuration: every form above decodes whatever `CACHE_SERIALIZER` says, so
//! processes with different settings share a cache and a change of setting needs no flush. An
//! unknown format byte is a [`CacheError::Codec`], never garbage, and so is a value that does not
//! decode as the asked type (including trailing bytes left over).
//!
//! ```
//! use cachette_core::codec;
//!
//! assert_eq!(&codec::encode("n", &42i64)?[..], b"42");
//! assert_eq!(codec::decode::<u16>("n", b"42")?, 42);
//! let bytes = codec::encode("k", &vec!["a".to_string(), "b".to_string()])?;
//! assert_eq!(bytes[0], codec::FORMAT_POSTCARD);
//! assert_eq!(codec::decode::<Vec<String>>("k", &bytes)?, vec!["a", "b"]);
//! // JSON written by anyone reads back too.
//! assert_eq!(codec::decode::<Vec<String>>("k", br#"["a","b"]"#)?, vec!["a", "b"]);
//! // The wrong type is an error, not a panic.
//! assert!(codec::decode::<String>("n", b"42").is_err());
//! # Ok::<(), cachette_core::CacheError>(())
//! ```
//!
//! # Bounded decoding
//!
//! A stored value is data from outside the process (another version of the application, another
//! application sharing the server, a damaged entry), so decoding any type from `n` bytes takes
//! time and memory bounded by `n`:
//!
//! * **Memory.** A value may not claim more than [`MAX_DECODE_BYTES`], so a length prefix cannot
//!   make the process allocate gigabytes, and a compressed value may not inflate past it: a few
//!   bytes of zstd that would expand to gigabytes stop at the limit, with a `CacheError::Codec`.
//! * **Work.** A value may hold no more sequence elements and map entries than its bytes can: one
//!   per byte, plus [`ZERO_SIZED_ALLOWANCE`] for elements that take no bytes (a `Vec<()>`). Before
//!   this bound, a 10-byte `Vec<()>` claiming 2^60 elements kept a core busy forever.
//! * **Depth.** A value may nest at most [`MAX_DEPTH`] levels (each `Option`, newtype, sequence,
//!   struct or enum variant is one), so a recursive type cannot overflow the stack.
//!
//! Past a bound, decoding stops with a `CacheError::Codec` that says which.
//!
//! ```
//! use cachette_core::{CacheError, codec};
//!
//! // Format byte, then a varint length of 2^60: ten bytes claiming 2^60 units.
//! let mut hostile = vec![codec::FORMAT_POSTCARD];
//! hostile.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]);
//! let error = codec::decode::<Vec<()>>("k", &hostile).unwrap_err();
//! assert!(matches!(&error, CacheError::Codec { message, .. } if message.contains("more elements than its 10 bytes")));
//! ```

use bytes::Bytes;
use serde::de::{Deserialize, DeserializeOwned};
use serde::ser::Serialize;

use crate::{CacheError, Result};

mod binary;
mod bounded;
mod compress;
mod integer;
mod json;
mod legacy;
mod settings;
#[cfg(test)]
mod tests;

use bounded::{Budget, Exceeded, Limits};
pub use bounded::{MAX_DEPTH, ZERO_SIZED_ALLOWANCE};
pub(crate) use integer::is_none;
pub use settings::{Codec, Compression, Serializer};

/// Format byte of values encoded with bincode 2 (standard config, via serde): read, never
/// written since the move to postcard.
pub const FORMAT_BINCODE2: u8 = 0x01;

/// Format byte of values encoded with postcard (`CACHE_SERIALIZER=postcard`, the default).
pub const FORMAT_POSTCARD: u8 = 0x02;

/// Format byte of a zstd frame holding a postcard value (without its format byte).
pub const FORMAT_POSTCARD_ZSTD: u8 = 0x03;

/// Format byte of a zstd frame holding a JSON text (`CACHE_SERIALIZER=json` with compression).
pub const FORMAT_JSON_ZSTD: u8 = 0x04;

/// Largest amount of memory a stored value may claim while decoding: 64 MiB. A compressed value
/// may not inflate past it either.
pub const MAX_DECODE_BYTES: usize = 64 * 1024 * 1024;

/// Encodes `value` in the default stored form (postcard, uncompressed; `key` is only used in
/// error messages). [`Codec::encode`] writes the form a [`Config`](crate::Config) chooses.
pub fn encode<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Bytes> {
    Codec::default().encode(key, value)
}

/// Decodes a stored value of any form as `T` (`key` is only used in error messages), within the
/// [bounds](self#bounded-decoding).
pub fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    // The format byte first, in line: most values are postcard, uncompressed, and the calls to
    // `inflate` and `decode_plain` to learn it were a tenth of the decode of a short value.
    if bytes.first() == Some(&FORMAT_POSTCARD) {
        return binary::decode(key, bytes);
    }
    if !compress::is_compressed(bytes) {
        return decode_plain(key, bytes);
    }
    match compress::inflate(key, bytes)? {
        Some(plain) => decode_plain(key, &plain),
        None => decode_plain(key, bytes),
    }
}

/// Decodes a stored value as a `T` that may borrow from `bytes` (a `&str` or `&[u8]` field is then a
/// slice of the stored value, not a copy): for large values read on a hot path. The same formats,
/// checks and bounds as [`decode`], except compressed values, which have nothing to borrow from
/// (a `CacheError::Codec` here: decode them with [`decode`]).
///
/// ```
/// use cachette_core::codec;
///
/// let stored = codec::encode("k", &("text/plain", "a long body"))?;
/// let (kind, body): (&str, &str) = codec::decode_borrowed("k", &stored)?;
/// assert_eq!((kind, body), ("text/plain", "a long body"));
/// assert!(stored.as_ptr_range().contains(&body.as_ptr()), "borrowed, not copied");
/// # Ok::<(), cachette_core::CacheError>(())
/// ```
pub fn decode_borrowed<'de, T: Deserialize<'de>>(key: &str, bytes: &'de [u8]) -> Result<T> {
    if compress::is_compressed(bytes) {
        return Err(CacheError::codec(
            key,
            "the stored value is compressed and cannot be borrowed from: decode it with codec::decode",
        ));
    }
    decode_plain(key, bytes)
}

/// Decodes an uncompressed stored value.
fn decode_plain<'de, T: Deserialize<'de>>(key: &str, bytes: &'de [u8]) -> Result<T> {
    match bytes.first() {
        None => Err(CacheError::codec(key, "the stored value is empty (not written by cachette's typed layer)")),
        // Decimal text first (integers under every serializer), then JSON: a float, or an
        // `Option<i64>` or newtype around an integer written with CACHE_SERIALIZER=json.
        Some(b'-' | b'0'..=b'9') => integer::decode_integer(key, bytes).or_else(|not_integer| {
            json::decode(key, bytes)
                .map_err(|not_json| if integer::is_integer_text(bytes) { not_integer } else { not_json })
        }),
        Some(&FORMAT_POSTCARD) => binary::decode(key, bytes),
        Some(&FORMAT_BINCODE2) => legacy::decode(key, bytes),
        Some(&first) if json::starts_json(first) => json::decode(key, bytes),
        Some(&FORMAT_POSTCARD_ZSTD | &FORMAT_JSON_ZSTD) => {
            Err(CacheError::codec(key, "a compressed value holds another compressed value: it is damaged"))
        }
        Some(other) => Err(CacheError::codec(
            key,
            format!(
                "unknown format byte 0x{other:02x}: the value was not written by this version of cachette's typed layer \
                 (read it with get_bytes, or clear the cache after a format change)"
            ),
        )),
    }
}

/// Refuses a value whose `body` (what follows its format byte) is over [`MAX_DECODE_BYTES`].
#[inline]
fn check_size(key: &str, body: &[u8]) -> Result<()> {
    if body.len() > MAX_DECODE_BYTES {
        return Err(CacheError::codec(
            key,
            format!("the stored value is {} bytes, over the decoding limit of {MAX_DECODE_BYTES}", body.len() + 1),
        ));
    }
    Ok(())
}

/// The outcome of a format's decode of a `len`-byte value within `budget`: the value, or the
/// error naming the bound it ran into, the format's complaint, or the bytes left over. Small, so
/// that it goes in line on the hit path; the errors are made out of line.
#[inline]
fn finish<T, E: std::fmt::Display>(
    key: &str,
    len: usize,
    budget: &Budget,
    decoded: std::result::Result<(T, usize), E>,
) -> Result<T> {
    match decoded {
        Ok((value, 0)) => Ok(value),
        Ok((_, left_over)) => Err(left_over_error(key, std::any::type_name::<T>(), left_over)),
        Err(e) => {
            let bound = budget.exceeded().map(|bound| out_of_bounds(len, budget, bound));
            Err(decode_error(key, std::any::type_name::<T>(), bound, &e))
        }
    }
}

#[cold]
fn left_over_error(key: &str, type_name: &str, left_over: usize) -> CacheError {
    CacheError::codec(
        key,
        format!("does not decode as {type_name}: {left_over} bytes left over (was it stored as another type?)"),
    )
}

/// The error of a decode that failed: the bound it ran into (`bound`, from [`out_of_bounds`]),
/// or else the format's complaint `e`.
#[cold]
fn decode_error(key: &str, type_name: &str, bound: Option<String>, e: &dyn std::fmt::Display) -> CacheError {
    match bound {
        Some(what) => CacheError::codec(
            key,
            format!(
                "{what}: it is damaged, or was not stored as {type_name} (read it with get_bytes, or delete the key)"
            ),
        ),
        None => CacheError::codec(key, format!("does not decode as {type_name}: {e}")),
    }
}

/// What a decode of a `len`-byte value that ran into `bound` did.
#[cold]
fn out_of_bounds(len: usize, budget: &Budget, bound: Exceeded) -> String {
    let limits = budget.limits();
    match bound {
        Exceeded::Elements => format!(
            "the value claims more elements than its {len} bytes can hold (a value of that size holds at most {} \
             sequence elements and map entries)",
            limits.elements
        ),
        Exceeded::Values => format!(
            "the value visits more values than its {len} bytes can hold (a value of that size visits at most {})",
            limits.values
        ),
        Exceeded::Depth => format!("the value nests deeper than {} levels", limits.depth),
    }
}

/// Parses a counter (decimal text) for [`BaseCache::inc`](crate::BaseCache::inc).
pub fn parse_counter(key: &str, bytes: &[u8]) -> Result<i64> {
    std::str::from_utf8(bytes).ok().and_then(|t| t.parse::<i64>().ok()).ok_or_else(|| {
        let shown: String = String::from_utf8_lossy(&bytes[..bytes.len().min(32)]).into_owned();
        CacheError::not_an_integer(key, format!("the stored value {shown:?} is not a decimal integer in i64 range"))
    })
}

/// `current + delta`, or [`CacheError::NotAnInteger`] if that leaves `i64`.
pub fn checked_counter_add(key: &str, current: i64, delta: i64) -> Result<i64> {
    current
        .checked_add(delta)
        .ok_or_else(|| CacheError::not_an_integer(key, format!("{current} + {delta} overflows i64")))
}

/// The stored form of a counter value: decimal text.
pub fn encode_counter(value: i64) -> Bytes {
    Bytes::from(value.to_string())
}

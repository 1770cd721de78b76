//! The stored form of typed values.
//!
//! * [The stored form](#the-stored-form)
//! * [Bounded decoding](#bounded-decoding)
//! * [Borrowing from the stored bytes](decode_borrowed)
//!
//! # The stored form
//!
//! * An integer (any of `i8`..`i128`, `u8`..`u128`, at the top level) is stored as plain decimal
//!   text, e.g. `b"42"`, so that Redis `INCRBY`, memcached `incr` and every backend's
//!   [`BaseCache::inc`](crate::BaseCache::inc) work on it, and a value set by one application in
//!   another language reads back.
//! * Anything else is one format byte followed by the encoded value. Today the only format is
//!   [`FORMAT_BINCODE2`] (bincode 2, standard config, through serde). The byte lets a later version
//!   move to another codec (bincode 2 is unmaintained, RUSTSEC-2025-0141; postcard is the likely
//!   successor) without misreading entries written by this one: an unknown format byte is a
//!   [`CacheError::Codec`], never garbage.
//!
//! A value that does not decode as the asked type (including trailing bytes left over) is a
//! `CacheError::Codec`.
//!
//! ```
//! use cachette_core::codec;
//!
//! assert_eq!(&codec::encode("n", &42i64)?[..], b"42");
//! assert_eq!(codec::decode::<u16>("n", b"42")?, 42);
//! let bytes = codec::encode("k", &vec!["a".to_string(), "b".to_string()])?;
//! assert_eq!(bytes[0], codec::FORMAT_BINCODE2);
//! assert_eq!(codec::decode::<Vec<String>>("k", &bytes)?, vec!["a", "b"]);
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
//!   make the process allocate gigabytes.
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
//! let mut hostile = vec![codec::FORMAT_BINCODE2, 253];
//! hostile.extend_from_slice(&(1u64 << 60).to_le_bytes());
//! let error = codec::decode::<Vec<()>>("k", &hostile).unwrap_err();
//! assert!(matches!(&error, CacheError::Codec { message, .. } if message.contains("more elements than its 10 bytes")));
//! ```

use bytes::Bytes;
use serde::de::{Deserialize, DeserializeOwned};
use serde::ser::Serialize;

use crate::{CacheError, Result};

mod bounded;
mod integer;

use bounded::{Budget, Exceeded, Limits};
pub use bounded::{MAX_DEPTH, ZERO_SIZED_ALLOWANCE};

/// Format byte of values encoded with bincode 2 (standard config, via serde).
pub const FORMAT_BINCODE2: u8 = 0x01;

/// Largest amount of memory a stored value may claim while decoding: 64 MiB.
pub const MAX_DECODE_BYTES: usize = 64 * 1024 * 1024;

fn bincode_config() -> bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<MAX_DECODE_BYTES>,
> {
    bincode::config::standard().with_limit::<MAX_DECODE_BYTES>()
}

/// Encodes `value` in the stored form (`key` is only used in error messages).
pub fn encode<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Bytes> {
    if let Some(int) = integer::as_integer(value) {
        return Ok(Bytes::from(int));
    }
    let mut out = Vec::with_capacity(64);
    out.push(FORMAT_BINCODE2);
    bincode::serde::encode_into_std_write(value, &mut out, bincode_config())
        .map_err(|e| CacheError::codec(key, format!("cannot encode the value: {e}")))?;
    Ok(Bytes::from(out))
}

/// Decodes a stored value as `T` (`key` is only used in error messages), within the
/// [bounds](self#bounded-decoding).
pub fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    decode_borrowed(key, bytes)
}

/// Decodes a stored value as a `T` that may borrow from `bytes` (a `&str` or `&[u8]` field is then a
/// slice of the stored value, not a copy): for large values read on a hot path. The same format,
/// checks and bounds as [`decode`].
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
    match bytes.first() {
        None => Err(CacheError::codec(key, "the stored value is empty (not written by cachette's typed layer)")),
        Some(b'-' | b'0'..=b'9') => integer::decode_integer(key, bytes),
        Some(&FORMAT_BINCODE2) => decode_bincode(key, bytes),
        Some(other) => Err(CacheError::codec(
            key,
            format!(
                "unknown format byte 0x{other:02x}: the value was not written by this version of cachette's typed layer \
                 (read it with get_bytes, or clear the cache after a format change)"
            ),
        )),
    }
}

/// Decodes a value tagged [`FORMAT_BINCODE2`] (`bytes` includes the format byte).
fn decode_bincode<'de, T: Deserialize<'de>>(key: &str, bytes: &'de [u8]) -> Result<T> {
    let body = &bytes[1..];
    if body.len() > MAX_DECODE_BYTES {
        return Err(CacheError::codec(
            key,
            format!("the stored value is {} bytes, over the decoding limit of {MAX_DECODE_BYTES}", bytes.len()),
        ));
    }
    let budget = Budget::new(Limits::for_input(bytes.len()));
    let (value, used) =
        bincode::serde::seed_decode_from_slice(budget.seed::<T>(), body, bincode_config()).map_err(|e| match budget
            .exceeded()
        {
            Some(bound) => out_of_bounds::<T>(key, bytes.len(), &budget, bound),
            None => CacheError::codec(key, format!("does not decode as {}: {e}", std::any::type_name::<T>())),
        })?;
    if used != body.len() {
        return Err(CacheError::codec(
            key,
            format!(
                "does not decode as {}: {} bytes left over (was it stored as another type?)",
                std::any::type_name::<T>(),
                body.len() - used
            ),
        ));
    }
    Ok(value)
}

/// The error of a decode of a `len`-byte value that ran into `bound`.
fn out_of_bounds<T>(key: &str, len: usize, budget: &Budget, bound: Exceeded) -> CacheError {
    let limits = budget.limits();
    let what = match bound {
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
    };
    CacheError::codec(
        key,
        format!(
            "{what}: it is damaged, or was not stored as {} (read it with get_bytes, or delete the key)",
            std::any::type_name::<T>()
        ),
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct User {
        id: u64,
        name: String,
        tags: Vec<String>,
    }

    #[test]
    fn integers_are_decimal_text() {
        assert_eq!(&encode("k", &5i32).unwrap()[..], b"5");
        assert_eq!(&encode("k", &-17i64).unwrap()[..], b"-17");
        assert_eq!(&encode("k", &u64::MAX).unwrap()[..], u64::MAX.to_string().as_bytes());
        assert_eq!(&encode("k", &i128::MIN).unwrap()[..], i128::MIN.to_string().as_bytes());
        assert_eq!(decode::<i64>("k", b"-17").unwrap(), -17);
        assert_eq!(decode::<u64>("k", u64::MAX.to_string().as_bytes()).unwrap(), u64::MAX);
        assert_eq!(decode::<i128>("k", i128::MIN.to_string().as_bytes()).unwrap(), i128::MIN);
    }

    #[test]
    fn integer_out_of_range_of_target_is_an_error() {
        assert!(decode::<u8>("k", b"300").is_err());
        assert!(decode::<u32>("k", b"-1").is_err());
    }

    #[test]
    fn structs_roundtrip_with_format_byte() {
        let u = User { id: 7, name: "Zoë".into(), tags: vec!["a".into(), "b c".into()] };
        let bytes = encode("k", &u).unwrap();
        assert_eq!(bytes[0], FORMAT_BINCODE2);
        assert_eq!(decode::<User>("k", &bytes).unwrap(), u);
    }

    #[test]
    fn non_integers_that_wrap_integers_are_not_text() {
        // Option<i64>, newtypes and floats keep the tagged form, so they decode back as themselves.
        let some = encode("k", &Some(5i64)).unwrap();
        assert_eq!(some[0], FORMAT_BINCODE2);
        assert_eq!(decode::<Option<i64>>("k", &some).unwrap(), Some(5));
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct UserId(i64);
        let id = encode("k", &UserId(3)).unwrap();
        assert_eq!(decode::<UserId>("k", &id).unwrap(), UserId(3));
        let f = encode("k", &1.5f64).unwrap();
        assert_eq!(decode::<f64>("k", &f).unwrap(), 1.5);
    }

    #[test]
    fn wrong_types_are_errors() {
        let s = encode("k", "hello").unwrap();
        assert!(matches!(decode::<i64>("k", &s), Err(CacheError::Codec { .. })));
        assert!(matches!(decode::<String>("k", b"12"), Err(CacheError::Codec { .. })));
        let u = encode("k", &User { id: 1, name: "x".into(), tags: vec![] }).unwrap();
        assert!(decode::<u8>("k", &u).is_err(), "trailing bytes must be reported");
        assert!(decode::<User>("k", b"").is_err());
        assert!(decode::<User>("k", b"\x7fjunk").is_err());
        assert!(decode::<i64>("k", b"12abc").is_err());
    }

    #[test]
    fn huge_claimed_length_is_refused_without_allocating() {
        // A Vec<u8> whose length prefix claims u64::MAX bytes.
        let mut bytes = vec![FORMAT_BINCODE2, 253];
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(decode::<Vec<u8>>("k", &bytes), Err(CacheError::Codec { .. })));
        let mut bytes = vec![FORMAT_BINCODE2, 252];
        bytes.extend_from_slice(&(1u32 << 30).to_le_bytes());
        assert!(decode::<String>("k", &bytes).is_err());
    }

    #[test]
    fn counters() {
        assert_eq!(parse_counter("k", b"41").unwrap(), 41);
        assert!(parse_counter("k", b"forty").is_err());
        assert!(checked_counter_add("k", i64::MAX, 1).is_err());
        assert_eq!(&encode_counter(-3)[..], b"-3");
    }
}

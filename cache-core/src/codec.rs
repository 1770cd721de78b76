//! The stored form of typed values.
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
//! Decoding is bounded: a stored value may not claim more than [`MAX_DECODE_BYTES`] of memory, so a
//! corrupt or hostile entry cannot make the process allocate gigabytes. A value that does not
//! decode as the asked type (including trailing bytes left over) is a `CacheError::Codec`.
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

use bytes::Bytes;
use serde::de::{Deserialize, DeserializeOwned, IntoDeserializer};
use serde::ser::{self, Impossible, Serialize};

use crate::{CacheError, Result};

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
    if let Ok(Some(int)) = value.serialize(IntegerProbe) {
        return Ok(Bytes::from(int.to_string()));
    }
    let mut out = Vec::with_capacity(64);
    out.push(FORMAT_BINCODE2);
    bincode::serde::encode_into_std_write(value, &mut out, bincode_config())
        .map_err(|e| CacheError::codec(key, format!("cannot encode the value: {e}")))?;
    Ok(Bytes::from(out))
}

/// Decodes a stored value as `T` (`key` is only used in error messages).
pub fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    decode_borrowed(key, bytes)
}

/// Decodes a stored value as a `T` that may borrow from `bytes` (a `&str` or `&[u8]` field is then a
/// slice of the stored value, not a copy): for large values read on a hot path. The same format,
/// checks and limit as [`decode`].
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
        Some(b'-' | b'0'..=b'9') => decode_integer(key, bytes),
        Some(&FORMAT_BINCODE2) => {
            if bytes.len() - 1 > MAX_DECODE_BYTES {
                return Err(CacheError::codec(
                    key,
                    format!("the stored value is {} bytes, over the decoding limit of {MAX_DECODE_BYTES}", bytes.len()),
                ));
            }
            let (value, used) = bincode::serde::borrow_decode_from_slice::<T, _>(&bytes[1..], bincode_config())
                .map_err(|e| {
                    CacheError::codec(key, format!("does not decode as {}: {e}", std::any::type_name::<T>()))
                })?;
            if used != bytes.len() - 1 {
                return Err(CacheError::codec(
                    key,
                    format!(
                        "does not decode as {}: {} bytes left over (was it stored as another type?)",
                        std::any::type_name::<T>(),
                        bytes.len() - 1 - used
                    ),
                ));
            }
            Ok(value)
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

fn decode_integer<'de, T: Deserialize<'de>>(key: &str, bytes: &[u8]) -> Result<T> {
    let text = std::str::from_utf8(bytes)
        .ok()
        .filter(|t| t.len() <= 40)
        .ok_or_else(|| CacheError::codec(key, "the stored value is not a decimal integer nor a tagged value"))?;
    let wrong_type = |e: serde::de::value::Error| {
        CacheError::codec(
            key,
            format!("the stored integer {text} does not decode as {}: {e}", std::any::type_name::<T>()),
        )
    };
    if let Ok(n) = text.parse::<i64>() {
        T::deserialize(n.into_deserializer()).map_err(wrong_type)
    } else if let Ok(n) = text.parse::<u64>() {
        T::deserialize(n.into_deserializer()).map_err(wrong_type)
    } else if let Ok(n) = text.parse::<i128>() {
        T::deserialize(n.into_deserializer()).map_err(wrong_type)
    } else if let Ok(n) = text.parse::<u128>() {
        T::deserialize(n.into_deserializer()).map_err(wrong_type)
    } else {
        Err(CacheError::codec(key, format!("the stored value {text:?} is not a decimal integer nor a tagged value")))
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

/// A serializer that answers "which integer is this?" for a top-level integer and "not an integer"
/// for anything else, without encoding anything. serde offers no other way to tell, without
/// specialization, that a generic `T` is an integer.
struct IntegerProbe;

#[derive(Debug)]
struct NotAnInteger;

impl std::fmt::Display for NotAnInteger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not an integer")
    }
}
impl std::error::Error for NotAnInteger {}
impl ser::Error for NotAnInteger {
    fn custom<T: std::fmt::Display>(_msg: T) -> Self {
        NotAnInteger
    }
}

/// An integer of any width, as found by the probe.
enum Int {
    Signed(i128),
    Unsigned(u128),
}

impl std::fmt::Display for Int {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Int::Signed(n) => n.fmt(f),
            Int::Unsigned(n) => n.fmt(f),
        }
    }
}

type Probe = std::result::Result<Option<Int>, NotAnInteger>;

macro_rules! probe_int {
    ($($method:ident: $ty:ty => $variant:ident),* $(,)?) => {
        $(fn $method(self, v: $ty) -> Probe { Ok(Some(Int::$variant(v.into()))) })*
    };
}

macro_rules! probe_other {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Probe { Ok(None) })*
    };
}

impl ser::Serializer for IntegerProbe {
    type Ok = Option<Int>;
    type Error = NotAnInteger;
    type SerializeSeq = Impossible<Option<Int>, NotAnInteger>;
    type SerializeTuple = Impossible<Option<Int>, NotAnInteger>;
    type SerializeTupleStruct = Impossible<Option<Int>, NotAnInteger>;
    type SerializeTupleVariant = Impossible<Option<Int>, NotAnInteger>;
    type SerializeMap = Impossible<Option<Int>, NotAnInteger>;
    type SerializeStruct = Impossible<Option<Int>, NotAnInteger>;
    type SerializeStructVariant = Impossible<Option<Int>, NotAnInteger>;

    probe_int! {
        serialize_i8: i8 => Signed, serialize_i16: i16 => Signed, serialize_i32: i32 => Signed,
        serialize_i64: i64 => Signed, serialize_i128: i128 => Signed,
        serialize_u8: u8 => Unsigned, serialize_u16: u16 => Unsigned, serialize_u32: u32 => Unsigned,
        serialize_u64: u64 => Unsigned, serialize_u128: u128 => Unsigned,
    }

    probe_other! {
        serialize_bool(bool), serialize_f32(f32), serialize_f64(f64), serialize_char(char),
        serialize_str(&str), serialize_bytes(&[u8]), serialize_none(), serialize_unit(),
        serialize_unit_struct(&'static str), serialize_unit_variant(&'static str, u32, &'static str),
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Probe {
        Ok(None)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, _: &T) -> Probe {
        Ok(None)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Probe {
        Ok(None)
    }
    fn serialize_seq(self, _: Option<usize>) -> std::result::Result<Self::SerializeSeq, NotAnInteger> {
        Err(NotAnInteger)
    }
    fn serialize_tuple(self, _: usize) -> std::result::Result<Self::SerializeTuple, NotAnInteger> {
        Err(NotAnInteger)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeTupleStruct, NotAnInteger> {
        Err(NotAnInteger)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeTupleVariant, NotAnInteger> {
        Err(NotAnInteger)
    }
    fn serialize_map(self, _: Option<usize>) -> std::result::Result<Self::SerializeMap, NotAnInteger> {
        Err(NotAnInteger)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> std::result::Result<Self::SerializeStruct, NotAnInteger> {
        Err(NotAnInteger)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeStructVariant, NotAnInteger> {
        Err(NotAnInteger)
    }
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

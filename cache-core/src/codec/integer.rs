//! Integers in the stored form: plain decimal text, found by a probing serializer and read back
//! through serde's value deserializers. The same probe tells a top-level `None` (for memoized
//! functions' `cache_none`).

use serde::de::{Deserialize, IntoDeserializer};
use serde::ser::{self, Impossible, Serialize};

use crate::{CacheError, Result};

/// The decimal text of `value` if it is a top-level integer (of any width), else `None`.
pub(super) fn as_integer<T: Serialize + ?Sized>(value: &T) -> Option<String> {
    integer_of(value).map(|int| int.to_string())
}

/// The integer `value` serializes as, if it does (what [`as_integer`] writes as decimal text).
pub(super) fn integer_of<T: Serialize + ?Sized>(value: &T) -> Option<Int> {
    match value.serialize(IntegerProbe) {
        Ok(Top::Int(int)) => Some(int),
        _ => None,
    }
}

/// `int`'s decimal text written into `buf`, without allocating; `None` if it does not fit.
///
/// With itoa, and as a 64-bit integer when it fits: `write_fmt` of the 128-bit value was 316 of
/// the 4,668 instructions of a memoized hit on Redis + L1 with an integer argument (`cargo bench
/// -p cachette-tiered --bench hits`, callgrind), its arguments being encoded to be hashed.
pub(super) fn write_integer<'b>(int: &Int, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let mut text = itoa::Buffer::new();
    let digits = match *int {
        Int::Signed(n) => match i64::try_from(n) {
            Ok(n) => text.format(n),
            Err(_) => text.format(n),
        },
        Int::Unsigned(n) => match u64::try_from(n) {
            Ok(n) => text.format(n),
            Err(_) => text.format(n),
        },
    };
    let out = buf.get_mut(..digits.len())?;
    out.copy_from_slice(digits.as_bytes());
    Some(out)
}

/// Whether `value` serializes as a top-level none: `Option::None`, whatever its type is called
/// (an alias, a generic parameter), which no trait bound can tell without specialization.
/// `Some(None)`, a unit and a JSON `null` value are not: they serialize otherwise.
pub(crate) fn is_none<T: Serialize + ?Sized>(value: &T) -> bool {
    matches!(value.serialize(IntegerProbe), Ok(Top::None))
}

/// Whether `bytes` is decimal text of an integer (of any width up to 128 bits).
pub(super) fn is_integer_text(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|t| t.parse::<i128>().is_ok() || t.parse::<u128>().is_ok())
}

/// Decodes decimal text (`bytes` starts with `-` or a digit) as `T`.
pub(super) fn decode_integer<'de, T: Deserialize<'de>>(key: &str, bytes: &[u8]) -> Result<T> {
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

/// A serializer that answers "which integer is this?" for a top-level integer, "none" for a
/// top-level none and "something else" for anything else, without encoding anything. serde
/// offers no other way to tell, without specialization, that a generic `T` is an integer.
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

/// What the probe found at the top level.
enum Top {
    Int(Int),
    None,
    Other,
}

/// An integer of any width, as found by the probe.
pub(super) enum Int {
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

type Probe = std::result::Result<Top, NotAnInteger>;

macro_rules! probe_int {
    ($($method:ident: $ty:ty => $variant:ident),* $(,)?) => {
        $(fn $method(self, v: $ty) -> Probe { Ok(Top::Int(Int::$variant(v.into()))) })*
    };
}

macro_rules! probe_other {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Probe { Ok(Top::Other) })*
    };
}

impl ser::Serializer for IntegerProbe {
    type Ok = Top;
    type Error = NotAnInteger;
    type SerializeSeq = Impossible<Top, NotAnInteger>;
    type SerializeTuple = Impossible<Top, NotAnInteger>;
    type SerializeTupleStruct = Impossible<Top, NotAnInteger>;
    type SerializeTupleVariant = Impossible<Top, NotAnInteger>;
    type SerializeMap = Impossible<Top, NotAnInteger>;
    type SerializeStruct = Impossible<Top, NotAnInteger>;
    type SerializeStructVariant = Impossible<Top, NotAnInteger>;

    probe_int! {
        serialize_i8: i8 => Signed, serialize_i16: i16 => Signed, serialize_i32: i32 => Signed,
        serialize_i64: i64 => Signed, serialize_i128: i128 => Signed,
        serialize_u8: u8 => Unsigned, serialize_u16: u16 => Unsigned, serialize_u32: u32 => Unsigned,
        serialize_u64: u64 => Unsigned, serialize_u128: u128 => Unsigned,
    }

    probe_other! {
        serialize_bool(bool), serialize_f32(f32), serialize_f64(f64), serialize_char(char),
        serialize_str(&str), serialize_bytes(&[u8]), serialize_unit(),
        serialize_unit_struct(&'static str), serialize_unit_variant(&'static str, u32, &'static str),
    }

    fn serialize_none(self) -> Probe {
        Ok(Top::None)
    }
    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Probe {
        Ok(Top::Other)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, _: &T) -> Probe {
        Ok(Top::Other)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Probe {
        Ok(Top::Other)
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

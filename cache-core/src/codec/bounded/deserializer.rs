//! `Deserializer` for a bounded deserializer: every method charges one value and forwards, with
//! its visitor wrapped.

use serde::de::{Deserializer, Visitor};

use super::Bounded;

/// Forwards `deserialize_*` methods; `=> len` is the number of elements the type declares (a
/// tuple's length, a struct's fields), which are not charged as elements.
macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*) $(=> $declared:expr)?;)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            self.budget.value(self.depth)?;
            let visitor = self.wrap(visitor)$(.declaring($declared))?;
            self.inner.$method($($arg,)* visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Bounded<'_, D> {
    type Error = D::Error;

    forward! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize) => len;
        deserialize_tuple_struct(name: &'static str, len: usize) => len;
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]) => fields.len();
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

//! A serde `Deserializer` adapter that bounds the work of a decode by the size of its input.
//!
//! A format's size limit bounds the *memory* a value may claim, not the *work*: a `Vec<()>` whose
//! length prefix claims 2^60 elements consumes no input per element, so bincode visits 2^60 units
//! from 10 bytes; and a recursive type nests one level per input byte until the stack overflows.
//! [`Budget`] wraps whatever `Deserializer` the format hands it (bincode today; any serde format,
//! so the move to postcard and JSON keeps the bound) and charges:
//!
//! * one **element** per sequence element and map entry the *input* declares, over the whole
//!   value (the fields of a struct or tuple, whose number the type declares, are free). Every
//!   element that is not zero-sized takes at least one byte in each format cachette uses, so a
//!   value of `n` bytes holds at most `n` of them; [`ZERO_SIZED_ALLOWANCE`] more are allowed for
//!   legitimate `Vec<()>`s;
//! * one **value** per `deserialize_*` call, over the whole value: a bound for any format and
//!   type, [`VALUES_PER_ELEMENT`] times the elements' one, so generous that only values made of
//!   dozens of zero-sized fields per byte reach it;
//! * **depth**: every nested value (an `Option`'s content, a newtype's, the elements of a
//!   sequence, the fields of a struct, an enum's variant) is one level, up to [`MAX_DEPTH`], which
//!   fits the 2 MiB stack of a thread (tokio's workers) with room to spare.
//!
//! Why hand-written: no maintained crate does this. `serde_stacker` grows the stack instead of
//! bounding the depth and bounds no work; `serde_path_to_error` and `serde_ignored` wrap
//! deserializers the same way for other ends; serde_json's recursion limit is serde_json's own.
//! This is their forwarding pattern: every `Deserializer` method forwards to the wrapped one with
//! its visitor wrapped, and the visitor wraps every deserializer, `SeqAccess`, `MapAccess`,
//! `EnumAccess` and `VariantAccess` it is handed, so no part of a value escapes the budget.

use std::cell::Cell;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer};

mod access;
mod deserializer;
mod visitor;

/// Sequence elements and map entries allowed beyond one per input byte: room for zero-sized
/// elements (a `Vec<()>`, a `BTreeSet<()>`), which take no input.
pub const ZERO_SIZED_ALLOWANCE: u64 = 4096;

/// `deserialize_*` calls allowed per element of [`Limits::elements`].
pub(crate) const VALUES_PER_ELEMENT: u64 = 64;

/// Deepest nesting a value may have. serde_json stops at 128 arrays and objects; a level here is
/// any nested value, so a tree of `struct Node { children: Vec<Node> }` takes two per generation
/// and an `Option<Vec<Node>>` field three. Measured in a debug build, 256 levels of a recursive
/// enum take between 256 and 512 KiB of stack: a quarter of a 2 MiB thread.
pub const MAX_DEPTH: u32 = 256;

/// Which bound a decode ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exceeded {
    /// More sequence elements and map entries than [`Limits::elements`].
    Elements,
    /// More `deserialize_*` calls than [`Limits::values`].
    Values,
    /// Nested deeper than [`Limits::depth`].
    Depth,
}

/// The bounds of one decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Sequence elements and map entries declared by the input, over the whole value.
    pub(crate) elements: u64,
    /// `deserialize_*` calls, over the whole value.
    pub(crate) values: u64,
    /// Nesting levels below the top-level value.
    pub(crate) depth: u32,
}

impl Limits {
    /// The bounds for an input of `len` bytes.
    pub(crate) fn for_input(len: usize) -> Limits {
        let elements = (len as u64).saturating_add(ZERO_SIZED_ALLOWANCE);
        Limits { elements, values: elements.saturating_mul(VALUES_PER_ELEMENT), depth: MAX_DEPTH }
    }
}

/// What is left of a decode's [`Limits`], shared by every part of the wrapped deserializer.
///
/// `Cell`s, not a `&mut`, because serde moves deserializers, visitors and seeds by value into one
/// another: they can share a reference, not own a counter. A count that ran out stays out, so a
/// `Deserialize` impl that swallows the error and goes on is refused again at its next step.
#[derive(Debug)]
pub(crate) struct Budget {
    limits: Limits,
    elements: Cell<u64>,
    values: Cell<u64>,
    exceeded: Cell<Option<Exceeded>>,
}

impl Budget {
    /// A budget of `limits`.
    pub(crate) fn new(limits: Limits) -> Budget {
        Budget {
            limits,
            elements: Cell::new(limits.elements),
            values: Cell::new(limits.values),
            exceeded: Cell::new(None),
        }
    }

    /// The budget's limits.
    pub(crate) fn limits(&self) -> Limits {
        self.limits
    }

    /// The bound the decode ran into, if it ran into one: the format reports the refusal as its
    /// own error, so the caller asks here which bound it was to say so in its own words.
    pub(crate) fn exceeded(&self) -> Option<Exceeded> {
        self.exceeded.get()
    }

    /// A seed that deserializes a `T` within this budget from any format's deserializer (bincode
    /// and postcard take a seed; with a format that hands out a `Deserializer`, call
    /// `seed.deserialize(deserializer)`).
    pub(crate) fn seed<T>(&self) -> Bounded<'_, PhantomData<T>> {
        Bounded { inner: PhantomData, budget: self, depth: 0, declared: 0 }
    }

    fn refuse<E: de::Error>(&self, what: Exceeded) -> E {
        self.exceeded.set(Some(what));
        E::custom(match what {
            Exceeded::Elements => "the value claims more elements than its input can hold",
            Exceeded::Values => "the value visits more values than its input can hold",
            Exceeded::Depth => "the value nests deeper than the decoding depth limit",
        })
    }

    fn take<E: de::Error>(&self, count: &Cell<u64>, what: Exceeded) -> Result<(), E> {
        let left = count.get().checked_sub(1).ok_or_else(|| self.refuse(what))?;
        count.set(left);
        Ok(())
    }

    /// Charges one `deserialize_*` call at `depth`.
    fn value<E: de::Error>(&self, depth: u32) -> Result<(), E> {
        if depth > self.limits.depth {
            return Err(self.refuse(Exceeded::Depth));
        }
        self.take(&self.values, Exceeded::Values)
    }

    /// Charges one sequence element or map entry declared by the input.
    fn element<E: de::Error>(&self) -> Result<(), E> {
        self.take(&self.elements, Exceeded::Elements)
    }
}

/// A part of a decode (a deserializer, visitor, seed or access) wrapped to charge its budget.
pub(crate) struct Bounded<'b, X> {
    inner: X,
    budget: &'b Budget,
    /// How deep below the top-level value this part is.
    depth: u32,
    /// Of a visitor or an access: how many elements the type declares (a tuple's length, a
    /// struct's fields), which are not charged as elements.
    declared: usize,
}

impl<'b, X> Bounded<'b, X> {
    /// `other` wrapped at the same depth as `self`.
    fn wrap<Y>(&self, other: Y) -> Bounded<'b, Y> {
        Bounded { inner: other, budget: self.budget, depth: self.depth, declared: 0 }
    }

    /// `other` wrapped one level deeper than `self`, keeping its declared elements.
    fn nest<Y>(&self, other: Y) -> Bounded<'b, Y> {
        Bounded { inner: other, budget: self.budget, depth: self.depth.saturating_add(1), declared: self.declared }
    }

    /// `self`, with `len` elements declared by the type.
    fn declaring(mut self, len: usize) -> Bounded<'b, X> {
        self.declared = len;
        self
    }

    /// Charges one element that the access yielded, unless the type declared it.
    fn yielded<E: de::Error>(&mut self) -> Result<(), E> {
        match self.declared.checked_sub(1) {
            Some(left) => {
                self.declared = left;
                Ok(())
            }
            None => self.budget.element(),
        }
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Bounded<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        let wrapped = self.wrap(deserializer);
        self.inner.deserialize(wrapped)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    /// `json` decoded as `T` within `limits`, and the bound it ran into.
    fn json<'de, T: Deserialize<'de>>(json: &'de str, limits: Limits) -> (serde_json::Result<T>, Option<Exceeded>) {
        let budget = Budget::new(limits);
        let value = budget.seed::<T>().deserialize(&mut serde_json::Deserializer::from_str(json));
        (value, budget.exceeded())
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(tag = "type")]
    enum Tagged {
        Point {
            x: i32,
            y: i32,
        },
        Named {
            name: String,
            #[serde(flatten)]
            extra: BTreeMap<String, u8>,
        },
    }

    #[test]
    fn any_format_decodes_through_the_adapter_as_without_it() {
        let text = r#"[{"type":"Point","x":1,"y":-2},{"type":"Named","name":"n","a":1,"b":2}]"#;
        let (value, exceeded) = json::<Vec<Tagged>>(text, Limits::for_input(text.len()));
        assert_eq!(value.unwrap(), serde_json::from_str::<Vec<Tagged>>(text).unwrap());
        assert_eq!(exceeded, None);
        let (value, _) = json::<serde_json::Value>(text, Limits::for_input(text.len()));
        assert_eq!(value.unwrap(), serde_json::from_str::<serde_json::Value>(text).unwrap());
    }

    #[test]
    fn each_bound_is_reported_as_the_one_exceeded() {
        let limits = Limits { elements: 3, values: 100, depth: 10 };
        assert_eq!(json::<Vec<u8>>("[1,2,3]", limits).0.unwrap(), [1, 2, 3]);
        let (value, exceeded) = json::<Vec<u8>>("[1,2,3,4]", limits);
        assert!(value.is_err());
        assert_eq!(exceeded, Some(Exceeded::Elements));
        assert_eq!(json::<Vec<u8>>("[1,2,3]", Limits { values: 3, ..limits }).1, Some(Exceeded::Values));
        assert_eq!(json::<Vec<Vec<Vec<u8>>>>("[[[]]]", Limits { depth: 1, ..limits }).1, Some(Exceeded::Depth));
        assert_eq!(json::<Vec<Vec<Vec<u8>>>>("[[[]]]", Limits { depth: 2, ..limits }).1, None);
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Id {
        raw: u8,
        marker: PhantomData<String>,
        unit: (),
    }

    #[test]
    fn the_fields_a_type_declares_are_not_charged_as_elements() {
        // Three fields per element, two of them zero-sized: only the 1000 elements count.
        let limits = Limits { elements: 1000, values: u64::MAX, depth: 10 };
        let text = format!("[{}]", vec![r#"{"raw":1,"marker":null,"unit":null}"#; 1000].join(","));
        let (value, exceeded) = json::<Vec<Id>>(&text, limits);
        assert_eq!((value.unwrap().len(), exceeded), (1000, None));
    }
}

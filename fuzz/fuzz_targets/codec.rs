//! `cachette_core::codec::decode` of arbitrary bytes as a few types: scalars, zero-sized
//! sequences, a recursive enum, a struct of every serde shape, and borrowed slices. Whatever
//! decodes must encode and decode back to itself.
#![no_main]

use std::collections::BTreeMap;

use cachette_core::codec;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Nested {
    Leaf,
    Node(Box<Nested>),
    Pair(Box<Nested>, Box<Nested>),
    List(Vec<Nested>),
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Kind {
    Unit,
    Newtype(i64),
    Tuple(u16, bool),
    Struct { a: u128, b: Option<String> },
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Record {
    id: u64,
    name: String,
    tags: Vec<String>,
    score: Option<i32>,
    attrs: BTreeMap<String, Vec<u8>>,
    kind: Kind,
    units: Vec<()>,
    pair: (u8, char),
}

/// Decodes `data` as `T`; what decodes must survive a round trip.
fn check<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(value) = codec::decode::<T>("fuzz", data) {
        let stored = codec::encode("fuzz", &value).expect("a decoded value encodes");
        let back = codec::decode::<T>("fuzz", &stored).expect("an encoded value decodes");
        assert_eq!(back, value, "round trip of {}", std::any::type_name::<T>());
    }
}

fuzz_target!(|data: &[u8]| {
    check::<i64>(data);
    check::<u128>(data);
    check::<String>(data);
    check::<Vec<()>>(data);
    check::<Vec<Vec<((), ())>>>(data);
    check::<BTreeMap<(), ()>>(data);
    check::<Nested>(data);
    check::<Record>(data);
    check::<Vec<Record>>(data);
    let _ = codec::decode_borrowed::<(&str, &[u8], Option<&str>)>("fuzz", data);
});

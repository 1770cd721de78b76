//! Entries written by cachette before the move to postcard (bincode 2, format byte 0x01) still
//! decode. The hex strings are what `codec::encode` wrote for these values at commit 171ebb6,
//! before this change; they must never be regenerated.

use std::collections::BTreeMap;

use cachette_core::codec;
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
    email: Option<String>,
    tags: Vec<String>,
    score: f64,
    active: bool,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Event {
    Login { user: u64, at: i64 },
    Logout(u64),
    Ping,
    Tagged(String, Vec<u8>),
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Team {
    name: String,
    members: Vec<User>,
    lead: Option<Box<User>>,
    events: Vec<Event>,
    counts: BTreeMap<String, u32>,
}

fn ada() -> User {
    User {
        id: 42,
        name: "Ada Lovelace".into(),
        email: Some("ada@example.com".into()),
        tags: vec!["admin".into(), "math".into()],
        score: 99.5,
        active: true,
    }
}

fn grace() -> User {
    User { id: 7, name: "Grace".into(), email: None, tags: vec![], score: -1.25, active: false }
}

fn bytes(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

fn old<T: for<'de> Deserialize<'de>>(hex: &str) -> T {
    let stored = bytes(hex);
    assert_eq!(stored[0], codec::FORMAT_BINCODE2);
    codec::decode("k", &stored).unwrap()
}

#[test]
fn old_strings_vectors_and_options_decode() {
    assert_eq!(old::<String>("010e68c3a96c6c6f2c2077c3b6726c64"), "héllo, wörld");
    assert_eq!(old::<Vec<u32>>("010301fb2c01fc70110100"), [1, 300, 70000]);
    assert_eq!(old::<Option<String>>("01010178"), Some("x".into()));
    assert_eq!(old::<Option<String>>("0100"), None);
    assert_eq!(old::<f64>("01000000000000f83f"), 1.5);
    assert_eq!(old::<(String, Vec<u8>)>("010a746578742f706c61696e03010203"), ("text/plain".into(), vec![1, 2, 3]));
}

#[test]
fn an_old_struct_decodes() {
    let hex =
        "012a0c416461204c6f76656c616365010f616461406578616d706c652e636f6d020561646d696e046d6174680000000000e0584001";
    assert_eq!(old::<User>(hex), ada());
}

#[test]
fn old_enum_variants_of_every_shape_decode() {
    assert_eq!(old::<Event>("01002a05"), Event::Login { user: 42, at: -3 });
    assert_eq!(old::<Event>("010109"), Event::Logout(9));
    assert_eq!(old::<Event>("0102"), Event::Ping);
}

#[test]
fn an_old_nested_value_decodes() {
    let hex = concat!(
        "010a416e616c79746963616c022a0c416461204c6f76656c616365010f616461406578616d706c652e636f6d020561646d696e",
        "046d6174680000000000e0584001070547726163650000000000000000f4bf000002020301740200ff020161010162fc00000100",
    );
    let expected = Team {
        name: "Analytical".into(),
        members: vec![ada(), grace()],
        lead: None,
        events: vec![Event::Ping, Event::Tagged("t".into(), vec![0, 255])],
        counts: BTreeMap::from([("a".into(), 1), ("b".into(), 65536)]),
    };
    assert_eq!(old::<Team>(hex), expected);
}

#[test]
fn an_old_value_read_as_another_type_is_a_codec_error() {
    let stored = bytes("010e68c3a96c6c6f2c2077c3b6726c64");
    assert!(codec::decode::<User>("k", &stored).is_err());
    assert!(codec::decode::<u8>("k", &stored).is_err());
}

#[test]
fn what_is_written_now_is_postcard_and_decodes_as_the_old_bytes_did() {
    let stored = codec::encode("k", &ada()).unwrap();
    assert_eq!(stored[0], codec::FORMAT_POSTCARD);
    assert_eq!(codec::decode::<User>("k", &stored).unwrap(), ada());
}

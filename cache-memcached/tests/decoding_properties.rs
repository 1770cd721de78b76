//! Properties of the binary-protocol response parser on arbitrary bytes from a server (the same
//! code as the `memcached_response` fuzz target in `fuzz/`): it never panics, never hangs, reads
//! every well-formed packet and stops at the first malformed one.
//!
//! The inputs come from a fixed seed, so every run checks the same cases; the run has a time
//! budget, so a parse that hangs fails the test instead of stalling the suite.

use cachette_conformance::properties::check;
use cachette_memcached::__fuzz::read_responses;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// A response packet: header (magic 0x81, opcode, key length, extras length, data type, status,
/// body length, opaque, cas), then extras, key and value.
#[derive(Debug, Clone)]
struct Packet {
    opcode: u8,
    status: u16,
    opaque: u32,
    cas: u64,
    extras: Vec<u8>,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl Packet {
    fn bytes(&self) -> Vec<u8> {
        let body = self.extras.len() + self.key.len() + self.value.len();
        let mut out = vec![0x81, self.opcode];
        out.extend_from_slice(&(self.key.len() as u16).to_be_bytes());
        out.extend_from_slice(&[self.extras.len() as u8, 0]);
        out.extend_from_slice(&self.status.to_be_bytes());
        out.extend_from_slice(&(body as u32).to_be_bytes());
        out.extend_from_slice(&self.opaque.to_be_bytes());
        out.extend_from_slice(&self.cas.to_be_bytes());
        [out, self.extras.clone(), self.key.clone(), self.value.clone()].concat()
    }
}

fn packet() -> impl Strategy<Value = Packet> {
    let fields = (any::<u8>(), any::<u16>(), any::<u32>(), any::<u64>());
    let parts = (vec(any::<u8>(), 0..24), vec(any::<u8>(), 0..16), vec(any::<u8>(), 0..64));
    (fields, parts).prop_map(|((opcode, status, opaque, cas), (extras, key, value))| Packet {
        opcode,
        status,
        opaque,
        cas,
        extras,
        key,
        value,
    })
}

/// Well-formed packets back to back.
fn well_formed() -> impl Strategy<Value = Vec<Packet>> {
    vec(packet(), 0..5)
}

/// Packets with a few bytes changed (lengths and magic included) and cut short or extended, and
/// arbitrary bytes.
fn damaged() -> impl Strategy<Value = Vec<u8>> {
    let changed = (well_formed(), vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), 0..400usize).prop_map(
        |(packets, changes, keep)| {
            let mut bytes: Vec<u8> = packets.iter().flat_map(Packet::bytes).collect();
            if !bytes.is_empty() {
                for (at, byte) in changes {
                    let at = at.index(bytes.len());
                    bytes[at] = byte;
                }
            }
            bytes.resize(keep.min(bytes.len() + 8), 0);
            bytes
        },
    );
    prop_oneof![3 => changed, 1 => vec(any::<u8>(), 0..200)]
}

fn every_packet_is_read(packets: Vec<Packet>) -> Result<(), TestCaseError> {
    let bytes: Vec<u8> = packets.iter().flat_map(Packet::bytes).collect();
    prop_assert_eq!(read_responses(&bytes), packets.len());
    // Cut short, the last packet is not read.
    if let Some(last) = packets.last() {
        let cut = bytes.len() - 1;
        prop_assert_eq!(read_responses(&bytes[..cut]), packets.len() - 1, "{:?}", last);
    }
    Ok(())
}

fn never_more_than_the_bytes_hold(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    prop_assert!(read_responses(&bytes) <= bytes.len() / 24);
    Ok(())
}

#[test]
fn well_formed_responses_are_all_read_and_a_cut_one_is_not() {
    check(2000, 0x5eed_0201, well_formed, every_packet_is_read);
}

#[test]
fn damaged_responses_are_refused_without_a_panic() {
    check(4000, 0x5eed_0202, damaged, never_more_than_the_bytes_hold);
}

//! Properties of the response parsers of both protocols on arbitrary bytes from a server (the
//! same code as the `memcached_response` and `memcached_meta_response` fuzz targets in `fuzz/`):
//! they never panic, never hang, read every well-formed answer and stop at the first malformed
//! one.
//!
//! The inputs come from a fixed seed, so every run checks the same cases; the run has a time
//! budget, so a parse that hangs fails the test instead of stalling the suite.

use cachette_conformance::properties::check;
use cachette_memcached::__fuzz::{META_BATCH, read_meta_answers, read_responses};
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

/// A meta-protocol answer to request `opaque` of the batch `read_meta_answers` reads (its
/// requests cycle get, quiet get, quiet set, increment, delete, no-op).
#[derive(Debug, Clone)]
enum MetaAnswer {
    /// `VA <len> f<flags> c<cas> O<n>` and the value (for an increment, a number).
    Value { flags: u32, cas: u64, value: Vec<u8> },
    /// A return code without a value: `HD`, `EN`, `NF`, `NS`, `EX`.
    Code(&'static str),
    /// `CLIENT_ERROR` / `SERVER_ERROR` and a message: no opaque, so it answers the first
    /// unanswered request.
    Error(&'static str),
}

/// The requests of the batch: which kind request `i` is (as `__fuzz::meta_batch` makes them).
fn kind(i: usize) -> usize {
    if i == META_BATCH - 1 { 5 } else { i % 6 }
}

/// Answers to a prefix of the batch in order, each for a request that may answer with it.
fn well_formed_meta() -> impl Strategy<Value = Vec<(usize, MetaAnswer)>> {
    let answer = prop_oneof![
        (any::<u32>(), any::<u64>(), vec(any::<u8>(), 0..40)).prop_map(|(flags, cas, value)| MetaAnswer::Value {
            flags,
            cas,
            value
        }),
        prop::sample::select(vec!["HD", "EN", "NF", "NS", "EX"]).prop_map(MetaAnswer::Code),
        prop::sample::select(vec!["CLIENT_ERROR bad data chunk", "SERVER_ERROR out of memory storing object"])
            .prop_map(MetaAnswer::Error),
    ];
    vec(answer, 0..12).prop_map(|answers| {
        let mut out = Vec::new();
        let mut next = 0;
        for answer in answers {
            // The next request that can be answered this way (an error answers any request but
            // a no-op; a no-op is answered only by MN, written below).
            let fits = |i: usize| match (&answer, kind(i)) {
                (_, 5) => false,
                (MetaAnswer::Value { .. }, 2 | 4) => false,
                (MetaAnswer::Code("EN"), 1) => false,
                // An increment is asked for its value (`v`): a success without it is refused.
                (MetaAnswer::Code("HD"), 3) => false,
                _ => true,
            };
            let Some(i) = (next..META_BATCH).find(|&i| fits(i)) else { break };
            // Skipped requests must be quiet gets (the only ones that may say nothing).
            if (next..i).any(|j| kind(j) != 1) || (matches!(answer, MetaAnswer::Error(_)) && i != next) {
                continue;
            }
            out.push((i, answer));
            next = i + 1;
        }
        out
    })
}

fn meta_bytes(answers: &[(usize, MetaAnswer)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, answer) in answers {
        match answer {
            MetaAnswer::Value { flags, cas, value } => {
                let value =
                    if kind(*i) == 3 { (value.len() as u64 * 7919).to_string().into_bytes() } else { value.clone() };
                out.extend_from_slice(format!("VA {} f{flags} c{cas} O{i}\r\n", value.len()).as_bytes());
                out.extend_from_slice(&value);
                out.extend_from_slice(b"\r\n");
            }
            MetaAnswer::Code(code) => out.extend_from_slice(format!("{code} O{i}\r\n").as_bytes()),
            MetaAnswer::Error(line) => out.extend_from_slice(format!("{line}\r\n").as_bytes()),
        }
    }
    out
}

fn every_meta_answer_is_read(answers: Vec<(usize, MetaAnswer)>) -> Result<(), TestCaseError> {
    let bytes = meta_bytes(&answers);
    prop_assert_eq!(read_meta_answers(&bytes), answers.len());
    if !answers.is_empty() {
        prop_assert_eq!(read_meta_answers(&bytes[..bytes.len() - 1]), answers.len() - 1);
    }
    Ok(())
}

/// Well-formed answers with bytes changed and cut, and arbitrary text and bytes.
fn damaged_meta() -> impl Strategy<Value = Vec<u8>> {
    let changed = (well_formed_meta(), vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), 0..400usize).prop_map(
        |(answers, changes, keep)| {
            let mut bytes = meta_bytes(&answers);
            if !bytes.is_empty() {
                for (at, byte) in changes {
                    let at = at.index(bytes.len());
                    bytes[at] = byte;
                }
            }
            bytes.truncate(keep);
            bytes
        },
    );
    let text = vec(prop::sample::select(b"VAHDENMOfc0123456789 \r\n-".to_vec()), 0..200);
    prop_oneof![3 => changed, 1 => text, 1 => vec(any::<u8>(), 0..200)]
}

fn never_more_meta_answers_than_lines(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let lines = bytes.iter().filter(|&&b| b == b'\n').count();
    prop_assert!(read_meta_answers(&bytes) <= lines.min(META_BATCH));
    Ok(())
}

#[test]
fn well_formed_meta_answers_are_all_read_and_a_cut_one_is_not() {
    check(2000, 0x5eed_0203, well_formed_meta, every_meta_answer_is_read);
}

#[test]
fn damaged_meta_answers_are_refused_without_a_panic() {
    check(4000, 0x5eed_0204, damaged_meta, never_more_meta_answers_than_lines);
}

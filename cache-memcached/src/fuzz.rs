//! The response parsers of both protocols, as the fuzz targets (`fuzz/`) and the property
//! tests (`tests/decoding_properties.rs`) call them.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use crate::request::{Op, Request};

/// Runs a read from a slice, which never waits, so one poll finishes it.
fn now<T>(read: impl Future<Output = T>) -> T {
    let read = std::pin::pin!(read);
    let Poll::Ready(result) = read.poll(&mut Context::from_waker(Waker::noop())) else {
        unreachable!("a read from a slice is never pending")
    };
    result
}

/// Reads binary-protocol response packets from `input` as a connection does, until one does
/// not parse, and uses each (flags, counter, message); returns how many parsed.
pub fn read_responses(mut input: &[u8]) -> usize {
    let mut parsed = 0;
    while let Ok(packet) = now(crate::binary::read_response(&mut input)) {
        let r = packet.response;
        let _ = (r.flags(), r.counter(), r.message());
        parsed += 1;
    }
    parsed
}

/// The batch that [`read_meta_answers`] reads answers to: `META_BATCH` requests, the kinds
/// this backend sends in turn, the last a no-op.
pub const META_BATCH: usize = 64;

fn meta_batch() -> Vec<Request> {
    let key = || Bytes::from_static(b"k");
    (0..META_BATCH)
        .map(|i| match i % 6 {
            _ if i == META_BATCH - 1 => Request::noop(),
            0 => Request::get(key()),
            1 => Request::get_quiet(key()),
            2 => Request::store(Op::SetQuiet, key(), Bytes::new()),
            3 => Request::increment(key(), 1, 1, 0),
            4 => Request::delete(key(), 0),
            _ => Request::noop(),
        })
        .collect()
}

/// Reads meta-protocol answers from `input` as a connection does, to the requests of a
/// batch of [`META_BATCH`] (answers are matched by their opaque token `O<n>`, error lines and
/// `MN` by their order), until one does not parse or the batch is answered; returns how many
/// parsed (a dropped quiet success counts).
pub fn read_meta_answers(mut input: &[u8]) -> usize {
    let requests = meta_batch();
    let (mut parsed, mut next) = (0, 0);
    while next < requests.len() {
        match now(crate::meta::read_answer(&mut input, &requests, next)) {
            Ok((i, response)) if i >= next => {
                if let Some(r) = response {
                    let _ = (r.flags(), r.counter(), r.message());
                }
                parsed += 1;
                next = i + 1;
            }
            _ => return parsed,
        }
    }
    parsed
}

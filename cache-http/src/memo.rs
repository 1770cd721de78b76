//! The entries this thread prepared lately ([`prepared`]): a hit whose stored bytes are those of
//! an entry prepared here before serves that [`Prepared`] entry, rather than decoding it and
//! building its headers again.
//!
//! The memo is addressed by content, never by key: a slot holds the stored bytes an entry was
//! decoded from, and it serves only a read that found the same bytes (the same allocation, as an
//! in-process backend returns it, or equal bytes, as a network backend returns a copy). A
//! `Prepared` entry is a function of those bytes alone, so serving it is serving what decoding
//! them would give — whatever key, layer or backend they came from. The backend is still read on
//! every request: the memo saves work, never a lookup, and cannot make a deleted, replaced,
//! expired or invalidated entry live on.
//!
//! Per thread, so that a hot entry served by many threads is not one contended lock or
//! reference count: [`SLOTS`] slots, direct-mapped, each entry at most [`LARGEST`] bytes. What
//! it keeps alive beyond the backend's own copies is bounded by their product per thread (4 MiB;
//! a bigger entry costs far more to send than to decode). Two entries that share a slot take
//! turns in it, each decoded again when it returns.

use std::cell::RefCell;
use std::sync::Arc;

use bytes::Bytes;

use crate::entry::Entry;
use crate::prepared::Prepared;

/// Slots per thread.
const SLOTS: usize = 64;

/// The largest stored entry kept, in bytes.
const LARGEST: usize = 64 * 1024;

/// A slot: the stored bytes and the entry prepared from them.
type Slot = Option<(Bytes, Arc<Prepared>)>;

thread_local! {
    static MEMO: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
}

/// The entry stored as `stored` under `key` (which names it in errors), prepared: from this
/// thread's memo when it prepared the same bytes before, else decoded now (and kept).
pub(crate) fn prepared(key: &str, stored: &Bytes) -> cachette_core::Result<Arc<Prepared>> {
    if stored.len() > LARGEST {
        return Ok(Prepared::new(Entry::decode(key, stored)?));
    }
    let slot = slot_of(stored);
    let kept = MEMO.with_borrow(|slots| match slots.get(slot) {
        Some(Some((bytes, prepared))) if same(bytes, stored) => Some(prepared.clone()),
        _ => None,
    });
    if let Some(prepared) = kept {
        return Ok(prepared);
    }
    let prepared = Prepared::new(Entry::decode(key, stored)?);
    MEMO.with_borrow_mut(|slots| {
        if slots.is_empty() {
            slots.resize(SLOTS, None);
        }
        slots[slot] = Some((stored.clone(), prepared.clone()));
    });
    Ok(prepared)
}

/// Whether `a` and `b` are the same bytes: the same memory (the cheap answer for an in-process
/// backend, which returns the bytes it holds), or equal.
fn same(a: &Bytes, b: &Bytes) -> bool {
    a.len() == b.len() && (a.as_ptr() == b.as_ptr() || a[..] == b[..])
}

/// The slot of an entry's stored bytes: from their length and first and last 32 bytes. An
/// entry's first bytes hold when it was rendered and until when it is fresh, to the millisecond,
/// so entries rarely share a slot; when they do, each is decoded again in turn, never mistaken
/// for the other ([`same`] decides). foldhash with a fixed seed (the workspace's fast hasher):
/// no resistance to chosen collisions is needed, one costs a decode.
fn slot_of(stored: &[u8]) -> usize {
    use std::hash::BuildHasher;
    let (head, tail) = (&stored[..stored.len().min(32)], &stored[stored.len().saturating_sub(32)..]);
    let h = foldhash::fast::FixedState::with_seed(0).hash_one((stored.len(), head, tail));
    // The top bits are the best mixed.
    (h >> (64 - SLOTS.trailing_zeros())) as usize
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::*;
    use crate::entry::Lifetime;

    fn stored(rendered_ms: u64, body: &'static [u8]) -> Bytes {
        let head = http::Response::builder().header("content-type", "text/plain").body(()).unwrap().into_parts().0;
        let rendered_at = UNIX_EPOCH + Duration::from_millis(rendered_ms);
        let lifetime = Lifetime { rendered_at, fresh: None, stale: Duration::ZERO, took: Duration::ZERO };
        Entry::new(&head, Bytes::from_static(body), lifetime, vec![]).encode("k").unwrap()
    }

    #[test]
    fn the_same_bytes_are_prepared_once_and_other_bytes_never_served_from_them() {
        let a = stored(1_800_000_000_000, b"a");
        let first = prepared("k", &a).unwrap();
        assert!(Arc::ptr_eq(&first, &prepared("k", &a).unwrap()), "the same allocation");
        let copy = Bytes::copy_from_slice(&a);
        assert!(Arc::ptr_eq(&first, &prepared("k", &copy).unwrap()), "equal bytes, as a network backend reads them");
        let b = stored(1_800_000_000_000, b"b");
        assert_eq!(prepared("k", &b).unwrap().entry.body, "b");
        assert_eq!(prepared("k", &a).unwrap().entry.body, "a");
    }

    #[test]
    fn entries_that_share_a_slot_take_turns_in_it() {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let entries: Vec<Bytes> = (0..SLOTS as u64 * 2).map(|i| stored(now + i, b"x")).collect();
        let (a, b) = entries
            .iter()
            .enumerate()
            .find_map(|(i, a)| entries[i + 1..].iter().find(|b| slot_of(b) == slot_of(a)).map(|b| (a, b)))
            .expect("more entries than slots share one");
        for _ in 0..3 {
            assert_eq!(
                prepared("k", a).unwrap().entry.head.rendered_at_ms,
                Entry::decode("k", a).unwrap().head.rendered_at_ms
            );
            assert_eq!(
                prepared("k", b).unwrap().entry.head.rendered_at_ms,
                Entry::decode("k", b).unwrap().head.rendered_at_ms
            );
        }
    }

    #[test]
    fn an_entry_that_does_not_decode_is_an_error_and_not_kept() {
        let damaged = Bytes::from_static(b"\x48 not an entry");
        assert!(prepared("k", &damaged).is_err());
        assert!(prepared("k", &damaged).is_err());
    }

    #[test]
    fn an_entry_over_the_largest_is_decoded_each_time() {
        static BIG: [u8; LARGEST + 1] = [b'x'; LARGEST + 1];
        let big = stored(1_800_000_000_000, &BIG);
        let first = prepared("k", &big).unwrap();
        assert!(!Arc::ptr_eq(&first, &prepared("k", &big).unwrap()));
    }
}

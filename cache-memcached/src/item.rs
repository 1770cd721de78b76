//! What an item holds besides its bytes: the expiry (memcached's exptime and the deadline kept in
//! the item's flags) and, for a value spread over several items, the head item's layout.
//!
//! `Ttl` maps to memcached's exptime in whole seconds, rounded up: up to 30 days relative, beyond
//! that an absolute unix time (memcached's rule), `Ttl::At` alike; a deadline past 2106 is capped
//! there. A write whose `Ttl` is already over deletes the key. Each item also records its absolute
//! deadline in its 32-bit flags (0: none): memcached's compare-and-swap must send an exptime, and the
//! flags let `inc`/`dec`'s compare-and-swap path and `touch` keep or change the expiry exactly.
//! Because memcached's `touch` cannot change flags, `touch` reads the item and writes it back with a
//! compare-and-swap (a value round trip; it retries if the item changed meanwhile).

use std::time::{SystemTime, UNIX_EPOCH};

use cachette_core::{Expiry, Ttl};

/// memcached reads an exptime up to 30 days as relative seconds, and anything larger as an
/// absolute unix time.
pub(crate) const RELATIVE_LIMIT: u64 = 30 * 24 * 3600;

/// Flags of a head item (a value spread over several items). Every other item's flags are its
/// deadline in unix seconds, or 0 for none: a real deadline is always far above 1.
pub(crate) const HEAD_FLAGS: u32 = 1;

/// How long an item lives, in memcached's two forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lifetime {
    /// The exptime sent with the write (relative up to 30 days, else absolute).
    pub exptime: u32,
    /// The absolute deadline in unix seconds, 0 for none: stored in the item's flags, so that a
    /// later compare-and-swap (which must send an exptime) can keep the item's expiry.
    pub deadline: u32,
}

impl Lifetime {
    pub(crate) const NEVER: Lifetime = Lifetime { exptime: 0, deadline: 0 };

    /// The lifetime of `ttl` written now; `None` if it is already over (store nothing). A deadline
    /// beyond what memcached can express (year 2106) is capped there.
    pub(crate) fn of(ttl: Ttl, default: Expiry, now: SystemTime) -> Option<Lifetime> {
        let expiry = ttl.resolve(default);
        let Some(seconds) = expiry.remaining_secs_ceil(now) else { return Some(Lifetime::NEVER) };
        if seconds == 0 {
            return None;
        }
        let now_secs = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        // At least 2: flags 0 and 1 mean "no deadline" and "head item" (only a clock set to 1970
        // could produce them).
        let deadline = u32::try_from(now_secs.saturating_add(seconds)).unwrap_or(u32::MAX).max(2);
        let exptime = if seconds <= RELATIVE_LIMIT { seconds as u32 } else { deadline };
        Some(Lifetime { exptime, deadline })
    }

    /// The lifetime recorded in an item's flags (its deadline), as an exptime to write again.
    pub(crate) fn from_flags(flags: u32) -> Lifetime {
        Lifetime { exptime: flags, deadline: flags }
    }
}

/// The head item of a spread value: where its pieces are and how to check them.
///
/// Pieces are written first, under keys made from a fresh random `id`, and the head last, so a
/// reader that finds a head finds the pieces of that one write — never pieces of two writes — or,
/// if some were evicted, a hole (the value then reads as absent). The length and the blake3 hash
/// are checked again after reassembly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub id: u128,
    pub total: u64,
    pub chunk_size: u32,
    pub chunks: u32,
    pub deadline: u32,
    pub hash: [u8; 32],
}

const MAGIC: &[u8; 4] = b"ckS1";
const HEAD_LEN: usize = 4 + 16 + 8 + 4 + 4 + 4 + 32;

impl Head {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEAD_LEN);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&self.total.to_be_bytes());
        out.extend_from_slice(&self.chunk_size.to_be_bytes());
        out.extend_from_slice(&self.chunks.to_be_bytes());
        out.extend_from_slice(&self.deadline.to_be_bytes());
        out.extend_from_slice(&self.hash);
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Head> {
        if bytes.len() != HEAD_LEN || &bytes[..4] != MAGIC {
            return None;
        }
        let field = |at: usize, len: usize| &bytes[at..at + len];
        let head = Head {
            id: u128::from_be_bytes(field(4, 16).try_into().ok()?),
            total: u64::from_be_bytes(field(20, 8).try_into().ok()?),
            chunk_size: u32::from_be_bytes(field(28, 4).try_into().ok()?),
            chunks: u32::from_be_bytes(field(32, 4).try_into().ok()?),
            deadline: u32::from_be_bytes(field(36, 4).try_into().ok()?),
            hash: field(40, 32).try_into().ok()?,
        };
        let consistent = head.chunk_size > 0
            && u64::from(head.chunks) == head.total.div_ceil(u64::from(head.chunk_size))
            && head.chunks > 0;
        consistent.then_some(head)
    }

    /// The byte range of piece `index`.
    pub(crate) fn range(&self, index: u32) -> std::ops::Range<usize> {
        let start = u64::from(index) * u64::from(self.chunk_size);
        let end = (start + u64::from(self.chunk_size)).min(self.total);
        start as usize..end as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn lifetimes() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let default = Expiry::After(Duration::from_secs(300));
        assert_eq!(Lifetime::of(Ttl::Never, default, now), Some(Lifetime::NEVER));
        assert_eq!(Lifetime::of(Ttl::Default, default, now), Some(Lifetime { exptime: 300, deadline: 1_800_000_300 }));
        // rounded up, never down to zero
        assert_eq!(Lifetime::of(Ttl::After(Duration::from_millis(1)), default, now).unwrap().exptime, 1);
        // over 30 days: absolute
        let long = Lifetime::of(Ttl::After(Duration::from_secs(RELATIVE_LIMIT + 1)), default, now).unwrap();
        assert_eq!(long.exptime, 1_800_000_000 + RELATIVE_LIMIT as u32 + 1);
        assert_eq!(long.exptime, long.deadline);
        // exactly 30 days is still relative
        let month = Lifetime::of(Ttl::After(Duration::from_secs(RELATIVE_LIMIT)), default, now).unwrap();
        assert_eq!(month.exptime, RELATIVE_LIMIT as u32);
        // Ttl::At: relative within 30 days
        let at = Lifetime::of(Ttl::At(now + Duration::from_secs(90)), default, now).unwrap();
        assert_eq!((at.exptime, at.deadline), (90, 1_800_000_090));
        // over: nothing to store
        assert_eq!(Lifetime::of(Ttl::At(now - Duration::from_secs(1)), default, now), None);
        assert_eq!(Lifetime::of(Ttl::After(Duration::ZERO), default, now), None);
        // far future: capped at memcached's largest time
        let far = Lifetime::of(Ttl::After(Duration::from_secs(1 << 40)), default, now).unwrap();
        assert_eq!((far.exptime, far.deadline), (u32::MAX, u32::MAX));
        assert_eq!(Lifetime::from_flags(1_800_000_300).exptime, 1_800_000_300);
    }

    #[test]
    fn head_roundtrip_and_ranges() {
        let head = Head { id: 7, total: 10, chunk_size: 4, chunks: 3, deadline: 5, hash: [9; 32] };
        assert_eq!(Head::decode(&head.encode()), Some(head.clone()));
        assert_eq!((head.range(0), head.range(2)), (0..4, 8..10));
        let mut bad = head.encode();
        bad[35] = 9; // chunk count no longer matches
        assert_eq!(Head::decode(&bad), None);
        assert_eq!(Head::decode(b"ckS1"), None);
    }
}

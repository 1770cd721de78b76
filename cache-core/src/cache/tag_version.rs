//! A tag's version: its key, its stored form, and how a version is drawn.
//!
//! A version is a `u64` (`0`: none), odd when drawn. One drawn by a tag's first write has bit 1
//! clear; one drawn by an invalidation has bit 1 set and carries the invalidation's time, so
//! that a write of a value computed since a given moment can tell whether one of its tags was
//! invalidated while it was computed (see [`invalidated_since`]).

use std::time::{Duration, SystemTime};

use super::unix_ms;
use crate::codec;

/// What a tag's version key starts with.
const VERSION_PREFIX: &str = "tag-version:";

/// The tag whose version `key` is, if it is a tag's version key.
pub(crate) fn tag_of_version_key(key: &str) -> Option<&str> {
    key.strip_prefix(VERSION_PREFIX)
}

/// The key of a tag's version.
pub(crate) fn version_key(tag: &str) -> String {
    let mut key = String::with_capacity(VERSION_PREFIX.len() + tag.len());
    key.push_str(VERSION_PREFIX);
    key.push_str(tag);
    key
}

/// The version keys of some tags (see [`version_key`]), written into one buffer.
pub(super) struct VersionKeys(String);

impl VersionKeys {
    pub(super) fn new(tags: &[&str]) -> VersionKeys {
        let mut buffer = String::with_capacity(tags.iter().map(|t| VERSION_PREFIX.len() + t.len()).sum());
        for tag in tags {
            buffer.push_str(VERSION_PREFIX);
            buffer.push_str(tag);
        }
        VersionKeys(buffer)
    }

    /// The keys, in the order of `tags` (those it was made from).
    pub(super) fn iter<'a>(&'a self, tags: &'a [&str]) -> impl Iterator<Item = &'a str> {
        let mut start = 0;
        tags.iter().map(move |tag| {
            let end = start + VERSION_PREFIX.len() + tag.len();
            let key = &self.0[start..end];
            start = end;
            key
        })
    }
}

/// A tag's version as stored: an integer, which the codec writes as decimal text. Read here
/// without the codec when it is the plain digits of a `u64` (what the codec decodes the same:
/// 600 instructions a read less); anything else goes through it. `None` for what is not a
/// version (read as "none").
///
/// A version drawn at random has 19 or 20 digits: the first 19 cannot overflow a `u64` and are
/// summed unchecked, one digit at a time (a checked multiply and add per digit was 390
/// instructions a hit).
pub(super) fn decode_version(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 20 {
        return codec::decode::<u64>("tag", bytes).ok();
    }
    let (head, tail) = bytes.split_at(bytes.len().min(19));
    let mut n = 0u64;
    for &byte in head {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return codec::decode::<u64>("tag", bytes).ok();
        }
        n = n * 10 + u64::from(digit);
    }
    match tail {
        [] => Some(n),
        // Over `u64::MAX` is not a `u64` for the codec either.
        [last] if last.is_ascii_digit() => n.checked_mul(10)?.checked_add(u64::from(last - b'0')),
        _ => codec::decode::<u64>("tag", bytes).ok(),
    }
}

/// A new version for a tag that has none, drawn by a write: odd (never the `0` of "none"), with
/// bit 1 clear.
pub(super) fn drawn_by_a_write() -> u64 {
    (rand::random::<u64>() & !2) | 1
}

/// Where the time of an invalidation starts in its version (bits 22 and up: milliseconds since
/// the Unix epoch, enough until 2109); bits 2 to 21 are random (two invalidations in one
/// millisecond differ), bits 0 and 1 set.
const TIME_SHIFT: u32 = 22;

/// A new version drawn by an invalidation at `now`: odd, with bit 1 set, so that a write that
/// saw the tag without a version can tell an invalidation since from another value's first
/// write; and carrying its time (see [`invalidated_since`]).
pub(super) fn drawn_by_an_invalidation(now: SystemTime) -> u64 {
    let random = rand::random::<u64>() & ((1 << TIME_SHIFT) - 1);
    (unix_ms(now) << TIME_SHIFT) | random | 3
}

/// Whether `version` was drawn by an invalidation.
pub(super) fn by_an_invalidation(version: u64) -> bool {
    version & 2 != 0
}

/// How far before a computation's start an invalidation still counts as made during it: the
/// clocks of the processes of a fleet (the one that invalidated, the one that computed) may
/// disagree by this much. A value whose tag was invalidated that shortly before its
/// computation began is not stored; the next read computes it again.
const CLOCK_MARGIN: Duration = Duration::from_secs(1);

/// Whether `version` was drawn by an invalidation made after `since` (less [`CLOCK_MARGIN`]):
/// then a value computed since may have been computed from data as it was before the
/// invalidation, and must not be stored with this version. The time is read from the version;
/// one drawn before versions carried their time (a random number) reads as a time outside
/// every plausible window but for about one chance in 50,000, and then it costs one store.
pub(super) fn invalidated_since(version: u64, since: SystemTime) -> bool {
    if !by_an_invalidation(version) {
        return false;
    }
    let at_ms = version >> TIME_SHIFT;
    let from_ms = unix_ms(since.checked_sub(CLOCK_MARGIN).unwrap_or(since));
    let until_ms = unix_ms(SystemTime::now() + Duration::from_secs(24 * 3600));
    (from_ms..=until_ms).contains(&at_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_reads_as_the_codec_reads_it() {
        let stored = |n: u64| codec::encode("tag", &n).unwrap();
        for n in [0, 1, 7, 1 << 40, u64::MAX / 10, u64::MAX - 1, u64::MAX] {
            assert_eq!(decode_version(&stored(n)), Some(n), "{n}");
        }
        let texts = [
            "0001",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "00000000000000000001",
            "1234567890123456789x",
            "123456789012345678x9",
            "+1",
            " 1",
            "1 ",
            "-1",
            "",
            "x",
        ];
        for text in texts {
            let codec = codec::decode::<u64>("tag", text.as_bytes()).ok();
            assert_eq!(decode_version(text.as_bytes()), codec, "{text:?}");
        }
    }

    #[test]
    fn an_invalidation_counts_as_made_since_a_time_if_it_was_drawn_after_it_less_the_margin() {
        let now = SystemTime::now();
        let version = drawn_by_an_invalidation(now);
        assert!(by_an_invalidation(version) && version % 2 == 1);
        assert!(invalidated_since(version, now));
        assert!(invalidated_since(version, now + Duration::from_millis(500)), "within the clocks' margin");
        assert!(!invalidated_since(version, now + Duration::from_secs(2)));
        assert!(
            !invalidated_since(drawn_by_a_write(), now - Duration::from_secs(60)),
            "a first write is no invalidation"
        );
        assert_ne!(drawn_by_an_invalidation(now), drawn_by_an_invalidation(now), "random below the time");
    }
}

//! The envelope around a value that carries more than itself: when it stops being fresh, how long
//! its load took, and the tags (with their versions) it was written under.
//!
//! ```text
//! offset  size  field
//!      0     1  0xE1
//!      1     8  fresh until, milliseconds since the Unix epoch, little endian; 0 = never stale
//!      9     4  the load's duration in milliseconds, little endian (for early refresh)
//!     13     1  number of tags, n
//!             n × (2: name length, little endian; the name in UTF-8; 8: the tag's version)
//!      …        the value, as `codec` encodes it (or, for the HTTP layer, its own bytes)
//! ```
//!
//! The typed layer tells an envelope from a plain value by its first byte: `0xE1` is neither a
//! codec format byte nor the first byte of an integer's decimal text. Decoding checks every
//! length against the bytes there are, so a damaged envelope is an error, never a panic or an
//! allocation its size cannot pay for.

use bytes::{BufMut, Bytes, BytesMut};

use crate::{CacheError, Result};

/// The first byte of an envelope.
pub(crate) const ENVELOPE: u8 = 0xE1;
const FIXED: usize = 1 + 8 + 4 + 1;

/// A decoded envelope, borrowing from the stored bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Envelope<'a> {
    /// `None`: never stale (only the backend's expiry ends it).
    pub(crate) fresh_until_ms: Option<u64>,
    /// How long the load that wrote it took.
    pub(crate) load_ms: u32,
    /// The tags it was written under, each with the version it had then.
    pub(crate) tags: Tags<'a>,
    /// The value.
    pub(crate) value: &'a [u8],
}

/// Whether `bytes` hold an envelope (rather than a plain value).
pub(crate) fn is_envelope(bytes: &[u8]) -> bool {
    bytes.first() == Some(&ENVELOPE)
}

/// The tags an envelope records, read in place from the stored bytes.
///
/// Every tagged hit decodes an envelope (each of the HTTP layer's does), so decoding allocates
/// nothing: a `Vec` of the tags and the UTF-8 check of their names were 420 of the 730
/// instructions of a hit's envelope check (callgrind, `hit_path`). Names are compared as bytes
/// (a name that equals a `&str` is UTF-8), and checked only where one is needed as a `&str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tags<'a> {
    count: u8,
    /// The tags' part of the envelope, every length in it checked by [`decode`].
    bytes: &'a [u8],
}

impl<'a> Tags<'a> {
    /// Each tag's name (as stored: UTF-8 unless damaged) and recorded version, in order.
    pub(crate) fn iter(self) -> impl Iterator<Item = (&'a [u8], u64)> + Clone {
        let mut rest = self.bytes;
        (0..self.count).map_while(move |_| {
            let (len, after) = rest.split_first_chunk::<2>()?;
            let (name, after) = after.split_at_checked(usize::from(u16::from_le_bytes(*len)))?;
            let (version, after) = after.split_first_chunk::<8>()?;
            rest = after;
            Some((name, u64::from_le_bytes(*version)))
        })
    }
}

/// The envelope of `value`. Tag names longer than 65,535 bytes or more than 255 tags are the
/// caller's mistake ([`CacheError::InvalidKey`]).
pub(crate) fn encode(
    key: &str,
    fresh_until_ms: Option<u64>,
    load_ms: u32,
    tags: &[(&str, u64)],
    value: &[u8],
) -> Result<Bytes> {
    let count = u8::try_from(tags.len()).map_err(|_| CacheError::InvalidKey {
        key: crate::shorten(key),
        message: format!("{} tags on one value: at most 255", tags.len()),
    })?;
    let names: usize = tags.iter().map(|(name, _)| 2 + name.len() + 8).sum();
    let mut out = BytesMut::with_capacity(FIXED + names + value.len());
    out.put_u8(ENVELOPE);
    out.put_u64_le(fresh_until_ms.map_or(0, |t| t.max(1)));
    out.put_u32_le(load_ms);
    out.put_u8(count);
    for (name, version) in tags {
        let len = u16::try_from(name.len()).map_err(|_| CacheError::InvalidKey {
            key: crate::shorten(name),
            message: "a tag name is at most 65,535 bytes".to_owned(),
        })?;
        out.put_u16_le(len);
        out.put_slice(name.as_bytes());
        out.put_u64_le(*version);
    }
    out.put_slice(value);
    Ok(out.freeze())
}

/// Decodes an envelope (`key` names it in errors).
pub(crate) fn decode<'a>(key: &str, bytes: &'a [u8]) -> Result<Envelope<'a>> {
    let damaged = |what: &str| CacheError::codec(key, format!("a damaged envelope: {what}"));
    if bytes.len() < FIXED || bytes[0] != ENVELOPE {
        return Err(damaged("shorter than its header"));
    }
    let fresh_until_ms = u64::from_le_bytes(bytes[1..9].try_into().expect("8 bytes"));
    let load_ms = u32::from_le_bytes(bytes[9..13].try_into().expect("4 bytes"));
    let count = bytes[13];
    // Walked once to check every length; read in place afterwards (`Tags::iter`).
    let mut at = FIXED;
    for _ in 0..count {
        let len = bytes.get(at..at + 2).ok_or_else(|| damaged("a tag is cut off"))?;
        let len = usize::from(u16::from_le_bytes(len.try_into().expect("2 bytes")));
        if bytes.len() < at + 10 + len {
            return Err(damaged("a tag is cut off"));
        }
        at += 10 + len;
    }
    let tags = Tags { count, bytes: &bytes[FIXED..at] };
    Ok(Envelope { fresh_until_ms: (fresh_until_ms != 0).then_some(fresh_until_ms), load_ms, tags, value: &bytes[at..] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip() {
        let bytes =
            encode("k", Some(1_800_000_000_000), 12, &[("user:42", 7), ("team:é", u64::MAX)], b"value").unwrap();
        let envelope = decode("k", &bytes).unwrap();
        assert_eq!(envelope.fresh_until_ms, Some(1_800_000_000_000));
        assert_eq!(envelope.load_ms, 12);
        let tags: Vec<_> = envelope.tags.iter().collect();
        assert_eq!(tags, vec![(&b"user:42"[..], 7), ("team:é".as_bytes(), u64::MAX)]);
        assert_eq!(envelope.value, b"value");
        let plain = encode("k", None, 0, &[], b"").unwrap();
        assert_eq!(decode("k", &plain).unwrap().fresh_until_ms, None);
    }

    #[test]
    fn a_tag_name_that_is_not_utf8_decodes_and_equals_no_str() {
        let mut bytes = encode("k", None, 0, &[("ab", 3)], b"v").unwrap().to_vec();
        bytes[FIXED + 2] = 0xFF; // the name's first byte
        let envelope = decode("k", &bytes).unwrap();
        let tags: Vec<_> = envelope.tags.iter().collect();
        assert_eq!(tags, vec![(&[0xFF, b'b'][..], 3)]);
        assert!(std::str::from_utf8(tags[0].0).is_err(), "so no tag asked for (a &str) matches it");
        assert_eq!(envelope.value, b"v");
    }

    #[test]
    fn every_cut_of_an_envelope_is_an_error_not_a_panic() {
        let bytes = encode("k", Some(5), 1, &[("a", 1), ("bb", 2)], b"xyz").unwrap();
        let header_and_tags = bytes.len() - 3;
        for cut in 0..header_and_tags {
            assert!(decode("k", &bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut lying = bytes.to_vec();
        lying[13] = 200; // claims 200 tags
        assert!(decode("k", &lying).is_err());
    }
}

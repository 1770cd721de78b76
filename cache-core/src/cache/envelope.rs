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
    pub(crate) tags: Vec<(&'a str, u64)>,
    /// The value.
    pub(crate) value: &'a [u8],
}

/// Whether `bytes` hold an envelope (rather than a plain value).
pub(crate) fn is_envelope(bytes: &[u8]) -> bool {
    bytes.first() == Some(&ENVELOPE)
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
    let mut at = FIXED;
    let mut tags = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let len = bytes.get(at..at + 2).ok_or_else(|| damaged("a tag is cut off"))?;
        let len = usize::from(u16::from_le_bytes(len.try_into().expect("2 bytes")));
        let name = bytes.get(at + 2..at + 2 + len).ok_or_else(|| damaged("a tag name is cut off"))?;
        let name = std::str::from_utf8(name).map_err(|_| damaged("a tag name is not UTF-8"))?;
        let version = bytes.get(at + 2 + len..at + 10 + len).ok_or_else(|| damaged("a tag version is cut off"))?;
        tags.push((name, u64::from_le_bytes(version.try_into().expect("8 bytes"))));
        at += 10 + len;
    }
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
        assert_eq!(envelope.tags, vec![("user:42", 7), ("team:é", u64::MAX)]);
        assert_eq!(envelope.value, b"value");
        let plain = encode("k", None, 0, &[], b"").unwrap();
        assert_eq!(decode("k", &plain).unwrap().fresh_until_ms, None);
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

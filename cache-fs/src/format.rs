//! The entry file format: a fixed 24-byte header, then the value.
//!
//! ```text
//! offset  size  field
//!      0     4  magic "CKFS"
//!      4     1  format version (1)
//!      5     3  reserved, zero
//!      8     8  expiry, milliseconds since the Unix epoch, little endian; 0 = never
//!     16     8  value length, little endian
//!     24     n  value
//! ```
//!
//! The header is checked whole before the value is used: a file that is short, of another magic,
//! of an unknown version or whose length field disagrees with its size is not an entry. Decoding
//! never allocates: the value is a range of the bytes already read, so a header that claims a
//! huge length costs nothing.

/// Bytes before the value.
pub const HEADER_LEN: usize = 24;
const MAGIC: &[u8; 4] = b"CKFS";
const VERSION: u8 = 1;

/// Why bytes are not an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAnEntry {
    /// Shorter than a header.
    Truncated,
    /// Another magic: not a cachette file.
    NotOurs,
    /// A format version this build does not know (written by a newer cachette).
    UnknownVersion(u8),
    /// The length field disagrees with the file's size (truncated or padded).
    LengthMismatch,
}

/// A decoded header: when the entry expires and where its value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Expiry in milliseconds since the Unix epoch; `None` never expires.
    pub expires_at_ms: Option<u64>,
    /// Length of the value after the header.
    pub value_len: usize,
}

impl Header {
    /// Whether the entry is live at `now_ms`.
    pub fn is_live(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_none_or(|t| t > now_ms)
    }
}

/// The header for a value of `value_len` bytes expiring at `expires_at_ms`.
pub(crate) fn encode_header(expires_at_ms: Option<u64>, value_len: usize) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(MAGIC);
    h[4] = VERSION;
    // A deadline of exactly 0 ms would read as "never"; 1 ms after the epoch is as expired.
    h[8..16].copy_from_slice(&expires_at_ms.map(|t| t.max(1)).unwrap_or(0).to_le_bytes());
    h[16..24].copy_from_slice(&(value_len as u64).to_le_bytes());
    h
}

/// Decodes the header of a whole entry file (`bytes` is the file's content).
pub fn decode(bytes: &[u8]) -> Result<Header, NotAnEntry> {
    let header = decode_header(bytes)?;
    if (bytes.len() - HEADER_LEN) as u64 != header.value_len as u64 {
        return Err(NotAnEntry::LengthMismatch);
    }
    Ok(header)
}

/// Decodes just the header (the first bytes of a file), without checking the value's length
/// against the file: for pruning, which reads only headers.
pub(crate) fn decode_header(bytes: &[u8]) -> Result<Header, NotAnEntry> {
    if bytes.len() < HEADER_LEN {
        return Err(NotAnEntry::Truncated);
    }
    if &bytes[..4] != MAGIC {
        return Err(NotAnEntry::NotOurs);
    }
    if bytes[4] != VERSION {
        return Err(NotAnEntry::UnknownVersion(bytes[4]));
    }
    let expires = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    let len = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
    let value_len = usize::try_from(len).map_err(|_| NotAnEntry::LengthMismatch)?;
    Ok(Header { expires_at_ms: (expires != 0).then_some(expires), value_len })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(expires: Option<u64>, value: &[u8]) -> Vec<u8> {
        let mut v = encode_header(expires, value.len()).to_vec();
        v.extend_from_slice(value);
        v
    }

    #[test]
    fn roundtrip() {
        let bytes = entry(Some(1_700_000_000_000), b"hello");
        let h = decode(&bytes).unwrap();
        assert_eq!(h, Header { expires_at_ms: Some(1_700_000_000_000), value_len: 5 });
        assert_eq!(&bytes[HEADER_LEN..], b"hello");
        assert_eq!(decode(&entry(None, b"")).unwrap().expires_at_ms, None);
        assert!(!decode(&entry(Some(0), b"x")).unwrap().is_live(5), "a 0 deadline is expired, not never");
    }

    #[test]
    fn rejects_what_is_not_an_entry() {
        let good = entry(None, b"value");
        assert_eq!(decode(&good[..10]), Err(NotAnEntry::Truncated));
        assert_eq!(decode(&good[..good.len() - 1]), Err(NotAnEntry::LengthMismatch));
        let mut padded = good.clone();
        padded.push(0);
        assert_eq!(decode(&padded), Err(NotAnEntry::LengthMismatch));
        let mut other = good.clone();
        other[0] = b'X';
        assert_eq!(decode(&other), Err(NotAnEntry::NotOurs));
        let mut newer = good;
        newer[4] = 9;
        assert_eq!(decode(&newer), Err(NotAnEntry::UnknownVersion(9)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// Any bytes at all: no panic, and a success only for a consistent header.
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(h) = decode(&bytes) {
                prop_assert_eq!(h.value_len, bytes.len() - HEADER_LEN);
            }
        }

        /// Valid headers with hostile length fields: no panic, no allocation, a clean refusal.
        #[test]
        fn hostile_lengths_are_refused(expires in any::<u64>(), claimed in any::<u64>(), tail in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut bytes = encode_header(Some(expires), 0).to_vec();
            bytes[16..24].copy_from_slice(&claimed.to_le_bytes());
            bytes.extend_from_slice(&tail);
            let decoded = decode(&bytes);
            if claimed == tail.len() as u64 {
                prop_assert!(decoded.is_ok());
            } else {
                prop_assert_eq!(decoded, Err(NotAnEntry::LengthMismatch));
            }
        }

        /// What is encoded decodes back.
        #[test]
        fn encode_then_decode(expires in proptest::option::of(1u64..), value in proptest::collection::vec(any::<u8>(), 0..512)) {
            let bytes = entry(expires, &value);
            let h = decode(&bytes).unwrap();
            prop_assert_eq!(h.expires_at_ms, expires);
            prop_assert_eq!(&bytes[HEADER_LEN..], &value[..]);
        }
    }
}

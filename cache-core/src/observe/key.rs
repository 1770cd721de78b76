//! Keys in tracing events: truncated, with a hash of the whole key, never copied unless the event
//! is enabled (a `Display` that borrows).

use std::fmt;

/// Bytes of a key shown as they are; longer keys are cut there (they may hold user input).
const SHOWN: usize = 64;

/// `key` for an event field (`key = %ShortKey(key)`): as is up to 64 bytes, else its first 64
/// bytes, its length and 8 hex digits of its BLAKE3 hash, so two long keys can be told apart.
/// Public for the layers built on the cache (the HTTP layer's events), so that every event
/// shows keys the same way.
///
/// ```
/// use cachette_core::observe::ShortKey;
/// assert_eq!(ShortKey("user:1").to_string(), "user:1");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ShortKey<'a>(pub &'a str);

impl fmt::Display for ShortKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.0;
        if key.len() <= SHOWN {
            return f.write_str(key);
        }
        let mut end = SHOWN;
        while !key.is_char_boundary(end) {
            end -= 1;
        }
        let hash = blake3::hash(key.as_bytes()).to_hex();
        write!(f, "{}...({} bytes, #{})", &key[..end], key.len(), &hash[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::ShortKey;

    #[test]
    fn short_keys_are_shown_whole_and_long_ones_cut_with_length_and_hash() {
        assert_eq!(ShortKey("user:1").to_string(), "user:1");
        let long = format!("{}é{}", "a".repeat(63), "b".repeat(100));
        let shown = ShortKey(&long).to_string();
        assert!(shown.starts_with(&"a".repeat(63)), "{shown}");
        assert!(shown.contains("...(165 bytes, #"), "{shown}");
        assert!(!shown.contains("bbbbbbbbb"), "the tail is not shown: {shown}");
    }
}

//! How a cache's keys are stored on the server: `<byte length of the prefix>:<prefix><key>`.
//!
//! Plain concatenation (`app:` + `v2:k`) lets one prefix's keys be another's (`app:v2:` + `k`),
//! and `SCAN MATCH app:*` finds both; the length in front tells them apart. The crate docs
//! ("Keys on the server") give the proof and what it means for hash tags.

/// The stored form of one cache's keys, and the `SCAN` pattern that matches exactly them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeySpace {
    /// `CACHE_KEY_PREFIX` as configured.
    prefix: String,
    /// What every stored key starts with: `<len>:<prefix>`.
    head: String,
}

impl KeySpace {
    /// The key space of `prefix` (`CACHE_KEY_PREFIX`).
    pub(crate) fn new(prefix: &str) -> KeySpace {
        KeySpace { prefix: prefix.to_owned(), head: format!("{}:{prefix}", prefix.len()) }
    }

    /// `CACHE_KEY_PREFIX` as configured.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key stored on the server for the cache's `key`.
    pub(crate) fn key(&self, key: &str) -> String {
        let mut out = String::with_capacity(self.head.len() + key.len());
        out.push_str(&self.head);
        out.push_str(key);
        out
    }

    /// The cache's key of a key stored on the server, if it is one of this cache's (the inverse
    /// of [`key`](Self::key)): how client tracking names the keys it invalidates.
    pub(crate) fn key_of<'a>(&self, stored: &'a [u8]) -> Option<&'a str> {
        std::str::from_utf8(stored.strip_prefix(self.head.as_bytes())?).ok()
    }

    /// What every stored key of this cache starts with, and no other prefix's does: the
    /// `PREFIX` of client tracking's broadcast mode.
    pub(crate) fn head(&self) -> &str {
        &self.head
    }

    /// The `SCAN MATCH` pattern of every key of this cache, and of no other prefix's.
    pub(crate) fn scan_pattern(&self) -> String {
        scan_pattern(&self.head)
    }
}

/// `literal` followed by anything, as a `SCAN MATCH` pattern: `*`, `?`, `[`, `]` and `\` in
/// `literal` are escaped, so they match only themselves.
fn scan_pattern(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len() + 2);
    for c in literal.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('*');
    out
}

#[cfg(test)]
mod tests {
    use redis::cluster_routing::Slot;

    use super::*;

    #[test]
    fn scan_patterns_escape_glob_characters() {
        assert_eq!(scan_pattern("app:"), "app:*");
        assert_eq!(scan_pattern("a*b?[c]\\:"), "a\\*b\\?\\[c\\]\\\\:*");
    }

    #[test]
    fn stored_keys_start_with_the_byte_length_of_the_prefix() {
        assert_eq!(KeySpace::new("app:").key("k"), "4:app:k");
        assert_eq!(KeySpace::new("app:v2:").key("k"), "7:app:v2:k");
        assert_eq!(KeySpace::new("").key("k"), "0:k");
        assert_eq!(KeySpace::new("é:").key("k"), "3:é:k", "bytes, not characters");
        assert_eq!(KeySpace::new("app:").prefix(), "app:");
    }

    #[test]
    fn a_stored_key_maps_back_to_its_key_only_under_its_own_prefix() {
        let app = KeySpace::new("app:");
        assert_eq!(app.key_of(app.key("user:1").as_bytes()), Some("user:1"));
        assert_eq!(app.key_of(app.key("").as_bytes()), Some(""));
        assert_eq!(app.key_of(KeySpace::new("app:v2:").key("k").as_bytes()), None);
        assert_eq!(KeySpace::new("app:v2:").key_of(app.key("v2:k").as_bytes()), None);
        assert_eq!(app.key_of(&[b'4', b':', b'a', b'p', b'p', b':', 0xff]), None, "not UTF-8: no key of ours");
        assert_eq!(app.head(), "4:app:");
    }

    #[test]
    fn nested_prefixes_no_longer_share_a_stored_key() {
        // `app:` + `v2:k` and `app:v2:` + `k` were both `app:v2:k`.
        assert_ne!(KeySpace::new("app:").key("v2:k"), KeySpace::new("app:v2:").key("k"));
        assert_eq!(KeySpace::new("app:").scan_pattern(), "4:app:*");
        assert_eq!(KeySpace::new("a*[").scan_pattern(), "3:a\\*\\[*");
        assert_eq!(KeySpace::new("").scan_pattern(), "0:*");
    }

    #[test]
    fn hash_tags_keep_their_slot() {
        // The `<len>:` in front holds no brace, so a `{tag}` in the prefix or the key is the
        // same tag as in plain concatenation, and lands in the same cluster slot.
        for (prefix, key) in [("{user:1}:", "name"), ("app:", "{user:1}:name"), ("a{", "b}c"), ("{", "t}{u}")] {
            let plain = format!("{prefix}{key}");
            assert_eq!(Slot::for_key(KeySpace::new(prefix).key(key)), Slot::for_key(plain), "{prefix:?} + {key:?}");
        }
        let tagged = KeySpace::new("{app}:");
        assert_eq!(Slot::for_key(tagged.key("a")), Slot::for_key(tagged.key("b")), "one prefix tag, one slot");
    }
}

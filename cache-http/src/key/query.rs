//! The query in the default key, normalised so that queries a handler reads the same way share an
//! entry and no others do.
//!
//! The query is decoded as a form (`form_urlencoded`: percent-escapes and `+` decoded, so
//! `?a=%41` and `?a=A` are one query), its parameters sorted by name with a *stable* sort (so
//! `?b=1&a=2` is `?a=2&b=1`, but `?x=1&x=2` is not `?x=2&x=1`: repeated names keep their order,
//! which handlers see), and encoded again the one way `form_urlencoded` encodes.

use std::borrow::Cow;

/// Appends `?` and the normalised `query` to `key` (nothing if it has no parameters). Returns
/// `false` if the query does not decode as UTF-8: the decoder would replace the bytes with U+FFFD,
/// making different queries one, so such a request is not keyed.
pub(super) fn write_query(key: &mut String, query: &str) -> bool {
    // Most queries need no work: written as they came, with no allocation.
    if is_normal(query) {
        key.push('?');
        key.push_str(query);
        return true;
    }
    let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = form_urlencoded::parse(query.as_bytes()).collect();
    if pairs
        .iter()
        .any(|(name, value)| name.contains(char::REPLACEMENT_CHARACTER) || value.contains(char::REPLACEMENT_CHARACTER))
    {
        return false;
    }
    if pairs.is_empty() {
        return true;
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    key.push('?');
    let start = key.len();
    form_urlencoded::Serializer::for_suffix(&mut *key, start).extend_pairs(&pairs).finish();
    true
}

/// Whether `query` is already what [`write_query`] would make of it: `name=value` pairs joined
/// by `&`, sorted by name, of bytes that decoding and encoding leave unchanged.
fn is_normal(query: &str) -> bool {
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_'));
    let mut previous = "";
    query.split('&').all(|pair| {
        let Some((name, value)) = pair.split_once('=') else { return false };
        let sorted = previous <= name;
        previous = name;
        sorted && plain(name) && plain(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalised(query: &str) -> Option<String> {
        let mut key = String::new();
        write_query(&mut key, query).then_some(key)
    }

    /// What the slow path makes of `query`, whatever the fast path would say.
    fn decoded_and_encoded(query: &str) -> String {
        let mut pairs: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let encoded = form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
        if encoded.is_empty() { encoded } else { format!("?{encoded}") }
    }

    #[test]
    fn parameters_are_sorted_by_name_and_repeated_names_keep_their_order() {
        assert_eq!(normalised("b=2&a=1").as_deref(), Some("?a=1&b=2"));
        assert_eq!(normalised("x=2&b=0&x=1").as_deref(), Some("?b=0&x=2&x=1"));
        assert_ne!(normalised("x=1&x=2"), normalised("x=2&x=1"));
    }

    #[test]
    fn escapes_and_plus_are_decoded_before_comparing() {
        assert_eq!(normalised("a=%41"), normalised("a=A"));
        assert_eq!(normalised("q=a+b"), normalised("q=a%20b"));
        assert_eq!(normalised("flag"), normalised("flag="));
        assert_eq!(normalised("a=1&&b=2"), normalised("a=1&b=2"));
        assert_eq!(normalised("&").as_deref(), Some(""));
    }

    #[test]
    fn the_encoding_is_unambiguous() {
        // A decoded `&` or `=` must not read as a separator.
        assert_ne!(normalised("a=1%26b%3D2"), normalised("a=1&b=2"));
        assert_eq!(normalised("a=1%26b%3D2").as_deref(), Some("?a=1%26b%3D2"));
        assert_eq!(normalised("a=%0A").as_deref(), Some("?a=%0A"), "no line break reaches the key");
    }

    #[test]
    fn a_query_that_is_not_utf8_is_not_keyed() {
        assert_eq!(normalised("a=%FF"), None);
        assert_eq!(normalised("%FE=1"), None);
    }

    #[test]
    fn the_fast_path_writes_what_the_slow_path_would() {
        let queries = [
            "a=1&b=2",
            "a=1&a=0",
            "a=&b=",
            "=1",
            "a=1&b=2&",
            "a",
            "a=b=c",
            "a=1&B=2",
            "B=1&a=2",
            "a~=1",
            "a=x*y-z.w_v",
            "a=%7e",
            "a=~",
            "a=1;b=2",
            "x=2&x=1&a=0",
        ];
        for query in queries {
            assert_eq!(normalised(query).unwrap(), decoded_and_encoded(query), "{query}");
        }
    }
}

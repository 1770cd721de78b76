//! Keeping secrets out of messages: which settings hold one, and how a value is shown in
//! `Debug`, `Display` and errors.
//!
//! Every [`CacheError::Config`](crate::CacheError::Config) built with
//! [`CacheError::config`](crate::CacheError::config) passes its value through [`redact`] and its
//! message through [`redact_urls_in`], so a backend's error cannot show a password whatever form
//! it was given in (text, a list, a map, JSON, TOML, a URL, an option).

use super::KEYS;
use crate::suggest::nearest;

/// What a secret is shown as.
pub const REDACTED: &str = "<redacted>";

/// The keys whose whole value is a secret.
pub const SECRET_KEYS: &[&str] = &["CACHE_REDIS_PASSWORD", "CACHE_REDIS_SENTINEL_PASSWORD", "CACHE_MEMCACHED_PASSWORD"];

/// Words that make a name (an option, a URL's query parameter, an unknown key) hold a secret.
const SECRET_WORDS: &[&str] =
    &["password", "passwd", "pass", "pwd", "secret", "token", "credential", "credentials", "auth", "apikey"];

/// Whether an option or query parameter named `name` holds a secret: a word of it (split at `_`,
/// `-`, `.`) is `password`, `pass`, `secret`, `token`, `auth`, ..., it contains `password`,
/// `secret` or `token`, or its last word is `key` (`tls_key`, `api_key`: a key itself).
///
/// A `key_file` or `key_path` is a path, not a secret, and stays visible: a message about a file
/// that cannot be read must say which file.
///
/// ```
/// use cachette_core::config::is_secret_name;
///
/// assert!(is_secret_name("password") && is_secret_name("auth_token") && is_secret_name("tls_key"));
/// assert!(!is_secret_name("pool_size") && !is_secret_name("tls_key_file"));
/// ```
pub fn is_secret_name(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    let words: Vec<&str> = name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    words.iter().any(|w| SECRET_WORDS.contains(w))
        || ["password", "passwd", "secret", "token"].iter().any(|s| name.contains(s))
        || words.last() == Some(&"key")
}

/// Whether the setting `key` holds a secret: `CACHE_REDIS_PASSWORD`,
/// `CACHE_REDIS_SENTINEL_PASSWORD`, `CACHE_MEMCACHED_PASSWORD`, a `CACHE_OPTIONS.<name>` whose
/// name [looks secret](is_secret_name), or an unknown key that looks like one of those (a
/// misspelled `CACHE_REDIS_PASWORD` still holds a password).
pub fn is_secret_key(key: &str) -> bool {
    let key = key.trim().to_ascii_uppercase();
    if let Some(option) = key.strip_prefix("CACHE_OPTIONS.") {
        return is_secret_name(option);
    }
    if SECRET_KEYS.contains(&key.as_str()) {
        return true;
    }
    if KEYS.iter().any(|k| k.name == key) {
        return false;
    }
    is_secret_name(&key) || nearest(&key, KEYS.iter().map(|k| k.name)).is_some_and(|k| SECRET_KEYS.contains(&k))
}

/// `value` of the setting `key` as messages show it: [`REDACTED`] for a [secret
/// key](is_secret_key) (an empty value stays empty, so that "not set" still reads as such), secret
/// entries of `CACHE_OPTIONS` redacted, and the passwords of URLs ([`redact_url`]) in any other
/// value.
///
/// ```
/// use cachette_core::config::redact;
///
/// assert_eq!(redact("CACHE_REDIS_PASSWORD", "hunter2"), "<redacted>");
/// assert_eq!(redact("CACHE_OPTIONS", "pool_size=4,password=hunter2"), "pool_size=4,password=<redacted>");
/// assert_eq!(redact("CACHE_REDIS_URL", "redis://app:hunter2@host/0"), "redis://app:<redacted>@host/0");
/// assert_eq!(redact("CACHE_KEY_PREFIX", "app:"), "app:");
/// ```
pub fn redact(key: &str, value: &str) -> String {
    if value.trim().is_empty() {
        return value.to_owned();
    }
    if is_secret_key(key) {
        return REDACTED.to_owned();
    }
    let key = key.trim().to_ascii_uppercase();
    if key == "CACHE_OPTIONS" {
        return redact_options_text(value);
    }
    // Addresses: a list of URLs or `user:password@host` entries.
    let addresses = ["URL", "HOST", "CLUSTER", "SENTINELS", "SERVERS"].iter().any(|a| key.contains(a));
    redact_items(value, addresses)
}

/// Each comma-separated item of `value` with its URL's password redacted; with `addresses`, an
/// item without a scheme but with an `@` too (`user:password@host`).
pub(super) fn redact_items(value: &str, addresses: bool) -> String {
    if !value.contains('@') && !value.contains("://") {
        return value.to_owned();
    }
    let items = value.split(',').map(|item| {
        if item.contains("://") || (addresses && item.contains('@')) { redact_url(item) } else { item.to_owned() }
    });
    items.collect::<Vec<_>>().join(",")
}

/// A URL for logs and errors: `redis://user:secret@host/` becomes `redis://user:<redacted>@host/`,
/// and query parameters that [look secret](is_secret_name) are redacted
/// (`unix:///run/redis.sock?db=1&pass=secret` becomes `...&pass=<redacted>`).
///
/// The userinfo is read as the URL standard and redis-rs read it: the authority ends at the first
/// `/`, `?` or `#` after `://`, the userinfo at the last `@` inside it, the user name at its first
/// `:`; so `redis://user:p@ss:word@host` hides `p@ss:word`. A password holding `/`, `?` or `#`
/// must be percent-encoded (`%2F`): written raw, the URL does not parse, and its authority seems
/// to end inside the password. For such a URL everything from `://` to the last `@` is hidden,
/// user name included, since it cannot be told where the user name ends.
///
/// ```
/// use cachette_core::config::redact_url;
///
/// assert_eq!(redact_url("redis://app:pa%2Fss@host:6379/0"), "redis://app:<redacted>@host:6379/0");
/// assert_eq!(redact_url("redis://app:pa/ss@host:6379/0"), "redis://<redacted>@host:6379/0");
/// assert_eq!(redact_url("redis://host:6379/0"), "redis://host:6379/0");
/// ```
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (shown, tail) = match rest[..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let shown = match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:{REDACTED}"),
                // A lone userinfo is a user name to redis-rs, but a password to clients that
                // take `redis://secret@host`: hide it.
                None => REDACTED.to_owned(),
            };
            (shown, &rest[at..])
        }
        None => match rest.rfind('@') {
            Some(at) => (REDACTED.to_owned(), &rest[at..]),
            None => (String::new(), rest),
        },
    };
    format!("{scheme}{shown}{}", redact_query(tail))
}

/// `tail` (what follows a URL's userinfo) with the values of secret-looking query parameters
/// redacted.
fn redact_query(tail: &str) -> String {
    let Some((before, query)) = tail.split_once('?') else { return tail.to_owned() };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let pairs = query.split('&').map(|pair| match pair.split_once('=') {
        Some((name, _)) if is_secret_name(name) => format!("{name}={REDACTED}"),
        _ => pair.to_owned(),
    });
    let mut out = format!("{before}?{}", pairs.collect::<Vec<_>>().join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// The text of a `CACHE_OPTIONS` value (`name=value,...`, a JSON object, or the display of a
/// table `{name=value, ...}`) with the values of secret-looking names redacted, and the
/// passwords of URLs in the others.
///
/// Each comma-separated entry is split at `=` and `:`; when a piece before the last names a
/// secret, the rest of the entry is hidden, and so are the entries after it that have no name of
/// their own (the rest of a value that held a comma). A nested table is covered too, since its
/// names are pieces of the entry.
pub(super) fn redact_options_text(text: &str) -> String {
    let mut hiding = false;
    let mut out = Vec::new();
    for entry in text.split(',') {
        let pieces: Vec<&str> = entry.split(['=', ':']).collect();
        if pieces.len() == 1 {
            out.push(if hiding { REDACTED.to_owned() } else { redact_items(entry, false) });
            continue;
        }
        let name = |piece: &str| piece.trim().trim_matches(['{', '}', '[', ']', '"', '\'', ' ']).to_owned();
        let secret = pieces[..pieces.len() - 1].iter().position(|p| is_secret_name(&name(p)));
        hiding = secret.is_some();
        match secret {
            None => out.push(redact_items(entry, false)),
            Some(i) => {
                let cut: usize = pieces[..=i].iter().map(|p| p.len() + 1).sum();
                out.push(format!("{}{REDACTED}", &entry[..cut]));
            }
        }
    }
    out.join(",")
}

/// `text` (an error message) with the password of every URL in it redacted. A URL ends at
/// whitespace, a quote, a comma or a closing bracket. A URL whose authority opens with `[` is
/// left as it is: an IPv6 host, which holds no password, or a template such as
/// `redis://[user:password@]host:port/db` that says how to write one.
pub fn redact_urls_in(text: &str) -> String {
    if !text.contains("://") {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let end = rest[i..].find(|c: char| c.is_whitespace() || "\"'`,)]>".contains(c)).map_or(rest.len(), |e| i + e);
        // The scheme is the word before `://`.
        let start = rest[..i]
            .char_indices()
            .rfind(|&(_, c)| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
            .map_or(0, |(s, c)| s + c.len_utf8());
        out.push_str(&rest[..start]);
        let url = &rest[start..end];
        if rest[i + 3..].starts_with('[') {
            out.push_str(url)
        } else {
            out.push_str(&redact_url(url))
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_inside_a_message_lose_their_passwords_and_nothing_else() {
        assert_eq!(
            redact_urls_in("cannot reach redis://app:pw@h:1/0, nor \"rediss://:x@y\" (über unix:///s?pass=z)"),
            "cannot reach redis://app:<redacted>@h:1/0, nor \"rediss://:<redacted>@y\" (über unix:///s?pass=<redacted>)"
        );
        assert_eq!(redact_urls_in("a message without an address"), "a message without an address");
        let template = "expected redis://[user:password@]host:port/db or redis://[::1]:6379";
        assert_eq!(redact_urls_in(template), template);
    }

    #[test]
    fn only_names_that_hold_secrets_are_secret() {
        for name in ["password", "PASSWORD", "sentinel_password", "pass", "auth", "auth_token", "secret_key", "api_key"]
        {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["pool_size", "tls_ca_file", "key_file", "tls_key_file", "max_item_size", "deadline", "passive"] {
            assert!(!is_secret_name(name), "{name}");
        }
        assert!(is_secret_key("CACHE_OPTIONS.password") && is_secret_key("cache_redis_password"));
        assert!(!is_secret_key("CACHE_REDIS_USERNAME") && !is_secret_key("CACHE_OPTIONS.pool_size"));
    }

    #[test]
    fn options_text_keeps_its_other_entries() {
        assert_eq!(
            redact_options_text(r#"{"password": "a,b", "pool_size": 4}"#),
            r#"{"password":<redacted>,<redacted>, "pool_size": 4}"#
        );
        assert_eq!(redact_options_text("{tls={password=x}}"), "{tls={password=<redacted>");
    }
}

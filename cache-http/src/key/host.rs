//! The origin in the default key: the host a request is for, so that a page rendered for one
//! host is never served to a request for another.
//!
//! The authority comes from the URI (an absolute-form request, or HTTP/2's `:authority`, which
//! hyper puts in the URI) or from the `Host` header. It is normalised only where two spellings name
//! the same origin — lower-case, one trailing dot dropped, an empty port dropped, and the scheme's
//! default port dropped when the request states its scheme — and kept as written otherwise. A
//! request that names its host ambiguously (two `Host` headers, a `Host` that disagrees with the
//! URI, one that is not an authority) cannot be keyed: a handler might read either, so it
//! bypasses the cache.

use std::ops::Range;

use http::header::HOST;
use http::request::Parts;

/// Appends the request's origin and a space to `key`: `scheme://authority ` when the URI states
/// its scheme (HTTP/2, absolute form), `authority ` for a `Host` header alone, and nothing when
/// the request names no host. Returns where the normalised authority is in `key` (empty: none),
/// or `None` when the host is ambiguous (see the module docs).
///
/// The space keeps keys apart: a path holds none, so a key with an origin never equals one
/// without (whose path might start with `//host`).
pub(super) fn write_origin(key: &mut String, parts: &Parts) -> Option<Range<usize>> {
    let mut hosts = parts.headers.get_all(HOST).iter();
    let header = match (hosts.next(), hosts.next()) {
        (None, _) => None,
        (Some(value), None) => Some(value.to_str().ok()?),
        (Some(_), Some(_)) => return None,
    };
    let scheme = parts.uri.scheme_str();
    let start = match (parts.uri.authority(), header) {
        (Some(authority), header) => {
            if let Some(scheme) = scheme {
                let start = key.len();
                key.push_str(scheme);
                key[start..].make_ascii_lowercase();
                key.push_str("://");
            }
            let start = key.len();
            if !write_authority(key, authority.as_str(), scheme) {
                return None;
            }
            // An absolute-form request also has a `Host` header; RFC 9112 says to ignore it, but a
            // handler may read it: the two must name the same origin.
            if let Some(header) = header {
                let end = key.len();
                if !write_authority(key, header, scheme) || key[start..end] != key[end..] {
                    return None;
                }
                key.truncate(end);
            }
            start
        }
        (None, Some(header)) if !header.is_empty() => {
            let start = key.len();
            if !write_authority(key, header, scheme) {
                return None;
            }
            start
        }
        (None, _) => return Some(key.len()..key.len()),
    };
    let end = key.len();
    key.push(' ');
    Some(start..end)
}

/// The `Host` header an HTTP/1.1 client sends for an absolute `uri`: its host, and its port
/// unless that is the scheme's default. `None` if `uri` names no host.
pub(crate) fn host_header(uri: &http::Uri) -> Option<String> {
    let host = uri.host()?;
    Some(match uri.port_u16() {
        Some(port) if Some(port) != uri.scheme_str().and_then(default_port) => format!("{host}:{port}"),
        _ => host.to_owned(),
    })
}

/// The host of `authority` as a view's tag names it (see [`view`](super::view)): normalised as
/// in the key, without the scheme, and without the port when it is 80 or 443 (whatever the
/// scheme: a tag may name more entries than one, never fewer). `None` if it is not an authority.
pub(super) fn view_host(authority: &str) -> Option<String> {
    let mut host = String::with_capacity(authority.len());
    if !write_authority(&mut host, authority, None) {
        return None;
    }
    let view = without_web_port(&host).len();
    host.truncate(view);
    Some(host)
}

/// A normalised authority (as [`write_origin`] writes it) without the port 80 or 443: a view's
/// host. The key's authority differs from [`view_host`]'s only by the default port of the
/// request's scheme (80 or 443), which this removes either way.
pub(super) fn without_web_port(authority: &str) -> &str {
    authority.strip_suffix(":80").or_else(|| authority.strip_suffix(":443")).unwrap_or(authority)
}

/// Appends the normalised `authority` (`host[:port]`) to `key`; `false` if it is not one.
///
/// On every request that uses the cache, with the `Host` its client sent: nearly always already
/// normal, which one pass over its bytes tells ([`already_normal`]); other spellings are
/// normalised by [`normalise`].
fn write_authority(key: &mut String, authority: &str, scheme: Option<&str>) -> bool {
    match already_normal(authority, scheme) {
        Some(normal) => {
            key.push_str(normal);
            true
        }
        None => normalise(key, authority, scheme),
    }
}

/// What [`normalise`] would write for `authority`, when that is a part of it as written: a
/// lower-case registered name without a trailing dot, and a port spelled as its number (dropped
/// when it is the scheme's default). `None` for every other spelling.
///
/// One pass over the bytes instead of splitting, parsing and lower-casing a copy: the origin of
/// `hit_path`'s request (`Host: 127.0.0.1:8080`) went from 715 to 470 instructions (callgrind).
/// Its output is the general path's wherever it answers (tested on every mix of spellings).
fn already_normal<'a>(authority: &'a str, scheme: Option<&str>) -> Option<&'a str> {
    let bytes = authority.as_bytes();
    let host_len = bytes.iter().position(|&b| !LOWER_NAME_BYTES[usize::from(b)]).unwrap_or(bytes.len());
    let (host, rest) = bytes.split_at(host_len);
    if host.is_empty() || host.ends_with(b".") {
        return None;
    }
    let Some(digits) = rest.strip_prefix(b":") else { return rest.is_empty().then_some(authority) };
    // The number's own spelling: 1 to 5 digits, no leading zero, at most 65,535.
    if digits.is_empty() || digits.len() > 5 || digits[0] == b'0' {
        return None;
    }
    let mut number = 0u32;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        number = number * 10 + u32::from(digit - b'0');
    }
    let number = u16::try_from(number).ok()?;
    Some(if Some(number) == scheme.and_then(default_port) { &authority[..host_len] } else { authority })
}

/// [`write_authority`] for any spelling. On every request whose `Host` is not [`already_normal`]
/// (and on each view's host an invalidation names), so written
/// without `fmt` or a `char` at a time: the host is copied and lower-cased in place, and a port
/// is copied as written unless its spelling is not the number's own (`:080`). A `write!` of the
/// port and a lower-casing `extend` were 2,000 of the 29,400 instructions of a hit.
fn normalise(key: &mut String, authority: &str, scheme: Option<&str>) -> bool {
    let Some((host, port)) = split_port(authority) else { return false };
    let literal = host.starts_with('[');
    // `good.example.` is the same name as `good.example` (a fully qualified one).
    let host = match host.strip_suffix('.') {
        Some(name) if !literal && !name.is_empty() => name,
        _ => host,
    };
    if !is_host(host, literal) {
        return false;
    }
    let start = key.len();
    key.push_str(host);
    key[start..].make_ascii_lowercase();
    if let Some(port) = port.filter(|port| Some(port.number) != scheme.and_then(default_port)) {
        key.push(':');
        // The number, not its spelling: `:080` is `:80`.
        match port.digits.trim_start_matches('0') {
            "" => key.push('0'),
            digits => key.push_str(digits),
        }
    }
    true
}

/// A port as a request writes it: its digits and its number.
#[derive(Clone, Copy)]
struct Port<'a> {
    digits: &'a str,
    number: u16,
}

/// `host` and its port, if it has a non-empty one; `None` if the port is not a number.
fn split_port(authority: &str) -> Option<(&str, Option<Port<'_>>)> {
    let (host, port) = match authority.strip_prefix('[') {
        // An IP literal: `[::1]:8080`.
        Some(_) => {
            let end = authority.find(']')? + 1;
            let (host, rest) = authority.split_at(end);
            (host, if rest.is_empty() { None } else { Some(rest.strip_prefix(':')?) })
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    match port {
        // An empty port is the default one (RFC 3986 §6.2.3).
        None | Some("") => Some((host, None)),
        Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => {
            Some((host, Some(Port { digits, number: digits.parse().ok()? })))
        }
        Some(_) => None,
    }
}

/// The bytes of a registered name (RFC 3986 §3.2.2): unreserved characters, percent-escapes and
/// sub-delimiters. A table, as every byte of every request's host is looked up.
const NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric();
        b += 1;
    }
    let others = b"-._~%!$&'()*+,;=";
    let mut i = 0;
    while i < others.len() {
        table[others[i] as usize] = true;
        i += 1;
    }
    table
};

/// The bytes of a registered name that normalising leaves as they are: [`NAME_BYTES`] but upper
/// case letters.
const LOWER_NAME_BYTES: [bool; 256] = {
    let mut table = NAME_BYTES;
    let mut b = b'A';
    while b <= b'Z' {
        table[b as usize] = false;
        b += 1;
    }
    table
};

/// Whether `host` is a host of RFC 3986 §3.2.2: a registered name (unreserved characters,
/// percent-escapes, sub-delimiters) or an IP literal in brackets. Nothing else may reach the key:
/// no `/`, `@`, space or line break.
fn is_host(host: &str, literal: bool) -> bool {
    let name_byte = |b: u8| NAME_BYTES[usize::from(b)];
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(address) if literal => !address.is_empty() && address.bytes().all(|b| b == b':' || name_byte(b)),
        _ => !literal && !host.is_empty() && host.bytes().all(name_byte),
    }
}

/// The default port of a scheme the layer knows.
fn default_port(scheme: &str) -> Option<u16> {
    if scheme.eq_ignore_ascii_case("http") {
        Some(80)
    } else if scheme.eq_ignore_ascii_case("https") {
        Some(443)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The origin written for a request to `uri` with these `Host` headers; `None`: ambiguous.
    fn origin(uri: &str, hosts: &[&str]) -> Option<String> {
        let mut request = http::Request::get(uri);
        for host in hosts {
            request = request.header(HOST, *host);
        }
        let parts = request.body(()).unwrap().into_parts().0;
        let mut key = String::new();
        let authority = write_origin(&mut key, &parts)?;
        let written = key.strip_suffix(' ').unwrap_or(&key);
        assert_eq!(&key[authority], written.rsplit("://").next().unwrap(), "where it says the authority is");
        Some(key)
    }

    #[test]
    fn spellings_of_one_host_share_an_origin() {
        for host in ["good.example", "GOOD.Example", "good.example.", "good.example:"] {
            assert_eq!(origin("/", &[host]).as_deref(), Some("good.example "), "{host}");
        }
        assert_eq!(origin("/", &["good.example:8080"]).as_deref(), Some("good.example:8080 "));
        assert_eq!(origin("/", &["good.example:08080"]).as_deref(), Some("good.example:8080 "));
        assert_eq!(origin("/", &["[::1]:8080"]).as_deref(), Some("[::1]:8080 "));
        assert_eq!(origin("/", &["[::1]"]).as_deref(), Some("[::1] "));
    }

    #[test]
    fn the_default_port_is_dropped_only_for_the_scheme_the_request_states() {
        assert_eq!(origin("http://Good.Example:80/", &[]).as_deref(), Some("http://good.example "));
        assert_eq!(origin("https://good.example:443/", &[]).as_deref(), Some("https://good.example "));
        assert_eq!(origin("https://good.example:80/", &[]).as_deref(), Some("https://good.example:80 "));
        // Over HTTP/1 the layer cannot tell whether TLS was terminated below it.
        assert_eq!(origin("/", &["good.example:80"]).as_deref(), Some("good.example:80 "));
        assert_eq!(origin("/", &["good.example:443"]).as_deref(), Some("good.example:443 "));
    }

    #[test]
    fn an_http1_client_sends_the_host_without_the_default_port() {
        let host = |uri: &str| host_header(&uri.parse().unwrap());
        assert_eq!(host("https://good.example:443/p").as_deref(), Some("good.example"));
        assert_eq!(host("http://good.example:8080/p").as_deref(), Some("good.example:8080"));
        assert_eq!(host("/p"), None);
    }

    #[test]
    fn an_authority_already_normal_is_written_as_normalising_writes_it() {
        let hosts = ["a", "A", "ab.c", "Ab.c", "a.", ".", "", "[::1]", "a%2F", "a%2f", "x-y_z~", "a!$&'()*+,;=", "a b"];
        let ports = [None, Some(""), Some("0"), Some("00"), Some("80"), Some("080"), Some("443"), Some("8080")];
        let more = [Some("65535"), Some("65536"), Some("99999"), Some("123456"), Some("8x"), Some("1:2")];
        let mut fast = 0;
        for host in hosts {
            for port in ports.iter().chain(&more) {
                let authority = match port {
                    Some(port) => format!("{host}:{port}"),
                    None => host.to_owned(),
                };
                for scheme in [None, Some("http"), Some("https"), Some("HTTP"), Some("ftp")] {
                    let mut general = String::new();
                    let normal = normalise(&mut general, &authority, scheme);
                    if let Some(written) = already_normal(&authority, scheme) {
                        fast += 1;
                        assert!(normal, "{authority:?} is not an authority");
                        assert_eq!(written, general, "{authority:?} with {scheme:?}");
                    }
                }
            }
        }
        assert!(fast >= 100, "the fast path was taken {fast} times");
    }

    #[test]
    fn a_request_without_a_host_has_no_origin() {
        assert_eq!(origin("/", &[]).as_deref(), Some(""));
        assert_eq!(origin("/", &[""]).as_deref(), Some(""));
    }

    #[test]
    fn an_ambiguous_host_cannot_be_keyed() {
        assert_eq!(origin("/", &["good.example", "evil.example"]), None, "two Host headers");
        assert_eq!(origin("http://good.example/", &["evil.example"]), None, "the URI and Host disagree");
        assert_eq!(origin("http://good.example/", &["GOOD.example:80"]).as_deref(), Some("http://good.example "));
        for host in [
            "good.example/x",
            "a b",
            "user@good.example",
            "a:b:c",
            "good.example:http",
            "good.example:99999",
            ":80",
            "[::1",
            "[::1]x",
        ] {
            assert_eq!(origin("/", &[host]), None, "{host}");
        }
    }
}

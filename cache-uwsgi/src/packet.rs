//! The uwsgi packets of uWSGI's cache "magic" interface (modifier1 111, modifier2 17), as
//! uWSGI 2.0's `plugins/cache/cache.c` serves them and `core/cache.c` sends them:
//!
//! ```text
//! request:  [111][u16 LE: size of the vars][17] vars  value (`size` bytes, set and update only)
//! vars:     ([u16 LE][name][u16 LE][value])*     cmd, key, cache, size, expires (decimal text)
//! response: [111][u16 LE: size of the vars][17] vars (status=ok, size, expires)  value (`size` bytes)
//! ```
//!
//! A command that finds nothing or fails (a missing key, a `set` of a key that exists, an unknown
//! cache, a value over the item size) gets no answer at all: the server closes the connection.
//! It answers one request per connection.

use cachette_core::Bytes;

/// The uwsgi protocol's modifier1 of the cache plugin.
pub(crate) const MODIFIER1_CACHE: u8 = 111;
/// modifier2 of the "magic" dictionary interface (get, set, update, del, exists, clear).
pub(crate) const MODIFIER2_MAGIC: u8 = 17;

/// A request: its vars and the value that follows them.
pub(crate) struct Request {
    vars: Vec<u8>,
    body: Bytes,
}

impl Request {
    /// A command on `cache`, for `key` if the command has one.
    pub(crate) fn new(cmd: &str, cache: &str, key: Option<&[u8]>) -> Request {
        let mut request = Request { vars: Vec::with_capacity(64 + key.map_or(0, <[u8]>::len)), body: Bytes::new() };
        request.var(b"cmd", cmd.as_bytes());
        if let Some(key) = key {
            request.var(b"key", key);
        }
        // An empty name sends none: the server then uses its first cache, as uWSGI's own client does.
        if !cache.is_empty() {
            request.var(b"cache", cache.as_bytes());
        }
        request
    }

    /// A `set` or `update` carrying `value`, expiring after `expires` seconds (0: never).
    pub(crate) fn with_value(mut self, value: Bytes, expires: u64) -> Request {
        self.var(b"size", value.len().to_string().as_bytes());
        if expires > 0 {
            self.var(b"expires", expires.to_string().as_bytes());
        }
        self.body = value;
        self
    }

    fn var(&mut self, name: &[u8], value: &[u8]) {
        // Lengths are checked by `encode`; a longer var is cut here only to keep the framing sound.
        for part in [name, value] {
            let len = u16::try_from(part.len()).unwrap_or(u16::MAX);
            self.vars.extend_from_slice(&len.to_le_bytes());
            self.vars.extend_from_slice(&part[..usize::from(len)]);
        }
    }

    /// Whether a value follows the vars (`set` and `update`).
    pub(crate) fn has_body(&self) -> bool {
        !self.body.is_empty()
    }

    /// The bytes to send, or `None` if the vars do not fit a packet.
    pub(crate) fn encode(&self) -> Option<Vec<u8>> {
        let size = u16::try_from(self.vars.len()).ok()?;
        let mut out = Vec::with_capacity(4 + self.vars.len() + self.body.len());
        out.push(MODIFIER1_CACHE);
        out.extend_from_slice(&size.to_le_bytes());
        out.push(MODIFIER2_MAGIC);
        out.extend_from_slice(&self.vars);
        out.extend_from_slice(&self.body);
        Some(out)
    }
}

/// What the server answered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Response {
    /// No answer: the key is missing, the command failed, or the cache does not exist.
    Nothing,
    /// `status=ok`, with the value that followed (empty for commands without one).
    Ok(Bytes),
}

/// Parses what the server sent before it closed the connection.
pub(crate) fn parse_response(input: &[u8]) -> Result<Response, String> {
    if input.is_empty() {
        return Ok(Response::Nothing);
    }
    let [m1, lo, hi, m2, rest @ ..] = input else {
        return Err(format!("a response of {} bytes is shorter than a uwsgi header", input.len()));
    };
    if (*m1, *m2) != (MODIFIER1_CACHE, MODIFIER2_MAGIC) {
        return Err(format!(
            "the response has modifiers {m1}/{m2}, not {MODIFIER1_CACHE}/{MODIFIER2_MAGIC}: is this uWSGI's uwsgi socket?"
        ));
    }
    let size = usize::from(u16::from_le_bytes([*lo, *hi]));
    let (mut vars, body) = rest
        .split_at_checked(size)
        .ok_or_else(|| format!("the response's vars claim {size} bytes, {} came", rest.len()))?;
    let (mut status, mut value_size) = (None, 0usize);
    while !vars.is_empty() {
        let name = take(&mut vars)?;
        let value = take(&mut vars)?;
        match name {
            b"status" => status = Some(value),
            b"size" => {
                value_size = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()).ok_or_else(|| {
                    format!("the response's size {:?} is not a number", String::from_utf8_lossy(value))
                })?
            }
            _ => {}
        }
    }
    match status {
        Some(b"ok") => {}
        Some(other) => return Err(format!("the server answered status {:?}", String::from_utf8_lossy(other))),
        None => return Err("the response has no status".to_owned()),
    }
    if body.len() != value_size {
        return Err(format!("the response announces a {value_size}-byte value and carries {} bytes", body.len()));
    }
    Ok(Response::Ok(Bytes::copy_from_slice(body)))
}

/// One u16-length-prefixed string off the front of `vars`.
fn take<'a>(vars: &mut &'a [u8]) -> Result<&'a [u8], String> {
    let truncated = || "the response's vars are truncated".to_owned();
    let (len, rest) = vars.split_at_checked(2).ok_or_else(truncated)?;
    let len = usize::from(u16::from_le_bytes([len[0], len[1]]));
    let (item, rest) = rest.split_at_checked(len).ok_or_else(truncated)?;
    *vars = rest;
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, value) in pairs {
            for part in [name, value] {
                out.extend_from_slice(&(part.len() as u16).to_le_bytes());
                out.extend_from_slice(part);
            }
        }
        out
    }

    fn packet(pairs: &[(&[u8], &[u8])], body: &[u8]) -> Vec<u8> {
        let vars = vars(pairs);
        let mut out = vec![111, 0, 0, 17];
        out[1..3].copy_from_slice(&(vars.len() as u16).to_le_bytes());
        out.extend_from_slice(&vars);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn a_set_is_framed_as_uwsgi_sends_it() {
        let encoded =
            Request::new("set", "mycache", Some(b"k")).with_value(Bytes::from_static(b"abc"), 7).encode().unwrap();
        let expected = packet(
            &[(b"cmd", b"set"), (b"key", b"k"), (b"cache", b"mycache"), (b"size", b"3"), (b"expires", b"7")],
            b"abc",
        );
        assert_eq!(encoded, expected);
    }

    #[test]
    fn a_value_that_never_expires_sends_no_expires() {
        let encoded = Request::new("update", "c", Some(b"k")).with_value(Bytes::from_static(b"v"), 0).encode().unwrap();
        assert_eq!(encoded, packet(&[(b"cmd", b"update"), (b"key", b"k"), (b"cache", b"c"), (b"size", b"1")], b"v"));
    }

    #[test]
    fn vars_over_64_kib_do_not_encode() {
        assert!(Request::new("get", "c", Some(&vec![b'k'; usize::from(u16::MAX)])).encode().is_none());
    }

    #[test]
    fn an_empty_answer_is_nothing() {
        assert_eq!(parse_response(b""), Ok(Response::Nothing));
    }

    #[test]
    fn a_get_answer_carries_its_value() {
        let input = packet(&[(b"status", b"ok"), (b"size", b"3"), (b"expires", b"1796173479")], b"xyz");
        assert_eq!(parse_response(&input), Ok(Response::Ok(Bytes::from_static(b"xyz"))));
        assert_eq!(parse_response(&packet(&[(b"status", b"ok")], b"")), Ok(Response::Ok(Bytes::new())));
    }

    #[test]
    fn damaged_answers_are_errors() {
        assert!(parse_response(&[111, 0]).is_err());
        assert!(parse_response(&packet(&[(b"status", b"ok")], b"")[..6]).is_err());
        assert!(parse_response(&packet(&[(b"status", b"ok"), (b"size", b"4")], b"xyz")).is_err());
        assert!(parse_response(&packet(&[(b"status", b"error")], b"")).is_err());
        assert!(parse_response(&packet(&[(b"size", b"0")], b"")).is_err());
        let mut other = packet(&[(b"status", b"ok")], b"");
        other[0] = 0;
        assert!(parse_response(&other).unwrap_err().contains("uwsgi socket"));
    }
}

//! [`Entry`]: a response as it is stored — status, headers, body, validators and freshness.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use cachette_core::CacheError;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::response;
use serde::{Deserialize, Serialize};

use crate::conditional::strong_etag;

/// A stored response: its [`Head`], its headers and its body.
///
/// Stored as [`ENTRY_FORMAT`] then the triple `(head, headers, body)` in cachette-core's codec, so
/// that an entry of another format (an older version of the layer's) reads as undecodable — a
/// miss, then overwritten — never as garbage. The headers are one block of length-framed pairs (see [`HeaderBlock`]). A hit decodes the headers
/// and the body as slices of the bytes the backend returned, so serving it copies neither: on a
/// hit path measured in hundreds of nanoseconds, per-header allocations and byte-by-byte parsing
/// were the largest costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub head: Head,
    /// The handler's headers (without hop-by-hop ones and those the layer sets per response) and
    /// the validators, as a [`HeaderBlock`].
    pub headers: Bytes,
    pub body: Bytes,
}

/// The first byte of a stored entry, before the codec's: changed with the layout of [`Head`] (the
/// first layout had none, and starts with the codec's format byte). Neither a codec format byte,
/// the tags envelope's (`0xE1`), a Vary marker's nor a character JSON starts with.
const ENTRY_FORMAT: u8 = 0x48;

/// What the layer needs to know of a stored response, besides its headers and body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Head {
    pub status: u16,
    /// Unix seconds: the handler's Last-Modified if it set one, else when it was rendered.
    pub last_modified: u64,
    /// Unix milliseconds (by the layer's clock) until which the entry is fresh; `None`: forever.
    pub fresh_until_ms: Option<u64>,
    /// Unix milliseconds until which it may be served stale while a refresh runs.
    pub stale_until_ms: Option<u64>,
    /// The request headers named by the response's `Vary`, with the values of the request that
    /// rendered it: the entry serves only requests with the same values.
    pub vary: VaryValues,
    /// Unix milliseconds (by the layer's clock) when it was rendered: its `Age` runs from here.
    pub rendered_at_ms: u64,
    /// How long its render took, in milliseconds (the handler, and its body to the end): what
    /// early refresh weighs the draw by.
    pub render_ms: u32,
}

/// The request headers named by a response's `Vary`, lowercased, each with the request's value
/// (`None`: the request did not send it).
pub(crate) type VaryValues = Vec<(String, Option<serde_bytes::ByteBuf>)>;

/// How long an entry may be served: its freshness lifetime (RFC 9111 4.2) from when it was
/// rendered, then the stale-while-revalidate margin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lifetime {
    /// When the response was rendered, by the layer's clock.
    pub rendered_at: SystemTime,
    /// How long it stays fresh (`None`: forever).
    pub fresh: Option<Duration>,
    /// How long after that it may be served stale while it is refreshed.
    pub stale: Duration,
    /// How long the render took.
    pub took: Duration,
}

/// How an entry stands at a given time: within its fresh period, within the stale-while-revalidate
/// margin after it, or past both (then it is a miss). Not to be confused with
/// [`Freshness`](crate::Freshness), the layer's setting that decides how long the fresh period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Staleness {
    Fresh,
    Stale,
    Expired,
}

/// Headers that describe one connection, not the response (RFC 9110 7.6.1), and those the layer
/// computes per response.
fn is_not_stored(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "content-length"
            | "date"
            | "age"
            | "cache-status"
            | "x-cache"
    )
}

pub(crate) fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Entry {
    /// The entry for a rendered response, served for `lifetime`; `vary` holds the request's
    /// values of the headers named by the response's `Vary` (see [`vary_values`]).
    ///
    /// The validators are added to the stored headers here, once, so that serving a hit does not
    /// format dates.
    pub(crate) fn new(head: &response::Parts, body: Bytes, lifetime: Lifetime, vary: VaryValues) -> Entry {
        let Lifetime { rendered_at: now, fresh, stale, took } = lifetime;
        let mut headers = HeaderBlock::default();
        for (name, value) in head.headers.iter().filter(|(name, _)| !is_not_stored(name)) {
            headers.push(name.as_str(), value.as_bytes());
        }
        let last_modified = head
            .headers
            .get(header::LAST_MODIFIED)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .unwrap_or(now);
        if !head.headers.contains_key(header::ETAG) {
            headers.push(header::ETAG.as_str(), strong_etag(&body).as_bytes());
        }
        if !head.headers.contains_key(header::LAST_MODIFIED) {
            headers.push(header::LAST_MODIFIED.as_str(), httpdate::fmt_http_date(last_modified).as_bytes());
        }
        let now_ms = unix_ms(now);
        let fresh_until_ms = fresh.map(|d| now_ms.saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)));
        let stale_until_ms =
            fresh_until_ms.map(|f| f.saturating_add(u64::try_from(stale.as_millis()).unwrap_or(u64::MAX)));
        Entry {
            head: Head {
                status: head.status.as_u16(),
                last_modified: last_modified.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
                fresh_until_ms,
                stale_until_ms,
                vary,
                rendered_at_ms: now_ms,
                render_ms: u32::try_from(took.as_millis()).unwrap_or(u32::MAX),
            },
            headers: Bytes::from(headers.into_bytes()),
            body,
        }
    }

    /// The stored form.
    pub(crate) fn encode(&self, key: &str) -> cachette_core::Result<Bytes> {
        let (headers, body) = (serde_bytes::Bytes::new(&self.headers), serde_bytes::Bytes::new(&self.body));
        let inner = cachette_core::codec::encode(key, &(&self.head, headers, body))?;
        let mut out = BytesMut::with_capacity(1 + inner.len());
        out.put_u8(ENTRY_FORMAT);
        out.put_slice(&inner);
        Ok(out.freeze())
    }

    /// An entry from its stored form; the headers and the body are slices of `stored`.
    pub(crate) fn decode(key: &str, stored: &Bytes) -> cachette_core::Result<Entry> {
        let Some((&ENTRY_FORMAT, inner)) = stored.split_first() else {
            return Err(CacheError::codec(key, "not a response stored by this version of cachette-http".to_owned()));
        };
        let (head, headers, body): (Head, &serde_bytes::Bytes, &serde_bytes::Bytes) =
            cachette_core::codec::decode_borrowed(key, inner)?;
        Ok(Entry { head, headers: share(stored, headers), body: share(stored, body) })
    }

    /// Whether `stored` has the current layout (else it was written by an older version of the
    /// layer, and is a miss that needs no warning).
    pub(crate) fn is_current_format(stored: &[u8]) -> bool {
        stored.first() == Some(&ENTRY_FORMAT)
    }

    /// How long ago it was rendered at `now` (the `Age` of a response served from it).
    pub(crate) fn age(&self, now: SystemTime) -> Duration {
        Duration::from_millis(unix_ms(now).saturating_sub(self.head.rendered_at_ms))
    }

    /// What is left of its fresh period at `now` in whole seconds, negative once past
    /// (`Cache-Status`'s `ttl`); `None` for an entry that never expires.
    pub(crate) fn ttl_secs(&self, now: SystemTime) -> Option<i64> {
        let until = i128::from(self.head.fresh_until_ms?);
        let left_ms = until - i128::from(unix_ms(now));
        i64::try_from(left_ms.div_euclid(1000)).ok()
    }

    /// Its status (`200` for one that is not a status code: only a damaged entry has one).
    pub(crate) fn status(&self) -> http::StatusCode {
        http::StatusCode::from_u16(self.head.status).unwrap_or(http::StatusCode::OK)
    }

    /// When its fresh period ends (`None`: never).
    pub(crate) fn fresh_until(&self) -> Option<SystemTime> {
        self.head.fresh_until_ms.and_then(|ms| UNIX_EPOCH.checked_add(Duration::from_millis(ms)))
    }

    /// How long its render took.
    pub(crate) fn render_time(&self) -> Duration {
        Duration::from_millis(u64::from(self.head.render_ms))
    }

    pub(crate) fn staleness(&self, now: SystemTime) -> Staleness {
        let now = unix_ms(now);
        match (self.head.fresh_until_ms, self.head.stale_until_ms) {
            (None, _) => Staleness::Fresh,
            (Some(fresh), _) if now < fresh => Staleness::Fresh,
            (Some(_), Some(stale)) if now < stale => Staleness::Stale,
            _ => Staleness::Expired,
        }
    }

    /// Whether `now` is less than `grace` past the end of the fresh period: the stale-if-error
    /// window (RFC 5861), measured from the fresh period's end as the stale-while-revalidate
    /// margin is. The grace is the layer's setting, read now, so it is not part of the stored form.
    pub(crate) fn within_grace(&self, now: SystemTime, grace: Duration) -> bool {
        let grace = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
        self.head.fresh_until_ms.is_some_and(|fresh| unix_ms(now) < fresh.saturating_add(grace))
    }

    /// What is left of the fresh period at `now` (`None`: forever).
    pub(crate) fn remaining_fresh(&self, now: SystemTime) -> Option<Duration> {
        self.head.fresh_until_ms.map(|until| Duration::from_millis(until.saturating_sub(unix_ms(now))))
    }

    /// When the response last changed. A stored time past what HTTP dates can say (only a
    /// damaged entry has one) is taken as the year 10000: later than any `If-Modified-Since`, so
    /// never a `304` on its account, and within what `SystemTime` holds (adding an arbitrary
    /// `u64` of seconds to the epoch overflows it, a panic).
    pub(crate) fn last_modified(&self) -> SystemTime {
        /// 10000-01-01T00:00:00Z, a second after the last HTTP date.
        const AFTER_HTTP_DATES: u64 = 253_402_300_800;
        UNIX_EPOCH + Duration::from_secs(self.head.last_modified.min(AFTER_HTTP_DATES))
    }

    /// Whether the request's headers have the values this entry was rendered for.
    pub(crate) fn matches_vary(&self, request: &HeaderMap) -> bool {
        self.head.vary.iter().all(|(name, stored)| {
            let current = request.get(name.as_str()).map(HeaderValue::as_bytes);
            current == stored.as_deref().map(|v| &v[..])
        })
    }
}

/// Headers as one block of `(name length: u32 LE, name, value length: u32 LE, value)` frames:
/// read back with a jump per header rather than a scan per byte. A truncated block ends early.
#[derive(Default)]
pub(crate) struct HeaderBlock(Vec<u8>);

impl HeaderBlock {
    pub(crate) fn push(&mut self, name: &str, value: &[u8]) {
        for part in [name.as_bytes(), value] {
            // Header names and values are far below 4 GiB (hyper refuses heads over 1 MiB).
            self.0.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_le_bytes());
            self.0.extend_from_slice(part);
        }
    }

    /// The block's bytes.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The `(name, value)` pairs of a block.
    pub(crate) fn pairs(mut block: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
        fn take<'a>(block: &mut &'a [u8]) -> Option<&'a [u8]> {
            let (len, rest) = block.split_first_chunk::<4>()?;
            let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
            if len > rest.len() {
                return None;
            }
            let (part, rest) = rest.split_at(len);
            *block = rest;
            Some(part)
        }
        std::iter::from_fn(move || Some((take(&mut block)?, take(&mut block)?)))
    }
}

/// `part` (decoded from `stored`) as a slice of `stored`. A borrowed decode always returns a slice
/// of its input; copy in the impossible other case rather than let `slice_ref` panic.
fn share(stored: &Bytes, part: &[u8]) -> Bytes {
    if part.is_empty() {
        Bytes::new()
    } else if stored.as_ptr_range().contains(&part.as_ptr()) {
        stored.slice_ref(part)
    } else {
        Bytes::copy_from_slice(part)
    }
}

/// The request's values of the headers a response varies on; `None` if it varies on `*` (it
/// cannot be stored).
pub(crate) fn vary_values(response: &HeaderMap, request: &HeaderMap) -> Option<VaryValues> {
    let mut out = Vec::new();
    for value in response.get_all(header::VARY) {
        for name in value.to_str().ok()?.split(',') {
            let name = name.trim().to_ascii_lowercase();
            if name == "*" {
                return None;
            }
            if name.is_empty() || out.iter().any(|(n, _)| *n == name) {
                continue;
            }
            let value = request.get(name.as_str()).map(|v| serde_bytes::ByteBuf::from(v.as_bytes()));
            out.push((name, value));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The headers of `entry` as a response from it starts from them (without its
    /// `Content-Length`).
    fn stored_headers(entry: &Entry) -> HeaderMap {
        crate::prepared::Prepared::new(entry.clone()).response_head().headers
    }

    fn head(headers: &[(&str, &str)]) -> response::Parts {
        let mut builder = http::Response::builder().status(200);
        for (n, v) in headers {
            builder = builder.header(*n, *v);
        }
        builder.body(()).unwrap().into_parts().0
    }

    /// Rendered at `now`, fresh for `fresh` seconds (`None`: forever), then stale for `stale`.
    fn lifetime(now: SystemTime, fresh: Option<u64>, stale: u64) -> Lifetime {
        let (fresh, stale) = (fresh.map(Duration::from_secs), Duration::from_secs(stale));
        Lifetime { rendered_at: now, fresh, stale, took: Duration::from_millis(40) }
    }

    #[test]
    fn roundtrips_through_the_codec_and_drops_hop_by_hop_headers() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let head = head(&[("content-type", "text/plain"), ("connection", "close"), ("content-length", "5")]);
        let entry = Entry::new(&head, Bytes::from_static(b"hello"), lifetime(now, Some(10), 0), vec![]);
        let bytes = entry.encode("k").unwrap();
        let back = Entry::decode("k", &bytes).unwrap();
        assert_eq!(back, entry);
        assert_eq!(stored_headers(&back)["etag"], strong_etag(b"hello"));
        assert!(bytes.as_ptr_range().contains(&back.body.as_ptr()), "the body is not copied");
        assert!(bytes.as_ptr_range().contains(&back.headers.as_ptr()), "nor the headers");
        let map = stored_headers(&back);
        assert_eq!(map.len(), 3, "{map:?}");
        assert_eq!(map["content-type"], "text/plain");
        assert_eq!(map["etag"], strong_etag(b"hello"));
        assert_eq!(map["last-modified"], "Fri, 15 Jan 2027 08:00:00 GMT");
        assert_eq!(back.last_modified(), now);
    }

    #[test]
    fn an_entry_records_when_and_how_long_it_rendered_and_older_layouts_are_refused() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let entry = Entry::new(&head(&[]), Bytes::from_static(b"x"), lifetime(now, Some(10), 0), vec![]);
        let back = Entry::decode("k", &entry.encode("k").unwrap()).unwrap();
        assert_eq!(back.head.rendered_at_ms, 1_800_000_000_000);
        assert_eq!(back.render_time(), Duration::from_millis(40));
        assert_eq!(back.fresh_until(), Some(now + Duration::from_secs(10)));
        // The first layout: the codec's bytes with no entry format byte before them.
        let first_layout = cachette_core::codec::encode("k", &(200u16, 0u64, None::<u64>, None::<u64>, ())).unwrap();
        assert!(!Entry::is_current_format(&first_layout));
        assert!(matches!(Entry::decode("k", &first_layout), Err(CacheError::Codec { .. })));
    }

    #[test]
    fn a_damaged_header_block_gives_the_headers_before_the_damage() {
        let mut block = HeaderBlock::default();
        block.push("content-type", b"text/plain");
        block.push("x-bad", b"line\r\nbreak");
        block.push("x-after", b"ok");
        let whole = block.0.clone();
        let mut entry = Entry::new(&head(&[]), Bytes::new(), lifetime(SystemTime::now(), None, 0), vec![]);
        entry.headers = Bytes::from(whole.clone());
        let map = stored_headers(&entry);
        assert_eq!(map.len(), 2, "an invalid value is dropped, not sent: {map:?}");
        assert_eq!((map["content-type"].as_bytes(), map["x-after"].as_bytes()), (&b"text/plain"[..], &b"ok"[..]));
        entry.headers = Bytes::from(whole[..whole.len() - 1].to_vec());
        assert_eq!(stored_headers(&entry).len(), 1, "a truncated frame ends the block");
        entry.headers = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, b'x']);
        assert!(stored_headers(&entry).is_empty());
    }

    #[test]
    fn an_entry_is_fresh_then_stale_then_expired() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let entry = Entry::new(&head(&[]), Bytes::new(), lifetime(now, Some(10), 5), vec![]);
        assert_eq!(entry.staleness(now + Duration::from_secs(9)), Staleness::Fresh);
        assert_eq!(entry.staleness(now + Duration::from_secs(10)), Staleness::Stale);
        assert_eq!(entry.staleness(now + Duration::from_secs(15)), Staleness::Expired);
        assert_eq!(entry.remaining_fresh(now + Duration::from_secs(4)), Some(Duration::from_secs(6)));
        let forever = Entry::new(&head(&[]), Bytes::new(), lifetime(now, None, 0), vec![]);
        assert_eq!(forever.staleness(now + Duration::from_secs(1 << 40)), Staleness::Fresh);
    }

    #[test]
    fn a_damaged_last_modified_is_never_a_panic_nor_a_304() {
        let mut entry = Entry::new(&head(&[]), Bytes::new(), lifetime(SystemTime::now(), None, 0), vec![]);
        entry.head.last_modified = u64::MAX;
        let mut request = HeaderMap::new();
        request.insert(header::IF_MODIFIED_SINCE, HeaderValue::from_static("Fri, 31 Dec 9999 23:59:59 GMT"));
        let sound = Entry::new(&head(&[]), Bytes::new(), lifetime(SystemTime::now(), None, 0), vec![]);
        assert!(crate::conditional::not_modified(&request, "", sound.last_modified()), "the last HTTP date is read");
        assert!(!crate::conditional::not_modified(&request, "", entry.last_modified()));
    }

    #[test]
    fn the_stale_if_error_grace_runs_from_the_end_of_the_fresh_period() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let entry = Entry::new(&head(&[]), Bytes::new(), lifetime(now, Some(10), 5), vec![]);
        let grace = Duration::from_secs(60);
        assert!(entry.within_grace(now + Duration::from_secs(69), grace));
        assert!(!entry.within_grace(now + Duration::from_secs(70), grace));
        assert!(!entry.within_grace(now + Duration::from_secs(10), Duration::ZERO), "no grace, no fallback");
        let forever = Entry::new(&head(&[]), Bytes::new(), lifetime(now, None, 0), vec![]);
        assert!(!forever.within_grace(now, grace), "an entry that never expires needs none");
    }

    #[test]
    fn handler_validators_win_and_vary_is_matched() {
        let now = SystemTime::now();
        let head = head(&[
            ("etag", "\"v1\""),
            ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ("vary", "Accept-Language, accept-language"),
        ]);
        let mut request = HeaderMap::new();
        request.insert("accept-language", "fr".parse().unwrap());
        let vary = vary_values(&head.headers, &request).unwrap();
        assert_eq!(vary.len(), 1);
        let entry = Entry::new(&head, Bytes::new(), lifetime(now, None, 0), vary);
        assert_eq!(stored_headers(&entry)["etag"], "\"v1\"");
        assert_eq!(entry.head.last_modified, 784_111_777);
        assert!(entry.matches_vary(&request));
        request.insert("accept-language", "de".parse().unwrap());
        assert!(!entry.matches_vary(&request));
        request.remove("accept-language");
        assert!(!entry.matches_vary(&request));
        let mut star = HeaderMap::new();
        star.insert(header::VARY, HeaderValue::from_static("*"));
        assert!(vary_values(&star, &request).is_none());
    }
}

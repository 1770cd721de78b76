//! Several `Vary` variants of one URL: each stored under a key of its own, found through a small
//! [`Marker`] at the URL's key.
//!
//! A response with `Vary: Accept-Language` rendered for `fr` is stored under the URL's key plus
//! a digest of the request's `Accept-Language` (its *variant key*), and the URL's key holds a
//! marker naming the headers the URL varies on. A lookup that finds the marker makes the
//! request's variant key from them and reads it: two round trips for a URL that varies, one for
//! the others. Requests alternating `fr` and `de` then hit after the first of each.
//!
//! The marker also lists the variants stored (a 64-bit digest of each), at most
//! [`MAX_VARIANTS`]: past that, a new variant is rendered for each request and not stored, so
//! that a header with unbounded values (`User-Agent`) cannot fill the cache with one URL's
//! variants. Two processes adding a variant at once may each write the marker, and the last write
//! wins: the lost variant is added again the next time it is stored, so the bound may be passed
//! by the variants stored concurrently, never by more.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use cachette_core::{CacheError, Result, Ttl};
use http::HeaderMap;
use serde::{Deserialize, Serialize};

/// The most variants stored for one URL.
pub const MAX_VARIANTS: usize = 16;

/// The first byte of a marker: neither cachette-core's codec format byte (an entry starts with
/// that) nor its envelope's.
const MARKER: u8 = 0x56;

/// What a URL's key holds when its responses vary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Marker {
    /// The request headers the URL's responses vary on, lower-case, in the response's order.
    pub names: Vec<String>,
    /// A digest of each variant stored (see [`fingerprint`]).
    pub variants: Vec<u64>,
    /// When the marker's last variant expires from the backend, Unix milliseconds by the real
    /// clock (`None`: never): the marker is kept as long.
    pub expires_ms: Option<u64>,
}

/// What a marker says to do with a newly rendered variant.
pub(crate) enum Admit {
    /// Store it; write the marker too if `Some`, with this time to live.
    Store(Option<(Marker, Ttl)>),
    /// Do not store it: the URL has [`MAX_VARIANTS`] already.
    Full,
}

impl Marker {
    /// Whether `stored` is a marker (else an entry).
    pub(crate) fn is_marker(stored: &[u8]) -> bool {
        stored.first() == Some(&MARKER)
    }

    /// The stored form: the marker byte, then the codec's.
    pub(crate) fn encode(&self, key: &str) -> Result<Bytes> {
        let inner = cachette_core::codec::encode(key, self)?;
        let mut out = BytesMut::with_capacity(1 + inner.len());
        out.put_u8(MARKER);
        out.put_slice(&inner);
        Ok(out.freeze())
    }

    /// A marker from its stored form.
    pub(crate) fn decode(key: &str, stored: &[u8]) -> Result<Marker> {
        match stored.split_first() {
            Some((&MARKER, inner)) => cachette_core::codec::decode(key, inner),
            _ => Err(CacheError::codec(key, "not a Vary marker".to_owned())),
        }
    }

    /// What to do with a variant of digest `variant`, varying on `names`, kept by the backend for
    /// `ttl`, given this marker as the lookup found it (`None`: there was none).
    pub(crate) fn admit(found: Option<&Marker>, names: &[String], variant: u64, ttl: Ttl) -> Admit {
        let expires_ms = expiry_ms(ttl);
        let mut marker = match found {
            Some(marker) if marker.names == names => marker.clone(),
            // None yet, or the URL now varies on other headers: start again.
            _ => Marker { names: names.to_vec(), variants: Vec::new(), expires_ms: Some(0) },
        };
        let known = marker.variants.contains(&variant);
        if !known && marker.variants.len() >= MAX_VARIANTS {
            return Admit::Full;
        }
        let outlives = match (marker.expires_ms, expires_ms) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(kept), Some(needed)) => kept >= needed,
        };
        if known && outlives {
            return Admit::Store(None);
        }
        if !known {
            marker.variants.push(variant);
        }
        if !outlives {
            marker.expires_ms = expires_ms;
        }
        let ttl = marker.expires_ms.map_or(Ttl::Never, |ms| Ttl::At(UNIX_EPOCH + Duration::from_millis(ms)));
        Admit::Store(Some((marker, ttl)))
    }
}

/// When a value stored now for `ttl` expires, Unix milliseconds by the real clock.
fn expiry_ms(ttl: Ttl) -> Option<u64> {
    let at = match ttl {
        Ttl::After(d) => SystemTime::now() + d,
        Ttl::At(at) => at,
        _ => return None,
    };
    Some(crate::entry::unix_ms(at))
}

/// The digest of a request's values of the `names` headers: what tells its variant apart.
pub(crate) fn fingerprint(names: &[String], request: &HeaderMap) -> [u8; 16] {
    let mut hasher = blake3::Hasher::new();
    for name in names {
        hasher.update(&(name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        for value in request.get_all(name.as_str()) {
            hasher.update(&[1]);
            hasher.update(&(value.len() as u64).to_le_bytes());
            hasher.update(value.as_bytes());
        }
        hasher.update(&[0]);
    }
    let mut digest = [0; 16];
    digest.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    digest
}

/// The key of a variant: the URL's key and the digest of its values, and the digest's first 64
/// bits (what the marker lists).
pub(crate) fn variant_key(base: &str, names: &[String], request: &HeaderMap) -> (String, u64) {
    use std::fmt::Write;
    let digest = fingerprint(names, request);
    let mut key = String::with_capacity(base.len() + 6 + 32);
    key.push_str(base);
    key.push_str("\nvary:");
    for byte in digest {
        let _ = write!(key, "{byte:02x}");
    }
    (key, u64::from_le_bytes(digest[..8].try_into().expect("8 bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["accept-language".to_owned()]
    }

    #[test]
    fn a_marker_round_trips_and_is_told_from_an_entry() {
        let marker = Marker { names: names(), variants: vec![1, 2], expires_ms: None };
        let bytes = marker.encode("k").unwrap();
        assert!(Marker::is_marker(&bytes));
        assert_eq!(Marker::decode("k", &bytes).unwrap(), marker);
        assert!(!Marker::is_marker(&cachette_core::codec::encode("k", &1u8).unwrap()));
    }

    #[test]
    fn variants_are_admitted_up_to_the_bound() {
        let ttl = Ttl::Never;
        let Admit::Store(Some((mut marker, _))) = Marker::admit(None, &names(), 0, ttl) else { panic!() };
        for v in 1..MAX_VARIANTS as u64 {
            let Admit::Store(Some((next, _))) = Marker::admit(Some(&marker), &names(), v, ttl) else { panic!() };
            marker = next;
        }
        assert!(matches!(Marker::admit(Some(&marker), &names(), 3, ttl), Admit::Store(None)), "a known one");
        assert!(matches!(Marker::admit(Some(&marker), &names(), 99, ttl), Admit::Full));
        let other = vec!["accept".to_owned()];
        assert!(matches!(Marker::admit(Some(&marker), &other, 99, ttl), Admit::Store(Some(_))), "new names restart");
    }

    #[test]
    fn each_set_of_values_has_its_own_variant_key() {
        let mut fr = HeaderMap::new();
        fr.insert("accept-language", "fr".parse().unwrap());
        let mut de = HeaderMap::new();
        de.insert("accept-language", "de".parse().unwrap());
        let (a, _) = variant_key("http:GET /", &names(), &fr);
        let (b, _) = variant_key("http:GET /", &names(), &de);
        let (none, _) = variant_key("http:GET /", &names(), &HeaderMap::new());
        assert!(a.starts_with("http:GET /\nvary:") && a != b && a != none && b != none);
    }
}

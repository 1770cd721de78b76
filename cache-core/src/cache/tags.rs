//! Tags: "delete everything about user 42" in one write, on every backend, without scanning.
//!
//! Each tag has a version in the cache (a random 64-bit number under `tag-version:<tag>`). A
//! value written under tags records, in its [envelope](super::envelope), the version each tag
//! had when it was written; [`Cache::invalidate_tag`] writes the tag a new version, and from then
//! on every value that recorded the old one reads as a miss (and ages out). A value whose tag's
//! version is gone (evicted) reads as a miss too, so an eviction can never bring an old value
//! back. Reads that know the tags ([`Cache::get_tagged`]) check them in the same round trip
//! (one `get_many`: one `MGET` on Redis, one multi-get on memcached; on Redis Cluster it is split
//! by slot as every `get_many` is); a plain [`Cache::get`] of a tagged value learns its tags from
//! the value and reads their versions in a second round trip.
//!
//! Versions are bookkeeping: read through the fail-safe but not counted as hits or misses. When
//! they cannot be read (the backend is down), a tagged read is a miss and a tagged write writes
//! nothing, so a value can never outlive an invalidation that the backend did not see.

use crate::observe::ShortKey;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Cache;
use super::envelope::{self, Envelope};
use crate::observe::span::{self, in_operation, operation_span};
use crate::{CacheError, Result, Ttl, codec};

/// What a tag's version key starts with.
const VERSION_PREFIX: &str = "tag-version:";

/// The key of a tag's version.
pub(crate) fn version_key(tag: &str) -> String {
    let mut key = String::with_capacity(VERSION_PREFIX.len() + tag.len());
    key.push_str(VERSION_PREFIX);
    key.push_str(tag);
    key
}

impl Cache {
    /// Stores `value` under `key` with `tags`: [`invalidate_tag`](Cache::invalidate_tag) of any
    /// of them makes it a miss. One round trip to read the tags' versions (two the first time a
    /// tag is used: its version is created), one to write.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use cachette_core::{Cache, Config, Ttl};
    /// # async fn demo(cache: Cache) -> cachette_core::Result<()> {
    /// cache.set_tagged("profile:42", "Ada", Ttl::Default, &["user:42"]).await?;
    /// cache.set_tagged("team:7:members", &vec!["Ada", "Grace"], Ttl::Default, &["user:42", "team:7"]).await?;
    /// cache.invalidate_tag("user:42").await?; // one write
    /// assert_eq!(cache.get::<String>("profile:42").await?, None);
    /// assert_eq!(cache.get::<Vec<String>>("team:7:members").await?, None);
    /// # Ok(()) }
    /// ```
    pub async fn set_tagged<T: Serialize + ?Sized>(&self, key: &str, value: &T, ttl: Ttl, tags: &[&str]) -> Result<()> {
        in_operation(operation_span!("set_tagged", self, key, tags = tags.len()), span::done, async {
            let inner = self.inner.config.codec.encode(key, value)?;
            self.store_bytes_tagged(key, &inner, ttl, tags).await
        })
        .await
    }

    /// [`set_tagged`](Cache::set_tagged) for bytes of a layer's own format (the HTTP layer's
    /// entries): read back with [`get_bytes_tagged`](Cache::get_bytes_tagged).
    pub async fn set_bytes_tagged(&self, key: &str, value: &[u8], ttl: Ttl, tags: &[&str]) -> Result<()> {
        let operation = operation_span!("set_bytes_tagged", self, key, tags = tags.len());
        in_operation(operation, span::done, self.store_bytes_tagged(key, value, ttl, tags)).await
    }

    /// [`set_bytes_tagged`](Cache::set_bytes_tagged) inside another operation's span.
    async fn store_bytes_tagged(&self, key: &str, value: &[u8], ttl: Ttl, tags: &[&str]) -> Result<()> {
        let Some(versions) = self.tag_versions(tags, true).await? else {
            // The tags' versions cannot be read: a value stored now could outlive an
            // invalidation the backend did not see. Store nothing (a miss is always safe).
            return Ok(());
        };
        let recorded: Vec<(&str, u64)> =
            tags.iter().copied().zip(versions.into_iter().map(|v| v.unwrap_or(0))).collect();
        let bytes = envelope::encode(key, None, 0, &recorded, value)?;
        self.store_bytes(key, bytes, ttl).await
    }

    /// The value under `key` if it was written under `tags` and none of them has been
    /// invalidated since: one round trip for the value and the tags' versions together.
    pub async fn get_tagged<T: DeserializeOwned>(&self, key: &str, tags: &[&str]) -> Result<Option<T>> {
        in_operation(operation_span!("get_tagged", self, key, tags = tags.len()), span::read, async {
            let bytes = self.read_tagged(key, tags).await?;
            bytes.map(|b| codec::decode(key, &b)).transpose()
        })
        .await
    }

    /// The bytes written by [`set_bytes_tagged`](Cache::set_bytes_tagged) under `key`, if none of
    /// their tags has been invalidated since. `tags` are the tags the caller expects (read with
    /// the value, in one round trip); tags the value carries beyond them cost a second read.
    /// Counted as a hit or a miss.
    pub async fn get_bytes_tagged(&self, key: &str, tags: &[&str]) -> Result<Option<Bytes>> {
        let operation = operation_span!("get_bytes_tagged", self, key, tags = tags.len());
        in_operation(operation, span::read, self.read_tagged(key, tags)).await
    }

    /// [`get_bytes_tagged`](Cache::get_bytes_tagged) inside another operation's span.
    async fn read_tagged(&self, key: &str, tags: &[&str]) -> Result<Option<Bytes>> {
        let found = self.get_bytes_tagged_quietly(key, tags).await;
        let found = self.absorb("get", key, found, || None)?;
        self.count_read(found.is_some());
        Ok(found)
    }

    /// [`get_bytes_tagged`](Cache::get_bytes_tagged) without counting a hit or miss, and with a
    /// backend failure returned as it is.
    pub(crate) async fn get_bytes_tagged_quietly(&self, key: &str, tags: &[&str]) -> Result<Option<Bytes>> {
        Ok(self.get_current_seen(key, tags).await?.0.map(|current| current.value()))
    }

    /// The stored bytes under `key` as they are (an envelope whole) if every tag they record is
    /// current, read with the versions of `tags` in one round trip; not counted, a backend
    /// failure returned as it is.
    pub(crate) async fn get_current_quietly(&self, key: &str, tags: &[&str]) -> Result<Option<Bytes>> {
        Ok(self.get_current_seen(key, tags).await?.0.map(|current| current.stored))
    }

    /// [`get_current_quietly`](Cache::get_current_quietly), and the versions of `tags` it read
    /// (`None`: a tag without one).
    ///
    /// Every hit of the HTTP layer comes here (its entries carry their view's tags), so the keys
    /// are written into one buffer and the envelope is decoded once: the keys' five allocations
    /// and a second decode were 1,300 of the 29,400 instructions of a hit.
    async fn get_current_seen(&self, key: &str, tags: &[&str]) -> Result<(Option<Current>, Vec<Option<u64>>)> {
        if tags.is_empty() {
            let found = self.read(key).await?;
            return Ok(match found {
                Some(bytes) => (self.keep_if_current(key, bytes, Known::NONE).await, Vec::new()),
                None => (None, Vec::new()),
            });
        }
        let version_keys = VersionKeys::new(tags);
        let (mut inline, spilled): ([&str; INLINE_KEYS], Vec<&str>);
        let keys: &[&str] = if tags.len() < INLINE_KEYS {
            inline = [key; INLINE_KEYS];
            inline[1..].iter_mut().zip(version_keys.iter(tags)).for_each(|(slot, k)| *slot = k);
            &inline[..=tags.len()]
        } else {
            spilled = std::iter::once(key).chain(version_keys.iter(tags)).collect();
            &spilled
        };
        let mut found = self.read_many(keys).await?.into_iter();
        let bytes = found.next().flatten();
        // Not `collect`: it would reuse the found values' allocation for the smaller versions and
        // shrink it, a `realloc` on every read.
        let mut versions = Vec::with_capacity(tags.len());
        versions.extend(found.map(|v| v.and_then(|b| decode_version(&b))));
        let Some(bytes) = bytes else { return Ok((None, versions)) };
        let current = self.keep_if_current(key, bytes, Known { tags, versions: &versions }).await;
        Ok((current, versions))
    }

    /// [`get_bytes_tagged`](Cache::get_bytes_tagged), and the versions of `tags` it read with the
    /// value, in their order (`0`: the tag had none), for a later
    /// [`set_bytes_tagged_seen`](Cache::set_bytes_tagged_seen) of what is computed after a miss:
    /// recording the versions seen *before* the computation, not those current when it ends, makes
    /// an invalidation during the computation win (the write becomes a miss). `None` for the
    /// versions when the backend could not say. Counted as a hit or a miss. Added for the HTTP
    /// layer's lookups.
    ///
    /// A backend failure is returned whatever `CACHE_IGNORE_ERRORS` says (and counted in
    /// [`Cache::stats`]): the caller is a layer that falls back by itself and reports the failure
    /// in its own counters, which a failure absorbed here would hide.
    pub async fn get_bytes_tagged_seen(&self, key: &str, tags: &[&str]) -> Result<(Option<Bytes>, Option<Vec<u64>>)> {
        let found = self.get_current_seen(key, tags).await.map(|(found, versions)| {
            (found.map(|current| current.value()), Some(versions.iter().map(|v| v.unwrap_or(0)).collect()))
        });
        self.note_failure(&found);
        let (found, versions) = found?;
        self.count_read(found.is_some());
        Ok((found, versions))
    }

    /// Stores `value` under `key` with `tags`, each with the version a read saw before `value`
    /// was computed ([`get_bytes_tagged_seen`](Cache::get_bytes_tagged_seen)), or `None` for a
    /// tag not read then (its current version is read now, as [`set_bytes_tagged`](Cache::set_bytes_tagged)
    /// does). A tag seen without a version (`Some(0)`) gets one now, or the one another value's
    /// first write made meanwhile; if an invalidation made it, nothing is stored. Returns whether
    /// it stored: not then, nor when the versions cannot be read or made (the backend failed), as
    /// for `set_bytes_tagged`.
    ///
    /// As for [`get_bytes_tagged_seen`](Cache::get_bytes_tagged_seen), a backend failure is
    /// returned whatever `CACHE_IGNORE_ERRORS` says (counted in [`Cache::stats`]); `Ok(false)`
    /// is then only "a tag was invalidated since the read".
    pub async fn set_bytes_tagged_seen(
        &self,
        key: &str,
        value: &[u8],
        ttl: Ttl,
        tags: &[(&str, Option<u64>)],
    ) -> Result<bool> {
        let unread: Vec<&str> = tags.iter().filter(|(_, seen)| seen.is_none()).map(|(tag, _)| *tag).collect();
        let mut current = self.tag_versions_or_failure(&unread, true).await?.into_iter();
        let mut recorded: Vec<(&str, u64)> = Vec::with_capacity(tags.len());
        for &(tag, seen) in tags {
            let version = match seen {
                None => current.next().flatten().unwrap_or(0),
                Some(0) => {
                    let drawn = drawn_by_a_write();
                    let key = version_key(tag);
                    match self.internal_add(&key, &drawn, Ttl::Never).await {
                        Ok(true) => drawn,
                        // Another writer made it first: another value's first write (take its
                        // version), or an invalidation since the read (store nothing).
                        Ok(false) => match self.internal_get::<u64>(&key).await {
                            Ok(Some(version)) if !by_an_invalidation(version) => version,
                            Ok(Some(_)) => return Ok(false),
                            Ok(None) => return Ok(false),
                            Err(CacheError::Codec { .. }) => return Ok(false),
                            Err(e) => return Err(e),
                        },
                        Err(e) => return Err(e),
                    }
                }
                Some(version) => version,
            };
            recorded.push((tag, version));
        }
        let bytes = envelope::encode(key, None, 0, &recorded, value)?;
        let written = self.guarded("set", self.inner.backend.set(key, bytes, ttl)).await;
        self.note_failure(&written);
        written.map(|()| true)
    }

    /// Whether tag versions read `before` and `after` (by [`get_bytes_tagged_seen`], for the same
    /// tags in the same order) show an invalidation in between: a version changed, other than
    /// made by a first write of a tag that had none.
    ///
    /// [`get_bytes_tagged_seen`]: Cache::get_bytes_tagged_seen
    pub fn invalidated_between(before: &[u64], after: &[u64]) -> bool {
        before.len() != after.len()
            || before.iter().zip(after).any(|(&b, &a)| b != a && (b != 0 || by_an_invalidation(a)))
    }

    /// [`invalidate_tag`](Cache::invalidate_tag) of every tag in `tags`, in one write (one
    /// `set_many`: one `MSET` on Redis).
    pub async fn invalidate_tags(&self, tags: &[&str]) -> Result<()> {
        let first = tags.first().copied().unwrap_or("");
        in_operation(operation_span!("invalidate_tags", self, first, tags = tags.len()), span::done, async {
            let keys: Vec<String> = tags.iter().map(|t| version_key(t)).collect();
            let items: Vec<(&str, u64)> = keys.iter().map(|k| (k.as_str(), drawn_by_an_invalidation())).collect();
            match items.as_slice() {
                [] => Ok(()),
                [(key, version)] => {
                    self.store_bytes(key, self.inner.config.codec.encode(key, version)?, Ttl::Never).await
                }
                _ => self.set_many_unobserved(&items, Ttl::Never).await,
            }
        })
        .await
    }

    /// Makes every value written under `tag` a miss from now on: one write, whatever the number
    /// of values.
    pub async fn invalidate_tag(&self, tag: &str) -> Result<()> {
        in_operation(operation_span!("invalidate_tag", self, tag), span::done, async {
            let (key, fresh) = (version_key(tag), drawn_by_an_invalidation());
            self.store_bytes(&key, self.inner.config.codec.encode(&key, &fresh)?, Ttl::Never).await
        })
        .await
    }

    /// The current versions of `tags` (`None` for one that has none yet, unless `create` draws
    /// it); `Ok(None)` if the backend cannot tell (it failed).
    pub(crate) async fn tag_versions(&self, tags: &[&str], create: bool) -> Result<Option<Vec<Option<u64>>>> {
        match self.tag_versions_or_failure(tags, create).await {
            Ok(versions) => Ok(Some(versions)),
            Err(e) if e.is_backend_failure() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// [`tag_versions`](Cache::tag_versions), with a backend failure returned (counted and logged
    /// here once).
    async fn tag_versions_or_failure(&self, tags: &[&str], create: bool) -> Result<Vec<Option<u64>>> {
        if tags.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = tags.iter().map(|t| version_key(t)).collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let raw = match self.read_many(&refs).await {
            Ok(raw) => raw,
            Err(e) => {
                if e.is_backend_failure() {
                    self.note_backend_failure(
                        "get_many",
                        refs[0],
                        &e,
                        "cannot read tag versions; the value is not stored",
                    );
                }
                return Err(e);
            }
        };
        let mut versions: Vec<Option<u64>> = raw.into_iter().map(|v| v.and_then(|b| decode_version(&b))).collect();
        if create {
            for (key, version) in keys.iter().zip(versions.iter_mut()).filter(|(_, v)| v.is_none()) {
                let drawn = drawn_by_a_write();
                *version = match self.internal_add(key, &drawn, Ttl::Never).await {
                    Ok(true) => Some(drawn),
                    // Another writer drew first: use theirs.
                    Ok(false) => self.internal_get::<u64>(key).await.ok().flatten(),
                    Err(e) => return Err(e),
                };
            }
        }
        Ok(versions)
    }

    /// The value inside a stored envelope if all its tags are current; a plain value as it is.
    /// Its tags' versions are read now (one round trip).
    pub(crate) async fn unwrap_tagged(&self, key: &str, bytes: Bytes) -> Option<Bytes> {
        Some(self.keep_if_current(key, bytes, Known::NONE).await?.value())
    }

    /// `bytes` if they are a plain value or an envelope whose tags are all current; `None` for
    /// an invalidated or damaged envelope (a damaged one counted as an error and logged).
    async fn keep_if_current(&self, key: &str, bytes: Bytes, known: Known<'_>) -> Option<Current> {
        if !envelope::is_envelope(&bytes) {
            return Some(Current { stored: bytes, value_at: 0 });
        }
        let envelope = match envelope::decode(key, &bytes) {
            Ok(envelope) => envelope,
            Err(e) => {
                self.inner.counters.errors.fetch_add(1, Relaxed);
                tracing::warn!(key = %ShortKey(key), error = %e, "a cached value does not decode; treated as a miss");
                return None;
            }
        };
        if !self.tags_current(&envelope, known).await {
            return None;
        }
        let value_at = bytes.len() - envelope.value.len();
        Some(Current { stored: bytes, value_at })
    }

    /// Whether every tag an envelope records still has the version it recorded: those `known`
    /// by the read that found it compared at once, the others read now (one round trip).
    async fn tags_current(&self, envelope: &Envelope<'_>, known: Known<'_>) -> bool {
        let mut unknown: Vec<&str> = Vec::new();
        for &(tag, recorded) in &envelope.tags {
            match known.version(tag) {
                Some(current) if current != Some(recorded) => return false,
                Some(_) => {}
                None => unknown.push(tag),
            }
        }
        if unknown.is_empty() {
            return true;
        }
        // Boxed: the common read knows every tag, and its future (on every hit's path) stays
        // small without this rare second round trip in it.
        let read = match Box::pin(self.tag_versions(&unknown, false)).await {
            Ok(Some(versions)) => versions,
            _ => return false,
        };
        let recorded = envelope.tags.iter().filter(|(tag, _)| known.version(tag).is_none());
        recorded.zip(read).all(|(&(_, recorded), current)| current == Some(recorded))
    }
}

/// What a tagged read found: the stored bytes (an envelope whole, or a plain value) and where the
/// value starts in them.
struct Current {
    stored: Bytes,
    value_at: usize,
}

impl Current {
    /// The value, without its envelope.
    fn value(&self) -> Bytes {
        self.stored.slice(self.value_at..)
    }
}

/// The versions a read found for the tags it asked for, in their order (`None`: the tag has none).
#[derive(Clone, Copy)]
struct Known<'a> {
    tags: &'a [&'a str],
    versions: &'a [Option<u64>],
}

impl Known<'_> {
    const NONE: Known<'static> = Known { tags: &[], versions: &[] };

    /// The version the read found for `tag` (`Some(None)`: none), or `None` if it did not read it.
    fn version(&self, tag: &str) -> Option<Option<u64>> {
        let i = self.tags.iter().position(|t| *t == tag)?;
        Some(self.versions.get(i).copied().flatten())
    }
}

/// How many keys a tagged read passes to `get_many` from the stack (a value's and its tags'
/// versions): more spill into a `Vec`.
const INLINE_KEYS: usize = 8;

/// The version keys of some tags (see [`version_key`]), written into one buffer.
struct VersionKeys(String);

impl VersionKeys {
    fn new(tags: &[&str]) -> VersionKeys {
        let mut buffer = String::with_capacity(tags.iter().map(|t| VERSION_PREFIX.len() + t.len()).sum());
        for tag in tags {
            buffer.push_str(VERSION_PREFIX);
            buffer.push_str(tag);
        }
        VersionKeys(buffer)
    }

    /// The keys, in the order of `tags` (those it was made from).
    fn iter<'a>(&'a self, tags: &'a [&str]) -> impl Iterator<Item = &'a str> {
        let mut start = 0;
        tags.iter().map(move |tag| {
            let end = start + VERSION_PREFIX.len() + tag.len();
            let key = &self.0[start..end];
            start = end;
            key
        })
    }
}

/// A tag's version as stored: an integer, which the codec writes as decimal text. Read here
/// without the codec when it is the plain digits of a `u64` (what the codec decodes the same:
/// 600 instructions a read less); anything else goes through it. `None` for what is not a
/// version (read as "none").
///
/// A version drawn at random has 19 or 20 digits: the first 19 cannot overflow a `u64` and are
/// summed unchecked, one digit at a time (a checked multiply and add per digit was 390
/// instructions a hit).
fn decode_version(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 20 {
        return codec::decode::<u64>("tag", bytes).ok();
    }
    let (head, tail) = bytes.split_at(bytes.len().min(19));
    let mut n = 0u64;
    for &byte in head {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return codec::decode::<u64>("tag", bytes).ok();
        }
        n = n * 10 + u64::from(digit);
    }
    match tail {
        [] => Some(n),
        // Over `u64::MAX` is not a `u64` for the codec either.
        [last] if last.is_ascii_digit() => n.checked_mul(10)?.checked_add(u64::from(last - b'0')),
        _ => codec::decode::<u64>("tag", bytes).ok(),
    }
}

/// A new version for a tag that has none, drawn by a write: odd (never the `0` of "none"), with
/// bit 1 clear.
fn drawn_by_a_write() -> u64 {
    (rand::random::<u64>() & !2) | 1
}

/// A new version drawn by an invalidation: odd, with bit 1 set, so that a write that saw the tag
/// without a version can tell an invalidation since from another value's first write.
fn drawn_by_an_invalidation() -> u64 {
    rand::random::<u64>() | 3
}

/// Whether `version` was drawn by an invalidation.
fn by_an_invalidation(version: u64) -> bool {
    version & 2 != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_reads_as_the_codec_reads_it() {
        let stored = |n: u64| codec::encode("tag", &n).unwrap();
        for n in [0, 1, 7, 1 << 40, u64::MAX / 10, u64::MAX - 1, u64::MAX] {
            assert_eq!(decode_version(&stored(n)), Some(n), "{n}");
        }
        let texts = [
            "0001",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "00000000000000000001",
            "1234567890123456789x",
            "123456789012345678x9",
            "+1",
            " 1",
            "1 ",
            "-1",
            "",
            "x",
        ];
        for text in texts {
            let codec = codec::decode::<u64>("tag", text.as_bytes()).ok();
            assert_eq!(decode_version(text.as_bytes()), codec, "{text:?}");
        }
    }
}

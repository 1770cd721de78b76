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

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Cache;
use super::envelope::{self, Envelope};
use crate::{CacheError, Result, Ttl, codec};

/// The key of a tag's version.
pub(crate) fn version_key(tag: &str) -> String {
    let mut key = String::with_capacity(12 + tag.len());
    key.push_str("tag-version:");
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
        let inner = self.inner.config.codec.encode(key, value)?;
        self.set_bytes_tagged(key, &inner, ttl, tags).await
    }

    /// [`set_tagged`](Cache::set_tagged) for bytes of a layer's own format (the HTTP layer's
    /// entries): read back with [`get_bytes_tagged`](Cache::get_bytes_tagged).
    pub async fn set_bytes_tagged(&self, key: &str, value: &[u8], ttl: Ttl, tags: &[&str]) -> Result<()> {
        let Some(versions) = self.tag_versions(tags, true).await? else {
            // The tags' versions cannot be read: a value stored now could outlive an
            // invalidation the backend did not see. Store nothing (a miss is always safe).
            return Ok(());
        };
        let recorded: Vec<(&str, u64)> =
            tags.iter().copied().zip(versions.into_iter().map(|v| v.unwrap_or(0))).collect();
        let bytes = envelope::encode(key, None, 0, &recorded, value)?;
        self.set_bytes(key, bytes, ttl).await
    }

    /// The value under `key` if it was written under `tags` and none of them has been
    /// invalidated since: one round trip for the value and the tags' versions together.
    pub async fn get_tagged<T: DeserializeOwned>(&self, key: &str, tags: &[&str]) -> Result<Option<T>> {
        let bytes = self.get_bytes_tagged(key, tags).await?;
        bytes.map(|b| codec::decode(key, &b)).transpose()
    }

    /// The bytes written by [`set_bytes_tagged`](Cache::set_bytes_tagged) under `key`, if none of
    /// their tags has been invalidated since. `tags` are the tags the caller expects (read with
    /// the value, in one round trip); tags the value carries beyond them cost a second read.
    /// Counted as a hit or a miss.
    pub async fn get_bytes_tagged(&self, key: &str, tags: &[&str]) -> Result<Option<Bytes>> {
        let found = self.get_bytes_tagged_quietly(key, tags).await;
        let found = self.absorb("get", key, found, || None)?;
        self.count_read(found.is_some());
        Ok(found)
    }

    /// [`get_bytes_tagged`](Cache::get_bytes_tagged) without counting a hit or miss, and with a
    /// backend failure returned as it is.
    pub(crate) async fn get_bytes_tagged_quietly(&self, key: &str, tags: &[&str]) -> Result<Option<Bytes>> {
        let found = self.get_current_quietly(key, tags).await?;
        Ok(found.map(|bytes| envelope_value(key, &bytes)))
    }

    /// The stored bytes under `key` as they are (an envelope whole) if every tag they record is
    /// current, read with the versions of `tags` in one round trip; not counted, a backend
    /// failure returned as it is.
    pub(crate) async fn get_current_quietly(&self, key: &str, tags: &[&str]) -> Result<Option<Bytes>> {
        Ok(self.get_current_seen(key, tags).await?.0)
    }

    /// [`get_current_quietly`](Cache::get_current_quietly), and the versions of `tags` it read
    /// (`None`: a tag without one).
    async fn get_current_seen(&self, key: &str, tags: &[&str]) -> Result<(Option<Bytes>, Vec<Option<u64>>)> {
        if tags.is_empty() {
            let found = self.guarded("get", self.inner.backend.get(key)).await?;
            return Ok(match found {
                Some(bytes) => (self.keep_if_current(key, bytes, &[]).await, Vec::new()),
                None => (None, Vec::new()),
            });
        }
        let mut keys = Vec::with_capacity(1 + tags.len());
        keys.push(key.to_owned());
        keys.extend(tags.iter().map(|t| version_key(t)));
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut found = self.guarded("get_many", self.inner.backend.get_many(&refs)).await?.into_iter();
        let bytes = found.next().flatten();
        let versions: Vec<Option<u64>> = found.map(|v| v.and_then(|b| codec::decode::<u64>("tag", &b).ok())).collect();
        let Some(bytes) = bytes else { return Ok((None, versions)) };
        let known: Vec<(&str, Option<u64>)> = tags.iter().copied().zip(versions.iter().copied()).collect();
        Ok((self.keep_if_current(key, bytes, &known).await, versions))
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
            (
                found.map(|bytes| envelope_value(key, &bytes)),
                Some(versions.into_iter().map(|v| v.unwrap_or(0)).collect()),
            )
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
        let keys: Vec<String> = tags.iter().map(|t| version_key(t)).collect();
        let items: Vec<(&str, u64)> = keys.iter().map(|k| (k.as_str(), drawn_by_an_invalidation())).collect();
        match items.as_slice() {
            [] => Ok(()),
            [(key, version)] => self.set(key, version, Ttl::Never).await,
            _ => self.set_many(&items, Ttl::Never).await,
        }
    }

    /// Makes every value written under `tag` a miss from now on: one write, whatever the number
    /// of values.
    pub async fn invalidate_tag(&self, tag: &str) -> Result<()> {
        let fresh = drawn_by_an_invalidation();
        self.set(&version_key(tag), &fresh, Ttl::Never).await
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
        let raw = match self.guarded("get_many", self.inner.backend.get_many(&refs)).await {
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
        let mut versions: Vec<Option<u64>> =
            raw.into_iter().map(|v| v.and_then(|b| codec::decode::<u64>("tag", &b).ok())).collect();
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
    /// `known` are versions already read with it; the others are read now (one round trip).
    pub(crate) async fn unwrap_tagged(&self, key: &str, bytes: Bytes, known: &[(&str, Option<u64>)]) -> Option<Bytes> {
        let current = self.keep_if_current(key, bytes, known).await?;
        Some(envelope_value(key, &current))
    }

    /// `bytes` if they are a plain value or an envelope whose tags are all current; `None` for
    /// an invalidated or damaged envelope (a damaged one counted as an error and logged).
    async fn keep_if_current(&self, key: &str, bytes: Bytes, known: &[(&str, Option<u64>)]) -> Option<Bytes> {
        if !envelope::is_envelope(&bytes) {
            return Some(bytes);
        }
        let envelope = match envelope::decode(key, &bytes) {
            Ok(envelope) => envelope,
            Err(e) => {
                self.inner.counters.errors.fetch_add(1, Relaxed);
                tracing::warn!(key, error = %e, "a cached value does not decode; treated as a miss");
                return None;
            }
        };
        if envelope.tags.is_empty() || self.tags_current(&envelope, known).await { Some(bytes.clone()) } else { None }
    }

    /// Whether every tag an envelope records still has the version it recorded.
    async fn tags_current(&self, envelope: &Envelope<'_>, known: &[(&str, Option<u64>)]) -> bool {
        let lookup = |tag: &str| known.iter().find(|(t, _)| *t == tag).map(|(_, v)| *v);
        let unknown: Vec<&str> = envelope.tags.iter().map(|(t, _)| *t).filter(|t| lookup(t).is_none()).collect();
        let read = if unknown.is_empty() {
            Vec::new()
        } else {
            // Boxed: the common read knows every tag, and its future (on every hit's path) stays
            // small without this rare second round trip in it.
            match Box::pin(self.tag_versions(&unknown, false)).await {
                Ok(Some(versions)) => versions,
                _ => return false,
            }
        };
        envelope.tags.iter().all(|(tag, recorded)| {
            let current = lookup(tag)
                .unwrap_or_else(|| unknown.iter().position(|t| t == tag).and_then(|i| read.get(i).copied().flatten()));
            current == Some(*recorded)
        })
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

/// The value inside `bytes` if they are an envelope (already checked by `keep_if_current`), or
/// `bytes` themselves.
fn envelope_value(key: &str, bytes: &Bytes) -> Bytes {
    if !envelope::is_envelope(bytes) {
        return bytes.clone();
    }
    match envelope::decode(key, bytes) {
        Ok(envelope) => bytes.slice_ref(envelope.value),
        // keep_if_current let only decodable envelopes through.
        Err(_) => Bytes::new(),
    }
}

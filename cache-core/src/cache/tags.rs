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
//!
//! A version read is kept in process where that is safe ([`kept`](super::kept): always on a
//! backend no other process writes, under the backend's watch on a shared one), so that a
//! tagged read whose tags are all known reads the value alone; an invalidation through the
//! facade forgets it.

use crate::observe::ShortKey;
use std::sync::atomic::Ordering::Relaxed;

use std::time::SystemTime;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Cache;
use super::envelope::{self, Envelope};
use super::kept::Guard;
use super::tag_version::{
    VersionKeys, by_an_invalidation, decode_version, drawn_by_a_write, drawn_by_an_invalidation, invalidated_since,
    version_key,
};
use crate::observe::span::{self, in_operation, operation_span};
use crate::{CacheError, Result, Ttl, codec};

/// The tags of a value computed after a [`get_bytes_tagged_seen`](Cache::get_bytes_tagged_seen)
/// read, for its [`set_bytes_tagged_seen`](Cache::set_bytes_tagged_seen).
#[derive(Debug, Clone, Copy)]
pub struct TagsSeen<'a> {
    /// Each tag, with the version the read saw (`0`: none), or `None` for a tag not read then
    /// (one the computation named, such as a handler's `Cache-Tag`): read at the write.
    pub tags: &'a [(&'a str, Option<u64>)],
    /// When the computation began (a handler's render): a tag read at the write that was
    /// invalidated since then makes the write store nothing, as the value may have been
    /// computed from data older than the invalidation.
    pub computed_since: SystemTime,
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
    /// current, read with the versions of `tags` in one round trip, and the versions of `tags` it
    /// read, in their order (`None`: a tag without one); not counted, a backend failure returned
    /// as it is.
    pub(crate) async fn get_current_quietly_seen(
        &self,
        key: &str,
        tags: &[&str],
    ) -> Result<(Option<Bytes>, Vec<Option<u64>>)> {
        let (found, versions) = self.get_current_seen(key, tags).await?;
        Ok((found.map(|current| current.stored), versions))
    }

    /// Whether the envelope `bytes` recorded each of `tags` at the version in `seen` (in their
    /// order), or, where `seen` has none, at a first version drawn by a write: no invalidation of
    /// them came between the read that saw `seen` and the load of the value. `false` for what is
    /// not an envelope, or lacks a tag.
    pub(crate) fn records_versions_seen(key: &str, bytes: &[u8], tags: &[&str], seen: &[Option<u64>]) -> bool {
        if tags.len() != seen.len() || !envelope::is_envelope(bytes) {
            return false;
        }
        let Ok(envelope) = envelope::decode(key, bytes) else { return false };
        tags.iter().zip(seen).all(|(tag, seen)| {
            envelope
                .tags
                .iter()
                .find(|(recorded, _)| *recorded == tag.as_bytes())
                .is_some_and(|(_, recorded)| !Cache::invalidated_between(&[seen.unwrap_or(0)], &[recorded]))
        })
    }

    /// What is stored under `key` if every tag it records is current (with where its value
    /// starts), and the versions of `tags` read with it (`None`: a tag without one).
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
        // Every tag's version kept in process: the value is read alone.
        if let Some(versions) = self.kept_versions_of(tags) {
            let Some(bytes) = self.read(key).await? else { return Ok((None, versions)) };
            let current = self.keep_if_current(key, bytes, Known { tags, versions: &versions }).await;
            return Ok((current, versions));
        }
        // Boxed: with the versions kept (every hit on SimpleCache, or under a near cache's
        // watch) this read is not taken, and the future of every tagged read (each HTTP hit's)
        // stays a third smaller without it, so moving it costs less (`hit_path`: see
        // `read_with_versions`).
        Box::pin(self.read_with_versions(key, tags)).await
    }

    /// [`get_current_seen`](Cache::get_current_seen) when some tag's version is not kept: the
    /// value and the versions of `tags` in one `get_many`.
    async fn read_with_versions(&self, key: &str, tags: &[&str]) -> Result<(Option<Current>, Vec<Option<u64>>)> {
        let version_keys = VersionKeys::new(tags);
        let guards = self.tag_guards(version_keys.iter(tags));
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
        self.keep_tag_versions(tags, &versions, guards);
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

    /// Stores `value` under `key` with `tags_seen.tags`, each with the version a read saw before
    /// `value` was computed ([`get_bytes_tagged_seen`](Cache::get_bytes_tagged_seen)), or `None`
    /// for a tag not read then (its current version is read now, as
    /// [`set_bytes_tagged`](Cache::set_bytes_tagged) does, and if an invalidation drew it after
    /// `tags_seen.computed_since`, nothing is stored). A tag seen without a version (`Some(0)`) gets
    /// one now, or the one another value's first write made meanwhile; if an invalidation made
    /// it, nothing is stored. Returns whether it stored: not then, nor when the versions cannot
    /// be read or made (the backend failed), as for `set_bytes_tagged`.
    ///
    /// As for [`get_bytes_tagged_seen`](Cache::get_bytes_tagged_seen), a backend failure is
    /// returned whatever `CACHE_IGNORE_ERRORS` says (counted in [`Cache::stats`]); `Ok(false)`
    /// is then only "a tag was invalidated since the read".
    pub async fn set_bytes_tagged_seen(
        &self,
        key: &str,
        value: &[u8],
        ttl: Ttl,
        tags_seen: TagsSeen<'_>,
    ) -> Result<bool> {
        let tags = tags_seen.tags;
        let unread: Vec<&str> = tags.iter().filter(|(_, seen)| seen.is_none()).map(|(tag, _)| *tag).collect();
        let mut current = self.tag_versions_or_failure(&unread, true).await?.into_iter();
        let mut recorded: Vec<(&str, u64)> = Vec::with_capacity(tags.len());
        for &(tag, seen) in tags {
            let version = match seen {
                None => match current.next().flatten().unwrap_or(0) {
                    version if invalidated_since(version, tags_seen.computed_since) => return Ok(false),
                    version => version,
                },
                Some(0) => {
                    let drawn = drawn_by_a_write();
                    let key = version_key(tag);
                    match self.internal_add(&key, &drawn, Ttl::Never).await {
                        Ok(true) => {
                            self.kept_tag_versions().forget(tag);
                            drawn
                        }
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
            let now = SystemTime::now();
            let items: Vec<(&str, u64)> = keys.iter().map(|k| (k.as_str(), drawn_by_an_invalidation(now))).collect();
            let written = match items.as_slice() {
                [] => Ok(()),
                [(key, version)] => {
                    self.store_bytes(key, self.inner.config.codec.encode(key, version)?, Ttl::Never).await
                }
                _ => self.set_many_unobserved(&items, Ttl::Never).await,
            };
            // After the write, whether it succeeded or not: a read of the old version before it
            // keeps nothing (see `kept`).
            tags.iter().for_each(|tag| self.kept_tag_versions().forget(tag));
            written
        })
        .await
    }

    /// Makes every value written under `tag` a miss from now on: one write, whatever the number
    /// of values.
    pub async fn invalidate_tag(&self, tag: &str) -> Result<()> {
        in_operation(operation_span!("invalidate_tag", self, tag), span::done, async {
            let (key, fresh) = (version_key(tag), drawn_by_an_invalidation(SystemTime::now()));
            let written = self.store_bytes(&key, self.inner.config.codec.encode(&key, &fresh)?, Ttl::Never).await;
            self.kept_tag_versions().forget(tag);
            written
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
        if let Some(versions) = self.kept_versions_of(tags) {
            return Ok(versions);
        }
        let version_keys = VersionKeys::new(tags);
        let refs: Vec<&str> = version_keys.iter(tags).collect();
        let guards = self.tag_guards(refs.iter().copied());
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
        self.keep_tag_versions(tags, &versions, guards);
        if create {
            for ((tag, key), version) in tags.iter().zip(&refs).zip(versions.iter_mut()).filter(|(_, v)| v.is_none()) {
                let drawn = drawn_by_a_write();
                *version = match self.internal_add(key, &drawn, Ttl::Never).await {
                    Ok(true) => {
                        // This process may keep a version the backend has lost (evicted).
                        self.kept_tag_versions().forget(tag);
                        Some(drawn)
                    }
                    // Another writer drew first: use theirs.
                    Ok(false) => self.internal_get::<u64>(key).await.ok().flatten(),
                    Err(e) => return Err(e),
                };
            }
        }
        Ok(versions)
    }

    /// The versions of `tags` if this process keeps every one of them (see [`kept`](super::kept)).
    fn kept_versions_of(&self, tags: &[&str]) -> Option<Vec<Option<u64>>> {
        let kept = self.kept_tag_versions();
        let mut versions = Vec::with_capacity(tags.len());
        for tag in tags {
            versions.push(Some(kept.with(tag, |version| *version)?));
        }
        Some(versions)
    }

    /// What to keep the versions about to be read under `version_keys` with, taken before the
    /// read; `None` when the backend lets none be kept now (a shared one that gives no watch).
    fn tag_guards<'a>(&self, mut version_keys: impl Iterator<Item = &'a str>) -> Option<Vec<Option<Guard>>> {
        let (kept, backend) = (self.kept_tag_versions(), self.inner.backend.as_ref());
        let first = kept.guard(backend, version_keys.next()?)?;
        let mut guards = Vec::with_capacity(version_keys.size_hint().0 + 1);
        guards.push(Some(first));
        guards.extend(version_keys.map(|key| kept.guard(backend, key)));
        Some(guards)
    }

    /// Keeps the `versions` of `tags` read under `guards` (those the tags have).
    fn keep_tag_versions(&self, tags: &[&str], versions: &[Option<u64>], guards: Option<Vec<Option<Guard>>>) {
        let kept = self.kept_tag_versions();
        for ((tag, version), guard) in tags.iter().zip(versions).zip(guards.into_iter().flatten()) {
            if let (Some(version), Some(guard)) = (version, guard) {
                kept.keep(tag, *version, guard);
            }
        }
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
        for (tag, recorded) in envelope.tags.iter() {
            match known.version(tag) {
                Some(current) if current != Some(recorded) => return false,
                Some(_) => {}
                // A damaged name (not UTF-8) has no version to compare: not current.
                None => match std::str::from_utf8(tag) {
                    Ok(tag) => unknown.push(tag),
                    Err(_) => return false,
                },
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
        recorded.zip(read).all(|((_, recorded), current)| current == Some(recorded))
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
    fn version(&self, tag: &[u8]) -> Option<Option<u64>> {
        let i = self.tags.iter().position(|t| t.as_bytes() == tag)?;
        Some(self.versions.get(i).copied().flatten())
    }
}

/// How many keys a tagged read passes to `get_many` from the stack (a value's and its tags'
/// versions): more spill into a `Vec`.
const INLINE_KEYS: usize = 8;

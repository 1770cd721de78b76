//! [`Memoized`]: results of a function cached by its arguments, invalidated in O(1).
//!
//! `mod.rs` has the handle, its names, keys and versions; `call.rs` the calls (with their
//! counting and events); `options.rs` Flask-Caching's decorator options; `slot.rs` how a
//! loader's time reaches the call that reports it.

mod call;
mod options;
mod slot;

pub use options::Condition;

use std::borrow::Cow;

use serde::Serialize;

use crate::{Cache, EventKind, Result, Ttl, codec};
use options::Options;

/// The start of every memoized function's version key: `memoize-version:<function>`.
pub(crate) const VERSION_KEY_PREFIX: &str = "memoize-version:";
/// What every memoized result's key starts with.
const RESULT_KEY_PREFIX: &str = "memoize:";

/// Memoizes one function: its results are cached per argument set, and all of them can be
/// forgotten at once in O(1).
///
/// As in Flask-Caching, each function has a *version* stored in the cache (a random token under
/// `memoize-version:<function>`); result keys are `memoize:<function>:<version>:<args>` (below).
/// [`delete_all`](Memoized::delete_all) removes the version, so the next call draws a new one and
/// every older result becomes unreachable (and ages out). Versions are random rather than
/// counters so that an evicted version key can never bring back results of an older version.
/// On a backend that no other process writes ([`is_shared`](crate::BaseCache::is_shared) false:
/// SimpleCache), the version is kept in process after its first read, so a hit is one lookup;
/// every [`Cache`] built on that backend sees a `delete_all` made through any of them. On a
/// shared backend it is kept only while the backend's [`watch`](crate::BaseCache::watch) on the
/// version key holds (the in-process tier of `CACHE_L1`, while its invalidations follow), so
/// another process's `delete_all` is seen as soon as its invalidation arrives; a shared backend
/// without watches has its version read on each call.
///
/// Arguments are anything `Serialize`; they are encoded, and the encoding is written into the key
/// in hex when it is 16 bytes or less (`=` then its hex digits: an integer, a short string, a few
/// small numbers), or else hashed with BLAKE3 (its first 128 bits in hex), so a key is never longer
/// for long arguments. With `CACHE_SOURCE_CHECK`, a source hash given by
/// [`with_source_hash`](Memoized::with_source_hash) becomes part of the function's name, so editing
/// the function's code invalidates its results.
///
/// Each call is counted as a hit or a miss of the function (the `metrics` feature's
/// `cachette_memoize_calls_total`, and its loader's time in `cachette_memoize_load_seconds`) and
/// reported to the cache's hooks ([`Cache::on_event`]): a hit; or a miss, then a store with the
/// load's time. A call that waited for another call's load of the same arguments is a miss
/// without a store of its own.
///
/// Flask-Caching's decorator options are builder methods: [`cache_none`](Memoized::cache_none)
/// (by default a `None` result is not stored), [`unless`](Memoized::unless),
/// [`forced_update`](Memoized::forced_update), [`is_stale`](Memoized::is_stale),
/// [`response_filter`](Memoized::response_filter) and [`make_name`](Memoized::make_name); its
/// `args_to_ignore` is leaving those arguments out of `args`.
///
/// ```
/// # use std::sync::Arc;
/// # use std::sync::atomic::{AtomicUsize, Ordering};
/// # use cachette_core::{Cache, Config, Ttl};
/// # async fn demo(cache: Cache) -> cachette_core::Result<()> {
/// let calls = AtomicUsize::new(0);
/// let profile = cache.memoized("app::profile", Ttl::Default);
/// let load = |id: u32| { calls.fetch_add(1, Ordering::SeqCst); async move { Ok::<_, std::io::Error>(format!("user {id}")) } };
///
/// assert_eq!(profile.call(&7, || load(7)).await?, "user 7");
/// assert_eq!(profile.call(&7, || load(7)).await?, "user 7"); // cached
/// assert_eq!(calls.load(Ordering::SeqCst), 1);
///
/// profile.delete_all().await?; // every argument set, in O(1)
/// assert_eq!(profile.call(&7, || load(7)).await?, "user 7");
/// assert_eq!(calls.load(Ordering::SeqCst), 2);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Memoized {
    cache: Cache,
    // Borrowed for names known at compile time, so that `#[memoize]` builds its handle on every
    // call without copying the name.
    function: Cow<'static, str>,
    ttl: Ttl,
    options: Options,
}

impl Memoized {
    /// A handle for `function` whose results live for `ttl`.
    pub fn new(cache: Cache, function: &str, ttl: Ttl) -> Memoized {
        Memoized { cache, function: Cow::Owned(function.to_owned()), ttl, options: Options::default() }
    }

    /// [`Memoized::new`] for a name that lives for the whole program (a literal, or one computed
    /// once and kept in a `static`): the handle borrows it instead of copying it.
    pub fn new_static(cache: Cache, function: &'static str, ttl: Ttl) -> Memoized {
        Memoized { cache, function: Cow::Borrowed(function), ttl, options: Options::default() }
    }

    /// The default name `#[memoize]` gives a function: its path, found with
    /// `type_name_of_val(&anchor)` for a `fn anchor` nested in the function `generated` that
    /// `#[memoize]` expanded (the memoized function itself or one of its `_forget` companions).
    ///
    /// The path of a nested item names the `impl`'s type for methods and associated functions
    /// (`app::users::Repo::profile`), which `module_path!()` cannot: two types of one module
    /// with a method of the same name get two names. If the compiler ever prints paths so that
    /// `generated` cannot be found in it, the name falls back to `<module>::<function>` (the
    /// same for the function and its companions, so forgetting keeps working).
    #[doc(hidden)]
    pub fn __default_name(anchor: &str, generated: &str, function: &str, module: &str) -> String {
        let owner = anchor.rfind(&format!("::{generated}::")).map_or(module, |at| &anchor[..at]);
        format!("{owner}::{function}")
    }

    /// Adds the hash of the function's source to its name when `CACHE_SOURCE_CHECK` is on (the
    /// `#[memoize]` attribute passes a hash of the function's tokens).
    pub fn with_source_hash(mut self, source_hash: &str) -> Memoized {
        if self.cache.config().source_check {
            self.function = Cow::Owned(format!("{}#{source_hash}", self.function));
        }
        self
    }

    /// The function name used in keys.
    pub fn function(&self) -> &str {
        &self.function
    }

    /// The cache key of `args`, or `None` when the function's version cannot be read because the
    /// backend failed (down, past its deadline, breaker open): the call should then run the
    /// function uncached ([`load_uncached`](Self::load_uncached)). Only the caller's mistakes are
    /// errors. The failure is counted and logged by the [`Cache`].
    pub async fn key_if_available<A: Serialize + ?Sized>(&self, args: &A) -> Result<Option<String>> {
        match self.key(args).await {
            Ok(key) => Ok(Some(key)),
            Err(e) if e.is_backend_failure() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The cache key of `args` under the function's current version (drawing a version if there
    /// is none). With [`Memoized::ttl`] and [`Cache::get_or_set`] this is `call` in two steps, for
    /// callers (like the `#[memoize]` attribute) whose loader must take the arguments by value.
    pub async fn key<A: Serialize + ?Sized>(&self, args: &A) -> Result<String> {
        let id = self.args_id(args)?;
        if let Some(key) = self.cache.kept_function_versions().with(&self.function, |v| self.result_key(v, &id)) {
            return Ok(key);
        }
        let version = self.version(true).await?.unwrap_or_default();
        Ok(self.result_key(&version, &id))
    }

    /// The lifetime of the results.
    pub fn ttl(&self) -> Ttl {
        self.ttl
    }

    /// The cache the results live in.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Forgets the result for one argument set; returns whether there was one.
    pub async fn delete<A: Serialize + ?Sized>(&self, args: &A) -> Result<bool> {
        match self.version(false).await? {
            None => Ok(false),
            Some(version) => {
                let key = self.result_key(&version, &self.args_id(args)?);
                let deleted = self.cache.delete(&key).await?;
                self.event(EventKind::Invalidate, &key, None);
                Ok(deleted)
            }
        }
    }

    /// Forgets the results for every argument set, in O(1).
    pub async fn delete_all(&self) -> Result<()> {
        let key = self.version_key();
        let deleted = self.cache.internal_delete(&key).await;
        // After the delete, whether it succeeded or not: a call that read the version before it
        // keeps nothing (see KeptVersions::keep).
        self.cache.kept_function_versions().forget(&self.function);
        deleted?;
        self.event(EventKind::Invalidate, &key, None);
        Ok(())
    }

    fn version_key(&self) -> String {
        [VERSION_KEY_PREFIX, &self.function].concat()
    }

    /// The key of the result for the arguments `id` stands for, under `version` ([`result_key`]).
    fn result_key(&self, version: &str, id: &ArgsId) -> String {
        result_key(&self.function, version, id)
    }

    /// What stands for the arguments in the key: their encoding itself when it is short, else the
    /// hash of the encoding (and of the computed name, with `make_name`).
    fn args_id<A: Serialize + ?Sized>(&self, args: &A) -> Result<ArgsId> {
        // Most argument lists fit on the stack; the others are encoded into a `Vec`.
        let mut buf = [0u8; 128];
        let codec = codec::Codec::default();
        let allocated;
        let encoded = match codec.encode_plain_into(args, &mut buf) {
            Some(encoded) => encoded,
            None => {
                allocated = codec.encode_plain(&self.function, args)?;
                allocated.as_slice()
            }
        };
        let hash = match &self.options.make_name {
            None if encoded.len() <= INLINE_ARGS => {
                let mut bytes = [0u8; INLINE_ARGS];
                bytes[..encoded.len()].copy_from_slice(encoded);
                return Ok(ArgsId::Inline { bytes, len: encoded.len() });
            }
            None => blake3::hash(encoded),
            Some(make_name) => {
                let name = make_name(&self.function);
                tracing::trace!(function = %self.function, computed = %name, "memoized function's computed name");
                // 0xFF first, which no encoded value starts with (it begins with a format byte or
                // a digit), then the name's length: (name, arguments) pairs are told apart from
                // each other and from the arguments of a function without `make_name`.
                let mut hasher = blake3::Hasher::new();
                hasher.update(&[0xFF]).update(&(name.len() as u64).to_le_bytes()).update(name.as_bytes());
                hasher.update(encoded).finalize()
            }
        };
        Ok(ArgsId::Hashed(hash))
    }

    /// The function's current version; with `create`, draws one if there is none. `add` makes the
    /// draw race-free: when several processes draw at once, one version wins and all use it.
    ///
    /// The version is bookkeeping, not a user's value: read with [`Cache::internal_get`], so it
    /// is no hit or miss in the stats, and a backend failure is an error (whatever
    /// `CACHE_IGNORE_ERRORS` says) on which the call runs the function uncached.
    ///
    /// A version read or drawn is kept in process ([`KeptVersions`](crate::cache::KeptVersions): on a shared backend, only under
    /// the backend's watch on the version key), and the backend is asked only when the process
    /// does not know it.
    async fn version(&self, create: bool) -> Result<Option<String>> {
        let known = self.cache.kept_function_versions();
        if let Some(version) = known.with(&self.function, |v| v.to_string()) {
            return Ok(Some(version));
        }
        let key = self.version_key();
        let Some(guard) = known.guard(self.cache.backend().as_ref(), &key) else {
            return self.stored_version(&key, create).await;
        };
        let version = self.stored_version(&key, create).await?;
        if let Some(version) = &version {
            known.keep(&self.function, version.as_str().into(), guard);
        }
        Ok(version)
    }

    /// The function's version as the backend has it under `key`, its version key (see
    /// [`version`](Memoized::version)).
    async fn stored_version(&self, key: &str, create: bool) -> Result<Option<String>> {
        if let Some(v) = self.cache.internal_get::<String>(key).await? {
            return Ok(Some(v));
        }
        if !create {
            return Ok(None);
        }
        let fresh = format!("{:016x}", rand::random::<u64>());
        if self.cache.internal_add(key, &fresh, Ttl::Never).await? {
            tracing::debug!(
                function = %self.function,
                "memoized function had no version (first call, or after delete_all or an eviction): a new one, \
                 so every argument set misses once"
            );
            return Ok(Some(fresh));
        }
        // Another caller drew first: use theirs.
        Ok(Some(self.cache.internal_get::<String>(key).await?.unwrap_or(fresh)))
    }
}

/// The longest encoding of the arguments written into a key as it is: as long as the hash's part.
const INLINE_ARGS: usize = 16;

/// What stands for an argument set in its result's key.
enum ArgsId {
    /// The encoding itself, `len` bytes of `bytes`: no hash to compute (BLAKE3 was 600 of a
    /// `#[memoize]` hit's 4,250 instructions), and two argument sets never share a key, even
    /// in theory. Written as `=` and its hex digits, a form no hash takes.
    Inline { bytes: [u8; INLINE_ARGS], len: usize },
    /// The BLAKE3 hash of the encoding; its first 128 bits are written, as 32 hex digits.
    Hashed(blake3::Hash),
}

/// `memoize:<function>:<version>:<args>`, `<args>` being `=` and the hex digits of the arguments'
/// encoding, or the 32 hex digits of its hash ([`ArgsId`]), built in one allocation (`format!`
/// grew it three times: a quarter of a hit's instructions), the hex digits written straight from
/// the bytes (`Hash::to_hex` writes all 64 a character at a time, and a `concat` copied them
/// again: 630 of a `#[memoize]` hit's 5,080 instructions).
fn result_key(function: &str, version: &str, id: &ArgsId) -> String {
    let (marker, bytes) = match id {
        ArgsId::Inline { bytes, len } => ("=", &bytes[..*len]),
        ArgsId::Hashed(hash) => ("", &hash.as_bytes()[..16]),
    };
    let mut hex = [0u8; 2 * INLINE_ARGS];
    for (pair, half) in hex.chunks_exact_mut(16).zip(bytes.chunks(8)) {
        let mut word = [0u8; 8];
        word[..half.len()].copy_from_slice(half);
        pair.copy_from_slice(&hex_digits(u64::from_be_bytes(word)));
    }
    let hex = std::str::from_utf8(&hex[..2 * bytes.len()]).expect("hex digits are ASCII");
    let capacity = RESULT_KEY_PREFIX.len() + function.len() + version.len() + 2 + marker.len() + hex.len();
    let mut key = String::with_capacity(capacity);
    for part in [RESULT_KEY_PREFIX, function, ":", version, ":", marker, hex] {
        key.push_str(part);
    }
    key
}

/// The 16 lowercase hex digits of `x`, most significant first, eight at a time in a register
/// (a digit at a time, with a table, was 250 of a hit's instructions).
fn hex_digits(x: u64) -> [u8; 16] {
    // Each nibble spread into a byte of its own: the high halves' nibbles, then the low ones'.
    let spread = |half: u32| -> u64 {
        let mut v = u64::from(half);
        v = (v | (v << 16)) & 0x0000_FFFF_0000_FFFF;
        v = (v | (v << 8)) & 0x00FF_00FF_00FF_00FF;
        v = (v | (v << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
        v
    };
    // A nibble n becomes b'0' + n, plus b'a' - b'0' - 10 more where n > 9 (n + 6 carries into
    // bit 4).
    let digits = |n: u64| -> u64 {
        let letters = ((n + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
        n + 0x3030_3030_3030_3030 + letters * u64::from(b'a' - b'0' - 10)
    };
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&digits(spread((x >> 32) as u32)).to_be_bytes());
    out[8..].copy_from_slice(&digits(spread(x as u32)).to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits_are_those_of_format() {
        for x in [0, 1, 9, 10, 15, 0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210, u64::MAX, 0xa0a0_0909_f0f0_5a5a] {
            assert_eq!(std::str::from_utf8(&hex_digits(x)).unwrap(), format!("{x:016x}"));
        }
    }

    #[test]
    fn a_result_key_ends_in_the_first_32_hex_digits_of_the_arguments_hash() {
        for args in [&b""[..], b"7", b"\x01 a longer argument list, encoded"] {
            let hash = blake3::hash(args);
            let key = result_key("app::profile", "a1b2", &ArgsId::Hashed(hash));
            assert_eq!(key, format!("memoize:app::profile:a1b2:{}", &hash.to_hex()[..32]));
            assert_eq!(key.len(), key.capacity(), "one allocation, of the right size");
        }
    }

    #[test]
    fn a_short_encoding_is_written_into_the_key_in_hex_after_an_equals_sign() {
        for args in [&b""[..], b"\x07", b"\x01\x02\x03\x04\x05\x06\x07\x08\x09", &[0xAB; INLINE_ARGS]] {
            let mut bytes = [0u8; INLINE_ARGS];
            bytes[..args.len()].copy_from_slice(args);
            let key = result_key("app::profile", "a1b2", &ArgsId::Inline { bytes, len: args.len() });
            let hex: String = args.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(key, format!("memoize:app::profile:a1b2:={hex}"));
            assert_eq!(key.len(), key.capacity(), "one allocation, of the right size");
        }
    }
}

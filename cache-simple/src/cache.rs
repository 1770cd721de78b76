//! [`SimpleCache`] and its [`BaseCache`] implementation.

use std::time::Instant;

use cachette_core::codec::{checked_counter_add, encode_counter, parse_counter};
use cachette_core::{BaseCache, Bytes, Config, Expiry, Result, Ttl, async_trait};
use moka::ops::compute::{CompResult, Op};
use moka::sync::Cache as Moka;

use crate::TYPE_NAME;
use crate::bound;
use crate::slot::Slot;

/// An in-process cache on moka. See the crate docs.
#[derive(Clone)]
pub struct SimpleCache {
    pub(crate) store: Moka<String, Slot>,
    default_ttl: Expiry,
}

impl std::fmt::Debug for SimpleCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimpleCache")
            .field("approximate_entries", &self.store.entry_count())
            .field("default_ttl", &self.default_ttl)
            .finish()
    }
}

impl SimpleCache {
    /// A SimpleCache bounded by `CACHE_THRESHOLD` entries, with `CACHE_DEFAULT_TIMEOUT`.
    /// SimpleCache has no `CACHE_OPTIONS`; any given is an error.
    pub fn new(config: &Config) -> Result<SimpleCache> {
        config.options.reject_unknown(TYPE_NAME, &[])?;
        Ok(SimpleCache { store: bound::store(config.threshold as u64), default_ttl: config.default_timeout })
    }

    /// The number of live entries, after applying moka's pending evictions (so never more than
    /// `CACHE_THRESHOLD`).
    pub fn entry_count(&self) -> u64 {
        self.store.run_pending_tasks();
        self.store.entry_count()
    }

    /// The deadline for `ttl` as an `Instant`: `Some(None)` never, `None` already over.
    fn deadline(&self, ttl: Ttl) -> Option<Option<Instant>> {
        ttl.resolve(self.default_ttl).instant_deadline()
    }
}

#[async_trait]
impl BaseCache for SimpleCache {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn is_shared(&self) -> bool {
        false
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        Ok(self.store.get(key).map(|slot| slot.value))
    }

    /// Always answers: a moka lookup waits for nothing.
    fn get_at_once(&self, key: &str) -> Option<Result<Option<Bytes>>> {
        Some(Ok(self.store.get(key).map(|slot| slot.value)))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<()> {
        match self.deadline(ttl) {
            Some(expires_at) => self.store.insert(key.to_owned(), Slot { value, expires_at }),
            None => self.store.invalidate(key),
        }
        Ok(())
    }

    async fn add(&self, key: &str, value: Bytes, ttl: Ttl) -> Result<bool> {
        let Some(expires_at) = self.deadline(ttl) else {
            // Nothing to store; report whether the key was free, as Redis's SET NX with a past
            // deadline does.
            return Ok(self.store.get(key).is_none());
        };
        let outcome = self.store.entry_by_ref(key).and_compute_with(|existing| match existing {
            Some(_) => Op::Nop,
            None => Op::Put(Slot { value, expires_at }),
        });
        Ok(matches!(outcome, CompResult::Inserted(_)))
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let outcome = self
            .store
            .entry_by_ref(key)
            .and_compute_with(|existing| if existing.is_some() { Op::Remove } else { Op::Nop });
        Ok(matches!(outcome, CompResult::Removed(_)))
    }

    async fn inc(&self, key: &str, delta: i64) -> Result<i64> {
        let mut result = Ok(delta);
        self.store.entry_by_ref(key).and_compute_with(|existing| {
            let next = match &existing {
                None => Ok((delta, None)),
                Some(entry) => {
                    let slot = entry.value();
                    parse_counter(key, &slot.value)
                        .and_then(|current| checked_counter_add(key, current, delta))
                        .map(|n| (n, slot.expires_at))
                }
            };
            match next {
                Ok((n, expires_at)) => {
                    result = Ok(n);
                    Op::Put(Slot { value: encode_counter(n), expires_at })
                }
                Err(e) => {
                    result = Err(e);
                    Op::Nop
                }
            }
        });
        result
    }

    async fn touch(&self, key: &str, ttl: Ttl) -> Result<bool> {
        let deadline = self.deadline(ttl);
        let outcome = self.store.entry_by_ref(key).and_compute_with(|existing| match (existing, deadline) {
            (None, _) => Op::Nop,
            (Some(entry), Some(expires_at)) => Op::Put(Slot { value: entry.into_value().value, expires_at }),
            (Some(_), None) => Op::Remove,
        });
        Ok(!matches!(outcome, CompResult::StillNone(_)))
    }

    async fn clear(&self) -> Result<()> {
        self.store.invalidate_all();
        Ok(())
    }
}

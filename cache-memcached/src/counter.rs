//! `inc` and `dec`: memcached's `incr` where it can, compare-and-swap where it cannot.
//!
//! `inc` by a delta >= 0 is one memcached `incr` that creates an absent key holding the delta (no
//! expiry), atomic on the server and keeping a live key's expiry. memcached counts in unsigned 64
//! bits while `BaseCache::inc` needs `i64`: a result above `i64::MAX` (or a stored number above it)
//! is put back at once — the old text written back with a compare-and-swap, or, if another client
//! changed it in that instant, a wrapping `incr` of the complement — and reported as `NotAnInteger`;
//! for that instant another client could read the out-of-range number. `dec`, a negative delta, and
//! a negative stored value (which memcached's `incr` refuses) go through a gets/compare-and-swap
//! loop that keeps the expiry recorded in the flags and creates an absent key with `add`, retrying
//! on a race with a random back-off (two round trips; slower than `incr` when many clients hit one
//! key). memcached's `decr` is never used: it stops at 0 and pads shortened numbers with spaces.
//!
//! `touch` is a compare-and-swap loop too (see `item.rs` for why) and shares [`CAS_ATTEMPTS`],
//! [`back_off`] and the error of a key that keeps changing.

use std::time::Duration;

use cachette_core::codec::{checked_counter_add, encode_counter, parse_counter};
use cachette_core::{Bytes, CacheError, Result, shorten};

use crate::Inner;
use crate::item::{HEAD_FLAGS, Lifetime};
use crate::request::{NO_CREATE, Op, Request, status};
use crate::route::Located;

/// How often a compare-and-swap loop (inc, touch) tries before giving up under contention (with
/// the back-off, well over a second of trying).
pub(crate) const CAS_ATTEMPTS: usize = 100;

impl Inner {
    /// `BaseCache::inc`: `incr` for a delta >= 0 on a number memcached can count, else
    /// [`Inner::inc_by_cas`].
    pub(crate) async fn inc(&self, key: &str, delta: i64) -> Result<i64> {
        let at = self.locate(key);
        let Ok(amount) = u64::try_from(delta) else { return self.inc_by_cas(&at, delta).await };
        // memcached creates an absent key by an internal `add`; when two increments of an absent
        // key race, the loser's add fails and it answers NOT_STORED although the key now exists.
        // Trying again increments the winner's value (seen in the conformance suite's 8 × 1000
        // concurrent incs, about one run in five).
        let mut retries = 0;
        loop {
            let incr = Request::increment(Bytes::new(), amount, amount, 0);
            let (generation, response) = self.exchange_one(&at, "inc", false, incr).await?;
            match response.status {
                status::NOT_STORED if retries < CAS_ATTEMPTS => retries += 1,
                status::OK => {
                    let value = response.counter().ok_or_else(|| self.protocol_error("incr answered no number"))?;
                    if value >= amount && value <= i64::MAX as u64 {
                        return Ok(value as i64);
                    }
                    self.undo_increment(at.server, self.data_key(generation, &at.body), value, amount).await?;
                    return Err(CacheError::not_an_integer(
                        key,
                        format!("adding {delta} gives a number outside i64 (the value is left unchanged)"),
                    ));
                }
                status::NON_NUMERIC => return self.inc_by_cas(&at, delta).await,
                _ => return Err(self.servers[at.server].status_error("inc", &response)),
            }
        }
    }

    /// The error of a compare-and-swap loop that lost every one of its [`CAS_ATTEMPTS`].
    pub(crate) fn contended(&self, at: &Located<'_>, operation: &str) -> CacheError {
        self.servers[at.server].backend_error(&format!(
            "{operation}: key {:?} changed under {CAS_ATTEMPTS} compare-and-swap attempts in a row; try again",
            shorten(at.key)
        ))
    }

    /// `inc` through gets + compare-and-swap: for negative deltas and values memcached's `incr`
    /// refuses (negative numbers, text).
    async fn inc_by_cas(&self, at: &Located<'_>, delta: i64) -> Result<i64> {
        let (key, server) = (at.key, &self.servers[at.server]);
        for attempt in 0..CAS_ATTEMPTS {
            back_off(attempt).await;
            let (_, current) = self.exchange_one(at, "inc", true, Request::get(Bytes::new())).await?;
            let write = match current.status {
                status::NOT_FOUND => Request::store(Op::Add, Bytes::new(), encode_counter(delta)),
                status::OK => {
                    if current.flags() == HEAD_FLAGS {
                        return Err(CacheError::not_an_integer(
                            key,
                            "the stored value is a large value spread over several items, not a decimal integer",
                        ));
                    }
                    let value = parse_counter(key, current.value.trim_ascii_end())?;
                    let next = checked_counter_add(key, value, delta)?;
                    let life = Lifetime::from_flags(current.flags());
                    Request::store(Op::Set, Bytes::new(), encode_counter(next))
                        .with_flags(current.flags())
                        .with_exptime(life.exptime)
                        .with_cas(current.cas)
                }
                _ => return Err(server.status_error("inc", &current)),
            };
            let (_, response) = self.exchange_one(at, "inc", false, write.clone()).await?;
            match response.status {
                status::OK => return parse_counter(key, &write.value),
                status::EXISTS | status::NOT_FOUND | status::NOT_STORED => continue,
                _ => return Err(server.status_error("inc", &response)),
            }
        }
        Err(self.contended(at, "inc"))
    }

    /// Puts back the value an `incr` by `amount` turned into `result` (outside `i64`): written back
    /// as it was (text, flags, expiry) if nothing changed it since, else undone by adding the
    /// complement (which wraps back; memcached then may pad the shorter number with spaces).
    async fn undo_increment(&self, s: usize, key: Bytes, result: u64, amount: u64) -> Result<()> {
        let server = &self.servers[s];
        let current = self.answer(server.exchange("inc", &[Request::get(key.clone())], false).await?)?;
        let unchanged = current.status == status::OK
            && std::str::from_utf8(current.value.trim_ascii()).ok().and_then(|t| t.parse::<u64>().ok()) == Some(result);
        if unchanged {
            let old = Bytes::from(result.wrapping_sub(amount).to_string());
            let life = Lifetime::from_flags(current.flags());
            let restore = Request::store(Op::Set, key.clone(), old)
                .with_flags(current.flags())
                .with_exptime(life.exptime)
                .with_cas(current.cas);
            if self.answer(server.exchange("inc", &[restore], false).await?)?.status == status::OK {
                return Ok(());
            }
        }
        let undo = Request::increment(key, amount.wrapping_neg(), 0, NO_CREATE);
        server.exchange("inc", &[undo], false).await?;
        Ok(())
    }
}

/// Waits before compare-and-swap attempt `attempt` (none before the first two): a random pause of
/// up to 1, 2, 4 ... 32 ms. Without it, contenders that read in the same order keep losing in the
/// same order, and one of them can lose every round.
pub(crate) async fn back_off(attempt: usize) {
    if attempt < 2 {
        return;
    }
    let ceiling_ms = 1u64 << (attempt - 2).min(5);
    let pause = Duration::from_micros(rand::random_range(0..=ceiling_ms * 1000));
    tokio::time::sleep(pause).await;
}

//! [`LoadPolicy`]: how `get_or_set_with` keeps a loaded value (see `stale.rs` for what it does
//! with it).

use std::time::Duration;

use crate::Ttl;

/// How `get_or_set_with` keeps a loaded value: its fresh period and the stale windows and
/// deadlines around it.
///
/// ```
/// use std::time::Duration;
/// use cachette_core::LoadPolicy;
///
/// // Fresh for a minute; then served stale for up to ten while one refresh runs behind; for up
/// // to an hour if the loader fails; a load slower than 200 ms returns the stale value.
/// let policy = LoadPolicy::new(Duration::from_secs(60))
///     .stale_while_revalidate(Duration::from_secs(600))
///     .stale_if_error(Duration::from_secs(3600))
///     .soft_deadline(Duration::from_millis(200))
///     .hard_deadline(Duration::from_secs(5));
/// # let _ = policy;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LoadPolicy {
    pub(super) fresh: Ttl,
    pub(super) stale_while_revalidate: Duration,
    pub(super) stale_if_error: Duration,
    pub(super) soft_deadline: Option<Duration>,
    pub(super) hard_deadline: Option<Duration>,
    pub(super) tags: Vec<String>,
    pub(super) early_refresh: Option<f64>,
}

impl LoadPolicy {
    /// Values fresh for `fresh` (a `Duration`, or any [`Ttl`]: `Ttl::Default` is the cache's
    /// `CACHE_DEFAULT_TIMEOUT`), with no stale window and no deadline.
    pub fn new(fresh: impl Into<Ttl>) -> LoadPolicy {
        LoadPolicy {
            fresh: fresh.into(),
            stale_while_revalidate: Duration::ZERO,
            stale_if_error: Duration::ZERO,
            soft_deadline: None,
            hard_deadline: None,
            tags: Vec::new(),
            early_refresh: None,
        }
    }

    /// Values are written under these tags: [`Cache::invalidate_tag`](crate::Cache::invalidate_tag)
    /// of any makes them misses. The tags' versions are read with the value, in the same round
    /// trip.
    pub fn tags<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Probabilistic early refresh (XFetch: Vattani, Chierichetti and Lowenstein, "Optimal
    /// Probabilistic Cache Stampede Prevention", VLDB 2015): a read of a fresh value refreshes it
    /// in the background, while returning it, with a probability that grows as its fresh period
    /// nears its end, weighted by how long its last load took — a read at `now` refreshes when
    /// `now - load_time * beta * ln(u) >= fresh_until` for a uniform `u` in (0, 1]. So a hot key
    /// is refreshed once, by one reader, shortly before it would go stale, and no reader ever
    /// waits for it; a key read rarely is left to expire. `beta` 1.0 is the paper's optimum;
    /// more refreshes earlier. One refresh at a time per key across processes (the same lock as
    /// stale-while-revalidate's). A `beta` that is not a positive finite number turns it off.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cachette_core::LoadPolicy;
    /// let policy = LoadPolicy::new(Duration::from_secs(60)).early_refresh(1.0);
    /// # let _ = policy;
    /// ```
    pub fn early_refresh(mut self, beta: f64) -> Self {
        self.early_refresh = (beta.is_finite() && beta > 0.0).then_some(beta);
        self
    }

    pub(super) fn tag_names(&self) -> Vec<&str> {
        self.tags.iter().map(String::as_str).collect()
    }

    /// Within `window` after the fresh period, return the stale value at once and refresh it
    /// once in the background.
    pub fn stale_while_revalidate(mut self, window: Duration) -> Self {
        self.stale_while_revalidate = window;
        self
    }

    /// Within `grace` after the fresh period, return the stale value if the loader fails, panics
    /// or misses the hard deadline.
    pub fn stale_if_error(mut self, grace: Duration) -> Self {
        self.stale_if_error = grace;
        self
    }

    /// When a stale value exists and the load takes longer than `limit`, return the stale value;
    /// the load goes on in the background and stores its value.
    pub fn soft_deadline(mut self, limit: Duration) -> Self {
        self.soft_deadline = Some(limit);
        self
    }

    /// Wait at most `limit` for a load: then return the stale value if one exists, else
    /// [`CacheError::Loader`](crate::CacheError::Loader). The load goes on in the background and
    /// stores its value.
    pub fn hard_deadline(mut self, limit: Duration) -> Self {
        self.hard_deadline = Some(limit);
        self
    }

    /// How long the backend keeps a value written now: the fresh period plus the longer window.
    pub(super) fn backend_ttl(&self, fresh_for: Option<Duration>) -> Ttl {
        let margin = self.stale_while_revalidate.max(self.stale_if_error);
        fresh_for.map_or(Ttl::Never, |d| Ttl::After(d.saturating_add(margin)))
    }

    /// How long to wait for a load, given whether a stale value could stand in.
    pub(super) fn wait_limit(&self, has_stale: bool) -> Option<Duration> {
        let soft = self.soft_deadline.filter(|_| has_stale);
        match (soft, self.hard_deadline) {
            (Some(s), Some(h)) => Some(s.min(h)),
            (s, h) => s.or(h),
        }
    }
}

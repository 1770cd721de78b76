//! [`Options`]: `CACHE_OPTIONS`, the backend options, with typed getters.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::redact::{REDACTED, is_secret_name, redact_items};
use super::value::{parse_bool, parse_duration};
use crate::fail_safe::FAIL_SAFE_OPTIONS;
use crate::suggest::did_you_mean;
use crate::{CacheError, Result};

/// Backend options (`CACHE_OPTIONS`): names to values, read with typed getters whose errors name
/// `CACHE_OPTIONS.<name>`.
///
/// `Debug` hides the values of options whose names [look secret](super::is_secret_name)
/// (`password`, `token`, ...) and the passwords of URLs in the others.
///
/// ```
/// use std::time::Duration;
/// use cachette_core::Config;
///
/// let config = Config::from_map([("CACHE_OPTIONS", "pool_size=16, response_timeout=750ms")])?;
/// let options = &config.options;
/// options.reject_unknown("RedisCache", &["pool_size", "response_timeout", "connect_timeout"])?;
/// assert_eq!(options.get_u64("pool_size")?, Some(16));
/// assert_eq!(options.get_duration("response_timeout")?, Some(Duration::from_millis(750)));
/// assert_eq!(options.get_duration("connect_timeout")?, None);
/// # Ok::<(), cachette_core::CacheError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Options(BTreeMap<String, String>);

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.0.iter().map(|(name, value)| {
            let value = if is_secret_name(name) { REDACTED.to_owned() } else { redact_items(value, false) };
            (name, value)
        });
        f.debug_map().entries(shown).finish()
    }
}

impl Options {
    /// The raw text of an option.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Sets an option.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }

    /// Every option, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// True if no option is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// An error for the first option whose name is neither in `known` nor one of the options the
    /// [`Cache`](crate::Cache) facade reads for every backend ([`FAIL_SAFE_OPTIONS`]), naming the
    /// nearest valid one and listing the valid ones.
    ///
    /// ```
    /// use cachette_core::Config;
    ///
    /// let config = Config::from_map([("CACHE_OPTIONS", "pool_size=4")])?;
    /// let err = config.options.reject_unknown("NullCache", &[]).unwrap_err().to_string();
    /// assert!(err.contains("NullCache has no options of its own, only those every backend takes: deadline"), "{err}");
    /// # Ok::<(), cachette_core::CacheError>(())
    /// ```
    pub fn reject_unknown(&self, backend: &str, known: &[&str]) -> Result<()> {
        let Some((name, value)) = self
            .0
            .iter()
            .find(|(name, _)| !known.contains(&name.as_str()) && !FAIL_SAFE_OPTIONS.contains(&name.as_str()))
        else {
            return Ok(());
        };
        let hint = did_you_mean(name, known.iter().chain(FAIL_SAFE_OPTIONS).copied());
        let every = FAIL_SAFE_OPTIONS.join(", ");
        let message = if known.is_empty() {
            format!("{backend} has no options of its own, only those every backend takes: {every}.{hint}")
        } else {
            format!(
                "{backend} has no option {name:?}.{hint} Its options are {}, and every backend takes {every}.",
                known.join(", ")
            )
        };
        Err(CacheError::config(format!("CACHE_OPTIONS.{name}"), value, message))
    }

    fn parsed<T>(&self, name: &str, what: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<Option<T>> {
        match self.0.get(name) {
            None => Ok(None),
            Some(raw) => parse(raw.trim())
                .map(Some)
                .ok_or_else(|| CacheError::config(format!("CACHE_OPTIONS.{name}"), raw, format!("expected {what}"))),
        }
    }

    /// An unsigned integer option.
    pub fn get_u64(&self, name: &str) -> Result<Option<u64>> {
        self.parsed(name, "a non-negative integer", |s| s.parse().ok())
    }

    /// A boolean option (true/false, yes/no, on/off, 1/0; an empty value is an error).
    pub fn get_bool(&self, name: &str) -> Result<Option<bool>> {
        self.parsed(name, "true or false (also yes/no, on/off, 1/0)", parse_bool)
    }

    /// A duration option: `500ms`, `2s`, `5m`, `1h30m`, `1d`; a bare number is seconds (see
    /// [`parse_duration`]).
    pub fn get_duration(&self, name: &str) -> Result<Option<Duration>> {
        self.parsed(name, "a duration such as 500ms, 2s, 5m, 1h30m (a bare number is seconds)", parse_duration)
    }

    /// A duration option that must be more than zero: a timeout or deadline (zero would fail every
    /// operation at once).
    pub fn get_positive_duration(&self, name: &str) -> Result<Option<Duration>> {
        self.parsed(name, "a duration above zero such as 500ms, 2s, 5m (a timeout of 0 would fail every call)", |s| {
            parse_duration(s).filter(|d| !d.is_zero())
        })
    }
}

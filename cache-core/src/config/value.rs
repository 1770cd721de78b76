//! [`ConfigValue`] and the parsers that turn one into the type of its key. Each parser's error is
//! the message of a [`CacheError::Config`](crate::CacheError::Config): what was expected.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::Options;
use super::redact::redact_options_text;
use crate::Expiry;

/// A value of a configuration key before it is checked: what a map, the environment, JSON or TOML
/// can hold.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ConfigValue {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text; parsed according to the key.
    Str(String),
    /// A list (sentinels, cluster nodes, servers, args).
    List(Vec<ConfigValue>),
    /// A map (CACHE_OPTIONS).
    Map(BTreeMap<String, ConfigValue>),
}

impl fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::Bool(b) => write!(f, "{b}"),
            ConfigValue::Int(i) => write!(f, "{i}"),
            ConfigValue::Float(x) => write!(f, "{x}"),
            ConfigValue::Str(s) => f.write_str(s),
            ConfigValue::List(items) => {
                let parts: Vec<String> = items.iter().map(|v| v.to_string()).collect();
                write!(f, "[{}]", parts.join(", "))
            }
            ConfigValue::Map(map) => {
                let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "{{{}}}", parts.join(", "))
            }
        }
    }
}

macro_rules! config_value_from {
    ($($ty:ty => $variant:ident($conv:expr)),* $(,)?) => {
        $(impl From<$ty> for ConfigValue {
            fn from(v: $ty) -> Self { ConfigValue::$variant($conv(v)) }
        })*
    };
}

config_value_from! {
    &str => Str(str::to_owned),
    String => Str(std::convert::identity),
    &String => Str(String::clone),
    bool => Bool(std::convert::identity),
    i64 => Int(std::convert::identity),
    i32 => Int(i64::from),
    u32 => Int(i64::from),
    u16 => Int(i64::from),
    f64 => Float(std::convert::identity),
}

impl From<Vec<&str>> for ConfigValue {
    fn from(v: Vec<&str>) -> Self {
        ConfigValue::List(v.into_iter().map(ConfigValue::from).collect())
    }
}

/// Parses a duration: a bare number of seconds (`300`, `2.5`), or units as jiff's friendly
/// format reads them, compound ones included: `500ms`, `90s`, `1.5s`, `5m`, `1h30m`, `1h 30m`,
/// `2 days`, `1d`, `1w` (days and weeks are 24 h and 7 × 24 h; months and years, whose length
/// varies, are refused). Negative durations are refused.
///
/// ```
/// use std::time::Duration;
/// use cachette_core::config::parse_duration;
///
/// assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
/// assert_eq!(parse_duration("300"), Some(Duration::from_secs(300)));
/// assert_eq!(parse_duration("-5s"), None);
/// ```
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let span: jiff::Span = text.parse().ok()?;
    let signed = span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()).ok()?;
    Duration::try_from(signed).ok()
}

/// `true`/`yes`/`on`/`1` or `false`/`no`/`off`/`0`, any case. Empty text is neither: an empty
/// `CACHE_IGNORE_ERRORS=` is more likely a template that lost its value than a deliberate "no".
pub(super) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// A parser's verdict: the value, or what was expected.
pub(super) type Parsed<T> = std::result::Result<T, String>;

pub(super) fn text(value: &ConfigValue) -> Parsed<String> {
    match value {
        ConfigValue::Str(s) => Ok(s.clone()),
        ConfigValue::Int(_) | ConfigValue::Float(_) | ConfigValue::Bool(_) => Ok(value.to_string()),
        _ => Err("expected a single text value".to_owned()),
    }
}

/// Empty text means "not set", so that `CACHE_REDIS_URL=` in an environment unsets it.
pub(super) fn optional(text: String) -> Option<String> {
    if text.trim().is_empty() { None } else { Some(text) }
}

pub(super) fn integer<T: TryFrom<u64>>(value: &ConfigValue, max: u64) -> Parsed<T> {
    let range = || format!("expected an integer from 0 to {max}");
    let n: u64 = match value {
        ConfigValue::Int(i) => u64::try_from(*i).map_err(|_| range())?,
        ConfigValue::Str(s) => s.trim().parse().map_err(|_| range())?,
        _ => return Err(range()),
    };
    if n > max {
        return Err(range());
    }
    T::try_from(n).map_err(|_| range())
}

/// A TCP port: 1 to 65535 (port 0 asks the system for any free port, which no server listens on).
pub(super) fn port(value: &ConfigValue) -> Parsed<u16> {
    let expected = || "expected a port from 1 to 65535".to_owned();
    match integer::<u16>(value, u16::MAX.into()) {
        Ok(0) | Err(_) => Err(expected()),
        Ok(port) => Ok(port),
    }
}

pub(super) fn boolean(value: &ConfigValue) -> Parsed<bool> {
    match value {
        ConfigValue::Bool(b) => Ok(*b),
        ConfigValue::Int(0) => Ok(false),
        ConfigValue::Int(1) => Ok(true),
        ConfigValue::Str(s) if s.trim().is_empty() => Err(
            "expected true or false (also yes/no, on/off, 1/0); an empty value is neither: remove the setting for the default (false)"
                .to_owned(),
        ),
        ConfigValue::Str(s) => {
            parse_bool(s).ok_or_else(|| "expected true or false (also yes/no, on/off, 1/0)".to_owned())
        }
        _ => Err("expected true or false".to_owned()),
    }
}

pub(super) fn timeout(value: &ConfigValue) -> Parsed<Expiry> {
    let expected = "expected seconds (0 = never expire) or a duration such as 90s, 5m, 1h";
    let duration = match value {
        ConfigValue::Int(i) if *i >= 0 => Duration::from_secs(*i as u64),
        ConfigValue::Float(x) => Duration::try_from_secs_f64(*x).map_err(|_| expected.to_owned())?,
        ConfigValue::Str(s) => parse_duration(s).ok_or_else(|| expected.to_owned())?,
        _ => return Err(expected.to_owned()),
    };
    Ok(if duration.is_zero() { Expiry::Never } else { Expiry::After(duration) })
}

/// A list: an array (TOML, JSON, a map's list), text that parses as a JSON array, or
/// comma-separated text. Text that starts with `[` but is not a JSON array is comma-separated
/// (`[::1]:11211,[::1]:11212` is two IPv6 addresses), unless it holds a `"`: then it was meant
/// as JSON, and the JSON error says what is wrong.
///
/// Comma-separated text drops empty items (`a,,b` is two), and empty text is an empty list (the
/// default); but text of only empty items (`,,`) is an error, not the default. An array is kept
/// as it is (an empty string may be a positional argument of `CACHE_ARGS`).
pub(super) fn list(value: &ConfigValue) -> Parsed<Vec<String>> {
    match value {
        ConfigValue::List(items) => items.iter().map(text).collect(),
        ConfigValue::Str(s) if s.trim_start().starts_with('[') => match serde_json::from_str::<Vec<ConfigValue>>(s) {
            Ok(items) => items.iter().map(text).collect(),
            Err(e) if s.contains('"') => Err(format!("looks like a JSON array but does not parse: {e}")),
            Err(_) => comma_separated(s),
        },
        ConfigValue::Str(s) => comma_separated(s),
        _ => Err("expected a list: comma-separated text or an array".to_owned()),
    }
}

fn comma_separated(text: &str) -> Parsed<Vec<String>> {
    let items: Vec<String> = text.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect();
    if items.is_empty() && !text.trim().is_empty() {
        return Err(
            "a list of only empty items; expected items separated by commas, e.g. 10.0.0.1:11211,10.0.0.2:11211 \
                    (leave the setting unset for its default)"
                .to_owned(),
        );
    }
    Ok(items)
}

pub(super) fn options(value: &ConfigValue) -> Parsed<Options> {
    let mut out = Options::default();
    match value {
        ConfigValue::Map(map) => {
            for (k, v) in map {
                out.insert(k.clone(), text(v).map_err(|_| format!("option {k:?}: expected a single value"))?);
            }
        }
        ConfigValue::Str(s) if s.trim_start().starts_with('{') => {
            let map: BTreeMap<String, ConfigValue> =
                serde_json::from_str(s).map_err(|e| format!("looks like a JSON object but does not parse: {e}"))?;
            return options(&ConfigValue::Map(map));
        }
        ConfigValue::Str(s) => {
            // The part is shown unless the value holds a secret: a part without `=` may be the
            // rest of a password that held a comma.
            let shows_secret = redact_options_text(s) != *s;
            for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (k, v) = part.split_once('=').ok_or_else(|| {
                    let part = if shows_secret { "an option".to_owned() } else { format!("option {part:?}") };
                    format!("{part} is not name=value (write e.g. pool_size=16,response_timeout=2s)")
                })?;
                out.insert(k.trim(), v.trim());
            }
        }
        _ => return Err("expected name=value pairs, a JSON object or a table".to_owned()),
    }
    Ok(out)
}

//! Reading and checking a [`Config`] for the memcached backends.

use std::time::Duration;

use cachette_core::{CacheError, Config, Result};

use crate::endpoints::TLS_OPTIONS;
use crate::pool::ConnSettings;
use crate::protocol::Protocol;
use crate::transport::Transport;

/// The `CACHE_OPTIONS` names this backend understands besides the TLS ones
/// ([`TLS_OPTIONS`]).
pub(crate) const OPTIONS: &[&str] =
    &["protocol", "pool_size", "connect_timeout", "response_timeout", "spread", "max_item_size"];

/// Default connections per server.
pub(crate) const DEFAULT_POOL_SIZE: usize = 16;
/// Default time to open a connection (and log in).
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default time for one exchange with a server.
pub(crate) const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// memcached's default item size limit (`-I 1m`).
pub(crate) const DEFAULT_MAX_ITEM_SIZE: usize = 1024 * 1024;
/// The smallest `max_item_size` accepted: pieces of a spread value need room beside their key.
const MIN_MAX_ITEM_SIZE: usize = 8 * 1024;

/// Which of the three type names built the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    Plain,
    Sasl,
    SpreadSasl,
}

impl Flavor {
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Flavor::Plain => crate::TYPE_NAME,
            Flavor::Sasl => crate::SASL_TYPE_NAME,
            Flavor::SpreadSasl => crate::SPREAD_SASL_TYPE_NAME,
        }
    }
}

/// Everything a cache needs from the config, checked.
#[derive(Clone)]
pub(crate) struct Settings {
    pub servers: Vec<Transport>,
    pub connection: ConnSettings,
    pub spread: bool,
    pub max_item_size: usize,
}

/// Written out so that the SASL password shows as `<redacted>` (a test's failure message prints it).
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.connection;
        f.debug_struct("Settings")
            .field("servers", &self.servers)
            .field("backend", &c.backend)
            .field("protocol", &c.protocol)
            .field("tls", &c.tls)
            .field("username", &c.username)
            .field("password", &c.password.as_ref().map(|_| cachette_core::config::REDACTED))
            .field("pool_size", &c.pool_size)
            .field("connect_timeout", &c.connect_timeout)
            .field("response_timeout", &c.response_timeout)
            .field("spread", &self.spread)
            .field("max_item_size", &self.max_item_size)
            .finish()
    }
}

impl Settings {
    pub(crate) fn from_config(config: &Config, flavor: Flavor) -> Result<Settings> {
        let backend = flavor.type_name();
        let options = &config.options;
        let known: Vec<&str> = OPTIONS.iter().chain(TLS_OPTIONS).copied().collect();
        options.reject_unknown(backend, &known)?;

        let (servers, tls) = crate::endpoints::parse(&config.memcached_servers, options)?;

        let (username, password) = (config.memcached_username.clone(), config.memcached_password.clone());
        match (&username, &password) {
            (Some(_), None) => {
                return Err(CacheError::config(
                    "CACHE_MEMCACHED_PASSWORD",
                    "",
                    "CACHE_MEMCACHED_USERNAME is set, so SASL needs the password too",
                ));
            }
            (None, Some(_)) => {
                return Err(CacheError::config(
                    "CACHE_MEMCACHED_USERNAME",
                    "",
                    "CACHE_MEMCACHED_PASSWORD is set, so SASL needs the user name too",
                ));
            }
            (None, None) if flavor == Flavor::Sasl => {
                return Err(CacheError::config(
                    "CACHE_MEMCACHED_USERNAME",
                    "",
                    "SASLMemcachedCache logs in with SASL: set CACHE_MEMCACHED_USERNAME and CACHE_MEMCACHED_PASSWORD \
                     (or use CACHE_TYPE=MemcachedCache for servers without authentication)",
                ));
            }
            _ => {}
        }

        let protocol = protocol(options.get("protocol"), username.is_some())?;

        let pool_size = match options.get_u64("pool_size")? {
            None => DEFAULT_POOL_SIZE,
            Some(n @ 1..=1024) => n as usize,
            Some(n) => {
                return Err(CacheError::config(
                    "CACHE_OPTIONS.pool_size",
                    n.to_string(),
                    "expected 1 to 1024 connections per server",
                ));
            }
        };
        let duration = |name: &str, default: Duration| -> Result<Duration> {
            Ok(options.get_positive_duration(name)?.unwrap_or(default))
        };
        let connect_timeout = duration("connect_timeout", DEFAULT_CONNECT_TIMEOUT)?;
        let response_timeout = duration("response_timeout", DEFAULT_RESPONSE_TIMEOUT)?;

        let spread = match (flavor, options.get_bool("spread")?) {
            (Flavor::SpreadSasl, Some(false)) => {
                return Err(CacheError::config(
                    "CACHE_OPTIONS.spread",
                    "false",
                    "SpreadSASLMemcachedCache always spreads large values; use CACHE_TYPE=SASLMemcachedCache (or \
                     MemcachedCache) with spread=false instead",
                ));
            }
            (_, Some(on)) => on,
            (_, None) => true,
        };

        let max_item_size = match options.get("max_item_size") {
            None => DEFAULT_MAX_ITEM_SIZE,
            Some(raw) => match parse_size(raw) {
                Some(n) if (MIN_MAX_ITEM_SIZE..=1 << 30).contains(&n) => n,
                _ => {
                    return Err(CacheError::config(
                        "CACHE_OPTIONS.max_item_size",
                        raw,
                        "expected the server's item size limit (memcached -I), e.g. 1m, 2m, 512k or a byte count, \
                         from 8k to 1g",
                    ));
                }
            },
        };

        Ok(Settings {
            servers,
            connection: ConnSettings {
                backend,
                protocol,
                tls,
                username,
                password,
                pool_size,
                connect_timeout,
                response_timeout,
            },
            spread,
            max_item_size,
        })
    }
}

/// `CACHE_OPTIONS.protocol`: `meta` unless credentials are given (SASL needs `binary`).
fn protocol(raw: Option<&str>, credentials: bool) -> Result<Protocol> {
    let chosen = match raw.map(|r| r.trim().to_ascii_lowercase()) {
        None => return Ok(if credentials { Protocol::Binary } else { Protocol::Meta }),
        Some(name) if name == "meta" => Protocol::Meta,
        Some(name) if name == "binary" => Protocol::Binary,
        Some(_) => {
            return Err(CacheError::config(
                "CACHE_OPTIONS.protocol",
                raw.unwrap_or_default(),
                "expected meta (memcached 1.6+, the default) or binary (needed for SASL)",
            ));
        }
    };
    if chosen == Protocol::Meta && credentials {
        return Err(CacheError::config(
            "CACHE_OPTIONS.protocol",
            raw.unwrap_or_default(),
            "SASL (CACHE_MEMCACHED_USERNAME / CACHE_MEMCACHED_PASSWORD) exists only on memcached's binary protocol; \
             remove protocol=meta (credentials choose binary) or the credentials",
        ));
    }
    Ok(chosen)
}

/// `1m`, `2M`, `512k`, `1048576`, `1g` (binary units, as memcached's -I).
fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim().to_ascii_lowercase();
    let text = text.strip_suffix('b').unwrap_or(&text);
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, ""),
    };
    let n: usize = number.parse().ok()?;
    let factor = match unit.trim() {
        "" => 1,
        "k" | "ki" => 1 << 10,
        "m" | "mi" => 1 << 20,
        "g" | "gi" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)], flavor: Flavor) -> Result<Settings> {
        Settings::from_config(&Config::from_map(pairs.iter().copied()).unwrap(), flavor)
    }

    /// The servers as shown in messages (`host:port` for plain TCP).
    fn shown(settings: &Settings) -> Vec<String> {
        settings.servers.iter().map(Transport::shown).collect()
    }

    #[test]
    fn defaults() {
        let s = settings(&[], Flavor::Plain).unwrap();
        assert_eq!(shown(&s), vec!["127.0.0.1:11211"]);
        assert!(s.spread);
        assert_eq!(s.max_item_size, 1 << 20);
        assert_eq!(s.connection.pool_size, DEFAULT_POOL_SIZE);
    }

    #[test]
    fn servers_are_checked() {
        let s = settings(&[("CACHE_MEMCACHED_SERVERS", "a:1, b ,[::1]:5,::1")], Flavor::Plain).unwrap();
        assert_eq!(shown(&s), vec!["a:1", "b:11211", "[::1]:5", "[::1]:11211"]);
        for bad in ["a:0", "a:x", "memcache://a:1", "a:1,a:1", "/tmp/mc.sock"] {
            let e = settings(&[("CACHE_MEMCACHED_SERVERS", bad)], Flavor::Plain).unwrap_err().to_string();
            assert!(e.contains("CACHE_MEMCACHED_SERVERS"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_list_of_only_blank_servers_is_an_error_not_the_default() {
        let mut config = Config::default();
        config.memcached_servers = vec![String::new(), " ".to_owned()];
        let e = Settings::from_config(&config, Flavor::Plain).unwrap_err().to_string();
        assert!(e.contains("CACHE_MEMCACHED_SERVERS") && e.contains("empty"), "{e}");
    }

    #[test]
    fn a_bare_bracketed_ipv6_address_gets_the_default_port() {
        let mut config = Config::default();
        config.memcached_servers = vec!["[::1]".to_owned(), "[::1]:5".to_owned()];
        let s = Settings::from_config(&config, Flavor::Plain).unwrap();
        assert_eq!(shown(&s), vec!["[::1]:11211", "[::1]:5"]);
    }

    #[test]
    fn a_server_url_with_a_password_is_refused_without_showing_it() {
        let mut config = Config::default();
        config.memcached_servers = vec!["memcache://app:S3CR3T-sentinel-value@10.0.0.1:11211".to_owned()];
        let e = Settings::from_config(&config, Flavor::Plain).unwrap_err();
        assert!(!format!("{e} {e:?}").contains("S3CR3T"), "{e}");
        assert!(e.to_string().contains("10.0.0.1:11211"), "{e}");
    }

    #[test]
    fn the_debug_of_settings_hides_the_password() {
        let s = settings(&[("CACHE_MEMCACHED_USERNAME", "u"), ("CACHE_MEMCACHED_PASSWORD", "S3CR3T")], Flavor::Sasl);
        let shown = format!("{:?}", s.unwrap());
        assert!(!shown.contains("S3CR3T") && shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn credentials_come_in_pairs_and_sasl_needs_them() {
        let e = settings(&[("CACHE_MEMCACHED_USERNAME", "u")], Flavor::Plain).unwrap_err().to_string();
        assert!(e.contains("CACHE_MEMCACHED_PASSWORD"), "{e}");
        let e = settings(&[], Flavor::Sasl).unwrap_err().to_string();
        assert!(e.contains("CACHE_MEMCACHED_USERNAME"), "{e}");
        assert!(settings(&[], Flavor::SpreadSasl).is_ok(), "spreading alone needs no credentials");
        let s = settings(&[("CACHE_MEMCACHED_USERNAME", "u"), ("CACHE_MEMCACHED_PASSWORD", "p")], Flavor::Sasl);
        assert_eq!(s.unwrap().connection.username.as_deref(), Some("u"));
    }

    #[test]
    fn options() {
        let s = settings(
            &[("CACHE_OPTIONS", "pool_size=4,connect_timeout=250ms,response_timeout=5s,spread=false,max_item_size=2m")],
            Flavor::Plain,
        )
        .unwrap();
        assert_eq!(s.connection.pool_size, 4);
        assert_eq!(s.connection.connect_timeout, Duration::from_millis(250));
        assert_eq!(s.connection.response_timeout, Duration::from_secs(5));
        assert!(!s.spread);
        assert_eq!(s.max_item_size, 2 << 20);
        for (bad, named) in [
            ("pool_sise=3", "CACHE_OPTIONS.pool_sise"),
            ("pool_size=0", "CACHE_OPTIONS.pool_size"),
            ("max_item_size=lots", "CACHE_OPTIONS.max_item_size"),
            ("max_item_size=1k", "CACHE_OPTIONS.max_item_size"),
            ("response_timeout=0", "CACHE_OPTIONS.response_timeout"),
        ] {
            let e = settings(&[("CACHE_OPTIONS", bad)], Flavor::Plain).unwrap_err().to_string();
            assert!(e.contains(named), "{bad}: {e}");
        }
        let e = settings(&[("CACHE_OPTIONS", "spread=false")], Flavor::SpreadSasl).unwrap_err().to_string();
        assert!(e.contains("CACHE_OPTIONS.spread"), "{e}");
    }

    #[test]
    fn the_protocol_is_meta_unless_credentials_need_binary() {
        let protocol = |pairs: &[(&str, &str)]| settings(pairs, Flavor::Plain).map(|s| s.connection.protocol);
        assert_eq!(protocol(&[]).unwrap(), Protocol::Meta);
        assert_eq!(protocol(&[("CACHE_OPTIONS", "protocol=Binary")]).unwrap(), Protocol::Binary);
        let credentials = [("CACHE_MEMCACHED_USERNAME", "u"), ("CACHE_MEMCACHED_PASSWORD", "p")];
        assert_eq!(protocol(&credentials).unwrap(), Protocol::Binary);
        let e = protocol(&[credentials[0], credentials[1], ("CACHE_OPTIONS", "protocol=meta")]).unwrap_err();
        assert!(e.to_string().contains("CACHE_OPTIONS.protocol") && e.to_string().contains("SASL"), "{e}");
        let e = protocol(&[("CACHE_OPTIONS", "protocol=ascii")]).unwrap_err().to_string();
        assert!(e.contains("CACHE_OPTIONS.protocol") && e.contains("meta"), "{e}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1m"), Some(1 << 20));
        assert_eq!(parse_size("512K"), Some(512 << 10));
        assert_eq!(parse_size("2MB"), Some(2 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("m"), None);
        assert_eq!(parse_size("1t"), None);
    }
}

//! The server list: `CACHE_MEMCACHED_SERVERS` entries (`host:port`, `tls://host:port`,
//! `unix:/path`) and the TLS options of `CACHE_OPTIONS` that go with them.

use std::path::PathBuf;
use std::sync::Arc;

use cachette_core::config::{Options, redact_url};
use cachette_core::tls::TlsFiles;
use cachette_core::{CacheError, Result};
use rustls::pki_types::ServerName;

use crate::transport::Transport;

/// The TLS options of `CACHE_OPTIONS`: `tls`, the certificate files, `tls_server_name`.
pub(crate) const TLS_OPTIONS: &[&str] = &["tls", "tls_ca_file", "tls_cert_file", "tls_key_file", "tls_server_name"];

const SERVER_NAME_SETTING: &str = "CACHE_OPTIONS.tls_server_name";

/// How TLS connections are made: the rustls configuration, and what a failed handshake is
/// explained with.
#[derive(Clone)]
pub(crate) struct TlsSetup {
    pub config: Arc<rustls::ClientConfig>,
    pub files: TlsFiles,
    /// The setting that gave the name the server's certificate must be valid for.
    pub name_setting: &'static str,
}

impl std::fmt::Debug for TlsSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSetup").field("files", &self.files).field("name_setting", &self.name_setting).finish()
    }
}

/// The servers, and the TLS set-up when any of them is reached over TLS.
pub(crate) fn parse(entries: &[String], options: &Options) -> Result<(Vec<Transport>, Option<TlsSetup>)> {
    let tls_everywhere = options.get_bool("tls")?.unwrap_or(false);
    let server_name = options.get("tls_server_name").map(str::trim).filter(|n| !n.is_empty());
    let mut servers = Vec::new();
    for entry in parse_entries(entries)? {
        servers.push(match entry {
            Entry::Unix(path) => Transport::Unix(path),
            Entry::Tcp { addr, host, tls } if tls || tls_everywhere => {
                let name = server_name.unwrap_or(&host);
                let name = ServerName::try_from(name.to_owned()).map_err(|e| {
                    let key = if server_name.is_some() { SERVER_NAME_SETTING } else { "CACHE_MEMCACHED_SERVERS" };
                    CacheError::config(
                        key,
                        name,
                        format!("not a host name or IP address to check the certificate for: {e}"),
                    )
                })?;
                Transport::Tls { addr, name }
            }
            Entry::Tcp { addr, .. } => Transport::Tcp(addr),
        });
    }
    let files = TlsFiles::from_options(options)?;
    if !servers.iter().any(|s| matches!(s, Transport::Tls { .. })) {
        let set = ["tls_ca_file", "tls_cert_file", "tls_key_file", "tls_server_name"]
            .into_iter()
            .find(|name| options.get(name).is_some());
        if let Some(name) = set {
            return Err(CacheError::config(
                format!("CACHE_OPTIONS.{name}"),
                options.get(name).unwrap_or_default(),
                "no server is reached over TLS; write the entries of CACHE_MEMCACHED_SERVERS as tls://host:port, or set \
                 CACHE_OPTIONS tls=true",
            ));
        }
        return Ok((servers, None));
    }
    cachette_core::tls::install_provider();
    // No session resumption: memcached (1.6.18 at least) sets no session id context, so with
    // client certificates required it aborts every resumed handshake with an `internal_error`
    // alert (OpenSSL's "session id context uninitialized"). With rustls's default resumption,
    // 36 to 52 of 2,560 connections opened 64 at a time failed so; without it, none. Connections
    // are pooled, so the full handshake is paid once per connection.
    let mut config = (*files.client_config()?).clone();
    config.resumption = rustls::client::Resumption::disabled();
    let config = Arc::new(config);
    let name_setting = if server_name.is_some() { SERVER_NAME_SETTING } else { "CACHE_MEMCACHED_SERVERS" };
    Ok((servers, Some(TlsSetup { config, files, name_setting })))
}

/// One entry, checked.
enum Entry {
    Tcp { addr: String, host: String, tls: bool },
    Unix(PathBuf),
}

/// `host:port` entries; a bare host (`cache1`, `::1`, `[::1]`) gets memcached's port 11211; no
/// entry at all means `127.0.0.1:11211` (Flask-Caching's default), but entries that are all
/// blank are an error: a list that lost its items is not a request for the default.
fn parse_entries(entries: &[String]) -> Result<Vec<Entry>> {
    let list = entries.join(",");
    let bad = |message: String| CacheError::config("CACHE_MEMCACHED_SERVERS", &list, message);
    if !entries.is_empty() && entries.iter().all(|e| e.trim().is_empty()) {
        return Err(bad("a list of only empty items; expected host:port entries separated by commas, e.g. \
                        10.0.0.1:11211,10.0.0.2:11211 (leave it unset for 127.0.0.1:11211)"
            .to_owned()));
    }
    let mut out: Vec<Entry> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        let (parsed, ring) = if let Some(path) = entry.strip_prefix("unix:") {
            // `unix:/path` and `unix:///path` (the URL form) both name /path.
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(bad(format!("{entry:?}: expected unix:/path/to/memcached.sock")));
            }
            (Entry::Unix(PathBuf::from(path)), format!("unix:{path}"))
        } else {
            let (rest, tls) = match entry.strip_prefix("tls://") {
                Some(rest) => (rest, true),
                None => (entry, false),
            };
            if rest.contains("://") || rest.starts_with('/') {
                // The entry is shown without the password a URL may hold.
                return Err(bad(format!(
                    "{:?}: expected host:port, tls://host:port or unix:/path/to/socket (no other URLs), e.g. \
                     127.0.0.1:11211",
                    redact_url(entry)
                )));
            }
            let (addr, host) = host_port(rest).map_err(bad)?;
            (Entry::Tcp { addr: addr.clone(), host, tls }, addr)
        };
        if seen.contains(&ring) {
            return Err(bad(format!("{ring} is listed twice")));
        }
        seen.push(ring);
        out.push(parsed);
    }
    if out.is_empty() {
        out.push(Entry::Tcp { addr: "127.0.0.1:11211".to_owned(), host: "127.0.0.1".to_owned(), tls: false });
    }
    Ok(out)
}

/// `host:port` with the default port filled in, and the host alone (no brackets).
fn host_port(entry: &str) -> std::result::Result<(String, String), String> {
    let bare_v6 = entry.strip_prefix('[').and_then(|e| e.strip_suffix(']')).unwrap_or(entry);
    if let Ok(addr) = entry.parse::<std::net::SocketAddr>() {
        return Ok((entry.to_owned(), addr.ip().to_string()));
    }
    if bare_v6.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok((format!("[{bare_v6}]:11211"), bare_v6.to_owned()));
    }
    match entry.rsplit_once(':') {
        None => Ok((format!("{entry}:11211"), entry.to_owned())),
        Some((host, port)) => {
            if host.is_empty() || host.contains(':') || port.parse::<u16>().map_or(true, |p| p == 0) {
                return Err(format!("{entry:?}: expected host:port with a port from 1 to 65535, e.g. 127.0.0.1:11211"));
            }
            Ok((entry.to_owned(), host.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(list: &str, options: &str) -> Result<Vec<String>> {
        let config = cachette_core::Config::from_map([("CACHE_MEMCACHED_SERVERS", list), ("CACHE_OPTIONS", options)])?;
        Ok(parse(&config.memcached_servers, &config.options)?.0.iter().map(Transport::shown).collect())
    }

    #[test]
    fn unix_and_tls_entries_are_read() {
        let shown = servers("unix:/run/mc.sock, unix:///tmp/b.sock, tls://a:1, b", "").unwrap();
        assert_eq!(shown, ["unix:/run/mc.sock", "unix:/tmp/b.sock", "tls://a:1", "b:11211"]);
        assert_eq!(servers("a:1,[::1]", "tls=true").unwrap(), ["tls://a:1", "tls://[::1]:11211"]);
    }

    #[test]
    fn a_server_listed_with_and_without_tls_is_listed_twice() {
        let e = servers("a:1,tls://a:1", "").unwrap_err().to_string();
        assert!(e.contains("listed twice"), "{e}");
        assert!(servers("unix:", "").unwrap_err().to_string().contains("unix:/path"));
    }

    #[test]
    fn tls_files_without_a_tls_server_are_an_error_naming_the_option() {
        let e = servers("a:1", "tls_ca_file=/ca.pem").unwrap_err().to_string();
        assert!(e.contains("CACHE_OPTIONS.tls_ca_file") && e.contains("tls://"), "{e}");
        let e = servers("tls://a:1", "tls_ca_file=/no/such/ca.pem").unwrap_err().to_string();
        assert!(e.contains("CACHE_OPTIONS.tls_ca_file") && e.contains("cannot read"), "{e}");
        let e = servers("tls://a:1", "tls_cert_file=/c.pem").unwrap_err().to_string();
        assert!(e.contains("CACHE_OPTIONS.tls_key_file"), "{e}");
    }
}

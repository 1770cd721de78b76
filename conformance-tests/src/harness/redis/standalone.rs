//! A standalone redis-server: [`RedisServer`] (started per test, for fault tests) and
//! [`standalone`] (one for the whole test process).

use std::path::PathBuf;
use std::sync::OnceLock;

use cachette_core::Config;

use super::{RedisOptions, URL_ENV};
use crate::harness::keep::KeepForProcess;
use crate::harness::server::Server;

/// Where a cache under test finds a standalone Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisTarget {
    /// `redis://[user:password@]127.0.0.1:<port>`.
    pub url: String,
}

impl RedisTarget {
    /// Sets `CACHE_REDIS_URL`.
    pub fn apply(&self, config: &mut Config) {
        config.redis_url = Some(self.url.clone());
    }
}

/// A redis-server on a loopback port, killed when this value is dropped (and when the test
/// process dies). [`Server`]'s methods start, kill and restart it; these are Redis's own.
///
/// ```no_run
/// use cachette_conformance::harness::redis::{RedisOptions, RedisServer};
///
/// let mut server = RedisServer::start_with(RedisOptions::new().password("secret"));
/// assert_eq!(server.cli(&["PING"]).trim(), "PONG");
/// server.kill();    // the port refuses connections now
/// server.restart(); // the same port answers again, empty
/// ```
pub type RedisServer = Server<RedisOptions>;

impl Server<RedisOptions> {
    /// `redis://[:password@]127.0.0.1:<port>` (the default user); `rediss://localhost:<port>`
    /// for a TLS server.
    pub fn url(&self) -> String {
        self.options().url(self.port())
    }

    /// This server as a target.
    pub fn target(&self) -> RedisTarget {
        RedisTarget { url: self.url() }
    }

    /// Runs one command with redis-cli (authenticated as the default user) and returns its raw
    /// output (`--no-raw` off: plain values, one per line).
    pub fn cli(&self, args: &[&str]) -> String {
        self.options().cli(self.port(), self.dir(), args)
    }

    /// The PEM file of the CA that signed a TLS server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir().join("ca.crt")
    }

    /// Closes every client connection named `name` (`CLIENT LIST`, then `CLIENT KILL ID` for
    /// each), as a network fault would; returns how many it closed.
    pub fn kill_clients_named(&self, name: &str) -> usize {
        let list = self.cli(&["CLIENT", "LIST"]);
        let ids: Vec<&str> = list
            .lines()
            .filter(|line| line.split_whitespace().any(|field| field == format!("name={name}")))
            .filter_map(|line| line.split_whitespace().find_map(|field| field.strip_prefix("id=")))
            .collect();
        ids.iter().filter(|id| self.cli(&["CLIENT", "KILL", "ID", id]).trim() == "1").count()
    }

    /// One field of `INFO <section>`, e.g. `info_field("commandstats", "cmdstat_mget")`.
    pub fn info_field(&self, section: &str, field: &str) -> Option<String> {
        let info = self.cli(&["INFO", section]);
        info.lines().find_map(|line| line.trim().strip_prefix(&format!("{field}:")).map(str::to_owned))
    }
}

/// A plain redis-server shared by the tests of this process (or `CACHETTE_TEST_REDIS_URL`).
pub fn standalone() -> RedisTarget {
    if let Ok(url) = std::env::var(URL_ENV) {
        return RedisTarget { url };
    }
    static SERVER: OnceLock<RedisServer> = OnceLock::new();
    SERVER.get_or_init(|| RedisServer::start().keep_for_process()).target()
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;
    use crate::harness::redis::cli;

    #[test]
    fn standalone_answers_and_restarts_on_the_same_port() {
        let mut server = RedisServer::start();
        assert_eq!(server.cli(&["SET", "k", "v"]).trim(), "OK");
        let port = server.port();
        server.kill();
        assert!(std::net::TcpStream::connect(server.address()).is_err());
        server.restart();
        assert_eq!(server.port(), port);
        assert_eq!(server.cli(&["PING"]).trim(), "PONG");
    }

    #[test]
    fn a_password_and_an_acl_user_both_authenticate() {
        let server = RedisServer::start_with(RedisOptions::new().password("secret").acl_user("app", "apppass"));
        assert_eq!(server.cli(&["PING"]).trim(), "PONG");
        assert!(cli(server.port(), None, &["PING"]).contains("NOAUTH"));
        assert!(server.url().starts_with("redis://:secret@"));
        let out = Command::new("redis-cli")
            .args(["-p", &server.port().to_string(), "--user", "app", "--pass", "apppass", "--no-auth-warning", "PING"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "PONG");
    }

    #[test]
    fn shared_standalone_is_reused() {
        assert_eq!(standalone(), standalone());
    }
}

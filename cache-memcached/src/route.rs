//! Which server holds a key: rendezvous hashing over the configured servers (the hash itself is
//! `keys::pick`), and the grouping of a batch of keys by server.

use crate::Inner;
use crate::keys::{self, Body};

/// A key, its server and the generation-independent part of its memcached key.
pub(crate) struct Located<'k> {
    pub key: &'k str,
    pub server: usize,
    pub body: Body,
}

impl Inner {
    /// Where `key` lives.
    pub(crate) fn locate<'k>(&self, key: &'k str) -> Located<'k> {
        let server = if self.servers.len() == 1 {
            0
        } else {
            keys::pick(self.servers.iter().map(|s| s.seed), self.keys.route(key))
        };
        Located { key, server, body: self.keys.body(key) }
    }

    /// `keys` grouped by server (one group per server, by index), each with its position in `keys`.
    pub(crate) fn group_by_server<'k>(&self, keys: impl Iterator<Item = &'k str>) -> Vec<Vec<(usize, Body)>> {
        let mut groups: Vec<Vec<(usize, Body)>> = vec![Vec::new(); self.servers.len()];
        for (i, key) in keys.enumerate() {
            let at = self.locate(key);
            groups[at.server].push((i, at.body));
        }
        groups
    }
}

/// The groups of `groups` (one per server, by index) that have something to send.
pub(crate) fn occupied<T>(groups: &[Vec<T>]) -> impl Iterator<Item = (usize, &Vec<T>)> {
    groups.iter().enumerate().filter(|(_, g)| !g.is_empty())
}

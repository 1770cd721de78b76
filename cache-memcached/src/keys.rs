//! Mapping of cache keys to memcached keys, and of keys to servers.
//!
//! memcached keys are at most 250 bytes of printable ASCII without spaces. Every key this backend
//! writes has the form
//!
//! ```text
//! ck:<16 hex: hash of CACHE_KEY_PREFIX>:<16 hex: namespace generation>=<the key>     key safe and short
//! ck:<16 hex: hash of CACHE_KEY_PREFIX>:<16 hex: namespace generation>#<64 hex: blake3 of the key>
//! ck:<16 hex: hash of CACHE_KEY_PREFIX>:gen                                      the generation itself
//! ck:<16 hex: hash of CACHE_KEY_PREFIX>:chunk:<32 hex: write id>:<n>             pieces of a spread value
//! ```
//!
//! The mapping is injective: the fixed-width fields and the `=` / `#` marker keep a verbatim key
//! from ever equalling a hashed one, and a prefix's keys from reaching into another prefix's.

/// The longest key memcached accepts.
pub(crate) const MAX_KEY: usize = 250;

/// `ck:` + 16 hex + `:` — the start of every key of one prefix.
const NS_LEN: usize = 3 + 16 + 1;
/// The part in front of the body of a data key: namespace + 16 hex of generation.
pub(crate) const DATA_HEAD: usize = NS_LEN + 16;

/// The keys of one `CACHE_KEY_PREFIX`.
#[derive(Debug, Clone)]
pub(crate) struct KeySpace {
    /// `ck:<prefix hash>:`
    ns: String,
    generation_key: String,
    route_seed: [u8; 32],
}

/// A cache key as it appears after the namespace: `=key` or `#hash`.
pub(crate) type Body = String;

impl KeySpace {
    pub(crate) fn new(prefix: &str) -> KeySpace {
        let hash = blake3::hash(prefix.as_bytes());
        let ns = format!("ck:{}:", hex(&hash.as_bytes()[..8]));
        let generation_key = format!("{ns}gen");
        KeySpace { ns, generation_key, route_seed: *hash.as_bytes() }
    }

    /// The key holding this prefix's namespace generation (one per server).
    pub(crate) fn generation_key(&self) -> &str {
        &self.generation_key
    }

    /// The gen-independent part of `key`'s memcached key.
    pub(crate) fn body(&self, key: &str) -> Body {
        if DATA_HEAD + 1 + key.len() <= MAX_KEY && key.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            let mut body = String::with_capacity(1 + key.len());
            body.push('=');
            body.push_str(key);
            body
        } else {
            format!("#{}", blake3::hash(key.as_bytes()).to_hex())
        }
    }

    /// The memcached key of `body` in namespace generation `generation`.
    pub(crate) fn data_key(&self, generation: u64, body: &str) -> String {
        use std::fmt::Write;
        let mut key = String::with_capacity(DATA_HEAD + body.len());
        key.push_str(&self.ns);
        let _ = write!(key, "{generation:016x}");
        key.push_str(body);
        debug_assert!(key.len() <= MAX_KEY);
        key
    }

    /// The memcached key of piece `index` of the spread value written with `id`.
    pub(crate) fn chunk_key(&self, id: u128, index: u32) -> String {
        format!("{}chunk:{id:032x}:{index}", self.ns)
    }

    /// Where `key` lives among several servers: a hash of the prefix and the key (not of the
    /// generation, so `clear` moves nothing).
    pub(crate) fn route(&self, key: &str) -> u64 {
        let hash = blake3::keyed_hash(&self.route_seed, key.as_bytes());
        u64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("8 bytes"))
    }

    /// Where piece `index` of a spread value lives.
    pub(crate) fn chunk_route(id: u128, index: u32) -> u64 {
        mix((id as u64) ^ mix((id >> 64) as u64 ^ mix(u64::from(index))))
    }
}

/// Rendezvous (highest-random-weight) hashing: the server with the highest score for `route`.
/// Adding a server to N moves only the keys that now score highest there, about 1/(N+1) of them,
/// and removing one moves only its own keys.
pub(crate) fn pick(seeds: impl Iterator<Item = u64>, route: u64) -> usize {
    let mut best = (0usize, 0u64);
    for (i, seed) in seeds.enumerate() {
        let score = mix(route ^ seed);
        if i == 0 || score > best.1 {
            best = (i, score);
        }
    }
    best.0
}

/// A server's seed: a hash of its address as configured.
pub(crate) fn server_seed(addr: &str) -> u64 {
    u64::from_le_bytes(blake3::hash(addr.as_bytes()).as_bytes()[..8].try_into().expect("8 bytes"))
}

/// splitmix64's finalizer: a bijective mix, so distinct inputs score independently.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(key: &str) -> bool {
        key.len() <= MAX_KEY && key.bytes().all(|b| (0x21..=0x7e).contains(&b))
    }

    #[test]
    fn every_key_maps_to_a_valid_distinct_memcached_key() {
        let space = KeySpace::new("app:");
        let long = "0123456789".repeat(30);
        let keys =
            ["k", "K", "k ", " k", "k\n", "ключ/鍵/🔑", &long, &"x".repeat(213), &"x".repeat(214), "#abc", "=abc"];
        let mut seen = std::collections::HashSet::new();
        for key in keys {
            let mapped = space.data_key(u64::MAX - 1, &space.body(key));
            assert!(valid(&mapped), "{key:?} -> {mapped:?}");
            assert!(seen.insert(mapped), "{key:?} collides");
        }
        assert!(space.body("plain-key").starts_with("=plain-key"), "safe keys stay readable");
        assert!(valid(space.generation_key()) && valid(&space.chunk_key(u128::MAX, u32::MAX)));
    }

    #[test]
    fn prefixes_and_generations_separate_keys() {
        let (a, b) = (KeySpace::new("a:"), KeySpace::new("b:"));
        assert_ne!(a.data_key(1, &a.body("k")), b.data_key(1, &b.body("k")));
        assert_ne!(a.data_key(1, &a.body("k")), a.data_key(2, &a.body("k")));
        assert_ne!(a.generation_key(), b.generation_key());
        // a generation key and a chunk key never look like a data key (16 hex digits after ns)
        assert!(!a.generation_key()[NS_LEN..].chars().take(16).all(|c| c.is_ascii_hexdigit()));
        assert!(!a.chunk_key(1, 0)[NS_LEN..].chars().take(16).all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn adding_a_server_moves_about_one_in_n_plus_one_keys() {
        let space = KeySpace::new("app:");
        for n in [1usize, 2, 3, 5] {
            let before: Vec<String> = (0..n).map(|i| format!("10.0.0.{i}:11211")).collect();
            let mut after = before.clone();
            after.push(format!("10.0.0.{n}:11211"));
            let seeds = |servers: &[String]| servers.iter().map(|s| server_seed(s)).collect::<Vec<_>>();
            let (s1, s2) = (seeds(&before), seeds(&after));
            let total = 20_000;
            let mut moved = 0;
            for i in 0..total {
                let route = space.route(&format!("key-{i}"));
                let (from, to) = (pick(s1.iter().copied(), route), pick(s2.iter().copied(), route));
                if from != to {
                    assert_eq!(to, n, "a key may only move to the new server");
                    moved += 1;
                }
            }
            let share = moved as f64 / total as f64;
            let expected = 1.0 / (n as f64 + 1.0);
            assert!((share - expected).abs() < 0.03, "{n}->{}: moved {share:.3}, expected about {expected:.3}", n + 1);
        }
    }

    #[test]
    fn keys_spread_evenly() {
        let space = KeySpace::new("");
        let seeds: Vec<u64> = (0..4).map(|i| server_seed(&format!("s{i}:11211"))).collect();
        let mut counts = [0usize; 4];
        for i in 0..40_000 {
            counts[pick(seeds.iter().copied(), space.route(&i.to_string()))] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }
}

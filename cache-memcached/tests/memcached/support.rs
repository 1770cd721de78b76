//! What the memcached-specific tests share: caches on fresh prefixes, large deterministic values,
//! and a look at the server's own view (ASCII commands, `lru_crawler metadump`).

use std::time::Duration;

use cachette_conformance::harness::memcached::MemcachedTarget;
use cachette_core::{Bytes, Config};

pub(crate) fn unique_prefix(name: &str) -> String {
    format!("mc-test:{name}:{:08x}:", rand::random::<u32>())
}

pub(crate) fn config(target: &MemcachedTarget, prefix: &str, options: &str) -> Config {
    let mut config = Config::from_map([("CACHE_KEY_PREFIX", prefix), ("CACHE_OPTIONS", options)]).unwrap();
    target.apply(&mut config);
    config
}

/// Sets `CACHE_OPTIONS.protocol`, unless the test chose one itself.
pub(crate) fn choose(protocol: &str, config: &mut Config) {
    if config.options.get("protocol").is_none() {
        config.options.insert("protocol", protocol);
    }
}

/// Deterministic bytes that differ between seeds and positions (so swapped pieces would show).
pub(crate) fn big(len: usize, seed: u64) -> Bytes {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

pub(crate) const MIB: usize = 1 << 20;

pub(crate) fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// One ASCII command; the answer up to `END` (or its first line for single-line answers).
pub(crate) fn ascii(addr: &str, command: &str) -> String {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(command.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let mut out = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let done = line == "END\r\n" || !(line.starts_with("key=") || line.starts_with("STAT "));
        out.push_str(&line);
        if done {
            break;
        }
    }
    out
}

/// `lru_crawler metadump` lines of the keys (URL-decoded) containing `needle`: (key, exp).
pub(crate) fn dump(addr: &str, needle: &str) -> Vec<(String, i64)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }
    // The crawler answers BUSY while another crawl of this server runs: wait for it.
    let mut listing = ascii(addr, "lru_crawler metadump all\r\n");
    for _ in 0..100 {
        if !listing.starts_with("BUSY") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        listing = ascii(addr, "lru_crawler metadump all\r\n");
    }
    listing
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let key = decode(fields.next()?.strip_prefix("key=")?);
            let exp = fields.next()?.strip_prefix("exp=")?.parse().ok()?;
            key.contains(needle).then_some((key, exp))
        })
        .collect()
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

//! Values read with their expiry, for the in-process tier
//! ([`BaseCache::get_many_with_expiry`](cachette_core::BaseCache::get_many_with_expiry)).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use cachette_core::{Bytes, Expiry, Result};
use redis::cluster_routing::Slot;
use redis::{Pipeline, Value};

use super::RedisBackend;
use crate::topology::Topology;

/// One key's answers: the value and its `PTTL`.
type Answer = (Option<Vec<u8>>, i64);

impl<T: Topology> RedisBackend<T> {
    /// `GET` and `PTTL` of every key in one pipeline (one per hash slot on a cluster, sent
    /// concurrently). The deadline counts from before the pipeline was sent, so it is never
    /// later than the server's.
    pub(super) async fn get_many_expiring(&self, keys: &[&str]) -> Result<Vec<Option<(Bytes, Option<Expiry>)>>> {
        let sent = SystemTime::now();
        let stored: Vec<String> = keys.iter().map(|k| self.stored_key(k)).collect();
        let mut groups: HashMap<Option<Slot>, Vec<usize>> = HashMap::new();
        for (i, key) in stored.iter().enumerate() {
            groups.entry(T::CLUSTER.then(|| Slot::for_key(key.as_bytes()))).or_default().push(i);
        }
        let pipes: Vec<(Vec<usize>, Pipeline)> = groups
            .into_values()
            .map(|indices| {
                let mut pipe = redis::pipe();
                for &i in &indices {
                    pipe.cmd("GET").arg(&stored[i]).cmd("PTTL").arg(&stored[i]);
                }
                (indices, pipe)
            })
            .collect();
        let answers = futures::future::try_join_all(
            pipes.iter().map(|(_, pipe)| self.query_pipe::<Vec<Value>>("get_many_with_expiry", pipe)),
        )
        .await?;
        let mut out = vec![None; keys.len()];
        for ((indices, _), values) in pipes.iter().zip(answers) {
            let mut values = values.into_iter();
            for &i in indices {
                let (value, ttl): Answer = match (values.next(), values.next()) {
                    (Some(v), Some(t)) => {
                        (redis::from_redis_value(v).ok().flatten(), redis::from_redis_value(t).unwrap_or(-2))
                    }
                    _ => (None, -2),
                };
                out[i] = value.and_then(|v| expiring(v, ttl, sent));
            }
        }
        Ok(out)
    }
}

/// A value and the expiry `PTTL` gave: -1 is none; -2 (gone between the two commands) keeps
/// nothing.
fn expiring(value: Vec<u8>, pttl: i64, sent: SystemTime) -> Option<(Bytes, Option<Expiry>)> {
    let expiry = match pttl {
        -1 => Expiry::Never,
        ms if ms >= 0 => Expiry::At(sent + Duration::from_millis(ms as u64)),
        _ => return None,
    };
    Some((Bytes::from(value), Some(expiry)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pttl_becomes_a_deadline_counted_from_the_send() {
        let sent = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let at = |ms| expiring(b"v".to_vec(), ms, sent).map(|(_, e)| e);
        assert_eq!(at(-1), Some(Some(Expiry::Never)));
        assert_eq!(at(1500), Some(Some(Expiry::At(sent + Duration::from_millis(1500)))));
        assert_eq!(at(-2), None, "removed between GET and PTTL");
    }
}

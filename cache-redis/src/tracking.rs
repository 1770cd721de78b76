//! Client tracking: the [`ChangeFeed`] of every Redis backend, from RESP3 invalidation messages.
//!
//! One connection per server that holds keys (the server; Sentinel's master; every Cluster
//! master) speaks RESP3 and runs `CLIENT TRACKING ON BCAST PREFIX <len>:<prefix>`, the head of
//! every stored key of this cache (see [Keys on the server](crate#keys-on-the-server)). The
//! server then pushes the stored name of every key with that head that any client changes,
//! deletes or lets expire, after the change; the key space that stored it maps it back to the
//! cache's key (one encoding, both ways), and a `FLUSHDB` / `FLUSHALL` comes as "all". The
//! connections are named `cachette-tracking` in `CLIENT LIST` and do nothing else.
//!
//! **Why not `NOLOOP`.** `NOLOOP` drops the keys changed by the tracking connection itself, and
//! this one changes nothing: the cache's commands go on their own connections. So this process's
//! own writes come back too, and evict the value the tier kept on the write; the next read of
//! that key in this process goes to Redis once. Skipping "our own" invalidations by bookkeeping
//! instead would be unsafe: Redis sends one message per key per event-loop cycle, so another
//! process's write of the same key in that cycle would be skipped with ours. (Tracking on the
//! command connections with `REDIRECT` + `NOLOOP` would skip only the writes of the connection
//! that enabled it, and is lost silently when the reconnecting connection reconnects.)
//!
//! **Losing it.** The feed reports [`Change::Lost`] when a connection closes (`CLIENT KILL`, a
//! restart, the server's output-buffer limit), when a server does not answer `ROLE` within 1 s
//! (asked every [`CHECK_EVERY`]: a stalled server, or a dead one whose socket stays open), when
//! a master answers as a replica (a Sentinel or Cluster failover), and when a Cluster's masters or
//! slots change (compared every second). It then connects again, at once and then backing off
//! from 50 ms to 2 s, and reports [`Change::Following`] once every server tracks again.
//!
//! Tracking in broadcast mode is per server, not per database: keys with this head written in
//! another database of the same server are reported too (a needless eviction, never a missed
//! one).

use std::sync::Arc;
use std::time::Duration;

use cachette_core::CacheError;
use cachette_core::change_feed::{Change, ChangeFeed, ChangeSender};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ErrorKind, PushInfo, PushKind, RedisError, Value};
use tokio::sync::mpsc;

use crate::keys::KeySpace;
use crate::topology::{Topology, TrackedServers};

/// How often every tracked server is asked `ROLE`.
pub const CHECK_EVERY: Duration = Duration::from_millis(500);
/// How long an answer to `ROLE` may take before the server counts as lost.
const CHECK_LIMIT: Duration = Duration::from_secs(1);
/// How often a layout that can change (Cluster) is compared.
const LAYOUT_EVERY: Duration = Duration::from_secs(1);
const RETRY_MIN: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(2);
/// The tracking connections' name in `CLIENT LIST`.
pub const CONNECTION_NAME: &str = "cachette-tracking";

/// The change feed of a backend on `topology` whose keys are stored in `keys`.
pub(crate) fn feed<T: Topology>(topology: Arc<T>, keys: KeySpace) -> ChangeFeed {
    ChangeFeed::new(move |changes| follow(topology, keys, changes))
}

/// The connections of one tracking session.
struct Session {
    id: u64,
    servers: Vec<(String, MultiplexedConnection)>,
    masters_only: bool,
    layout: Option<String>,
}

async fn follow<T: Topology>(topology: Arc<T>, keys: KeySpace, changes: ChangeSender) {
    // Disconnection pushes, tagged with their session so that a late one of an old session is
    // not taken for a loss of the current one.
    let (closed_tx, mut closed) = mpsc::unbounded_channel::<u64>();
    let mut wait = Duration::ZERO;
    let mut refusal_logged = false;
    for id in 1.. {
        tokio::time::sleep(wait).await;
        if changes.is_closed() {
            return;
        }
        match start(&*topology, &keys, &changes, id, &closed_tx).await {
            Ok(session) => {
                refusal_logged = false;
                if !changes.send(Change::Following) {
                    return;
                }
                tracing::debug!(
                    prefix = keys.head(),
                    servers = session.servers.len(),
                    "client tracking follows the cache's keys"
                );
                let why = watch(&*topology, &session, &mut closed).await;
                tracing::warn!(prefix = keys.head(), reason = %why, "client tracking lost; the in-process tier is flushed and bypassed until it is back");
                if !changes.send(Change::Lost) {
                    return;
                }
                wait = Duration::ZERO;
            }
            Err(Failure::Refused(e)) => {
                if !refusal_logged {
                    tracing::error!(prefix = keys.head(), error = %e,
                        "the Redis server refused client tracking, so the in-process tier stays bypassed: it needs Redis 6 or later \
                         and, with ACLs, the HELLO and CLIENT commands for this user; or set CACHE_L1_BUS_URL to use an invalidation \
                         bus instead, or CACHE_L1=false");
                    refusal_logged = true;
                }
                wait = (wait * 2).clamp(RETRY_MIN, RETRY_MAX);
            }
            Err(Failure::Unreachable(e)) => {
                tracing::debug!(prefix = keys.head(), error = %e, "client tracking cannot start yet");
                wait = (wait * 2).clamp(RETRY_MIN, RETRY_MAX);
            }
        }
    }
}

/// Why a session could not start.
enum Failure {
    /// A server answered with an error (no RESP3, no permission for `CLIENT`): fixing it takes
    /// an operator.
    Refused(String),
    /// A server could not be reached, or the topology not read.
    Unreachable(String),
}

impl From<CacheError> for Failure {
    fn from(e: CacheError) -> Failure {
        Failure::Unreachable(e.to_string())
    }
}

fn failure(server: &str, e: RedisError) -> Failure {
    let refused =
        matches!(e.kind(), ErrorKind::Server(_) | ErrorKind::RESP3NotSupported | ErrorKind::AuthenticationFailed);
    let message = format!("{server}: {e}");
    if refused { Failure::Refused(message) } else { Failure::Unreachable(message) }
}

/// Connects to every server the topology names and turns tracking on.
async fn start<T: Topology>(
    topology: &T,
    keys: &KeySpace,
    changes: &ChangeSender,
    id: u64,
    closed: &mpsc::UnboundedSender<u64>,
) -> std::result::Result<Session, Failure> {
    let TrackedServers { servers, masters_only, layout, connect_timeout } = topology.tracked_servers().await?;
    let connecting = servers.into_iter().map(|(name, client)| {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(connect_timeout))
            .set_response_timeout(Some(connect_timeout))
            .set_push_sender(pushes(keys.clone(), changes.clone(), id, closed.clone()));
        async move {
            let mut conn =
                client.get_multiplexed_async_connection_with_config(&config).await.map_err(|e| failure(&name, e))?;
            let mut on = redis::pipe();
            on.cmd("CLIENT").arg("SETNAME").arg(CONNECTION_NAME).ignore();
            on.cmd("CLIENT").arg("TRACKING").arg("ON").arg("BCAST").arg("PREFIX").arg(keys.head()).ignore();
            on.query_async::<()>(&mut conn).await.map_err(|e| failure(&name, e))?;
            Ok::<_, Failure>((name, conn))
        }
    });
    let servers = futures::future::try_join_all(connecting).await?;
    Ok(Session { id, servers, masters_only, layout })
}

/// What the tracking connections of session `id` do with push messages: invalidations become
/// changes at once (in the connection's own task; nothing here blocks), a disconnection is
/// passed to the session's watcher.
fn pushes(
    keys: KeySpace,
    changes: ChangeSender,
    id: u64,
    closed: mpsc::UnboundedSender<u64>,
) -> impl Fn(PushInfo) -> std::result::Result<(), std::convert::Infallible> + Send + Sync + 'static {
    move |push| {
        match push.kind {
            PushKind::Invalidate => {
                if let Some(change) = invalidation(&keys, &push.data) {
                    changes.send(change);
                }
            }
            PushKind::Disconnection => {
                let _ = closed.send(id);
            }
            _ => {}
        }
        Ok(())
    }
}

/// The change an `invalidate` push reports: its keys that are this cache's, or "all" for the
/// null that `FLUSHDB` / `FLUSHALL` send.
fn invalidation(keys: &KeySpace, data: &[Value]) -> Option<Change> {
    match data.first()? {
        Value::Array(stored) => {
            let ours: Vec<String> = stored
                .iter()
                .filter_map(|v| match v {
                    Value::BulkString(bytes) => keys.key_of(bytes).map(str::to_owned),
                    _ => None,
                })
                .collect();
            (!ours.is_empty()).then_some(Change::Keys(ours))
        }
        Value::Nil => Some(Change::All),
        _ => None,
    }
}

/// Waits until the session is lost; returns why.
async fn watch<T: Topology>(topology: &T, session: &Session, closed: &mut mpsc::UnboundedReceiver<u64>) -> String {
    let mut check = tokio::time::interval(CHECK_EVERY);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut layout = tokio::time::interval(LAYOUT_EVERY);
    layout.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    layout.reset();
    loop {
        tokio::select! {
            id = closed.recv() => match id {
                Some(id) if id == session.id => return "a tracking connection closed".to_owned(),
                Some(_) => {}
                None => return "the feed ended".to_owned(),
            },
            _ = check.tick() => {
                if let Err(why) = check_servers(session).await {
                    return why;
                }
            }
            _ = layout.tick(), if session.layout.is_some() => match topology.tracked_servers().await {
                Ok(now) if now.layout != session.layout => return "the servers' layout changed (a failover or slot migration)".to_owned(),
                Ok(_) => {}
                // The servers are checked on their own connections; an unreadable layout alone is no loss.
                Err(e) => tracing::debug!(error = %e, "client tracking could not read the layout"),
            },
        }
    }
}

/// Asks every server `ROLE`: each must answer in time, and as a master when the topology says so.
async fn check_servers(session: &Session) -> std::result::Result<(), String> {
    let checks = session.servers.iter().map(|(name, conn)| async move {
        let mut conn = conn.clone();
        let answer = tokio::time::timeout(CHECK_LIMIT, redis::cmd("ROLE").query_async::<Value>(&mut conn)).await;
        match answer {
            Err(_) => Err(format!("{name} did not answer ROLE within {CHECK_LIMIT:?}")),
            Ok(Err(e)) => Err(format!("{name}: {e}")),
            Ok(Ok(role)) if session.masters_only && !is_master(&role) => {
                Err(format!("{name} is no longer a master (failed over)"))
            }
            Ok(Ok(_)) => Ok(()),
        }
    });
    futures::future::try_join_all(checks).await.map(drop)
}

fn is_master(role: &Value) -> bool {
    let Value::Array(fields) = role else { return false };
    match fields.first() {
        Some(Value::BulkString(name)) => name == b"master",
        Some(Value::SimpleString(name)) => name == "master",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn an_invalidation_names_the_keys_of_this_cache_only() {
        let keys = KeySpace::new("app:");
        let data = [Value::Array(vec![bulk("4:app:user:1"), bulk("7:app:v2:k"), bulk("4:app:a b")])];
        assert_eq!(invalidation(&keys, &data), Some(Change::Keys(vec!["user:1".into(), "a b".into()])));
        assert_eq!(invalidation(&keys, &[Value::Array(vec![bulk("other")])]), None);
        assert_eq!(invalidation(&keys, &[Value::Nil]), Some(Change::All), "FLUSHDB / FLUSHALL");
        assert_eq!(invalidation(&keys, &[]), None);
    }

    #[test]
    fn a_master_is_told_from_a_replica_by_its_role() {
        assert!(is_master(&Value::Array(vec![bulk("master"), Value::Int(0), Value::Array(vec![])])));
        assert!(!is_master(&Value::Array(vec![bulk("slave"), bulk("127.0.0.1"), Value::Int(6379)])));
        assert!(!is_master(&Value::Nil));
    }
}

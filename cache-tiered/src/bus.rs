//! The invalidation bus: Redis pub/sub on `CACHE_L1_BUS_URL`.
//!
//! Every write, delete and clear of a process publishes the key (or "all") on the channel of its
//! key prefix; every process evicts it from its tier. One message is `<node>|k|<key>` or
//! `<node>|*`, where `<node>` names the publishing process, so that a process skips its own
//! messages (its tier already holds what it wrote).
//!
//! Why the tier is bypassed while the subscription is down: a message published then is lost
//! (pub/sub keeps nothing for absent subscribers), so whatever the tier holds may be stale. The
//! listener flushes it and bypasses it (every read goes to the backend) until it has subscribed
//! again. A dead connection that nobody closed is noticed by a PING every [`PING_EVERY`].

use std::sync::Weak;
use std::time::Duration;

use cachette_core::{CacheError, Result};
use futures::StreamExt;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

use crate::tier::Tier;

/// How often the listener checks that its subscription is alive.
pub(crate) const PING_EVERY: Duration = Duration::from_millis(500);
const PING_TIMEOUT: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// What one invalidation message says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Invalidation<'a> {
    /// Evict this key.
    Key(&'a str),
    /// Flush the tier.
    All,
}

pub(crate) fn encode(node: &str, what: &Invalidation<'_>) -> String {
    match what {
        Invalidation::Key(key) => format!("{node}|k|{key}"),
        Invalidation::All => format!("{node}|*"),
    }
}

/// The invalidation of a message from another node; `None` for this node's own or a malformed one.
pub(crate) fn decode<'a>(node: &str, payload: &'a str) -> Option<Invalidation<'a>> {
    let (from, rest) = payload.split_once('|')?;
    if from == node {
        return None;
    }
    match rest {
        "*" => Some(Invalidation::All),
        _ => rest.strip_prefix("k|").map(Invalidation::Key),
    }
}

/// This process's end of the bus: a publisher and the listener task.
pub(crate) struct Bus {
    client: redis::Client,
    channel: String,
    node: String,
    publisher: OnceCell<ConnectionManager>,
    listener: JoinHandle<()>,
}

impl Drop for Bus {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl Bus {
    /// Connects (in the background) to `url` and starts listening for `tier`.
    pub(crate) fn start(url: &str, prefix: &str, tier: Weak<Tier>) -> Result<Bus> {
        let client = redis::Client::open(url).map_err(|e| {
            CacheError::config("CACHE_L1_BUS_URL", url, format!("not a Redis URL ({e}); write redis://host:port"))
        })?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            CacheError::config(
                "CACHE_L1_BUS_URL",
                url,
                "the invalidation bus needs a tokio runtime: build the cache inside one (#[tokio::main])",
            )
        })?;
        let channel = format!("cachette:l1:{prefix}");
        let node = format!("{:016x}", rand::random::<u64>());
        let listener = runtime.spawn(listen(client.clone(), channel.clone(), node.clone(), tier));
        Ok(Bus { client, channel, node, publisher: OnceCell::new(), listener })
    }

    /// Tells the other processes. A failure is logged and retried as "all" in the background
    /// (the message itself may or may not have gone out); meanwhile CACHE_L1_TIMEOUT bounds
    /// what the others can serve.
    pub(crate) async fn publish(&self, what: Invalidation<'_>) {
        let message = encode(&self.node, &what);
        if let Err(e) = self.try_publish(&message).await {
            tracing::warn!(error = %e, channel = %self.channel, "could not publish an invalidation of the in-process tier; retrying as a flush");
            let (client, channel, all) =
                (self.client.clone(), self.channel.clone(), encode(&self.node, &Invalidation::All));
            tokio::spawn(async move { retry(client, channel, all).await });
        }
    }

    async fn try_publish(&self, message: &str) -> redis::RedisResult<()> {
        let publisher = self.publisher.get_or_try_init(|| self.client.get_connection_manager()).await?;
        publisher.clone().publish::<_, _, ()>(&self.channel, message).await
    }
}

async fn retry(client: redis::Client, channel: String, message: String) {
    let mut wait = Duration::from_millis(50);
    loop {
        tokio::time::sleep(wait).await;
        let sent = async {
            let mut conn = client.get_multiplexed_async_connection().await?;
            conn.publish::<_, _, ()>(&channel, &message).await
        };
        if sent.await.is_ok() {
            return;
        }
        wait = (wait * 2).min(RETRY_MAX);
    }
}

/// Subscribes, applies messages to the tier, and on any loss flushes and bypasses it until
/// subscribed again. Ends when the tier is dropped.
async fn listen(client: redis::Client, channel: String, node: String, tier: Weak<Tier>) {
    let mut wait = Duration::from_millis(50);
    loop {
        if tier.strong_count() == 0 {
            return;
        }
        match subscribe(&client, &channel).await {
            Ok((sink, stream)) => {
                wait = Duration::from_millis(50);
                let Some(t) = tier.upgrade() else { return };
                t.resume();
                drop(t);
                tracing::debug!(%channel, "in-process tier: invalidation bus subscribed");
                follow(sink, stream, &node, &tier).await;
                let Some(t) = tier.upgrade() else { return };
                t.suspend();
                tracing::warn!(%channel, "in-process tier: lost the invalidation bus; flushed and bypassed until it is back");
            }
            Err(e) => {
                tracing::debug!(error = %e, %channel, "in-process tier: cannot subscribe to the invalidation bus yet")
            }
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(RETRY_MAX);
    }
}

async fn subscribe(
    client: &redis::Client,
    channel: &str,
) -> redis::RedisResult<(redis::aio::PubSubSink, redis::aio::PubSubStream)> {
    let (mut sink, stream) = client.get_async_pubsub().await?.split();
    sink.subscribe(channel).await?;
    Ok((sink, stream))
}

/// Applies messages until the subscription ends or stops answering PING.
async fn follow(mut sink: redis::aio::PubSubSink, mut stream: redis::aio::PubSubStream, node: &str, tier: &Weak<Tier>) {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = stream.next() => {
                let Some(message) = message else { return };
                let Some(tier) = tier.upgrade() else { return };
                let Ok(payload) = std::str::from_utf8(message.get_payload_bytes()) else { continue };
                match decode(node, payload) {
                    Some(Invalidation::Key(key)) => tier.evict(key),
                    Some(Invalidation::All) => tier.flush(),
                    None => continue,
                }
                tier.received();
            }
            _ = ping.tick() => {
                let alive = tokio::time::timeout(PING_TIMEOUT, sink.ping::<redis::Value>()).await;
                if !matches!(alive, Ok(Ok(_))) {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_a_node_skips_its_own() {
        let key = encode("a", &Invalidation::Key("user|7"));
        assert_eq!(decode("b", &key), Some(Invalidation::Key("user|7")));
        assert_eq!(decode("b", &encode("a", &Invalidation::All)), Some(Invalidation::All));
        assert_eq!(decode("a", &key), None);
        assert_eq!(decode("b", "garbage"), None);
    }
}

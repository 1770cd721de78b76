//! The one place that knows there are two protocols: [`Protocol`] writes a [`Request`] and reads
//! its answer with the binary codec (`binary.rs`) or the meta codec (`meta.rs`). The connection
//! (`pool.rs`) calls it; the operations never see which protocol runs.
//!
//! Which one: `CACHE_OPTIONS.protocol=meta|binary`. The default is `meta`, memcached's current
//! protocol (the binary one is deprecated since memcached 1.6.0, and mcrouter, Dragonfly and
//! ElastiCache Serverless do not accept it), except when `CACHE_MEMCACHED_USERNAME` /
//! `CACHE_MEMCACHED_PASSWORD` are given: SASL exists only on the binary protocol, so credentials
//! make `binary` the default, and asking for `meta` with them is a configuration error.
//!
//! Leases and the meta protocol's stampede flags: cache-core's leases (`cache/lease.rs`) take a
//! lease with `add` and wait with `get_many`, through `BaseCache`, on every backend alike; this
//! backend serves them on either protocol unchanged. memcached's `mg` flags `N<ttl>` (create a
//! stub on a miss and answer `W`, "you won", to one client, `Z` to the others) and `R<ttl>` (win
//! a recache before the TTL runs out) do the same server-side in one round trip, but using them
//! needs a lease-shaped call on the trait (get-or-win), which `BaseCache` does not have, and a
//! stub item that every other reader of the key must learn to treat as a miss. The seam for it
//! is here: an `Op::GetOrWin` written by `meta.rs` as `mg <key> v f c N<ttl>`, whose `W`/`Z`
//! flags the meta reader already skips over and would then report; the binary codec would
//! answer it with `add` + `get`.

use tokio::io::{AsyncBufRead, AsyncWrite};

use crate::binary::{self, ReadError};
use crate::meta;
use crate::request::{Request, Response};

/// The wire protocol of every connection of one cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// memcached's binary protocol (needed for SASL).
    Binary,
    /// memcached's meta protocol (1.6+).
    Meta,
}

impl Protocol {
    /// The option's value that names this protocol.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Protocol::Binary => "binary",
            Protocol::Meta => "meta",
        }
    }

    /// Writes `request`, the `index`th of its batch.
    pub(crate) async fn write<W: AsyncWrite + Unpin>(
        self,
        request: &Request,
        out: &mut W,
        index: u32,
    ) -> std::io::Result<()> {
        match self {
            Protocol::Binary => binary::write_request(request, out, index).await,
            Protocol::Meta => meta::write_request(request, out, index).await,
        }
    }

    /// Reads the next answer to one of `requests` (`next` is the first not yet answered): which
    /// request it answers, and the answer (`None`: the success of a quiet request, which the
    /// binary protocol's server would not have sent).
    pub(crate) async fn read<R: AsyncBufRead + Unpin>(
        self,
        input: &mut R,
        requests: &[Request],
        next: usize,
    ) -> Result<(usize, Option<Response>), ReadError> {
        match self {
            Protocol::Binary => binary::read_answer(input, requests).await.map(|(i, r)| (i, Some(r))),
            Protocol::Meta => meta::read_answer(input, requests, next).await,
        }
    }
}

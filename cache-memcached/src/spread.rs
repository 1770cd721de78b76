//! Values over the item size limit, spread over several items.
//!
//! A value that does not fit in one item (`max_item_size`, memcached `-I`, default 1 MB) is, with
//! spreading on (the default of all three types), written as pieces of at most `max_item_size`
//! minus a margin, under keys made from a fresh random 128-bit write id, and then a small head item
//! under the value's key naming the id, the length, the piece size and the blake3 hash (its layout:
//! `item::Head`). Readers fetch the head, then the pieces (one batch per server); a reader
//! therefore never mixes two writes, and a value with a piece missing (evicted) or failing the hash
//! reads as absent (the head is then deleted if unchanged). An overwritten or deleted spread value
//! leaves its pieces to expire with the value's ttl or the LRU. With spreading off, such a value is
//! refused with `CacheError::ValueTooLarge` naming the option, before anything is sent, and — as
//! memcached itself does — the key's old value is deleted so that readers do not see stale data.
//!
//! Why spreading is on by default: values up to the limit are stored exactly as without it (one
//! item, one round trip), so it costs nothing until a value would otherwise be refused, and with it
//! `MemcachedCache` accepts the 1 MiB values every cachette backend accepts (the conformance suite
//! checks that) against a stock memcached. `spread=false` gives Flask-Caching's behaviour without
//! its silent drop.

use bytes::BytesMut;
use cachette_core::{Bytes, CacheError, Result, shorten};
use futures::future::try_join_all;

use crate::Inner;
use crate::item::{HEAD_FLAGS, Head, Lifetime};
use crate::keys::{self, KeySpace};
use crate::request::{Op, Request, Response, status};
use crate::route::{Located, occupied};
use crate::store::Store;

/// Room beside the value in an item: memcached's item header, cas, flags and the key.
const ITEM_OVERHEAD: usize = 128;
/// Room beside each piece of a spread value.
const CHUNK_MARGIN: usize = 512;

impl Inner {
    /// Whether a value of `len` bytes under `body` fits in one item.
    pub(crate) fn fits_in_one_item(&self, body: &str, len: usize) -> bool {
        len.saturating_add(keys::DATA_HEAD + body.len()).saturating_add(ITEM_OVERHEAD) <= self.max_item_size
    }

    /// The error for a value too large for one item while spreading is off.
    pub(crate) fn too_large(&self, key: &str, size: usize) -> CacheError {
        CacheError::ValueTooLarge {
            key: shorten(key),
            size,
            limit: self.max_item_size,
            hint: format!(
                "{} does not spread values over several items with CACHE_OPTIONS.spread=false; turn spreading on \
                 (remove spread=false, or use CACHE_TYPE=SpreadSASLMemcachedCache), or start memcached with a larger \
                 item size (-I) and set CACHE_OPTIONS.max_item_size to match",
                self.backend
            ),
        }
    }

    /// The value of a found item: itself, or reassembled from its pieces if it is a head.
    pub(crate) async fn item_value(&self, s: usize, data_key: Bytes, response: Response) -> Result<Option<Bytes>> {
        if response.flags() != HEAD_FLAGS {
            return Ok(Some(response.value));
        }
        let Some(head) = Head::decode(&response.value) else {
            tracing::warn!("memcached: the head item of a spread value is corrupt; treating it as absent");
            self.delete_if_unchanged(s, data_key, response.cas).await;
            return Ok(None);
        };
        match self.read_pieces(&head).await? {
            Some(value) => Ok(Some(value)),
            None => {
                tracing::debug!("memcached: a piece of a spread value is missing (evicted?); treating it as absent");
                self.delete_if_unchanged(s, data_key, response.cas).await;
                Ok(None)
            }
        }
    }

    /// Writes a value too large for one item as pieces, then its head with `set` or `add`.
    /// Returns whether the head was stored (always for `set`).
    pub(crate) async fn write_spread(
        &self,
        at: &Located<'_>,
        value: Bytes,
        life: Lifetime,
        how: Store,
    ) -> Result<bool> {
        let chunk_size = self.max_item_size - CHUNK_MARGIN;
        let chunks = u32::try_from(value.len().div_ceil(chunk_size)).map_err(|_| CacheError::ValueTooLarge {
            key: shorten(at.key),
            size: value.len(),
            limit: chunk_size * u32::MAX as usize,
            hint: "no value can be spread over more than 2^32 items".to_owned(),
        })?;
        let head = Head {
            id: rand::random(),
            total: value.len() as u64,
            chunk_size: chunk_size as u32,
            chunks,
            deadline: life.deadline,
            hash: hash(value.clone()).await?,
        };
        let groups = self.pieces_by_server(&head);
        let writes = occupied(&groups).map(|(s, indices)| {
            let value = &value;
            let head = &head;
            async move {
                let mut requests: Vec<Request> = indices
                    .iter()
                    .map(|&i| {
                        let piece = value.slice(head.range(i));
                        Request::store(Op::SetQuiet, self.keys.chunk_key(head.id, i), piece).with_exptime(life.exptime)
                    })
                    .collect();
                requests.push(Request::noop());
                let server = &self.servers[s];
                for response in server.exchange("set", &requests, true).await?.into_iter().flatten() {
                    match response.status {
                        status::NOT_FOUND | status::OK => {}
                        status::TOO_LARGE => return Err(self.refused_by_server(server, at.key, value.len())),
                        _ => return Err(server.status_error("set", &response)),
                    }
                }
                Ok(())
            }
        });
        try_join_all(writes).await?;

        let write = Request::store(how.op(), Bytes::new(), Bytes::from(head.encode()))
            .with_flags(HEAD_FLAGS)
            .with_exptime(life.exptime);
        let (_, response) = self.exchange_one(at, how.name(), how.idempotent(), write).await?;
        match response.status {
            status::OK => Ok(true),
            status::EXISTS | status::NOT_STORED if how == Store::Add => {
                self.delete_pieces(&head).await;
                Ok(false)
            }
            _ => Err(self.servers[at.server].status_error(how.name(), &response)),
        }
    }

    /// The head item `current` (found under `data_key` on server `s`) for a new lifetime: its
    /// pieces touched to `life` and its recorded deadline changed. `None`, and the head deleted if
    /// unchanged, when it is corrupt or a piece is gone.
    pub(crate) async fn retimed_head(
        &self,
        s: usize,
        data_key: Bytes,
        current: &Response,
        life: Lifetime,
    ) -> Result<Option<Bytes>> {
        let head = Head::decode(&current.value);
        let present = match &head {
            Some(head) => self.touch_pieces(head, life.exptime).await?,
            None => false,
        };
        let Some(mut head) = head.filter(|_| present) else {
            self.delete_if_unchanged(s, data_key, current.cas).await;
            return Ok(None);
        };
        head.deadline = life.deadline;
        Ok(Some(Bytes::from(head.encode())))
    }

    /// The pieces of a spread value, reassembled and checked; `None` if any is missing or wrong.
    async fn read_pieces(&self, head: &Head) -> Result<Option<Bytes>> {
        let groups = self.pieces_by_server(head);
        let fetches = occupied(&groups).map(|(s, indices)| async move {
            let mut requests: Vec<Request> =
                indices.iter().map(|&i| Request::get_quiet(Bytes::from(self.keys.chunk_key(head.id, i)))).collect();
            requests.push(Request::noop());
            let responses = self.servers[s].exchange("get", &requests, true).await?;
            let mut found = Vec::with_capacity(indices.len());
            for (&index, response) in indices.iter().zip(responses) {
                match response {
                    Some(r) if r.status == status::OK => found.push((index, r.value)),
                    Some(r) => return Err(self.servers[s].status_error("get", &r)),
                    None => return Ok(None),
                }
            }
            Ok(Some(found))
        });
        let mut pieces: Vec<Option<Bytes>> = vec![None; head.chunks as usize];
        for group in try_join_all(fetches).await? {
            let Some(found) = group else { return Ok(None) };
            for (index, value) in found {
                pieces[index as usize] = Some(value);
            }
        }
        let mut value = BytesMut::with_capacity(head.total as usize);
        for (index, piece) in pieces.into_iter().enumerate() {
            match piece {
                Some(p) if p.len() == head.range(index as u32).len() => value.extend_from_slice(&p),
                _ => return Ok(None),
            }
        }
        let value = value.freeze();
        if value.len() as u64 != head.total || hash(value.clone()).await? != head.hash {
            return Ok(None);
        }
        Ok(Some(value))
    }

    /// Touches every piece of a spread value; false if one is gone.
    async fn touch_pieces(&self, head: &Head, exptime: u32) -> Result<bool> {
        let groups = self.pieces_by_server(head);
        let touches = occupied(&groups).map(|(s, indices)| async move {
            let requests: Vec<Request> = indices
                .iter()
                .map(|&i| Request::touch(Bytes::from(self.keys.chunk_key(head.id, i)), exptime))
                .collect();
            let server = &self.servers[s];
            let mut all = true;
            for response in server.exchange("touch", &requests, true).await?.into_iter().flatten() {
                match response.status {
                    status::OK => {}
                    status::NOT_FOUND => all = false,
                    _ => return Err(server.status_error("touch", &response)),
                }
            }
            Ok(all)
        });
        Ok(try_join_all(touches).await?.into_iter().all(|present| present))
    }

    /// Best effort: the pieces of a spread value that was not stored.
    async fn delete_pieces(&self, head: &Head) {
        for index in 0..head.chunks {
            let server = &self.servers[self.chunk_server(head.id, index)];
            let key = Bytes::from(self.keys.chunk_key(head.id, index));
            let _ = server.exchange("delete", &[Request::delete(key, 0)], true).await;
        }
    }

    /// Best effort: a broken head, unless another write replaced it since it was read.
    async fn delete_if_unchanged(&self, s: usize, key: Bytes, cas: u64) {
        let _ = self.servers[s].exchange("delete", &[Request::delete(key, cas)], true).await;
    }

    /// The indices of `head`'s pieces, grouped by the server that holds them.
    fn pieces_by_server(&self, head: &Head) -> Vec<Vec<u32>> {
        let mut groups: Vec<Vec<u32>> = vec![Vec::new(); self.servers.len()];
        for index in 0..head.chunks {
            groups[self.chunk_server(head.id, index)].push(index);
        }
        groups
    }

    fn chunk_server(&self, id: u128, index: u32) -> usize {
        if self.servers.len() == 1 {
            0
        } else {
            keys::pick(self.servers.iter().map(|s| s.seed), KeySpace::chunk_route(id, index))
        }
    }
}

/// The blake3 hash of a spread value. Hashing runs at about 1-3 GB/s, so large values are hashed
/// on a blocking thread rather than stalling the runtime's worker for milliseconds.
async fn hash(value: Bytes) -> Result<[u8; 32]> {
    const INLINE: usize = 256 * 1024;
    if value.len() <= INLINE {
        return Ok(*blake3::hash(&value).as_bytes());
    }
    tokio::task::spawn_blocking(move || *blake3::hash(&value).as_bytes())
        .await
        .map_err(|e| CacheError::backend("MemcachedCache", format!("hashing a spread value failed: {e}"), None))
}

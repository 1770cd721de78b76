//! Writing one key: `set` and `add` share one path (one item, or spread over several when the
//! value is too large for one), and `delete`.

use cachette_core::{Bytes, CacheError, Result, shorten};

use crate::Inner;
use crate::item::Lifetime;
use crate::pool::Server;
use crate::request::{Op, Request, status};

/// How a value is stored: `set` overwrites, `add` writes only where the key is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Store {
    Set,
    Add,
}

impl Store {
    /// The request's command.
    pub(crate) fn op(self) -> Op {
        match self {
            Store::Set => Op::Set,
            Store::Add => Op::Add,
        }
    }

    /// The operation's name, in errors.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Store::Set => "set",
            Store::Add => "add",
        }
    }

    /// A `set` sent again stores the same; an `add` sent again would report its own first write
    /// as a key that was taken.
    pub(crate) fn idempotent(self) -> bool {
        self == Store::Set
    }
}

impl Inner {
    /// `set` or `add` of one value, in one item or spread over several. Whether it was stored
    /// (always, for `set`).
    pub(crate) async fn store(&self, how: Store, key: &str, value: Bytes, life: Lifetime) -> Result<bool> {
        let at = self.locate(key);
        if !self.fits_in_one_item(&at.body, value.len()) {
            if !self.spread {
                if how == Store::Set {
                    // As memcached does on a refused set: readers must not see the old value.
                    let _ = self.delete(key).await;
                }
                return Err(self.too_large(key, value.len()));
            }
            return self.write_spread(&at, value, life, how).await;
        }
        let size = value.len();
        let write = Request::store(how.op(), Bytes::new(), value).with_flags(life.deadline).with_exptime(life.exptime);
        let (_, response) = self.exchange_one(&at, how.name(), how.idempotent(), write).await?;
        match response.status {
            status::OK => Ok(true),
            status::EXISTS | status::NOT_STORED if how == Store::Add => Ok(false),
            status::TOO_LARGE => Err(self.refused_by_server(&self.servers[at.server], key, size)),
            _ => Err(self.servers[at.server].status_error(how.name(), &response)),
        }
    }

    /// `BaseCache::delete`: whether a key was removed.
    pub(crate) async fn delete(&self, key: &str) -> Result<bool> {
        let at = self.locate(key);
        let (_, response) = self.exchange_one(&at, "delete", true, Request::delete(Bytes::new(), 0)).await?;
        match response.status {
            status::OK => Ok(true),
            status::NOT_FOUND => Ok(false),
            _ => Err(self.servers[at.server].status_error("delete", &response)),
        }
    }

    /// The error for an item that `server` refused as too large although it fits
    /// `max_item_size`: the setting is above the server's limit.
    pub(crate) fn refused_by_server(&self, server: &Server, key: &str, size: usize) -> CacheError {
        CacheError::ValueTooLarge {
            key: shorten(key),
            size,
            limit: self.max_item_size,
            hint: format!(
                "memcached at {} refused the item: its item size limit (-I; `stats settings` shows item_size_max) is \
                 below CACHE_OPTIONS.max_item_size={}; set max_item_size to the server's limit",
                server.addr, self.max_item_size
            ),
        }
    }
}

//! [`Codec`]: the stored form a [`Config`](crate::Config) chooses with `CACHE_SERIALIZER`,
//! `CACHE_COMPRESSION` and `CACHE_COMPRESSION_MIN_SIZE`.

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use serde::ser::Serialize;

use super::{binary, compress, integer, json};
use crate::Result;
use crate::suggest::did_you_mean;

/// How the typed layer writes values: the serializer, and whether and from which size values are
/// compressed. Reading needs none of it: [`decode`](super::decode) reads every form.
///
/// [`Config::codec`](crate::Config::codec) holds the one a [`Cache`](crate::Cache) writes with;
/// the default is postcard, uncompressed (what [`encode`](super::encode) writes).
///
/// ```
/// use cachette_core::{Config, codec::{self, Compression, Serializer}};
///
/// let config = Config::from_map([("CACHE_SERIALIZER", "json"), ("CACHE_COMPRESSION", "zstd")])?;
/// assert_eq!(config.codec.serializer, Serializer::Json);
/// assert_eq!(config.codec.compression, Compression::Zstd);
///
/// // Small values stay plain JSON; from CACHE_COMPRESSION_MIN_SIZE (1024 bytes) on, zstd.
/// assert_eq!(&config.codec.encode("k", &vec!["a", "b"])?[..], br#"["a","b"]"#);
/// let large = vec!["the same words again"; 500];
/// let stored = config.codec.encode("k", &large)?;
/// assert_eq!(stored[0], codec::FORMAT_JSON_ZSTD);
/// assert!(stored.len() < 200);
/// assert_eq!(codec::decode::<Vec<String>>("k", &stored)?, large);
/// // Integers stay decimal text whatever the codec.
/// assert_eq!(&config.codec.encode("n", &7u32)?[..], b"7");
/// # Ok::<(), cachette_core::CacheError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Codec {
    /// `CACHE_SERIALIZER`.
    pub serializer: Serializer,
    /// `CACHE_COMPRESSION`.
    pub compression: Compression,
    /// `CACHE_COMPRESSION_MIN_SIZE`: values whose uncompressed form is smaller are stored as
    /// they are (compressing them costs more time than it saves bytes).
    pub compression_min_size: usize,
}

impl Default for Codec {
    fn default() -> Self {
        Codec { serializer: Serializer::Postcard, compression: Compression::None, compression_min_size: 1024 }
    }
}

impl Codec {
    /// Encodes `value` in this codec's stored form (`key` is only used in error messages):
    /// decimal text for an integer, else the serializer's form, compressed from
    /// [`compression_min_size`](Codec::compression_min_size) on when that makes it smaller.
    pub fn encode<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<Bytes> {
        let plain = self.encode_plain(key, value)?;
        if self.compression == Compression::Zstd
            && plain.len() >= self.compression_min_size
            && let Some(compressed) = compress::deflate(key, &plain)?
        {
            return Ok(Bytes::from(compressed));
        }
        Ok(Bytes::from(plain))
    }

    /// [`encode`](Codec::encode) without compression, as a `Vec` (what memoized functions hash
    /// their arguments from: no `Bytes` to make and drop).
    pub(crate) fn encode_plain<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<Vec<u8>> {
        if let Some(int) = integer::as_integer(value) {
            return Ok(int.into_bytes());
        }
        match self.serializer {
            Serializer::Postcard => binary::encode(key, value),
            Serializer::Json => json::encode(key, value),
        }
    }

    /// [`encode_plain`](Codec::encode_plain) into `buf`, when it can be done there without
    /// allocating (an integer, or postcard, and the bytes fit): the bytes written, the same as
    /// `encode_plain`'s; `None` otherwise, for the caller to call `encode_plain`. Memoized
    /// functions hash their arguments from it: a `Vec` made and dropped was 150 of a hit's
    /// instructions.
    pub(crate) fn encode_plain_into<'b, T: Serialize + ?Sized>(
        &self,
        value: &T,
        buf: &'b mut [u8],
    ) -> Option<&'b [u8]> {
        match (integer::integer_of(value), self.serializer) {
            (Some(int), _) => integer::write_integer(&int, buf),
            (None, Serializer::Postcard) => binary::encode_into(value, buf),
            (None, Serializer::Json) => None,
        }
    }
}

/// `CACHE_SERIALIZER`: the form of values that are not integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Serializer {
    /// `postcard` (the default): compact binary, behind the format byte
    /// [`FORMAT_POSTCARD`](super::FORMAT_POSTCARD).
    #[default]
    Postcard,
    /// `json`: plain JSON text, no format byte, readable by `redis-cli GET` and other languages.
    /// JSON cannot hold every Rust value: map keys must be strings or integers, and a NaN or
    /// infinite float is written as `null` (which then does not decode as a float).
    Json,
}

/// `CACHE_COMPRESSION`: whether large values are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Compression {
    /// `none` (the default).
    #[default]
    None,
    /// `zstd`, level 1, from `CACHE_COMPRESSION_MIN_SIZE` bytes on (see the module's source for
    /// the measurements behind zstd rather than lz4).
    Zstd,
}

/// Parses `text` as one of `choices`, or says which it expected.
fn choose<T: Copy>(text: &str, choices: &[(&'static str, T)], hint: &str) -> std::result::Result<T, String> {
    let text = text.trim();
    if let Some((_, value)) = choices.iter().find(|(name, _)| name.eq_ignore_ascii_case(text)) {
        return Ok(*value);
    }
    let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
    Err(format!("expected one of {}.{hint}{}", names.join(", "), did_you_mean(text, names.iter().copied())))
}

impl FromStr for Serializer {
    type Err = String;

    /// `postcard` or `json` (any case; an empty value is `postcard`). `bincode` is refused: it is still read, never written.
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Serializer::Postcard);
        }
        let hint = if text.trim().eq_ignore_ascii_case("bincode") {
            " bincode is no longer written (unmaintained, RUSTSEC-2025-0141); entries it wrote still decode, \
             so CACHE_SERIALIZER=postcard reads them."
        } else {
            ""
        };
        choose(text, &[("postcard", Serializer::Postcard), ("json", Serializer::Json)], hint)
    }
}

impl FromStr for Compression {
    type Err = String;

    /// `none` or `zstd` (any case; an empty value is `none`).
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Compression::None);
        }
        choose(text, &[("none", Compression::None), ("zstd", Compression::Zstd)], "")
    }
}

impl fmt::Display for Serializer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Serializer::Postcard => "postcard",
            Serializer::Json => "json",
        })
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "none",
            Compression::Zstd => "zstd",
        })
    }
}

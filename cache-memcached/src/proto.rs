//! memcached's binary protocol: the requests this backend sends and the responses it reads.
//!
//! Reference: memcached's `protocol_binary.h` and the "BinaryProtocolRevamped" page of its wiki.
//! Every packet is a 24-byte header (big-endian fields) followed by extras, key and value. A
//! response echoes the request's opcode and its `opaque` field; this crate numbers the requests of
//! a pipelined batch through `opaque` and checks every echo, so a response can never be paired
//! with the wrong request.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Opcodes used here.
pub(crate) mod opcode {
    pub(crate) const SET: u8 = 0x01;
    pub(crate) const ADD: u8 = 0x02;
    pub(crate) const DELETE: u8 = 0x04;
    pub(crate) const INCREMENT: u8 = 0x05;
    pub(crate) const NOOP: u8 = 0x0a;
    pub(crate) const GETK: u8 = 0x0c;
    pub(crate) const GETKQ: u8 = 0x0d;
    pub(crate) const SETQ: u8 = 0x11;
    pub(crate) const TOUCH: u8 = 0x1c;
    pub(crate) const SASL_AUTH: u8 = 0x21;

    /// Quiet commands answer only on a hit (gets) or an error (writes).
    pub(crate) fn is_quiet(op: u8) -> bool {
        matches!(op, 0x09 | 0x0d | 0x11..=0x1a | 0x1e | 0x24)
    }
}

/// Response statuses used here.
pub(crate) mod status {
    pub(crate) const OK: u16 = 0x00;
    pub(crate) const NOT_FOUND: u16 = 0x01;
    pub(crate) const EXISTS: u16 = 0x02;
    pub(crate) const TOO_LARGE: u16 = 0x03;
    pub(crate) const NOT_STORED: u16 = 0x05;
    pub(crate) const NON_NUMERIC: u16 = 0x06;
    pub(crate) const AUTH_ERROR: u16 = 0x20;
    pub(crate) const UNKNOWN_COMMAND: u16 = 0x81;
    pub(crate) const OUT_OF_MEMORY: u16 = 0x82;

    /// memcached's name for a status, for error messages.
    pub(crate) fn name(status: u16) -> &'static str {
        match status {
            OK => "no error",
            NOT_FOUND => "key not found",
            EXISTS => "key exists",
            TOO_LARGE => "value too large",
            0x04 => "invalid arguments",
            NOT_STORED => "item not stored",
            NON_NUMERIC => "incr/decr on a non-numeric value",
            AUTH_ERROR => "authentication error",
            0x21 => "authentication continue",
            UNKNOWN_COMMAND => "unknown command",
            OUT_OF_MEMORY => "out of memory",
            0x83 => "not supported",
            0x84 => "internal error",
            0x85 => "busy",
            0x86 => "temporary failure",
            _ => "unknown status",
        }
    }
}

/// `exptime` of an increment that must not create an absent key.
pub(crate) const NO_CREATE: u32 = u32::MAX;

/// The largest response body accepted (memcached's own item limit tops out at 1 GB).
const MAX_BODY: usize = (1 << 30) + (1 << 20);

const REQUEST_MAGIC: u8 = 0x80;
const RESPONSE_MAGIC: u8 = 0x81;

/// One request packet.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub opcode: u8,
    pub key: Bytes,
    extras: [u8; 20],
    extras_len: u8,
    pub value: Bytes,
    pub cas: u64,
}

impl Request {
    fn new(opcode: u8, key: impl Into<Bytes>) -> Request {
        Request { opcode, key: key.into(), extras: [0; 20], extras_len: 0, value: Bytes::new(), cas: 0 }
    }

    /// GETK: the value, flags and cas of `key`, with the key echoed.
    pub(crate) fn getk(key: impl Into<Bytes>) -> Request {
        Request::new(opcode::GETK, key)
    }

    /// GETKQ: like GETK, but silent on a miss (end a batch of them with [`Request::noop`]).
    pub(crate) fn getkq(key: impl Into<Bytes>) -> Request {
        Request::new(opcode::GETKQ, key)
    }

    /// SET / ADD / SETQ of `value`: flags 0, no expiry, unconditional. The `with_` methods change
    /// those three (a builder, because most writes leave two of them at 0).
    pub(crate) fn store(opcode: u8, key: impl Into<Bytes>, value: Bytes) -> Request {
        let mut r = Request::new(opcode, key);
        r.extras_len = 8;
        r.value = value;
        r
    }

    /// The item's 32-bit flags (a store's first extra).
    pub(crate) fn with_flags(mut self, flags: u32) -> Request {
        debug_assert_eq!(self.extras_len, 8, "flags belong to a store");
        self.extras[..4].copy_from_slice(&flags.to_be_bytes());
        self
    }

    /// The item's exptime (a store's second extra).
    pub(crate) fn with_exptime(mut self, exptime: u32) -> Request {
        debug_assert_eq!(self.extras_len, 8, "an exptime of this layout belongs to a store");
        self.extras[4..8].copy_from_slice(&exptime.to_be_bytes());
        self
    }

    /// Only if the item's cas is still `cas` (0: unconditional).
    pub(crate) fn with_cas(mut self, cas: u64) -> Request {
        self.cas = cas;
        self
    }

    /// DELETE, only if the item's cas is still `cas` (0: unconditional).
    pub(crate) fn delete(key: impl Into<Bytes>, cas: u64) -> Request {
        let mut r = Request::new(opcode::DELETE, key);
        r.cas = cas;
        r
    }

    /// INCREMENT by `delta` (wrapping at 2^64). An absent key is created holding `initial`
    /// (without the delta applied) unless `exptime` is [`NO_CREATE`].
    pub(crate) fn increment(key: impl Into<Bytes>, delta: u64, initial: u64, exptime: u32) -> Request {
        let mut r = Request::new(opcode::INCREMENT, key);
        r.extras[..8].copy_from_slice(&delta.to_be_bytes());
        r.extras[8..16].copy_from_slice(&initial.to_be_bytes());
        r.extras[16..20].copy_from_slice(&exptime.to_be_bytes());
        r.extras_len = 20;
        r
    }

    /// TOUCH: a new exptime for a live key.
    pub(crate) fn touch(key: impl Into<Bytes>, exptime: u32) -> Request {
        let mut r = Request::new(opcode::TOUCH, key);
        r.extras[..4].copy_from_slice(&exptime.to_be_bytes());
        r.extras_len = 4;
        r
    }

    /// NOOP: answered once every earlier request of the batch is answered.
    pub(crate) fn noop() -> Request {
        Request::new(opcode::NOOP, Bytes::new())
    }

    /// SASL PLAIN authentication.
    pub(crate) fn sasl_plain(username: &str, password: &str) -> Request {
        let mut r = Request::new(opcode::SASL_AUTH, Bytes::from_static(b"PLAIN"));
        let mut value = Vec::with_capacity(username.len() + password.len() + 2);
        value.push(0);
        value.extend_from_slice(username.as_bytes());
        value.push(0);
        value.extend_from_slice(password.as_bytes());
        r.value = Bytes::from(value);
        r
    }

    pub(crate) fn is_quiet(&self) -> bool {
        opcode::is_quiet(self.opcode)
    }

    /// Writes the packet (buffered by `out`; large values pass through without a copy).
    pub(crate) async fn write_to<W: AsyncWrite + Unpin>(&self, out: &mut W, opaque: u32) -> std::io::Result<()> {
        let extras = &self.extras[..usize::from(self.extras_len)];
        let key_len = u16::try_from(self.key.len())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "key longer than 65535 bytes"))?;
        let body = extras.len() + self.key.len() + self.value.len();
        let body = u32::try_from(body)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "packet body over 4 GiB"))?;
        let mut header = [0u8; 24];
        header[0] = REQUEST_MAGIC;
        header[1] = self.opcode;
        header[2..4].copy_from_slice(&key_len.to_be_bytes());
        header[4] = self.extras_len;
        header[8..12].copy_from_slice(&body.to_be_bytes());
        header[12..16].copy_from_slice(&opaque.to_be_bytes());
        header[16..24].copy_from_slice(&self.cas.to_be_bytes());
        out.write_all(&header).await?;
        out.write_all(extras).await?;
        out.write_all(&self.key).await?;
        out.write_all(&self.value).await
    }
}

/// One response packet.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub opcode: u8,
    pub status: u16,
    pub opaque: u32,
    pub cas: u64,
    pub extras: Bytes,
    pub value: Bytes,
}

impl Response {
    /// The item's flags (extras of a get response).
    pub(crate) fn flags(&self) -> u32 {
        match self.extras.get(..4) {
            Some(b) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            None => 0,
        }
    }

    /// The new value of an increment.
    pub(crate) fn counter(&self) -> Option<u64> {
        let b: [u8; 8] = self.value.get(..8)?.try_into().ok()?;
        Some(u64::from_be_bytes(b))
    }

    /// The server's error text (memcached puts a message in the value of an error response).
    pub(crate) fn message(&self) -> String {
        let text = String::from_utf8_lossy(&self.value[..self.value.len().min(200)]).trim().to_owned();
        if text.is_empty() { status::name(self.status).to_owned() } else { text }
    }
}

/// Why reading a response failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(std::io::Error),
    /// Bytes that are not a response packet: the connection is out of step and must be dropped.
    Malformed(String),
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// Reads one response packet.
pub(crate) async fn read_response<R: tokio::io::AsyncRead + Unpin>(input: &mut R) -> Result<Response, ReadError> {
    let mut header = [0u8; 24];
    input.read_exact(&mut header).await?;
    if header[0] != RESPONSE_MAGIC {
        return Err(ReadError::Malformed(format!(
            "the server sent byte 0x{:02x} where a binary-protocol response starts with 0x81 (is it a memcached \
             speaking the binary protocol? a server started with -Y (ASCII authentication) or -B ascii refuses it)",
            header[0]
        )));
    }
    let key_len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let extras_len = usize::from(header[4]);
    let status = u16::from_be_bytes([header[6], header[7]]);
    let body_len = u32::from_be_bytes([header[8], header[9], header[10], header[11]]) as usize;
    let opaque = u32::from_be_bytes([header[12], header[13], header[14], header[15]]);
    let cas = u64::from_be_bytes(header[16..24].try_into().expect("8 bytes"));
    if body_len > MAX_BODY || extras_len + key_len > body_len {
        return Err(ReadError::Malformed(format!(
            "response header claims a body of {body_len} bytes with {extras_len} bytes of extras and a {key_len}-byte key"
        )));
    }
    let mut body = BytesMut::zeroed(body_len);
    input.read_exact(&mut body).await?;
    let body = body.freeze();
    Ok(Response {
        opcode: header[1],
        status,
        opaque,
        cas,
        extras: body.slice(..extras_len),
        value: body.slice(extras_len + key_len..),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn request_layout_matches_the_protocol() {
        let mut out = Vec::new();
        Request::store(opcode::SET, Bytes::from_static(b"k"), Bytes::from_static(b"vv"))
            .with_flags(7)
            .with_exptime(60)
            .with_cas(9)
            .write_to(&mut out, 3)
            .await
            .unwrap();
        assert_eq!(out.len(), 24 + 8 + 1 + 2);
        assert_eq!(&out[..8], &[0x80, 0x01, 0, 1, 8, 0, 0, 0]);
        assert_eq!(&out[8..12], &11u32.to_be_bytes());
        assert_eq!(&out[12..16], &3u32.to_be_bytes());
        assert_eq!(&out[16..24], &9u64.to_be_bytes());
        assert_eq!(&out[24..28], &7u32.to_be_bytes());
        assert_eq!(&out[28..32], &60u32.to_be_bytes());
        assert_eq!(&out[32..], b"kvv");
    }

    #[tokio::test]
    async fn responses_parse_and_garbage_is_refused() {
        let mut packet = vec![0x81, 0x0c, 0, 1, 4, 0, 0, 0];
        packet.extend_from_slice(&(4u32 + 1 + 3).to_be_bytes());
        packet.extend_from_slice(&5u32.to_be_bytes());
        packet.extend_from_slice(&77u64.to_be_bytes());
        packet.extend_from_slice(&42u32.to_be_bytes());
        packet.extend_from_slice(b"kabc");
        let r = read_response(&mut &packet[..]).await.unwrap();
        assert_eq!((r.opcode, r.status, r.opaque, r.cas, r.flags()), (0x0c, 0, 5, 77, 42));
        assert_eq!(&r.value[..], b"abc");
        let garbage = b"VERSION 1.6.18\r\n\0\0\0\0\0\0\0\0\0\0";
        assert!(matches!(read_response(&mut &garbage[..]).await, Err(ReadError::Malformed(_))));
    }

    #[test]
    fn quiet_opcodes() {
        assert!(opcode::is_quiet(opcode::GETKQ) && opcode::is_quiet(opcode::SETQ));
        assert!(!opcode::is_quiet(opcode::GETK) && !opcode::is_quiet(opcode::NOOP) && !opcode::is_quiet(opcode::SET));
    }
}

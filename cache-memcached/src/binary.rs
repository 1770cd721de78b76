//! memcached's binary protocol: how a [`Request`] is written and a [`Response`] read.
//!
//! Reference: memcached's `protocol_binary.h` and the "BinaryProtocolRevamped" page of its wiki.
//! Every packet is a 24-byte header (big-endian fields) followed by extras, key and value. A
//! response echoes the request's opcode and its `opaque` field; this crate numbers the requests of
//! a pipelined batch through `opaque` and checks every echo, so a response can never be paired
//! with the wrong request. Deprecated by memcached since 1.6.0, and the only protocol with SASL.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::request::{MAX_STATS, Op, Request, Response, status};

/// The opcodes of the commands this backend sends.
fn opcode(op: Op) -> u8 {
    match op {
        Op::Set => 0x01,
        Op::Add => 0x02,
        Op::Delete => 0x04,
        Op::Increment => 0x05,
        Op::Noop => 0x0a,
        Op::Get => 0x0c,      // GETK
        Op::GetQuiet => 0x0d, // GETKQ
        Op::SetQuiet => 0x11, // SETQ
        Op::Touch => 0x1c,
        Op::SaslPlain => 0x21, // SASL_AUTH
        Op::Stats => 0x10,
    }
}

/// The largest response body accepted (memcached's own item limit tops out at 1 GB).
const MAX_BODY: usize = (1 << 30) + (1 << 20);

const REQUEST_MAGIC: u8 = 0x80;
const RESPONSE_MAGIC: u8 = 0x81;

/// Writes `request` as one packet numbered `opaque` (buffered by `out`; large values pass
/// through without a copy).
pub(crate) async fn write_request<W: AsyncWrite + Unpin>(
    request: &Request,
    out: &mut W,
    opaque: u32,
) -> std::io::Result<()> {
    let mut extras = [0u8; 20];
    let extras_len = match request.op {
        Op::Set | Op::SetQuiet | Op::Add => {
            extras[..4].copy_from_slice(&request.flags.to_be_bytes());
            extras[4..8].copy_from_slice(&request.exptime.to_be_bytes());
            8
        }
        Op::Increment => {
            extras[..8].copy_from_slice(&request.delta.to_be_bytes());
            extras[8..16].copy_from_slice(&request.initial.to_be_bytes());
            extras[16..20].copy_from_slice(&request.exptime.to_be_bytes());
            20
        }
        Op::Touch => {
            extras[..4].copy_from_slice(&request.exptime.to_be_bytes());
            4
        }
        Op::Get | Op::GetQuiet | Op::Delete | Op::Noop | Op::SaslPlain | Op::Stats => 0,
    };
    let extras = &extras[..extras_len];
    let key_len = u16::try_from(request.key.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "key longer than 65535 bytes"))?;
    let body = extras.len() + request.key.len() + request.value.len();
    let body = u32::try_from(body)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "packet body over 4 GiB"))?;
    let mut header = [0u8; 24];
    header[0] = REQUEST_MAGIC;
    header[1] = opcode(request.op);
    header[2..4].copy_from_slice(&key_len.to_be_bytes());
    header[4] = extras_len as u8;
    header[8..12].copy_from_slice(&body.to_be_bytes());
    header[12..16].copy_from_slice(&opaque.to_be_bytes());
    header[16..24].copy_from_slice(&request.cas.to_be_bytes());
    out.write_all(&header).await?;
    out.write_all(extras).await?;
    out.write_all(&request.key).await?;
    out.write_all(&request.value).await
}

/// One response packet as read: which request it answers, and the answer.
#[derive(Debug)]
pub(crate) struct Packet {
    pub opcode: u8,
    pub opaque: u32,
    /// The key the server sent back (a GETK's key; a STAT packet's figure name).
    pub key: Bytes,
    pub response: Response,
}

/// Why reading a response failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(std::io::Error),
    /// Bytes that are not a response: the connection is out of step and must be dropped.
    Malformed(String),
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// Reads the response to one of `requests` (numbered by their place, through `opaque`) and says
/// which one it answers; a response whose opcode is not its request's is refused.
pub(crate) async fn read_answer<R: AsyncRead + Unpin>(
    input: &mut R,
    requests: &[Request],
) -> Result<(usize, Response), ReadError> {
    let packet = read_response(input).await?;
    let i = packet.opaque as usize;
    match requests.get(i) {
        Some(request) if opcode(request.op) == packet.opcode => match request.op {
            Op::Stats => read_stats(input, packet).await.map(|response| (i, response)),
            _ => Ok((i, packet.response)),
        },
        _ => Err(ReadError::Malformed(format!(
            "a response (opcode 0x{:02x}, opaque {i}) does not belong to any request of the batch",
            packet.opcode
        ))),
    }
}

/// The rest of a STAT answer after its first packet: one packet per figure (its name in the key,
/// its value as text), ended by a packet without a key.
async fn read_stats<R: AsyncRead + Unpin>(input: &mut R, first: Packet) -> Result<Response, ReadError> {
    let mut figures = String::new();
    let mut packet = first;
    for _ in 0..MAX_STATS {
        if packet.response.status != status::OK || packet.key.is_empty() {
            let mut response = packet.response;
            response.value = Bytes::from(figures);
            return Ok(response);
        }
        figures.push_str(&String::from_utf8_lossy(&packet.key));
        figures.push(' ');
        figures.push_str(&String::from_utf8_lossy(&packet.response.value));
        figures.push('\n');
        let (opcode, opaque) = (packet.opcode, packet.opaque);
        packet = read_response(input).await?;
        if (packet.opcode, packet.opaque) != (opcode, opaque) {
            return Err(ReadError::Malformed(format!(
                "a response (opcode 0x{:02x}, opaque {}) in the middle of a STAT answer",
                packet.opcode, packet.opaque
            )));
        }
    }
    Err(ReadError::Malformed(format!("a STAT answer of more than {MAX_STATS} figures")))
}

/// Reads one response packet.
pub(crate) async fn read_response<R: AsyncRead + Unpin>(input: &mut R) -> Result<Packet, ReadError> {
    let mut header = [0u8; 24];
    input.read_exact(&mut header).await?;
    if header[0] != RESPONSE_MAGIC {
        return Err(ReadError::Malformed(format!(
            "the server sent byte 0x{:02x} where a binary-protocol response starts with 0x81 (a server that does not \
             speak the binary protocol: one started with -Y (ASCII authentication) or -B ascii, or a proxy such as \
             mcrouter; set CACHE_OPTIONS.protocol=meta for it)",
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
    let extras = body.slice(..extras_len);
    let key = body.slice(extras_len..extras_len + key_len);
    let value = body.slice(extras_len + key_len..);
    let opcode = header[1];
    let flags = match extras.get(..4) {
        Some(b) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        None => 0,
    };
    let counter = if opcode == self::opcode(Op::Increment) && status == status::OK {
        value.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes)
    } else {
        None
    };
    // memcached puts a message in the value of an error response.
    let text = if status == status::OK { String::new() } else { String::from_utf8_lossy(&value).into_owned() };
    Ok(Packet { opcode, opaque, key, response: Response { status, cas, flags, value, counter, text } })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[tokio::test]
    async fn request_layout_matches_the_protocol() {
        let mut out = Vec::new();
        let request = Request::store(Op::Set, Bytes::from_static(b"k"), Bytes::from_static(b"vv"))
            .with_flags(7)
            .with_exptime(60)
            .with_cas(9);
        write_request(&request, &mut out, 3).await.unwrap();
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
        let p = read_response(&mut &packet[..]).await.unwrap();
        assert_eq!((p.opcode, p.response.status, p.opaque, p.response.cas, p.response.flags()), (0x0c, 0, 5, 77, 42));
        assert_eq!(&p.response.value[..], b"abc");
        let garbage = b"VERSION 1.6.18\r\n\0\0\0\0\0\0\0\0\0\0";
        assert!(matches!(read_response(&mut &garbage[..]).await, Err(ReadError::Malformed(_))));
    }

    /// A response packet of `opcode`, numbered 0, with `key` and `value`.
    fn packet(opcode: u8, key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut packet = vec![0x81, opcode];
        packet.extend_from_slice(&(key.len() as u16).to_be_bytes());
        packet.extend_from_slice(&[0, 0, 0, 0]);
        packet.extend_from_slice(&((key.len() + value.len()) as u32).to_be_bytes());
        packet.extend_from_slice(&[0; 12]);
        packet.extend_from_slice(key);
        packet.extend_from_slice(value);
        packet
    }

    #[tokio::test]
    async fn a_stat_answer_is_gathered_into_one_response_of_name_value_lines() {
        let stats = [Request::stats()];
        let answer = [packet(0x10, b"pid", b"7"), packet(0x10, b"version", b"1.6.18"), packet(0x10, b"", b"")].concat();
        let (i, response) = read_answer(&mut &answer[..], &stats).await.unwrap();
        assert_eq!((i, &response.value[..]), (0, &b"pid 7\nversion 1.6.18\n"[..]));
        let interrupted = [packet(0x10, b"pid", b"7"), packet(0x0a, b"", b"")].concat();
        assert!(matches!(read_answer(&mut &interrupted[..], &stats).await, Err(ReadError::Malformed(_))));
        let endless = packet(0x10, b"x", b"1").repeat(MAX_STATS + 1);
        assert!(matches!(read_answer(&mut &endless[..], &stats).await, Err(ReadError::Malformed(_))));
    }

    #[tokio::test]
    async fn an_answer_with_another_opcode_than_its_request_is_refused() {
        let mut packet = vec![0x81, 0x01, 0, 0, 0, 0, 0, 0];
        packet.extend_from_slice(&0u32.to_be_bytes());
        packet.extend_from_slice(&0u32.to_be_bytes());
        packet.extend_from_slice(&0u64.to_be_bytes());
        let requests = [Request::get(Bytes::from_static(b"k"))];
        assert!(matches!(read_answer(&mut &packet[..], &requests).await, Err(ReadError::Malformed(_))));
        let requests = [Request::store(Op::Set, Bytes::from_static(b"k"), Bytes::new())];
        assert_eq!(read_answer(&mut &packet[..], &requests).await.unwrap().0, 0);
    }
}

//! memcached's meta protocol (memcached 1.6+, `doc/protocol.txt`, "Meta Commands"): how a
//! [`Request`] is written and a [`Response`] read.
//!
//! | request | meta command |
//! |---|---|
//! | get (quiet) | `mg <key> v f c [q] O<n>` |
//! | set / add | `ms <key> <len> F<flags> T<exptime> [C<cas>] [ME] O<n>` and the data |
//! | delete | `md <key> [C<cas>] O<n>` |
//! | increment | `ma <key> D<delta> [N<exptime> J<initial>] v O<n>` |
//! | touch | `mg <key> T<exptime> O<n>` |
//! | noop | `mn` |
//! | the server's figures | `stats` (the text protocol's: `STAT <name> <value>` lines, `END`) |
//!
//! Every command carries its place in the batch as its opaque token (`O<n>`), which memcached
//! copies into the answer, so an answer is never paired with the wrong request. Error lines
//! (`CLIENT_ERROR`, `SERVER_ERROR`) carry no opaque: memcached answers in order, so they belong to
//! the first request not yet answered. That is why only gets use the quiet flag `q` (a miss sends
//! nothing): a quiet set that failed would answer with an error line that could belong to any of
//! the quiet sets before it, so sets always answer (`HD`, 4 bytes) and the answer of a success of
//! [`Op::SetQuiet`] is dropped here, as the binary protocol's server would not send it.
//!
//! Keys go as they are: every memcached key this backend makes is printable ASCII without spaces
//! (`keys.rs`), so the base64 key flag `b` is never needed. memcached reads a meta TTL as a signed
//! 32-bit number, so an absolute exptime past January 2038 is sent as 2038 (the binary protocol
//! takes up to 2106); the deadline kept in the item's flags is unchanged.
//!
//! A server that answers `ERROR` does not know meta commands (memcached before 1.6, or a proxy
//! without them): the connection is dropped with an error that names `CACHE_OPTIONS.protocol`.

use std::io::Write as _;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::binary::ReadError;
use crate::request::{MAX_STATS, NO_CREATE, Op, Request, Response, status};

/// The largest value accepted in an answer (memcached's own item limit tops out at 1 GB).
const MAX_VALUE: usize = (1 << 30) + (1 << 20);
/// The longest answer line accepted (a `VA` line with every flag this backend asks for is under
/// 100 bytes; error lines are short too).
const MAX_LINE: u64 = 4096;
/// The largest TTL memcached's meta parser reads (`safe_strtol`).
const MAX_TTL: u32 = i32::MAX as u32;

/// The error for the protocol option, when a server does not know meta commands.
pub(crate) const NOT_META: &str = "it does not know memcached's meta commands (memcached before 1.6, or a proxy \
                                   without them); set CACHE_OPTIONS.protocol=binary for it";

/// Writes `request`, numbered `opaque` (buffered by `out`; a large value passes through without
/// a copy).
pub(crate) async fn write_request<W: AsyncWrite + Unpin>(
    request: &Request,
    out: &mut W,
    opaque: u32,
) -> std::io::Result<()> {
    let mut line = Vec::with_capacity(64 + request.key.len());
    let key = || key_token(&request.key);
    let ttl = request.exptime.min(MAX_TTL);
    let cas = |line: &mut Vec<u8>| -> std::io::Result<()> {
        if request.cas != 0 {
            write!(line, " C{}", request.cas)?;
        }
        Ok(())
    };
    match request.op {
        Op::Noop => return out.write_all(b"mn\r\n").await,
        Op::Stats => return out.write_all(b"stats\r\n").await,
        Op::Get => write!(line, "mg {} v f c", key()?)?,
        Op::GetQuiet => write!(line, "mg {} v f c q", key()?)?,
        Op::Touch => write!(line, "mg {} T{ttl}", key()?)?,
        Op::Set | Op::SetQuiet | Op::Add => {
            write!(line, "ms {} {} F{} T{ttl}", key()?, request.value.len(), request.flags)?;
            cas(&mut line)?;
            if request.op == Op::Add {
                line.extend_from_slice(b" ME");
            }
        }
        Op::Delete => {
            write!(line, "md {}", key()?)?;
            cas(&mut line)?;
        }
        Op::Increment => {
            write!(line, "ma {} D{} v", key()?, request.delta)?;
            if request.exptime != NO_CREATE {
                write!(line, " N{ttl} J{}", request.initial)?;
            }
        }
        Op::SaslPlain => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "SASL needs the binary protocol (CACHE_OPTIONS.protocol=binary)",
            ));
        }
    }
    write!(line, " O{opaque}\r\n")?;
    out.write_all(&line).await?;
    if matches!(request.op, Op::Set | Op::SetQuiet | Op::Add) {
        out.write_all(&request.value).await?;
        out.write_all(b"\r\n").await?;
    }
    Ok(())
}

/// A key as a meta token; `keys.rs` makes only keys that are one.
fn key_token(key: &[u8]) -> std::io::Result<&str> {
    let valid = !key.is_empty() && key.len() <= 250 && key.iter().all(|b| (0x21..=0x7e).contains(b));
    match std::str::from_utf8(key) {
        Ok(text) if valid => Ok(text),
        _ => Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "a key that is not one meta-protocol token")),
    }
}

/// Reads the answer to one of `requests` (`next` is the first not yet answered) and says which
/// one it answers. `None`: the answer is the success of a quiet request (nothing to report).
pub(crate) async fn read_answer<R: AsyncBufRead + Unpin>(
    input: &mut R,
    requests: &[Request],
    next: usize,
) -> Result<(usize, Option<Response>), ReadError> {
    let line = read_line(input).await?;
    let mut words = line.split(' ').filter(|w| !w.is_empty());
    let code = words.next().unwrap_or("");
    let malformed = |what: &str| ReadError::Malformed(format!("{what} in the answer line {:?}", shorten(&line)));
    let mut response = Response::default();
    let in_order = |r: Response| -> Result<(usize, Option<Response>), ReadError> {
        if next < requests.len() { Ok((next, Some(r))) } else { Err(malformed("an answer to no request")) }
    };
    match code {
        "ERROR" => {
            return Err(ReadError::Malformed(format!("the server answered {line:?} to a meta command: {NOT_META}")));
        }
        "CLIENT_ERROR" | "SERVER_ERROR" => {
            let text = line[code.len()..].trim().to_owned();
            response.status = error_status(code, &text);
            response.text = text;
            return in_order(response);
        }
        "STAT" | "END" if requests.get(next).is_some_and(|r| r.op == Op::Stats) => {
            return read_stats(input, line).await.map(|response| (next, Some(response)));
        }
        "MN" => {
            let noop = requests[next.min(requests.len())..].iter().position(|r| r.op == Op::Noop);
            return match noop {
                Some(at) => Ok((next + at, Some(response))),
                None => Err(malformed("a no-op answer to no no-op")),
            };
        }
        _ => {}
    }
    let mut size = None;
    response.status = match code {
        "VA" => {
            let len = words.next().and_then(|w| w.parse::<usize>().ok()).filter(|&n| n <= MAX_VALUE);
            size = Some(len.ok_or_else(|| malformed("no value size, or one over 1 GiB,"))?);
            status::OK
        }
        "HD" => status::OK,
        "EN" | "NF" => status::NOT_FOUND,
        "NS" => status::NOT_STORED,
        "EX" => status::EXISTS,
        _ => return Err(malformed("an unknown return code")),
    };
    let mut opaque = None;
    for word in words {
        let (flag, token) = word.split_at(1);
        let number = || token.parse::<u64>().map_err(|_| malformed("a flag without its number"));
        match flag {
            "O" => opaque = Some(number()?),
            "f" => response.flags = u32::try_from(number()?).map_err(|_| malformed("client flags over 32 bits"))?,
            "c" => response.cas = number()?,
            // W, X, Z (recache and stale flags), t, s...: asked for by no request here.
            _ => {}
        }
    }
    if let Some(size) = size {
        let mut value = BytesMut::zeroed(size + 2);
        input.read_exact(&mut value).await?;
        if &value[size..] != b"\r\n" {
            return Err(malformed("a value not ended by \\r\\n"));
        }
        value.truncate(size);
        response.value = value.freeze();
    }
    let i = opaque.ok_or_else(|| malformed("no opaque token"))? as usize;
    let Some(request) = requests.get(i) else { return Err(malformed("an opaque token of no request")) };
    if request.op == Op::Increment && response.status == status::OK {
        let number = std::str::from_utf8(&response.value).ok().and_then(|t| t.trim().parse::<u64>().ok());
        response.counter = Some(number.ok_or_else(|| malformed("an increment without its number"))?);
        response.value = Bytes::new();
    }
    let silent_success = request.op == Op::SetQuiet && response.status == status::OK;
    Ok((i, (!silent_success).then_some(response)))
}

/// The rest of a `stats` answer after its first line: `STAT <name> <value>` lines up to `END`.
async fn read_stats<R: AsyncBufRead + Unpin>(input: &mut R, first: String) -> Result<Response, ReadError> {
    let mut figures = String::new();
    let mut line = first;
    for _ in 0..MAX_STATS {
        if line == "END" {
            return Ok(Response { value: Bytes::from(figures), ..Response::default() });
        }
        let Some(figure) = line.strip_prefix("STAT ") else {
            return Err(ReadError::Malformed(format!("{:?} in the middle of a stats answer", shorten(&line))));
        };
        figures.push_str(figure);
        figures.push('\n');
        line = read_line(input).await?;
    }
    Err(ReadError::Malformed(format!("a stats answer of more than {MAX_STATS} figures")))
}

/// The status of an error line, from its text (memcached's words, `proto_text.c`).
fn error_status(code: &str, text: &str) -> u16 {
    match (code, text) {
        (_, t) if t.contains("non-numeric") => status::NON_NUMERIC,
        (_, t) if t.contains("too large") => status::TOO_LARGE,
        (_, t) if t.contains("out of memory") || t.contains("Out of memory") => status::OUT_OF_MEMORY,
        (_, t) if t.contains("authentic") => status::AUTH_ERROR,
        ("CLIENT_ERROR", _) => status::INVALID_ARGUMENTS,
        _ => status::INTERNAL_ERROR,
    }
}

/// One answer line, without its `\r\n`.
async fn read_line<R: AsyncBufRead + Unpin>(input: &mut R) -> Result<String, ReadError> {
    let mut line = Vec::with_capacity(64);
    (&mut *input).take(MAX_LINE).read_until(b'\n', &mut line).await?;
    if line.is_empty() {
        return Err(ReadError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    if !line.ends_with(b"\r\n") {
        return Err(if line.len() as u64 >= MAX_LINE {
            ReadError::Malformed(format!("an answer line longer than {MAX_LINE} bytes"))
        } else {
            ReadError::Io(std::io::ErrorKind::UnexpectedEof.into())
        });
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|e| {
        let line = e.as_bytes();
        ReadError::Malformed(format!(
            "an answer line that is not text ({:?}): is the server speaking the binary protocol only (-B binary)? \
             set CACHE_OPTIONS.protocol=binary for it",
            String::from_utf8_lossy(&line[..line.len().min(40)])
        ))
    })
}

fn shorten(line: &str) -> String {
    line.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn written(request: Request) -> String {
        let mut out = Vec::new();
        write_request(&request, &mut out, 7).await.unwrap();
        String::from_utf8(out).unwrap()
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[tokio::test]
    async fn requests_are_written_as_meta_commands() {
        assert_eq!(written(Request::get(b("k"))).await, "mg k v f c O7\r\n");
        assert_eq!(written(Request::get_quiet(b("k"))).await, "mg k v f c q O7\r\n");
        let set = Request::store(Op::Set, b("k"), b("vv")).with_flags(5).with_exptime(60).with_cas(9);
        assert_eq!(written(set).await, "ms k 2 F5 T60 C9 O7\r\nvv\r\n");
        assert_eq!(written(Request::store(Op::Add, b("k"), b("v"))).await, "ms k 1 F0 T0 ME O7\r\nv\r\n");
        assert_eq!(written(Request::delete(b("k"), 0)).await, "md k O7\r\n");
        assert_eq!(written(Request::increment(b("k"), 2, 2, 0)).await, "ma k D2 v N0 J2 O7\r\n");
        assert_eq!(written(Request::increment(b("k"), 2, 0, NO_CREATE)).await, "ma k D2 v O7\r\n");
        assert_eq!(written(Request::touch(b("k"), u32::MAX)).await, "mg k T2147483647 O7\r\n");
        assert_eq!(written(Request::noop()).await, "mn\r\n");
        let mut out = Vec::new();
        assert!(write_request(&Request::get(b("a key")), &mut out, 0).await.is_err());
    }

    async fn answers(bytes: &[u8], requests: &[Request]) -> Result<Vec<(usize, Option<Response>)>, ReadError> {
        let mut input = bytes;
        let mut out = Vec::new();
        let mut next = 0;
        while next < requests.len() {
            let (i, r) = read_answer(&mut input, requests, next).await?;
            next = i + 1;
            out.push((i, r));
        }
        Ok(out)
    }

    #[tokio::test]
    async fn a_stats_answer_is_gathered_into_one_response_of_name_value_lines() {
        assert_eq!(written(Request::stats()).await, "stats\r\n");
        let stats = [Request::stats()];
        let got = answers(b"STAT pid 7\r\nSTAT version 1.6.18\r\nEND\r\n", &stats).await.unwrap();
        assert_eq!(&got[0].1.as_ref().unwrap().value[..], b"pid 7\nversion 1.6.18\n");
        let got = answers(b"END\r\n", &stats).await.unwrap();
        assert!(got[0].1.as_ref().unwrap().value.is_empty());
        assert!(matches!(answers(b"STAT pid 7\r\nHD O1\r\n", &stats).await, Err(ReadError::Malformed(_))));
        let endless = "STAT x 1\r\n".repeat(MAX_STATS + 1);
        assert!(matches!(answers(endless.as_bytes(), &stats).await, Err(ReadError::Malformed(_))));
        let not_asked = [Request::get(b("k"))];
        assert!(matches!(answers(b"END\r\n", &not_asked).await, Err(ReadError::Malformed(_))));
    }

    #[tokio::test]
    async fn answers_are_matched_by_opaque_and_quiet_successes_are_dropped() {
        let requests = [
            Request::get_quiet(b("a")),
            Request::get_quiet(b("b")),
            Request::store(Op::SetQuiet, b("c"), b("v")),
            Request::increment(b("d"), 1, 1, 0),
            Request::noop(),
        ];
        let wire = b"VA 3 f9 c44 O1\r\nabc\r\nHD O2\r\nVA 2 O3\r\n12\r\nMN\r\n";
        let got = answers(wire, &requests).await.unwrap();
        assert_eq!(got.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 2, 3, 4]);
        let hit = got[0].1.as_ref().unwrap();
        assert_eq!((&hit.value[..], hit.flags, hit.cas), (&b"abc"[..], 9, 44));
        assert!(got[1].1.is_none(), "a quiet set's success says nothing");
        assert_eq!(got[2].1.as_ref().unwrap().counter(), Some(12));
    }

    #[tokio::test]
    async fn error_lines_belong_to_the_first_unanswered_request() {
        let requests = [Request::increment(b("n"), 1, 1, 0), Request::store(Op::Set, b("k"), b("v"))];
        let wire = b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\nSERVER_ERROR object too large for cache\r\n";
        let got = answers(wire, &requests).await.unwrap();
        assert_eq!(got[0].1.as_ref().unwrap().status, status::NON_NUMERIC);
        assert_eq!((got[1].0, got[1].1.as_ref().unwrap().status), (1, status::TOO_LARGE));
    }

    #[tokio::test]
    async fn a_server_without_meta_commands_is_told_to_use_the_binary_protocol() {
        let requests = [Request::get(b("k"))];
        let Err(ReadError::Malformed(message)) = answers(b"ERROR\r\n", &requests).await else { panic!() };
        assert!(message.contains("CACHE_OPTIONS.protocol=binary"), "{message}");
        for garbage in [&b"HD\r\n"[..], b"VA 5 O0\r\nab\r\n", b"XX O0\r\n", b"VA x O0\r\n", b"HD O9\r\n", b"\x81\x0c\0"]
        {
            assert!(answers(garbage, &requests).await.is_err(), "{garbage:?}");
        }
    }
}

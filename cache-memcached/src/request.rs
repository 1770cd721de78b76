//! What the operations send and read, whatever the protocol: a [`Request`] names one command
//! ([`Op`]) with its key, value and numbers, a [`Response`] is the answer in one vocabulary of
//! statuses. `binary.rs` and `meta.rs` put these on the wire; `protocol.rs` chooses between them.
//! The operations (`store.rs`, `counter.rs`, `spread.rs`, `namespace.rs`, `lib.rs`) are written
//! once against this module.

use bytes::Bytes;

/// The commands this backend sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// The value, flags and cas of a key (binary GETK, meta `mg v f c`).
    Get,
    /// Like [`Op::Get`], silent on a miss (binary GETKQ, meta `mg ... q`): end a batch of them
    /// with [`Op::Noop`].
    GetQuiet,
    /// Store unconditionally, or only if the cas still matches (binary SET, meta `ms`).
    Set,
    /// Like [`Op::Set`], answering only a failure.
    SetQuiet,
    /// Store only where the key is absent (binary ADD, meta `ms ... ME`).
    Add,
    /// Remove, or only if the cas still matches (binary DELETE, meta `md`).
    Delete,
    /// Add to a number, creating an absent key (binary INCREMENT, meta `ma`).
    Increment,
    /// A new exptime for a live key (binary TOUCH, meta `mg ... T`).
    Touch,
    /// Answered once every earlier request is (binary NOOP, meta `mn`).
    Noop,
    /// SASL PLAIN login (binary only).
    SaslPlain,
    /// The server's own figures (binary STAT, text `stats`), answered by one packet or line per
    /// figure; the codecs gather them into one [`Response`] whose value is `name value` lines.
    /// Alone in its batch (the text protocol's `stats` carries no opaque token).
    Stats,
}

impl Op {
    /// Whether the command carries a value to store.
    pub(crate) fn stores(self) -> bool {
        matches!(self, Op::Set | Op::SetQuiet | Op::Add)
    }

    /// Quiet commands answer only on a hit (gets) or a failure (writes).
    pub(crate) fn is_quiet(self) -> bool {
        matches!(self, Op::GetQuiet | Op::SetQuiet)
    }
}

/// Response statuses, numbered as the binary protocol numbers them; the meta codec maps its
/// return codes (`HD`, `EN`, `NS`, `EX`, `NF`, errors) onto the same values.
pub(crate) mod status {
    pub(crate) const OK: u16 = 0x00;
    pub(crate) const NOT_FOUND: u16 = 0x01;
    pub(crate) const EXISTS: u16 = 0x02;
    pub(crate) const TOO_LARGE: u16 = 0x03;
    pub(crate) const INVALID_ARGUMENTS: u16 = 0x04;
    pub(crate) const NOT_STORED: u16 = 0x05;
    pub(crate) const NON_NUMERIC: u16 = 0x06;
    pub(crate) const AUTH_ERROR: u16 = 0x20;
    pub(crate) const UNKNOWN_COMMAND: u16 = 0x81;
    pub(crate) const OUT_OF_MEMORY: u16 = 0x82;
    pub(crate) const INTERNAL_ERROR: u16 = 0x84;

    /// memcached's name for a status, for error messages.
    pub(crate) fn name(status: u16) -> &'static str {
        match status {
            OK => "no error",
            NOT_FOUND => "key not found",
            EXISTS => "key exists",
            TOO_LARGE => "value too large",
            INVALID_ARGUMENTS => "invalid arguments",
            NOT_STORED => "item not stored",
            NON_NUMERIC => "incr/decr on a non-numeric value",
            AUTH_ERROR => "authentication error",
            0x21 => "authentication continue",
            UNKNOWN_COMMAND => "unknown command",
            OUT_OF_MEMORY => "out of memory",
            0x83 => "not supported",
            INTERNAL_ERROR => "internal error",
            0x85 => "busy",
            0x86 => "temporary failure",
            _ => "unknown status",
        }
    }
}

/// The most figures an [`Op::Stats`] answer may have (memcached 1.6 sends about 90): a server
/// that sends more is out of step, not generous.
pub(crate) const MAX_STATS: usize = 1024;

/// `exptime` of an increment that must not create an absent key.
pub(crate) const NO_CREATE: u32 = u32::MAX;

/// One command.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub op: Op,
    pub key: Bytes,
    pub value: Bytes,
    /// The item's 32-bit flags (stores).
    pub flags: u32,
    /// memcached's exptime (stores, touch; an increment's for a created key, or [`NO_CREATE`]).
    pub exptime: u32,
    /// Only if the item's cas is still this (0: unconditional).
    pub cas: u64,
    /// An increment's delta, and the value of a key it creates.
    pub delta: u64,
    pub initial: u64,
}

impl Request {
    fn new(op: Op, key: impl Into<Bytes>) -> Request {
        Request { op, key: key.into(), value: Bytes::new(), flags: 0, exptime: 0, cas: 0, delta: 0, initial: 0 }
    }

    /// The value, flags and cas of `key`.
    pub(crate) fn get(key: impl Into<Bytes>) -> Request {
        Request::new(Op::Get, key)
    }

    /// Like [`Request::get`], but silent on a miss (end a batch of them with [`Request::noop`]).
    pub(crate) fn get_quiet(key: impl Into<Bytes>) -> Request {
        Request::new(Op::GetQuiet, key)
    }

    /// [`Op::Set`], [`Op::SetQuiet`] or [`Op::Add`] of `value`: flags 0, no expiry,
    /// unconditional. The `with_` methods change those three (a builder, because most writes
    /// leave two of them at 0).
    pub(crate) fn store(op: Op, key: impl Into<Bytes>, value: Bytes) -> Request {
        debug_assert!(matches!(op, Op::Set | Op::SetQuiet | Op::Add), "{op:?} is not a store");
        let mut r = Request::new(op, key);
        r.value = value;
        r
    }

    /// The item's 32-bit flags.
    pub(crate) fn with_flags(mut self, flags: u32) -> Request {
        self.flags = flags;
        self
    }

    /// The item's exptime.
    pub(crate) fn with_exptime(mut self, exptime: u32) -> Request {
        self.exptime = exptime;
        self
    }

    /// Only if the item's cas is still `cas` (0: unconditional).
    pub(crate) fn with_cas(mut self, cas: u64) -> Request {
        self.cas = cas;
        self
    }

    /// Remove `key`, only if its cas is still `cas` (0: unconditional).
    pub(crate) fn delete(key: impl Into<Bytes>, cas: u64) -> Request {
        Request::new(Op::Delete, key).with_cas(cas)
    }

    /// Add `delta` (wrapping at 2^64). An absent key is created holding `initial` (without the
    /// delta applied) unless `exptime` is [`NO_CREATE`].
    pub(crate) fn increment(key: impl Into<Bytes>, delta: u64, initial: u64, exptime: u32) -> Request {
        let mut r = Request::new(Op::Increment, key);
        (r.delta, r.initial, r.exptime) = (delta, initial, exptime);
        r
    }

    /// A new exptime for a live key.
    pub(crate) fn touch(key: impl Into<Bytes>, exptime: u32) -> Request {
        Request::new(Op::Touch, key).with_exptime(exptime)
    }

    /// Answered once every earlier request of the batch is answered.
    pub(crate) fn noop() -> Request {
        Request::new(Op::Noop, Bytes::new())
    }

    /// SASL PLAIN authentication (binary protocol).
    pub(crate) fn sasl_plain(username: &str, password: &str) -> Request {
        let mut value = Vec::with_capacity(username.len() + password.len() + 2);
        value.push(0);
        value.extend_from_slice(username.as_bytes());
        value.push(0);
        value.extend_from_slice(password.as_bytes());
        let mut r = Request::new(Op::SaslPlain, Bytes::from_static(b"PLAIN"));
        r.value = Bytes::from(value);
        r
    }

    /// The server's figures ([`Op::Stats`]).
    pub(crate) fn stats() -> Request {
        Request::new(Op::Stats, Bytes::new())
    }

    pub(crate) fn is_quiet(&self) -> bool {
        self.op.is_quiet()
    }
}

/// One answer, whatever the protocol.
#[derive(Debug, Clone, Default)]
pub(crate) struct Response {
    pub status: u16,
    pub cas: u64,
    pub flags: u32,
    pub value: Bytes,
    /// The new value of an increment.
    pub counter: Option<u64>,
    /// The server's error text, if it sent one.
    pub text: String,
}

impl Response {
    /// The item's flags (of a get).
    pub(crate) fn flags(&self) -> u32 {
        self.flags
    }

    /// The new value of an increment.
    pub(crate) fn counter(&self) -> Option<u64> {
        self.counter
    }

    /// The server's error text, or the status's name.
    pub(crate) fn message(&self) -> String {
        let text = self.text.trim();
        if text.is_empty() { status::name(self.status).to_owned() } else { text.chars().take(200).collect() }
    }
}

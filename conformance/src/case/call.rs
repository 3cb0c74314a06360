//! Socket calls on the DUT: [`Call`], its arguments, [`Errno`] and [`SocketOptions`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::duration::{self, DisplayDuration};
use super::matcher::DEFAULT_WITHIN;
use super::segment::{PAYLOAD_KEYS, Payload, PayloadFields, PayloadVisitor};
use super::yaml::Key;

/// The default `listen` backlog.
pub const DEFAULT_BACKLOG: u32 = 16;

/// A `call` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `listen` or `{listen: {backlog: N}}`: bind `dut.port` and listen.
    Listen {
        /// The backlog (default 16).
        backlog: u32,
    },
    /// `accept` or `{accept: {within: D}}`: wait for a connection and take it.
    Accept {
        /// How long to wait (default 1s).
        within: Duration,
    },
    /// `connect`: a non-blocking connect to the tester.
    Connect,
    /// `{send: PAYLOAD}` or `{send: {data: PAYLOAD, error: ERRNO}}`.
    Send {
        /// The bytes to write.
        data: Payload,
        /// The errno the write must fail with, if any.
        error: Option<Errno>,
    },
    /// `{recv: N}` or `{recv: {len, data, eof, error, within}}`.
    Recv {
        /// Read exactly this many bytes (from `data` if only that is given).
        len: Option<usize>,
        /// The bytes expected.
        data: Option<Payload>,
        /// Expect end of stream (after `len` bytes, if given).
        eof: bool,
        /// The errno the read must fail with.
        error: Option<Errno>,
        /// How long to wait (default 1s).
        within: Duration,
    },
    /// `{shutdown: rd|wr|rdwr}`.
    Shutdown(How),
    /// `close`: close the connection socket (the listener stays).
    Close,
    /// `abort`: close with SO_LINGER 0, sending a RST.
    Abort,
    /// `{setsockopt: OPTIONS}` on the connection socket.
    Setsockopt(SocketOptions),
}

/// The names of the calls.
const CALLS: [&str; 9] = [
    "listen",
    "accept",
    "connect",
    "send",
    "recv",
    "shutdown",
    "close",
    "abort",
    "setsockopt",
];

impl fmt::Display for Call {
    /// Compact, for logs: `listen`, `send 512`, `recv 1024`, `shutdown wr`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Listen { backlog } if *backlog == DEFAULT_BACKLOG => f.write_str("listen"),
            Self::Listen { backlog } => write!(f, "listen backlog={backlog}"),
            Self::Accept { within } if *within == DEFAULT_WITHIN => f.write_str("accept"),
            Self::Accept { within } => write!(f, "accept within={}", DisplayDuration(*within)),
            Self::Connect => f.write_str("connect"),
            Self::Send { data, error } => {
                write!(f, "send {data}")?;
                if let Some(e) = error {
                    write!(f, " error={e}")?;
                }
                Ok(())
            }
            Self::Recv {
                len,
                data,
                eof,
                error,
                within,
            } => {
                f.write_str("recv")?;
                match (len, data) {
                    (_, Some(d)) => write!(f, " {d}")?,
                    (Some(n), None) => write!(f, " {n}")?,
                    (None, None) => {}
                }
                if *eof {
                    f.write_str(" eof")?;
                }
                if let Some(e) = error {
                    write!(f, " error={e}")?;
                }
                if *within != DEFAULT_WITHIN {
                    write!(f, " within={}", DisplayDuration(*within))?;
                }
                Ok(())
            }
            Self::Shutdown(how) => write!(f, "shutdown {how}"),
            Self::Close => f.write_str("close"),
            Self::Abort => f.write_str("abort"),
            Self::Setsockopt(o) => write!(f, "setsockopt {o}"),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListen {
    #[serde(default)]
    backlog: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccept {
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    within: Option<Duration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecv {
    #[serde(default)]
    len: Option<usize>,
    #[serde(default)]
    data: Option<Payload>,
    #[serde(default)]
    eof: bool,
    #[serde(default)]
    error: Option<Errno>,
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    within: Option<Duration>,
}

/// The argument of `send`: a payload, or `{data, error}`.
struct SendArg(Payload, Option<Errno>);

impl<'de> Deserialize<'de> for SendArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SendArg;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a payload or `{data: PAYLOAD, error: ERRNO}`")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SendArg, E> {
                PayloadVisitor.visit_u64(v).map(|p| SendArg(p, None))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SendArg, E> {
                PayloadVisitor.visit_str(v).map(|p| SendArg(p, None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SendArg, A::Error> {
                let key = Key {
                    allowed: &["data", "error", "hex", "len", "byte"],
                    what: "send field",
                };
                let mut payload = PayloadFields::default();
                let mut is_payload = false;
                let (mut data, mut error) = (None, None);
                while let Some(k) = map.next_key_seed(key)? {
                    match k {
                        "data" if data.is_some() => {
                            return Err(de::Error::custom("`data` given twice"));
                        }
                        "data" => data = Some(map.next_value::<Payload>()?),
                        "error" if error.is_some() => {
                            return Err(de::Error::custom("`error` given twice"));
                        }
                        "error" => error = Some(map.next_value::<Errno>()?),
                        _ => {
                            debug_assert!(PAYLOAD_KEYS.contains(&k));
                            is_payload = true;
                            payload.read(k, &mut map)?;
                        }
                    }
                }
                match (is_payload, data) {
                    (true, None) if error.is_none() => Ok(SendArg(payload.finish()?, None)),
                    (true, _) => Err(de::Error::custom(
                        "write `{send: {data: PAYLOAD, error: ERRNO}}` with the payload under `data`",
                    )),
                    (false, Some(data)) => Ok(SendArg(data, error)),
                    (false, None) => Err(de::Error::custom(
                        "missing `data`: `{send: {data: PAYLOAD, error: ERRNO}}`",
                    )),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// The argument of `recv`: a length, or the map.
struct RecvArg(Call);

impl<'de> Deserialize<'de> for RecvArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RecvArg;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte count or `{len, data, eof, error, within}`")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RecvArg, E> {
                let len = usize::try_from(v).map_err(|_| E::custom("recv length too large"))?;
                Ok(RecvArg(Call::Recv {
                    len: Some(len),
                    data: None,
                    eof: false,
                    error: None,
                    within: DEFAULT_WITHIN,
                }))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RecvArg, A::Error> {
                let raw = RawRecv::deserialize(MapAccessDeserializer::new(map))?;
                if let (Some(len), Some(data)) = (raw.len, &raw.data)
                    && len != data.len()
                {
                    return Err(de::Error::custom(format!(
                        "`len: {len}` disagrees with `data`, which has {} bytes",
                        data.len()
                    )));
                }
                if raw.error.is_some() && (raw.data.is_some() || raw.len.is_some() || raw.eof) {
                    return Err(de::Error::custom(
                        "`error` expects the read to fail, it cannot be combined with `len`, `data` or `eof`",
                    ));
                }
                if raw.len.is_none() && raw.data.is_none() && !raw.eof && raw.error.is_none() {
                    return Err(de::Error::custom(
                        "recv needs `len`, `data`, `eof: true` or `error`",
                    ));
                }
                Ok(RecvArg(Call::Recv {
                    len: raw.len.or_else(|| raw.data.as_ref().map(Payload::len)),
                    data: raw.data,
                    eof: raw.eof,
                    error: raw.error,
                    within: raw.within.unwrap_or(DEFAULT_WITHIN),
                }))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Call {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Call;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "a call: `listen`, `accept`, `connect`, `close`, `abort`, or a one-key map (`{{send: 512}}`)"
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Call, E> {
                match v {
                    "listen" => Ok(Call::Listen {
                        backlog: DEFAULT_BACKLOG,
                    }),
                    "accept" => Ok(Call::Accept {
                        within: DEFAULT_WITHIN,
                    }),
                    "connect" => Ok(Call::Connect),
                    "close" => Ok(Call::Close),
                    "abort" => Ok(Call::Abort),
                    "send" | "recv" | "shutdown" | "setsockopt" => Err(E::custom(format!(
                        "`{v}` needs an argument, like `{{{v}: ...}}`"
                    ))),
                    _ => Err(E::custom(format!(
                        "unknown call `{v}`, expected one of {}",
                        super::yaml::one_of(&CALLS)
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Call, A::Error> {
                let key = Key {
                    allowed: &CALLS,
                    what: "call",
                };
                let Some(k) = map.next_key_seed(key)? else {
                    return Err(de::Error::custom("expected a call, found an empty map"));
                };
                let call = match k {
                    "listen" => Call::Listen {
                        backlog: map
                            .next_value::<RawListen>()?
                            .backlog
                            .unwrap_or(DEFAULT_BACKLOG),
                    },
                    "accept" => Call::Accept {
                        within: map
                            .next_value::<RawAccept>()?
                            .within
                            .unwrap_or(DEFAULT_WITHIN),
                    },
                    "connect" | "close" | "abort" => {
                        map.next_value::<()>()?;
                        match k {
                            "connect" => Call::Connect,
                            "close" => Call::Close,
                            _ => Call::Abort,
                        }
                    }
                    "send" => {
                        let SendArg(data, error) = map.next_value()?;
                        Call::Send { data, error }
                    }
                    "recv" => map.next_value::<RecvArg>()?.0,
                    "shutdown" => Call::Shutdown(map.next_value()?),
                    _ => {
                        let options: SocketOptions = map.next_value()?;
                        if options.is_empty() {
                            return Err(de::Error::custom("setsockopt needs at least one option"));
                        }
                        Call::Setsockopt(options)
                    }
                };
                if let Some(IgnoredAny) = map.next_key()? {
                    return Err(de::Error::custom(format!(
                        "a call map has one key, the call; found more keys after `{k}`"
                    )));
                }
                Ok(call)
            }
        }
        d.deserialize_any(V)
    }
}

/// Which direction `shutdown` closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum How {
    /// `rd`: SHUT_RD.
    Rd,
    /// `wr`: SHUT_WR.
    Wr,
    /// `rdwr`: SHUT_RDWR.
    #[serde(rename = "rdwr")]
    RdWr,
}

impl fmt::Display for How {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Rd => "rd",
            Self::Wr => "wr",
            Self::RdWr => "rdwr",
        })
    }
}

/// The Linux errno names a case may expect (from `<asm-generic/errno*.h>`, plus the aliases
/// `EWOULDBLOCK`, `EDEADLOCK` and `ENOTSUP`).
const ERRNO_NAMES: [&str; 134] = [
    "EPERM",
    "ENOENT",
    "ESRCH",
    "EINTR",
    "EIO",
    "ENXIO",
    "E2BIG",
    "ENOEXEC",
    "EBADF",
    "ECHILD",
    "EAGAIN",
    "ENOMEM",
    "EACCES",
    "EFAULT",
    "ENOTBLK",
    "EBUSY",
    "EEXIST",
    "EXDEV",
    "ENODEV",
    "ENOTDIR",
    "EISDIR",
    "EINVAL",
    "ENFILE",
    "EMFILE",
    "ENOTTY",
    "ETXTBSY",
    "EFBIG",
    "ENOSPC",
    "ESPIPE",
    "EROFS",
    "EMLINK",
    "EPIPE",
    "EDOM",
    "ERANGE",
    "EDEADLK",
    "ENAMETOOLONG",
    "ENOLCK",
    "ENOSYS",
    "ENOTEMPTY",
    "ELOOP",
    "ENOMSG",
    "EIDRM",
    "ECHRNG",
    "EL2NSYNC",
    "EL3HLT",
    "EL3RST",
    "ELNRNG",
    "EUNATCH",
    "ENOCSI",
    "EL2HLT",
    "EBADE",
    "EBADR",
    "EXFULL",
    "ENOANO",
    "EBADRQC",
    "EBADSLT",
    "EBFONT",
    "ENOSTR",
    "ENODATA",
    "ETIME",
    "ENOSR",
    "ENONET",
    "ENOPKG",
    "EREMOTE",
    "ENOLINK",
    "EADV",
    "ESRMNT",
    "ECOMM",
    "EPROTO",
    "EMULTIHOP",
    "EDOTDOT",
    "EBADMSG",
    "EOVERFLOW",
    "ENOTUNIQ",
    "EBADFD",
    "EREMCHG",
    "ELIBACC",
    "ELIBBAD",
    "ELIBSCN",
    "ELIBMAX",
    "ELIBEXEC",
    "EILSEQ",
    "ERESTART",
    "ESTRPIPE",
    "EUSERS",
    "ENOTSOCK",
    "EDESTADDRREQ",
    "EMSGSIZE",
    "EPROTOTYPE",
    "ENOPROTOOPT",
    "EPROTONOSUPPORT",
    "ESOCKTNOSUPPORT",
    "EOPNOTSUPP",
    "EPFNOSUPPORT",
    "EAFNOSUPPORT",
    "EADDRINUSE",
    "EADDRNOTAVAIL",
    "ENETDOWN",
    "ENETUNREACH",
    "ENETRESET",
    "ECONNABORTED",
    "ECONNRESET",
    "ENOBUFS",
    "EISCONN",
    "ENOTCONN",
    "ESHUTDOWN",
    "ETOOMANYREFS",
    "ETIMEDOUT",
    "ECONNREFUSED",
    "EHOSTDOWN",
    "EHOSTUNREACH",
    "EALREADY",
    "EINPROGRESS",
    "ESTALE",
    "EUCLEAN",
    "ENOTNAM",
    "ENAVAIL",
    "EISNAM",
    "EREMOTEIO",
    "EDQUOT",
    "ENOMEDIUM",
    "EMEDIUMTYPE",
    "ECANCELED",
    "ENOKEY",
    "EKEYEXPIRED",
    "EKEYREVOKED",
    "EKEYREJECTED",
    "EOWNERDEAD",
    "ENOTRECOVERABLE",
    "ERFKILL",
    "EHWPOISON",
    "EWOULDBLOCK",
    "EDEADLOCK",
    "ENOTSUP",
];

/// A symbolic Linux errno name (`ECONNRESET`), checked against the known names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Errno(&'static str);

impl Errno {
    /// The symbolic name, as written in the case.
    pub const fn name(self) -> &'static str {
        self.0
    }

    /// Every accepted name.
    pub fn all() -> impl Iterator<Item = Self> {
        ERRNO_NAMES.iter().map(|n| Self(n))
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// The error of [`Errno::from_str`]: not a known errno name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown errno `{0}`, expected a symbolic Linux errno name like `ECONNRESET`{suggestion}", suggestion = suggestion(.0))]
pub struct UnknownErrno(pub String);

fn suggestion(name: &str) -> String {
    super::context::suggest(name, ERRNO_NAMES)
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

impl FromStr for Errno {
    type Err = UnknownErrno;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ERRNO_NAMES
            .iter()
            .find(|n| **n == s)
            .map(|n| Self(n))
            .ok_or_else(|| UnknownErrno(s.to_owned()))
    }
}

impl<'de> Deserialize<'de> for Errno {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Errno;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an errno name like `ECONNRESET`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Errno, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// Socket options (`dut.options`, `setsockopt`); unset options are left as the system has them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocketOptions {
    /// TCP_NODELAY.
    #[serde(default)]
    pub nodelay: Option<bool>,
    /// SO_RCVBUF, bytes.
    #[serde(default)]
    pub rcvbuf: Option<u32>,
    /// SO_SNDBUF, bytes.
    #[serde(default)]
    pub sndbuf: Option<u32>,
    /// TCP_MAXSEG, bytes.
    #[serde(default)]
    pub maxseg: Option<u16>,
    /// SO_KEEPALIVE.
    #[serde(default)]
    pub keepalive: Option<bool>,
    /// TCP_KEEPIDLE.
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    pub keepidle: Option<Duration>,
    /// TCP_KEEPINTVL.
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    pub keepintvl: Option<Duration>,
    /// TCP_KEEPCNT.
    #[serde(default)]
    pub keepcnt: Option<u32>,
    /// TCP_USER_TIMEOUT.
    #[serde(default, deserialize_with = "duration::deserialize_opt")]
    pub user_timeout: Option<Duration>,
    /// TCP_QUICKACK.
    #[serde(default)]
    pub quickack: Option<bool>,
}

impl SocketOptions {
    /// True if no option is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl fmt::Display for SocketOptions {
    /// `nodelay=true keepidle=1s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        let flags = [
            ("nodelay", self.nodelay),
            ("keepalive", self.keepalive),
            ("quickack", self.quickack),
        ];
        let numbers = [
            ("rcvbuf", self.rcvbuf),
            ("sndbuf", self.sndbuf),
            ("maxseg", self.maxseg.map(u32::from)),
            ("keepcnt", self.keepcnt),
        ];
        let durations = [
            ("keepidle", self.keepidle),
            ("keepintvl", self.keepintvl),
            ("user_timeout", self.user_timeout),
        ];
        for (n, v) in flags {
            if let Some(v) = v {
                parts.push(format!("{n}={v}"));
            }
        }
        for (n, v) in numbers {
            if let Some(v) = v {
                parts.push(format!("{n}={v}"));
            }
        }
        for (n, v) in durations {
            if let Some(v) = v {
                parts.push(format!("{n}={}", DisplayDuration(v)));
            }
        }
        f.write_str(&parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names() {
        for name in [
            "ECONNRESET",
            "ECONNREFUSED",
            "EPIPE",
            "ETIMEDOUT",
            "ENOTCONN",
            "EAGAIN",
            "EINVAL",
            "EISCONN",
            "EALREADY",
            "EINPROGRESS",
            "ECONNABORTED",
            "EHOSTUNREACH",
            "ENETUNREACH",
            "EADDRINUSE",
        ] {
            assert_eq!(name.parse::<Errno>().map(Errno::name), Ok(name));
        }
        let err = "ECONNRESTE".parse::<Errno>().unwrap_err().to_string();
        assert!(err.contains("did you mean `ECONNRESET`"), "{err}");
        assert_eq!(Errno::all().count(), ERRNO_NAMES.len());
    }
}

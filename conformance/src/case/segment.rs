//! What the tester sends: [`Inject`] and the values it is built from (sequence numbers, TCP
//! options, payloads, IP header fields).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use reference_stack::wire::TcpFlags;

use super::flags;
use super::yaml::{self, HexBytes, Key};

/// An `inject` step: one segment from the tester. Fields left out take the defaults of the
/// README (`seq`: the tester's next sequence number; `ack`: the next expected DUT byte if `A`
/// is set, else 0; `window`: `tester.window`; checksum and data offset computed).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inject {
    /// The flags; required (`""` for none).
    #[serde(deserialize_with = "flags::deserialize")]
    pub flags: TcpFlags,
    /// Relative to the tester's ISN, or raw.
    #[serde(default)]
    pub seq: Option<SeqSpec>,
    /// Relative to the DUT's ISN, or raw.
    #[serde(default)]
    pub ack: Option<SeqSpec>,
    /// The raw 16-bit window field.
    #[serde(default)]
    pub window: Option<u16>,
    /// The urgent pointer (default 0).
    #[serde(default)]
    pub urgent: Option<u16>,
    /// The payload.
    #[serde(default)]
    pub data: Option<Payload>,
    /// TCP options in wire order.
    #[serde(default)]
    pub options: Vec<OptionSpec>,
    /// A deliberately wrong or fixed checksum.
    #[serde(default)]
    pub checksum: Option<ChecksumSpec>,
    /// The raw data-offset field in 32-bit words, 0..=15 (may lie).
    #[serde(default, deserialize_with = "data_offset")]
    pub data_offset: Option<u8>,
    /// The three reserved header bits, 0..=7.
    #[serde(default, deserialize_with = "reserved")]
    pub reserved: Option<u8>,
    /// Overrides the source port.
    #[serde(default)]
    pub src_port: Option<u16>,
    /// Overrides the destination port.
    #[serde(default)]
    pub dst_port: Option<u16>,
    /// IP header fields.
    #[serde(default)]
    pub ip: IpInject,
}

fn data_offset<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    yaml::bounded(d, 15, "a data offset in 32-bit words").map(|v| Some(v as u8))
}

fn reserved<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    yaml::bounded(d, 7, "the reserved bits").map(|v| Some(v as u8))
}

/// A sequence or acknowledgment number to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqSpec {
    /// Relative to the ISN of the side the number refers to (`seq: 1`).
    Rel(u32),
    /// A raw 32-bit value (`{abs: 0}`).
    Abs(u32),
}

impl fmt::Display for SeqSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rel(n) => write!(f, "{n}"),
            Self::Abs(n) => write!(f, "abs:{n}"),
        }
    }
}

/// The value of an `{abs: N}` map, read by [`SeqSpec`] and the number matchers.
pub(crate) fn read_abs<'de, A: MapAccess<'de>>(mut map: A) -> Result<u32, A::Error> {
    let key = Key {
        allowed: &["abs"],
        what: "field",
    };
    if map.next_key_seed(key)?.is_none() {
        return Err(de::Error::custom("expected `{abs: N}`, found an empty map"));
    }
    let n: u32 = map.next_value()?;
    if map.next_key_seed(key)?.is_some() {
        return Err(de::Error::custom("`abs` given twice"));
    }
    Ok(n)
}

/// Converts an integer from YAML to `u32` or fails with an error naming `what`.
pub(crate) fn to_u32<E: de::Error>(v: u64, what: &str) -> Result<u32, E> {
    u32::try_from(v).map_err(|_| {
        E::custom(format!(
            "{v} is too large for {what}, expected 0..=4294967295"
        ))
    })
}

impl<'de> Deserialize<'de> for SeqSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SeqSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a relative sequence number (`1`) or a raw one (`{abs: N}`)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SeqSpec, E> {
                to_u32(v, "a sequence number").map(SeqSpec::Rel)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SeqSpec, E> {
                Err(E::custom(format!(
                    "{v}: sequence numbers are not negative, expected a relative number or `{{abs: N}}`"
                )))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SeqSpec, A::Error> {
                read_abs(map).map(SeqSpec::Abs)
            }
        }
        d.deserialize_any(V)
    }
}

/// A TCP option to send, in wire order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum OptionSpec {
    /// `mss: N` (kind 2).
    Mss(u16),
    /// `wscale: N` (kind 3; any shift, even above 14).
    Wscale(u8),
    /// `sack_permitted` (kind 4).
    SackPermitted,
    /// `sack: [[l, r], ...]` (kind 5), edges relative to the DUT's ISN.
    Sack(Vec<(u32, u32)>),
    /// `timestamp: {val: N, ecr: N or echo}` (kind 8).
    Timestamp {
        /// TSval, raw.
        val: u32,
        /// TSecr.
        ecr: EcrSpec,
    },
    /// `nop` (kind 1).
    Nop,
    /// `eol` (kind 0).
    Eol,
    /// `raw: {kind: K, data: "hex", len: L}`: any option; `len` defaults to 2 + data bytes.
    Raw {
        /// The option kind.
        kind: u8,
        /// The option data after kind and length.
        #[serde(default, deserialize_with = "yaml::hex")]
        data: Vec<u8>,
        /// The length byte, if it is to lie.
        #[serde(default)]
        len: Option<u8>,
    },
    /// `bytes: "hex"`: copied verbatim into the option space.
    Bytes(#[serde(deserialize_with = "yaml::hex")] Vec<u8>),
}

impl fmt::Display for OptionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mss(n) => write!(f, "mss={n}"),
            Self::Wscale(n) => write!(f, "wscale={n}"),
            Self::SackPermitted => f.write_str("sack_permitted"),
            Self::Sack(blocks) => {
                f.write_str("sack=[")?;
                for (i, (l, r)) in blocks.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{l}..{r}")?;
                }
                f.write_str("]")
            }
            Self::Timestamp { val, ecr } => write!(f, "timestamp={{val={val} ecr={ecr}}}"),
            Self::Nop => f.write_str("nop"),
            Self::Eol => f.write_str("eol"),
            Self::Raw { kind, data, len } => {
                write!(f, "raw={{kind={kind} data={}", HexDisplay(data))?;
                if let Some(len) = len {
                    write!(f, " len={len}")?;
                }
                f.write_str("}")
            }
            Self::Bytes(bytes) => write!(f, "bytes={}", HexDisplay(bytes)),
        }
    }
}

/// The TSecr of an injected timestamp option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcrSpec {
    /// A raw value.
    Value(u32),
    /// `echo`: the last TSval the DUT sent.
    Echo,
}

impl fmt::Display for EcrSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Value(n) => write!(f, "{n}"),
            Self::Echo => f.write_str("echo"),
        }
    }
}

impl<'de> Deserialize<'de> for EcrSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = EcrSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a TSecr value or `echo`")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<EcrSpec, E> {
                to_u32(v, "a TSecr").map(EcrSpec::Value)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<EcrSpec, E> {
                if v == "echo" {
                    Ok(EcrSpec::Echo)
                } else {
                    Err(E::custom(format!(
                        "bad ecr `{v}`, expected a number or `echo`"
                    )))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Who sends a pattern payload: the tester's bytes are lowercase, the DUT's uppercase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The tester: `b'a' + (s - 1) % 26`.
    Tester,
    /// The DUT: `b'A' + (s - 1) % 26`.
    Dut,
}

/// A payload (`data` of `inject`/`expect`, `send`, `recv`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// `512`: that many bytes of the deterministic stream pattern.
    Pattern(usize),
    /// `"text"`: its UTF-8 bytes.
    Text(String),
    /// `{hex: "deadbeef"}`: raw bytes.
    Hex(Vec<u8>),
    /// `{len: N, byte: 0x41}`: one byte repeated.
    Repeat {
        /// How many bytes.
        len: usize,
        /// The byte.
        byte: u8,
    },
}

impl Payload {
    /// The number of bytes.
    pub fn len(&self) -> usize {
        match self {
            Self::Pattern(n) | Self::Repeat { len: n, .. } => *n,
            Self::Text(s) => s.len(),
            Self::Hex(b) => b.len(),
        }
    }

    /// True for a payload of no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes, for a payload whose first byte has relative sequence number `first_seq` in the
    /// stream of `sender` (only [`Payload::Pattern`] depends on them).
    pub fn bytes(&self, sender: Sender, first_seq: u32) -> Vec<u8> {
        match self {
            Self::Pattern(n) => {
                let base = match sender {
                    Sender::Tester => b'a',
                    Sender::Dut => b'A',
                };
                (0..*n)
                    .map(|i| {
                        let s = first_seq.wrapping_add(i as u32).wrapping_sub(1);
                        base + (s % 26) as u8
                    })
                    .collect()
            }
            Self::Text(s) => s.as_bytes().to_vec(),
            Self::Hex(b) => b.clone(),
            Self::Repeat { len, byte } => vec![*byte; *len],
        }
    }
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pattern(n) => write!(f, "{n}"),
            Self::Text(s) => write!(f, "{s:?}"),
            Self::Hex(b) => write!(f, "hex:{}", HexDisplay(b)),
            Self::Repeat { len, byte } => write!(f, "{len}*0x{byte:02x}"),
        }
    }
}

/// Shows bytes as hex, shortened after 32 bytes.
struct HexDisplay<'a>(&'a [u8]);

impl fmt::Display for HexDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0.iter().take(32) {
            write!(f, "{b:02x}")?;
        }
        if self.0.len() > 32 {
            write!(f, "...({} bytes)", self.0.len())?;
        }
        Ok(())
    }
}

/// The keys of a payload map.
pub(crate) const PAYLOAD_KEYS: [&str; 3] = ["hex", "len", "byte"];

/// Collects the fields of a payload map (`{hex}` or `{len, byte}`), possibly interleaved with
/// other keys of an enclosing map (`send: {data, error}` does not mix, but shares the reader).
#[derive(Default)]
pub(crate) struct PayloadFields {
    hex: Option<Vec<u8>>,
    len: Option<usize>,
    byte: Option<u8>,
}

impl PayloadFields {
    /// Reads the value of `key`, one of [`PAYLOAD_KEYS`].
    pub(crate) fn read<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
    ) -> Result<(), A::Error> {
        let twice = || de::Error::custom(format!("`{key}` given twice"));
        match key {
            "hex" if self.hex.is_some() => return Err(twice()),
            "hex" => self.hex = Some(map.next_value::<HexBytes>()?.0),
            "len" if self.len.is_some() => return Err(twice()),
            "len" => self.len = Some(map.next_value()?),
            "byte" if self.byte.is_some() => return Err(twice()),
            _ => self.byte = Some(map.next_value()?),
        }
        Ok(())
    }

    /// The payload, or an error for a mix that is neither form.
    pub(crate) fn finish<E: de::Error>(self) -> Result<Payload, E> {
        match self {
            Self {
                hex: Some(b),
                len: None,
                byte: None,
            } => Ok(Payload::Hex(b)),
            Self {
                hex: None,
                len: Some(len),
                byte: Some(byte),
            } => Ok(Payload::Repeat { len, byte }),
            _ => Err(E::custom(
                "a payload map is `{hex: \"...\"}` or `{len: N, byte: B}`",
            )),
        }
    }
}

/// The visitor of [`Payload`], shared with `send`.
pub(crate) struct PayloadVisitor;

impl<'de> Visitor<'de> for PayloadVisitor {
    type Value = Payload;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a payload: a byte count of the pattern (`512`), a string, `{hex: \"...\"}` or `{len: N, byte: B}`")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Payload, E> {
        usize::try_from(v)
            .map(Payload::Pattern)
            .map_err(|_| E::custom("payload too large"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Payload, E> {
        Ok(Payload::Text(v.to_owned()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Payload, A::Error> {
        let mut fields = PayloadFields::default();
        let key = Key {
            allowed: &PAYLOAD_KEYS,
            what: "payload field",
        };
        while let Some(k) = map.next_key_seed(key)? {
            fields.read(k, &mut map)?;
        }
        fields.finish()
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PayloadVisitor)
    }
}

/// A deliberate TCP checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumSpec {
    /// `bad`: the correct value plus one.
    Bad,
    /// A raw 16-bit value.
    Value(u16),
}

impl fmt::Display for ChecksumSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bad => f.write_str("bad"),
            Self::Value(v) => write!(f, "0x{v:04x}"),
        }
    }
}

impl<'de> Deserialize<'de> for ChecksumSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ChecksumSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`bad` or a 16-bit checksum value")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ChecksumSpec, E> {
                u16::try_from(v)
                    .map(ChecksumSpec::Value)
                    .map_err(|_| E::custom(format!("checksum {v} does not fit in 16 bits")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ChecksumSpec, E> {
                if v == "bad" {
                    Ok(ChecksumSpec::Bad)
                } else {
                    Err(E::custom(format!(
                        "bad checksum `{v}`, expected `bad` or a 16-bit value"
                    )))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// The ECN codepoint of the IP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EcnName {
    /// `not-ect` (00).
    NotEct,
    /// `ect1` (01).
    Ect1,
    /// `ect0` (10).
    Ect0,
    /// `ce` (11).
    Ce,
}

impl EcnName {
    /// The two ECN bits.
    pub const fn bits(self) -> u8 {
        match self {
            Self::NotEct => 0b00,
            Self::Ect1 => 0b01,
            Self::Ect0 => 0b10,
            Self::Ce => 0b11,
        }
    }

    /// The codepoint of the two ECN bits (the low two bits of `bits`).
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0b11 {
            0b00 => Self::NotEct,
            0b01 => Self::Ect1,
            0b10 => Self::Ect0,
            _ => Self::Ce,
        }
    }

    /// The case-language name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::NotEct => "not-ect",
            Self::Ect1 => "ect1",
            Self::Ect0 => "ect0",
            Self::Ce => "ce",
        }
    }
}

impl fmt::Display for EcnName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// IP header fields of an injected segment; all default to the harness's normal values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpInject {
    /// IPv4 TTL.
    #[serde(default)]
    pub ttl: Option<u8>,
    /// IPv6 hop limit.
    #[serde(default)]
    pub hop_limit: Option<u8>,
    /// The ECN codepoint.
    #[serde(default)]
    pub ecn: Option<EcnName>,
    /// DSCP, 0..=63.
    #[serde(default, deserialize_with = "dscp")]
    pub dscp: Option<u8>,
    /// IPv4 don't-fragment bit.
    #[serde(default)]
    pub df: Option<bool>,
    /// `checksum: bad`: a wrong IPv4 header checksum.
    #[serde(default, rename = "checksum", deserialize_with = "ip_checksum")]
    pub checksum_bad: bool,
    /// IPv6 flow label, 20 bits.
    #[serde(default, deserialize_with = "flow_label")]
    pub flow_label: Option<u32>,
}

impl IpInject {
    /// True if no field is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

fn dscp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    yaml::bounded(d, 63, "a DSCP").map(|v| Some(v as u8))
}

fn flow_label<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    yaml::bounded(d, 0xF_FFFF, "a flow label").map(|v| Some(v as u32))
}

fn ip_checksum<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("`bad`")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            if v == "bad" {
                Ok(true)
            } else {
                Err(E::custom(format!(
                    "bad IP checksum `{v}`, expected `bad` (the only choice for the IPv4 header)"
                )))
            }
        }
    }
    d.deserialize_str(V)
}

impl fmt::Display for IpInject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(v) = self.ttl {
            parts.push(format!("ttl={v}"));
        }
        if let Some(v) = self.hop_limit {
            parts.push(format!("hop_limit={v}"));
        }
        if let Some(v) = self.ecn {
            parts.push(format!("ecn={v}"));
        }
        if let Some(v) = self.dscp {
            parts.push(format!("dscp={v}"));
        }
        if let Some(v) = self.df {
            parts.push(format!("df={v}"));
        }
        if self.checksum_bad {
            parts.push("checksum=bad".to_owned());
        }
        if let Some(v) = self.flow_label {
            parts.push(format!("flow_label={v}"));
        }
        write!(f, "{}", parts.join(" "))
    }
}

impl fmt::Display for Inject {
    /// Compact, for logs: `flags=S seq=0 options[mss=1460]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.flags.is_empty() {
            f.write_str("flags=\"\"")?;
        } else {
            write!(f, "flags={}", self.flags)?;
        }
        if let Some(v) = self.seq {
            write!(f, " seq={v}")?;
        }
        if let Some(v) = self.ack {
            write!(f, " ack={v}")?;
        }
        if let Some(v) = self.window {
            write!(f, " window={v}")?;
        }
        if let Some(v) = self.urgent {
            write!(f, " urgent={v}")?;
        }
        if let Some(v) = &self.data {
            write!(f, " data={v}")?;
        }
        if !self.options.is_empty() {
            let opts: Vec<String> = self.options.iter().map(ToString::to_string).collect();
            write!(f, " options[{}]", opts.join(" "))?;
        }
        if let Some(v) = self.checksum {
            write!(f, " checksum={v}")?;
        }
        if let Some(v) = self.data_offset {
            write!(f, " data_offset={v}")?;
        }
        if let Some(v) = self.reserved {
            write!(f, " reserved={v}")?;
        }
        if let Some(v) = self.src_port {
            write!(f, " src_port={v}")?;
        }
        if let Some(v) = self.dst_port {
            write!(f, " dst_port={v}")?;
        }
        if !self.ip.is_empty() {
            write!(f, " ip{{{}}}", self.ip)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_bytes() {
        let p = Payload::Pattern(28);
        let b = p.bytes(Sender::Tester, 1);
        assert_eq!(&b[..3], b"abc");
        assert_eq!(&b[25..], b"zab");
        assert_eq!(Payload::Pattern(2).bytes(Sender::Dut, 27), b"AB");
        assert_eq!(
            Payload::Repeat { len: 3, byte: 0x41 }.bytes(Sender::Dut, 1),
            b"AAA"
        );
        assert_eq!(Payload::Text("hé".into()).len(), 3);
    }

    #[test]
    fn ecn_bits_round_trip() {
        for bits in 0..4 {
            assert_eq!(EcnName::from_bits(bits).bits(), bits);
        }
    }

    #[test]
    fn hex_parsing() {
        assert_eq!(
            yaml::parse_hex("de ad BE ef"),
            Ok(vec![0xde, 0xad, 0xbe, 0xef])
        );
        assert_eq!(yaml::parse_hex(""), Ok(vec![]));
        assert!(yaml::parse_hex("abc").unwrap_err().contains("odd number"));
        assert!(
            yaml::parse_hex("zz")
                .unwrap_err()
                .contains("`zz` is not a hex byte")
        );
    }
}

//! Captured frames decoded into owned, field-by-field segments.
//!
//! The live matcher, the offline verifier, the global invariants and the report's ladder
//! diagrams all look at frames through [`Segment`], decoded with the reference stack's wire
//! codec. Decoding is lenient where a check must be able to judge (a bad checksum is recorded,
//! not rejected) and strict where nothing could be judged (a truncated header is an error).

use std::fmt;
use std::net::IpAddr;

use reference_stack::wire::{
    EtherType, EthernetFrame, IpProtocol, Ipv4Packet, Ipv6Packet, TcpFlags, TcpOption, TcpPacket,
    tcp,
};
use serde::{Deserialize, Serialize};

/// A TCP option as seen on the wire (owned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Opt {
    /// Kind 0.
    Eol,
    /// Kind 1.
    Nop,
    /// Kind 2.
    Mss(u16),
    /// Kind 3.
    Wscale(u8),
    /// Kind 4.
    SackPermitted,
    /// Kind 5: (left, right) edges, raw.
    Sack(Vec<(u32, u32)>),
    /// Kind 8.
    Timestamp {
        /// TSval.
        val: u32,
        /// TSecr.
        ecr: u32,
    },
    /// Any other kind, with its data.
    Unknown {
        /// The kind byte.
        kind: u8,
        /// The option data (after kind and length).
        data: Vec<u8>,
    },
}

impl fmt::Display for Opt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Eol => f.write_str("eol"),
            Self::Nop => f.write_str("nop"),
            Self::Mss(v) => write!(f, "mss {v}"),
            Self::Wscale(v) => write!(f, "wscale {v}"),
            Self::SackPermitted => f.write_str("sackOK"),
            Self::Sack(blocks) => {
                f.write_str("sack")?;
                for (l, r) in blocks {
                    write!(f, " {l}:{r}")?;
                }
                Ok(())
            }
            Self::Timestamp { val, ecr } => write!(f, "TS val {val} ecr {ecr}"),
            Self::Unknown { kind, data } => write!(f, "opt-{kind} len {}", data.len() + 2),
        }
    }
}

/// IP-level fields of a segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpFields {
    /// 4 or 6.
    pub version: u8,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6).
    pub hop_limit: u8,
    /// The two ECN bits.
    pub ecn: u8,
    /// DSCP.
    pub dscp: u8,
    /// IPv4 don't-fragment (always false for IPv6).
    pub df: bool,
    /// IPv4 header checksum correct (always true for IPv6, which has none).
    pub header_checksum_ok: bool,
}

/// One TCP segment, every header field as it was on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Ethernet source.
    pub src_mac: [u8; 6],
    /// Ethernet destination.
    pub dst_mac: [u8; 6],
    /// IP fields.
    pub ip: IpFields,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Raw sequence number.
    pub seq: u32,
    /// Raw acknowledgement number (meaningful with ACK).
    pub ack: u32,
    /// Data offset, in 32-bit words, as written.
    pub data_offset: u8,
    /// The three reserved bits.
    pub reserved: u8,
    /// All nine flag bits.
    pub flags: u16,
    /// Raw window field.
    pub window: u16,
    /// Checksum field.
    pub checksum: u16,
    /// Whether the checksum is right for the pseudo-header, header and payload.
    pub checksum_ok: bool,
    /// Urgent pointer.
    pub urgent: u16,
    /// Options in wire order, up to the first malformed one.
    pub options: Vec<Opt>,
    /// The options area could not be fully parsed.
    pub options_malformed: bool,
    /// Payload bytes.
    pub payload: Vec<u8>,
}

impl Segment {
    /// The flags as the codec's type.
    pub fn tcp_flags(&self) -> TcpFlags {
        TcpFlags::from_bits_truncate(self.flags)
    }

    /// Has this flag (a `TcpFlags::*` constant)?
    pub fn has(&self, flag: TcpFlags) -> bool {
        self.tcp_flags().contains(flag)
    }

    /// Sequence space consumed: payload plus one for SYN and one for FIN.
    pub fn seq_len(&self) -> u32 {
        self.payload.len() as u32
            + u32::from(self.has(TcpFlags::SYN))
            + u32::from(self.has(TcpFlags::FIN))
    }

    /// The MSS option's value, if present.
    pub fn mss(&self) -> Option<u16> {
        self.options.iter().find_map(|o| match o {
            Opt::Mss(v) => Some(*v),
            _ => None,
        })
    }

    /// The window scale option's value, if present.
    pub fn wscale(&self) -> Option<u8> {
        self.options.iter().find_map(|o| match o {
            Opt::Wscale(v) => Some(*v),
            _ => None,
        })
    }

    /// The timestamp option, if present.
    pub fn timestamp(&self) -> Option<(u32, u32)> {
        self.options.iter().find_map(|o| match o {
            Opt::Timestamp { val, ecr } => Some((*val, *ecr)),
            _ => None,
        })
    }

    /// SACK-permitted present?
    pub fn sack_permitted(&self) -> bool {
        self.options.contains(&Opt::SackPermitted)
    }

    /// SACK blocks, if present.
    pub fn sack(&self) -> Option<&[(u32, u32)]> {
        self.options.iter().find_map(|o| match o {
            Opt::Sack(b) => Some(b.as_slice()),
            _ => None,
        })
    }

    /// The options as a compact list (`mss 1460,nop,wscale 7`).
    pub fn options_summary(&self) -> String {
        let mut s = self
            .options
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        if self.options_malformed {
            if !s.is_empty() {
                s.push(',');
            }
            s.push_str("<malformed>");
        }
        s
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {} [{}] seq={} ack={} win={} len={}",
            self.src_port,
            self.dst_port,
            self.tcp_flags(),
            self.seq,
            self.ack,
            self.window,
            self.payload.len()
        )?;
        if !self.options.is_empty() || self.options_malformed {
            write!(f, " [{}]", self.options_summary())?;
        }
        if !self.checksum_ok {
            f.write_str(" (bad checksum)")?;
        }
        Ok(())
    }
}

/// What a frame turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A TCP segment over IPv4 or IPv6.
    Tcp(Box<Segment>),
    /// Something else (ARP, ICMP, MLD, UDP...), with a short description.
    Other(String),
}

/// Why a frame could not be decoded at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable frame: {0}")]
pub struct DecodeError(pub String);

/// Decodes one Ethernet frame.
pub fn decode(frame: &[u8]) -> Result<Decoded, DecodeError> {
    let eth = EthernetFrame::new_checked(frame)
        .map_err(|e| DecodeError(format!("Ethernet header: {e}")))?;
    let src_mac = eth.src_addr().0;
    let dst_mac = eth.dst_addr().0;
    let (ip, proto, l4): (IpFields, IpProtocol, &[u8]) = match eth.ethertype() {
        EtherType::Ipv4 => {
            let p = Ipv4Packet::new_checked(eth.payload())
                .map_err(|e| DecodeError(format!("IPv4 header: {e}")))?;
            (
                IpFields {
                    version: 4,
                    src: IpAddr::V4(p.src_addr()),
                    dst: IpAddr::V4(p.dst_addr()),
                    hop_limit: p.hop_limit(),
                    ecn: u8::from(p.ecn()),
                    dscp: p.dscp(),
                    df: p.dont_frag(),
                    header_checksum_ok: p.verify_checksum(),
                },
                p.next_header(),
                p.payload(),
            )
        }
        EtherType::Ipv6 => {
            let p = Ipv6Packet::new_checked(eth.payload())
                .map_err(|e| DecodeError(format!("IPv6 header: {e}")))?;
            (
                IpFields {
                    version: 6,
                    src: IpAddr::V6(p.src_addr()),
                    dst: IpAddr::V6(p.dst_addr()),
                    hop_limit: p.hop_limit(),
                    ecn: u8::from(p.ecn()),
                    dscp: p.dscp(),
                    df: false,
                    header_checksum_ok: true,
                },
                p.next_header(),
                p.payload(),
            )
        }
        other => {
            return Ok(Decoded::Other(format!(
                "ethertype {:#06x}",
                u16::from(other)
            )));
        }
    };
    if proto != IpProtocol::Tcp {
        return Ok(Decoded::Other(format!(
            "IPv{} protocol {}",
            ip.version,
            u8::from(proto)
        )));
    }
    if l4.len() < tcp::HEADER_LEN {
        return Err(DecodeError(format!(
            "TCP header: {} bytes, less than the fixed 20",
            l4.len()
        )));
    }
    // The fixed fields are safe to read from any 20 bytes; options and payload only when the
    // data offset is sane (a tester may send one that lies, and the capture must still decode).
    let tcp = TcpPacket::new_unchecked(l4);
    let sound = TcpPacket::new_checked(l4).is_ok();
    let mut options = Vec::new();
    let mut options_malformed = !sound;
    if sound {
        for o in tcp::options(tcp.options()) {
            match o {
                Ok(o) => options.push(owned(&o)),
                Err(_) => {
                    options_malformed = true;
                    break;
                }
            }
        }
    }
    let payload = if sound {
        tcp.payload().to_vec()
    } else {
        Vec::new()
    };
    let checksum_ok = tcp.verify_checksum(&ip.src, &ip.dst);
    Ok(Decoded::Tcp(Box::new(Segment {
        src_mac,
        dst_mac,
        src_port: tcp.src_port(),
        dst_port: tcp.dst_port(),
        seq: tcp.seq_number().0,
        ack: tcp.ack_number().0,
        data_offset: tcp.data_offset(),
        reserved: tcp.reserved(),
        flags: tcp.flags().bits(),
        window: tcp.window_len(),
        checksum: tcp.checksum(),
        checksum_ok,
        urgent: tcp.urgent_at(),
        options,
        options_malformed,
        payload,
        ip,
    })))
}

fn owned(o: &TcpOption<'_>) -> Opt {
    match *o {
        TcpOption::EndOfList => Opt::Eol,
        TcpOption::NoOperation => Opt::Nop,
        TcpOption::MaxSegmentSize(v) => Opt::Mss(v),
        TcpOption::WindowScale(v) => Opt::Wscale(v),
        TcpOption::SackPermitted => Opt::SackPermitted,
        TcpOption::SackRange(r) => Opt::Sack(r.iter().flatten().copied().collect()),
        TcpOption::TimeStamp { tsval, tsecr } => Opt::Timestamp {
            val: tsval,
            ecr: tsecr,
        },
        TcpOption::Unknown { kind, data } => Opt::Unknown {
            kind,
            data: data.to_vec(),
        },
    }
}

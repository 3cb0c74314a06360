//! From case steps to what the harness does: the bytes of an injected frame, the socket call.
//!
//! Injected frames are built field by field through the codec's `Packet` views, so that a case
//! can write any value into any field: a wrong checksum, a data offset that lies, reserved bits,
//! options with impossible lengths, ECN codepoints, TTLs.

use std::net::{IpAddr, SocketAddr};

use reference_stack::wire::{
    EtherType, EthernetAddress, EthernetFrame, EthernetRepr, IpProtocol, Ipv4Packet, Ipv4Repr,
    Ipv6Packet, Ipv6Repr, TcpFlags, TcpPacket, TcpSeqNumber,
};

use crate::case::{Call, CaseInstance, ChecksumSpec, EcrSpec, Inject, OptionSpec, SeqSpec};
use crate::engine::{Ctx, dut_pattern, payload_bytes, tester_pattern};
use harness::target::{self, SocketOptions};

/// Default TTL / hop limit of injected segments.
pub const DEFAULT_HOP_LIMIT: u8 = 64;

/// Encodes the option list of an `inject` step, padded with zeros to a multiple of 4.
fn encode_options(specs: &[OptionSpec], ctx: &mut Ctx) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for o in specs {
        match o {
            OptionSpec::Mss(v) => {
                out.extend_from_slice(&[2, 4]);
                out.extend_from_slice(&v.to_be_bytes());
            }
            OptionSpec::Wscale(v) => {
                out.extend_from_slice(&[3, 3, *v]);
                ctx.tester_wscale = Some(*v);
            }
            OptionSpec::SackPermitted => out.extend_from_slice(&[4, 2]),
            OptionSpec::Sack(blocks) => {
                let isn = ctx
                    .dut_isn
                    .ok_or("SACK blocks are relative to the DUT's ISN, which is not known yet")?;
                out.extend_from_slice(&[5, (2 + 8 * blocks.len()) as u8]);
                for (l, r) in blocks {
                    out.extend_from_slice(&isn.wrapping_add(*l).to_be_bytes());
                    out.extend_from_slice(&isn.wrapping_add(*r).to_be_bytes());
                }
            }
            OptionSpec::Timestamp { val, ecr } => {
                let ecr = match ecr {
                    EcrSpec::Value(v) => *v,
                    EcrSpec::Echo => ctx
                        .last_dut_tsval
                        .ok_or("`ecr: echo`, but the DUT has not sent a timestamp yet")?,
                };
                out.extend_from_slice(&[8, 10]);
                out.extend_from_slice(&val.to_be_bytes());
                out.extend_from_slice(&ecr.to_be_bytes());
                ctx.last_tsval_sent = Some(*val);
            }
            OptionSpec::Nop => out.push(1),
            OptionSpec::Eol => out.push(0),
            OptionSpec::Raw { kind, data, len } => {
                out.push(*kind);
                out.push(len.unwrap_or((2 + data.len()).min(255) as u8));
                out.extend_from_slice(data);
            }
            OptionSpec::Bytes(b) => out.extend_from_slice(b),
        }
    }
    while out.len() % 4 != 0 {
        out.push(0);
    }
    if out.len() > 40 {
        return Err(format!(
            "the options take {} bytes; a TCP header holds at most 40",
            out.len()
        ));
    }
    Ok(out)
}

/// Builds the Ethernet frame of an `inject` step and advances the context.
pub fn inject_frame(inj: &Inject, inst: &CaseInstance, ctx: &mut Ctx) -> Result<Vec<u8>, String> {
    let p = ctx.params.clone();
    let flags = inj.flags;
    let seq = match inj.seq {
        Some(SeqSpec::Rel(n)) => p.tester_isn.wrapping_add(n),
        Some(SeqSpec::Abs(n)) => n,
        None => p.tester_isn.wrapping_add(ctx.snd_nxt),
    };
    let dut_isn = |what: &str| {
        ctx.dut_isn.ok_or_else(|| {
            format!(
                "{what} is relative to the DUT's ISN, which is not known yet (no SYN from the \
                 DUT was expected so far); write {{abs: N}} for a raw value"
            )
        })
    };
    let ack = match inj.ack {
        Some(SeqSpec::Rel(n)) => dut_isn("ack")?.wrapping_add(n),
        Some(SeqSpec::Abs(n)) => n,
        None if flags.contains(TcpFlags::ACK) => {
            dut_isn("the default ack")?.wrapping_add(ctx.rcv_nxt)
        }
        None => 0,
    };
    let rel_seq = seq.wrapping_sub(p.tester_isn);
    let first_data = u64::from(rel_seq) + u64::from(flags.contains(TcpFlags::SYN));
    let payload = inj
        .data
        .as_ref()
        .map(|d| payload_bytes(d, first_data, tester_pattern))
        .unwrap_or_default();
    let options = encode_options(&inj.options, ctx)?;

    // TCP
    let tcp_len = 20 + options.len() + payload.len();
    let mut tcp = vec![0u8; tcp_len];
    {
        let mut t = TcpPacket::new_unchecked(&mut tcp[..]);
        t.set_src_port(inj.src_port.unwrap_or(p.tester_port));
        t.set_dst_port(inj.dst_port.unwrap_or(ctx.dut_port));
        t.set_seq_number(TcpSeqNumber(seq));
        t.set_ack_number(TcpSeqNumber(ack));
        t.set_header_len((20 + options.len()) as u8);
        t.set_reserved(inj.reserved.unwrap_or(0));
        t.set_flags(flags);
        t.set_window_len(inj.window.unwrap_or(inst.tester.window));
        t.set_urgent_at(inj.urgent.unwrap_or(0));
        t.set_checksum(0);
    }
    tcp[20..20 + options.len()].copy_from_slice(&options);
    tcp[20 + options.len()..].copy_from_slice(&payload);
    {
        let mut t = TcpPacket::new_unchecked(&mut tcp[..]);
        t.fill_checksum(&p.tester_ip, &p.dut_ip);
        match inj.checksum {
            Some(ChecksumSpec::Bad) => {
                let c = t.checksum();
                t.set_checksum(c.wrapping_add(1));
            }
            Some(ChecksumSpec::Value(v)) => t.set_checksum(v),
            None => {}
        }
        // A lying data offset is written last, over a header built (and checksummed) right.
        if let Some(off) = inj.data_offset {
            t.set_data_offset(off);
            if inj.checksum.is_none() {
                t.fill_checksum(&p.tester_ip, &p.dut_ip);
            }
        }
    }

    // IP
    let ip = &inj.ip;
    let mut frame = vec![0u8; 14];
    EthernetRepr {
        src_addr: EthernetAddress(p.tester_mac),
        dst_addr: EthernetAddress(p.dut_mac),
        ethertype: if p.v6 {
            EtherType::Ipv6
        } else {
            EtherType::Ipv4
        },
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut frame[..]));
    match (p.tester_ip, p.dut_ip) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let repr = Ipv4Repr {
                src_addr: src,
                dst_addr: dst,
                next_header: IpProtocol::Tcp,
                payload_len: tcp_len,
                hop_limit: ip.ttl.or(ip.hop_limit).unwrap_or(DEFAULT_HOP_LIMIT),
                ecn: ip.ecn.map(|e| e.bits()).unwrap_or(0).into(),
                dscp: ip.dscp.unwrap_or(0),
                ident: ctx.ip_ident,
                dont_frag: ip.df.unwrap_or(true),
            };
            ctx.ip_ident = ctx.ip_ident.wrapping_add(1);
            let mut hdr = vec![0u8; repr.buffer_len()];
            let mut pkt = Ipv4Packet::new_unchecked(&mut hdr[..]);
            repr.emit(&mut pkt);
            if ip.checksum_bad {
                let c = pkt.checksum();
                pkt.set_checksum(c.wrapping_add(1));
            }
            frame.extend_from_slice(&hdr);
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let repr = Ipv6Repr {
                src_addr: src,
                dst_addr: dst,
                next_header: IpProtocol::Tcp,
                payload_len: tcp_len,
                hop_limit: ip.hop_limit.or(ip.ttl).unwrap_or(DEFAULT_HOP_LIMIT),
                ecn: ip.ecn.map(|e| e.bits()).unwrap_or(0).into(),
                dscp: ip.dscp.unwrap_or(0),
                flow_label: ip.flow_label.unwrap_or(0),
            };
            let mut hdr = vec![0u8; repr.buffer_len()];
            repr.emit(&mut Ipv6Packet::new_unchecked(&mut hdr[..]));
            frame.extend_from_slice(&hdr);
        }
        _ => return Err("tester and DUT addresses are of different families".into()),
    }
    frame.extend_from_slice(&tcp);

    // Advance the tester's next sequence number past what this segment occupies.
    if !flags.contains(TcpFlags::RST) {
        let end = rel_seq
            .wrapping_add(payload.len() as u32)
            .wrapping_add(u32::from(flags.contains(TcpFlags::SYN)))
            .wrapping_add(u32::from(flags.contains(TcpFlags::FIN)));
        if TcpSeqNumber(end) > TcpSeqNumber(ctx.snd_nxt) {
            ctx.snd_nxt = end;
        }
    }
    Ok(frame)
}

/// Converts the case's socket options to the harness's.
pub fn socket_options(o: &crate::case::SocketOptions) -> SocketOptions {
    SocketOptions {
        nodelay: o.nodelay,
        rcvbuf: o.rcvbuf,
        sndbuf: o.sndbuf,
        maxseg: o.maxseg,
        keepalive: o.keepalive,
        keepidle: o.keepidle,
        keepintvl: o.keepintvl,
        keepcnt: o.keepcnt,
        user_timeout: o.user_timeout,
        quickack: o.quickack,
    }
}

/// The harness call for a case's `call` step.
pub fn target_call(call: &Call, inst: &CaseInstance, ctx: &Ctx) -> target::Call {
    let p = &ctx.params;
    match call {
        Call::Listen { backlog } => target::Call::Listen {
            local: SocketAddr::new(p.dut_ip, ctx.dut_port),
            backlog: *backlog,
            options: socket_options(&inst.dut.options),
        },
        Call::Accept { within } => target::Call::Accept { timeout: *within },
        Call::Connect => target::Call::Connect {
            local: SocketAddr::new(p.dut_ip, 0),
            remote: ctx.tester_addr(),
            options: socket_options(&inst.dut.options),
        },
        Call::Send { data, .. } => target::Call::Send {
            data: payload_bytes(data, 1 + ctx.dut_written, dut_pattern),
        },
        Call::Recv {
            len,
            data,
            eof,
            error,
            within,
        } => target::Call::Recv {
            // Waiting for end of stream or an error means reading until it comes.
            len: if *eof || error.is_some() {
                0
            } else {
                len.or(data.as_ref().map(|d| d.len())).unwrap_or(0)
            },
            timeout: *within,
        },
        Call::Shutdown(how) => target::Call::Shutdown(match how {
            crate::case::How::Rd => target::How::Rd,
            crate::case::How::Wr => target::How::Wr,
            crate::case::How::RdWr => target::How::RdWr,
        }),
        Call::Close => target::Call::Close,
        Call::Abort => target::Call::Abort,
        Call::Setsockopt(o) => target::Call::SetOptions(socket_options(o)),
    }
}

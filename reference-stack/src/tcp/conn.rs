//! One connection: the transmission control block (TCB) of RFC 9293 section 3.3.1 and
//! everything that happens to it.
//!
//! Read this file beside RFC 9293 section 3.10:
//!
//! - [`Connection::process`] is SEGMENT ARRIVES (3.10.7.3 for SYN-SENT, 3.10.7.4 for the other
//!   states, in the RFC's order: sequence number, RST, security, SYN, ACK, URG, text, FIN);
//!   CLOSED (3.10.7.1) and LISTEN (3.10.7.2) have no TCB and live in the stack (`mod.rs`).
//! - The user calls of 3.10.1 to 3.10.5 are `open_*`, [`send`](Connection::send),
//!   [`recv`](Connection::recv), [`close`](Connection::close) and
//!   [`abort`](Connection::abort).
//! - The timeouts of 3.10.8 are [`Connection::handle_timeout`].
//! - Output is [`Connection::dispatch`]: it decides what the next segment is (SYN, SYN-ACK,
//!   RST, a retransmission, new data, FIN, a probe or a bare ACK) and writes it.
//!
//! Every decision cites its requirement id: `MUST-n`/`SHLD-n`/`MAY-n` of RFC 9293 Appendix B,
//! or a companion-RFC id of `cases/requirements/` such as `RFC5961-3.2-rst-in-window-challenge-ack`.

use core::net::SocketAddr;

use super::Shared;
use super::api::{CloseReason, Config, Error, SocketOptions};
use super::buffer::{Assembler, RingBuffer};
use super::congestion::NewReno;
use super::sack::Scoreboard;
use super::segment::{Arrival, DropReason, IpParams, RstReply, emit, ip_header_len};
use super::timer::{RttEstimator, Timer, TimerTable};
use crate::State;
use crate::time::{Duration, Instant};
use crate::wire::{Ecn, TcpFlags as Flags, TcpRepr, TcpSeqNumber as Seq, TcpTimestamp};

/// The socket options of one connection, resolved against the stack's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnOptions {
    pub(crate) nodelay: bool,
    pub(crate) rcvbuf: usize,
    pub(crate) sndbuf: usize,
    pub(crate) maxseg: Option<u16>,
    pub(crate) keepalive: bool,
    pub(crate) keepidle: Duration,
    pub(crate) keepintvl: Duration,
    pub(crate) keepcnt: u32,
    pub(crate) user_timeout: Option<Duration>,
    pub(crate) quickack: bool,
    pub(crate) dscp: u8,
    pub(crate) hop_limit: u8,
}

impl ConnOptions {
    /// The stack defaults overridden by `opts`.
    pub(crate) fn new(config: &Config, opts: &SocketOptions) -> Self {
        let mut this = Self {
            nodelay: false,
            rcvbuf: config.rcvbuf,
            sndbuf: config.sndbuf,
            maxseg: None,
            keepalive: config.keepalive,
            keepidle: config.keepidle,
            keepintvl: config.keepintvl,
            keepcnt: config.keepcnt,
            user_timeout: None,
            quickack: false,
            dscp: 0,
            hop_limit: config.hop_limit,
        };
        this.apply(config, opts);
        this.rcvbuf = clamp_buffer(config, this.rcvbuf);
        this.sndbuf = clamp_buffer(config, this.sndbuf);
        this
    }

    /// Override the options `opts` sets.
    pub(crate) fn apply(&mut self, config: &Config, opts: &SocketOptions) {
        if let Some(v) = opts.nodelay {
            self.nodelay = v;
        }
        if let Some(v) = opts.rcvbuf {
            self.rcvbuf = clamp_buffer(config, v);
        }
        if let Some(v) = opts.sndbuf {
            self.sndbuf = clamp_buffer(config, v);
        }
        if let Some(v) = opts.maxseg {
            // Linux's TCP_MAXSEG floor (TCP_MIN_MSS).
            self.maxseg = Some(v.max(88));
        }
        if let Some(v) = opts.keepalive {
            self.keepalive = v;
        }
        if let Some(v) = opts.keepidle {
            self.keepidle = v.max(Duration::from_secs(1));
        }
        if let Some(v) = opts.keepintvl {
            self.keepintvl = v.max(Duration::from_secs(1));
        }
        if let Some(v) = opts.keepcnt {
            self.keepcnt = v.max(1);
        }
        if let Some(v) = opts.user_timeout {
            self.user_timeout = (!v.is_zero()).then_some(v);
        }
    }
}

fn clamp_buffer(config: &Config, size: usize) -> usize {
    size.clamp(256, config.max_buffer.max(256))
}

/// The negotiated timestamps state (RFC 7323 sections 3 to 5).
#[derive(Debug, Clone, Copy)]
struct Timestamps {
    /// TS.Recent: the timestamp to echo.
    recent: u32,
    /// When TS.Recent was last updated (PAWS ignores a TS.Recent older than 24 days, RFC 7323
    /// section 5.5).
    recent_at: Instant,
}

/// Things the stack turns into [`Event`](super::Event)s (or into accept-queue bookkeeping).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pending {
    /// An active open reached ESTABLISHED.
    pub(crate) connected: bool,
    /// A passive open reached ESTABLISHED: it goes to its listener's accept queue.
    pub(crate) established: bool,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    pub(crate) urgent: bool,
    pub(crate) retransmit_warning: bool,
    pub(crate) closed: Option<CloseReason>,
}

/// What the stack must do after [`Connection::process`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing: the segment was processed or dropped (see `last_drop`).
    Done,
    /// TIME-WAIT accepted a new SYN (MAY-2): delete this TCB and give the segment to the
    /// listener, with this ISS for the new incarnation.
    Reincarnate { iss: Seq },
}

/// A probe the persist or keep-alive timer asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    None,
    /// One octet at SND.UNA into a zero window (MUST-36).
    ZeroWindow,
    /// `<SEQ=SND.UNA-1><ACK=RCV.NXT>` without data (SHLD-12).
    KeepAlive,
}

/// What kind of segment [`Connection::dispatch`] decided to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Syn,
    SynAck,
    Rst,
    /// New data or FIN from SND.NXT, or data resent after a timeout (go-back-N).
    Data,
    /// A hole retransmitted during fast recovery (SND.NXT does not move).
    Hole,
    ZeroWindowProbe,
    KeepAliveProbe,
    Ack,
}

/// The segment [`Connection::dispatch`] decided to send.
#[derive(Debug, Clone, Copy)]
struct Plan {
    kind: Kind,
    flags: Flags,
    seq: Seq,
    /// Payload: `len` bytes of the send queue starting at sequence number `seq`.
    len: usize,
    /// The payload (or FIN) was sent before: no ECT and no RTT sample (RFC 3168 6.1.5,
    /// RFC 6298 section 3).
    retransmit: bool,
}

impl Plan {
    const fn control(kind: Kind, flags: Flags, seq: Seq) -> Self {
        Self {
            kind,
            flags,
            seq,
            len: 0,
            retransmit: false,
        }
    }

    /// The sequence number after the segment (payload, SYN and FIN counted).
    fn end(&self) -> Seq {
        self.seq
            + self.len as u32
            + u32::from(self.flags.contains(Flags::SYN))
            + u32::from(self.flags.contains(Flags::FIN))
    }
}

/// The segment after the trimming of RFC 9293 3.10.7.4 first: what lies before RCV.NXT
/// (including an old SYN or FIN) and beyond the window (including a FIN there) is cut off.
#[derive(Debug, Clone, Copy)]
struct Trimmed<'a> {
    /// The sequence number of `data`'s first byte.
    seq: Seq,
    data: &'a [u8],
    fin: bool,
}

/// The sender SWS override timeout (RFC 9293 3.8.6.2.1; RFC 1122 4.2.3.4 says 0.1 to 1 s,
/// RFC1122-4.2.3.4-sws-override-timer).
const SWS_OVERRIDE: Duration = Duration::from_millis(200);

/// PAWS ignores a TS.Recent idle for longer than this (RFC 7323 section 5.5).
const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 60 * 60);

/// A TCP connection: the TCB and its queues.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) state: State,
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    /// Opened passively (from LISTEN): needed by the SYN-RECEIVED rules (MUST-11).
    pub(crate) passive: bool,
    /// The user gave the connection up (`close` or `abort`): no events; it lives on until
    /// its close handshake and TIME-WAIT end (an orphan, in BSD terms).
    pub(crate) orphan: bool,
    /// Why the connection closed, once it has.
    pub(crate) close_reason: Option<CloseReason>,
    pub(crate) opts: ConnOptions,
    pub(crate) pending: Pending,
    /// The error the next `send`/`recv` reports once (like `SO_ERROR`).
    pending_error: Option<Error>,
    /// Why the last segment was dropped, for tests and tracing.
    pub(crate) last_drop: Option<DropReason>,
    /// The link MTU.
    mtu: u32,

    // Send sequence variables (RFC 9293 3.3.1).
    /// ISS.
    pub(crate) iss: Seq,
    /// SND.UNA: the oldest unacknowledged sequence number.
    snd_una: Seq,
    /// SND.NXT as the transmit point: the next sequence number to send. It moves back to
    /// SND.UNA after a retransmission timeout (go-back-N), so `snd_una <= snd_nxt <= snd_max`.
    snd_nxt: Seq,
    /// The highest sequence number sent plus one: the "SND.NXT" of the RFC's ACK tests.
    snd_max: Seq,
    /// SND.WND, scaled (MUST-1, REC-1: unsigned, 32 bits): an offset from SND.WL2.
    snd_wnd: u32,
    /// SND.WL1: the SEG.SEQ of the last window update.
    snd_wl1: Seq,
    /// SND.WL2: the SEG.ACK of the last window update.
    snd_wl2: Seq,
    /// MAX.SND.WND of RFC 5961 section 5.2: the largest window the peer offered.
    max_snd_wnd: u32,
    /// SND.UP: the sequence number after the last urgent octet, while it is unacknowledged.
    snd_up: Option<Seq>,

    // Receive sequence variables.
    /// IRS.
    irs: Seq,
    /// RCV.NXT.
    rcv_nxt: Seq,
    /// The right edge last advertised, RCV.NXT + RCV.WND as sent. It never moves left
    /// (SHLD-14), so RCV.WND = `rcv_adv - rcv_nxt`.
    rcv_adv: Seq,
    /// RCV.UP: the sequence number after the last urgent octet the peer announced.
    rcv_up: Option<Seq>,
    /// The urgent data up to `rcv_up` was signalled to the user (3.10.7.4 sixth).
    urgent_signalled: bool,
    /// The ACK field of the last segment sent (Last.ACK.sent, RFC 7323 4.3).
    last_ack_sent: Seq,

    // Queues.
    /// The send queue: unacknowledged and unsent data. `tx_seq` is the sequence number of its
    /// first byte; in an idle synchronized connection `tx_seq == snd_una` and it is empty.
    tx: RingBuffer,
    tx_seq: Seq,
    /// The user asked for a FIN (close or shutdown): it follows the last queued byte, at
    /// sequence number `tx_seq + tx.len()`.
    fin_queued: bool,
    /// The receive queue: `rx.len()` in-order bytes ending at RCV.NXT, then out-of-order
    /// bytes in the unallocated part, tracked by `assembler` relative to RCV.NXT.
    rx: RingBuffer,
    assembler: Assembler,
    /// The peer's FIN was processed (RCV.NXT is past it).
    fin_received: bool,
    /// A FIN that arrived ahead of missing data, held for later (SHLD-31).
    fin_pending: Option<Seq>,
    /// The user shut down reading: arriving data is acknowledged and discarded.
    rd_shut: bool,
    /// The blocks to report in SACK options, most recent first (RFC 2018 section 4).
    sack_recent: [Option<(Seq, Seq)>; 4],

    // Negotiated options.
    /// The MSS the peer announced (536 or 1220 if it did not, MUST-15).
    peer_mss: u16,
    /// Our shift for the windows we advertise (RFC 7323 2.2); 0 without window scaling.
    rcv_wscale: u8,
    /// The peer's shift, at most 14 (RFC7323-2.3-shift-capped-at-14).
    snd_wscale: u8,
    /// Our SYN offers (active open) or our SYN-ACK answers with (passive open) window scale,
    /// timestamps, SACK-permitted and ECN setup.
    syn_ws: bool,
    syn_ts: bool,
    syn_sack: bool,
    syn_ecn: bool,
    /// Our timestamp clock's offset (RFC 7323 5.4).
    ts_offset: u32,
    ts: Option<Timestamps>,
    sack_ok: bool,
    ecn_ok: bool,

    // Timers and retransmission.
    timers: TimerTable,
    rtt: RttEstimator,
    /// Karn's algorithm (RFC 6298 section 3): the sequence number being timed and when it was
    /// sent; forgotten when anything is retransmitted.
    rtt_probe: Option<(Seq, Instant)>,
    /// Timeouts of the current head segment (for R1).
    retries: u32,
    /// When the oldest unacknowledged segment was first sent (the R2 and user-timeout clock).
    una_since: Option<Instant>,
    /// The SYN or SYN-ACK had to be retransmitted (RFC 5681 3.1, RFC 6298 5.7).
    syn_retransmitted: bool,
    /// The peer's window is zero and data waits: the persist timer runs instead of the
    /// retransmission timer.
    in_persist: bool,
    persist_backoff: u32,
    keepalive_probes: u32,
    probe: Probe,
    /// The override timer expired: send one short segment anyway (RFC 9293 3.8.6.2.1).
    sws_override: bool,
    last_recv: Instant,
    last_send: Instant,

    // Congestion control.
    cc: NewReno,
    scoreboard: Scoreboard,

    // ECN (RFC 3168).
    /// Receiver: set ECE on ACKs until a CWR arrives (RFC3168-6.1.3-echo-ce-until-cwr).
    ece_pending: bool,
    /// Sender: set CWR on the next new data segment (RFC3168-6.1.2-cwr-on-first-new-data).
    cwr_pending: bool,

    // ACK bookkeeping.
    /// Send an ACK now (or piggyback one on data).
    ack_now: bool,
    /// In-order bytes received since the last ACK we sent.
    rcv_unacked: u32,
    /// The largest payload seen from the peer (the receiver's SMSS estimate, like Linux's
    /// `rcv_mss`), for SHLD-19.
    rcv_mss: u32,
    /// Our RST is owed (abort, or a reset decided by `process`).
    rst_pending: bool,
    /// SYN-RECEIVED: send the SYN-ACK again (the peer retransmitted its SYN).
    resend_synack: bool,
    /// When we last answered an out-of-window segment or sent a challenge ACK (the
    /// per-connection rate limit).
    last_oow_ack: Option<Instant>,
    /// The send queue was full when the user last wrote: signal Writable when space frees.
    write_blocked: bool,
}

/// Our timestamp clock at `now`: milliseconds plus the connection's offset.
fn ts_value(now: Instant, offset: u32) -> u32 {
    (now.total_millis() as u32).wrapping_add(offset)
}

/// `a - b` as a byte count when `a` is after `b`, else 0.
fn seq_gap(a: Seq, b: Seq) -> u32 {
    u32::try_from(a - b).unwrap_or(0)
}

impl Connection {
    fn new(
        cx: &Shared,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        opts: ConnOptions,
    ) -> Self {
        let config = &cx.config;
        Self {
            state: State::Closed,
            local,
            remote,
            passive: false,
            orphan: false,
            close_reason: None,
            pending: Pending::default(),
            pending_error: None,
            last_drop: None,
            mtu: u32::try_from(config.mtu).unwrap_or(u32::MAX).max(128),
            iss: Seq(0),
            snd_una: Seq(0),
            snd_nxt: Seq(0),
            snd_max: Seq(0),
            snd_wnd: 0,
            snd_wl1: Seq(0),
            snd_wl2: Seq(0),
            max_snd_wnd: 0,
            snd_up: None,
            irs: Seq(0),
            rcv_nxt: Seq(0),
            rcv_adv: Seq(0),
            rcv_up: None,
            urgent_signalled: false,
            last_ack_sent: Seq(0),
            tx: RingBuffer::new(opts.sndbuf),
            tx_seq: Seq(0),
            fin_queued: false,
            rx: RingBuffer::new(opts.rcvbuf),
            assembler: Assembler::default(),
            fin_received: false,
            fin_pending: None,
            rd_shut: false,
            sack_recent: [None; 4],
            peer_mss: 536,
            rcv_wscale: 0,
            snd_wscale: 0,
            syn_ws: false,
            syn_ts: false,
            syn_sack: false,
            syn_ecn: false,
            ts_offset: cx.isn.ts_offset(local, remote),
            ts: None,
            sack_ok: false,
            ecn_ok: false,
            timers: TimerTable::default(),
            rtt: RttEstimator::new(config.rto_initial, config.rto_min, config.rto_max),
            rtt_probe: None,
            retries: 0,
            una_since: None,
            syn_retransmitted: false,
            in_persist: false,
            persist_backoff: 0,
            keepalive_probes: 0,
            probe: Probe::None,
            sws_override: false,
            last_recv: now,
            last_send: now,
            cc: NewReno::new(536),
            scoreboard: Scoreboard::default(),
            ece_pending: false,
            cwr_pending: false,
            ack_now: false,
            rcv_unacked: 0,
            rcv_mss: 536,
            rst_pending: false,
            resend_synack: false,
            last_oow_ack: None,
            write_blocked: false,
            opts,
        }
    }

    /// The window scale shift we offer: the smallest that lets the whole receive buffer be
    /// advertised in 16 bits (RFC 7323 2.2), at most 14.
    fn choose_wscale(rcvbuf: usize) -> u8 {
        let mut shift = 0;
        while shift < 14 && (rcvbuf >> shift) > 0xffff {
            shift += 1;
        }
        shift
    }

    /// OPEN, active (RFC 9293 3.10.1, CLOSED STATE): select the ISS (RFC 6528, MUST-8),
    /// queue the SYN `<SEQ=ISS><CTL=SYN>` and enter SYN-SENT. SND.UNA = ISS; SND.NXT becomes
    /// ISS+1 when the SYN is sent.
    pub(crate) fn open_active(
        cx: &Shared,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        opts: ConnOptions,
    ) -> Self {
        let config = &cx.config;
        let mut this = Self::new(cx, now, local, remote, opts);
        this.iss = cx.isn.isn(now, local, remote);
        this.snd_una = this.iss;
        this.snd_nxt = this.iss;
        this.snd_max = this.iss;
        this.tx_seq = this.iss + 1;
        this.syn_ws = config.window_scaling;
        this.syn_ts = config.timestamps;
        this.syn_sack = config.sack;
        // RFC3168-6.1.1-ecn-setup-syn: ECE and CWR on the SYN when we want ECN;
        // RFC3168-6.1.1-unwilling-clears-flags: neither otherwise.
        this.syn_ecn = config.ecn;
        if this.syn_ws {
            this.rcv_wscale = Self::choose_wscale(this.opts.rcvbuf);
        }
        this.cc = NewReno::new(this.smss());
        this.state = State::SynSent;
        this.una_since = Some(now);
        this
    }

    /// LISTEN, third (RFC 9293 3.10.7.2): a SYN created this connection. RCV.NXT = SEG.SEQ+1,
    /// IRS = SEG.SEQ, ISS selected, `<SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>` queued, SND.NXT =
    /// ISS+1 once sent, SND.UNA = ISS, SYN-RECEIVED. `iss` overrides the RFC 6528 ISS (for a
    /// SYN accepted in TIME-WAIT, MAY-2).
    pub(crate) fn open_passive(
        cx: &Shared,
        now: Instant,
        arrival: &Arrival<'_>,
        opts: ConnOptions,
        iss: Option<Seq>,
    ) -> Self {
        let seg = &arrival.tcp;
        let local = SocketAddr::new(arrival.dst, seg.dst_port);
        let remote = SocketAddr::new(arrival.src, seg.src_port);
        let config = &cx.config;
        let mut this = Self::new(cx, now, local, remote, opts);
        this.passive = true;
        this.iss = iss.unwrap_or_else(|| cx.isn.isn(now, local, remote));
        this.snd_una = this.iss;
        this.snd_nxt = this.iss;
        this.snd_max = this.iss;
        this.tx_seq = this.iss + 1;
        this.irs = seg.seq_number;
        this.rcv_nxt = seg.seq_number + 1;
        this.rcv_adv = this.rcv_nxt;
        this.last_ack_sent = this.rcv_nxt;
        // We answer with an option only if the SYN offered it and our configuration allows it
        // (RFC7323-2.2-ws-synack-only-if-offered, RFC7323-3.2-ts-synack-only-if-offered,
        // RFC 2018 section 2).
        this.syn_ws = config.window_scaling && seg.window_scale.is_some();
        this.syn_ts = config.timestamps && seg.timestamp.is_some();
        this.syn_sack = config.sack && seg.sack_permitted;
        // RFC 3168 6.1.1: only an ECN-setup SYN (ECE and CWR) gets an ECN-setup SYN-ACK
        // (RFC3168-6.1.1-ecn-setup-synack-only-on-request, RFC3168-6.1.1-non-setup-forms).
        this.syn_ecn =
            (config.ecn || config.ecn_passive) && seg.flags.contains(Flags::ECE | Flags::CWR);
        if this.syn_ws {
            this.rcv_wscale = Self::choose_wscale(this.opts.rcvbuf);
        }
        this.negotiate(now, seg);
        this.ecn_ok = this.syn_ecn;
        // SND.WND from the SYN's window, never scaled (RFC7323-2.2-syn-window-unscaled).
        this.snd_wnd = u32::from(seg.window_len);
        this.max_snd_wnd = this.snd_wnd;
        this.snd_wl1 = seg.seq_number;
        this.snd_wl2 = this.iss;
        this.state = State::SynReceived;
        this.una_since = Some(now);
        this
    }

    /// Read the options of the peer's SYN: MSS (MUST-14, MUST-15), window scale (both SYNs
    /// must carry it, RFC7323-2.2-ws-needs-both-syns), timestamps (RFC 7323 3.2) and
    /// SACK-permitted (RFC 2018 section 2). These options count only on a SYN (MUST-65,
    /// RFC7323-2.2-ws-ignored-on-non-syn, RFC2018-2-sack-permitted-syn-only).
    fn negotiate(&mut self, now: Instant, syn: &TcpRepr<'_>) {
        // MUST-15: without an MSS option, 536 (IPv4) or 1220 (IPv6). An MSS below 48 is
        // taken as 48 (Linux's tcp_min_snd_mss).
        let default_mss = if self.local.is_ipv6() { 1220 } else { 536 };
        self.peer_mss = syn.max_seg_size.unwrap_or(default_mss).max(48);
        match syn.window_scale {
            // RFC7323-2.3-shift-capped-at-14: a larger shift is used as 14.
            Some(shift) if self.syn_ws => self.snd_wscale = shift.min(14),
            _ => {
                self.syn_ws = false;
                self.snd_wscale = 0;
                self.rcv_wscale = 0;
            }
        }
        self.ts = match syn.timestamp {
            Some(ts) if self.syn_ts => Some(Timestamps {
                recent: ts.tsval,
                recent_at: now,
            }),
            _ => None,
        };
        self.sack_ok = self.syn_sack && syn.sack_permitted;
        self.cc = NewReno::new(self.smss());
    }

    // ============================================================================================
    // Derived quantities
    // ============================================================================================

    /// MMS_S = MMS_R: the largest transport message, `mtu` minus the IP header (MUST-67).
    fn mms(&self) -> u32 {
        self.mtu
            .saturating_sub(ip_header_len(self.local.ip()) as u32)
            .max(64)
    }

    /// The MSS we announce: MMS_R minus the fixed TCP header (RFC 9293 3.7.1, MUST-67,
    /// RFC6691-2-mss-excludes-options), clamped by `maxseg`.
    pub(crate) fn adv_mss(&self) -> u16 {
        let mss = self.mms().saturating_sub(20);
        let mss = u16::try_from(mss).unwrap_or(u16::MAX);
        self.opts.maxseg.map_or(mss, |clamp| mss.min(clamp))
    }

    /// The payload bound of a segment whose TCP header is `header_len` bytes (MUST-16:
    /// `min(SendMSS + 20, MMS_S) - TCPhdrsize`; RFC6691-2-sender-reduces-for-options).
    fn payload_cap(&self, header_len: u32) -> u32 {
        let peer = u32::from(self.peer_mss.min(self.opts.maxseg.unwrap_or(u16::MAX)));
        (peer + 20)
            .min(self.mms())
            .saturating_sub(header_len)
            .max(1)
    }

    /// SMSS: the payload of a full-sized segment carrying our usual options (timestamps).
    fn smss(&self) -> u32 {
        let ts = if self.ts.is_some() { 12 } else { 0 };
        self.payload_cap(20 + ts)
    }

    /// The payload bound of the next data segment, given the options it will carry.
    fn data_payload_cap(&self) -> u32 {
        let mut header = 20 + if self.ts.is_some() { 12 } else { 0 };
        if self.sack_ok && !self.assembler.is_empty() {
            let room = if self.ts.is_some() { 3 } else { 4 };
            let blocks = self.assembler.ranges().len().min(room) as u32;
            header += 4 + 8 * blocks;
        }
        self.payload_cap(header)
    }

    /// RCV.WND: what is left of the window last advertised.
    fn rcv_wnd(&self) -> u32 {
        seq_gap(self.rcv_adv, self.rcv_nxt)
    }

    /// Bytes sent and not acknowledged (SYN and FIN count one each).
    fn flight(&self) -> u32 {
        seq_gap(self.snd_max, self.snd_una)
    }

    /// The sequence number of our FIN, once the user asked for one.
    fn fin_seq(&self) -> Option<Seq> {
        self.fin_queued.then(|| self.tx_seq + self.tx.len() as u32)
    }

    /// Our FIN was acknowledged.
    fn fin_acked(&self) -> bool {
        self.fin_seq().is_some_and(|fin| self.snd_una > fin)
    }

    /// The right edge of the peer's window: SND.WL2 + SND.WND.
    fn snd_right_edge(&self) -> Seq {
        self.snd_wl2 + self.snd_wnd
    }

    /// The peer's window leaves no room for new data at SND.NXT: it is zero, or it shrank to
    /// end at or before SND.NXT (MUST-34). Either way only the persist timer can reopen the
    /// flow (MUST-35): without it, a peer that sends no window update would leave both sides
    /// waiting forever.
    fn usable_window_closed(&self) -> bool {
        self.snd_right_edge() <= self.snd_nxt
    }

    /// The next deadline of any timer.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    /// The connection is CLOSED and owes nothing to the wire: the stack may free it (once the
    /// user has let go of it).
    pub(crate) fn is_dead(&self) -> bool {
        self.state == State::Closed && !self.rst_pending
    }

    /// Unread urgent bytes (MUST-33): how far RCV.UP is beyond the data read so far.
    pub(crate) fn urgent_pending(&self) -> usize {
        let read_point = self.rcv_nxt - self.rx.len() as u32;
        self.rcv_up.map_or(0, |up| seq_gap(up, read_point) as usize)
    }

    /// Bytes the application can read now.
    pub(crate) fn readable_len(&self) -> usize {
        self.rx.len()
    }

    /// Free space in the send queue.
    pub(crate) fn writable_len(&self) -> usize {
        self.tx.window()
    }

    // ============================================================================================
    // State changes
    // ============================================================================================

    /// Enter CLOSED for `reason`: flush the queues for sending, stop the timers, tell the user
    /// (RFC 9293 3.10.7.4 second: "enter the CLOSED state, delete the TCB"; the stack deletes
    /// it once the user lets go, so `recv` can still drain received data and see the error).
    fn close_with(&mut self, reason: CloseReason) {
        self.state = State::Closed;
        self.close_reason = Some(reason);
        self.timers.stop_all();
        self.tx.clear();
        self.scoreboard.clear();
        self.ack_now = false;
        self.probe = Probe::None;
        self.pending.closed = Some(reason);
        // MUST-12: a reset is reported as an error, a graceful close as end of stream.
        self.pending_error = match reason {
            CloseReason::Normal => None,
            other => Some(other.into()),
        };
    }

    /// Send `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>` and enter CLOSED.
    fn reset(&mut self, reason: CloseReason) {
        self.close_with(reason);
        self.rst_pending = true;
    }

    /// Enter TIME-WAIT: start the 2 MSL timer and turn off the others (MUST-13, 3.10.7.4
    /// eighth).
    fn enter_time_wait(&mut self, cx: &Shared, now: Instant) {
        self.state = State::TimeWait;
        self.timers.stop_all();
        self.in_persist = false;
        self.probe = Probe::None;
        self.timers.set(Timer::Close, now + cx.config.msl * 2);
    }

    /// The handshake completed: ESTABLISHED, or FIN-WAIT-1 if the user already closed.
    fn established(&mut self, now: Instant) {
        self.state = if self.fin_queued {
            State::FinWait1
        } else {
            State::Established
        };
        self.timers.stop(Timer::Retransmit);
        self.retries = 0;
        self.una_since = None;
        if self.syn_retransmitted {
            // RFC6298-5.7-rto-3s-after-syn-timeout.
            self.rtt.reset_after_syn_timeout();
        } else {
            self.rtt.clear_backoff();
        }
        // RFC5681-3.1-initial-window, RFC5681-3.1-iw-one-after-syn-loss.
        let smss = self.smss();
        self.cc.established(smss, self.syn_retransmitted);
        self.rcv_mss = u32::from(self.adv_mss()).min(self.rcv_mss.max(536));
        if self.opts.keepalive {
            self.timers.set(Timer::KeepAlive, now + self.opts.keepidle);
        }
        self.last_recv = now;
    }

    /// Our FIN reached FIN-WAIT-2: an orphan waits there at most `fin_timeout`.
    fn enter_fin_wait_2(&mut self, cx: &Shared, now: Instant) {
        self.state = State::FinWait2;
        if self.orphan {
            self.timers.set(Timer::Close, now + cx.config.fin_timeout);
        }
    }

    // ============================================================================================
    // SEGMENT ARRIVES (RFC 9293 3.10.7)
    // ============================================================================================

    /// SEGMENT ARRIVES for a connection in SYN-SENT or a later state. The segment's checksum
    /// and addresses were checked by the stack.
    pub(crate) fn process(
        &mut self,
        cx: &mut Shared,
        now: Instant,
        arrival: &Arrival<'_>,
    ) -> Verdict {
        self.last_drop = None;
        match self.state {
            // No TCB: the stack answers for CLOSED (3.10.7.1) and LISTEN (3.10.7.2). A TCB
            // that is CLOSED but not yet freed (it owes a RST) ignores the segment.
            State::Closed | State::Listen => {
                self.last_drop = Some(DropReason::OutOfWindow);
                Verdict::Done
            }
            State::SynSent => {
                self.process_syn_sent(cx, now, arrival);
                Verdict::Done
            }
            _ => self.process_synchronized(cx, now, arrival),
        }
    }

    fn drop_segment(&mut self, reason: DropReason) {
        self.last_drop = Some(reason);
    }

    /// RFC 9293 3.10.7.3: SYN-SENT.
    fn process_syn_sent(&mut self, cx: &mut Shared, now: Instant, arrival: &Arrival<'_>) {
        let seg = &arrival.tcp;
        let (has_ack, rst, syn) = (
            seg.flags.contains(Flags::ACK),
            seg.flags.contains(Flags::RST),
            seg.flags.contains(Flags::SYN),
        );

        // First, check the ACK bit.
        if has_ack && (seg.ack_number <= self.iss || seg.ack_number > self.snd_max) {
            // SEG.ACK =< ISS or SEG.ACK > SND.NXT: send <SEQ=SEG.ACK><CTL=RST> (unless the
            // segment is a RST), discard the segment.
            if !rst {
                cx.queue_rst(RstReply {
                    local: self.local,
                    remote: self.remote,
                    seq: seg.ack_number,
                    ack: None,
                });
            }
            return self.drop_segment(DropReason::SynSentIgnored);
        }
        // Otherwise SND.UNA < SEG.ACK =< SND.NXT: the ACK is acceptable.

        // Second, check the RST bit.
        if rst {
            // RFC5961-3.2-syn-sent-rst-needs-ack: a RST counts only if it acknowledges our
            // SYN (RCV.NXT is not known yet, so RFC 5961's exact sequence match cannot apply;
            // Linux checks the ACK alone too).
            if has_ack {
                // "signal to the user 'error: connection reset', drop the segment, enter
                // CLOSED state, delete TCB": the user sees ECONNREFUSED.
                self.close_with(CloseReason::Refused);
            } else {
                self.drop_segment(DropReason::SynSentIgnored);
            }
            return;
        }

        // Third, check the security: this stack has no security/compartment (the IP option
        // is obsolete, RFC 9293 3.9.1.3), so there is nothing to mismatch.

        // Fourth, check the SYN bit.
        if !syn {
            // Fifth: neither SYN nor RST: drop the segment.
            return self.drop_segment(DropReason::SynSentIgnored);
        }
        self.irs = seg.seq_number;
        self.rcv_nxt = seg.seq_number + 1;
        self.last_ack_sent = self.rcv_nxt;
        // The window our SYN announced, unscaled.
        self.rcv_adv = self.rcv_nxt + self.rx.window().min(0xffff) as u32;
        self.negotiate(now, seg);
        if has_ack {
            // RFC 3168 6.1.1: ECN is on only after an ECN-setup SYN-ACK (ECE without CWR)
            // answered our ECN-setup SYN (RFC3168-6.1.1-no-ect-without-negotiation).
            self.ecn_ok =
                self.syn_ecn && seg.flags.contains(Flags::ECE) && !seg.flags.contains(Flags::CWR);
            // SND.UNA advances to SEG.ACK: our SYN leaves the retransmission queue.
            self.snd_una = seg.ack_number;
            if self.snd_nxt < self.snd_una {
                self.snd_nxt = self.snd_una;
            }
        }

        if self.snd_una > self.iss {
            // Our SYN is acknowledged: ESTABLISHED, and <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
            // SND.WND from the SYN-ACK, unscaled (RFC7323-2.2-syn-window-unscaled).
            self.snd_wnd = u32::from(seg.window_len);
            self.max_snd_wnd = self.snd_wnd;
            self.snd_wl1 = seg.seq_number;
            self.snd_wl2 = seg.ack_number;
            // The first RTT sample: from the SYN, unless it was retransmitted (Karn).
            if let Some(sample) = self.handshake_rtt(now, seg) {
                self.rtt.sample(sample);
            }
            self.established(now);
            self.pending.connected = true;
            self.pending.writable = true;
            self.ack_now = true;
            // "If there are other controls or text in the segment, then continue processing
            // at the sixth step under Section 3.10.7.4 where the URG bit is checked."
            let trimmed = self.trim(seg, false);
            self.process_urg_text_fin(cx, now, arrival, trimmed);
        } else {
            // Simultaneous open (MUST-10): enter SYN-RECEIVED and send
            // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>; SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ,
            // SND.WL2 <- SEG.ACK. Text on the SYN is not kept (as Linux): the peer sends it
            // again once its SYN is acknowledged.
            self.state = State::SynReceived;
            self.snd_wnd = u32::from(seg.window_len);
            self.max_snd_wnd = self.snd_wnd;
            self.snd_wl1 = seg.seq_number;
            self.snd_wl2 = self.snd_una;
            // RFC 3168 defines no ECN setup for a simultaneous open.
            self.syn_ecn = false;
            self.ecn_ok = false;
            // The SYN goes out again, now as a SYN-ACK.
            self.snd_nxt = self.iss;
        }
    }

    /// RFC 9293 3.10.7.4: SYN-RECEIVED and the synchronized states, in the RFC's order.
    fn process_synchronized(
        &mut self,
        cx: &mut Shared,
        now: Instant,
        arrival: &Arrival<'_>,
    ) -> Verdict {
        let seg = &arrival.tcp;
        let flags = seg.flags;
        let (syn, has_ack, rst, fin) = (
            flags.contains(Flags::SYN),
            flags.contains(Flags::ACK),
            flags.contains(Flags::RST),
            flags.contains(Flags::FIN),
        );

        // TIME-WAIT and a new SYN (MAY-2, RFC 9293 3.10.7.4 first, note on TIME-WAIT): accept
        // it if it is surely newer than the old connection, by timestamp (RFC 6191) or by
        // sequence number (RFC 1122 4.2.2.13). The new incarnation's ISS is beyond anything
        // the old one used (Linux's choice: SND.NXT + 65535 + 2).
        if self.state == State::TimeWait && syn && !has_ack && !rst {
            let newer = match (self.ts, seg.timestamp) {
                (Some(ts), Some(t)) => (t.tsval.wrapping_sub(ts.recent) as i32) > 0,
                _ => seg.seq_number > self.rcv_nxt,
            };
            if newer {
                return Verdict::Reincarnate {
                    iss: self.snd_max + 65535 + 2,
                };
            }
        }

        if let Some(ts) = self.ts
            && !rst
        {
            match seg.timestamp {
                // RFC7323-3.2-missing-ts-handling: after negotiation, a non-RST segment without
                // timestamps is dropped silently (never an abort). A SYN is exempt: it may be
                // a new connection attempt from a peer that no longer uses timestamps, and
                // RFC 5961 wants it answered.
                None if !syn => {
                    self.drop_segment(DropReason::MissingTimestamp);
                    return Verdict::Done;
                }
                // RFC 7323 5.3 R1 (RFC7323-5.3-paws-reject-stale): PAWS. A TSval older than
                // TS.Recent (still valid: updated within 24 days) makes the segment
                // unacceptable: acknowledge and drop. A RST is never subject to PAWS
                // (RFC7323-5.2-rst-not-subject-to-paws).
                Some(t)
                    if (t.tsval.wrapping_sub(ts.recent) as i32) < 0
                        && now - ts.recent_at < PAWS_IDLE =>
                {
                    self.ack_unacceptable(cx, now, seg);
                    self.drop_segment(DropReason::Paws);
                    return Verdict::Done;
                }
                _ => {}
            }
        }

        // First, check sequence number (Table 6).
        let seg_len = seg.segment_len() as u32;
        let wnd = self.rcv_wnd();
        let seq = seg.seq_number;
        let in_window = |s: Seq| self.rcv_nxt <= s && s < self.rcv_nxt + wnd;
        let mut acceptable = match (seg_len, wnd) {
            (0, 0) => seq == self.rcv_nxt,
            (0, _) => in_window(seq),
            (_, 0) => false,
            (_, _) => in_window(seq) || in_window(seq + (seg_len - 1)),
        };
        // "If the RCV.WND is zero, no segments will be acceptable, but special allowance should
        // be made to accept valid ACKs, URGs, and RSTs" (MUST-66): a segment at RCV.NXT has
        // its controls processed and its text trimmed away.
        let mut zero_window = false;
        if !acceptable && wnd == 0 && seq == self.rcv_nxt {
            acceptable = true;
            zero_window = true;
        }
        // Simultaneous open (MUST-10): the peer's SYN-ACK repeats the SYN we hold (at IRS);
        // its ACK is what matters. The SYN is trimmed below, as an old sequence number.
        let dup_syn =
            self.state == State::SynReceived && !self.passive && syn && has_ack && seq == self.irs;
        if !acceptable && dup_syn {
            acceptable = true;
        }
        if !acceptable {
            // "If an incoming segment is not acceptable, an acknowledgment should be sent in
            // reply (unless the RST bit is set, if so drop the segment and return)". With RFC
            // 5961 this is also the check 1) that drops an out-of-window RST silently
            // (RFC5961-3.2-rst-out-of-window-drop), and a SYN gets a challenge ACK whatever
            // its sequence number (RFC5961-4.2-syn-in-sync-state-challenge-ack).
            if !rst {
                if self.state == State::SynReceived && syn && seq == self.irs {
                    // The peer's SYN again: our SYN-ACK was lost. Send the SYN-ACK again (as
                    // Linux's inet_rtx_syn_ack), rate-limited like out-of-window ACKs.
                    if self.oow_allowed(cx, now) {
                        self.resend_synack = true;
                    }
                } else if syn && cx.config.rfc5961 && self.state != State::SynReceived {
                    self.challenge_ack(cx, now);
                } else {
                    self.ack_unacceptable(cx, now, seg);
                }
                // TIME-WAIT: "The only thing that can arrive in this state is a retransmission
                // of the remote FIN. Acknowledge it, and restart the 2 MSL timeout."
                if self.state == State::TimeWait && fin {
                    self.timers.set(Timer::Close, now + cx.config.msl * 2);
                }
            }
            self.drop_segment(DropReason::OutOfWindow);
            return Verdict::Done;
        }
        self.last_recv = now;
        self.keepalive_probes = 0;

        // RFC 7323 4.3 (RFC7323-4.3-ts-recent-echo-rule): TS.Recent <- SEG.TSval when
        // SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent; never from a RST
        // (RFC7323-5.2-rst-not-subject-to-paws).
        if let (Some(ts), Some(t)) = (&mut self.ts, seg.timestamp)
            && !rst
            && (t.tsval.wrapping_sub(ts.recent) as i32) >= 0
            && seq <= self.last_ack_sent
        {
            ts.recent = t.tsval;
            ts.recent_at = now;
        }

        // The idealized segment: trimmed to start at RCV.NXT at the earliest and to end
        // within the window.
        let trimmed = self.trim(seg, zero_window);

        // Second, check the RST bit.
        if rst {
            return self.process_rst(cx, now, seq);
        }

        // Third, check security: no security/compartment here (see SYN-SENT).

        // Fourth, check the SYN bit.
        if syn && !dup_syn {
            if self.state == State::SynReceived && self.passive {
                // "If the connection was initiated with a passive OPEN, then return this
                // connection to the LISTEN state and return" (the listener lives on; this TCB
                // goes). Linux also answers the SYN with a RST; so does this stack.
                cx.queue_rst(RstReply::for_segment(arrival));
                self.close_with(CloseReason::Reset);
                self.drop_segment(DropReason::SynChallenged);
                return Verdict::Done;
            }
            if cx.config.rfc5961 {
                // RFC5961-4.2-syn-in-sync-state-challenge-ack: whatever its sequence number,
                // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, then drop.
                self.challenge_ack(cx, now);
                self.drop_segment(DropReason::SynChallenged);
                return Verdict::Done;
            }
            // RFC 793 processing: a SYN in the window is an error: send a reset, signal
            // "connection reset", enter CLOSED.
            self.reset(CloseReason::Reset);
            return Verdict::Done;
        }

        // Fifth, check the ACK field.
        if !has_ack {
            self.drop_segment(DropReason::NoAck);
            return Verdict::Done;
        }
        if self.state == State::SynReceived {
            if self.snd_una < seg.ack_number && seg.ack_number <= self.snd_max {
                // Enter ESTABLISHED; SND.WND <- SEG.WND (scaled now: RFC7323-2.3-apply-scaling),
                // SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK; continue below.
                self.snd_wnd = u32::from(seg.window_len) << self.snd_wscale;
                self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
                self.snd_wl1 = seq;
                self.snd_wl2 = seg.ack_number;
                // The first RTT sample: from the SYN-ACK, unless it was retransmitted (Karn).
                if let Some(sample) = self.handshake_rtt(now, seg) {
                    self.rtt.sample(sample);
                }
                self.snd_una = seg.ack_number;
                if self.snd_nxt < self.snd_una {
                    self.snd_nxt = self.snd_una;
                }
                self.established(now);
                if self.passive {
                    self.pending.established = true;
                } else {
                    self.pending.connected = true;
                }
                self.pending.writable = true;
            } else {
                // "If the segment acknowledgment is not acceptable, form a reset segment
                // <SEQ=SEG.ACK><CTL=RST> and send it."
                cx.queue_rst(RstReply {
                    local: self.local,
                    remote: self.remote,
                    seq: seg.ack_number,
                    ack: None,
                });
                self.drop_segment(DropReason::AckUnacceptable);
                return Verdict::Done;
            }
        }
        if !self.process_ack(cx, now, arrival) {
            return Verdict::Done;
        }

        // Sixth (URG), seventh (text), eighth (FIN).
        self.process_urg_text_fin(cx, now, arrival, trimmed);
        Verdict::Done
    }

    /// The RTT sample of the handshake: from the echoed timestamp, else from the time the
    /// SYN (or SYN-ACK) was sent; none if it was retransmitted (Karn, RFC6298-3-karn).
    fn handshake_rtt(&mut self, now: Instant, seg: &TcpRepr<'_>) -> Option<Duration> {
        let probe = self.rtt_probe.take();
        if self.syn_retransmitted {
            return None;
        }
        match (self.ts, seg.timestamp) {
            (Some(_), Some(ts)) if ts.tsecr != 0 => {
                let ms = ts_value(now, self.ts_offset).wrapping_sub(ts.tsecr);
                (ms < 1 << 30).then(|| Duration::from_millis(u64::from(ms)))
            }
            _ => probe.map(|(_, at)| now - at),
        }
    }

    /// Trim `seg` to the window (RFC 9293 3.10.7.4 first, last paragraph): drop what lies
    /// before RCV.NXT (an old SYN, old data, an old FIN) and what lies beyond RCV.NXT +
    /// RCV.WND (a FIN there too). With `zero_window` all text goes (a bare FIN stays, as in
    /// Linux: it takes no buffer space).
    fn trim<'a>(&self, seg: &TcpRepr<'a>, zero_window: bool) -> Trimmed<'a> {
        let mut seq = seg.seq_number;
        let mut data = seg.payload;
        let mut fin = seg.flags.contains(Flags::FIN);
        let mut excess = seq_gap(self.rcv_nxt, seq);
        if excess > 0 && seg.flags.contains(Flags::SYN) {
            seq += 1;
            excess -= 1;
        }
        let old = (excess as usize).min(data.len());
        data = data.get(old..).unwrap_or_default();
        seq += old as u32;
        excess -= old as u32;
        if excess > 0 && fin {
            fin = false;
        }
        let room = if zero_window {
            0
        } else {
            seq_gap(self.rcv_nxt + self.rcv_wnd(), seq) as usize
        };
        if data.len() > room {
            data = data.get(..room).unwrap_or_default();
            fin = false;
        }
        Trimmed { seq, data, fin }
    }

    /// RFC 9293 3.10.7.4 second: the RST bit, for an acceptable segment.
    fn process_rst(&mut self, cx: &mut Shared, now: Instant, seq: Seq) -> Verdict {
        // RFC 5961 section 3.2 checks 2) and 3) (check 1, out of window, was the sequence
        // test). They apply to SYN-RECEIVED too (RFC5961-3.2-syn-received-rst-checks).
        if cx.config.rfc5961 && seq != self.rcv_nxt {
            // RFC5961-3.2-rst-in-window-challenge-ack: in the window but not at RCV.NXT:
            // challenge ACK, then drop.
            self.challenge_ack(cx, now);
            self.drop_segment(DropReason::RstChallenged);
            return Verdict::Done;
        }
        // RFC5961-3.2-rst-exact-match-resets (or, without RFC 5961, any acceptable RST);
        // SHLD-2: a RST carrying data is honoured all the same.
        match self.state {
            // MUST-11: a passive open goes back to LISTEN (the listener still exists; the user
            // is not told); an active open was refused.
            State::SynReceived if self.passive => self.close_with(CloseReason::Reset),
            State::SynReceived => self.close_with(CloseReason::Refused),
            // "any outstanding RECEIVEs and SEND should receive 'reset' responses ... Enter the
            // CLOSED state, delete the TCB."
            State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait => {
                self.close_with(CloseReason::Reset);
            }
            State::Closing | State::LastAck => self.close_with(CloseReason::Reset),
            // RFC 1337 (TIME-WAIT assassination): with the protection on, a RST does not end
            // TIME-WAIT early.
            State::TimeWait if cx.config.rfc1337 => self.drop_segment(DropReason::RstIgnored),
            State::TimeWait => self.close_with(CloseReason::Normal),
            _ => {}
        }
        Verdict::Done
    }

    /// RFC 9293 3.10.7.4 fifth, for the synchronized states (SYN-RECEIVED has just become
    /// ESTABLISHED when it gets here). Returns false when processing stops.
    fn process_ack(&mut self, cx: &mut Shared, now: Instant, arrival: &Arrival<'_>) -> bool {
        let seg = &arrival.tcp;
        let ack = seg.ack_number;
        // RFC 5961 section 5.2 (MAY-12, RFC5961-5.2-ack-acceptability-window): the ACK is
        // acceptable only within SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT; otherwise
        // discard and send an ACK. Without RFC 5961 only the upper bound applies ("If the ACK
        // acks something not yet sent (SEG.ACK > SND.NXT), then send an ACK, drop the
        // segment, and return").
        let too_old = cx.config.rfc5961 && ack < self.snd_una - self.max_snd_wnd;
        if ack > self.snd_max || too_old {
            self.ack_unacceptable(cx, now, seg);
            self.drop_segment(DropReason::AckUnacceptable);
            return false;
        }

        // SACK blocks (RFC 2018): record what the peer holds above SND.UNA.
        if self.sack_ok {
            let _ = self
                .scoreboard
                .update(self.snd_una, self.snd_max, &seg.sack_ranges);
        }

        let old_wnd = self.snd_wnd;
        let seg_wnd = u32::from(seg.window_len) << self.snd_wscale;
        let advanced = self.snd_una < ack;
        if advanced {
            // "If SND.UNA < SEG.ACK =< SND.NXT, then set SND.UNA <- SEG.ACK. Any segments on
            // the retransmission queue that are thereby entirely acknowledged are removed."
            self.ack_advance(now, seg);
        }
        // "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be updated. If (SND.WL1 <
        // SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)), set SND.WND <- SEG.WND, set
        // SND.WL1 <- SEG.SEQ, and set SND.WL2 <- SEG.ACK." An ACK equal to SND.UNA updates the
        // window too (RFC1122-4.2.2.20g-window-update-on-equal-ack). MUST-34, SHLD-14 and
        // RFC7323-2.4-handle-retraction: a shrinking window is taken as it is.
        if self.snd_una <= ack
            && (self.snd_wl1 < seg.seq_number
                || (self.snd_wl1 == seg.seq_number && self.snd_wl2 <= ack))
        {
            self.snd_wnd = seg_wnd;
            self.snd_wl1 = seg.seq_number;
            self.snd_wl2 = ack;
            self.max_snd_wnd = self.max_snd_wnd.max(seg_wnd);
        }
        // A duplicate ACK by RFC 5681's definition (section 2): data outstanding, no data,
        // no SYN or FIN, SEG.ACK = SND.UNA, the window unchanged (and open: the answers to
        // zero-window probes are not duplicate ACKs).
        if !advanced
            && ack == self.snd_una
            && self.snd_max > self.snd_una
            && seg.payload.is_empty()
            && !seg.flags.intersects(Flags::SYN | Flags::FIN)
            && seg_wnd == old_wnd
            && seg_wnd > 0
            && self.state.is_synchronized()
        {
            self.on_dupack(cx);
        }
        // RFC3168-6.1.2-ece-response: an ECN-Echo halves cwnd, once per window.
        if self.ecn_ok
            && seg.flags.contains(Flags::ECE)
            && self
                .cc
                .on_ecn_echo(self.snd_una, self.snd_max, self.flight())
        {
            self.cwr_pending = true;
        }

        match self.state {
            // "In addition to the processing for the ESTABLISHED state, if the FIN segment is
            // now acknowledged, then enter FIN-WAIT-2 and continue processing in that state."
            State::FinWait1 if self.fin_acked() => self.enter_fin_wait_2(cx, now),
            // "if the ACK acknowledges our FIN, then enter the TIME-WAIT state; otherwise,
            // ignore the segment."
            State::Closing => {
                if self.fin_acked() {
                    self.enter_time_wait(cx, now);
                } else {
                    self.drop_segment(DropReason::ClosingIgnored);
                    return false;
                }
            }
            // "If our FIN is now acknowledged, delete the TCB, enter the CLOSED state, and
            // return."
            State::LastAck if self.fin_acked() => {
                self.close_with(CloseReason::Normal);
                return false;
            }
            _ => {}
        }
        self.update_send_timers(now);
        true
    }

    /// SND.UNA < SEG.ACK =< SND.NXT: new data acknowledged.
    fn ack_advance(&mut self, now: Instant, seg: &TcpRepr<'_>) {
        let ack = seg.ack_number;
        let acked = seq_gap(ack, self.snd_una);
        let flight_before = self.flight();
        // Remove the acknowledged bytes from the send queue (SACKed bytes stay until now,
        // RFC2018-8-keep-data-until-cumack).
        let data_acked = (seq_gap(ack, self.tx_seq) as usize).min(self.tx.len());
        self.tx.dequeue_allocated(data_acked);
        self.tx_seq += data_acked as u32;
        self.scoreboard.advance(acked);
        self.snd_una = ack;
        if self.snd_nxt < ack {
            self.snd_nxt = ack;
        }
        if self.snd_up.is_some_and(|up| ack >= up) {
            self.snd_up = None;
        }

        // An RTT sample (RFC 6298 section 2): from the echoed timestamp (RFC 7323 4.1: only
        // ACKs that advance the left edge), else from the timed segment, never from a
        // retransmitted one (Karn, RFC6298-3-karn).
        let sample = match (self.ts, seg.timestamp) {
            (Some(_), Some(ts)) if ts.tsecr != 0 => {
                let ms = ts_value(now, self.ts_offset).wrapping_sub(ts.tsecr);
                (ms < 1 << 30).then(|| Duration::from_millis(u64::from(ms)))
            }
            _ => match self.rtt_probe {
                Some((timed, at)) if ack > timed => Some(now - at),
                _ => None,
            },
        };
        if self.rtt_probe.is_some_and(|(timed, _)| ack > timed) {
            self.rtt_probe = None;
        }
        if let Some(sample) = sample {
            self.rtt.sample(sample);
        }

        // Congestion control (RFC 5681, RFC 6582).
        if self.cc.recovery.is_some() {
            let _full = self
                .cc
                .on_recovery_ack(ack, acked, self.flight(), self.sack_ok);
        } else {
            let smss = self.cc.smss();
            let cwnd_limited = flight_before.saturating_add(2 * smss) >= self.cc.cwnd;
            self.cc.on_ack(acked, cwnd_limited);
            self.cc
                .clamp(self.max_snd_wnd.saturating_mul(2).max(self.snd_wnd));
        }

        // RFC 6298 5.2 and 5.3 (RFC6298-5.3-restart-on-new-ack): restart the timer when
        // data is outstanding, stop it when everything is acknowledged.
        self.retries = 0;
        if self.snd_max > self.snd_una {
            self.una_since = Some(now);
            self.timers.set(Timer::Retransmit, now + self.rtt.rto());
            if let Some(timeout) = self.opts.user_timeout {
                self.timers.set(Timer::User, now + timeout);
            }
        } else {
            self.una_since = None;
            self.timers.stop(Timer::Retransmit);
            self.timers.stop(Timer::User);
        }
        if data_acked > 0 && self.write_blocked {
            self.write_blocked = false;
            self.pending.writable = true;
        }
    }

    /// A duplicate ACK (RFC 5681 3.2; RFC 6582 3.2; RFC 6675 with SACK).
    fn on_dupack(&mut self, cx: &mut Shared) {
        self.cc.dupacks += 1;
        if self.cc.recovery.is_some() {
            // RFC 5681 3.2 step 4: each further duplicate ACK inflates cwnd by one SMSS
            // (without SACK; with it, the pipe estimate of RFC 6675 does this work).
            if !self.sack_ok {
                self.cc.inflate();
            }
            return;
        }
        // RFC5681-3.2-fast-retransmit: the third duplicate ACK starts fast retransmit; with
        // SACK, so does more than 2 SMSS SACKed above SND.UNA (RFC 6675 IsLost,
        // DupThresh = 3). A single SACK-bearing duplicate ACK is not enough
        // (RFC2018-5.1-congestion-control-preserved).
        let smss = self.cc.smss();
        let sack_loss = self.sack_ok && self.scoreboard.sacked_bytes() > 2 * smss;
        if (self.cc.dupacks >= 3 || (sack_loss && self.cc.dupacks >= 2))
            && self
                .cc
                .enter_recovery(self.snd_una, self.snd_max, self.flight(), self.sack_ok)
        {
            // The segment at SND.UNA goes out next (`plan_retransmission`); it will not be
            // timed (Karn).
            self.rtt_probe = None;
            cx.stats.fast_retransmits += 1;
        }
    }

    /// Sixth, seventh and eighth steps of 3.10.7.4, also entered from SYN-SENT.
    fn process_urg_text_fin(
        &mut self,
        cx: &mut Shared,
        now: Instant,
        arrival: &Arrival<'_>,
        trimmed: Trimmed<'_>,
    ) {
        let seg = &arrival.tcp;
        // Sixth, check the URG bit (ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2; MUST-30, MUST-31).
        // RFC 6093 (and MUST-62): SEG.SEQ + SEG.UP is the sequence number of the octet after
        // the urgent data. "RCV.UP <- max(RCV.UP, SEG.UP), and signal the user that the
        // remote side has urgent data if the urgent pointer (RCV.UP) is in advance of the
        // data consumed" (MUST-32), once per run of urgent data. In the other states
        // "Ignore the URG".
        if seg.flags.contains(Flags::URG)
            && matches!(
                self.state,
                State::Established | State::FinWait1 | State::FinWait2
            )
        {
            let up = seg.seq_number + u32::from(seg.urgent_pointer);
            if self.rcv_up.is_none_or(|old| up > old) {
                self.rcv_up = Some(up);
            }
            if self.urgent_pending() > 0 && !self.urgent_signalled {
                self.urgent_signalled = true;
                self.pending.urgent = true;
            }
        }

        // Seventh, process the segment text (ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2; in the
        // later states "Ignore the segment text").
        if matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) {
            if self.orphan && !trimmed.data.is_empty() {
                // The user closed: nobody will read this. RFC 2525 / SHLD-3: reset, as Linux
                // does ("data arriving after CLOSE").
                self.reset(CloseReason::Reset);
                return;
            }
            self.receive_text(cx, now, arrival, &trimmed);
        }

        // Eighth, check the FIN bit.
        if trimmed.fin && !self.fin_received {
            let fin_seq = trimmed.seq + trimmed.data.len() as u32;
            if fin_seq == self.rcv_nxt {
                self.receive_fin(cx, now);
            } else if fin_seq > self.rcv_nxt {
                // Ahead of missing data: hold it (SHLD-31).
                self.fin_pending = Some(fin_seq);
            }
        } else if trimmed.fin && self.state == State::TimeWait {
            // "TIME-WAIT STATE: Remain in the TIME-WAIT state. Restart the 2 MSL time-wait
            // timeout."
            self.ack_now = true;
            self.timers.set(Timer::Close, now + cx.config.msl * 2);
        }
        if self.fin_pending == Some(self.rcv_nxt) && !self.fin_received {
            self.receive_fin(cx, now);
        }
    }

    /// RFC 9293 3.10.7.4 seventh, for ESTABLISHED, FIN-WAIT-1 and FIN-WAIT-2.
    fn receive_text(
        &mut self,
        cx: &Shared,
        now: Instant,
        arrival: &Arrival<'_>,
        trimmed: &Trimmed<'_>,
    ) {
        let seg = &arrival.tcp;
        // RFC 3168 6.1.3: a CWR ends our echoing; a CE mark on an in-window data packet starts
        // it (RFC3168-6.1.3-echo-ce-until-cwr; out-of-window packets never get here,
        // RFC3168-6.1.5-ignore-ce-out-of-window).
        if self.ecn_ok {
            if seg.flags.contains(Flags::CWR) {
                self.ece_pending = false;
            }
            if arrival.ecn == Ecn::Ce && !seg.payload.is_empty() {
                self.ece_pending = true;
                self.ack_now = true;
            }
        }
        let data = trimmed.data;
        if data.is_empty() {
            if !seg.payload.is_empty() {
                // All of it was old or beyond the window: tell the peer where we are.
                self.ack_now = true;
            }
            return;
        }
        self.rcv_mss = self
            .rcv_mss
            .max(data.len() as u32)
            .min(u32::from(self.adv_mss()));
        let offset = seq_gap(trimmed.seq, self.rcv_nxt);
        if offset == 0 {
            let had_gap = !self.assembler.is_empty();
            let written = self.rx.write_unallocated(0, data) as u32;
            // Merge with what already arrived out of order.
            let contiguous = match self.assembler.add(0, written) {
                Ok(()) => self.assembler.take_front(),
                Err(_) => {
                    self.assembler.shift(written);
                    written
                }
            };
            self.rx.enqueue_unallocated(contiguous as usize);
            // "Once the TCP endpoint takes responsibility for the data, it advances RCV.NXT
            // over the data accepted" (and acknowledges it, below).
            self.rcv_nxt += contiguous;
            self.rcv_unacked = self.rcv_unacked.saturating_add(contiguous);
            if self.rd_shut {
                // Reading was shut down: acknowledged, then discarded.
                self.rx.dequeue_allocated(self.rx.len());
            } else if contiguous > 0 {
                self.pending.readable = true;
            }
            if written < data.len() as u32 {
                // The buffer is full: the peer must learn the window at once.
                self.ack_now = true;
            }
            if had_gap {
                // RFC5681-3.2-immediate-ack-on-gap-fill.
                self.ack_now = true;
            }
            self.schedule_ack(cx, now);
        } else {
            // Beyond RCV.NXT: "Segments with higher beginning sequence numbers SHOULD be held
            // for later processing" (SHLD-31), within the buffer and the assembler's bound.
            let written = self.rx.write_unallocated(offset as usize, data) as u32;
            if written > 0 && self.assembler.add(offset, written).is_ok() {
                self.note_sack_block(offset);
            }
            // RFC5681-3.2-immediate-dupack, MAY-13: acknowledge RCV.NXT at once.
            self.ack_now = true;
        }
    }

    /// Delayed ACKs: SHLD-18 (delay), MUST-40 (less than 0.5 s), SHLD-19 (at least every
    /// second full-sized segment, 2 * RMSS bytes).
    fn schedule_ack(&mut self, cx: &Shared, now: Instant) {
        if self.opts.quickack || self.rcv_unacked >= 2 * self.rcv_mss {
            self.ack_now = true;
        }
        if !self.ack_now && !self.timers.is_armed(Timer::DelayedAck) {
            let delay = cx.config.delayed_ack.min(Duration::from_millis(499));
            self.timers.set(Timer::DelayedAck, now + delay);
        }
    }

    /// An out-of-order segment landed in the assembler range containing `offset`: report that
    /// range first in the next SACK option (RFC2018-4-first-block-is-trigger) and keep the
    /// previous ones after it (RFC2018-4-fill-and-repeat-blocks).
    fn note_sack_block(&mut self, offset: u32) {
        let Some((start, end)) = self.assembler.range_containing(offset) else {
            return;
        };
        let block = (self.rcv_nxt + start, self.rcv_nxt + end);
        let mut recent = [Some(block), None, None, None];
        let mut n = 1;
        for old in self.sack_recent.iter().flatten() {
            let overlaps = old.0 < block.1 && block.0 < old.1;
            if !overlaps && n < recent.len() {
                recent[n] = Some(*old);
                n += 1;
            }
        }
        self.sack_recent = recent;
    }

    /// The SACK blocks for the next segment: the recent ones (re-read from the assembler, as
    /// they may have grown), then any other range (RFC 2018 section 4).
    fn sack_blocks(&self) -> [Option<(u32, u32)>; 4] {
        let mut out: [Option<(u32, u32)>; 4] = [None; 4];
        let mut n = 0;
        let mut push = |range: (u32, u32), out: &mut [Option<(u32, u32)>; 4]| {
            let block = ((self.rcv_nxt + range.0).0, (self.rcv_nxt + range.1).0);
            if n < out.len() && !out.contains(&Some(block)) {
                out[n] = Some(block);
                n += 1;
            }
        };
        for (left, _) in self.sack_recent.iter().flatten() {
            if *left > self.rcv_nxt
                && let Some(range) = self
                    .assembler
                    .range_containing(seq_gap(*left, self.rcv_nxt))
            {
                push(range, &mut out);
            }
        }
        for &range in self.assembler.ranges() {
            push(range, &mut out);
        }
        out
    }

    /// 3.10.7.4 eighth: the FIN at RCV.NXT. "signal the user 'connection closing' ... advance
    /// RCV.NXT over the FIN, and send an acknowledgment for the FIN" (promptly).
    fn receive_fin(&mut self, cx: &Shared, now: Instant) {
        // The FIN takes a sequence number but no buffer space: the right edge moves with it,
        // so the window value is unchanged.
        if self.rcv_adv > self.rcv_nxt {
            self.rcv_adv += 1;
        }
        self.rcv_nxt += 1;
        self.fin_received = true;
        self.fin_pending = None;
        self.ack_now = true;
        // MUST-12: the user sees end of stream, distinct from a reset.
        self.pending.readable = true;
        match self.state {
            // "Enter the CLOSE-WAIT state."
            State::SynReceived | State::Established => self.state = State::CloseWait,
            // "If our FIN has been ACKed (perhaps in this segment), then enter TIME-WAIT,
            // start the time-wait timer, turn off the other timers; otherwise, enter the
            // CLOSING state" (simultaneous close).
            State::FinWait1 if self.fin_acked() => self.enter_time_wait(cx, now),
            State::FinWait1 => self.state = State::Closing,
            // "Enter the TIME-WAIT state. Start the time-wait timer, turn off the other
            // timers."
            State::FinWait2 => self.enter_time_wait(cx, now),
            // "Remain in the TIME-WAIT state. Restart the 2 MSL time-wait timeout."
            State::TimeWait => self.timers.set(Timer::Close, now + cx.config.msl * 2),
            // CLOSE-WAIT, CLOSING, LAST-ACK: remain.
            _ => {}
        }
    }

    /// Answer an unacceptable segment with `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>`. Segments
    /// without data (pure ACKs, SYNs) are answered at most once per `invalid_ratelimit`
    /// (Linux's `tcp_oow_rate_limited`), so two stacks cannot ACK each other forever.
    fn ack_unacceptable(&mut self, cx: &Shared, now: Instant, seg: &TcpRepr<'_>) {
        let limited = seg.payload.is_empty() && !seg.flags.contains(Flags::FIN);
        if limited && !self.oow_allowed(cx, now) {
            return;
        }
        self.ack_now = true;
    }

    fn oow_allowed(&mut self, cx: &Shared, now: Instant) -> bool {
        let interval = cx.config.invalid_ratelimit;
        if !interval.is_zero()
            && let Some(last) = self.last_oow_ack
            && now - last < interval
        {
            return false;
        }
        self.last_oow_ack = Some(now);
        true
    }

    /// A challenge ACK (RFC 5961 sections 3.2 and 4.2), throttled per connection and
    /// stack-wide (RFC5961-7-challenge-ack-throttling).
    fn challenge_ack(&mut self, cx: &mut Shared, now: Instant) {
        if self.oow_allowed(cx, now) && cx.challenge_ack_allowed(now) {
            self.ack_now = true;
        }
    }

    // ============================================================================================
    // User calls (RFC 9293 3.10.2 to 3.10.5)
    // ============================================================================================

    /// SEND (3.10.2): queue what fits in the send buffer.
    pub(crate) fn send(&mut self, data: &[u8]) -> Result<usize, Error> {
        if let Some(error) = self.pending_error.take() {
            return Err(error);
        }
        if self.fin_queued {
            // After shutdown(WR) or close: "error: connection closing" (EPIPE).
            return Err(Error::BrokenPipe);
        }
        match self.state {
            // SYN-SENT, SYN-RECEIVED: "Queue the data for transmission after entering
            // ESTABLISHED state." ESTABLISHED, CLOSE-WAIT: segmentize and send.
            State::SynSent | State::SynReceived | State::Established | State::CloseWait => {}
            State::Closed | State::Listen => return Err(Error::BrokenPipe),
            _ => return Err(Error::BrokenPipe),
        }
        let n = self.tx.enqueue_slice(data);
        if n < data.len() {
            self.write_blocked = true;
        }
        if n == 0 && !data.is_empty() {
            return Err(Error::WouldBlock);
        }
        Ok(n)
    }

    /// SEND with the URGENT flag (3.10.2): SND.UP <- the sequence number after this data.
    pub(crate) fn send_urgent(&mut self, data: &[u8]) -> Result<usize, Error> {
        let n = self.send(data)?;
        if n > 0 {
            self.snd_up = Some(self.tx_seq + self.tx.len() as u32);
        }
        Ok(n)
    }

    /// RECEIVE (3.10.3): queued data first, then the pending error once, then end of stream.
    pub(crate) fn recv(&mut self, out: &mut [u8]) -> Result<usize, Error> {
        if matches!(self.state, State::SynSent | State::SynReceived) {
            return Err(Error::WouldBlock);
        }
        if !self.rx.is_empty() && !out.is_empty() {
            let n = self.rx.dequeue_slice(out);
            if self.urgent_pending() == 0 {
                self.urgent_signalled = false;
            }
            return Ok(n);
        }
        if out.is_empty() && self.pending_error.is_none() {
            return Ok(0);
        }
        self.nothing_queued()
    }

    /// What a read returns with nothing queued: the pending error once, then end of stream
    /// (MUST-12) once the FIN arrived or the connection closed, else "would block".
    fn nothing_queued(&mut self) -> Result<usize, Error> {
        if let Some(error) = self.pending_error.take() {
            return Err(error);
        }
        if self.fin_received || self.rd_shut || self.state == State::Closed {
            return Ok(0);
        }
        Err(Error::WouldBlock)
    }

    /// RECEIVE without a copy: `consume` sees the queued bytes (the first contiguous run) and
    /// returns how many it took. Errors and end of stream as [`recv`](Self::recv).
    pub(crate) fn recv_with(
        &mut self,
        consume: impl FnOnce(&[u8]) -> usize,
    ) -> Result<usize, Error> {
        if matches!(self.state, State::SynSent | State::SynReceived) {
            return Err(Error::WouldBlock);
        }
        if !self.rx.is_empty() {
            let (first, _) = self.rx.as_slices();
            let taken = consume(first).min(first.len());
            self.rx.dequeue_allocated(taken);
            if self.urgent_pending() == 0 {
                self.urgent_signalled = false;
            }
            return Ok(taken);
        }
        self.nothing_queued()
    }

    /// Shut down sending: CLOSE's FIN without giving up the connection (3.10.4).
    pub(crate) fn shutdown_write(&mut self) {
        if self.fin_queued {
            return;
        }
        match self.state {
            // SYN-SENT / SYN-RECEIVED: "queue for processing after entering ESTABLISHED".
            State::SynSent | State::SynReceived => self.fin_queued = true,
            // ESTABLISHED: "Queue this until all preceding SENDs have been segmentized, then
            // form a FIN segment and send it. In any case, enter FIN-WAIT-1 state."
            State::Established => {
                self.fin_queued = true;
                self.state = State::FinWait1;
            }
            // CLOSE-WAIT: "send a FIN segment, enter LAST-ACK state".
            State::CloseWait => {
                self.fin_queued = true;
                self.state = State::LastAck;
            }
            // FIN-WAIT-*, CLOSING, LAST-ACK, TIME-WAIT: already closing; no second FIN.
            _ => {}
        }
    }

    /// Shut down receiving: unread and future data is discarded.
    pub(crate) fn shutdown_read(&mut self) {
        self.rd_shut = true;
        self.rx.dequeue_allocated(self.rx.len());
    }

    /// CLOSE (3.10.4) by the user, who gives the connection up (it becomes an orphan).
    pub(crate) fn close(&mut self, cx: &Shared, now: Instant) {
        self.orphan = true;
        match self.state {
            State::Closed | State::Listen => {}
            // "Delete the TCB and return 'error: closing' responses to any queued SENDs".
            State::SynSent => self.close_with(CloseReason::Normal),
            // Unread data at close: RFC 2525 and SHLD-3, as Linux: reset instead of FIN.
            State::SynReceived
            | State::Established
            | State::CloseWait
            | State::FinWait1
            | State::FinWait2
                if !self.rx.is_empty() =>
            {
                self.reset(CloseReason::Aborted);
            }
            _ => {
                self.rd_shut = true;
                self.shutdown_write();
                if self.state == State::FinWait2 {
                    self.enter_fin_wait_2(cx, now);
                }
            }
        }
        self.rd_shut = true;
    }

    /// ABORT (3.10.5) by the user (SO_LINGER 0).
    pub(crate) fn abort(&mut self) {
        self.orphan = true;
        match self.state {
            // SYN-SENT: "Delete the TCB" (no segment).
            State::Closed | State::Listen | State::SynSent => {
                self.rst_pending = false;
                self.close_with(CloseReason::Aborted);
            }
            // "Send a reset segment: <SEQ=SND.NXT><CTL=RST>" and delete the TCB.
            State::SynReceived
            | State::Established
            | State::FinWait1
            | State::FinWait2
            | State::CloseWait => self.reset(CloseReason::Aborted),
            // CLOSING, LAST-ACK, TIME-WAIT: "Respond with 'ok' and delete the TCB".
            State::Closing | State::LastAck | State::TimeWait => {
                self.close_with(CloseReason::Aborted);
            }
        }
    }

    /// TIME-WAIT gives way to a new incarnation (MAY-2): CLOSED, normally.
    pub(crate) fn retire(&mut self) {
        self.close_with(CloseReason::Normal);
    }

    /// Abort because the stack must (its listener went away before `accept`): a RST.
    pub(crate) fn abort_by_stack(&mut self) {
        self.orphan = true;
        match self.state {
            State::Closed | State::Listen | State::SynSent => {
                self.close_with(CloseReason::Aborted);
            }
            State::Closing | State::LastAck | State::TimeWait => {
                self.close_with(CloseReason::Aborted);
            }
            _ => self.reset(CloseReason::Aborted),
        }
    }

    /// The connection's options, for the settings that have their own calls (quick ACK, DSCP,
    /// TTL).
    pub(crate) fn opts_mut(&mut self) -> &mut ConnOptions {
        &mut self.opts
    }

    /// Apply new socket options.
    pub(crate) fn set_options(&mut self, cx: &Shared, now: Instant, opts: &SocketOptions) {
        self.opts.apply(&cx.config, opts);
        if opts.sndbuf.is_some() && self.tx.capacity() != self.opts.sndbuf {
            let _ = self.tx.set_capacity(self.opts.sndbuf.max(self.tx.len()));
            self.opts.sndbuf = self.tx.capacity();
        }
        if opts.rcvbuf.is_some() && self.rx.capacity() != self.opts.rcvbuf {
            // Out-of-order data does not survive a resize.
            if self.rx.set_capacity(self.opts.rcvbuf.max(self.rx.len())) {
                self.assembler.clear();
                self.sack_recent = [None; 4];
                self.fin_pending = None;
            }
            self.opts.rcvbuf = self.rx.capacity();
            if matches!(self.state, State::SynSent) && self.syn_ws {
                self.rcv_wscale = Self::choose_wscale(self.opts.rcvbuf);
            }
        }
        if opts.keepalive.is_some() || opts.keepidle.is_some() {
            if self.opts.keepalive && self.state.is_synchronized() {
                self.timers.set(Timer::KeepAlive, now + self.opts.keepidle);
            } else if !self.opts.keepalive {
                self.timers.stop(Timer::KeepAlive);
            }
        }
        if opts.user_timeout.is_some() {
            self.timers.stop(Timer::User);
            self.update_send_timers(now);
        }
    }

    // ============================================================================================
    // Timeouts (RFC 9293 3.10.8)
    // ============================================================================================

    /// Service every expired timer.
    pub(crate) fn handle_timeout(&mut self, cx: &mut Shared, now: Instant) {
        for timer in Timer::VALUES {
            if !self.timers.is_expired(timer, now) {
                continue;
            }
            self.timers.stop(timer);
            match timer {
                // TIME-WAIT TIMEOUT: "delete the TCB, enter the CLOSED state" (MUST-13); an
                // orphan's FIN-WAIT-2 timeout likewise.
                Timer::Close => self.close_with(CloseReason::Normal),
                // USER TIMEOUT: "flush all queues, signal the user 'error: connection aborted
                // due to user timeout' ... delete the TCB" (MUST-21).
                Timer::User => self.close_with(CloseReason::TimedOut),
                Timer::Retransmit => self.on_retransmit_timeout(cx, now),
                Timer::Persist => self.on_persist_timeout(cx, now),
                Timer::KeepAlive => self.on_keepalive_timeout(now),
                // The delayed ACK is due (MUST-40).
                Timer::DelayedAck => self.ack_now = true,
            }
            if self.state == State::Closed {
                return;
            }
        }
    }

    /// RETRANSMISSION TIMEOUT: "send the segment at the front of the retransmission queue
    /// again, reinitialize the retransmission timer".
    fn on_retransmit_timeout(&mut self, cx: &mut Shared, now: Instant) {
        let handshake = matches!(self.state, State::SynSent | State::SynReceived);
        if self.snd_max == self.snd_una && !handshake {
            return;
        }
        // R2 (MUST-20; MUST-22 and MUST-23 for the SYN): give up. The user timeout, when
        // set, replaces R2 (MUST-21).
        let r2 = self.opts.user_timeout.unwrap_or(if handshake {
            cx.config.r2_syn
        } else {
            cx.config.r2
        });
        // Data outstanding without a start time (e.g. a zero-window probe's octet, sent while
        // persisting): R2 counts from this first timeout, so retransmission always ends.
        let since = *self.una_since.get_or_insert(now);
        if now - since >= r2 {
            self.close_with(CloseReason::TimedOut);
            return;
        }
        self.retries += 1;
        cx.stats.timeouts += 1;
        // R1 (MUST-20, SHLD-9, SHLD-10): tell the user the path may be broken.
        if self.retries == cx.config.r1 {
            self.pending.retransmit_warning = true;
        }
        // RFC5681-3.1-loss-window-after-rto, RFC5681-3.1-ssthresh-on-loss.
        let first = self.rtt.backoff_count() == 0;
        self.cc.on_timeout(self.flight(), self.snd_max, first);
        // RFC 6298 5.5 (RFC6298-5.5-backoff) and 5.6: double the RTO, restart the timer.
        self.rtt.back_off();
        self.timers.set(Timer::Retransmit, now + self.rtt.rto());
        // RFC 6298 5.4 (RFC6298-5.4-retransmit-earliest): the earliest unacknowledged
        // segment goes again; everything after it follows as the window allows (go-back-N).
        self.snd_nxt = self.snd_una;
        // RFC 2018 5.1 (RFC2018-5-rto-resend-left-edge): the receiver may have reneged.
        self.scoreboard.clear();
        // Karn: nothing sent before the timeout can be timed.
        self.rtt_probe = None;
        if handshake {
            self.syn_retransmitted = true;
            // RFC3168-6.1.1.1-fallback-without-ecn: the retransmitted SYN asks for no ECN
            // (Linux's tcp_ecn_fallback).
            if self.state == State::SynSent {
                self.syn_ecn = false;
            }
        }
    }

    /// The persist timer: a zero-window probe with exponential backoff (MUST-35, MUST-36,
    /// SHLD-29, SHLD-30; MUST-37: never a reason to give up), or the sender SWS override.
    fn on_persist_timeout(&mut self, cx: &Shared, now: Instant) {
        if !matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        ) {
            return;
        }
        if self.in_persist {
            // MUST-37 keeps the connection open only while the peer answers: after R2 (or the
            // user timeout) without any segment from it, give up, as Linux does after
            // tcp_retries2 unanswered probes.
            let r2 = self.opts.user_timeout.unwrap_or(cx.config.r2);
            if now - self.last_recv >= r2 {
                self.close_with(CloseReason::TimedOut);
                return;
            }
            self.probe = Probe::ZeroWindow;
            self.persist_backoff = self.persist_backoff.saturating_add(1);
            self.timers
                .set(Timer::Persist, now + self.persist_interval(cx));
        } else {
            self.sws_override = true;
        }
    }

    /// The persist interval: the RTO doubled per probe already sent (SHLD-30), at most
    /// `rto_max`.
    fn persist_interval(&self, cx: &Shared) -> Duration {
        let factor = 1u64 << self.persist_backoff.min(16);
        self.rtt.rto().saturating_mul(factor).min(cx.config.rto_max)
    }

    /// Keep-alive (RFC 9293 3.8.4): probes only after `keepidle` of silence and only when
    /// nothing is outstanding (MUST-26); `keepcnt` unanswered probes, not one, end the
    /// connection (MUST-29), with a RST as Linux sends.
    fn on_keepalive_timeout(&mut self, now: Instant) {
        if !self.opts.keepalive
            || !matches!(
                self.state,
                State::Established | State::CloseWait | State::FinWait2
            )
        {
            return;
        }
        let busy = self.snd_max != self.snd_una || !self.tx.is_empty();
        let idle_until = self.last_recv + self.opts.keepidle;
        if busy {
            self.keepalive_probes = 0;
            self.timers.set(Timer::KeepAlive, now + self.opts.keepidle);
            return;
        }
        if self.keepalive_probes == 0 && now < idle_until {
            self.timers.set(Timer::KeepAlive, idle_until);
            return;
        }
        if self.keepalive_probes >= self.opts.keepcnt {
            self.reset(CloseReason::TimedOut);
            return;
        }
        self.keepalive_probes += 1;
        self.probe = Probe::KeepAlive;
        self.timers.set(Timer::KeepAlive, now + self.opts.keepintvl);
    }

    /// Keep the retransmission and persist timers consistent with what is outstanding:
    /// RFC 6298 5.1 and 5.2, and the persist timer when the peer's window is zero (the
    /// retransmission timer does not run then, SHLD-17). Also the user timeout.
    fn update_send_timers(&mut self, now: Instant) {
        let outstanding = self.snd_max > self.snd_una;
        let persist =
            self.state.is_synchronized() && self.usable_window_closed() && !self.tx.is_empty();
        if persist {
            self.timers.stop(Timer::Retransmit);
            if !self.in_persist {
                self.in_persist = true;
                self.timers.stop(Timer::Persist);
            }
            if !self.timers.is_armed(Timer::Persist) {
                let interval = {
                    let factor = 1u64 << self.persist_backoff.min(16);
                    self.rtt.rto().saturating_mul(factor)
                };
                self.timers.set(Timer::Persist, now + interval);
            }
        } else {
            if self.in_persist {
                self.in_persist = false;
                self.persist_backoff = 0;
                self.timers.stop(Timer::Persist);
                // The peer answered while we persisted (MUST-37): the retransmission
                // give-up (R2) counts from the window opening, not from the first probe.
                if outstanding {
                    self.una_since = Some(now);
                }
                if self.probe == Probe::ZeroWindow {
                    self.probe = Probe::None;
                }
            }
            if outstanding {
                if !self.timers.is_armed(Timer::Retransmit) {
                    self.timers.set(Timer::Retransmit, now + self.rtt.rto());
                }
            } else if self.state.is_synchronized() {
                self.timers.stop(Timer::Retransmit);
            }
        }
        match self.opts.user_timeout {
            Some(timeout) if outstanding || persist => {
                if !self.timers.is_armed(Timer::User) {
                    self.timers
                        .set(Timer::User, self.una_since.unwrap_or(now) + timeout);
                }
            }
            _ => self.timers.stop(Timer::User),
        }
    }

    // ============================================================================================
    // Output
    // ============================================================================================

    /// Write the next segment this connection wants to send into `buf`, if any, and return
    /// the datagram's length. Called repeatedly until it returns `None`.
    pub(crate) fn dispatch(
        &mut self,
        cx: &mut Shared,
        now: Instant,
        buf: &mut Vec<u8>,
    ) -> Option<usize> {
        let plan = match self.state {
            State::Closed => {
                if !self.rst_pending {
                    return None;
                }
                self.rst_pending = false;
                // ABORT / reset: <SEQ=SND.NXT><CTL=RST>, with ACK as Linux sends it.
                Plan::control(Kind::Rst, Flags::RST | Flags::ACK, self.snd_max)
            }
            State::Listen => return None,
            State::SynSent => {
                if self.snd_nxt != self.iss {
                    return None;
                }
                let mut flags = Flags::SYN;
                if self.syn_ecn {
                    flags |= Flags::ECE | Flags::CWR;
                }
                Plan::control(Kind::Syn, flags, self.iss)
            }
            State::SynReceived => {
                if self.snd_nxt == self.iss || self.resend_synack {
                    // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, first sent, retransmitted on
                    // timeout, or again for a retransmitted SYN.
                    self.resend_synack = false;
                    let mut flags = Flags::SYN | Flags::ACK;
                    if self.ecn_ok {
                        flags |= Flags::ECE;
                    }
                    Plan::control(Kind::SynAck, flags, self.iss)
                } else if self.ack_now {
                    // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> for an unacceptable segment or as a
                    // challenge ACK.
                    Plan::control(Kind::Ack, Flags::ACK, self.snd_max)
                } else {
                    return None;
                }
            }
            _ => match self.plan_synchronized(now) {
                Some(plan) => plan,
                None => {
                    // Nothing to send: if data waits for a window, the persist timer runs.
                    if self.state.is_synchronized() {
                        self.update_send_timers(now);
                    }
                    return None;
                }
            },
        };
        Some(self.emit_plan(cx, now, plan, buf))
    }

    /// The next segment in a synchronized state, by priority.
    fn plan_synchronized(&mut self, now: Instant) -> Option<Plan> {
        let sending = matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        );
        if sending && self.probe == Probe::ZeroWindow {
            self.probe = Probe::None;
            if !self.tx.is_empty() {
                // One octet at SND.UNA, beyond the closed window (RFC 9293 3.8.6.1).
                return Some(Plan {
                    kind: Kind::ZeroWindowProbe,
                    flags: Flags::ACK,
                    seq: self.snd_una,
                    len: 1,
                    retransmit: self.snd_una < self.snd_max,
                });
            }
        }
        if sending {
            if let Some(plan) = self.plan_retransmission() {
                return Some(plan);
            }
            if let Some(plan) = self.plan_data(now) {
                return Some(plan);
            }
        }
        if self.probe == Probe::KeepAlive {
            self.probe = Probe::None;
            // <SEQ=SND.UNA-1><ACK=RCV.NXT>, no data (SHLD-12; MAY-6's garbage octet is not
            // sent), as Linux does.
            return Some(Plan::control(
                Kind::KeepAliveProbe,
                Flags::ACK,
                self.snd_una - 1,
            ));
        }
        if self.ack_now || self.window_update_due() {
            // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
            return Some(Plan::control(Kind::Ack, Flags::ACK, self.snd_max));
        }
        None
    }

    /// During fast recovery: the next hole to retransmit (RFC 6582 3.2 steps 2 and 4;
    /// RFC 6675 NextSeg with SACK).
    fn plan_retransmission(&self) -> Option<Plan> {
        let recovery = self.cc.recovery?;
        let from = seq_gap(recovery.high_rxt, self.snd_una);
        let (offset, hole) = if self.sack_ok && !self.scoreboard.is_empty() {
            let limit = self.scoreboard.highest_sacked()?;
            let hole = self.scoreboard.next_hole(from, limit)?;
            // The first retransmission goes at once (RFC 5681 3.2 step 2); the others wait
            // for the pipe to drop below cwnd (RFC 6675 section 5).
            if from > 0 && self.sack_pipe() >= self.cc.cwnd {
                return None;
            }
            hole
        } else {
            // NewReno: the segment at SND.UNA, once per (partial) acknowledgment.
            if from > 0 {
                return None;
            }
            (0, self.flight())
        };
        let seq = self.snd_una + offset;
        let data_offset = seq_gap(seq, self.tx_seq) as usize;
        let available = self.tx.len().saturating_sub(data_offset);
        let len = (hole as usize)
            .min(available)
            .min(self.data_payload_cap() as usize);
        let fin = self
            .fin_seq()
            .is_some_and(|fin| seq + len as u32 == fin && self.snd_max > fin);
        if len == 0 && !fin {
            return None;
        }
        let mut flags = Flags::ACK;
        if fin {
            flags |= Flags::FIN;
        }
        Some(Plan {
            kind: Kind::Hole,
            flags,
            seq,
            len,
            retransmit: true,
        })
    }

    /// RFC 6675's pipe, simplified: outstanding bytes, less those SACKed, less the holes
    /// below the highest SACKed byte that were not retransmitted yet (deemed lost).
    fn sack_pipe(&self) -> u32 {
        let Some(recovery) = self.cc.recovery else {
            return self.flight();
        };
        let high = self.scoreboard.highest_sacked().unwrap_or(0);
        let rxt = seq_gap(recovery.high_rxt, self.snd_una).min(high);
        let lost = (high - rxt).saturating_sub(self.scoreboard.sacked_between(rxt, high));
        self.flight()
            .saturating_sub(self.scoreboard.sacked_bytes())
            .saturating_sub(lost)
    }

    /// How many bytes congestion control lets us send from `seq` (RFC 5681; limited transmit
    /// of RFC 3042 on the first two duplicate ACKs, RFC5681-3.2-limited-transmit).
    fn cwnd_room(&self, seq: Seq) -> u32 {
        if self.cc.recovery.is_some() && self.sack_ok {
            return self.cc.cwnd.saturating_sub(self.sack_pipe());
        }
        let allowance = if self.cc.recovery.is_none() {
            self.cc.dupacks.min(2) * self.cc.smss()
        } else {
            0
        };
        self.cc
            .cwnd
            .saturating_add(allowance)
            .saturating_sub(seq_gap(seq, self.snd_una))
    }

    /// New data and the FIN from SND.NXT, within the peer's window and cwnd, after Nagle
    /// (SHLD-7, MUST-17) and sender SWS avoidance (MUST-38).
    fn plan_data(&mut self, now: Instant) -> Option<Plan> {
        let seq = self.snd_nxt;
        let data_offset = seq_gap(seq, self.tx_seq) as usize;
        let available = self.tx.len().saturating_sub(data_offset);
        let fin_unsent = self.fin_seq().is_some_and(|fin| seq <= fin);
        if available == 0 && !fin_unsent {
            return None;
        }
        let retransmit = seq < self.snd_max;
        let idle = self.snd_max == self.snd_una;
        // RFC5681-4.1-restart-after-idle: after more than one RTO without sending, cwnd is
        // at most the initial window again.
        if idle && !retransmit && now - self.last_send > self.rtt.rto() {
            self.cc.restart_after_idle();
        }
        let window_room = seq_gap(self.snd_right_edge(), seq) as usize;
        let cap = self.data_payload_cap() as usize;
        let len = available
            .min(window_room)
            .min(self.cwnd_room(seq) as usize)
            .min(cap);
        // The FIN goes with the last byte, or alone (it needs no window).
        let fin = fin_unsent && len == available;
        if len == 0 && !fin {
            return None;
        }
        if len > 0 && len < cap && !retransmit && !self.sws_override {
            // A short segment. RFC 9293 3.8.6.2.1: send it if it empties the queue (all our
            // data is "pushed", MUST-60/61) or fills half the largest window the peer ever
            // offered; and the Nagle algorithm (3.7.4) holds it while data is unacknowledged,
            // unless TCP_NODELAY (MUST-17) or a FIN goes with it.
            let nagle_ok = self.opts.nodelay || idle || fin;
            let sws_ok = len == available || len as u32 >= self.max_snd_wnd / 2;
            if !(nagle_ok && sws_ok) {
                if idle && !self.in_persist && !self.timers.is_armed(Timer::Persist) {
                    // Nothing in flight will release it: the override timer will.
                    self.timers.set(Timer::Persist, now + SWS_OVERRIDE);
                }
                return None;
            }
        }
        self.sws_override = false;
        let mut flags = Flags::ACK;
        // MUST-61: PSH on the segment that empties the send queue (SHLD-27: PSH points are
        // collapsed, as every write is a push point).
        if len > 0 && len == available {
            flags |= Flags::PSH;
        }
        if fin {
            flags |= Flags::FIN;
        }
        Some(Plan {
            kind: Kind::Data,
            flags,
            seq,
            len,
            retransmit,
        })
    }

    /// The window the buffer allows now: the free space, at most what the window field can
    /// express, rounded down to the scale unit.
    fn free_window(&self) -> u32 {
        let max = 0xffff_u32 << self.rcv_wscale;
        let free = u32::try_from(self.rx.window()).unwrap_or(u32::MAX).min(max);
        free - free % (1u32 << self.rcv_wscale)
    }

    /// The smallest step by which the right edge may move: min(RCV.BUFF/2, MSS) (receiver SWS
    /// avoidance, RFC 9293 3.8.6.2.2, MUST-39).
    fn sws_step(&self) -> u32 {
        let half = u32::try_from(self.rx.capacity() / 2).unwrap_or(u32::MAX);
        half.min(u32::from(self.adv_mss()))
    }

    /// After a read: announce a window that grew a lot (Linux: at least doubled), within the
    /// receiver SWS rule (MUST-39). This is what reopens a zero window.
    fn window_update_due(&self) -> bool {
        if !matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) || self.fin_received
        {
            return false;
        }
        let current = self.rcv_wnd();
        let free = self.free_window();
        free > current
            && free >= current.saturating_add(self.sws_step())
            && free >= current.saturating_mul(2)
    }

    /// The window to advertise, unscaled: the free buffer space, moved only in steps of at
    /// least min(RCV.BUFF/2, MSS) (MUST-39), never less than what is left of the last
    /// advertisement (SHLD-14).
    fn advertised_window(&self) -> u32 {
        let current = self.rcv_wnd();
        let free = self.free_window();
        let unit = 1u32 << self.rcv_wscale;
        let rounded_current = current
            .div_ceil(unit)
            .saturating_mul(unit)
            .min(0xffff_u32 << self.rcv_wscale);
        if free >= current.saturating_add(self.sws_step()) {
            free.max(rounded_current)
        } else {
            rounded_current
        }
    }

    /// The window field for a non-SYN segment; records the right edge it advertises.
    fn window_field(&mut self) -> u16 {
        let field = (self.advertised_window() >> self.rcv_wscale).min(0xffff);
        let edge = self.rcv_nxt + (field << self.rcv_wscale);
        if edge > self.rcv_adv {
            self.rcv_adv = edge;
        }
        field as u16
    }

    /// Build and write the planned segment, then do the bookkeeping of having sent it.
    fn emit_plan(&mut self, cx: &mut Shared, now: Instant, plan: Plan, buf: &mut Vec<u8>) -> usize {
        let mut flags = plan.flags;
        let syn = flags.contains(Flags::SYN);
        let rst = flags.contains(Flags::RST);
        let has_ack = flags.contains(Flags::ACK);
        let window_len = if syn {
            // The window of a SYN is never scaled (RFC7323-2.2-syn-window-unscaled).
            let window = self.rx.window().min(0xffff) as u16;
            if has_ack {
                self.rcv_adv = self.rcv_nxt + u32::from(window);
            }
            window
        } else {
            self.window_field()
        };
        let tsval = ts_value(now, self.ts_offset);
        let mut repr = TcpRepr {
            src_port: self.local.port(),
            dst_port: self.remote.port(),
            flags,
            seq_number: plan.seq,
            ack_number: if has_ack { self.rcv_nxt } else { Seq(0) },
            window_len,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 4],
            timestamp: None,
            urgent_pointer: 0,
            payload: &[],
        };
        if syn {
            // MUST-14, MAY-3: the MSS option on every SYN (a SYN-ACK always carries one, as
            // Linux's); the others only as offered/negotiated (MUST-65 keeps MSS off non-SYN
            // segments; RFC2018-2-sack-permitted-syn-only).
            repr.max_seg_size = Some(self.adv_mss());
            if self.syn_ws {
                repr.window_scale = Some(self.rcv_wscale);
            }
            repr.sack_permitted = self.syn_sack;
            if self.syn_ts {
                // RFC7323-3.2-tsecr-echo: TSecr is zero without ACK.
                let tsecr = match self.ts {
                    Some(ts) if has_ack => ts.recent,
                    _ => 0,
                };
                repr.timestamp = Some(TcpTimestamp { tsval, tsecr });
            }
        } else if let Some(ts) = self.ts {
            // RFC7323-3.2-ts-on-every-segment, RFC7323-3.2-ts-on-rst, RFC7323-3.2-tsecr-echo.
            repr.timestamp = Some(TcpTimestamp {
                tsval,
                tsecr: ts.recent,
            });
        }
        if !syn && !rst && self.sack_ok && !self.assembler.is_empty() {
            // RFC2018-4-sack-on-all-dupacks; never without permission
            // (RFC2018-4-no-sack-without-permission).
            repr.sack_ranges = self.sack_blocks();
        }
        // ECN (RFC 3168): ECT(0) only on new data (RFC3168-6.1.2-use-ect0; not on pure ACKs,
        // RFC3168-6.1.4-pure-ack-not-ect; retransmissions, RFC3168-6.1.5-retransmission-not-ect;
        // probes, RFC3168-6.1.6-window-probe-not-ect; SYNs, RFC3168-6.1.1-no-ect-on-syn).
        let new_data = plan.len > 0 && !plan.retransmit && plan.kind == Kind::Data;
        let ect = self.ecn_ok && new_data;
        if self.ecn_ok && !syn && !rst && has_ack && self.ece_pending {
            flags |= Flags::ECE;
        }
        if ect && self.cwr_pending {
            flags |= Flags::CWR;
            self.cwr_pending = false;
        }
        // Urgent data (MUST-62): the pointer is the offset of the octet after the urgent data.
        if let Some(up) = self.snd_up
            && plan.len > 0
            && up > plan.seq
        {
            flags |= Flags::URG;
            repr.urgent_pointer = u16::try_from(seq_gap(up, plan.seq)).unwrap_or(u16::MAX);
        }
        repr.flags = flags;
        // SHLD-22: the connection's DS field on every segment; MUST-49: its TTL.
        let ip = IpParams {
            src: self.local.ip(),
            dst: self.remote.ip(),
            ecn: if ect { Ecn::Ect0 } else { Ecn::NotEct },
            dscp: self.opts.dscp,
            ident: cx.next_ident(),
            hop_limit: self.opts.hop_limit,
        };
        let data_offset = seq_gap(plan.seq, self.tx_seq) as usize;
        let tx = &self.tx;
        let len = emit(buf, ip, &repr, plan.len, |out| {
            tx.append_allocated(data_offset, plan.len, out);
        });
        self.after_send(now, &plan, has_ack);
        len
    }

    /// The bookkeeping of a segment sent.
    fn after_send(&mut self, now: Instant, plan: &Plan, has_ack: bool) {
        if has_ack {
            self.ack_now = false;
            self.timers.stop(Timer::DelayedAck);
            self.rcv_unacked = 0;
            self.last_ack_sent = self.rcv_nxt;
        }
        let end = plan.end();
        match plan.kind {
            Kind::Syn | Kind::SynAck => {
                if self.snd_max == self.iss && !self.syn_retransmitted {
                    self.rtt_probe = Some((self.iss, now));
                }
                self.snd_nxt = self.iss + 1;
                if self.snd_max < self.snd_nxt {
                    self.snd_max = self.snd_nxt;
                }
                if !self.timers.is_armed(Timer::Retransmit) {
                    self.timers.set(Timer::Retransmit, now + self.rtt.rto());
                }
            }
            Kind::Data => {
                if self.snd_max == self.snd_una && end > self.snd_una {
                    self.una_since = Some(now);
                }
                if plan.retransmit {
                    // Karn: a retransmission makes the timed segment ambiguous.
                    self.rtt_probe = None;
                } else if plan.len > 0 && self.rtt_probe.is_none() {
                    self.rtt_probe = Some((plan.seq, now));
                }
                self.snd_nxt = end;
                if self.snd_max < end {
                    self.snd_max = end;
                }
                self.last_send = now;
                self.update_send_timers(now);
            }
            Kind::Hole => {
                if let Some(recovery) = &mut self.cc.recovery
                    && recovery.high_rxt < end
                {
                    recovery.high_rxt = end;
                }
                self.rtt_probe = None;
                self.last_send = now;
                if !self.timers.is_armed(Timer::Retransmit) {
                    self.timers.set(Timer::Retransmit, now + self.rtt.rto());
                }
            }
            Kind::ZeroWindowProbe => {
                if self.snd_max == self.snd_una && end > self.snd_una {
                    self.una_since = Some(now);
                }
                if self.snd_max < end {
                    self.snd_max = end;
                }
                if plan.retransmit {
                    self.rtt_probe = None;
                }
                self.last_send = now;
            }
            Kind::Rst | Kind::KeepAliveProbe | Kind::Ack => {}
        }
    }
}

//! The TCP stack: a sans-IO endpoint holding any number of listeners and connections.
//!
//! - [`Stack`] demultiplexes arriving segments by 4-tuple, answers segments that match no
//!   connection (RFC 9293 3.10.7.1) and listeners (3.10.7.2), and offers the socket-like calls.
//! - `conn` holds one connection (the TCB) and its segment processing, in RFC 9293 3.10 order.
//! - `buffer` (ring buffers, the out-of-order assembler), `timer` (the timer table, the RFC 6298
//!   estimator), `congestion` (RFC 5681 + RFC 6582), `sack` (the sender's scoreboard), `isn`
//!   (RFC 6528, SipHash-2-4), `segment` (parsing and emission at the edges).
//!
//! # Choices
//!
//! Where RFC 9293 (or a companion) allows several behaviours, this stack does what Linux does
//! unless that contradicts a MUST; where it follows the RFC instead, it says so. The choices
//! worth knowing:
//!
//! - **Linux's**: SYN+FIN to a listener is dropped; text on a SYN is not kept (the SYN-ACK
//!   acknowledges the SYN only); a duplicate SYN in SYN-RECEIVED gets the SYN-ACK again; an
//!   in-window SYN with another sequence number in a passive SYN-RECEIVED gets a RST and the
//!   embryonic connection goes; a SYN-ACK always carries MSS; ABORT sends RST+ACK; `close`
//!   with unread data, or data arriving after `close`, resets (SHLD-3); keep-alive probes are
//!   `<SEQ=SND.UNA-1>` without data and the last unanswered one is followed by a RST; R2 and
//!   the user timeout close without a RST; TIME-WAIT lasts 60 s (MSL 30 s); a new SYN in
//!   TIME-WAIT is accepted with ISS = SND.NXT + 65537 (MAY-2); the accept queue holds
//!   `backlog + 1` connections and a SYN or a last ACK beyond that is dropped; out-of-window
//!   segments without data and challenge ACKs are answered at most every 500 ms per
//!   connection; a retransmitted SYN drops the ECN request; malformed option lengths end
//!   option parsing without dropping the segment; the delayed ACK is 40 ms.
//! - **The RFCs'** (where Linux differs): the initial window is RFC 5681's (3 segments of
//!   1460, not 10); the minimum RTO is 1 s (RFC 6298; `Config::rto_min`); a zero-window probe
//!   carries one octet of new data (RFC 9293 3.8.6.1; Linux sends an empty segment at
//!   SND.UNA-1); after timestamps are negotiated a segment without them is dropped (RFC 7323
//!   3.2); the RFC 5961 checks apply in SYN-RECEIVED (a RST not at RCV.NXT gets a challenge
//!   ACK) and an ACK above SND.NXT is answered with an ACK (RFC 5961 5.2).

use core::cmp::Reverse;
use core::hash::{Hash, Hasher};
use core::net::{IpAddr, SocketAddr};
use std::collections::{BinaryHeap, HashMap, VecDeque};

mod api;
mod buffer;
mod checksum;
mod congestion;
mod conn;
mod isn;
mod sack;
mod segment;
mod timer;

#[cfg(test)]
mod tests;

pub use self::api::{
    CloseReason, Config, ConnId, Error, Event, How, ListenerId, SocketOptions, Transmit,
};
use self::conn::{ConnOptions, Connection, Verdict};
use self::isn::{IsnGenerator, TableHasher, tuple_bytes};
pub use self::segment::DropReason;
use self::segment::{Arrival, IpParams, RstReply};
use crate::State;
use crate::time::{Duration, Instant};
use crate::wire::{Ecn, TcpFlags, TcpSeqNumber};

/// The result type of the socket-like calls.
pub type Result<T> = core::result::Result<T, Error>;

/// At most this many stateless RSTs wait for `poll_transmit`; more are dropped (a RST is
/// never required for correctness, and the queue must stay bounded under a flood).
const MAX_RST_QUEUE: usize = 256;

/// What connections share: the configuration, the ISN generator, the queue of RSTs sent for
/// segments without a connection, the challenge-ACK budget and the IP identification counter.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) isn: IsnGenerator,
    rst_queue: VecDeque<RstReply>,
    /// The second the challenge-ACK count is for, and the count (RFC 5961 section 7).
    challenge_second: u64,
    challenge_count: u32,
    ident: u16,
    pub(crate) stats: Stats,
}

impl Shared {
    /// Queue a RST that belongs to no connection (bounded, see [`MAX_RST_QUEUE`]).
    pub(crate) fn queue_rst(&mut self, rst: RstReply) {
        if self.rst_queue.len() < MAX_RST_QUEUE {
            self.rst_queue.push_back(rst);
        }
    }

    /// RFC5961-7-challenge-ack-throttling: at most `challenge_ack_limit` challenge ACKs per
    /// second, stack-wide.
    pub(crate) fn challenge_ack_allowed(&mut self, now: Instant) -> bool {
        let second = now.total_micros() / 1_000_000;
        if second != self.challenge_second {
            self.challenge_second = second;
            self.challenge_count = 0;
        }
        if self.challenge_count >= self.config.challenge_ack_limit {
            return false;
        }
        self.challenge_count += 1;
        self.stats.challenge_acks += 1;
        true
    }

    /// The next IPv4 identification value.
    pub(crate) fn next_ident(&mut self) -> u16 {
        self.ident = self.ident.wrapping_add(1);
        self.ident
    }
}

/// A connection's 4-tuple, the demultiplexing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tuple {
    local: SocketAddr,
    remote: SocketAddr,
}

impl Hash for Tuple {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&tuple_bytes(self.local, self.remote));
    }
}

/// A connection slot: the TCB and the stack's bookkeeping of it.
#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    conn: Option<Box<Connection>>,
    /// The listener that created it (passive opens).
    listener: Option<ListenerId>,
    /// The user holds a handle: an active open, or a passive one after `accept`.
    accepted: bool,
    /// A passive open still in SYN-RECEIVED (counted in its listener's SYN queue).
    embryonic: bool,
    /// In the `ready` queue (may have something to send).
    queued: bool,
    /// The deadline of this slot's authoritative entry in the timer heap.
    scheduled: Option<Instant>,
    /// A Readable / Writable event was sent and not yet consumed by `recv` / `send`.
    signalled_readable: bool,
    signalled_writable: bool,
}

/// A passive open (RFC 9293 3.10.1, LISTEN).
#[derive(Debug)]
struct Listener {
    local: SocketAddr,
    backlog: usize,
    opts: SocketOptions,
    /// Established connections waiting for `accept`.
    accept_queue: VecDeque<ConnId>,
    /// Connections in SYN-RECEIVED.
    syn_count: usize,
}

#[derive(Debug, Default)]
struct ListenerSlot {
    generation: u32,
    listener: Option<Listener>,
}

/// Counters of what the stack did, for diagnostics and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams handed to `handle_packet`.
    pub received: u64,
    /// Datagrams dropped before reaching a connection or listener, by reason.
    pub dropped: Vec<(DropReason, u64)>,
    /// RSTs sent for segments that matched no connection.
    pub resets_sent: u64,
    /// Retransmission timeouts (RFC 6298).
    pub timeouts: u64,
    /// Fast retransmits (RFC 5681 3.2).
    pub fast_retransmits: u64,
    /// Challenge ACKs sent (RFC 5961).
    pub challenge_acks: u64,
}

impl Stats {
    fn count_drop(&mut self, reason: DropReason) {
        match self.dropped.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.dropped.push((reason, 1)),
        }
    }

    /// How many datagrams were dropped for `reason`.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.dropped
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }
}

/// One TCP endpoint: any number of listeners and connections, sans IO.
///
/// The stack never reads a clock, never touches a socket and owns no thread: IP datagrams and
/// time go in, IP datagrams, events and the next deadline come out. The methods come in four
/// kinds (quinn style):
///
/// - **input**: [`handle_packet`](Self::handle_packet) (one IPv4 or IPv6 datagram, without a
///   link-layer header) and [`handle_timeout`](Self::handle_timeout);
/// - **socket calls**: [`listen`](Self::listen), [`accept`](Self::accept),
///   [`connect`](Self::connect), [`send`](Self::send), [`recv`](Self::recv),
///   [`shutdown`](Self::shutdown), [`close`](Self::close), [`abort`](Self::abort),
///   [`set_options`](Self::set_options), ...;
/// - **output**: [`poll_transmit`](Self::poll_transmit), [`poll_event`](Self::poll_event),
///   [`poll_timeout`](Self::poll_timeout);
/// - **queries**: [`state_of`](Self::state_of), [`conn_state`](Self::conn_state),
///   [`local_addr`](Self::local_addr), [`remote_addr`](Self::remote_addr), [`stats`](Self::stats).
///
/// # Call order
///
/// After any input or socket call, drain the output in this order: call `poll_transmit` until
/// it returns `None` (sending each datagram), then `poll_event` until `None`, then read
/// `poll_timeout` and call `handle_timeout` at that instant (or earlier, when the next datagram
/// arrives). Several datagrams may be handed in before the output is drained: their ACKs are
/// then aggregated (MUST-58, MUST-59).
///
/// # Time
///
/// `now` must never go backwards from one call to the next (it may stay the same). Time is
/// [`Instant`], microseconds from an arbitrary origin, so tests run in virtual time.
///
/// # Robustness
///
/// No input makes the stack panic, and its memory is bounded: buffers by the socket options,
/// out-of-order data by the receive window, connections by [`Config::max_connections`],
/// SYN-RECEIVED connections by [`Config::max_syn_backlog`], events by the number of
/// connections, and queued RSTs and challenge ACKs by fixed limits.
#[derive(Debug)]
pub struct Stack {
    shared: Shared,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Connections that exist (any state).
    live: usize,
    tuples: HashMap<Tuple, u32, TableHasher>,
    /// The last demultiplexing hit, checked before the hash table.
    last_hit: Option<(Tuple, u32)>,
    listeners: Vec<ListenerSlot>,
    /// Slots that may have something to send, in order.
    ready: VecDeque<u32>,
    /// Deadlines `(when, slot, generation)`; stale entries are skipped lazily.
    timers: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    events: VecDeque<Event>,
    /// RFC 6056 algorithm 3's counter.
    port_counter: u32,
    /// The latest `now` the stack was given (for calls that take no time).
    now: Instant,
}

impl Stack {
    /// A stack with this configuration. Out-of-range values are corrected: the delayed-ACK
    /// time is kept below 500 ms (MUST-40), the RTO bounds ordered, the MTU at least 128.
    pub fn new(mut config: Config) -> Self {
        config.delayed_ack = config.delayed_ack.min(Duration::from_millis(499));
        config.rto_min = config.rto_min.max(Duration::from_millis(1));
        config.rto_max = config.rto_max.max(config.rto_min);
        config.rto_initial = config.rto_initial.clamp(config.rto_min, config.rto_max);
        config.mtu = config.mtu.max(128);
        if config.ephemeral_ports.is_empty() || *config.ephemeral_ports.start() == 0 {
            config.ephemeral_ports = 32768..=60999;
        }
        let isn = IsnGenerator::new(config.isn_secret);
        let tuples = HashMap::with_hasher(isn.table_hasher());
        Self {
            shared: Shared {
                config,
                isn,
                rst_queue: VecDeque::new(),
                challenge_second: u64::MAX,
                challenge_count: 0,
                ident: 0,
                stats: Stats::default(),
            },
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            tuples,
            last_hit: None,
            listeners: Vec::new(),
            ready: VecDeque::new(),
            timers: BinaryHeap::new(),
            events: VecDeque::new(),
            port_counter: 0,
            now: Instant::ZERO,
        }
    }

    /// The configuration (as corrected by [`new`](Self::new)).
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Counters of arriving datagrams.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// The number of connections (TCBs) in any state, orphans and TIME-WAIT included.
    pub fn connection_count(&self) -> usize {
        self.live
    }

    // ============================================================================================
    // Input
    // ============================================================================================

    /// One arriving IP datagram (IPv4 or IPv6, no link-layer header).
    ///
    /// Malformed datagrams, segments with a bad checksum (MUST-3), segments not addressed to
    /// one of [`Config::local_addrs`] and multicast/broadcast (MUST-57, MUST-63) are dropped
    /// silently; see [`stats`](Self::stats).
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.advance(now);
        self.shared.stats.received += 1;
        let local_addrs = &self.shared.config.local_addrs;
        let arrival = match segment::parse(packet, |addr| local_addrs.contains(&addr)) {
            Ok(arrival) => arrival,
            Err(reason) => {
                self.shared.stats.count_drop(reason);
                return;
            }
        };
        let tuple = Tuple {
            local: SocketAddr::new(arrival.dst, arrival.tcp.dst_port),
            remote: SocketAddr::new(arrival.src, arrival.tcp.src_port),
        };
        match self.lookup(&tuple) {
            Some(index) => self.deliver(now, index, &arrival),
            None => self.no_connection(now, &arrival, None),
        }
        self.tidy_timers();
    }

    /// Service the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        while let Some(&Reverse((at, index, generation))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(slot) = self.slots.get_mut(index as usize) else {
                continue;
            };
            if slot.generation != generation || slot.scheduled != Some(at) {
                continue;
            }
            slot.scheduled = None;
            if let Some(conn) = slot.conn.as_deref_mut() {
                conn.handle_timeout(&mut self.shared, now);
            }
            self.after_update(index);
        }
        self.tidy_timers();
    }

    /// The slot of the connection with this 4-tuple.
    fn lookup(&mut self, tuple: &Tuple) -> Option<u32> {
        if let Some((hit, index)) = self.last_hit
            && hit == *tuple
        {
            return Some(index);
        }
        let index = *self.tuples.get(tuple)?;
        self.last_hit = Some((*tuple, index));
        Some(index)
    }

    /// A segment for an existing connection.
    fn deliver(&mut self, now: Instant, index: u32, arrival: &Arrival<'_>) {
        let Some(slot) = self.slots.get_mut(index as usize) else {
            return;
        };
        let Some(conn) = slot.conn.as_deref_mut() else {
            return;
        };
        // The handshake's last ACK while the listener's accept queue is full: drop it (Linux's
        // listen overflow); the SYN-ACK is retransmitted and the peer's ACK will come again.
        let flags = arrival.tcp.flags;
        if conn.state == State::SynReceived
            && conn.passive
            && flags.contains(TcpFlags::ACK)
            && !flags.intersects(TcpFlags::RST | TcpFlags::SYN)
            && let Some(listener) = slot
                .listener
                .and_then(|id| listener_of(&self.listeners, id))
            && listener.accept_queue.len() > listener.backlog
        {
            self.shared.stats.count_drop(DropReason::AcceptQueueFull);
            return;
        }
        match conn.process(&mut self.shared, now, arrival) {
            Verdict::Done => self.after_update(index),
            Verdict::Reincarnate { iss } => {
                // MAY-2: the TIME-WAIT connection gives way to a new one from the listener.
                conn.retire();
                self.after_update(index);
                self.no_connection(now, arrival, Some(iss));
            }
        }
    }

    /// The listener for a local address and port: an exact address match first, then the
    /// unspecified address of the family, then IPv6's unspecified address for IPv4 too (a
    /// dual-stack listener, Linux's default).
    fn find_listener(&self, addr: IpAddr, port: u16) -> Option<ListenerId> {
        let mut best: Option<(u8, ListenerId)> = None;
        for (index, slot) in self.listeners.iter().enumerate() {
            let Some(listener) = &slot.listener else {
                continue;
            };
            if listener.local.port() != port {
                continue;
            }
            let ip = listener.local.ip();
            let rank = if ip == addr {
                3
            } else if ip.is_unspecified() && ip.is_ipv4() == addr.is_ipv4() {
                2
            } else if ip.is_unspecified() && ip.is_ipv6() {
                1
            } else {
                continue;
            };
            if best.is_none_or(|(r, _)| rank > r) {
                best = Some((
                    rank,
                    ListenerId {
                        index: index as u32,
                        generation: slot.generation,
                    },
                ));
            }
        }
        best.map(|(_, id)| id)
    }

    /// RFC 9293 3.10.7.1 (CLOSED) and 3.10.7.2 (LISTEN): a segment without a connection.
    /// `iss` is set for a SYN coming from a TIME-WAIT connection (MAY-2).
    fn no_connection(&mut self, now: Instant, arrival: &Arrival<'_>, iss: Option<TcpSeqNumber>) {
        let seg = &arrival.tcp;
        let flags = seg.flags;
        let Some(listener_id) = self.find_listener(arrival.dst, seg.dst_port) else {
            // 3.10.7.1: "An incoming segment containing a RST is discarded. An incoming
            // segment not containing a RST causes a RST to be sent in response":
            // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> without ACK, <SEQ=SEG.ACK><CTL=RST>
            // with it (RFC9293-3.10.7.1-closed-rst).
            if flags.contains(TcpFlags::RST) {
                self.shared.stats.count_drop(DropReason::RstIgnored);
            } else {
                self.send_reset(RstReply::for_segment(arrival));
            }
            return;
        };
        // 3.10.7.2, first: "An incoming RST should be ignored."
        if flags.contains(TcpFlags::RST) {
            self.shared.stats.count_drop(DropReason::RstIgnored);
            return;
        }
        // Second: "Any acknowledgment is bad if it arrives on a connection still in the LISTEN
        // state": <SEQ=SEG.ACK><CTL=RST>.
        if flags.contains(TcpFlags::ACK) {
            self.send_reset(RstReply::for_segment(arrival));
            return;
        }
        // Fourth: "other text or control ... drop the segment".
        if !flags.contains(TcpFlags::SYN) {
            self.shared.stats.count_drop(DropReason::ListenOther);
            return;
        }
        // Third, the SYN. A SYN+FIN is dropped, as Linux does (RFC 9293 would queue the FIN
        // for SYN-RECEIVED). The security check has nothing to compare (no compartments).
        if flags.contains(TcpFlags::FIN) {
            self.shared.stats.count_drop(DropReason::SynFin);
            return;
        }
        let config = &self.shared.config;
        let Some(listener) = listener_of(&self.listeners, listener_id) else {
            return;
        };
        // The backlog (Linux: a SYN is dropped while the accept queue is over the backlog),
        // the SYN queue and the connection table bound memory under a SYN flood.
        if listener.accept_queue.len() > listener.backlog
            || listener.syn_count >= config.max_syn_backlog
            || self.live >= config.max_connections
        {
            self.shared.stats.count_drop(DropReason::Backlog);
            return;
        }
        let opts = ConnOptions::new(config, &listener.opts);
        // RCV.NXT = SEG.SEQ+1, IRS = SEG.SEQ, ISS selected, SYN-ACK queued, SYN-RECEIVED
        // (RFC9293-3.10.7.2-listen-syn). Text on the SYN is not kept (Linux without TCP Fast
        // Open does the same): the SYN-ACK acknowledges the SYN only, so the peer sends it
        // again.
        let conn = Connection::open_passive(&self.shared, now, arrival, opts, iss);
        let index = self.insert(conn, Some(listener_id));
        if let Some(listener) = listener_of_mut(&mut self.listeners, listener_id) {
            listener.syn_count += 1;
        }
        self.after_update(index);
    }

    fn send_reset(&mut self, rst: RstReply) {
        self.shared.stats.resets_sent += 1;
        self.shared.queue_rst(rst);
    }

    // ============================================================================================
    // Output
    // ============================================================================================

    /// Write the next datagram to send into `buf` (cleared first) and say where it goes.
    /// Call it until it returns `None`.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        self.advance(now);
        if let Some(rst) = self.shared.rst_queue.pop_front() {
            let repr = rst.repr();
            let ip = IpParams {
                src: rst.local.ip(),
                dst: rst.remote.ip(),
                ecn: Ecn::NotEct,
                dscp: 0,
                ident: self.shared.next_ident(),
                hop_limit: self.shared.config.hop_limit,
            };
            let len = segment::emit(buf, ip, &repr, 0, |_| {});
            return Some(Transmit {
                dst: rst.remote.ip(),
                len,
            });
        }
        while let Some(&index) = self.ready.front() {
            let slot = self.slots.get_mut(index as usize)?;
            if let Some(conn) = slot.conn.as_deref_mut()
                && let Some(len) = conn.dispatch(&mut self.shared, now, buf)
            {
                let dst = conn.remote.ip();
                self.after_update(index);
                self.tidy_timers();
                return Some(Transmit { dst, len });
            }
            // Nothing more to send: the connection may have armed a timer meanwhile (persist,
            // SWS override).
            slot.queued = false;
            self.ready.pop_front();
            self.reschedule(index);
        }
        self.tidy_timers();
        None
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest deadline of any timer: call [`handle_timeout`](Self::handle_timeout) then.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _, _))| *at)
    }

    // ============================================================================================
    // Bookkeeping
    // ============================================================================================

    /// Remember the latest instant (time never goes backwards for the stack, even if a caller
    /// breaks the rule).
    fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    fn insert(&mut self, conn: Connection, listener: Option<ListenerId>) -> u32 {
        let tuple = Tuple {
            local: conn.local,
            remote: conn.remote,
        };
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot::default());
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        slot.conn = Some(Box::new(conn));
        slot.listener = listener;
        slot.accepted = listener.is_none();
        slot.embryonic = listener.is_some();
        slot.scheduled = None;
        slot.signalled_readable = false;
        slot.signalled_writable = false;
        self.tuples.insert(tuple, index);
        self.live += 1;
        index
    }

    fn free_slot(&mut self, index: u32) {
        let Some(slot) = self.slots.get_mut(index as usize) else {
            return;
        };
        let Some(conn) = slot.conn.take() else {
            return;
        };
        let tuple = Tuple {
            local: conn.local,
            remote: conn.remote,
        };
        if self.tuples.get(&tuple) == Some(&index) {
            self.tuples.remove(&tuple);
        }
        if self.last_hit.is_some_and(|(_, hit)| hit == index) {
            self.last_hit = None;
        }
        if slot.embryonic
            && let Some(listener) = slot
                .listener
                .and_then(|id| listener_of_mut(&mut self.listeners, id))
        {
            listener.syn_count = listener.syn_count.saturating_sub(1);
        }
        slot.embryonic = false;
        slot.listener = None;
        slot.accepted = false;
        slot.scheduled = None;
        self.live -= 1;
        self.free.push(index);
    }

    /// After anything happened to a connection: turn its pending signals into events or
    /// accept-queue entries, queue it for output, reschedule its timer, free it if it is gone.
    fn after_update(&mut self, index: u32) {
        let Some(slot) = self.slots.get_mut(index as usize) else {
            return;
        };
        let Some(conn) = slot.conn.as_deref_mut() else {
            return;
        };
        let id = ConnId {
            index,
            generation: slot.generation,
        };
        let pending = core::mem::take(&mut conn.pending);
        if slot.embryonic && conn.state != State::SynReceived {
            slot.embryonic = false;
            if let Some(listener) = slot
                .listener
                .and_then(|lid| listener_of_mut(&mut self.listeners, lid))
            {
                listener.syn_count = listener.syn_count.saturating_sub(1);
            }
        }
        if pending.established
            && !slot.accepted
            && let Some(lid) = slot.listener
            && let Some(listener) = listener_of_mut(&mut self.listeners, lid)
        {
            listener.accept_queue.push_back(id);
            self.events.push_back(Event::Incoming { listener: lid });
        }
        if slot.accepted && !conn.orphan {
            if pending.connected {
                self.events.push_back(Event::Connected(id));
            }
            if pending.readable && !slot.signalled_readable {
                slot.signalled_readable = true;
                self.events.push_back(Event::Readable(id));
            }
            if pending.writable && !slot.signalled_writable {
                slot.signalled_writable = true;
                self.events.push_back(Event::Writable(id));
            }
            if pending.urgent {
                self.events.push_back(Event::Urgent(id));
            }
            if pending.retransmit_warning {
                self.events.push_back(Event::RetransmitWarning(id));
            }
            if let Some(reason) = pending.closed {
                self.events.push_back(Event::Closed { conn: id, reason });
            }
        }
        if !slot.queued {
            slot.queued = true;
            self.ready.push_back(index);
        }
        self.reschedule(index);
    }

    /// Put a connection's next deadline in the timer heap; free the connection if it is gone.
    fn reschedule(&mut self, index: u32) {
        let Some(slot) = self.slots.get_mut(index as usize) else {
            return;
        };
        let Some(conn) = slot.conn.as_deref() else {
            return;
        };
        let next = conn.next_timeout();
        let dead = conn.is_dead() && (conn.orphan || !slot.accepted);
        if conn.state == State::Closed {
            // A CLOSED connection no longer owns its 4-tuple (a new SYN for it goes to the
            // listener), even while the user still holds the handle to read the outcome.
            let tuple = Tuple {
                local: conn.local,
                remote: conn.remote,
            };
            if self.tuples.get(&tuple) == Some(&index) {
                self.tuples.remove(&tuple);
                if self.last_hit.is_some_and(|(_, hit)| hit == index) {
                    self.last_hit = None;
                }
            }
        }
        if next != slot.scheduled {
            slot.scheduled = next;
            if let Some(at) = next {
                self.timers.push(Reverse((at, index, slot.generation)));
            }
        }
        if dead {
            self.free_slot(index);
        }
        if self.timers.len() > 2 * self.live + 64 {
            self.compact_timers();
        }
    }

    /// Whether a heap entry is the authoritative deadline of a live slot.
    fn is_current(&self, entry: &Reverse<(Instant, u32, u32)>) -> bool {
        let Reverse((at, index, generation)) = *entry;
        self.slots.get(index as usize).is_some_and(|slot| {
            slot.conn.is_some() && slot.generation == generation && slot.scheduled == Some(at)
        })
    }

    /// Pop stale entries off the top of the timer heap, so `poll_timeout` is exact.
    fn tidy_timers(&mut self) {
        while let Some(top) = self.timers.peek() {
            if self.is_current(top) {
                break;
            }
            self.timers.pop();
        }
    }

    /// Rebuild the timer heap from the slots (bounds its size by the live connections).
    fn compact_timers(&mut self) {
        self.timers.clear();
        for (index, slot) in self.slots.iter().enumerate() {
            if let (Some(at), Some(_)) = (slot.scheduled, &slot.conn) {
                self.timers
                    .push(Reverse((at, index as u32, slot.generation)));
            }
        }
    }

    /// The slot of a user handle that is still the user's.
    fn user_slot(slots: &mut [Slot], id: ConnId) -> Result<&mut Slot> {
        let slot = slots
            .get_mut(id.index as usize)
            .filter(|slot| slot.generation == id.generation && slot.accepted)
            .ok_or(Error::BadHandle)?;
        match &slot.conn {
            Some(conn) if !conn.orphan => Ok(slot),
            _ => Err(Error::BadHandle),
        }
    }

    fn user_conn(&self, id: ConnId) -> Result<&Connection> {
        self.slots
            .get(id.index as usize)
            .filter(|slot| slot.generation == id.generation && slot.accepted)
            .and_then(|slot| slot.conn.as_deref())
            .filter(|conn| !conn.orphan)
            .ok_or(Error::BadHandle)
    }

    // ============================================================================================
    // Socket calls
    // ============================================================================================

    /// Passive OPEN (RFC 9293 3.10.1): listen on `local` (an address of the stack, or the
    /// unspecified address for all of them; port not 0). `backlog` bounds the connections
    /// waiting for `accept` (as Linux, `backlog + 1` may wait). `opts` are inherited by the
    /// accepted connections.
    ///
    /// A second listener on an overlapping address and the same port is refused with
    /// [`Error::AddrInUse`], and never disturbs the first (MUST-41); connections using the
    /// port do not prevent listening (MUST-42).
    pub fn listen(
        &mut self,
        local: SocketAddr,
        backlog: usize,
        opts: &SocketOptions,
    ) -> Result<ListenerId> {
        if local.port() == 0 {
            return Err(Error::InvalidArgument);
        }
        if !local.ip().is_unspecified() && !self.shared.config.local_addrs.contains(&local.ip()) {
            return Err(Error::AddrNotAvailable);
        }
        let overlaps = |other: IpAddr| {
            other == local.ip()
                || (other.is_unspecified()
                    && (other.is_ipv6() || local.is_ipv4() == other.is_ipv4()))
                || (local.ip().is_unspecified()
                    && (local.is_ipv6() || local.is_ipv4() == other.is_ipv4()))
        };
        let in_use = self
            .listeners
            .iter()
            .filter_map(|s| s.listener.as_ref())
            .any(|l| l.local.port() == local.port() && overlaps(l.local.ip()));
        if in_use {
            return Err(Error::AddrInUse);
        }
        let listener = Listener {
            local,
            backlog: backlog.min(self.shared.config.max_connections),
            opts: opts.clone(),
            accept_queue: VecDeque::new(),
            syn_count: 0,
        };
        let index = match self.listeners.iter().position(|s| s.listener.is_none()) {
            Some(index) => index,
            None => {
                self.listeners.push(ListenerSlot::default());
                self.listeners.len() - 1
            }
        };
        let slot = &mut self.listeners[index];
        slot.generation = slot.generation.wrapping_add(1);
        slot.listener = Some(listener);
        Ok(ListenerId {
            index: index as u32,
            generation: slot.generation,
        })
    }

    /// Stop listening (CLOSE in LISTEN, RFC 9293 3.10.4). Connections not yet accepted are
    /// reset, as Linux does when a listening socket is closed.
    pub fn close_listener(&mut self, id: ListenerId) -> Result<()> {
        let listener = listener_of(&self.listeners, id).ok_or(Error::BadHandle)?;
        let _ = listener;
        if let Some(slot) = self.listeners.get_mut(id.index as usize) {
            slot.listener = None;
        }
        for index in 0..self.slots.len() as u32 {
            let slot = &mut self.slots[index as usize];
            if slot.listener == Some(id) && !slot.accepted {
                slot.listener = None;
                slot.embryonic = false;
                if let Some(conn) = slot.conn.as_deref_mut() {
                    conn.abort_by_stack();
                }
                self.after_update(index);
            }
        }
        Ok(())
    }

    /// The address a listener listens on.
    pub fn listener_addr(&self, id: ListenerId) -> Result<SocketAddr> {
        listener_of(&self.listeners, id)
            .map(|l| l.local)
            .ok_or(Error::BadHandle)
    }

    /// Take an established connection from the listener's queue, with the peer's address;
    /// [`Error::WouldBlock`] if none waits.
    pub fn accept(&mut self, id: ListenerId) -> Result<(ConnId, SocketAddr)> {
        loop {
            let listener = listener_of_mut(&mut self.listeners, id).ok_or(Error::BadHandle)?;
            let conn_id = listener.accept_queue.pop_front().ok_or(Error::WouldBlock)?;
            let Some(slot) = self
                .slots
                .get_mut(conn_id.index as usize)
                .filter(|slot| slot.generation == conn_id.generation && !slot.accepted)
            else {
                continue;
            };
            let Some(conn) = slot.conn.as_deref() else {
                continue;
            };
            slot.accepted = true;
            slot.listener = None;
            let remote = conn.remote;
            // What happened before accept, in events.
            if conn.readable_len() > 0 || conn.state != State::Established {
                slot.signalled_readable = true;
                self.events.push_back(Event::Readable(conn_id));
            }
            if let Some(reason) = conn.close_reason {
                self.events.push_back(Event::Closed {
                    conn: conn_id,
                    reason,
                });
            }
            return Ok((conn_id, remote));
        }
    }

    /// Active OPEN (RFC 9293 3.10.1): connect from `local` to `remote` and send the SYN
    /// (non-blocking: [`Event::Connected`] or [`Event::Closed`] tells the outcome).
    ///
    /// `local` may have the unspecified address (the stack's first address of the family is
    /// taken, MUST-43, MUST-44) and port 0 (an ephemeral port, RFC 6056 algorithm 3). A
    /// remote broadcast, multicast or unspecified address is refused (MUST-46).
    pub fn connect(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        opts: &SocketOptions,
    ) -> Result<ConnId> {
        self.advance(now);
        if !segment::is_unicast(remote.ip()) || remote.port() == 0 {
            return Err(Error::InvalidArgument);
        }
        if local.is_ipv4() != remote.is_ipv4() {
            return Err(Error::InvalidArgument);
        }
        let config = &self.shared.config;
        let local_ip = if local.ip().is_unspecified() {
            config
                .local_addrs
                .iter()
                .copied()
                .find(|a| a.is_ipv4() == remote.is_ipv4())
                .ok_or(Error::AddrNotAvailable)?
        } else if config.local_addrs.contains(&local.ip()) {
            local.ip()
        } else {
            return Err(Error::AddrNotAvailable);
        };
        if self.live >= config.max_connections {
            return Err(Error::NoResources);
        }
        let local = if local.port() == 0 {
            self.ephemeral(local_ip, remote)?
        } else {
            let local = SocketAddr::new(local_ip, local.port());
            if self.tuples.contains_key(&Tuple { local, remote }) {
                return Err(Error::AddrInUse);
            }
            local
        };
        let opts = ConnOptions::new(&self.shared.config, opts);
        let conn = Connection::open_active(&self.shared, now, local, remote, opts);
        let index = self.insert(conn, None);
        self.after_update(index);
        Ok(ConnId {
            index,
            generation: self.slots[index as usize].generation,
        })
    }

    /// RFC 6056 algorithm 3: start at a keyed hash of the addresses plus a counter, take the
    /// first port whose 4-tuple is free and that no listener uses.
    fn ephemeral(&mut self, local_ip: IpAddr, remote: SocketAddr) -> Result<SocketAddr> {
        let range = self.shared.config.ephemeral_ports.clone();
        let (first, last) = (u32::from(*range.start()), u32::from(*range.end()));
        let count = last - first + 1;
        let offset = self.shared.isn.port_offset(local_ip, remote);
        for i in 0..count {
            let port = first + offset.wrapping_add(self.port_counter).wrapping_add(i) % count;
            let port = port as u16;
            let local = SocketAddr::new(local_ip, port);
            if self.tuples.contains_key(&Tuple { local, remote })
                || self.find_listener(local_ip, port).is_some()
            {
                continue;
            }
            self.port_counter = self.port_counter.wrapping_add(i + 1);
            return Ok(local);
        }
        Err(Error::AddrNotAvailable)
    }

    /// SEND (RFC 9293 3.10.2): queue as much of `data` as the send buffer takes and return
    /// how much; [`Error::WouldBlock`] when it is full, [`Error::BrokenPipe`] after
    /// `shutdown(Write)`, the connection's error after a reset or timeout.
    pub fn send(&mut self, now: Instant, id: ConnId, data: &[u8]) -> Result<usize> {
        self.advance(now);
        let slot = Self::user_slot(&mut self.slots, id)?;
        slot.signalled_writable = false;
        let result = slot.conn.as_deref_mut().ok_or(Error::BadHandle)?.send(data);
        self.after_update(id.index);
        result
    }

    /// SEND with the URGENT flag (RFC 9293 3.8.5, 3.10.2; MUST-30, MUST-31): the data is sent
    /// in line and the urgent pointer marks its end (MUST-62, RFC 6093).
    pub fn send_urgent(&mut self, now: Instant, id: ConnId, data: &[u8]) -> Result<usize> {
        self.advance(now);
        let slot = Self::user_slot(&mut self.slots, id)?;
        slot.signalled_writable = false;
        let result = slot
            .conn
            .as_deref_mut()
            .ok_or(Error::BadHandle)?
            .send_urgent(data);
        self.after_update(id.index);
        result
    }

    /// RECEIVE (RFC 9293 3.10.3): read queued data; `Ok(0)` at the end of the stream (the
    /// peer's FIN, MUST-12), [`Error::WouldBlock`] when nothing is there yet, the connection's
    /// error (once) after a reset or timeout.
    pub fn recv(&mut self, id: ConnId, buf: &mut [u8]) -> Result<usize> {
        let slot = Self::user_slot(&mut self.slots, id)?;
        slot.signalled_readable = false;
        let result = slot.conn.as_deref_mut().ok_or(Error::BadHandle)?.recv(buf);
        self.after_update(id.index);
        result
    }

    /// RECEIVE without a copy (smoltcp's `recv` style): `consume` is shown the queued bytes
    /// (the first contiguous run of the receive ring) and returns how many it took; the call
    /// returns that count. With nothing queued it returns like [`recv`](Self::recv) (`Ok(0)` at
    /// the end of the stream, [`Error::WouldBlock`], or the connection's error).
    pub fn recv_with(&mut self, id: ConnId, consume: impl FnOnce(&[u8]) -> usize) -> Result<usize> {
        let slot = Self::user_slot(&mut self.slots, id)?;
        slot.signalled_readable = false;
        let result = slot
            .conn
            .as_deref_mut()
            .ok_or(Error::BadHandle)?
            .recv_with(consume);
        self.after_update(id.index);
        result
    }

    /// Bytes of urgent data not yet read (MUST-33).
    pub fn urgent_pending(&self, id: ConnId) -> Result<usize> {
        Ok(self.user_conn(id)?.urgent_pending())
    }

    /// Bytes ready to be read.
    pub fn recv_queue(&self, id: ConnId) -> Result<usize> {
        Ok(self.user_conn(id)?.readable_len())
    }

    /// Free space in the send buffer.
    pub fn send_capacity(&self, id: ConnId) -> Result<usize> {
        Ok(self.user_conn(id)?.writable_len())
    }

    /// Half-close (MAY-1): `Write` queues a FIN after the data (CLOSE of RFC 9293 3.10.4
    /// without giving up the connection), `Read` discards unread and future data.
    pub fn shutdown(&mut self, now: Instant, id: ConnId, how: How) -> Result<()> {
        self.advance(now);
        let slot = Self::user_slot(&mut self.slots, id)?;
        let conn = slot.conn.as_deref_mut().ok_or(Error::BadHandle)?;
        if matches!(conn.state, State::Closed | State::Listen) {
            return Err(Error::NotConnected);
        }
        if matches!(how, How::Read | How::Both) {
            conn.shutdown_read();
        }
        if matches!(how, How::Write | How::Both) {
            conn.shutdown_write();
        }
        self.after_update(id.index);
        Ok(())
    }

    /// CLOSE (RFC 9293 3.10.4), as the BSD `close`: the handle is released; the connection
    /// lives on, orphaned, through its FIN handshake and TIME-WAIT (visible to
    /// [`state_of`](Self::state_of)). Unread data makes it a reset instead (SHLD-3, as Linux).
    pub fn close(&mut self, now: Instant, id: ConnId) -> Result<()> {
        self.advance(now);
        let slot = Self::user_slot(&mut self.slots, id)?;
        let conn = slot.conn.as_deref_mut().ok_or(Error::BadHandle)?;
        conn.close(&self.shared, now);
        self.after_update(id.index);
        Ok(())
    }

    /// ABORT (RFC 9293 3.10.5), as `close` with `SO_LINGER` 0: a RST in the synchronized
    /// states, and the connection is gone.
    pub fn abort(&mut self, now: Instant, id: ConnId) -> Result<()> {
        self.advance(now);
        let slot = Self::user_slot(&mut self.slots, id)?;
        slot.conn.as_deref_mut().ok_or(Error::BadHandle)?.abort();
        self.after_update(id.index);
        Ok(())
    }

    /// Change socket options (see [`SocketOptions`]). Timers the options start (keep-alive)
    /// count from the latest instant the stack was given.
    pub fn set_options(&mut self, id: ConnId, opts: &SocketOptions) -> Result<()> {
        let now = self.now;
        let slot = Self::user_slot(&mut self.slots, id)?;
        let conn = slot.conn.as_deref_mut().ok_or(Error::BadHandle)?;
        conn.set_options(&self.shared, now, opts);
        self.after_update(id.index);
        Ok(())
    }

    /// Acknowledge every data segment at once (`TCP_QUICKACK`, but sticky), or go back to
    /// delayed ACKs.
    pub fn set_quickack(&mut self, id: ConnId, on: bool) -> Result<()> {
        let slot = Self::user_slot(&mut self.slots, id)?;
        let conn = slot.conn.as_deref_mut().ok_or(Error::BadHandle)?;
        conn.opts_mut().quickack = on;
        Ok(())
    }

    /// The Differentiated Services codepoint (six bits) of the connection's segments from the
    /// next one on (`IP_TOS` / `IPV6_TCLASS`; MUST-48, SHLD-21, SHLD-22).
    pub fn set_dscp(&mut self, id: ConnId, dscp: u8) -> Result<()> {
        if dscp > 0x3f {
            return Err(Error::InvalidArgument);
        }
        let slot = Self::user_slot(&mut self.slots, id)?;
        let conn = slot.conn.as_deref_mut().ok_or(Error::BadHandle)?;
        conn.opts_mut().dscp = dscp;
        Ok(())
    }

    /// The IP TTL / hop limit of the connection's segments (`IP_TTL`, MUST-49); the stack's
    /// [`Config::hop_limit`] until set.
    pub fn set_hop_limit(&mut self, id: ConnId, hop_limit: u8) -> Result<()> {
        if hop_limit == 0 {
            return Err(Error::InvalidArgument);
        }
        let slot = Self::user_slot(&mut self.slots, id)?;
        let conn = slot.conn.as_deref_mut().ok_or(Error::BadHandle)?;
        conn.opts_mut().hop_limit = hop_limit;
        Ok(())
    }

    /// The connection's local address.
    pub fn local_addr(&self, id: ConnId) -> Result<SocketAddr> {
        Ok(self.user_conn(id)?.local)
    }

    /// The connection's remote address.
    pub fn remote_addr(&self, id: ConnId) -> Result<SocketAddr> {
        Ok(self.user_conn(id)?.remote)
    }

    /// The RFC 9293 state of the connection (CLOSED for a stale handle).
    pub fn conn_state(&self, id: ConnId) -> State {
        self.user_conn(id).map_or(State::Closed, |conn| conn.state)
    }

    /// The RFC 9293 state of the connection with this 4-tuple, orphans (closed by the user,
    /// in FIN-WAIT, LAST-ACK, TIME-WAIT, ...) included; CLOSED if there is none. Listeners
    /// are not connections: a listening port's 4-tuples are CLOSED.
    pub fn state_of(&self, local: SocketAddr, remote: SocketAddr) -> State {
        self.tuples
            .get(&Tuple { local, remote })
            .and_then(|&index| self.slots.get(index as usize))
            .and_then(|slot| slot.conn.as_deref())
            .map_or(State::Closed, |conn| conn.state)
    }
}

fn listener_of(listeners: &[ListenerSlot], id: ListenerId) -> Option<&Listener> {
    listeners
        .get(id.index as usize)
        .filter(|slot| slot.generation == id.generation)
        .and_then(|slot| slot.listener.as_ref())
}

fn listener_of_mut(listeners: &mut [ListenerSlot], id: ListenerId) -> Option<&mut Listener> {
    listeners
        .get_mut(id.index as usize)
        .filter(|slot| slot.generation == id.generation)
        .and_then(|slot| slot.listener.as_mut())
}

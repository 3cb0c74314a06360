//! The tcp-conformance reference TCP: a sans-IO implementation of RFC 9293 and its companions,
//! written to be read beside the RFCs.
//!
//! - [`tcp`]: the stack. [`tcp::Stack`] takes IP datagrams and time, and gives datagrams,
//!   events and its next deadline; it also offers the socket-like calls (listen, connect,
//!   accept, send, recv, shutdown, close, abort, options).
//! - [`time`]: the stack's own clock types; the stack never reads a clock.
//! - [`wire`]: the codec for Ethernet, IPv4, IPv6 and TCP, shared by the stack, the harness's
//!   tester (which crafts malformed segments through the `Packet` views) and the pcap verifier.
//! - [`State`]: the connection states of RFC 9293 section 3.3.2.
//! - [`compliance`]: which requirements of the catalog the stack implements, and which it
//!   does not, with the reasons (machine-readable).
//! - `testing` (feature `testing`): an in-memory pair of stacks with a virtual clock and
//!   seeded faults, for tests and benchmarks.
//! - `fuzzing` (feature `fuzzing`): the fuzz targets' bodies, also replayed over the committed
//!   corpora by `cargo test`.

pub mod compliance;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod state;
pub mod tcp;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;
pub mod wire;

pub use state::State;

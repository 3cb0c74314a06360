//! The tcp-conformance reference TCP.
//!
//! - [`wire`]: the codec for Ethernet, IPv4, IPv6 and TCP, shared by the stack, the harness's
//!   tester (which crafts malformed segments through the `Packet` views) and the pcap verifier.
//! - [`State`]: the connection states of RFC 9293 section 3.3.2.

pub mod state;
pub mod wire;

pub use state::State;

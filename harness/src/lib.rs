//! The tcp-conformance harness: everything that touches the operating system.
//!
//! - [`netns`]: anonymous network namespaces held by file descriptor, and running code inside
//!   them on dedicated threads.
//! - [`privilege`]: root, or a user namespace when not root.
//! - [`topology`]: a tester namespace and a DUT namespace joined by a veth pair.
//! - [`rawsock`], [`tester`], [`pcap`]: raw frames in and out, captured to standard pcap files.
//! - [`target`]: the devices under test behind one trait (`kernel`, ...), and
//!   [`sockdiag`] for the kernel's connection states.
//!
//! Nothing here is ever created in the namespace the process started in, and everything it
//! creates disappears when the process exits, however it exits.

pub mod clock;
pub mod error;
mod ethtool;
pub mod netns;
pub mod pcap;
pub mod privilege;
pub mod rawsock;
pub mod sockdiag;
pub mod target;
pub mod tester;
pub mod topology;

pub use clock::Timestamp;
pub use error::{HarnessError, Result};
pub use netns::Netns;
pub use target::{Call, CallResult, Target};
pub use tester::Tester;
pub use topology::{PairConfig, Topology};

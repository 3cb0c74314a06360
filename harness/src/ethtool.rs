//! Turning offloads off with the legacy `SIOCETHTOOL` ioctl.
//!
//! A veth forwards checksum-offloaded (CHECKSUM_PARTIAL) and GSO super-segments as they are, so
//! a packet socket on the peer would see unfinished checksums and segments larger than the MSS.
//! With transmit checksumming, scatter-gather, TSO, GSO and GRO off, every frame on the veth is
//! exactly what a NIC would put on a wire, which is what the tester must see and the pcap hold.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{HarnessError, Result};

const ETHTOOL_SRXCSUM: u32 = 0x15;
const ETHTOOL_STXCSUM: u32 = 0x17;
const ETHTOOL_SSG: u32 = 0x19;
const ETHTOOL_STSO: u32 = 0x1f;
const ETHTOOL_SGSO: u32 = 0x24;
const ETHTOOL_SGRO: u32 = 0x2c;

#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// Disables transmit/receive checksum offload, scatter-gather, TSO, GSO and GRO on `ifname`,
/// in the namespace of the calling thread.
pub(crate) fn disable_offloads(ifname: &str) -> Result<()> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(HarnessError::sys(
            "socket for ethtool",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: `raw` is a fresh, valid descriptor that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    // TSO and GSO first: they depend on checksumming and scatter-gather.
    for (cmd, what) in [
        (ETHTOOL_STSO, "tso"),
        (ETHTOOL_SGSO, "gso"),
        (ETHTOOL_SGRO, "gro"),
        (ETHTOOL_SSG, "sg"),
        (ETHTOOL_STXCSUM, "tx-checksumming"),
        (ETHTOOL_SRXCSUM, "rx-checksumming"),
    ] {
        let mut value = EthtoolValue { cmd, data: 0 };
        // SAFETY: ifreq is plain data; zeroed is a valid value.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        if ifname.len() >= ifr.ifr_name.len() {
            return Err(HarnessError::Target {
                target: "ethtool".into(),
                message: format!("interface name `{ifname}` is too long"),
            });
        }
        for (dst, src) in ifr.ifr_name.iter_mut().zip(ifname.bytes()) {
            *dst = src as libc::c_char;
        }
        ifr.ifr_ifru.ifru_data = (&raw mut value).cast();
        // SAFETY: SIOCETHTOOL with a valid ifreq whose ifru_data points to a live ethtool_value.
        let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCETHTOOL, &mut ifr) };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            // Some drivers do not implement every knob; only a refusal to turn off checksum
            // offload or segmentation matters for what the capture shows.
            if err.raw_os_error() == Some(libc::EOPNOTSUPP) && cmd == ETHTOOL_SGRO {
                continue;
            }
            return Err(HarnessError::sys(
                format!("ethtool -K {ifname} {what} off"),
                err,
            ));
        }
    }
    Ok(())
}

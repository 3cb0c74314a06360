//! Per-trial topologies: a tester namespace and a DUT namespace joined by a veth pair.
//!
//! ```text
//!   tester netns                         dut netns
//!   +-------------------+   veth pair    +------------------------------+
//!   | tst0  (no IP)     |<-------------->| dut0  198.18.0.2/24          |
//!   | 02:00:00:00:00:01 |                |       2001:2::2/64 (nodad)   |
//!   | AF_PACKET tester  |                | 02:00:00:00:00:02            |
//!   +-------------------+                | permanent neighbours for     |
//!                                        | 198.18.0.1 / 2001:2::1       |
//!                                        +------------------------------+
//! ```
//!
//! - Both namespaces are anonymous ([`Netns`]), so the topology disappears with the process.
//! - The veth is created from inside the tester namespace with its peer placed directly in the
//!   DUT namespace: nothing is ever created in the namespace the suite started in.
//! - The tester end has no address and IPv6 is disabled in the tester namespace: its kernel
//!   neither answers nor resets anything; the tester speaks raw frames.
//! - The DUT knows the tester's MAC from permanent neighbour entries (no ARP, no NDP); the tester
//!   reads the DUT's MAC from netlink. IPv6 DAD, router solicitations and link-local addresses
//!   are off, so captures hold only what the case is about.
//! - Addresses come from 198.18.0.0/15 (RFC 2544) and 2001:2::/48 (RFC 5180) only. Every trial
//!   has namespaces of its own, so every trial can use the same addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd};

use futures::TryStreamExt;
use reference_stack::wire::EthernetAddress;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::link::{InfoData, InfoVeth, LinkAttribute, LinkMessage};
use rtnetlink::{Handle, LinkMessageBuilder, LinkUnspec, LinkVeth};

use crate::error::{HarnessError, Result};
use crate::ethtool;
use crate::netns::Netns;

/// The tester's MAC address.
pub const TESTER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
/// The DUT's MAC address.
pub const DUT_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x02]);
/// The tester's IPv4 address (not configured on any interface: the tester speaks raw frames).
pub const TESTER_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// The DUT's IPv4 address.
pub const DUT_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// The tester's IPv6 address (not configured).
pub const TESTER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0x2, 0, 0, 0, 0, 0, 1);
/// The DUT's IPv6 address.
pub const DUT_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0x2, 0, 0, 0, 0, 0, 2);
/// The tester's end of the veth.
pub const TESTER_IF: &str = "tst0";
/// The DUT's end of the veth.
pub const DUT_IF: &str = "dut0";
/// The veth MTU (Ethernet's).
pub const MTU: u32 = 1500;

/// An interface as the harness knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Interface name inside its namespace.
    pub name: String,
    /// Interface index inside its namespace.
    pub index: u32,
    /// Hardware address, as read back from netlink.
    pub mac: EthernetAddress,
}

/// How the DUT namespace is set up.
#[derive(Debug, Clone, Default)]
pub struct PairConfig {
    /// Give `dut0` the DUT addresses and neighbour entries (the `kernel` target). When false
    /// (a userspace stack driven over AF_PACKET on `dut0`), the DUT namespace's kernel gets no
    /// address and IPv6 is disabled there, so it stays silent.
    pub kernel_addresses: bool,
    /// Per-namespace sysctls for the DUT namespace (a target profile), applied after set-up.
    pub sysctls: Vec<(String, String)>,
}

/// A tester namespace and a DUT namespace joined by a veth pair.
#[derive(Debug)]
pub struct Topology {
    /// The tester's namespace (raw frames only).
    pub tester: Netns,
    /// The DUT's namespace.
    pub dut: Netns,
    /// `tst0`, in the tester namespace.
    pub tester_link: Link,
    /// `dut0`, in the DUT namespace.
    pub dut_link: Link,
}

impl Topology {
    /// Builds the pair. Everything lives in the two new namespaces; dropping the value (or the
    /// process dying) removes all of it.
    pub fn pair(config: &PairConfig) -> Result<Self> {
        let tester = Netns::new("tester")?;
        let dut = Netns::new("dut")?;

        // The tester's kernel must not speak: no IPv6 (no link-local, no RS, no MLD), and no
        // IPv4 address is ever configured.
        for key in [
            "net.ipv6.conf.all.disable_ipv6",
            "net.ipv6.conf.default.disable_ipv6",
        ] {
            tester.set_sysctl(key, "1")?;
        }
        // New interfaces in the DUT namespace inherit `default`: no DAD, no router
        // solicitations, no link-local address, no autoconfiguration from RAs.
        let dut_defaults: &[(&str, &str)] = if config.kernel_addresses {
            &[
                ("net.ipv6.conf.default.accept_dad", "0"),
                ("net.ipv6.conf.default.dad_transmits", "0"),
                ("net.ipv6.conf.default.router_solicitations", "0"),
                ("net.ipv6.conf.default.accept_ra", "0"),
                ("net.ipv6.conf.default.addr_gen_mode", "1"),
                ("net.ipv6.conf.all.accept_dad", "0"),
            ]
        } else {
            &[
                ("net.ipv6.conf.all.disable_ipv6", "1"),
                ("net.ipv6.conf.default.disable_ipv6", "1"),
            ]
        };
        for (k, v) in dut_defaults {
            dut.set_sysctl(k, v)?;
        }

        let dut_fd = dut.as_fd().as_raw_fd();
        let tester_link = tester.run(|| {
            netlink(|handle| async move {
                let peer = LinkMessageBuilder::<LinkUnspec>::new()
                    .name(DUT_IF.to_owned())
                    .address(DUT_MAC.0.to_vec())
                    .mtu(MTU)
                    .setns_by_fd(dut_fd)
                    .build();
                let veth = LinkVeth::new(TESTER_IF, DUT_IF)
                    .address(TESTER_MAC.0.to_vec())
                    .mtu(MTU)
                    .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
                    .build();
                handle
                    .link()
                    .add(veth)
                    .execute()
                    .await
                    .map_err(|e| HarnessError::netlink("create veth tst0/dut0", e))?;
                let link = get_link(&handle, TESTER_IF).await?;
                set_up(&handle, link.index, TESTER_IF).await?;
                Ok(link)
            })
        })??;

        let kernel_addresses = config.kernel_addresses;
        let tester_mac = tester_link.mac;
        let dut_link = dut.run(move || {
            netlink(|handle| async move {
                let link = get_link(&handle, DUT_IF).await?;
                // NOARP: with permanent neighbours there is nothing to resolve, and IPv6 then
                // joins no solicited-node group, so the DUT sends no MLD reports either.
                handle
                    .link()
                    .set(LinkUnspec::new_with_index(link.index).arp(false).build())
                    .execute()
                    .await
                    .map_err(|e| HarnessError::netlink(format!("set {DUT_IF} noarp"), e))?;
                if kernel_addresses {
                    for (addr, prefix) in [(IpAddr::V4(DUT_V4), 24), (IpAddr::V6(DUT_V6), 64)] {
                        let mut req = handle.address().add(link.index, addr, prefix);
                        if addr.is_ipv6() {
                            req.message_mut()
                                .attributes
                                .push(AddressAttribute::Flags(AddressFlags::Nodad));
                        }
                        req.execute().await.map_err(|e| {
                            HarnessError::netlink(format!("add address {addr} to {DUT_IF}"), e)
                        })?;
                    }
                    for peer in [IpAddr::V4(TESTER_V4), IpAddr::V6(TESTER_V6)] {
                        handle
                            .neighbours()
                            .add(link.index, peer)
                            .link_layer_address(&tester_mac.0)
                            .execute()
                            .await
                            .map_err(|e| {
                                HarnessError::netlink(format!("add neighbour {peer}"), e)
                            })?;
                    }
                }
                let lo = get_link(&handle, "lo").await?;
                set_up(&handle, lo.index, "lo").await?;
                set_up(&handle, link.index, DUT_IF).await?;
                Ok(link)
            })
        })??;

        tester.run(|| ethtool::disable_offloads(TESTER_IF))??;
        dut.run(|| ethtool::disable_offloads(DUT_IF))??;

        for (k, v) in &config.sysctls {
            dut.set_sysctl(k, v)?;
        }

        Ok(Self {
            tester,
            dut,
            tester_link,
            dut_link,
        })
    }

    /// Gives the tester namespace's own kernel the tester's IPv4 address and a permanent
    /// neighbour for the DUT, so that Linux TCP in the tester namespace can talk to a DUT (the
    /// reference stack) over the veth. Only for kernel-to-DUT interop and benchmarks: in a
    /// conformance trial the tester's kernel must stay silent.
    pub fn give_tester_kernel_ipv4(&self) -> Result<()> {
        let index = self.tester_link.index;
        let dut_mac = self.dut_link.mac;
        self.tester.run(move || {
            netlink(|handle| async move {
                handle
                    .link()
                    .set(LinkUnspec::new_with_index(index).arp(false).build())
                    .execute()
                    .await
                    .map_err(|e| HarnessError::netlink(format!("set {TESTER_IF} noarp"), e))?;
                handle
                    .address()
                    .add(index, IpAddr::V4(TESTER_V4), 24)
                    .execute()
                    .await
                    .map_err(|e| {
                        HarnessError::netlink(format!("add {TESTER_V4} to {TESTER_IF}"), e)
                    })?;
                handle
                    .neighbours()
                    .add(index, IpAddr::V4(DUT_V4))
                    .link_layer_address(&dut_mac.0)
                    .execute()
                    .await
                    .map_err(|e| HarnessError::netlink(format!("add neighbour {DUT_V4}"), e))
            })
        })?
    }

    /// The tester's address for an IP version.
    pub fn tester_addr(v6: bool) -> IpAddr {
        if v6 {
            IpAddr::V6(TESTER_V6)
        } else {
            IpAddr::V4(TESTER_V4)
        }
    }

    /// The DUT's address for an IP version.
    pub fn dut_addr(v6: bool) -> IpAddr {
        if v6 {
            IpAddr::V6(DUT_V6)
        } else {
            IpAddr::V4(DUT_V4)
        }
    }
}

/// Runs one netlink conversation on a current-thread runtime, on the calling thread (which the
/// caller has placed in the right namespace: the netlink socket binds to it at creation).
fn netlink<F, Fut, R>(f: F) -> Result<R>
where
    F: FnOnce(Handle) -> Fut,
    Fut: Future<Output = Result<R>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| HarnessError::sys("tokio runtime", e))?;
    rt.block_on(async {
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| HarnessError::sys("netlink socket", e))?;
        let conn = tokio::spawn(conn);
        let r = f(handle).await;
        conn.abort();
        r
    })
}

async fn get_link(handle: &Handle, name: &str) -> Result<Link> {
    let msg: LinkMessage = handle
        .link()
        .get()
        .match_name(name.to_owned())
        .execute()
        .try_next()
        .await
        .map_err(|e| HarnessError::netlink(format!("get link {name}"), e))?
        .ok_or_else(|| HarnessError::netlink(format!("get link {name}"), "no such link"))?;
    let mac = msg
        .attributes
        .iter()
        .find_map(|a| match a {
            LinkAttribute::Address(bytes) if bytes.len() == 6 => {
                let mut mac = [0; 6];
                mac.copy_from_slice(bytes);
                Some(EthernetAddress(mac))
            }
            _ => None,
        })
        .unwrap_or(EthernetAddress([0; 6]));
    Ok(Link {
        name: name.to_owned(),
        index: msg.header.index,
        mac,
    })
}

async fn set_up(handle: &Handle, index: u32, name: &str) -> Result<()> {
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(|e| HarnessError::netlink(format!("set {name} up"), e))
}

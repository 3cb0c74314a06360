//! The topology and the tester against Linux, at the frame level (needs root, or a user
//! namespace the process can create).

use std::net::SocketAddr;
use std::time::Duration;

use harness::target::{Call, CallResult, KernelTarget, SocketOptions, Target};
use harness::topology::{DUT_MAC, DUT_V4, TESTER_MAC, TESTER_V4};
use harness::{PairConfig, Tester, Timestamp, Topology};
use reference_stack::State;
use reference_stack::wire::{
    EtherType, EthernetAddress, EthernetFrame, EthernetRepr, IpProtocol, Ipv4Packet, Ipv4Repr,
    TcpFlags, TcpPacket, TcpRepr, TcpSeqNumber,
};

fn syn_frame(src_port: u16, dst_port: u16, isn: u32) -> Vec<u8> {
    let tcp = TcpRepr {
        src_port,
        dst_port,
        flags: TcpFlags::SYN,
        seq_number: TcpSeqNumber(isn),
        window_len: 64240,
        max_seg_size: Some(1460),
        ..TcpRepr::default()
    };
    let ip = Ipv4Repr {
        src_addr: TESTER_V4,
        dst_addr: DUT_V4,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: 64,
        ecn: 0.into(),
        dscp: 0,
        ident: 1,
        dont_frag: true,
    };
    let mut buf = vec![0u8; 14 + ip.buffer_len() + tcp.buffer_len()];
    EthernetRepr {
        src_addr: TESTER_MAC,
        dst_addr: DUT_MAC,
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut buf[..]));
    ip.emit(&mut Ipv4Packet::new_unchecked(&mut buf[14..34]));
    tcp.emit(
        &mut TcpPacket::new_unchecked(&mut buf[34..]),
        &TESTER_V4.into(),
        &DUT_V4.into(),
    );
    buf
}

#[test]
fn kernel_answers_a_raw_syn_and_the_capture_sees_both() {
    harness::privilege::ensure().expect("privileges");
    let topo = Topology::pair(&PairConfig {
        kernel_addresses: true,
        sysctls: vec![],
    })
    .unwrap();
    assert_eq!(topo.tester_link.mac, TESTER_MAC);
    assert_eq!(topo.dut_link.mac, EthernetAddress(DUT_MAC.0));
    let mut target = KernelTarget::new(&topo.dut).unwrap();
    let local = SocketAddr::from((DUT_V4, 5000));
    let r = target
        .call(&Call::Listen {
            local,
            backlog: 4,
            options: SocketOptions::default(),
        })
        .unwrap();
    assert_eq!(r, CallResult::Listening { local });
    let pcap = std::env::temp_dir().join(format!("tcpc-harness-{}.pcap", std::process::id()));
    let mut tester = Tester::open(&topo.tester, topo.tester_link.index, &pcap).unwrap();
    let t0 = tester.send(&syn_frame(40000, 5000, 1000)).unwrap();
    let reply = tester
        .recv_until(Timestamp::now() + Duration::from_secs(2))
        .unwrap()
        .expect("a SYN-ACK");
    assert!(reply.ts >= t0);
    let eth = EthernetFrame::new_checked(&reply.bytes[..]).unwrap();
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
    assert!(tcp.syn() && tcp.ack(), "{tcp}");
    assert_eq!(tcp.ack_number(), TcpSeqNumber(1001));
    assert!(tcp.verify_checksum(&DUT_V4.into(), &TESTER_V4.into()));
    let remote = SocketAddr::from((TESTER_V4, 40000));
    assert_eq!(target.state(local, remote).unwrap(), State::SynReceived);
    let frames = tester.finish().unwrap();
    let read = harness::pcap::read(&frames).unwrap();
    assert_eq!(read.len(), 2);
    std::fs::remove_file(frames).unwrap();
}

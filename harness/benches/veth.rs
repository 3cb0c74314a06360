//! Bulk transfer between Linux TCP and the reference stack over a veth pair, the reference
//! stack driven through its AF_PACKET driver (the `reference` target), both directions.
//!
//! `cargo bench -p harness --bench veth [-- MIB]` (default 64 MiB each way, needs root or
//! unprivileged user namespaces). Throughput is payload bytes per second of wall time; each
//! side's application runs on its own thread, the reference stack's driver on a third.

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use harness::target::{
    Call, CallResult, KernelTarget, ReferenceConfig, ReferenceTarget, SocketOptions, Target,
};
use harness::topology::{DUT_V4, TESTER_V4};
use harness::{PairConfig, Topology};

const CHUNK: usize = 256 * 1024;

fn call(t: &mut dyn Target, c: &Call) -> CallResult {
    t.call(c)
        .unwrap_or_else(|e| panic!("{} {c}: {e}", t.name()))
}

/// Moves `total` bytes from `tx` to `rx` (an established pair); returns bytes per second.
fn transfer(tx: &mut dyn Target, rx: Box<dyn Target>, total: usize) -> (f64, Box<dyn Target>) {
    let start = Instant::now();
    let reader = thread::spawn(move || {
        let mut rx = rx;
        let mut got = 0;
        while got < total {
            match call(
                rx.as_mut(),
                &Call::Recv {
                    len: CHUNK.min(total - got),
                    timeout: Duration::from_secs(10),
                },
            ) {
                CallResult::Received { data, .. } if !data.is_empty() => got += data.len(),
                other => panic!("{}: recv after {got} bytes: {other}", rx.name()),
            }
        }
        rx
    });
    let data = vec![0x5a; CHUNK];
    let mut sent = 0;
    while sent < total {
        let n = CHUNK.min(total - sent);
        match call(
            tx,
            &Call::Send {
                data: data[..n].to_vec(),
            },
        ) {
            CallResult::Sent(k) if k > 0 => sent += k,
            other => panic!("{}: send after {sent} bytes: {other}", tx.name()),
        }
    }
    let rx = reader.join().expect("reader thread");
    (total as f64 / start.elapsed().as_secs_f64(), rx)
}

fn main() {
    let mib: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(64);
    let total = mib << 20;
    if let Err(e) = harness::privilege::ensure() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    let topo = Topology::pair(&PairConfig {
        kernel_addresses: false,
        sysctls: vec![],
    })
    .expect("topology");
    topo.give_tester_kernel_ipv4()
        .expect("tester kernel address");
    let mut kernel = KernelTarget::new(&topo.tester).expect("kernel target");
    let stack = reference_stack::tcp::Config {
        local_addrs: vec![DUT_V4.into()],
        isn_secret: [7; 16],
        rcvbuf: 1 << 20,
        sndbuf: 1 << 20,
        ..reference_stack::tcp::Config::default()
    };
    let mut reference = ReferenceTarget::start(
        &topo.dut,
        ReferenceConfig {
            ifindex: topo.dut_link.index,
            mac: topo.dut_link.mac,
            addresses: vec![DUT_V4.into()],
            neighbours: vec![(TESTER_V4.into(), topo.tester_link.mac)],
            stack,
        },
    )
    .expect("reference target");
    let opts = SocketOptions {
        rcvbuf: Some(1 << 20),
        sndbuf: Some(1 << 20),
        ..SocketOptions::default()
    };
    let dut = SocketAddr::from((DUT_V4, 5001));
    call(
        &mut reference,
        &Call::Listen {
            local: dut,
            backlog: 1,
            options: opts.clone(),
        },
    );
    call(
        &mut kernel,
        &Call::Connect {
            local: SocketAddr::from((TESTER_V4, 0)),
            remote: dut,
            options: opts,
        },
    );
    match call(
        &mut reference,
        &Call::Accept {
            timeout: Duration::from_secs(5),
        },
    ) {
        CallResult::Accepted { .. } => {}
        other => panic!("accept: {other}"),
    }
    println!(
        "veth bulk transfer, Linux <-> reference stack (AF_PACKET driver), {mib} MiB each way"
    );
    let (k2r, reference) = transfer(&mut kernel, Box::new(reference), total);
    println!("  kernel -> reference: {:.1} MB/s", k2r / 1e6);
    let mut reference = reference;
    let (r2k, _) = transfer(reference.as_mut(), Box::new(kernel), total);
    println!("  reference -> kernel: {:.1} MB/s", r2k / 1e6);
}

//! Every capture a full run produces, decoded by tshark and by the suite, field by field.
//!
//! Proves the pcaps are standard (Wireshark reads them) and that the suite's own decoding, which
//! every verdict rests on, agrees with an independent dissector.

mod common;

use std::process::Command;

use common::{Scratch, conformance, real_cases, text};
use conformance::results::{Outcome, Results};
use conformance::segment::{Decoded, Opt, decode};

const FIELDS: &[&str] = &[
    "frame.number",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.flags",
    "tcp.window_size_value",
    "tcp.len",
    "tcp.hdr_len",
    "tcp.checksum",
    "tcp.checksum.status",
    "tcp.urgent_pointer",
    "tcp.option_kind",
    "tcp.options.mss_val",
    "tcp.options.wscale.shift",
    "tcp.options.timestamp.tsval",
    "tcp.options.timestamp.tsecr",
    "ip.ttl",
    "ipv6.hlim",
    "ip.checksum.status",
];

fn tshark(pcap: &std::path::Path) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(pcap)
        .args([
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
        ])
        .args(["-o", "tcp.relative_sequence_numbers:FALSE"])
        .args([
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=,",
        ]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run tshark ({e}): install it (`apt-get install -y tshark`, as .ci/run does)")
    });
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        pcap.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

fn kind(o: &Opt) -> u8 {
    match o {
        Opt::Eol => 0,
        Opt::Nop => 1,
        Opt::Mss(_) => 2,
        Opt::Wscale(_) => 3,
        Opt::SackPermitted => 4,
        Opt::Sack(_) => 5,
        Opt::Timestamp { .. } => 8,
        Opt::Unknown { kind, .. } => *kind,
    }
}

fn opt_str<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

#[test]
fn every_capture_decodes_the_same_in_tshark() {
    let out = Scratch::new("tshark");
    let o = conformance(&[
        "run",
        "--cases",
        real_cases().to_str().unwrap(),
        "--out",
        out.0.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let results = Results::read(&out.join("results.json")).unwrap();
    assert!(
        results.trials.len() >= 28,
        "{} trials",
        results.trials.len()
    );
    let mut frames = 0;
    for trial in &results.trials {
        assert_eq!(trial.outcome, Outcome::Pass, "{}", trial.name);
        let pcap = out
            .0
            .join(trial.pcap.as_ref().expect("every trial has a pcap"));
        let ours = harness::pcap::read(&pcap).unwrap();
        let theirs = tshark(&pcap);
        assert_eq!(ours.len(), theirs.len(), "{}: frame count", pcap.display());
        for (f, t) in ours.iter().zip(&theirs) {
            frames += 1;
            let Decoded::Tcp(s) = decode(&f.bytes).unwrap() else {
                panic!("{}: frame {} is not TCP", pcap.display(), t[0]);
            };
            let kinds: Vec<String> = s.options.iter().map(|o| kind(o).to_string()).collect();
            let ours_row = vec![
                t[0].clone(),
                s.src_port.to_string(),
                s.dst_port.to_string(),
                s.seq.to_string(),
                // tshark prints the raw ack of segments without ACK too.
                s.ack.to_string(),
                format!("0x{:04x}", s.flags),
                s.window.to_string(),
                s.payload.len().to_string(),
                (usize::from(s.data_offset) * 4).to_string(),
                format!("0x{:04x}", s.checksum),
                // 1 = good, 0 = bad.
                if s.checksum_ok { "1" } else { "0" }.to_string(),
                s.urgent.to_string(),
                kinds.join(","),
                opt_str(s.mss()),
                opt_str(s.wscale()),
                opt_str(s.timestamp().map(|t| t.0)),
                opt_str(s.timestamp().map(|t| t.1)),
                if s.ip.version == 4 {
                    s.ip.hop_limit.to_string()
                } else {
                    String::new()
                },
                if s.ip.version == 6 {
                    s.ip.hop_limit.to_string()
                } else {
                    String::new()
                },
                if s.ip.version == 4 {
                    if s.ip.header_checksum_ok { "1" } else { "0" }.to_string()
                } else {
                    String::new()
                },
            ];
            for (i, name) in FIELDS.iter().enumerate() {
                let theirs = t.get(i).cloned().unwrap_or_default();
                assert_eq!(
                    ours_row[i],
                    theirs,
                    "{} frame {}: field {name}",
                    pcap.display(),
                    t[0]
                );
            }
        }
    }
    assert!(frames > 100, "only {frames} frames compared");
}

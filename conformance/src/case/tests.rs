//! Loader tests: whole cases from text, with exact error positions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reference_stack::State;
use reference_stack::wire::TcpFlags;
use rstest::rstest;

use super::load::{load_case_text, step_lines};
use super::*;

const CATALOG: &str = "\
source: {rfc: 9293}
requirements:
- {id: MUST-1, level: MUST, section: '3.1', topic: window, summary: s, testable_on_wire: 'yes'}
- {id: MUST-10, level: MUST, section: '3.5', topic: handshake, summary: s, testable_on_wire: 'yes'}
- {id: MUST-14, level: MUST, section: '3.7.1', topic: mss, summary: s, testable_on_wire: 'yes'}
- {id: SHLD-5, level: SHOULD, section: '3.7.1', topic: mss, summary: s, testable_on_wire: partly}
";

const ESTABLISHED_PASSIVE: &str = "\
description: Passive open up to ESTABLISHED
steps:
  - call: listen
  - inject: {flags: S, seq: 0}
  - expect: {flags: SA, ack: 1}
  - inject: {flags: A, seq: 1, ack: 1}
  - call: accept
";

const SYN_FLAGS: &str = "\
description: A SYN with the row's flags
steps:
  - call: listen
  - inject: {flags: \"${flags}\", seq: 0}
";

fn catalog() -> Catalog {
    Catalog::from_texts(&[(
        PathBuf::from("requirements/rfc9293.yaml"),
        CATALOG.to_owned(),
    )])
    .expect("test catalog loads")
}

fn preludes() -> BTreeMap<String, Prelude> {
    [
        ("established-passive", ESTABLISHED_PASSIVE),
        ("syn-flags", SYN_FLAGS),
    ]
    .into_iter()
    .map(|(name, text)| {
        let path = PathBuf::from(format!("preludes/{name}.yaml"));
        let prelude = Prelude::parse(name, &path, text).expect("test prelude loads");
        (name.to_owned(), prelude)
    })
    .collect()
}

fn load(text: &str) -> Result<Vec<CaseInstance>, LoadError> {
    load_case_text(
        text,
        Path::new("cases/t.yaml"),
        "t",
        &catalog().ids(),
        &preludes(),
    )
}

fn load_one(text: &str) -> CaseInstance {
    let mut all = load(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.len(), 1);
    all.remove(0)
}

/// Asserts the error's position and that its message holds every word of `words`.
#[track_caller]
fn assert_error(e: &LoadError, line: usize, column: usize, words: &[&str]) {
    assert_eq!(
        (e.line, e.column),
        (Some(line), Some(column)),
        "position of: {e}"
    );
    for w in words {
        assert!(e.message.contains(w), "`{w}` missing in: {e}");
    }
}

#[track_caller]
fn load_err(text: &str) -> LoadError {
    match load(text) {
        Ok(_) => panic!("loaded, expected an error:\n{text}"),
        Err(e) => e,
    }
}

const FULL: &str = r#"title: Everything the language has
requirements: [MUST-14, SHLD-5]
description: |
  A case that uses every form.
ip: [ipv6]
dut:
  role: passive
  port: 8080
  options: {nodelay: true, rcvbuf: 65536, sndbuf: 32768, maxseg: 1200, keepalive: true, keepidle: 1s, keepintvl: 500ms, keepcnt: 3, user_timeout: 2.5s, quickack: false}
tester: {port: 40001, window: 1000, isn: 12345}
tolerate:
  - {flags: {has: A, not: SFR}, len: 0}
  - {flags: {not: R}}
steps:
  - call: listen
  - call: {listen: {backlog: 4}}
  - inject:
      flags: S
      seq: 0
      ack: {abs: 7}
      window: 512
      urgent: 3
      data: {hex: "dead beef"}
      options:
        - mss: 1460
        - wscale: 7
        - sack_permitted
        - sack: [[1, 100], [200, 300]]
        - timestamp: {val: 1000, ecr: echo}
        - timestamp: {val: 5, ecr: 6}
        - nop
        - eol
        - raw: {kind: 30, data: "0102", len: 9}
        - raw: {kind: 31}
        - bytes: "0101080a"
      checksum: bad
      data_offset: 4
      reserved: 7
      src_port: 1234
      dst_port: 4321
      ip: {ttl: 3, hop_limit: 4, ecn: ce, dscp: 46, df: true, checksum: bad, flow_label: 0xfffff}
  - inject: {flags: "", checksum: 0x1234, data: 10, ip: {ecn: not-ect}}
  - inject: {flags: A, data: "hello"}
  - inject: {flags: PA, data: {len: 3, byte: 0x41}}
  - inject: {flags: N, ip: {ecn: ect0}}
  - inject: {flags: EC, ip: {ecn: ect1}}
  - expect:
      flags: SA
      seq: "1..5"
      ack: next
      window: ">=1"
      urgent: "<=100"
      len: 0
      data_offset: any
      reserved: 0
      options: {mss: any, wscale: absent, sack_permitted: present, timestamp: {val: any, ecr: echo}, sack: absent}
      ip: {ttl: "1..255", hop_limit: 64, ecn: not-ect, df: true}
      within: 2s
      after: 200ms
  - expect: {seq: {abs: 0}, ack: 1, flags: R, options: {mss: present, wscale: 7, timestamp: present}}
  - expect: {data: 512, options: {timestamp: absent, mss: "<=1460"}, ip: {ecn: any}}
  - expect: {flags: "", options: {timestamp: {ecr: 5}, wscale: ">=0"}}
  - expect: {}
  - expect_none: 500ms
  - expect_none: {for: 250us}
  - call: accept
  - call: {accept: {within: 3s}}
  - call: connect
  - call: {send: 512}
  - call: {send: "text"}
  - call: {send: {hex: "00ff"}}
  - call: {send: {len: 2, byte: 0x42}}
  - call: {send: {data: 100, error: EPIPE}}
  - call: {recv: 1024}
  - call: {recv: {data: "hi", within: 2s}}
  - call: {recv: {len: 3, eof: true}}
  - call: {recv: {eof: true}}
  - call: {recv: {error: ECONNRESET}}
  - call: {shutdown: rd}
  - call: {shutdown: wr}
  - call: {shutdown: rdwr}
  - call: close
  - call: abort
  - call: {setsockopt: {nodelay: false, keepidle: 10s}}
  - state: ESTABLISHED
  - state: {is: TIME-WAIT, within: 2s}
  - wait: 200ms
"#;

#[test]
fn full_case_round_trip() {
    let case = load_one(FULL);
    assert_eq!(case.case_id, "t");
    assert_eq!(case.name(), "t");
    assert_eq!(case.title, "Everything the language has");
    assert_eq!(case.requirements, ["MUST-14", "SHLD-5"]);
    assert_eq!(
        case.description.as_deref(),
        Some("A case that uses every form.\n")
    );
    assert_eq!(case.ip, [IpVersion::Ipv6]);
    assert_eq!(case.dut.role, Role::Passive);
    assert_eq!(case.dut.port, 8080);
    assert_eq!(
        case.dut.options,
        SocketOptions {
            nodelay: Some(true),
            rcvbuf: Some(65536),
            sndbuf: Some(32768),
            maxseg: Some(1200),
            keepalive: Some(true),
            keepidle: Some(Duration::from_secs(1)),
            keepintvl: Some(Duration::from_millis(500)),
            keepcnt: Some(3),
            user_timeout: Some(Duration::from_millis(2500)),
            quickack: Some(false),
        }
    );
    assert_eq!(
        case.tester,
        Tester {
            port: Some(40001),
            window: 1000,
            isn: Some(12345)
        }
    );
    assert_eq!(
        case.tolerate[0].flags,
        Some(FlagsMatch::Mask {
            has: TcpFlags::ACK,
            not: TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST
        })
    );
    assert_eq!(case.tolerate[0].len, Some(NumMatch::Exact(0)));
    assert_eq!(case.tolerate[1].to_string(), "flags={not=R}");

    let Step::Inject(inject) = &case.steps[2].step else {
        panic!("step 2 is an inject");
    };
    assert_eq!(
        *inject,
        Inject {
            flags: TcpFlags::SYN,
            seq: Some(SeqSpec::Rel(0)),
            ack: Some(SeqSpec::Abs(7)),
            window: Some(512),
            urgent: Some(3),
            data: Some(Payload::Hex(vec![0xde, 0xad, 0xbe, 0xef])),
            options: vec![
                OptionSpec::Mss(1460),
                OptionSpec::Wscale(7),
                OptionSpec::SackPermitted,
                OptionSpec::Sack(vec![(1, 100), (200, 300)]),
                OptionSpec::Timestamp {
                    val: 1000,
                    ecr: EcrSpec::Echo
                },
                OptionSpec::Timestamp {
                    val: 5,
                    ecr: EcrSpec::Value(6)
                },
                OptionSpec::Nop,
                OptionSpec::Eol,
                OptionSpec::Raw {
                    kind: 30,
                    data: vec![1, 2],
                    len: Some(9)
                },
                OptionSpec::Raw {
                    kind: 31,
                    data: vec![],
                    len: None
                },
                OptionSpec::Bytes(vec![1, 1, 8, 10]),
            ],
            checksum: Some(ChecksumSpec::Bad),
            data_offset: Some(4),
            reserved: Some(7),
            src_port: Some(1234),
            dst_port: Some(4321),
            ip: IpInject {
                ttl: Some(3),
                hop_limit: Some(4),
                ecn: Some(EcnName::Ce),
                dscp: Some(46),
                df: Some(true),
                checksum_bad: true,
                flow_label: Some(0xfffff),
            },
        }
    );
    let Step::Expect(expect) = &case.steps[8].step else {
        panic!("step 8 is an expect");
    };
    assert_eq!(
        *expect,
        Expect {
            matcher: SegmentMatch {
                flags: Some(FlagsMatch::Exact(TcpFlags::SYN | TcpFlags::ACK)),
                seq: Some(NumMatch::Range(1, 5)),
                ack: Some(NumMatch::Next),
                window: Some(NumMatch::AtLeast(1)),
                urgent: Some(NumMatch::AtMost(100)),
                len: Some(NumMatch::Exact(0)),
                data_offset: Some(NumMatch::Any),
                reserved: Some(NumMatch::Exact(0)),
                data: None,
                options: OptionsMatch {
                    mss: Some(OptMatch::Value(NumMatch::Any)),
                    wscale: Some(OptMatch::Absent),
                    sack_permitted: Some(Presence::Present),
                    timestamp: Some(TsMatch::Fields {
                        val: NumMatch::Any,
                        ecr: EcrMatch::Echo
                    }),
                    sack: Some(Presence::Absent),
                },
                ip: IpMatch {
                    ttl: Some(NumMatch::Range(1, 255)),
                    hop_limit: Some(NumMatch::Exact(64)),
                    ecn: Some(EcnName::NotEct),
                    df: Some(true),
                },
            },
            within: Duration::from_secs(2),
            after: Duration::from_millis(200),
        }
    );

    // Every step, printed back compactly: covers every call form and matcher form.
    let shown: Vec<String> = case.steps.iter().map(|s| s.step.to_string()).collect();
    let expected = [
        "call listen",
        "call listen backlog=4",
        "inject flags=S seq=0 ack=abs:7 window=512 urgent=3 data=hex:deadbeef options[mss=1460 wscale=7 sack_permitted sack=[1..100,200..300] timestamp={val=1000 ecr=echo} timestamp={val=5 ecr=6} nop eol raw={kind=30 data=0102 len=9} raw={kind=31 data=} bytes=0101080a] checksum=bad data_offset=4 reserved=7 src_port=1234 dst_port=4321 ip{ttl=3 hop_limit=4 ecn=ce dscp=46 df=true checksum=bad flow_label=1048575}",
        "inject flags=\"\" data=10 checksum=0x1234 ip{ecn=not-ect}",
        "inject flags=A data=\"hello\"",
        "inject flags=PA data=3*0x41",
        "inject flags=N ip{ecn=ect0}",
        "inject flags=EC ip{ecn=ect1}",
        "expect flags=SA seq=1..5 ack=next window=>=1 urgent=<=100 len=0 data_offset=any reserved=0 options{mss=any wscale=absent sack_permitted=present timestamp={val=any ecr=echo} sack=absent} ip{ttl=1..255 hop_limit=64 ecn=not-ect df=true} within=2s after=200ms",
        "expect flags=R seq=abs:0 ack=1 options{mss=present wscale=7 timestamp=present}",
        "expect data=512 options{mss=<=1460 timestamp=absent}",
        "expect flags=\"\" options{wscale=>=0 timestamp={val=any ecr=5}}",
        "expect any segment",
        "expect_none 500ms",
        "expect_none 250us",
        "call accept",
        "call accept within=3s",
        "call connect",
        "call send 512",
        "call send \"text\"",
        "call send hex:00ff",
        "call send 2*0x42",
        "call send 100 error=EPIPE",
        "call recv 1024",
        "call recv \"hi\" within=2s",
        "call recv 3 eof",
        "call recv eof",
        "call recv error=ECONNRESET",
        "call shutdown rd",
        "call shutdown wr",
        "call shutdown rdwr",
        "call close",
        "call abort",
        "call setsockopt nodelay=false keepidle=10s",
        "state ESTABLISHED",
        "state TIME-WAIT within=2s",
        "wait 200ms",
    ];
    assert_eq!(shown, expected);

    // A few structural checks the display cannot show.
    assert_eq!(
        case.steps[24].step,
        Step::Call(Call::Recv {
            len: Some(2),
            data: Some(Payload::Text("hi".into())),
            eof: false,
            error: None,
            within: Duration::from_secs(2),
        })
    );
    assert_eq!(
        case.steps[35].step,
        Step::State {
            is: State::TimeWait,
            within: Duration::from_secs(2)
        }
    );
    assert!(
        case.steps
            .iter()
            .all(|s| s.origin == "t" && s.line.is_some())
    );
}

#[test]
fn defaults() {
    let case = load_one(
        "title: defaults\nrequirements: [MUST-1]\ndut: {role: active}\nsteps:\n  - expect: {flags: S}\n  - call: accept\n  - call: listen\n  - call: {recv: 5}\n  - state: CLOSED\n  - inject: {flags: SA}\n",
    );
    assert_eq!(case.ip, [IpVersion::Ipv4, IpVersion::Ipv6]);
    assert_eq!(case.dut.port, 5000);
    assert_eq!(case.dut.options, SocketOptions::default());
    assert_eq!(
        case.tester,
        Tester {
            port: None,
            window: 64240,
            isn: None
        }
    );
    assert!(case.tolerate.is_empty());
    assert_eq!(case.description, None);
    let steps: Vec<&Step> = case.steps.iter().map(|s| &s.step).collect();
    let Step::Expect(e) = steps[0] else {
        panic!("expect")
    };
    assert_eq!(
        (e.within, e.after),
        (Duration::from_secs(1), Duration::ZERO)
    );
    assert_eq!(
        *steps[1],
        Step::Call(Call::Accept {
            within: Duration::from_secs(1)
        })
    );
    assert_eq!(*steps[2], Step::Call(Call::Listen { backlog: 16 }));
    assert_eq!(
        *steps[3],
        Step::Call(Call::Recv {
            len: Some(5),
            data: None,
            eof: false,
            error: None,
            within: Duration::from_secs(1)
        })
    );
    assert_eq!(
        *steps[4],
        Step::State {
            is: State::Closed,
            within: Duration::from_secs(1)
        }
    );
    let Step::Inject(i) = steps[5] else {
        panic!("inject")
    };
    assert_eq!(
        (i.seq, i.ack, i.window, i.data.as_ref()),
        (None, None, None, None)
    );
    assert!(i.options.is_empty() && i.ip.is_empty());
}

const HEAD: &str = "title: t\nrequirements: [MUST-1]\ndut: {role: passive}\nsteps:\n";

/// Errors in a step: `HEAD` is 4 lines, so the first step is on line 5.
#[rstest]
#[case::unknown_field("  - inject: {flags: S, sq: 0}\n", 5, 24, &["steps[0].inject", "unknown field `sq`", "expected one of", "`seq`"])]
#[case::unknown_step_kind("  - call: listen\n  - injct: {flags: S}\n", 6, 5, &["unknown step kind `injct`", "`inject`", "`expect_none`", "`wait`"])]
#[case::bad_flag_letter("  - inject: {flags: SX, seq: 0}\n", 5, 21, &["unknown flag letter `X` in `SX`", "FSRPAUECN"])]
#[case::duplicate_flag("  - inject: {flags: SAS}\n", 5, 21, &["flag letter `S` appears twice in `SAS`"])]
#[case::bad_duration("  - expect: {flags: SA, within: 5m}\n", 5, 33, &["bad duration `5m`", "unknown unit `m`", "`ms`"])]
#[case::duration_without_unit("  - wait: 200\n", 5, 11, &["bad duration `200`", "missing unit"])]
#[case::negative_duration("  - expect_none: -1s\n", 5, 18, &["cannot be negative"])]
#[case::bad_matcher_string("  - expect: {window: \"lots\"}\n", 5, 22, &["bad number matcher `lots`", "`any`", "\">=n\""])]
#[case::bad_seq_matcher_string("  - expect: {seq: lots}\n", 5, 19, &["bad number matcher `lots`", "`next`", "`{abs: N}`"])]
#[case::empty_range("  - expect: {len: \"5..3\"}\n", 5, 19, &["empty range `5..3`", "start 5 is above the end 3"])]
#[case::next_on_window("  - expect: {window: next}\n", 5, 22, &["`next` only applies to `seq` and `ack`"])]
#[case::abs_on_len("  - expect: {len: {abs: 1}}\n", 5, 19, &["`{abs: N}` only applies to `seq` and `ack`"])]
#[case::bad_option("  - inject: {flags: S, options: [{mms: 1460}]}\n", 5, 35, &["unknown variant `mms`", "`mss`"])]
#[case::bad_state("  - state: ESTABLISH\n", 5, 12, &["unknown TCP state `ESTABLISH`", "ESTABLISHED"])]
#[case::unknown_call("  - call: lisen\n", 5, 11, &["unknown call `lisen`", "`listen`"])]
#[case::call_without_argument("  - call: send\n", 5, 11, &["`send` needs an argument"])]
#[case::unknown_errno("  - call: {recv: {error: ECONRESET}}\n", 5, 26, &["unknown errno `ECONRESET`", "did you mean `ECONNRESET`"])]
#[case::recv_len_and_data_disagree("  - call: {recv: {len: 3, data: \"hello\"}}\n", 5, 18, &["`len: 3` disagrees with `data`, which has 5 bytes"])]
#[case::after_later_than_within("  - expect: {within: 1s, after: 2s}\n", 5, 13, &["`after: 2s` is later than `within: 1s`"])]
#[case::data_offset_range("  - inject: {flags: A, data_offset: 16}\n", 5, 37, &["16 is out of range", "0..=15"])]
#[case::two_step_kinds("  - inject: {flags: S}\n    expect: {flags: SA}\n", 5, 5, &["has `inject` and `expect`"])]
#[case::bad_hex("  - inject: {flags: S, data: {hex: \"abc\"}}\n", 5, 36, &["odd number of hex digits"])]
#[case::mask_overlap("  - expect: {flags: {has: A, not: AS}}\n", 5, 21, &["overlap"])]
fn step_errors(
    #[case] steps: &str,
    #[case] line: usize,
    #[case] column: usize,
    #[case] words: &[&str],
) {
    let e = load_err(&format!("{HEAD}{steps}"));
    assert_eq!(e.path, Path::new("cases/t.yaml"));
    assert_eq!(e.row, None);
    assert_error(&e, line, column, words);
}

#[rstest]
#[case::bad_yaml_syntax(
    "title: t\nrequirements: [MUST-1\ndut: {role: passive}\nsteps: []\n",
    3, 4,
    &["did not find expected ',' or ']'", "while parsing a flow sequence at line 2 column 15"]
)]
#[case::unknown_top_level_field(
    "title: t\nrequirements: [MUST-1]\ndut: {role: passive}\nstep: []\n",
    4, 1,
    &["unknown field `step`", "`steps`", "`tolerate`"]
)]
#[case::missing_field(
    "requirements: [MUST-1]\ndut: {role: passive}\nsteps: []\n",
    1, 1,
    &["missing field `title`"]
)]
#[case::unknown_requirement(
    "title: t\nrequirements: [MUST-1O]\ndut: {role: passive}\nsteps: [call: listen]\n",
    2, 16,
    &["unknown requirement id `MUST-1O`", "did you mean `MUST-10`?"]
)]
#[case::unknown_requirement_no_hint(
    "title: t\nrequirements:\n  - MUST-1\n  - NOT-A-THING-AT-ALL\ndut: {role: passive}\nsteps: [call: listen]\n",
    4, 5,
    &["unknown requirement id `NOT-A-THING-AT-ALL`", "catalog"]
)]
#[case::no_requirements(
    "title: t\nrequirements: []\ndut: {role: passive}\nsteps: [call: listen]\n",
    2, 15,
    &["expected a non-empty list of requirement ids"]
)]
#[case::bad_role(
    "title: t\nrequirements: [MUST-1]\ndut: {role: server}\nsteps: [call: listen]\n",
    3, 13,
    &["unknown variant `server`", "`passive`"]
)]
#[case::two_line_title(
    "title: \"a\\nb\"\nrequirements: [MUST-1]\ndut: {role: passive}\nsteps: [call: listen]\n",
    1, 8,
    &["expected one line"]
)]
#[case::empty_steps(
    "title: t\nrequirements: [MUST-1]\ndut: {role: passive}\nsteps: []\n",
    4, 1,
    &["`steps` is empty and no prelude gives steps"]
)]
#[case::unknown_prelude(
    "title: t\nrequirements: [MUST-1]\ndut: {role: passive}\nprelude: established-pasive\nsteps: []\n",
    4, 10,
    &["unknown prelude `established-pasive`", "did you mean `established-passive`?"]
)]
#[case::prelude_needs_table(
    "title: t\nrequirements: [MUST-1]\ndut: {role: passive}\nprelude: [syn-flags]\nsteps: []\n",
    4, 11,
    &["prelude `syn-flags` uses the placeholder `${flags}`", "`table`"]
)]
#[case::placeholder_without_table(
    "title: \"x ${y}\"\nrequirements: [MUST-1]\ndut: {role: passive}\nsteps: [call: listen]\n",
    1, 11,
    &["placeholder `${y}` in a case without `table`"]
)]
#[case::duplicate_ip(
    "title: t\nrequirements: [MUST-1]\nip: [ipv4, ipv4]\ndut: {role: passive}\nsteps: [call: listen]\n",
    3, 5,
    &["`ipv4` is listed twice"]
)]
fn file_errors(
    #[case] text: &str,
    #[case] line: usize,
    #[case] column: usize,
    #[case] words: &[&str],
) {
    assert_error(&load_err(text), line, column, words);
}

#[test]
fn empty_file() {
    let e = load_err("# nothing here\n\n");
    assert_eq!((e.line, e.column), (None, None));
    assert!(e.message.contains("empty"), "{e}");
}

#[test]
fn error_display_has_path_line_column() {
    let e = load_err(&format!("{HEAD}  - inject: {{flags: S, sq: 0}}\n"));
    assert_eq!(
        e.to_string(),
        "cases/t.yaml:5:24: steps[0].inject: unknown field `sq`, expected one of `flags`, `seq`, `ack`, `window`, `urgent`, `data`, `options`, `checksum`, `data_offset`, `reserved`, `src_port`, `dst_port`, `ip`"
    );
}

const TABLE: &str = r#"title: "${flags} is answered by ${reply}"
requirements: [MUST-10]
dut: {role: passive}
table:
  columns: [flags, reply, seq]
  rows:
    - {name: syn, flags: S, reply: SA, seq: 0}
    - {name: syn-fin, flags: SF, reply: SA, seq: 1}
steps:
  - call: listen
  - inject: {flags: "${flags}", seq: ${seq}}
  - expect: {flags: "${reply}", ack: 1}
"#;

#[test]
fn table_rows_are_instances() {
    let all = load(TABLE).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = all.iter().map(CaseInstance::name).collect();
    assert_eq!(names, ["t::syn", "t::syn-fin"]);
    assert_eq!(all[1].title, "SF is answered by SA");
    assert_eq!(all[1].row.as_deref(), Some("syn-fin"));
    let Step::Inject(i) = &all[1].steps[1].step else {
        panic!("inject")
    };
    assert_eq!(i.flags, TcpFlags::SYN | TcpFlags::FIN);
    assert_eq!(i.seq, Some(SeqSpec::Rel(1)));
    let lines: Vec<Option<usize>> = all[0].steps.iter().map(|s| s.line).collect();
    assert_eq!(lines, [Some(10), Some(11), Some(12)]);
}

/// Table errors: (replace this, with that) in `TABLE`.
#[rstest]
#[case::missing_column(
    "    - {name: syn-fin, flags: SF, reply: SA, seq: 1}",
    "    - {name: syn-fin, flags: SF, seq: 1}",
    8, 7, None,
    &["table row `syn-fin` gives no value for column `reply`", "every row gives every column"]
)]
#[case::extra_column(
    "    - {name: syn, flags: S, reply: SA, seq: 0}",
    "    - {name: syn, flags: S, reply: SA, seq: 0, extra: 1}",
    7, 48, None,
    &["unknown column `extra`", "`flags`, `reply`, `seq`"]
)]
#[case::duplicate_row_name(
    "    - {name: syn-fin, flags: SF, reply: SA, seq: 1}",
    "    - {name: syn, flags: SF, reply: SA, seq: 1}",
    8, 14, None,
    &["row name `syn` is used twice"]
)]
#[case::bad_row_name(
    "    - {name: syn-fin, flags: SF, reply: SA, seq: 1}",
    "    - {name: Syn_Fin, flags: SF, reply: SA, seq: 1}",
    8, 14, None,
    &["bad row name `Syn_Fin`", "`a-z`, `0-9` and `-`"]
)]
#[case::row_without_name(
    "    - {name: syn-fin, flags: SF, reply: SA, seq: 1}",
    "    - {flags: SF, reply: SA, seq: 1}",
    8, 7, None,
    &["table row without `name`"]
)]
#[case::unknown_placeholder(
    "  - expect: {flags: \"${reply}\", ack: 1}",
    "  - expect: {flags: \"${rply}\", ack: 1}",
    12, 22, None,
    &["unknown placeholder `${rply}`", "did you mean `${reply}`?"]
)]
#[case::no_rows(
    "    - {name: syn, flags: S, reply: SA, seq: 0}\n    - {name: syn-fin, flags: SF, reply: SA, seq: 1}",
    "    []",
    7, 5, None,
    &["a table needs at least one row"]
)]
#[case::column_named_name(
    "  columns: [flags, reply, seq]",
    "  columns: [flags, reply, seq, name]",
    5, 32, None,
    &["`name` cannot be a column"]
)]
#[case::error_in_a_row_names_it(
    "    - {name: syn-fin, flags: SF, reply: SA, seq: 1}",
    "    - {name: syn-fin, flags: SX, reply: SA, seq: 1}",
    11, 21, Some("syn-fin"),
    &["steps[1].inject.flags", "unknown flag letter `X` in `SX`"]
)]
#[case::error_after_a_placeholder_maps_back(
    "  - inject: {flags: \"${flags}\", seq: ${seq}}",
    "  - inject: {flags: ${flags}, seq: ${seq}, sq: 1}",
    11, 44, Some("syn"),
    &["unknown field `sq`"]
)]
#[case::value_makes_a_bad_number(
    "    - {name: syn-fin, flags: SF, reply: SA, seq: 1}",
    "    - {name: syn-fin, flags: SF, reply: SA, seq: -1}",
    11, 38, Some("syn-fin"),
    &["sequence numbers are not negative"]
)]
#[case::malformed_placeholder(
    "  - expect: {flags: \"${reply}\", ack: 1}",
    "  - expect: {flags: \"${reply\", ack: 1}",
    12, 22, None,
    &["malformed placeholder `${reply\", ack: 1}`"]
)]
#[case::unterminated_placeholder(
    "  - expect: {flags: \"${reply}\", ack: 1}",
    "  - expect:\n      flags: \"${reply\"",
    13, 15, None,
    &["unterminated placeholder"]
)]
fn table_errors(
    #[case] from: &str,
    #[case] to: &str,
    #[case] line: usize,
    #[case] column: usize,
    #[case] row: Option<&str>,
    #[case] words: &[&str],
) {
    assert!(TABLE.contains(from), "fixture drift: {from}");
    let e = load_err(&TABLE.replace(from, to));
    assert_eq!(e.row.as_deref(), row, "{e}");
    assert_error(&e, line, column, words);
    if let Some(row) = row {
        assert!(
            e.to_string().ends_with(&format!(" (table row {row})")),
            "{e}"
        );
    }
}

#[test]
fn table_prelude_gets_the_row() {
    let text = "\
title: t
requirements: [MUST-1]
dut: {role: passive}
prelude: syn-flags
table:
  columns: [flags]
  rows:
    - {name: syn, flags: S}
    - {name: bad, flags: SQ}
steps: []
";
    let e = load_err(text);
    assert_eq!(e.path, Path::new("preludes/syn-flags.yaml"));
    assert_eq!(e.row.as_deref(), Some("bad"));
    assert_error(&e, 4, 21, &["unknown flag letter `Q` in `SQ`"]);

    let ok = load(&text.replace("SQ", "SF")).unwrap_or_else(|e| panic!("{e}"));
    let Step::Inject(i) = &ok[1].steps[1].step else {
        panic!("inject")
    };
    assert_eq!(i.flags, TcpFlags::SYN | TcpFlags::FIN);
    assert_eq!(ok[1].steps[1].origin, "prelude syn-flags");
    assert_eq!(ok[1].steps[1].line, Some(4));
}

#[test]
fn step_lines_of_block_style() {
    let text = "\
title: lines
requirements: [MUST-1]
dut: {role: passive}
prelude: established-passive
steps:
  # a comment
  - call: {send: 10}

  - expect:
      flags: A
      # within is the default
      ack: 11
  - inject: {flags: FA}
tolerate: []
";
    let case = load_one(text);
    let got: Vec<(&str, Option<usize>)> = case
        .steps
        .iter()
        .map(|s| (s.origin.as_str(), s.line))
        .collect();
    let prelude = "prelude established-passive";
    assert_eq!(
        got,
        [
            (prelude, Some(3)),
            (prelude, Some(4)),
            (prelude, Some(5)),
            (prelude, Some(6)),
            (prelude, Some(7)),
            ("t", Some(7)),
            ("t", Some(9)),
            ("t", Some(13)),
        ]
    );
    // Items at column 1 are a block sequence too; flow style gives no lines.
    assert_eq!(
        step_lines("steps:\n- wait: 1s\n-   wait: 2s\ntitle: x\n"),
        [2, 3]
    );
    assert_eq!(step_lines("steps: [wait: 1s]\n"), Vec::<usize>::new());
    let flow =
        load_one("title: t\nrequirements: [MUST-1]\ndut: {role: passive}\nsteps: [{wait: 1s}]\n");
    assert_eq!(flow.steps[0].line, None);
}

#[test]
fn catalog_with_a_duplicate_id() {
    let a = (PathBuf::from("requirements/a.yaml"), CATALOG.to_owned());
    let b = (
        PathBuf::from("requirements/b.yaml"),
        "source: {rfc: 5961}\nrequirements:\n- id: MUST-10\n  level: MUST\n  section: '3'\n  topic: t\n  summary: s\n  testable_on_wire: 'no'\n".to_owned(),
    );
    let e = Catalog::from_texts(&[a.clone(), b]).unwrap_err();
    assert_eq!(e.path, Path::new("requirements/b.yaml"));
    assert_error(
        &e,
        3,
        7,
        &[
            "duplicate requirement id `MUST-10`",
            "already defined in requirements/a.yaml",
        ],
    );
    let same_file = format!(
        "{CATALOG}- {{id: SHLD-5, level: MAY, section: '1', topic: t, summary: s, testable_on_wire: 'no'}}\n"
    );
    let e = Catalog::from_texts(&[(a.0, same_file)]).unwrap_err();
    assert_error(
        &e,
        7,
        8,
        &["duplicate requirement id `SHLD-5`", "earlier in this file"],
    );
}

#[test]
fn catalog_related_ids_are_checked() {
    let text = "requirements:\n- id: RFC1-x\n  rfc: 1\n  level: MUST NOT\n  section: '3'\n  topic: t\n  summary: s\n  testable_on_wire: partly\n  related_rfc9293: [MUST-1, MUST-2]\n";
    let files = [
        (PathBuf::from("requirements/a.yaml"), CATALOG.to_owned()),
        (PathBuf::from("requirements/other.yaml"), text.to_owned()),
    ];
    let e = Catalog::from_texts(&files).unwrap_err();
    assert_error(&e, 9, 29, &["unknown requirement id `MUST-2`"]);
    let ok = Catalog::from_texts(&[
        files[0].clone(),
        (files[1].0.clone(), text.replace(", MUST-2", "")),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let r = ok.get("RFC1-x").expect("loaded");
    assert_eq!(
        (r.rfc, r.level, r.testable_on_wire),
        (1, Level::MustNot, Testability::Partly)
    );
    assert_eq!(r.related_rfc9293, ["MUST-1"]);
    assert_eq!(ok.get("MUST-10").map(|r| r.rfc), Some(9293));
}

#[test]
fn catalog_entry_without_rfc() {
    let text = "requirements:\n- id: X-1\n  level: MAY\n  section: '3'\n  topic: t\n  summary: s\n  testable_on_wire: 'no'\n";
    let e = Catalog::from_texts(&[(PathBuf::from("r.yaml"), text.to_owned())]).unwrap_err();
    assert_error(&e, 2, 7, &["requirement `X-1` has no `rfc`"]);
}

#[test]
fn real_catalog_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases/requirements");
    let catalog = Catalog::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let by_file = |name: &str| {
        catalog
            .requirements
            .values()
            .filter(|r| r.path.file_name().is_some_and(|n| n == name))
            .count()
    };
    assert_eq!(by_file("rfc9293-requirements.yaml"), 119);
    assert_eq!(by_file("other-rfcs.yaml"), 77);
    let must10 = catalog.get("MUST-10").expect("MUST-10");
    assert_eq!(
        (must10.rfc, must10.level, must10.section.as_str()),
        (9293, Level::Must, "3.5")
    );
    let rst = catalog
        .get("RFC5961-3.2-rst-exact-match-resets")
        .expect("RFC 5961 entry");
    assert_eq!(rst.rfc, 5961);
    assert_eq!(rst.related_rfc9293, ["SHLD-2"]);
}

#[test]
fn profile_with_an_unknown_requirement() {
    let text = "description: Linux\ntarget: kernel\ndeviations:\n  - case: \"rst/*\"\n    requirements: [MUST-99]\n    reason: because\n";
    let e = Profile::parse(
        "kernel",
        Path::new("profiles/kernel.yaml"),
        text,
        &catalog(),
    )
    .unwrap_err();
    assert_error(&e, 5, 20, &["unknown requirement id `MUST-99`"]);
    let e = Profile::parse(
        "kernel",
        Path::new("profiles/kernel.yaml"),
        &text.replace("MUST-99", "MUST-1").replace("because", "\"\""),
        &catalog(),
    )
    .unwrap_err();
    assert_error(&e, 6, 13, &["expected a non-empty string"]);
}

fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cases/corpus")
}

#[test]
fn corpus_loads_with_errors_per_case() {
    let corpus = load_corpus(&fixture_root()).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = corpus.cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "broken/bad-flags",
            "handshake/passive-open",
            "handshake/syn-variants"
        ]
    );
    let broken = corpus.case("broken/bad-flags").expect("listed");
    let e = broken.result.as_ref().unwrap_err();
    assert!(e.path.ends_with("broken/bad-flags.yaml"), "{e}");
    assert_error(e, 6, 21, &["unknown flag letter `Z`"]);
    let open = corpus.case("handshake/passive-open").expect("listed");
    let open = open.result.as_ref().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(open[0].steps.len(), 6);
    assert_eq!(open[0].steps[0].origin, "prelude established-passive");
    let variants = corpus.case("handshake/syn-variants").expect("listed");
    let variants = variants.result.as_ref().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(variants.len(), 2);

    let kernel = &corpus.profiles["kernel"];
    assert_eq!(kernel.target, "kernel");
    assert_eq!(
        kernel.sysctls.get("net.ipv4.tcp_timestamps"),
        Some(&SysctlValue::Int(1))
    );
    let d = kernel
        .deviation_for("handshake/syn-variants", Some("syn-fin"), IpVersion::Ipv6)
        .expect("deviation");
    assert_eq!(d.requirements, ["MUST-10"]);
    assert!(
        kernel
            .deviation_for("handshake/syn-variants", Some("syn"), IpVersion::Ipv6)
            .is_none()
    );
    assert!(
        kernel
            .deviation_for("handshake/syn-variants", Some("syn-fin"), IpVersion::Ipv4)
            .is_none()
    );
    assert_eq!(
        corpus.stale_deviation_globs(),
        [("kernel".to_owned(), "gone/*".to_owned())]
    );

    // `load_case` gives the same instances for one file.
    let path = fixture_root().join("handshake/syn-variants.yaml");
    let again = load_case(&path, &fixture_root(), &corpus.catalog, &corpus.preludes)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&again, variants);
}

#[test]
fn case_ids() {
    assert_eq!(
        case_id(
            Path::new("cases/handshake/passive-open.yaml"),
            Path::new("cases")
        ),
        "handshake/passive-open"
    );
    assert_eq!(case_id(Path::new("/tmp/x.yaml"), Path::new("cases")), "x");
}

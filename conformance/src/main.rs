//! `conformance`: run the suite, verify a capture offline, list trials.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use conformance::case;
use conformance::engine::Failure;
use conformance::suite::{self, SuiteConfig};

#[derive(Parser)]
#[command(
    name = "conformance",
    version,
    about = "TCP conformance suite: run, verify, list"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run cases against targets; writes results.json and one pcap per trial.
    Run {
        /// Case directory.
        #[arg(long, default_value_os_t = suite::workspace_root().join("cases"))]
        cases: PathBuf,
        /// Results directory.
        #[arg(long, default_value_os_t = suite::workspace_root().join("target/conformance"))]
        out: PathBuf,
        /// Target profile to run (repeatable); default: `kernel` (and every other driver's
        /// default profile this build has).
        #[arg(long = "target", value_name = "PROFILE")]
        targets: Vec<String>,
        /// Only these IP versions (`ipv4`, `ipv6` or `ipv4,ipv6`).
        #[arg(long)]
        ip: Option<String>,
        /// Run shard i of n (`2/4`), a deterministic split of the sorted trials.
        #[arg(long, value_parser = suite::parse_shard)]
        shard: Option<(usize, usize)>,
        /// libtest options: a name filter, --exact, --test-threads N, --list, --skip ...
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        libtest: Vec<String>,
    },
    /// Re-derive a trial's verdict from its capture and DUT event log.
    Verify {
        /// The case file.
        case: PathBuf,
        /// The trial's pcap.
        pcap: PathBuf,
        /// The DUT event log (default: next to the pcap, `.events.jsonl`).
        #[arg(long)]
        events: Option<PathBuf>,
        /// Case directory (for the catalog and preludes).
        #[arg(long, default_value_os_t = suite::workspace_root().join("cases"))]
        cases: PathBuf,
    },
    /// List every trial, and every case that fails to load.
    List {
        /// Case directory.
        #[arg(long, default_value_os_t = suite::workspace_root().join("cases"))]
        cases: PathBuf,
        /// Target profile (repeatable).
        #[arg(long = "target", value_name = "PROFILE")]
        targets: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            cases,
            out,
            targets,
            ip,
            shard,
            libtest,
        } => {
            let ips = match ip.as_deref().map(suite::parse_ips).transpose() {
                Ok(ips) => ips,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let cfg = SuiteConfig {
                cases_dir: cases,
                out_dir: out,
                targets: (!targets.is_empty()).then_some(targets),
                ips,
                shard,
            };
            let args = match libtest_mimic::Arguments::try_parse_from(
                std::iter::once("conformance run".to_owned()).chain(libtest),
            ) {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            suite::run(&cfg, &args)
        }
        Command::Verify {
            case,
            pcap,
            events,
            cases,
        } => verify(&case, &pcap, events.as_deref(), &cases),
        Command::List { cases, targets } => {
            let cfg = SuiteConfig {
                cases_dir: cases,
                out_dir: PathBuf::new(),
                targets: (!targets.is_empty()).then_some(targets),
                ips: None,
                shard: None,
            };
            list(&cfg)
        }
    }
}

fn list(cfg: &SuiteConfig) -> ExitCode {
    let corpus = match case::load_corpus(&cfg.cases_dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut bad = 0;
    for entry in &corpus.cases {
        if let Err(e) = &entry.result {
            eprintln!("error: {e}");
            bad += 1;
        }
    }
    match suite::specs(&corpus, cfg) {
        Ok(specs) => {
            for s in &specs {
                println!("{}", s.name());
            }
            eprintln!(
                "{} trials from {} cases; {bad} case(s) failed to load",
                specs.len(),
                corpus.cases.len()
            );
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    if bad > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn verify(
    case_path: &std::path::Path,
    pcap: &std::path::Path,
    events: Option<&std::path::Path>,
    cases_dir: &std::path::Path,
) -> ExitCode {
    let corpus = match case::load_corpus(cases_dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let instances = match case::load_case(case_path, cases_dir, &corpus.catalog, &corpus.preludes) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let events_path = events
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| conformance::events::path_for(pcap));
    // Which row: the one the log names.
    let trial_name = match conformance::events::read(&events_path)
        .and_then(|ev| conformance::verify::params_of(&ev))
    {
        Ok(p) => p.trial,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(inst) = instances
        .iter()
        .find(|i| trial_name.starts_with(&format!("{}::", i.name())))
    else {
        eprintln!(
            "error: the event log belongs to trial `{trial_name}`, which is not an instance of {}",
            case_path.display()
        );
        return ExitCode::from(2);
    };
    let v = match conformance::verify::verify_files(inst, pcap, Some(&events_path)) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "trial {trial_name}: {} steps verified",
        v.engine.steps.len()
    );
    if let Some(end) = v.logged_end
        && end != v.engine.end
    {
        println!(
            "note: the live run logged the end of its judged window at {end}, the replay \
                 at {}: the live and offline verdicts disagree (a harness error)",
            v.engine.end
        );
    }
    for viol in &v.violations {
        println!(
            "invariant `{}` broken at frame {}: {}",
            viol.rule, viol.frame, viol.message
        );
    }
    match &v.engine.failure {
        None if v.violations.is_empty() => {
            println!("verdict: pass");
            ExitCode::SUCCESS
        }
        None => {
            println!("verdict: fail");
            ExitCode::from(1)
        }
        Some(f @ Failure::Dut { .. }) => {
            println!("verdict: fail\n{f}");
            ExitCode::from(1)
        }
        Some(f) => {
            println!("verdict: error\n{f}");
            ExitCode::from(2)
        }
    }
}

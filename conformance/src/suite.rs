//! The suite: cases x rows x targets x IP versions as libtest-mimic trials, and `results.json`.
//!
//! Used by both the `cases` test binary (`cargo test -p conformance -- handshake`) and the
//! `conformance run` command, so the two behave the same.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use libtest_mimic::{Arguments, Completion, Failed, Trial};

use crate::case::{self, Corpus, IpVersion, Profile};
use crate::results::{Outcome, Results, RunInfo, TargetInfo, TrialRecord, rfc3339_now};
use crate::trial::{self, TrialSpec};

/// Target drivers this build can run.
pub const DRIVERS: &[&str] = &["kernel", "reference"];

/// What to run and where to write.
#[derive(Debug, Clone)]
pub struct SuiteConfig {
    /// The case corpus.
    pub cases_dir: PathBuf,
    /// Results directory (`results.json`, `trials/**.pcap`).
    pub out_dir: PathBuf,
    /// Target profiles to run; `None`: the default profile of every available driver
    /// (the profile named like the driver).
    pub targets: Option<Vec<String>>,
    /// IP versions to run; `None`: what each case lists.
    pub ips: Option<Vec<IpVersion>>,
    /// Run only shard `i` of `n` (1-based), a deterministic split of the sorted trial list.
    pub shard: Option<(usize, usize)>,
}

/// The workspace root (the directory above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

impl SuiteConfig {
    /// Defaults, overridden by `TCPC_CASES`, `TCPC_OUT`, `TCPC_TARGETS` (comma-separated),
    /// `TCPC_IP` (`ipv4`/`ipv6`) and `TCPC_SHARD` (`i/n`).
    pub fn from_env() -> Result<Self, String> {
        let root = workspace_root();
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Ok(Self {
            cases_dir: env("TCPC_CASES").map_or_else(|| root.join("cases"), PathBuf::from),
            out_dir: env("TCPC_OUT").map_or_else(|| root.join("target/conformance"), PathBuf::from),
            targets: env("TCPC_TARGETS")
                .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect()),
            ips: env("TCPC_IP").map(|v| parse_ips(&v)).transpose()?,
            shard: env("TCPC_SHARD").map(|v| parse_shard(&v)).transpose()?,
        })
    }
}

/// Parses `ipv4`, `ipv6` or `ipv4,ipv6`.
pub fn parse_ips(v: &str) -> Result<Vec<IpVersion>, String> {
    v.split(',')
        .map(|s| match s.trim() {
            "ipv4" | "4" => Ok(IpVersion::Ipv4),
            "ipv6" | "6" => Ok(IpVersion::Ipv6),
            other => Err(format!(
                "unknown IP version `{other}`, expected ipv4 or ipv6"
            )),
        })
        .collect()
}

/// Parses `i/n` with 1 <= i <= n.
pub fn parse_shard(v: &str) -> Result<(usize, usize), String> {
    let err = || format!("bad shard `{v}`, expected i/n with 1 <= i <= n");
    let (i, n) = v.split_once('/').ok_or_else(err)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| err())?,
        n.trim().parse().map_err(|_| err())?,
    );
    if i == 0 || n == 0 || i > n {
        return Err(err());
    }
    Ok((i, n))
}

/// The selected profiles, or an error naming unknown ones.
fn select_profiles(
    corpus: &Corpus,
    cfg: &SuiteConfig,
) -> Result<Vec<(String, Arc<Profile>)>, String> {
    let names: Vec<String> = match &cfg.targets {
        Some(t) => t.clone(),
        None => DRIVERS
            .iter()
            .filter(|d| corpus.profiles.contains_key(**d))
            .map(|d| (*d).to_owned())
            .collect(),
    };
    let mut out = Vec::new();
    for n in names {
        let Some(p) = corpus.profiles.get(&n) else {
            return Err(format!(
                "unknown target profile `{n}`; the profiles are: {}",
                corpus
                    .profiles
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        out.push((n, Arc::new(p.clone())));
    }
    if out.is_empty() {
        return Err(format!(
            "no target profile to run: {} has none named after a driver ({})",
            cfg.cases_dir.join("profiles").display(),
            DRIVERS.join(", ")
        ));
    }
    Ok(out)
}

/// All trials of the corpus for the selected targets, sorted by name, sharded.
pub fn specs(corpus: &Corpus, cfg: &SuiteConfig) -> Result<Vec<TrialSpec>, String> {
    let profiles = select_profiles(corpus, cfg)?;
    let mut specs = Vec::new();
    for entry in &corpus.cases {
        let Ok(instances) = &entry.result else {
            continue;
        };
        for inst in instances {
            let inst = Arc::new(inst.clone());
            for (name, profile) in &profiles {
                for ip in &inst.ip {
                    if cfg.ips.as_ref().is_some_and(|v| !v.contains(ip)) {
                        continue;
                    }
                    specs.push(TrialSpec {
                        inst: inst.clone(),
                        profile_name: name.clone(),
                        profile: profile.clone(),
                        ip: *ip,
                        out_dir: cfg.out_dir.clone(),
                        cases_dir: cfg.cases_dir.clone(),
                    });
                }
            }
        }
    }
    specs.sort_by_key(TrialSpec::name);
    if let Some((i, n)) = cfg.shard {
        specs = specs
            .into_iter()
            .enumerate()
            .filter(|(k, _)| k % n == i - 1)
            .map(|(_, s)| s)
            .collect();
    }
    Ok(specs)
}

fn libtest_result(r: &TrialRecord) -> Result<Completion, Failed> {
    match r.outcome {
        Outcome::Pass => match &r.deviation {
            Some(d) if d.stale => Err(format!(
                "passes, but its profile lists it as a deviation ({}): remove the stale entry",
                d.reason
            )
            .into()),
            _ => Ok(Completion::Completed),
        },
        Outcome::Fail => Err(r.reason.clone().unwrap_or_else(|| "failed".into()).into()),
        Outcome::ExpectedDeviation => Ok(Completion::ignored_with(format!(
            "expected deviation ({}): {}",
            r.deviation
                .as_ref()
                .map(|d| d.requirements.join(", "))
                .unwrap_or_default(),
            r.deviation
                .as_ref()
                .map(|d| d.reason.as_str())
                .unwrap_or("")
        ))),
        Outcome::Skipped => Ok(Completion::ignored_with(
            r.reason.clone().unwrap_or_else(|| "skipped".into()),
        )),
        Outcome::Error => Err(r
            .reason
            .clone()
            .unwrap_or_else(|| "harness error".into())
            .into()),
    }
}

/// Runs the suite with libtest-mimic arguments; writes `results.json` unless only listing.
pub fn run(cfg: &SuiteConfig, args: &Arguments) -> ExitCode {
    if !args.list
        && let Err(e) = harness::privilege::ensure()
    {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let corpus = match case::load_corpus(&cfg.cases_dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let specs = match specs(&corpus, cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let records: Arc<Mutex<Vec<TrialRecord>>> = Arc::default();
    let mut trials = Vec::new();
    let mut load_errors = Vec::new();
    for entry in &corpus.cases {
        if let Err(e) = &entry.result {
            let msg = e.to_string();
            load_errors.push((entry.id.clone(), msg.clone()));
            trials.push(Trial::test(entry.id.clone(), move || Err(msg.into())));
        }
    }
    let profiles: Vec<TargetInfo> = {
        let mut seen: Vec<TargetInfo> = Vec::new();
        for s in &specs {
            if !seen.iter().any(|t| t.name == s.profile_name) {
                seen.push(TargetInfo {
                    name: s.profile_name.clone(),
                    driver: s.profile.target.clone(),
                    description: s.profile.description.clone(),
                    sysctls: s.profile.sysctl_pairs(),
                });
            }
        }
        seen
    };
    for spec in specs {
        let records = records.clone();
        let name = spec.name();
        let kind = spec.profile_name.clone();
        trials.push(
            Trial::ignorable_test(name, move || {
                let record = trial::run(&spec);
                let r = libtest_result(&record);
                records
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(record);
                r
            })
            .with_kind(kind),
        );
    }
    let started = rfc3339_now();
    let conclusion = libtest_mimic::run(args, trials);
    if args.list {
        return conclusion.exit_code();
    }
    let mut trials = std::mem::take(&mut *records.lock().unwrap_or_else(|p| p.into_inner()));
    trials.sort_by(|a, b| a.name.cmp(&b.name));
    let results = Results {
        run: RunInfo {
            suite: format!("tcp-conformance {}", env!("CARGO_PKG_VERSION")),
            schema: crate::results::SCHEMA_VERSION,
            started,
            finished: rfc3339_now(),
            kernel: uname(),
            host: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|s| s.trim().to_owned())
                .unwrap_or_default(),
            targets: profiles,
            cases_dir: cfg.cases_dir.display().to_string(),
            shard: cfg.shard.map(|(i, n)| format!("{i}/{n}")),
            load_errors,
        },
        trials,
    };
    let path = cfg.out_dir.join("results.json");
    match results.write(&path) {
        Ok(()) => {
            let counts = results
                .counts()
                .iter()
                .map(|(o, n)| format!("{n} {o}"))
                .collect::<Vec<_>>()
                .join(", ");
            println!("results: {} ({counts})", path.display());
        }
        Err(e) => {
            eprintln!("error: writing results: {e}");
            return ExitCode::from(2);
        }
    }
    conclusion.exit_code()
}

fn uname() -> String {
    let u = nix::sys::utsname::uname();
    match u {
        Ok(u) => format!(
            "{} {}",
            u.sysname().to_string_lossy(),
            u.release().to_string_lossy()
        ),
        Err(_) => "unknown".into(),
    }
}

//! One trial, end to end: topology, target, live run, offline re-verification, verdict.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rand::RngExt as _;

use crate::case::{CaseInstance, IpVersion, Profile};
use crate::engine::{self, Ctx, Detail, EngineResult, Failure, TrialParams};
use crate::events::{Event, EventLog};
use crate::io::LiveIo;
use crate::results::{DeviationNote, Outcome, TrialRecord};
use crate::verify;
use harness::target::{KernelTarget, ReferenceConfig, ReferenceTarget, Target};
use harness::topology::{self, PairConfig, Topology};
use harness::{Tester, Timestamp};

/// Everything one trial needs.
#[derive(Debug, Clone)]
pub struct TrialSpec {
    /// The case instance (one table row).
    pub inst: Arc<CaseInstance>,
    /// The target profile's name.
    pub profile_name: String,
    /// The target profile.
    pub profile: Arc<Profile>,
    /// IP version.
    pub ip: IpVersion,
    /// Results directory (pcaps and logs go under `trials/`).
    pub out_dir: PathBuf,
    /// The case directory (paths in results are relative to it).
    pub cases_dir: PathBuf,
}

impl TrialSpec {
    /// `case::row::target::ip`: the test's name.
    pub fn name(&self) -> String {
        format!("{}::{}::{}", self.inst.name(), self.profile_name, self.ip)
    }

    /// Path of the capture, relative to the results directory.
    pub fn pcap_rel(&self) -> String {
        let mut p = format!("trials/{}", self.inst.case_id);
        if let Some(row) = &self.inst.row {
            p.push('/');
            p.push_str(row);
        }
        format!("{p}/{}-{}.pcap", self.profile_name, self.ip)
    }
}

/// A failure of the harness before or around the live run.
struct HarnessFailure(String);

impl<E: std::fmt::Display> From<E> for HarnessFailure {
    fn from(e: E) -> Self {
        Self(e.to_string())
    }
}

/// Runs one trial and returns its record. Never panics on DUT behaviour; harness trouble
/// becomes an `error` outcome.
pub fn run(spec: &TrialSpec) -> TrialRecord {
    let started = Timestamp::now();
    let clock = Instant::now();
    let pcap_rel = spec.pcap_rel();
    let pcap_path = spec.out_dir.join(&pcap_rel);
    let events_path = crate::events::path_for(&pcap_path);
    let events_rel = crate::events::path_for(Path::new(&pcap_rel))
        .display()
        .to_string();

    let mut record = TrialRecord {
        name: spec.name(),
        case: spec.inst.case_id.clone(),
        row: spec.inst.row.clone(),
        title: spec.inst.title.clone(),
        target: spec.profile_name.clone(),
        driver: spec.profile.target.clone(),
        ip: spec.ip.to_string(),
        outcome: Outcome::Error,
        reason: None,
        failed_step: None,
        failed_frame_ts: None,
        detail: None,
        requirements: spec.inst.requirements.clone(),
        deviation: None,
        violations: Vec::new(),
        steps: Vec::new(),
        started_ns: started.0,
        duration_ms: 0.0,
        pcap: None,
        events: None,
        case_file: spec
            .inst
            .path
            .strip_prefix(&spec.cases_dir)
            .unwrap_or(&spec.inst.path)
            .display()
            .to_string(),
    };

    let live = match live_run(spec, &pcap_path, &events_path) {
        Ok(live) => live,
        Err(HarnessFailure(msg)) => {
            record.reason = Some(format!("harness error: {msg}"));
            if pcap_path.exists() {
                record.pcap = Some(pcap_rel);
            }
            record.duration_ms = clock.elapsed().as_secs_f64() * 1e3;
            return record;
        }
    };
    record.pcap = Some(pcap_rel);
    record.events = Some(events_rel);
    if let Some(f @ Failure::Harness { step, .. }) = &live.failure {
        record.failed_step = *step;
        record.reason = Some(f.to_string());
        record.steps = live.steps.clone();
        record.duration_ms = clock.elapsed().as_secs_f64() * 1e3;
        return record;
    }

    // The verdict comes from the files; the live run must agree with it.
    let offline = match verify::verify_files(&spec.inst, &pcap_path, Some(&events_path)) {
        Ok(v) => v,
        Err(msg) => {
            record.reason = Some(format!("harness error: offline verification failed: {msg}"));
            record.duration_ms = clock.elapsed().as_secs_f64() * 1e3;
            return record;
        }
    };
    record.steps = offline.engine.steps.clone();
    record.violations = offline.violations.clone();
    record.duration_ms = clock.elapsed().as_secs_f64() * 1e3;

    if offline.engine != live {
        record.reason = Some(format!(
            "harness error: the verdict re-derived from the capture disagrees with the live run\n  \
             live:    {}\n  offline: {}",
            describe(&live),
            describe(&offline.engine)
        ));
        return record;
    }

    let (outcome, reason) = match (&offline.engine.failure, offline.violations.first()) {
        (None, None) => (Outcome::Pass, None),
        (
            Some(
                f @ Failure::Dut {
                    step,
                    frame_ts,
                    detail,
                    ..
                },
            ),
            _,
        ) => {
            record.failed_step = *step;
            record.failed_frame_ts = frame_ts.map(|t| t.0);
            record.detail = Some(Detail::clone(detail));
            (Outcome::Fail, Some(f.to_string()))
        }
        (None, Some(v)) => {
            record.failed_frame_ts = Some(v.frame_ts.0);
            record.detail = Some(Detail {
                fields: Vec::new(),
                expected: Some(format!("invariant `{}`", v.rule)),
                observed: Some(v.message.clone()),
            });
            (
                Outcome::Fail,
                Some(format!(
                    "invariant `{}`{} broken at frame {}: {}",
                    v.rule,
                    v.requirement
                        .as_ref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default(),
                    v.frame,
                    v.message
                )),
            )
        }
        (
            Some(
                f @ (Failure::Case { step, .. }
                | Failure::Harness {
                    step: Some(step), ..
                }),
            ),
            _,
        ) => {
            record.failed_step = Some(*step);
            (Outcome::Error, Some(f.to_string()))
        }
        (Some(f), _) => (Outcome::Error, Some(f.to_string())),
    };
    record.outcome = outcome;
    record.reason = reason;

    if let Some(dev) =
        spec.profile
            .deviation_for(&spec.inst.case_id, spec.inst.row.as_deref(), spec.ip)
    {
        let stale = record.outcome == Outcome::Pass;
        if record.outcome == Outcome::Fail {
            record.outcome = Outcome::ExpectedDeviation;
        }
        record.deviation = Some(DeviationNote {
            requirements: dev.requirements.clone(),
            reason: dev.reason.clone(),
            stale,
        });
    }
    record
}

fn describe(r: &EngineResult) -> String {
    match &r.failure {
        None => format!("pass ({} steps, end {})", r.steps.len(), r.end),
        Some(f) => format!("{f} (after {} steps, end {})", r.steps.len(), r.end),
    }
}

/// Sets up, runs the steps live, and tears down; the capture and log end up on disk.
fn live_run(
    spec: &TrialSpec,
    pcap_path: &Path,
    events_path: &Path,
) -> Result<EngineResult, HarnessFailure> {
    let inst = &spec.inst;
    let v6 = spec.ip == IpVersion::Ipv6;
    let driver = spec.profile.target.as_str();
    let config = PairConfig {
        kernel_addresses: driver == "kernel",
        sysctls: spec.profile.sysctl_pairs(),
    };
    let topo = Topology::pair(&config)?;
    let mut rng = rand::rng();
    let mut target: Box<dyn Target> = match driver {
        "kernel" => Box::new(KernelTarget::new(&topo.dut)?),
        "reference" => {
            let tester = topo.tester_link.mac;
            let config = ReferenceConfig {
                ifindex: topo.dut_link.index,
                mac: topo.dut_link.mac,
                addresses: vec![Topology::dut_addr(false), Topology::dut_addr(true)],
                neighbours: vec![
                    (Topology::tester_addr(false), tester),
                    (Topology::tester_addr(true), tester),
                ],
                stack: reference_stack::tcp::Config {
                    local_addrs: vec![Topology::dut_addr(false), Topology::dut_addr(true)],
                    // RFC 6528: a secret per boot; here, per trial.
                    isn_secret: rng.random(),
                    ..reference_stack::tcp::Config::default()
                },
            };
            Box::new(ReferenceTarget::start(&topo.dut, config)?)
        }
        other => {
            return Err(HarnessFailure(format!(
                "profile `{}` names the target driver `{other}`, which this build does not have",
                spec.profile_name
            )));
        }
    };
    let mut tester = Tester::open(&topo.tester, topo.tester_link.index, pcap_path)?;
    let mut log = EventLog::create(events_path)?;

    let params = TrialParams {
        trial: spec.name(),
        v6,
        tester_mac: topo.tester_link.mac.0,
        dut_mac: topo.dut_link.mac.0,
        tester_ip: Topology::tester_addr(v6),
        dut_ip: Topology::dut_addr(v6),
        tester_port: inst
            .tester
            .port
            .unwrap_or_else(|| rng.random_range(40_000..=59_999)),
        dut_port: inst.dut.port,
        tester_isn: inst.tester.isn.unwrap_or_else(|| rng.random()),
        ip_ident: rng.random(),
        start: Timestamp::now(),
    };
    debug_assert_eq!(params.tester_mac, topology::TESTER_MAC.0);
    log.write(&Event::Params(params.clone()))?;
    let mut ctx = Ctx::new(params);
    let result = {
        let mut io = LiveIo {
            tester: &mut tester,
            target: target.as_mut(),
            log: &mut log,
        };
        engine::run(inst, &mut ctx, &mut io)
    };
    log.write(&Event::End { ts: result.end })?;
    log.finish()?;
    tester.finish()?;
    drop(target);
    drop(topo);
    Ok(result)
}

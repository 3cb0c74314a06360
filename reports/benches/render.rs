//! Render benchmark: renders a run of N trials several times and prints trials per second.
//!
//! `cargo bench -p reports --bench render [-- N]` renders a synthetic run of N trials (default
//! 1000; one in ten failing; real pcap files and event logs, made by `reports::synthetic`)
//! against the workspace's `cases/`. With `REPORT_BENCH_RESULTS=path/to/results.json` it renders
//! that run instead. Nothing is asserted: the figure is for people, tests never time anything.

use std::path::PathBuf;
use std::time::Instant;

use conformance::suite::workspace_root;

const ROUNDS: usize = 5;

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let cases = workspace_root().join("cases");
    let scratch = std::env::temp_dir().join(format!("tcpc-render-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let results: PathBuf = match std::env::var_os("REPORT_BENCH_RESULTS") {
        Some(p) => PathBuf::from(p),
        None => {
            let t = Instant::now();
            let path = reports::synthetic::write_run(&scratch.join("run"), n, 10)
                .unwrap_or_else(|e| panic!("writing the synthetic run: {e}"));
            println!(
                "synthetic run of {n} trials written in {:.0} ms",
                t.elapsed().as_secs_f64() * 1e3
            );
            path
        }
    };
    let out = scratch.join("report");
    // Once to warm the page cache and the allocator.
    let summary = reports::render(&results, &cases, &out).unwrap_or_else(|e| panic!("{e}"));
    let trials = summary.trials;
    let mut best = f64::MAX;
    let mut total = 0.0;
    for round in 1..=ROUNDS {
        let t = Instant::now();
        reports::render(&results, &cases, &out).unwrap_or_else(|e| panic!("{e}"));
        let s = t.elapsed().as_secs_f64();
        best = best.min(s);
        total += s;
        println!(
            "round {round}: {trials} trials, {} case pages in {:.1} ms",
            summary.case_pages,
            s * 1e3
        );
    }
    let mean = total / ROUNDS as f64;
    println!(
        "render: {trials} trials, mean {:.1} ms ({:.0} trials/s, {:.1} ms per 100 trials), best {:.1} ms",
        mean * 1e3,
        trials as f64 / mean,
        mean * 1e3 * 100.0 / trials.max(1) as f64,
        best * 1e3
    );
    let _ = std::fs::remove_dir_all(&scratch);
}

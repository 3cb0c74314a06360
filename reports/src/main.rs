//! `report`: renders a run's `results.json` into the static HTML report and `junit.xml`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use conformance::suite::workspace_root;

#[derive(Parser)]
#[command(
    name = "report",
    version,
    about = "Render a tcp-conformance run into a static, self-contained HTML report (and junit.xml next to results.json)"
)]
struct Cli {
    /// The run's results file.
    #[arg(default_value_os_t = workspace_root().join("target/conformance/results.json"))]
    results: PathBuf,
    /// Case directory (requirement catalog, profiles, case files).
    #[arg(long, default_value_os_t = workspace_root().join("cases"))]
    cases: PathBuf,
    /// Output directory.
    #[arg(long, default_value_os_t = workspace_root().join("target/conformance/report"))]
    out: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match reports::render(&cli.results, &cli.cases, &cli.out) {
        Ok(summary) => {
            for p in &summary.problems {
                eprintln!("warning: {p}");
            }
            eprintln!(
                "report: {} trials, {} case pages; junit: {}",
                summary.trials,
                summary.case_pages,
                summary.junit.display()
            );
            println!("{}", summary.index.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            if let reports::ReportError::ResultsUnreadable { source, .. } = &e
                && source.kind() == std::io::ErrorKind::NotFound
            {
                eprintln!("hint: run the suite first (`just conformance`), or name a results.json");
            }
            ExitCode::from(2)
        }
    }
}

//! Opens a page of a rendered report in headless Chromium, saves a PNG of it and lists console
//! errors and external requests: a quick look at a report without a desktop.
//!
//! `cargo run -p reports --example screenshot -- PAGE.html OUT.png [MAX_HEIGHT [JS]]` (the
//! JavaScript runs before the screenshot, e.g. to open every `<details>`).

#[path = "../tests/cdp/mod.rs"]
mod cdp;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(page), Some(out)) = (args.first(), args.get(1)) else {
        eprintln!("usage: screenshot PAGE.html OUT.png [MAX_HEIGHT [JS]]");
        return ExitCode::from(2);
    };
    let max_height: f64 = args.get(2).and_then(|h| h.parse().ok()).unwrap_or(2000.0);
    let page = std::fs::canonicalize(page).unwrap_or_else(|_| PathBuf::from(page));
    let run = || -> Result<(), String> {
        let mut b = cdp::Browser::launch()?;
        b.navigate(&format!("file://{}", page.display()))?;
        if let Some(js) = args.get(3) {
            println!("{}", b.eval(js)?);
        }
        b.screenshot(std::path::Path::new(out), max_height)?;
        for e in b.errors() {
            println!("console error: {e}");
        }
        for r in b.external_requests() {
            println!("external request: {r}");
        }
        Ok(())
    };
    match run() {
        Ok(()) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

//! The case corpus as a test binary: one libtest trial per (case, row, target, IP version).
//!
//! `cargo test -p conformance --test cases -- handshake` runs the trials whose name contains
//! `handshake`. Environment: `TCPC_TARGETS=kernel,reference`, `TCPC_IP=ipv6`, `TCPC_SHARD=1/4`,
//! `TCPC_CASES=dir`, `TCPC_OUT=dir` (default `target/conformance`).

use std::process::ExitCode;

fn main() -> ExitCode {
    // Privileges first, while the process is single-threaded (a rootless run enters a user
    // namespace, which the kernel only allows then). `suite::run` does it before anything else.
    let args = libtest_mimic::Arguments::from_args();
    match conformance::suite::SuiteConfig::from_env() {
        Ok(cfg) => conformance::suite::run(&cfg, &args),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

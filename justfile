# tcp-conformance: `just` lists the recipes.

# Where a run writes results.json, one pcap + DUT event log per trial, and the report.
out := "target/conformance"

# List the recipes.
default:
    @just --list

# Run every case against the default targets on IPv4 and IPv6 (args go to `conformance run`,
# e.g. `just conformance handshake`, `just conformance --target kernel --ip ipv6`).
conformance *ARGS:
    cargo run -p conformance -- run --out {{out}} {{ARGS}}

# The test suite: unit tests, harness and CLI tests, tshark cross-checks, the case corpus.
test *ARGS:
    cargo test --workspace {{ARGS}}

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings

# List every trial (and every case file that fails to load) without running anything.
list *ARGS:
    cargo run -p conformance -- list {{ARGS}}

# Re-derive one trial's verdict from its capture: `just verify cases/x.yaml target/conformance/trials/x/kernel-ipv4.pcap`.
verify CASE PCAP:
    cargo run -p conformance -- verify {{CASE}} {{PCAP}}

# Remove build output and run results.
clean:
    cargo clean
    rm -rf {{out}}

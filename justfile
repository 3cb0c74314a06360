# tcp-conformance: `just` lists the recipes.

# Where a run writes results.json, one pcap + DUT event log per trial, and the report.
out := "target/conformance"

# List the recipes.
default:
    @just --list

# Run every case against the default targets on IPv4 and IPv6, then write the HTML report
# (args go to `conformance run`: `just conformance handshake`, `just conformance --ip ipv6`).
# The report is written even when trials fail; the recipe then fails with the run's status.
conformance *ARGS:
    status=0; cargo run -p conformance -- run --out {{out}} {{ARGS}} || status=$?; \
    cargo run -q -p reports -- {{out}}/results.json --out {{out}}/report && exit $status

# Render the HTML report and junit.xml of the last run; prints the index's path.
report *ARGS:
    cargo run -q -p reports -- {{out}}/results.json --out {{out}}/report {{ARGS}}

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

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

# Benchmarks: the reference stack against smoltcp in memory (args: MiB per round), Linux <->
# reference stack over the veth, and report rendering.
bench MIB="256":
    cargo bench -p reference-stack --bench throughput -- {{MIB}}
    cargo bench -p harness --bench veth
    cargo bench -p reports --bench render

# Fuzz the wire codec or segment processing on live connections (`just fuzz segments 600`).
# Needs cargo-fuzz (installed if missing); runs on stable Rust, without sanitizers.
fuzz TARGET="segments" SECONDS="60":
    command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
    cd fuzz && cargo fuzz run {{TARGET}} --sanitizer none -- -max_total_time={{SECONDS}} -rss_limit_mb=2048

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

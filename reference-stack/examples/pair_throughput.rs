//! Bulk transfer between two reference stacks over the in-memory wire (no loss), reporting the
//! CPU throughput: `cargo run --release -p reference-stack --features testing --example
//! pair_throughput -- [megabytes]`.

#[cfg(not(feature = "testing"))]
fn main() {
    eprintln!("run with --features testing");
}

#[cfg(feature = "testing")]
fn main() {
    use std::time::Instant as WallClock;

    use reference_stack::testing::{Faults, Pair};
    use reference_stack::time::Duration;

    let megabytes: usize = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(200);
    let mut pair = Pair::new(false, 1, Faults::default());
    pair.latency = Duration::from_micros(50);
    let (a, b) = pair.connect();
    let data: Vec<u8> = (0..megabytes * 1024 * 1024).map(|i| i as u8).collect();
    let start = WallClock::now();
    let received = pair.transfer(a, b, &data, u64::MAX);
    let elapsed = start.elapsed();
    assert!(received == data);
    let mb = data.len() as f64 / 1e6;
    println!(
        "{mb:.0} MB in {:.3} s wall ({:.0} MB/s), {} virtual, {:?}",
        elapsed.as_secs_f64(),
        mb / elapsed.as_secs_f64(),
        pair.time,
        pair.stats
    );
}

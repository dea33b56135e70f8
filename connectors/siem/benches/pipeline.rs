//! The shared bench file (10,000 NDJSON lines: GuardDuty EventBridge findings and Okta System
//! Log events) held in memory, then split into lines → parsed and normalized → correlated
//! (`Correlator::new(24 * 3600)`, every alert added), in records/s. `fast` is the dispatcher as
//! shipped, `value` every record through `serde_json::Value`. Tearing the correlator down after
//! each run (freeing 10,000 alerts) is left out of the timing, as a running service keeps it;
//! `with_teardown` times it too. Peak memory: the `pipeline_rss` example.
//!
//! `cargo bench -p cordon-siem --bench pipeline`

use cordon_core::correlate::Correlator;
use cordon_siem::Parsed;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

const BENCH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/bench/mixed-guardduty-okta-10k.ndjson"
);

/// Parses and correlates every line.
fn run(data: &[u8], parse: fn(&[u8]) -> Vec<Parsed>) -> Correlator {
    let mut correlator = Correlator::new(24 * 3600);
    for line in data.split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        for parsed in parse(line) {
            if let Ok(alerts) = parsed.result {
                for alert in alerts {
                    correlator.add(alert);
                }
            }
        }
    }
    correlator
}

fn bench(c: &mut Criterion) {
    let data = std::fs::read(BENCH).unwrap_or_else(|e| panic!("{BENCH}: {e}"));
    let records = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    assert_eq!(records, 10_000);
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(4));
    g.throughput(Throughput::Elements(records as u64));
    assert_eq!(run(&data, cordon_siem::parse_bytes).incident_count(), 200);
    g.bench_function("mixed-guardduty-okta-10k/fast", |b| {
        b.iter_with_large_drop(|| run(black_box(&data), cordon_siem::parse_bytes))
    });
    g.bench_function("mixed-guardduty-okta-10k/fast_with_teardown", |b| {
        b.iter(|| run(black_box(&data), cordon_siem::parse_bytes).incident_count())
    });
    g.bench_function("mixed-guardduty-okta-10k/value", |b| {
        b.iter_with_large_drop(|| run(black_box(&data), cordon_siem::parse_bytes_via_value))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

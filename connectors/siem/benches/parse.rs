//! Parse-and-normalize throughput per source format, from raw bytes, in alerts/s: the dispatcher
//! as shipped (`fast`: the typed fast path where it applies) and every record through
//! `serde_json::Value` (`value`), on representative payloads from the shared corpus, the test
//! fixtures and the examples.
//!
//! `cargo bench -p cordon-siem --bench parse`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::path::Path;

const SIEM: &str = env!("CARGO_MANIFEST_DIR");

fn read(rel: &str) -> Vec<u8> {
    let path = Path::new(SIEM).join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (name, payload) for each format.
fn payloads() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "guardduty_eventbridge",
            read("../../../shared/corpus/guardduty/custodian_iam-duty-event.json"),
        ),
        (
            "guardduty_bare",
            read("tests/fixtures/guardduty_iam_user_key.json"),
        ),
        (
            "securityhub_imported",
            read("tests/fixtures/securityhub_imported_guardduty.json"),
        ),
        (
            "graph_alert_v2",
            read("tests/fixtures/graph_alert_v2_roles.json"),
        ),
        (
            "sentinel_incident_trigger",
            read("tests/fixtures/sentinel_trigger_incident.json"),
        ),
        (
            "sentinel_securityalert_row",
            read("../../../shared/corpus/sentinel/stixshifter_securityalert-row-asc-sample-cryptomining.json"),
        ),
        (
            "sentinel_securityalert_row_typical",
            read("tests/fixtures/sentinel_securityalert_row_scheduled.json"),
        ),
        (
            "okta_system_log",
            read("../../examples/alerts/02-okta-session-roaming.json"),
        ),
        (
            "okta_event_hook",
            read("../../../shared/corpus/okta/oktadocs_event-hook-delivery-user.session.start.json"),
        ),
    ]
}

fn alerts(parsed: &[cordon_siem::Parsed]) -> usize {
    parsed
        .iter()
        .map(|p| p.result.as_ref().map_or(0, Vec::len))
        .sum()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    for (name, bytes) in payloads() {
        let n = alerts(&cordon_siem::parse_bytes(&bytes));
        assert!(n > 0, "{name}: no alerts");
        assert_eq!(
            cordon_siem::parse_bytes(&bytes),
            cordon_siem::parse_bytes_via_value(&bytes),
            "{name}: the two paths differ"
        );
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("{name}/fast"), |b| {
            b.iter(|| cordon_siem::parse_bytes(black_box(&bytes)))
        });
        g.bench_function(format!("{name}/value"), |b| {
            b.iter(|| cordon_siem::parse_bytes_via_value(black_box(&bytes)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

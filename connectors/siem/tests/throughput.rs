//! Throughput check (run in release: `cargo test -p cordon-siem --release --test throughput --
//! --ignored --nocapture`). Target: ≥ 100,000 alerts/s per core for typical Sentinel and
//! GuardDuty payloads.

mod common;
use common::*;
use std::time::Instant;

fn measure(name: &str, bytes: &[u8]) -> (f64, f64) {
    let value: serde_json::Value = serde_json::from_slice(bytes).expect("json");
    let per_payload = cordon_siem::parse_bytes(bytes)
        .iter()
        .map(|p| p.result.as_ref().map_or(0, Vec::len))
        .sum::<usize>();
    assert!(per_payload > 0);
    let n = 20_000;
    let t = Instant::now();
    let mut count = 0;
    for _ in 0..n {
        count += cordon_siem::parse_bytes(std::hint::black_box(bytes)).len();
    }
    let from_bytes = (n * per_payload) as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..n {
        count += cordon_siem::parse_value(std::hint::black_box(&value)).len();
    }
    let from_value = (n * per_payload) as f64 / t.elapsed().as_secs_f64();
    assert!(count > 0);
    println!("{name}: {} bytes, {per_payload} alerts/payload: {from_bytes:.0} alerts/s from bytes, {from_value:.0} alerts/s from a parsed Value", bytes.len());
    (from_bytes, from_value)
}

#[test]
#[ignore]
fn throughput() {
    measure(
        "sentinel trigger (2 alerts, 7 entities)",
        &fixture("sentinel_trigger_incident.json"),
    );
    measure(
        "guardduty eventbridge (IAM)",
        &corpus("guardduty/custodian_iam-duty-event.json"),
    );
    measure(
        "guardduty eventbridge (EC2, 12 KB sample)",
        &corpus("guardduty/gdsoar_eb-ec2-sshbruteforce.json"),
    );
    measure(
        "guardduty bare finding",
        &fixture("guardduty_iam_user_key.json"),
    );
    measure(
        "securityhub imported",
        &fixture("securityhub_imported_guardduty.json"),
    );
    measure("graph alert v2", &fixture("graph_alert_v2_roles.json"));
}

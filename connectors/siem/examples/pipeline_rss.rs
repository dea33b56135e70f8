//! Streams an NDJSON file line by line through parse → normalize → correlate, and prints the
//! records/s (per wall-clock second and per second on the CPU, which differ on a busy machine)
//! and the peak resident set size (VmHWM).
//!
//! `cargo run --release -p cordon-siem --example pipeline_rss -- ../shared/bench/mixed-guardduty-okta-10k.ndjson`

use cordon_core::correlate::Correlator;
use std::io::BufRead;
use std::time::Instant;

/// Nanoseconds this thread has spent on a CPU (`/proc/self/schedstat`, first field).
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: pipeline_rss <file.ndjson>")?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(&path)?);
    let mut correlator = Correlator::new(24 * 3600);
    let (mut records, mut alerts, mut rejected) = (0usize, 0usize, 0usize);
    let mut line = Vec::with_capacity(1 << 12);
    let (start, cpu_start) = (Instant::now(), cpu_ns());
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        records += 1;
        for parsed in cordon_siem::parse_bytes(&line) {
            match parsed.result {
                Ok(list) => {
                    for alert in list {
                        alerts += 1;
                        correlator.add(alert);
                    }
                }
                Err(_) => rejected += 1,
            }
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_ns()
        .zip(cpu_start)
        .map(|(end, start)| (end - start) as f64 / 1e9);
    println!(
        "{records} records ({alerts} alerts, {rejected} rejected), {} incidents",
        correlator.incident_count()
    );
    println!(
        "wall {:.1} ms: {:.0} records/s",
        wall * 1e3,
        records as f64 / wall
    );
    if let Some(cpu) = cpu {
        println!(
            "cpu  {:.1} ms: {:.0} records/s",
            cpu * 1e3,
            records as f64 / cpu
        );
    }
    let status = std::fs::read_to_string("/proc/self/status")?;
    for l in status.lines().filter(|l| l.starts_with("VmHWM")) {
        println!("{l}");
    }
    Ok(())
}

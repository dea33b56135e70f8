//! Correlation throughput and how it scales with open incidents.
//!
//! Each measured alert names a user; with `open` distinct users already correlated there are
//! `open` open incidents. The cost per added alert must stay flat as `open` grows.

use chrono::{TimeZone, Utc};
use cordon_core::correlate::Correlator;
use cordon_core::entity::{AlertEntity, Entity, UserEntity};
use cordon_core::ids::Upn;
use cordon_core::{Alert, Coverage, Severity, Source};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

fn alert(i: usize, user: usize, hour: i64) -> Alert {
    let t = Utc
        .timestamp_opt(1_764_000_000 + hour * 3600 + (i % 3600) as i64, 0)
        .single();
    let upn = Upn::parse(&format!("user{user}@corp.example")).ok();
    Alert {
        source: if i.is_multiple_of(2) {
            Source::GuardDuty
        } else {
            Source::Okta
        },
        source_id: format!("alert-{i}"),
        source_updated: t,
        detector_id: "okta:user.session.start".into(),
        detector_name: "user.session.start".into(),
        alert_type: "user.session.start".into(),
        title: "Sign-in".into(),
        severity: Severity::Medium,
        tactics: vec![],
        techniques: vec![],
        first_activity: t,
        last_activity: t,
        entities: vec![
            AlertEntity::unstated(Entity::User(UserEntity {
                upn,
                ..Default::default()
            })),
            AlertEntity::unstated(Entity::Ip {
                address: std::net::IpAddr::from([198, 51, (i % 200) as u8, (i % 250) as u8]),
            }),
        ],
        coverage: Coverage::Complete,
        tenant: None,
        parent_incident: None,
    }
}

fn bench(c: &mut Criterion) {
    const BATCH: usize = 10_000;
    let mut g = c.benchmark_group("correlate");
    g.sample_size(10);
    g.throughput(Throughput::Elements(BATCH as u64));
    for open in [1_000usize, 10_000, 100_000] {
        // `open` incidents, one per user, then a batch touching random existing users.
        let base: Vec<Alert> = (0..open).map(|i| alert(i, i, 0)).collect();
        let batch: Vec<Alert> = (0..BATCH)
            .map(|i| alert(open + i, (i * 7919) % open, 1))
            .collect();
        g.bench_function(
            format!("add_{BATCH}_alerts_with_{open}_open_incidents"),
            |b| {
                b.iter_batched(
                    || {
                        let mut c = Correlator::new(24 * 3600);
                        for a in &base {
                            c.add(a.clone());
                        }
                        (c, batch.clone())
                    },
                    |(mut c, batch)| {
                        for a in batch {
                            c.add(a);
                        }
                        c
                    },
                    BatchSize::PerIteration,
                )
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

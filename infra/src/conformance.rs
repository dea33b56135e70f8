//! The store conformance suite: the contracts of the storage ports in `cordon_core::store`,
//! asserted against any implementation (the embedded SQLite store here, DynamoDB later).
//!
//! Each check takes a fresh store from `make`, which must return a new, **empty** store on every
//! call (a new in-memory database, a new file, a new table prefix). The checks panic with a
//! message naming the broken contract, like any test. Run them from a multi-threaded tokio test
//! so the concurrency checks really race:
//!
//! ```ignore
//! #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
//! async fn conforms() {
//!     cordon_infra::conformance::run_all(|| MyStore::new()).await;
//! }
//! ```
//!
//! Orders the suite holds stores to: alerts and quarantine in the order they were stored,
//! incidents by id, planned actions by the time they were stored (ties by idempotency key).

use chrono::{DateTime, Duration, Utc};
use cordon_core::action::{ActionKind, Mode, PlanStatus, PlannedAction, Target, TargetKind};
use cordon_core::alert::{Alert, Coverage, Quarantined, Severity, Source};
use cordon_core::decide::{decide, Incident};
use cordon_core::entity::{
    AlertEntity, AwsPrincipalEntity, ContextKind, DeviceEntity, Directory, Entity, Role, UserEntity,
};
use cordon_core::ids::{
    AccessKeyId, AwsArn, CloudResourceId, HostName, MdeDeviceId, ObjectId, OktaId, Upn,
};
use cordon_core::policy::{Policy, DEFAULT_POLICY};
use cordon_core::store::{ActionPlanStore, AlertStore, IncidentStore, StoreError, Written};
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::Barrier;

/// How many tasks race in the concurrency checks.
const RACERS: usize = 16;

/// Every check of every port.
pub async fn run_all<S, F>(make: F)
where
    S: AlertStore + IncidentStore + ActionPlanStore + 'static,
    F: Fn() -> S,
{
    alert_store(&make).await;
    incident_store(&make).await;
    action_plan_store(&make).await;
}

/// The [`AlertStore`] contract: dedup on (source, id, update time), conditional writes under
/// concurrency, quarantine dedup, lossless round trips.
pub async fn alert_store<S: AlertStore + 'static>(make: impl Fn() -> S) {
    same_alert_version_stores_once(make()).await;
    new_update_time_is_a_new_version(make()).await;
    concurrent_put_alert_stores_once(make()).await;
    alerts_round_trip_in_stored_order(make()).await;
    quarantine_keeps_a_payload_once(make()).await;
}

/// The [`IncidentStore`] contract: Created / Unchanged / Updated, removal, order by id.
pub async fn incident_store<S: IncidentStore + 'static>(make: impl Fn() -> S) {
    put_incident_reports_what_changed(make()).await;
    remove_incident(make()).await;
    incidents_are_listed_by_id(make()).await;
    concurrent_put_incident_creates_once(make()).await;
}

/// The [`ActionPlanStore`] contract: idempotency on the key, under concurrency too.
pub async fn action_plan_store<S: ActionPlanStore + 'static>(make: impl Fn() -> S) {
    planned_action_is_stored_once_per_key(make()).await;
    planned_actions_round_trip_in_stored_order(make()).await;
    concurrent_put_planned_stores_once(make()).await;
}

// ----------------------------------------------------------------------------------------------
// Alerts
// ----------------------------------------------------------------------------------------------

async fn same_alert_version_stores_once<S: AlertStore>(store: S) {
    let a = alerts().remove(0);
    assert!(
        ok(store.put_alert(&a).await, "put_alert"),
        "a new alert version must be stored"
    );
    assert!(
        !ok(store.put_alert(&a).await, "put_alert"),
        "the same alert version delivered twice must be stored once"
    );
    // The same version through another envelope (member vs. admin account, C6): same dedup key.
    let mut other_envelope = a.clone();
    other_envelope.tenant = Some("999999999999".into());
    other_envelope.parent_incident = Some("another-siem-incident".into());
    assert_eq!(other_envelope.dedup_key(), a.dedup_key());
    assert!(
        !ok(store.put_alert(&other_envelope).await, "put_alert"),
        "a second delivery of a stored version (same source, id, update time) must not be stored"
    );
    // No update time at all is a version too.
    let mut undated = alerts().remove(3);
    undated.source_updated = None;
    assert!(ok(store.put_alert(&undated).await, "put_alert"));
    assert!(
        !ok(store.put_alert(&undated).await, "put_alert"),
        "undated alert stored twice"
    );
    assert_eq!(
        ok(store.alerts().await, "alerts"),
        vec![a, undated],
        "the first delivery of each version is what is kept"
    );
}

async fn new_update_time_is_a_new_version<S: AlertStore>(store: S) {
    let v1 = alerts().remove(1);
    let mut v2 = v1.clone();
    v2.source_updated = v1.source_updated.map(|t| t + Duration::minutes(7));
    v2.severity = Severity::Critical;
    v2.title = format!("{} (escalated)", v1.title);
    assert!(ok(store.put_alert(&v1).await, "put_alert"));
    assert!(
        ok(store.put_alert(&v2).await, "put_alert"),
        "the same source id with a new update time is a new version and must be stored"
    );
    assert!(
        !ok(store.put_alert(&v1).await, "put_alert"),
        "an old version came back as new"
    );
    assert_eq!(
        ok(store.alerts().await, "alerts"),
        vec![v1, v2],
        "both versions, in order"
    );
}

async fn concurrent_put_alert_stores_once<S: AlertStore + 'static>(store: S) {
    let a = alerts().remove(2);
    let stored = race(Arc::new(store), move |s| {
        let a = a.clone();
        async move { ok(s.put_alert(&a).await, "put_alert") }
    })
    .await;
    assert_eq!(
        stored.iter().filter(|&&s| s).count(),
        1,
        "{RACERS} concurrent deliveries of one alert version must store it exactly once: {stored:?}"
    );
}

async fn alerts_round_trip_in_stored_order<S: AlertStore>(store: S) {
    let all = alerts();
    for a in &all {
        assert!(
            ok(store.put_alert(a).await, "put_alert"),
            "{} not stored",
            a.identity()
        );
    }
    let back = ok(store.alerts().await, "alerts");
    assert_eq!(back.len(), all.len(), "alerts() lost or invented versions");
    for (want, got) in all.iter().zip(&back) {
        assert_eq!(
            got,
            want,
            "alert {} changed on its way through the store",
            want.identity()
        );
        assert_eq!(got.dedup_key(), want.dedup_key());
    }
}

async fn quarantine_keeps_a_payload_once<S: AlertStore>(store: S) {
    let q1 = Quarantined {
        origin: "exports/sentinel-2024-05.jsonl:17".into(),
        reason: "expected value at line 1 column 1".into(),
        payload: "\u{feff}<html>502 Bad Gateway</html>\r\n".into(),
    };
    let q2 = Quarantined {
        origin: "sqs:7b0c51a2-4a8e-4f55-9d4f-0c1f8a3e9a11".into(),
        reason: "unrecognised payload: no known source shape".into(),
        payload: "{\"weird\": \"ünïcødé 🚨\", \"nul\": \"a\u{0}b\", \"big\": \"".to_string()
            + &"x".repeat(64 * 1024)
            + "\"}",
    };
    assert!(
        ok(store.quarantine(&q1).await, "quarantine"),
        "a new bad payload must be kept"
    );
    assert!(
        !ok(store.quarantine(&q1).await, "quarantine"),
        "the same bad payload kept twice"
    );
    let same_payload_new_reason = Quarantined {
        reason: "a later parser's reason".into(),
        ..q1.clone()
    };
    assert!(
        !ok(
            store.quarantine(&same_payload_new_reason).await,
            "quarantine"
        ),
        "the same origin and payload is the same quarantined item, whatever the reason"
    );
    assert!(ok(store.quarantine(&q2).await, "quarantine"));
    let from_elsewhere = Quarantined {
        origin: "webhook:generic".into(),
        ..q1.clone()
    };
    assert!(
        ok(store.quarantine(&from_elsewhere).await, "quarantine"),
        "the same payload from another origin is kept again"
    );
    assert_eq!(
        ok(store.quarantined().await, "quarantined"),
        vec![q1, q2, from_elsewhere],
        "quarantine must give back every kept payload, unchanged, in the order kept"
    );
}

// ----------------------------------------------------------------------------------------------
// Incidents
// ----------------------------------------------------------------------------------------------

async fn put_incident_reports_what_changed<S: IncidentStore>(store: S) {
    let inc = incident();
    assert_eq!(
        ok(store.incident(&inc.id).await, "incident"),
        None,
        "a fresh store has it"
    );
    assert_eq!(
        ok(store.put_incident(&inc).await, "put_incident"),
        Written::Created
    );
    assert_eq!(
        ok(store.put_incident(&inc.clone()).await, "put_incident"),
        Written::Unchanged,
        "writing an identical incident must report Unchanged"
    );
    assert_eq!(
        ok(store.incident(&inc.id).await, "incident").as_ref(),
        Some(&inc),
        "incident changed on its way through the store"
    );
    let mut changed = inc.clone();
    changed
        .notes
        .push("analyst: confirmed true positive".into());
    changed.confidence = inc.confidence * 0.999_999_9;
    assert_eq!(
        ok(store.put_incident(&changed).await, "put_incident"),
        Written::Updated
    );
    assert_eq!(
        ok(store.put_incident(&changed).await, "put_incident"),
        Written::Unchanged
    );
    assert_eq!(
        ok(store.incident(&inc.id).await, "incident"),
        Some(changed.clone()),
        "the update must replace the stored incident"
    );
    assert_eq!(ok(store.incidents().await, "incidents"), vec![changed]);
}

async fn remove_incident<S: IncidentStore>(store: S) {
    let inc = incident();
    let mut other = incident();
    other.id = "inc-0002".into();
    assert!(
        !ok(store.remove_incident(&inc.id).await, "remove_incident"),
        "removed a ghost"
    );
    assert_eq!(
        ok(store.put_incident(&inc).await, "put_incident"),
        Written::Created
    );
    assert_eq!(
        ok(store.put_incident(&other).await, "put_incident"),
        Written::Created
    );
    assert!(ok(store.remove_incident(&inc.id).await, "remove_incident"));
    assert_eq!(
        ok(store.incident(&inc.id).await, "incident"),
        None,
        "removed incident still there"
    );
    assert!(
        !ok(store.remove_incident(&inc.id).await, "remove_incident"),
        "removing twice must report nothing removed the second time"
    );
    assert_eq!(
        ok(store.incidents().await, "incidents"),
        vec![other],
        "removed the wrong one"
    );
    assert_eq!(
        ok(store.put_incident(&inc).await, "put_incident"),
        Written::Created,
        "an incident written after its removal is created anew"
    );
}

async fn incidents_are_listed_by_id<S: IncidentStore>(store: S) {
    let ids = ["inc-0300", "inc-0007", "inc-0120", "inc-0042"];
    for id in ids {
        let mut inc = incident();
        inc.id = id.to_string();
        assert_eq!(
            ok(store.put_incident(&inc).await, "put_incident"),
            Written::Created
        );
    }
    let listed: Vec<String> = ok(store.incidents().await, "incidents")
        .into_iter()
        .map(|i| i.id)
        .collect();
    let mut want: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(listed, want, "incidents() must be ordered by id");
}

async fn concurrent_put_incident_creates_once<S: IncidentStore + 'static>(store: S) {
    let inc = incident();
    let written = race(Arc::new(store), move |s| {
        let inc = inc.clone();
        async move { ok(s.put_incident(&inc).await, "put_incident") }
    })
    .await;
    let created = written.iter().filter(|&&w| w == Written::Created).count();
    let unchanged = written.iter().filter(|&&w| w == Written::Unchanged).count();
    assert_eq!(
        (created, unchanged),
        (1, RACERS - 1),
        "{RACERS} concurrent writes of one new incident: exactly one Created, the rest Unchanged: \
         {written:?}"
    );
}

// ----------------------------------------------------------------------------------------------
// Planned actions
// ----------------------------------------------------------------------------------------------

async fn planned_action_is_stored_once_per_key<S: ActionPlanStore>(store: S) {
    let a = planned_actions().remove(0);
    assert!(
        ok(store.put_planned(&a).await, "put_planned"),
        "a new planned action must be stored"
    );
    assert!(
        !ok(store.put_planned(&a).await, "put_planned"),
        "planning the same action twice must store it once"
    );
    // A retry that re-plans with another status is still the same action: the first one stands.
    let mut replanned = a.clone();
    replanned.status = PlanStatus::Skipped("blast-radius limit".into());
    replanned.mode = Mode::Enforce;
    assert!(
        !ok(store.put_planned(&replanned).await, "put_planned"),
        "a second plan with the same idempotency key must not be stored"
    );
    assert_eq!(
        ok(store.planned().await, "planned"),
        vec![a],
        "the first plan must stand"
    );
}

async fn planned_actions_round_trip_in_stored_order<S: ActionPlanStore>(store: S) {
    // Stored in reverse key order, with time between them: the listing follows storage time.
    let mut all = planned_actions();
    all.sort_by(|a, b| b.idempotency_key.cmp(&a.idempotency_key));
    for a in &all {
        assert!(
            ok(store.put_planned(a).await, "put_planned"),
            "{} not stored",
            a.idempotency_key
        );
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let back = ok(store.planned().await, "planned");
    assert_eq!(back.len(), all.len(), "planned() lost or invented actions");
    for (want, got) in all.iter().zip(&back) {
        assert_eq!(
            got, want,
            "planned action {} changed in the store",
            want.idempotency_key
        );
    }
}

async fn concurrent_put_planned_stores_once<S: ActionPlanStore + 'static>(store: S) {
    let a = planned_actions().remove(0);
    let stored = race(Arc::new(store), move |s| {
        let a = a.clone();
        async move { ok(s.put_planned(&a).await, "put_planned") }
    })
    .await;
    assert_eq!(
        stored.iter().filter(|&&s| s).count(),
        1,
        "{RACERS} concurrent plans of one action must store it exactly once: {stored:?}"
    );
}

// ----------------------------------------------------------------------------------------------
// Helpers
// ----------------------------------------------------------------------------------------------

fn ok<T>(r: Result<T, StoreError>, op: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{op} failed: {e}"),
    }
}

/// Runs `op` from [`RACERS`] tasks released at once; returns every task's result.
async fn race<S, T, Fut>(store: Arc<S>, op: impl Fn(Arc<S>) -> Fut) -> Vec<T>
where
    S: Send + Sync + 'static,
    T: Send + Debug + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let gate = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let gate = gate.clone();
            let work = op(store.clone());
            tokio::spawn(async move {
                gate.wait().await;
                work.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(RACERS);
    for t in tasks {
        match t.await {
            Ok(v) => out.push(v),
            Err(e) => panic!("a racing task failed: {e}"),
        }
    }
    out
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    match DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t.with_timezone(&Utc),
        Err(e) => panic!("fixture time {rfc3339}: {e}"),
    }
}

fn id<T, E: Debug>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("fixture identifier: {e:?}"),
    }
}

// ----------------------------------------------------------------------------------------------
// Fixtures: realistic records, built the way the parsers and the decision build them.
// ----------------------------------------------------------------------------------------------

/// Five alert versions from five sources: every entity kind, stated and unstated roles,
/// complete / truncated / missing coverage, sub-millisecond times, a missing update time,
/// non-ASCII text. The first three share a person and an AWS principal (one incident).
pub fn alerts() -> Vec<Alert> {
    let alice = UserEntity {
        upn: Some(id(Upn::parse("Alice.Nguyen@contoso.com"))),
        object_id: Some(id(ObjectId::parse("6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"))),
        display_name: Some("Alice Nguyen".into()),
        directory: Some(Directory::Entra),
        ..Default::default()
    };
    let laptop = DeviceEntity {
        host_name: Some(id(HostName::parse("LAPTOP-42"))),
        fqdn: Some(id(HostName::parse("laptop-42.corp.contoso.com"))),
        mde_device_id: Some(id(MdeDeviceId::parse(
            "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
        ))),
        ..Default::default()
    };
    let session = id(AwsArn::parse(
        "arn:aws:sts::123456789012:assumed-role/app-server/i-0abc1234def567890",
    ));
    let mut principal = AwsPrincipalEntity::from_arn(session);
    principal.access_key_id = Some(id(AccessKeyId::parse("ASIAZ3EXAMPLEKEY7Q2W")));
    let ip = |s: &str| Entity::Ip {
        address: id(s.parse()),
    };

    let guardduty = Alert {
        source: Source::GuardDuty,
        source_id: "7ec5a1f0c2a94d8b9e8f1a2b3c4d5e6f".into(),
        source_updated: Some(at("2024-05-02T09:14:03.123Z")),
        detector_id:
            "guardduty:UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS".into(),
        detector_name: "InstanceCredentialExfiltration.OutsideAWS".into(),
        alert_type: "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS".into(),
        title: "Credentials for the EC2 instance role app-server were used from a remote AWS \
                account."
            .into(),
        severity: Severity::High,
        tactics: vec!["CredentialAccess".into()],
        techniques: vec!["T1552.005".into()],
        first_activity: Some(at("2024-05-02T08:51:40Z")),
        last_activity: Some(at("2024-05-02T09:02:11Z")),
        entities: vec![
            AlertEntity::stated(Entity::AwsPrincipal(principal), Role::Compromised),
            AlertEntity::stated(ip("198.51.100.23"), Role::Attacker),
            AlertEntity::unstated(Entity::Device(DeviceEntity {
                cloud_resource_id: Some(id(CloudResourceId::parse("i-0abc1234def567890"))),
                ..Default::default()
            })),
        ],
        coverage: Coverage::Complete,
        tenant: Some("123456789012".into()),
        parent_incident: None,
    };
    let defender = Alert {
        source: Source::DefenderXdr,
        source_id: "da637551234567890123_-1234567890".into(),
        source_updated: Some(at("2024-05-02T09:20:00.1234567Z")),
        detector_id: "defender_xdr:SuspiciousInboxRule".into(),
        detector_name: "Suspicious inbox manipulation rule".into(),
        alert_type: "SuspiciousInboxManipulationRules".into(),
        title: "Suspicious inbox manipulation rule set by alice".into(),
        severity: Severity::Medium,
        tactics: vec!["Persistence".into(), "DefenseEvasion".into()],
        techniques: vec!["T1564.008".into(), "T1114.003".into()],
        first_activity: Some(at("2024-05-02T09:03:15.5Z")),
        last_activity: Some(at("2024-05-02T09:05:59.999999999Z")),
        entities: vec![
            AlertEntity::stated(Entity::User(alice.clone()), Role::Compromised),
            AlertEntity::stated(Entity::Device(laptop), Role::Compromised),
            AlertEntity::stated(ip("203.0.113.9"), Role::Attacker),
            AlertEntity::unstated(ip("10.20.30.40")),
        ],
        coverage: Coverage::Complete,
        tenant: Some("contoso.onmicrosoft.com".into()),
        parent_incident: Some("sentinel:4471".into()),
    };
    let okta = Alert {
        source: Source::Okta,
        source_id: "2024-05-02T09:21:07.412Z_okta_threat_aZ9xY8w".into(),
        source_updated: Some(at("2024-05-02T09:21:07.412Z")),
        detector_id: "okta:security.threat.detected".into(),
        detector_name: "security.threat.detected".into(),
        alert_type: "security.threat.detected".into(),
        title: "Okta ThreatInsight: sign-in from a known-bad network".into(),
        severity: Severity::High,
        tactics: vec![],
        techniques: vec![],
        first_activity: Some(at("2024-05-02T09:21:05Z")),
        last_activity: None,
        entities: vec![
            AlertEntity::stated(
                Entity::User(UserEntity {
                    email: alice.upn.clone(),
                    okta_id: Some(id(OktaId::parse("00u1abcd2EFGH3ijk4l5"))),
                    directory: Some(Directory::Okta),
                    ..Default::default()
                }),
                Role::Compromised,
            ),
            AlertEntity::stated(ip("203.0.113.9"), Role::Attacker),
        ],
        coverage: Coverage::Complete,
        tenant: Some("contoso.okta.com".into()),
        parent_incident: None,
    };
    let securityhub = Alert {
        source: Source::SecurityHub,
        source_id: "arn:aws:securityhub:eu-west-1::product/aws/inspector/finding/ü-42".into(),
        source_updated: Some(at("2024-05-01T23:59:59.999Z")),
        detector_id: "securityhub:inspector/CVE-2024-3094".into(),
        detector_name: "Inspector".into(),
        alert_type: "Software and Configuration Checks/Vulnerabilities/CVE".into(),
        title: "Überprüfung: xz-utils backdoor — 疑わしいパッケージ \"liblzma\"".into(),
        severity: Severity::Critical,
        tactics: vec![],
        techniques: vec![],
        first_activity: None,
        last_activity: None,
        entities: vec![AlertEntity::unstated(Entity::Context {
            kind: ContextKind::CloudResource,
            value: "arn:aws:ec2:eu-west-1:123456789012:instance/i-0fedcba9876543210".into(),
        })],
        coverage: Coverage::Truncated {
            received: 50,
            declared: Some(213),
        },
        tenant: Some("123456789012".into()),
        parent_incident: None,
    };
    let webhook = Alert {
        source: Source::Webhook,
        source_id: "generic-000001".into(),
        source_updated: None,
        detector_id: "webhook:custom-rule-7".into(),
        detector_name: "custom rule 7".into(),
        alert_type: "unknown".into(),
        title: String::new(),
        severity: Severity::Informational,
        tactics: vec![],
        techniques: vec![],
        first_activity: Some(at("1999-12-31T23:59:59.000000001+00:00")),
        last_activity: Some(at("2100-01-01T00:00:00Z")),
        entities: vec![],
        coverage: Coverage::Missing,
        tenant: None,
        parent_incident: None,
    };
    vec![guardduty, defender, okta, securityhub, webhook]
}

/// The incident the default policy decides for the first three [`alerts`]: assets with
/// evidence and explanations, and planned actions.
pub fn incident() -> Incident {
    let policy = match Policy::from_toml(DEFAULT_POLICY) {
        Ok(p) => p,
        Err(e) => panic!("the default policy does not load: {e}"),
    };
    let all = alerts();
    let refs: Vec<&Alert> = all.iter().take(3).collect();
    let inc = decide(&policy, "inc-0001", &refs);
    assert!(
        !inc.planned_actions.is_empty() && !inc.assets.is_empty(),
        "fixture: the default policy no longer plans actions for the fixture incident"
    );
    inc
}

/// The fixture incident's planned actions, plus hand-made ones so every status, mode and target
/// shape is present.
pub fn planned_actions() -> Vec<PlannedAction> {
    let mut actions = incident().planned_actions;
    actions.push(PlannedAction::new(
        "inc-0001",
        ActionKind::DeactivateAccessKey,
        Target {
            kind: TargetKind::AwsAccessKey,
            id: "AKIAIOSFODNN7EXAMPLE".into(),
            owner: Some("build-bot".into()),
            account: Some("123456789012".into()),
        },
        Mode::Enforce,
        PlanStatus::Skipped("excluded AWS principal (matches \"build-*\")".into()),
        0.995_123_456_789_012_3,
        "arn:aws:iam::123456789012:user/build-bot (key AKIAIOSFODNN7EXAMPLE)".into(),
    ));
    actions.push(PlannedAction::new(
        "inc-0002",
        ActionKind::DisableUser,
        Target {
            kind: TargetKind::EntraUser,
            id: "CORP\\jdoe".into(),
            owner: None,
            account: None,
        },
        Mode::Audit,
        PlanStatus::Escalate("on-premises identity: a person must disable it in AD".into()),
        1.0 - 1e-12,
        "CORP\\jdoe".into(),
    ));
    actions
}

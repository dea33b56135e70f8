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
//! incidents by id, planned actions by the time they were stored (ties by idempotency key),
//! ledger entries by sequence number (the order they were appended, whatever their times).

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
use cordon_core::ledger::{
    current, fold, ActionLedger, ActionStatus, LedgerEntry, LedgerEvent, Step,
};
use cordon_core::policy::{Policy, DEFAULT_POLICY};
use cordon_core::respond::{Done, Failure, TargetState, Verification};
use cordon_core::store::{ActionPlanStore, AlertStore, IncidentStore, StoreError, Written};
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::Barrier;

/// How many tasks race in the concurrency checks.
const RACERS: usize = 16;

/// Every check of every port.
pub async fn run_all<S, F>(make: F)
where
    S: AlertStore + IncidentStore + ActionPlanStore + ActionLedger + 'static,
    F: Fn() -> S,
{
    alert_store(&make).await;
    incident_store(&make).await;
    action_plan_store(&make).await;
    action_ledger(&make).await;
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

/// The [`ActionLedger`] contract: one record per idempotency key (under concurrency too),
/// increasing sequence numbers, per-action histories in order, lossless round trips of every
/// event, and histories that fold to the status the executor relies on.
pub async fn action_ledger<S: ActionLedger + 'static>(make: impl Fn() -> S) {
    record_is_once_per_key(make()).await;
    concurrent_record_records_once(make()).await;
    append_numbers_entries_in_order(make()).await;
    concurrent_appends_get_distinct_numbers(make()).await;
    history_is_one_actions_entries_in_order(make()).await;
    a_typical_history_folds_to_its_status(make()).await;
    every_event_round_trips(make()).await;
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
// Action ledger
// ----------------------------------------------------------------------------------------------

async fn record_is_once_per_key<S: ActionLedger>(store: S) {
    let a = planned_actions().remove(0);
    let t0 = at("2024-05-02T09:30:00.123456789Z");
    assert_eq!(
        ok(store.by_key(&a.idempotency_key).await, "by_key"),
        None,
        "a fresh ledger knows the key"
    );
    assert!(
        ok(store.record(&a, t0).await, "record"),
        "a new action must be recorded"
    );
    assert!(
        !ok(store.record(&a, t0 + Duration::seconds(1)).await, "record"),
        "recording the same action twice must return false the second time"
    );
    // A retry that re-plans with another status or mode is still the same action.
    let mut replanned = a.clone();
    replanned.status = PlanStatus::Skipped("blast-radius limit".into());
    replanned.mode = Mode::Enforce;
    assert!(
        !ok(store.record(&replanned, t0).await, "record"),
        "an action with a recorded idempotency key must not be recorded again"
    );
    assert_eq!(
        ok(store.by_key(&a.idempotency_key).await, "by_key"),
        Some(a.id.clone()),
        "by_key must give the recorded action's id"
    );
    assert_eq!(
        ok(
            store.by_key("inc-0001|disable_user|EntraUser:nobody").await,
            "by_key"
        ),
        None
    );
    let history = ok(store.history(&a.id).await, "history");
    assert_eq!(
        history.len(),
        1,
        "a second record must not append a second Recorded event: {history:?}"
    );
    assert_eq!(history[0].action_id, a.id);
    assert_eq!(
        history[0].at, t0,
        "the Recorded event carries the record time"
    );
    assert_eq!(
        history[0].event,
        LedgerEvent::Recorded { action: a.clone() },
        "the first plan must stand"
    );
    assert_eq!(ok(store.entries().await, "entries"), history);
    let folded = fold(&history).expect("a recorded action folds");
    assert_eq!(folded.status, ActionStatus::Recorded);
    assert_eq!((folded.created_at, folded.updated_at), (t0, t0));
}

async fn concurrent_record_records_once<S: ActionLedger + 'static>(store: S) {
    let a = planned_actions().remove(0);
    let t0 = at("2024-05-02T09:30:00Z");
    let store = Arc::new(store);
    let recorded = {
        let a = a.clone();
        race(store.clone(), move |s| {
            let a = a.clone();
            async move { ok(s.record(&a, t0).await, "record") }
        })
        .await
    };
    assert_eq!(
        recorded.iter().filter(|&&r| r).count(),
        1,
        "{RACERS} concurrent records of one action must record it exactly once: {recorded:?}"
    );
    let history = ok(store.history(&a.id).await, "history");
    assert_eq!(
        history.iter().map(|e| &e.event).collect::<Vec<_>>(),
        vec![&LedgerEvent::Recorded { action: a.clone() }],
        "exactly one Recorded event after a race"
    );
    assert_eq!(
        ok(store.by_key(&a.idempotency_key).await, "by_key"),
        Some(a.id)
    );
}

async fn append_numbers_entries_in_order<S: ActionLedger>(store: S) {
    let plans = planned_actions();
    let (a, b) = (&plans[0], &plans[1]);
    let t0 = at("2024-05-02T09:30:00Z");
    assert!(ok(store.record(a, t0).await, "record"));
    assert!(ok(store.record(b, t0).await, "record"));
    let steps = [
        (
            a,
            LedgerEvent::Attempt {
                step: Step::Capture,
                attempt: 1,
            },
        ),
        (b, LedgerEvent::Audited),
        (
            a,
            LedgerEvent::Captured {
                prior: target_state(),
            },
        ),
        (
            a,
            LedgerEvent::Attempt {
                step: Step::Apply,
                attempt: 1,
            },
        ),
        (
            b,
            LedgerEvent::Skipped {
                reason: "excluded".into(),
            },
        ),
    ];
    let mut seqs = Vec::new();
    for (i, (action, event)) in steps.iter().enumerate() {
        let when = t0 + Duration::seconds(i as i64 + 1);
        seqs.push(ok(store.append(&action.id, event, when).await, "append"));
    }
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "append must return increasing sequence numbers: {seqs:?}"
    );
    let all = ok(store.entries().await, "entries");
    assert_eq!(
        all.len(),
        2 + steps.len(),
        "entries() lost or invented entries: {all:?}"
    );
    assert!(
        all.windows(2).all(|w| w[0].seq < w[1].seq),
        "entries() must be in sequence order: {all:?}"
    );
    let appended: Vec<(u64, &str, &LedgerEvent)> = all[2..]
        .iter()
        .map(|e| (e.seq, e.action_id.as_str(), &e.event))
        .collect();
    let want: Vec<(u64, &str, &LedgerEvent)> = seqs
        .iter()
        .zip(&steps)
        .map(|(&seq, (action, event))| (seq, action.id.as_str(), event))
        .collect();
    assert_eq!(
        appended, want,
        "each appended entry must be stored under the sequence number append returned"
    );
    assert!(
        all[1].seq < seqs[0],
        "the Recorded entries come before what was appended after them"
    );
}

async fn concurrent_appends_get_distinct_numbers<S: ActionLedger + 'static>(store: S) {
    let a = planned_actions().remove(0);
    let t0 = at("2024-05-02T09:30:00Z");
    assert!(ok(store.record(&a, t0).await, "record"));
    let store = Arc::new(store);
    let seqs = {
        let id = a.id.clone();
        race(store.clone(), move |s| {
            let id = id.clone();
            async move {
                let event = LedgerEvent::Attempt {
                    step: Step::Verify,
                    attempt: 1,
                };
                ok(s.append(&id, &event, t0).await, "append")
            }
        })
        .await
    };
    let distinct: BTreeSet<u64> = seqs.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        RACERS,
        "{RACERS} concurrent appends must get distinct sequence numbers: {seqs:?}"
    );
    let history = ok(store.history(&a.id).await, "history");
    assert_eq!(history.len(), RACERS + 1, "appends lost under concurrency");
    let stored: BTreeSet<u64> = history[1..].iter().map(|e| e.seq).collect();
    assert_eq!(
        stored, distinct,
        "the stored entries must carry the sequence numbers append returned"
    );
}

async fn history_is_one_actions_entries_in_order<S: ActionLedger>(store: S) {
    let plans = planned_actions();
    let (a, b) = (&plans[0], &plans[2]);
    // Times run backwards: the ledger's order is the order of appends, not of clocks.
    let t = |n: i64| at("2024-05-02T10:00:00.000000001Z") - Duration::milliseconds(n);
    assert!(ok(store.record(a, t(1)).await, "record"));
    assert!(ok(store.record(b, t(2)).await, "record"));
    let a_events = [
        LedgerEvent::Attempt {
            step: Step::Capture,
            attempt: 1,
        },
        LedgerEvent::Captured {
            prior: target_state(),
        },
        LedgerEvent::Attempt {
            step: Step::Apply,
            attempt: 1,
        },
    ];
    let b_events = [
        LedgerEvent::Escalated {
            reason: "privileged target class".into(),
        },
        LedgerEvent::UndoRequested {
            by: "analyst@contoso.com".into(),
        },
    ];
    ok(store.append(&a.id, &a_events[0], t(3)).await, "append");
    ok(store.append(&b.id, &b_events[0], t(4)).await, "append");
    ok(store.append(&a.id, &a_events[1], t(5)).await, "append");
    ok(store.append(&b.id, &b_events[1], t(6)).await, "append");
    ok(store.append(&a.id, &a_events[2], t(7)).await, "append");

    let history = ok(store.history(&a.id).await, "history");
    assert!(
        history.iter().all(|e| e.action_id == a.id),
        "history() must hold only that action's entries: {history:?}"
    );
    assert!(
        history.windows(2).all(|w| w[0].seq < w[1].seq),
        "history() must be in sequence order: {history:?}"
    );
    let mut want = vec![LedgerEvent::Recorded { action: a.clone() }];
    want.extend(a_events.iter().cloned());
    assert_eq!(
        history.iter().map(|e| e.event.clone()).collect::<Vec<_>>(),
        want,
        "history() must give the action's events in the order appended"
    );
    assert_eq!(
        history.iter().map(|e| e.at).collect::<Vec<_>>(),
        vec![t(1), t(3), t(5), t(7)]
    );
    let other = ok(store.history(&b.id).await, "history");
    assert_eq!(
        other.iter().map(|e| e.event.clone()).collect::<Vec<_>>(),
        [
            vec![LedgerEvent::Recorded { action: b.clone() }],
            b_events.to_vec()
        ]
        .concat()
    );
    assert_eq!(
        ok(store.history("act-0000000000000000").await, "history"),
        Vec::<LedgerEntry>::new(),
        "an unknown action has no history"
    );
    let all = ok(store.entries().await, "entries");
    assert_eq!(all.len(), 7);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
}

async fn a_typical_history_folds_to_its_status<S: ActionLedger>(store: S) {
    let mut a = planned_actions().remove(0);
    a.mode = Mode::Enforce;
    a.status = PlanStatus::Planned;
    let t0 = at("2024-05-02T09:30:00Z");
    let t = |n: i64| t0 + Duration::seconds(n);
    let prior = target_state();
    let applied = Done::Applied {
        detail: "accountEnabled set to false".into(),
        reference: serde_json::json!({"request_id": "7c1e0f4e-2b8e-4d8f-9f0e-0a6f1e2d3c4b"}),
        reverify_at: Some(t(3600)),
    };
    let effective = Verification::Effective {
        detail: "accountEnabled=false read back".into(),
    };
    assert!(ok(store.record(&a, t0).await, "record"));
    let apply = [
        LedgerEvent::Attempt {
            step: Step::Capture,
            attempt: 1,
        },
        LedgerEvent::Captured {
            prior: prior.clone(),
        },
        LedgerEvent::Attempt {
            step: Step::Apply,
            attempt: 1,
        },
        LedgerEvent::Applied {
            done: applied.clone(),
        },
        LedgerEvent::Attempt {
            step: Step::Verify,
            attempt: 1,
        },
        LedgerEvent::Verified {
            verification: effective.clone(),
        },
    ];
    for (i, e) in apply.iter().enumerate() {
        ok(store.append(&a.id, e, t(i as i64 + 1)).await, "append");
    }
    let rec = fold(&ok(store.history(&a.id).await, "history")).expect("fold");
    assert_eq!(rec.status, ActionStatus::Applied, "{rec:?}");
    assert_eq!(rec.action, a);
    assert_eq!(rec.prior.as_ref(), Some(&prior));
    assert_eq!(rec.applied.as_ref(), Some(&applied));
    assert_eq!(rec.verification.as_ref(), Some(&effective));
    assert_eq!((rec.attempts, rec.open_attempt), (1, None));
    assert_eq!((rec.created_at, rec.updated_at), (t0, t(6)));
    assert!(rec.in_force());

    let reverted = Done::Applied {
        detail: "accountEnabled set back to true".into(),
        reference: serde_json::Value::Null,
        reverify_at: None,
    };
    let undo = [
        LedgerEvent::UndoRequested {
            by: "analyst@contoso.com".into(),
        },
        LedgerEvent::Attempt {
            step: Step::Revert,
            attempt: 1,
        },
        LedgerEvent::Reverted {
            done: reverted.clone(),
        },
    ];
    for (i, e) in undo.iter().enumerate() {
        ok(store.append(&a.id, e, t(i as i64 + 100)).await, "append");
    }
    let history = ok(store.history(&a.id).await, "history");
    let rec = fold(&history).expect("fold");
    assert_eq!(rec.status, ActionStatus::Reverted, "{rec:?}");
    assert_eq!(rec.reverted.as_ref(), Some(&reverted));
    assert_eq!(
        rec.prior.as_ref(),
        Some(&prior),
        "undo keeps the state found before"
    );
    assert_eq!((rec.attempts, rec.updated_at), (2, t(102)));
    assert!(!rec.in_force());
    assert_eq!(
        current(&ok(store.entries().await, "entries")),
        vec![rec],
        "current() over the whole ledger must agree with fold() over the history"
    );
}

async fn every_event_round_trips<S: ActionLedger>(store: S) {
    let a = planned_actions().remove(1);
    let t0 = at("2024-02-29T23:59:59.999999999Z");
    assert!(ok(store.record(&a, t0).await, "record"));
    let events = ledger_events();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, LedgerEvent::Recorded { .. })),
        "fixture: Recorded is written by record()"
    );
    let mut want = vec![LedgerEntry {
        seq: 0,
        action_id: a.id.clone(),
        at: t0,
        event: LedgerEvent::Recorded { action: a.clone() },
    }];
    for (i, event) in events.into_iter().enumerate() {
        // Odd times: sub-microsecond, before the epoch, far ahead.
        let when = match i % 4 {
            0 => t0 + Duration::nanoseconds(i as i64 * 1_000_003),
            1 => at("1969-07-20T20:17:40.000000001Z"),
            2 => at("2999-12-31T23:59:59.5Z"),
            _ => t0 - Duration::days(400),
        };
        let seq = ok(store.append(&a.id, &event, when).await, "append");
        want.push(LedgerEntry {
            seq,
            action_id: a.id.clone(),
            at: when,
            event,
        });
    }
    let history = ok(store.history(&a.id).await, "history");
    assert_eq!(
        history.len(),
        want.len(),
        "history() lost or invented entries"
    );
    want[0].seq = history[0].seq;
    for (got, want) in history.iter().zip(&want) {
        assert_eq!(
            got,
            want,
            "a {} event changed on its way through the ledger",
            event_variant(&want.event)
        );
    }
    assert_eq!(ok(store.entries().await, "entries"), history);
}

/// A target's state as read before acting: vendor fields of every JSON shape.
fn target_state() -> TargetState {
    TargetState {
        contained: false,
        summary: "accountEnabled=true, userType=Member, onPremisesSyncEnabled=false".into(),
        data: serde_json::json!({
            "accountEnabled": true,
            "userType": "Member",
            "onPremisesSyncEnabled": null,
            "displayName": "Alice Nguyễn 👩‍💻 \"quoted\" \\ back\nslash",
            "signInSessionsValidFromDateTime": "2024-05-02T09:00:00Z",
            "riskScore": 0.1,
            "third": 1.0 / 3.0,
            "big": u64::MAX,
            "negative": i64::MIN,
            "groups": [{"id": "g1", "z": 1, "a": 2}, [], {}],
        }),
    }
}

/// One of every ledger event [`ActionLedger::append`] writes (all but `Recorded`, which
/// [`ActionLedger::record`] writes first), with every variant of what they carry: outcomes,
/// failures, verifications, steps. The exhaustive matches below make a new variant fail to
/// compile until it is named here too.
pub fn ledger_events() -> Vec<LedgerEvent> {
    let t = at("2024-05-02T09:45:00.000000123Z");
    let dones = vec![
        Done::Applied {
            detail: "isolation requested; machine action 9a8b7c6d".into(),
            reference: serde_json::json!({"machine_action_id": "9a8b7c6d", "type": "Isolate",
                                          "ids": [1, 2, 3], "weight": 2.5e-8}),
            reverify_at: Some(t),
        },
        Done::Applied {
            detail: "policy CordonDenyAll attached".into(),
            reference: serde_json::Value::Null,
            reverify_at: None,
        },
        Done::AlreadyInState {
            detail: "already disabled: accountEnabled=false".into(),
        },
        Done::Pending {
            detail: "device offline; isolation pending".into(),
            reference: serde_json::json!("9a8b7c6d"),
        },
    ];
    let failures = vec![
        Failure::NotFound {
            detail: "Request_ResourceNotFound".into(),
        },
        Failure::RateLimited {
            retry_after_ms: Some(30_000),
            detail: "429 Too Many Requests".into(),
        },
        Failure::RateLimited {
            retry_after_ms: None,
            detail: "Throttling: Rate exceeded".into(),
        },
        Failure::PermissionMissing {
            permission: "User.EnableDisableAccount.All".into(),
            detail: "Authorization_RequestDenied".into(),
        },
        Failure::Permanent {
            detail: "E0000001: Api validation failed".into(),
        },
        Failure::Transient {
            detail: "503 Service Unavailable".into(),
        },
        Failure::Unknown {
            detail: "timed out after the request was sent".into(),
        },
        Failure::Unauthenticated {
            detail: "401: invalid_token".into(),
        },
    ];
    let verifications = vec![
        Verification::Effective {
            detail: "isolated".into(),
        },
        Verification::NotYet {
            detail: "machine action Pending".into(),
        },
        Verification::NotEffective {
            detail: "machine action Failed: device unreachable for 7 days".into(),
        },
    ];
    let steps = [Step::Capture, Step::Apply, Step::Verify, Step::Revert];

    let mut events = vec![
        LedgerEvent::Audited,
        LedgerEvent::Skipped {
            reason: "excluded asset (matches \"svc-*\"); ünïcødé \u{0} nul".into(),
        },
        LedgerEvent::Escalated {
            reason: "x".repeat(16 * 1024),
        },
        LedgerEvent::Captured {
            prior: target_state(),
        },
        LedgerEvent::Captured {
            prior: TargetState {
                contained: true,
                summary: String::new(),
                data: serde_json::Value::Null,
            },
        },
        LedgerEvent::UndoRequested {
            by: "analyst@contoso.com".into(),
        },
        LedgerEvent::UndoKept {
            reason: "incident inc-0002 (action act-1) still relies on this disable_user".into(),
        },
    ];
    for (i, step) in steps.iter().enumerate() {
        events.push(LedgerEvent::Attempt {
            step: *step,
            attempt: if i == 3 { u32::MAX } else { i as u32 + 1 },
        });
    }
    for (i, failure) in failures.into_iter().enumerate() {
        events.push(LedgerEvent::Failed {
            step: steps[i % steps.len()],
            failure,
            attempt: i as u32,
            will_retry: i % 2 == 0,
        });
    }
    for done in &dones {
        events.push(LedgerEvent::Applied { done: done.clone() });
        events.push(LedgerEvent::Reverted { done: done.clone() });
    }
    for verification in verifications {
        events.push(LedgerEvent::Verified { verification });
    }

    // Every variant, of every enum an event carries, is present.
    let covered: BTreeSet<String> = events.iter().flat_map(variants).collect();
    let mut required: BTreeSet<String> = BTreeSet::new();
    required.extend(
        EVENT_VARIANTS
            .iter()
            .filter(|&&v| v != "recorded")
            .map(|v| format!("event:{v}")),
    );
    required.extend(DONE_VARIANTS.iter().map(|v| format!("done:{v}")));
    required.extend(FAILURE_VARIANTS.iter().map(|v| format!("failure:{v}")));
    required.extend(
        VERIFICATION_VARIANTS
            .iter()
            .map(|v| format!("verification:{v}")),
    );
    required.extend(steps.iter().map(|s| format!("step:{s:?}")));
    let missing: Vec<&String> = required.difference(&covered).collect();
    assert!(missing.is_empty(), "fixture: no event carries {missing:?}");
    events
}

const EVENT_VARIANTS: [&str; 12] = [
    "recorded",
    "audited",
    "skipped",
    "escalated",
    "attempt",
    "captured",
    "applied",
    "failed",
    "verified",
    "undo_requested",
    "undo_kept",
    "reverted",
];
const DONE_VARIANTS: [&str; 3] = ["applied", "already_in_state", "pending"];
const FAILURE_VARIANTS: [&str; 7] = [
    "not_found",
    "rate_limited",
    "permission_missing",
    "permanent",
    "transient",
    "unknown",
    "unauthenticated",
];
const VERIFICATION_VARIANTS: [&str; 3] = ["effective", "not_yet", "not_effective"];

fn event_variant(e: &LedgerEvent) -> &'static str {
    match e {
        LedgerEvent::Recorded { .. } => "recorded",
        LedgerEvent::Audited => "audited",
        LedgerEvent::Skipped { .. } => "skipped",
        LedgerEvent::Escalated { .. } => "escalated",
        LedgerEvent::Attempt { .. } => "attempt",
        LedgerEvent::Captured { .. } => "captured",
        LedgerEvent::Applied { .. } => "applied",
        LedgerEvent::Failed { .. } => "failed",
        LedgerEvent::Verified { .. } => "verified",
        LedgerEvent::UndoRequested { .. } => "undo_requested",
        LedgerEvent::UndoKept { .. } => "undo_kept",
        LedgerEvent::Reverted { .. } => "reverted",
    }
}

/// The variants one event carries, as `enum:variant`.
fn variants(e: &LedgerEvent) -> Vec<String> {
    let done = |d: &Done| match d {
        Done::Applied { .. } => "applied",
        Done::AlreadyInState { .. } => "already_in_state",
        Done::Pending { .. } => "pending",
    };
    let verification = |v: &Verification| match v {
        Verification::Effective { .. } => "effective",
        Verification::NotYet { .. } => "not_yet",
        Verification::NotEffective { .. } => "not_effective",
    };
    let mut out = vec![format!("event:{}", event_variant(e))];
    match e {
        LedgerEvent::Attempt { step, .. } => out.push(format!("step:{step:?}")),
        LedgerEvent::Failed { step, failure, .. } => {
            out.push(format!("step:{step:?}"));
            out.push(format!("failure:{}", failure.kind()));
        }
        LedgerEvent::Applied { done: d } | LedgerEvent::Reverted { done: d } => {
            out.push(format!("done:{}", done(d)));
        }
        LedgerEvent::Verified { verification: v } => {
            out.push(format!("verification:{}", verification(v)));
        }
        _ => {}
    }
    out
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

//! Executor tests against an in-memory ledger and a scripted responder: the state machine, not a
//! vendor. Vendor behaviour is tested in each connector against the mock APIs.

use super::execute::*;
use crate::action::{ActionKind, Mode, PlanStatus, PlannedAction, Target, TargetKind};
use crate::ledger::{ActionLedger, ActionStatus, LedgerEntry, LedgerEvent};
use crate::respond::*;
use crate::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct MemLedger {
    entries: Mutex<Vec<LedgerEntry>>,
    keys: Mutex<Vec<(String, String)>>,
}

#[async_trait]
impl ActionLedger for MemLedger {
    async fn record(&self, a: &PlannedAction, at: DateTime<Utc>) -> Result<bool, StoreError> {
        {
            let mut keys = self.keys.lock().unwrap();
            if keys.iter().any(|(k, _)| *k == a.idempotency_key) {
                return Ok(false);
            }
            keys.push((a.idempotency_key.clone(), a.id.clone()));
        }
        self.append(&a.id, &LedgerEvent::Recorded { action: a.clone() }, at)
            .await?;
        Ok(true)
    }
    async fn append(
        &self,
        id: &str,
        e: &LedgerEvent,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut v = self.entries.lock().unwrap();
        let seq = v.len() as u64 + 1;
        v.push(LedgerEntry {
            seq,
            action_id: id.into(),
            at,
            event: e.clone(),
        });
        Ok(seq)
    }
    async fn history(&self, id: &str) -> Result<Vec<LedgerEntry>, StoreError> {
        Ok(self
            .entries
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.action_id == id)
            .cloned()
            .collect())
    }
    async fn by_key(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .keys
            .lock()
            .unwrap()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, id)| id.clone()))
    }
    async fn entries(&self) -> Result<Vec<LedgerEntry>, StoreError> {
        Ok(self.entries.lock().unwrap().clone())
    }
}

/// A user whose `enabled` flag the responder flips, with scripted failures per step.
struct Scripted {
    enabled: Mutex<bool>,
    apply_failures: Mutex<Vec<Failure>>,
    calls: Mutex<Vec<String>>,
}

impl Scripted {
    fn new(enabled: bool, apply_failures: Vec<Failure>) -> Arc<Self> {
        Arc::new(Self {
            enabled: Mutex::new(enabled),
            apply_failures: Mutex::new(apply_failures),
            calls: Mutex::default(),
        })
    }
    fn calls(&self, what: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| *c == what)
            .count()
    }
}

#[async_trait]
impl Responder for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }
    fn kinds(&self) -> Vec<ActionKind> {
        vec![ActionKind::DisableUser, ActionKind::EnableUser]
    }
    async fn capture(&self, _: ActionKind, _: &Target) -> Result<TargetState, Failure> {
        self.calls.lock().unwrap().push("capture".into());
        let en = *self.enabled.lock().unwrap();
        Ok(TargetState {
            contained: !en,
            summary: format!("accountEnabled={en}"),
            data: serde_json::json!({"accountEnabled": en}),
        })
    }
    async fn apply(
        &self,
        _: ActionKind,
        _: &Target,
        _: &TargetState,
        _: &ActionContext,
    ) -> Result<Done, Failure> {
        self.calls.lock().unwrap().push("apply".into());
        let next = { self.apply_failures.lock().unwrap().pop() };
        if let Some(f) = next {
            if matches!(f, Failure::Unknown { .. }) {
                // The call went through but the answer was lost.
                *self.enabled.lock().unwrap() = false;
            }
            return Err(f);
        }
        *self.enabled.lock().unwrap() = false;
        Ok(Done::Applied {
            detail: "disabled".into(),
            reference: serde_json::Value::Null,
            reverify_at: None,
        })
    }
    async fn verify(&self, _: ActionKind, _: &Target, _: &Done) -> Result<Verification, Failure> {
        self.calls.lock().unwrap().push("verify".into());
        Ok(if *self.enabled.lock().unwrap() {
            Verification::NotEffective {
                detail: "still enabled".into(),
            }
        } else {
            Verification::Effective {
                detail: "disabled".into(),
            }
        })
    }
    async fn revert(
        &self,
        _: ActionKind,
        _: &Target,
        prior: &TargetState,
        _: &Done,
        _: &ActionContext,
    ) -> Result<Done, Failure> {
        self.calls.lock().unwrap().push("revert".into());
        let was = prior.data["accountEnabled"].as_bool().unwrap_or(false);
        *self.enabled.lock().unwrap() = was;
        Ok(Done::Applied {
            detail: format!("accountEnabled={was}"),
            reference: serde_json::Value::Null,
            reverify_at: None,
        })
    }
    async fn check(&self) -> PermissionReport {
        PermissionReport {
            connector: "scripted".into(),
            authenticated: true,
            checked: true,
            detail: String::new(),
            granted: vec![],
            gaps: vec![],
        }
    }
}

struct FixedClock;
impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0)
            .single()
            .unwrap_or_default()
    }
}

fn setup(r: Arc<Scripted>) -> (Executor, Arc<MemLedger>, Arc<RecordingSleeper>) {
    let ledger = Arc::new(MemLedger::default());
    let sleeper = Arc::new(RecordingSleeper::default());
    let ex = Executor {
        ledger: ledger.clone(),
        responders: vec![r],
        clock: Arc::new(FixedClock),
        sleeper: sleeper.clone(),
        retry: RetryPolicy {
            verify_attempts: 2,
            ..RetryPolicy::default()
        },
    };
    (ex, ledger, sleeper)
}

fn action(incident: &str) -> PlannedAction {
    PlannedAction::new(
        incident,
        ActionKind::DisableUser,
        Target {
            kind: TargetKind::EntraUser,
            id: "alice@contoso.com".into(),
            owner: None,
            account: None,
        },
        Mode::Enforce,
        PlanStatus::Planned,
        0.995,
        "alice@contoso.com".into(),
    )
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    // Every future here completes without real waiting (the sleeper records, never sleeps).
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[test]
fn apply_verify_and_undo_restore_the_state_found() {
    let r = Scripted::new(true, vec![]);
    let (ex, ledger, _) = setup(r.clone());
    let a = action("inc-1");
    let rec = block_on(ex.execute(&a)).unwrap();
    assert_eq!(rec.status, ActionStatus::Applied);
    assert!(!*r.enabled.lock().unwrap());
    // A retry (redelivery) repeats nothing.
    let again = block_on(ex.execute(&a)).unwrap();
    assert_eq!(again.status, ActionStatus::Applied);
    assert_eq!(r.calls("apply"), 1);
    let rec = block_on(ex.undo(&a.id, "analyst")).unwrap();
    assert_eq!(rec.status, ActionStatus::Reverted);
    assert!(*r.enabled.lock().unwrap());
    let all = block_on(ledger.entries()).unwrap();
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
}

#[test]
fn already_disabled_stays_disabled_after_undo() {
    let r = Scripted::new(false, vec![]);
    let (ex, _, _) = setup(r.clone());
    let a = action("inc-1");
    let rec = block_on(ex.execute(&a)).unwrap();
    assert_eq!(rec.status, ActionStatus::NoOp);
    assert_eq!(r.calls("apply"), 0);
    let rec = block_on(ex.undo(&a.id, "analyst")).unwrap();
    assert_eq!(rec.status, ActionStatus::Reverted);
    assert_eq!(r.calls("revert"), 0);
    assert!(
        !*r.enabled.lock().unwrap(),
        "undo must not enable a user that was disabled before"
    );
}

#[test]
fn rate_limits_are_retried_with_the_vendors_delay_permanent_errors_are_not() {
    let r = Scripted::new(
        true,
        vec![Failure::RateLimited {
            retry_after_ms: Some(7000),
            detail: "429".into(),
        }],
    );
    let (ex, _, sleeper) = setup(r.clone());
    let rec = block_on(ex.execute(&action("inc-1"))).unwrap();
    assert_eq!(rec.status, ActionStatus::Applied);
    assert_eq!(r.calls("apply"), 2);
    assert_eq!(sleeper.delays()[0], Duration::from_secs(7));

    let r = Scripted::new(
        true,
        vec![Failure::PermissionMissing {
            permission: "User.EnableDisableAccount.All".into(),
            detail: "403".into(),
        }],
    );
    let (ex, _, _) = setup(r.clone());
    let rec = block_on(ex.execute(&action("inc-1"))).unwrap();
    assert_eq!(rec.status, ActionStatus::Failed);
    assert_eq!(r.calls("apply"), 1);
    assert!(matches!(
        rec.last_failure,
        Some(Failure::PermissionMissing { .. })
    ));

    let five = (0..5)
        .map(|_| Failure::Transient {
            detail: "503".into(),
        })
        .collect();
    let r = Scripted::new(true, five);
    let (ex, _, _) = setup(r.clone());
    let rec = block_on(ex.execute(&action("inc-1"))).unwrap();
    assert_eq!(rec.status, ActionStatus::Failed);
    assert_eq!(
        r.calls("apply"),
        RetryPolicy::default().max_attempts as usize
    );
}

#[test]
fn unknown_outcome_is_recorded_as_unknown_then_verified() {
    let r = Scripted::new(
        true,
        vec![Failure::Unknown {
            detail: "timeout after sending".into(),
        }],
    );
    let (ex, _, _) = setup(r.clone());
    let a = action("inc-1");
    let rec = block_on(ex.execute(&a)).unwrap();
    assert_eq!(rec.status, ActionStatus::Unknown);
    let rec = block_on(ex.reverify(&a.id)).unwrap();
    assert_eq!(rec.status, ActionStatus::Applied);
    assert_eq!(
        r.calls("apply"),
        1,
        "never repeat a mutating call whose outcome is unknown"
    );
}

#[test]
fn resume_after_crash_mid_apply_does_not_repeat_it() {
    let r = Scripted::new(true, vec![]);
    let (ex, ledger, _) = setup(r.clone());
    let a = action("inc-1");
    // Simulate a crash: recorded, captured, apply attempted (and done by the vendor), no result.
    let t = FixedClock.now();
    block_on(ledger.record(&a, t)).unwrap();
    let prior = TargetState {
        contained: false,
        summary: "accountEnabled=true".into(),
        data: serde_json::json!({"accountEnabled": true}),
    };
    block_on(ledger.append(&a.id, &LedgerEvent::Captured { prior }, t)).unwrap();
    block_on(ledger.append(
        &a.id,
        &LedgerEvent::Attempt {
            step: crate::ledger::Step::Apply,
            attempt: 1,
        },
        t,
    ))
    .unwrap();
    *r.enabled.lock().unwrap() = false;
    let rec = block_on(ex.execute(&a)).unwrap();
    assert_eq!(rec.status, ActionStatus::Applied);
    assert_eq!(r.calls("apply"), 0);
    // Undo still restores the state found before the crash.
    block_on(ex.undo(&a.id, "analyst")).unwrap();
    assert!(*r.enabled.lock().unwrap());
}

#[test]
fn undo_keeps_a_control_another_incident_relies_on() {
    let r = Scripted::new(true, vec![]);
    let (ex, _, _) = setup(r.clone());
    let (a, b) = (action("inc-1"), action("inc-2"));
    block_on(ex.execute(&a)).unwrap();
    let rb = block_on(ex.execute(&b)).unwrap();
    assert_eq!(
        rb.status,
        ActionStatus::NoOp,
        "second incident found it already disabled"
    );
    // A third incident finds it disabled too.
    let c = action("inc-3");
    assert_eq!(block_on(ex.execute(&c)).unwrap().status, ActionStatus::NoOp);
    // Undo of b leaves as found (it changed nothing): undoing b must not enable the user.
    block_on(ex.undo(&b.id, "analyst")).unwrap();
    assert!(!*r.enabled.lock().unwrap());
    // The third incident still relies on the control: a's undo does not lift it.
    let rec = block_on(ex.undo(&a.id, "analyst")).unwrap();
    assert_eq!(rec.status, ActionStatus::UndoKept);
    assert!(!*r.enabled.lock().unwrap());
}

#[test]
fn two_incidents_on_one_target_restore_it_in_either_undo_order() {
    for a_first in [true, false] {
        let r = Scripted::new(true, vec![]);
        let (ex, ledger, _) = setup(r.clone());
        let (a, b) = (action("inc-1"), action("inc-2"));
        block_on(ex.execute(&a)).unwrap();
        assert_eq!(block_on(ex.execute(&b)).unwrap().status, ActionStatus::NoOp);
        let undo = |id: &str| block_on(ex.undo(id, "analyst")).unwrap();
        let (first, second) = if a_first { (&a, &b) } else { (&b, &a) };
        let rec = undo(&first.id);
        if a_first {
            // Incident 2 still relies on the disable: the undo is deferred, the user stays off.
            assert_eq!(rec.status, ActionStatus::UndoKept);
        }
        assert!(
            !*r.enabled.lock().unwrap(),
            "still contained while another incident relies on it"
        );
        undo(&second.id);
        assert!(
            *r.enabled.lock().unwrap(),
            "both undone: back to the state found (a_first={a_first})"
        );
        let all = crate::ledger::current(&block_on(ledger.entries()).unwrap());
        assert!(
            all.iter().all(|x| x.status == ActionStatus::Reverted),
            "{:?}",
            all.iter().map(|x| x.status).collect::<Vec<_>>()
        );
        assert_eq!(r.calls("revert"), 1);
    }
}

#[test]
fn audit_mode_and_skips_act_on_nothing() {
    let r = Scripted::new(true, vec![]);
    let (ex, _, _) = setup(r.clone());
    let mut a = action("inc-1");
    a.mode = Mode::Audit;
    assert_eq!(
        block_on(ex.execute(&a)).unwrap().status,
        ActionStatus::Audited
    );
    let mut s = action("inc-2");
    s.status = PlanStatus::Skipped("excluded user".into());
    assert_eq!(
        block_on(ex.execute(&s)).unwrap().status,
        ActionStatus::Skipped
    );
    assert_eq!(r.calls("capture") + r.calls("apply"), 0);
    assert!(*r.enabled.lock().unwrap());
}

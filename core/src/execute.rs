//! The executor: runs planned actions through responders as checkpointed state machines in the
//! ledger, and undoes them through the same path.
//!
//! - Every call is preceded by an `Attempt` entry and followed by its result, so a retry after a
//!   crash (Lambda retry, SQS redelivery) sees exactly how far it got and never repeats a
//!   mutating call that succeeded (`../shared/cases` C16). An apply attempt with no recorded
//!   result is resumed by re-reading the target's state first.
//! - Rate limits and transient errors are retried with the vendor's delay (or a bounded
//!   exponential backoff); permanent errors, missing permissions and not-found are not (C9, C15).
//! - An outcome that is not known is recorded as unknown, never as success (C17).
//! - Undo restores the state found before acting: a target that already was in that state is
//!   left as found, and a control another incident still relies on is kept.

use crate::action::{ActionKind, PlanStatus, PlannedAction, Reversal};
use crate::ledger::{fold, ActionLedger, ActionRecord, ActionStatus, LedgerEvent, Step};
use crate::respond::{ActionContext, Done, Failure, Responder, TargetState, Verification};
use crate::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// Time, passed in.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
pub struct SystemClock;
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Waiting, passed in (tests wait for nothing).
#[async_trait]
pub trait Sleeper: Send + Sync {
    async fn sleep(&self, d: Duration);
}

/// A sleeper that never waits and records what it was asked to wait: for tests and dry runs,
/// where the delays the executor chose are what matters.
#[derive(Default)]
pub struct RecordingSleeper(std::sync::Mutex<Vec<Duration>>);

impl RecordingSleeper {
    /// The delays asked for so far, in order.
    pub fn delays(&self) -> Vec<Duration> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Sleeper for RecordingSleeper {
    async fn sleep(&self, d: Duration) {
        if let Ok(mut v) = self.0.lock() {
            v.push(d);
        }
    }
}

/// Retry bounds.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Verification attempts after an apply (IAM propagation, machine actions).
    pub verify_attempts: u32,
    pub verify_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            verify_attempts: 5,
            verify_delay: Duration::from_secs(2),
        }
    }
}

/// Errors of the executor itself (the ledger could not be written, or misuse).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no action {0} in the ledger")]
    UnknownAction(String),
    #[error("action {id} cannot be undone: {why}")]
    NotUndoable { id: String, why: String },
}

pub struct Executor {
    pub ledger: Arc<dyn ActionLedger>,
    pub responders: Vec<Arc<dyn Responder>>,
    pub clock: Arc<dyn Clock>,
    pub sleeper: Arc<dyn Sleeper>,
    pub retry: RetryPolicy,
}

impl Executor {
    fn responder(&self, kind: ActionKind) -> Option<&Arc<dyn Responder>> {
        self.responders.iter().find(|r| r.kinds().contains(&kind))
    }

    async fn log(&self, id: &str, e: LedgerEvent) -> Result<(), StoreError> {
        self.ledger
            .append(id, &e, self.clock.now())
            .await
            .map(|_| ())
    }

    async fn record_of(&self, id: &str) -> Result<ActionRecord, ExecError> {
        let h = self.ledger.history(id).await?;
        fold(&h).ok_or_else(|| ExecError::UnknownAction(id.to_string()))
    }

    /// Runs one planned action to a recorded outcome. Idempotent: a second call (or a call after
    /// a crash) resumes from the ledger and never repeats a call that succeeded.
    pub async fn execute(&self, action: &PlannedAction) -> Result<ActionRecord, ExecError> {
        let id = match self.ledger.by_key(&action.idempotency_key).await? {
            Some(id) => id,
            None => {
                if !self.ledger.record(action, self.clock.now()).await? {
                    // Lost a race with a concurrent delivery: resume theirs.
                    self.ledger
                        .by_key(&action.idempotency_key)
                        .await?
                        .ok_or_else(|| ExecError::UnknownAction(action.idempotency_key.clone()))?
                } else {
                    action.id.clone()
                }
            }
        };
        let rec = self.record_of(&id).await?;
        match rec.status {
            ActionStatus::Recorded | ActionStatus::InProgress => {}
            // Audit-logged actions may be executed later when the policy switches to enforce.
            ActionStatus::Audited if crate::ledger::runnable(action) => {}
            _ => return Ok(rec),
        }
        match &action.status {
            PlanStatus::Skipped(r) => {
                self.log(&id, LedgerEvent::Skipped { reason: r.clone() })
                    .await?;
                return self.record_of(&id).await;
            }
            PlanStatus::Escalate(r) => {
                self.log(&id, LedgerEvent::Escalated { reason: r.clone() })
                    .await?;
                return self.record_of(&id).await;
            }
            PlanStatus::Planned => {}
        }
        if !crate::ledger::runnable(action) {
            if rec.status != ActionStatus::Audited {
                self.log(&id, LedgerEvent::Audited).await?;
            }
            return self.record_of(&id).await;
        }
        let Some(responder) = self.responder(action.kind).cloned() else {
            let failure = Failure::Permanent {
                detail: format!("no connector configured for {}", action.kind),
            };
            self.log(
                &id,
                LedgerEvent::Failed {
                    step: Step::Apply,
                    failure,
                    attempt: 0,
                    will_retry: false,
                },
            )
            .await?;
            return self.record_of(&id).await;
        };
        let ctx = ActionContext {
            action_id: id.clone(),
            incident_id: action.incident_id.clone(),
            now: self.clock.now(),
            comment: format!(
                "Cordon {} for incident {} (action {id})",
                action.kind, action.incident_id
            ),
        };

        // Capture (again, if an apply may have happened without a recorded result).
        let prior = match (&rec.prior, rec.open_attempt) {
            (Some(p), None) => p.clone(),
            _ => {
                match self
                    .call(&id, Step::Capture, || {
                        responder.capture(action.kind, &action.target)
                    })
                    .await?
                {
                    Ok(state) => {
                        if rec.prior.is_some()
                            && state.contained
                            && rec.open_attempt == Some(Step::Apply)
                        {
                            // The interrupted apply did happen: record it, do not repeat it.
                            let done = Done::Applied {
                                detail: format!("found applied on resume: {}", state.summary),
                                reference: serde_json::Value::Null,
                                reverify_at: None,
                            };
                            self.log(&id, LedgerEvent::Applied { done: done.clone() })
                                .await?;
                            return self.verify(&id, &*responder, action, &done).await;
                        }
                        if rec.prior.is_none() {
                            self.log(
                                &id,
                                LedgerEvent::Captured {
                                    prior: state.clone(),
                                },
                            )
                            .await?;
                        }
                        rec.prior.clone().unwrap_or(state)
                    }
                    Err(_) => return self.record_of(&id).await,
                }
            }
        };
        if prior.contained {
            let done = Done::AlreadyInState {
                detail: format!("already in that state: {}", prior.summary),
            };
            self.log(&id, LedgerEvent::Applied { done }).await?;
            return self.record_of(&id).await;
        }
        let done = match self
            .call(&id, Step::Apply, || {
                responder.apply(action.kind, &action.target, &prior, &ctx)
            })
            .await?
        {
            Ok(d) => d,
            Err(_) => return self.record_of(&id).await,
        };
        self.log(&id, LedgerEvent::Applied { done: done.clone() })
            .await?;
        if matches!(done, Done::AlreadyInState { .. }) {
            return self.record_of(&id).await;
        }
        self.verify(&id, &*responder, action, &done).await
    }

    async fn verify(
        &self,
        id: &str,
        responder: &dyn Responder,
        action: &PlannedAction,
        done: &Done,
    ) -> Result<ActionRecord, ExecError> {
        for n in 1..=self.retry.verify_attempts.max(1) {
            match self
                .call(id, Step::Verify, || {
                    responder.verify(action.kind, &action.target, done)
                })
                .await?
            {
                Ok(v) => {
                    let settled = !matches!(v, Verification::NotYet { .. });
                    self.log(id, LedgerEvent::Verified { verification: v })
                        .await?;
                    if settled || n == self.retry.verify_attempts {
                        break;
                    }
                    self.sleeper.sleep(self.retry.verify_delay).await;
                }
                Err(_) => break,
            }
        }
        self.record_of(id).await
    }

    /// Re-verifies an action that is pending or unknown (the scheduled job calls this).
    pub async fn reverify(&self, id: &str) -> Result<ActionRecord, ExecError> {
        let rec = self.record_of(id).await?;
        let Some(responder) = self.responder(rec.action.kind).cloned() else {
            return Ok(rec);
        };
        match (&rec.status, &rec.applied) {
            (ActionStatus::Pending, Some(done)) => {
                let done = done.clone();
                self.verify(id, &*responder, &rec.action, &done).await
            }
            (ActionStatus::Unknown, _) => {
                // Whether the change happened is read from the target itself: verification
                // without a vendor reference reads the target's state.
                let probe = Done::Pending {
                    detail: "outcome unknown; verifying from the target's state".into(),
                    reference: serde_json::Value::Null,
                };
                let Ok(v) = self
                    .call(id, Step::Verify, || {
                        responder.verify(rec.action.kind, &rec.action.target, &probe)
                    })
                    .await?
                else {
                    return self.record_of(id).await;
                };
                match v {
                    // Not in effect (yet): whether the call happened is still not known.
                    Verification::NotYet { .. } => self.record_of(id).await,
                    Verification::Effective { detail } => {
                        let done = Done::Applied {
                            detail: format!(
                                "the call whose outcome was unknown did happen: {detail}"
                            ),
                            reference: serde_json::Value::Null,
                            reverify_at: None,
                        };
                        self.log(id, LedgerEvent::Applied { done: done.clone() })
                            .await?;
                        self.verify(id, &*responder, &rec.action, &done).await
                    }
                    Verification::NotEffective { detail } => {
                        let failure = Failure::Permanent {
                            detail: format!(
                                "not in effect after an unknown outcome ({detail}); a person must decide whether to run it again"
                            ),
                        };
                        self.log(
                            id,
                            LedgerEvent::Failed {
                                step: Step::Verify,
                                failure,
                                attempt: 1,
                                will_retry: false,
                            },
                        )
                        .await?;
                        self.log(
                            id,
                            LedgerEvent::Verified {
                                verification: Verification::NotEffective { detail },
                            },
                        )
                        .await?;
                        self.record_of(id).await
                    }
                }
            }
            (ActionStatus::Reverting, _) => {
                if let (Reversal::Inverse(inverse), Some(done)) =
                    (rec.action.kind.reversal(), rec.reverted.clone())
                {
                    self.verify_reversal(id, &*responder, &rec, inverse, &done)
                        .await?;
                }
                self.record_of(id).await
            }
            _ => Ok(rec),
        }
    }

    /// Undoes an action through the same path: restores the state found before it, leaves a
    /// target that already was in that state as found, and keeps a control that another
    /// incident's action still relies on.
    pub async fn undo(&self, id: &str, by: &str) -> Result<ActionRecord, ExecError> {
        // Which other actions rely on the same control is read from the ledger itself, so no
        // caller can get it wrong.
        let others = crate::ledger::current(&self.ledger.entries().await?);
        let rec = self.record_of(id).await?;
        if rec.status == ActionStatus::Reverted {
            return Ok(rec);
        }
        if rec.status == ActionStatus::Reverting {
            return self.reverify(id).await;
        }
        let undoable = matches!(
            rec.status,
            ActionStatus::Applied
                | ActionStatus::Pending
                | ActionStatus::NoOp
                | ActionStatus::Unknown
                | ActionStatus::NotEffective
                | ActionStatus::UndoKept
        );
        if !undoable {
            return Err(ExecError::NotUndoable {
                id: id.to_string(),
                why: format!("it is {:?}: nothing was changed", rec.status).to_lowercase(),
            });
        }
        self.log(id, LedgerEvent::UndoRequested { by: by.to_string() })
            .await?;
        let same_control = |o: &&ActionRecord| {
            o.action.id != rec.action.id
                && o.action.kind == rec.action.kind
                && o.action.target.kind == rec.action.target.kind
                && o.action.target.id == rec.action.target.id
        };
        // Another incident relies on the control if it put it there, or found it there
        // (a no-op), and has not been undone.
        let relies = |o: &&ActionRecord| o.in_force() || o.status == ActionStatus::NoOp;
        if rec.status == ActionStatus::NoOp {
            let done = Done::AlreadyInState {
                detail: "the target already was in that state before this action; left as found"
                    .into(),
            };
            self.log(id, LedgerEvent::Reverted { done }).await?;
            // The control this no-op relied on may have had its undo deferred for it: once
            // nothing else relies on it, that undo runs now.
            let still_relied: Vec<&ActionRecord> = others
                .iter()
                .filter(same_control)
                .filter(|o| relies(o) && o.status != ActionStatus::UndoKept)
                .collect();
            if still_relied.is_empty() {
                if let Some(kept) = others
                    .iter()
                    .filter(same_control)
                    .find(|o| o.status == ActionStatus::UndoKept)
                {
                    self.revert_now(kept, by).await?;
                }
            }
            return self.record_of(id).await;
        }
        if let Some(other) = others
            .iter()
            .filter(same_control)
            .find(|o| relies(o) && o.status != ActionStatus::UndoKept)
        {
            let reason = format!(
                "kept: incident {} (action {}) still relies on this {}; it is undone when that action is",
                other.action.incident_id, other.action.id, rec.action.kind
            );
            self.log(id, LedgerEvent::UndoKept { reason }).await?;
            return self.record_of(id).await;
        }
        self.revert_now(&rec, by).await?;
        self.record_of(id).await
    }

    /// Runs an action's reversal back to the state it found.
    async fn revert_now(&self, rec: &ActionRecord, by: &str) -> Result<(), ExecError> {
        let id = rec.action.id.as_str();
        let inverse = match rec.action.kind.reversal() {
            Reversal::NotNeeded(why) => {
                self.log(
                    id,
                    LedgerEvent::Reverted {
                        done: Done::AlreadyInState { detail: why },
                    },
                )
                .await?;
                return Ok(());
            }
            Reversal::Inverse(k) => k,
        };
        let Some(responder) = self.responder(rec.action.kind).cloned() else {
            return Err(ExecError::NotUndoable {
                id: id.to_string(),
                why: format!("no connector configured for {inverse}"),
            });
        };
        let prior = rec.prior.clone().unwrap_or(TargetState {
            contained: false,
            summary: "(state before not recorded)".into(),
            data: serde_json::Value::Null,
        });
        let applied = rec.applied.clone().unwrap_or(Done::Pending {
            detail: "(no apply result recorded)".into(),
            reference: serde_json::Value::Null,
        });
        let ctx = ActionContext {
            action_id: id.to_string(),
            incident_id: rec.action.incident_id.clone(),
            now: self.clock.now(),
            comment: format!("Cordon undo of {} (action {id}) by {by}", rec.action.kind),
        };
        if let Ok(done) = self
            .call(id, Step::Revert, || {
                responder.revert(rec.action.kind, &rec.action.target, &prior, &applied, &ctx)
            })
            .await?
        {
            let pending = matches!(done, Done::Pending { .. });
            self.log(id, LedgerEvent::Reverted { done: done.clone() })
                .await?;
            if pending {
                self.verify_reversal(id, &*responder, rec, inverse, &done)
                    .await?;
            }
        }
        Ok(())
    }

    /// Follows a reversal the vendor accepted but has not applied yet, as apply is followed.
    async fn verify_reversal(
        &self,
        id: &str,
        responder: &dyn Responder,
        rec: &ActionRecord,
        inverse: ActionKind,
        done: &Done,
    ) -> Result<(), ExecError> {
        for n in 1..=self.retry.verify_attempts.max(1) {
            match self
                .call(id, Step::Verify, || {
                    responder.verify(inverse, &rec.action.target, done)
                })
                .await?
            {
                Ok(v) => {
                    let settled = !matches!(v, Verification::NotYet { .. });
                    self.log(id, LedgerEvent::Verified { verification: v })
                        .await?;
                    if settled || n == self.retry.verify_attempts {
                        break;
                    }
                    self.sleeper.sleep(self.retry.verify_delay).await;
                }
                Err(_) => break,
            }
        }
        Ok(())
    }

    /// One call with attempts, retries and ledger entries. The outer `Result` is the ledger's;
    /// the inner one the call's final outcome (already recorded).
    async fn call<T, F, Fut>(
        &self,
        id: &str,
        step: Step,
        mut f: F,
    ) -> Result<Result<T, Failure>, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.log(id, LedgerEvent::Attempt { step, attempt }).await?;
            match f().await {
                Ok(v) => return Ok(Ok(v)),
                Err(failure) => {
                    let will_retry = failure.retryable() && attempt < self.retry.max_attempts;
                    let delay = failure.retry_after().unwrap_or_else(|| {
                        let exp = self
                            .retry
                            .base_delay
                            .saturating_mul(1u32 << (attempt - 1).min(16));
                        exp.min(self.retry.max_delay)
                    });
                    self.log(
                        id,
                        LedgerEvent::Failed {
                            step,
                            failure: failure.clone(),
                            attempt,
                            will_retry,
                        },
                    )
                    .await?;
                    if !will_retry {
                        return Ok(Err(failure));
                    }
                    self.sleeper.sleep(delay.min(self.retry.max_delay)).await;
                }
            }
        }
    }
}

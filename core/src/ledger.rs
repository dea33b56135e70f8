//! The action ledger: an append-only history of every action, with the state found before acting
//! and the reversal. The current state of an action is derived from its history ([`fold`]), never
//! stored beside it.

use crate::action::{Mode, PlanStatus, PlannedAction};
use crate::respond::{Done, Failure, TargetState, Verification};
use crate::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One step in an action's life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LedgerEvent {
    /// The action, as planned. Always the first entry.
    Recorded {
        action: PlannedAction,
    },
    /// Audit mode: decided and logged, not executed.
    Audited,
    /// Not executed by a safety rail (exclusion, break-glass, blast radius) or needs a person.
    Skipped {
        reason: String,
    },
    Escalated {
        reason: String,
    },
    /// A call is about to be made (so a crash between this and its result is visible).
    Attempt {
        step: Step,
        attempt: u32,
    },
    /// The state found before acting.
    Captured {
        prior: TargetState,
    },
    Applied {
        done: Done,
    },
    Failed {
        step: Step,
        failure: Failure,
        attempt: u32,
        will_retry: bool,
    },
    Verified {
        verification: Verification,
    },
    UndoRequested {
        by: String,
    },
    /// Undo left the control in place: another open incident still relies on it.
    UndoKept {
        reason: String,
    },
    Reverted {
        done: Done,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Capture,
    Apply,
    Verify,
    Revert,
}

/// One ledger entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Position in the whole ledger, assigned by the store.
    pub seq: u64,
    pub action_id: String,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub event: LedgerEvent,
}

/// Where an action stands, derived from its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Recorded, nothing run yet.
    Recorded,
    Audited,
    Skipped,
    Escalated,
    /// Calls were made and no final result is recorded (a crash, or retries under way).
    InProgress,
    /// Applied and verified in effect.
    Applied,
    /// Applied, not yet verified in effect (pending machine action, IAM propagation).
    Pending,
    /// The target already was in that state: nothing was changed.
    NoOp,
    /// Will not become effective (failed machine action, offline device past its deadline).
    NotEffective,
    Failed,
    /// Whether the change happened is not known: verify.
    Unknown,
    /// The reversal was accepted by the vendor and is not in effect yet (a release on a device
    /// that has not picked it up): still contained until verified.
    Reverting,
    Reverted,
    UndoKept,
}

/// The current state of one action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub action: PlannedAction,
    pub status: ActionStatus,
    pub prior: Option<TargetState>,
    pub applied: Option<Done>,
    pub verification: Option<Verification>,
    pub last_failure: Option<Failure>,
    pub reverted: Option<Done>,
    pub reason: Option<String>,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Whether the last call made has no recorded result (resume must re-read state first).
    pub open_attempt: Option<Step>,
}

/// Derives an action's current state from its history (in ledger order).
pub fn fold(entries: &[LedgerEntry]) -> Option<ActionRecord> {
    let mut it = entries.iter();
    let first = it.next()?;
    let LedgerEvent::Recorded { action } = &first.event else {
        return None;
    };
    let mut r = ActionRecord {
        action: action.clone(),
        status: ActionStatus::Recorded,
        prior: None,
        applied: None,
        verification: None,
        last_failure: None,
        reverted: None,
        reason: None,
        attempts: 0,
        created_at: first.at,
        updated_at: first.at,
        open_attempt: None,
    };
    for e in it {
        r.updated_at = e.at;
        match &e.event {
            LedgerEvent::Recorded { .. } => {}
            LedgerEvent::Audited => r.status = ActionStatus::Audited,
            LedgerEvent::Skipped { reason } => {
                r.status = ActionStatus::Skipped;
                r.reason = Some(reason.clone());
            }
            LedgerEvent::Escalated { reason } => {
                r.status = ActionStatus::Escalated;
                r.reason = Some(reason.clone());
            }
            LedgerEvent::Attempt { step, .. } => {
                if matches!(step, Step::Apply | Step::Revert) {
                    r.attempts += 1;
                }
                r.open_attempt = Some(*step);
                if r.status == ActionStatus::Recorded {
                    r.status = ActionStatus::InProgress;
                }
            }
            LedgerEvent::Captured { prior } => {
                r.open_attempt = None;
                // A re-capture during undo must not replace the state found before acting.
                if r.prior.is_none() {
                    r.prior = Some(prior.clone());
                }
            }
            LedgerEvent::Applied { done } => {
                r.open_attempt = None;
                r.status = match done {
                    Done::Applied { .. } => ActionStatus::Pending,
                    Done::AlreadyInState { .. } => ActionStatus::NoOp,
                    Done::Pending { .. } => ActionStatus::Pending,
                };
                r.applied = Some(done.clone());
                r.last_failure = None;
            }
            LedgerEvent::Failed {
                failure,
                will_retry,
                step,
                ..
            } => {
                r.open_attempt = None;
                r.last_failure = Some(failure.clone());
                if !will_retry {
                    let undoing = *step == Step::Revert;
                    r.status = match (failure, undoing) {
                        (_, true) => r.status, // the containment stays as it was
                        (Failure::Unknown { .. }, false) => ActionStatus::Unknown,
                        (_, false) if *step == Step::Verify => r.status,
                        _ => ActionStatus::Failed,
                    };
                }
            }
            LedgerEvent::Verified { verification } if r.status == ActionStatus::Reverting => {
                // Verification of the reversal.
                r.open_attempt = None;
                match verification {
                    Verification::Effective { .. } => r.status = ActionStatus::Reverted,
                    Verification::NotYet { .. } => {}
                    Verification::NotEffective { detail } => {
                        r.reason = Some(format!("the reversal did not take effect: {detail}"));
                    }
                }
            }
            LedgerEvent::Verified { verification } => {
                r.open_attempt = None;
                r.verification = Some(verification.clone());
                if r.status != ActionStatus::NoOp {
                    r.status = match verification {
                        Verification::Effective { .. } => ActionStatus::Applied,
                        Verification::NotYet { .. } => ActionStatus::Pending,
                        Verification::NotEffective { .. } => ActionStatus::NotEffective,
                    };
                }
            }
            LedgerEvent::UndoRequested { .. } => {}
            LedgerEvent::UndoKept { reason } => {
                r.status = ActionStatus::UndoKept;
                r.reason = Some(reason.clone());
            }
            LedgerEvent::Reverted { done } => {
                r.open_attempt = None;
                r.status = match done {
                    Done::Pending { .. } => ActionStatus::Reverting,
                    _ => ActionStatus::Reverted,
                };
                r.reverted = Some(done.clone());
            }
        }
    }
    Some(r)
}

impl ActionRecord {
    /// Whether the containment is (or may be) in force: what undo and other incidents see.
    pub fn in_force(&self) -> bool {
        matches!(
            self.status,
            ActionStatus::Applied
                | ActionStatus::Pending
                | ActionStatus::Unknown
                | ActionStatus::UndoKept
        )
    }
}

/// The ledger port. Append-only: entries are never changed or deleted.
#[async_trait]
pub trait ActionLedger: Send + Sync {
    /// Records an action under its idempotency key (a conditional write). Returns `false` when an
    /// action with that key was already recorded: the caller resumes it instead.
    async fn record(&self, action: &PlannedAction, at: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Appends one event to an action's history; returns its sequence number.
    async fn append(
        &self,
        action_id: &str,
        event: &LedgerEvent,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// One action's history, in order.
    async fn history(&self, action_id: &str) -> Result<Vec<LedgerEntry>, StoreError>;
    /// The action id recorded under an idempotency key.
    async fn by_key(&self, idempotency_key: &str) -> Result<Option<String>, StoreError>;
    /// The whole ledger, in order (export and verification).
    async fn entries(&self) -> Result<Vec<LedgerEntry>, StoreError>;
}

/// The current state of every action in the ledger, in the order they were recorded.
pub fn current(entries: &[LedgerEntry]) -> Vec<ActionRecord> {
    let mut order: Vec<&str> = Vec::new();
    let mut by: std::collections::HashMap<&str, Vec<LedgerEntry>> =
        std::collections::HashMap::new();
    for e in entries {
        let v = by.entry(e.action_id.as_str()).or_default();
        if v.is_empty() {
            order.push(e.action_id.as_str());
        }
        v.push(e.clone());
    }
    order
        .into_iter()
        .filter_map(|id| by.get(id).and_then(|h| fold(h)))
        .collect()
}

/// Whether a planned action will be executed by the executor.
pub fn runnable(action: &PlannedAction) -> bool {
    action.status == PlanStatus::Planned && action.mode == Mode::Enforce
}

//! Full cycles through `cordon_core::execute::Executor` against the mock: execute, undo, no-ops,
//! no retry of permanent errors, and retries after Okta's rate-limit reset.

#![allow(clippy::unwrap_used)] // tests unwrap what they set up

mod common;

use common::*;
use cordon_core::action::{ActionKind, Mode, PlanStatus, PlannedAction};
use cordon_core::execute::{Executor, RecordingSleeper, RetryPolicy, SystemClock};
use cordon_core::ledger::ActionStatus;
use cordon_core::respond::Failure;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn executor(r: cordon_okta::OktaResponder, sleeper: Arc<RecordingSleeper>) -> Executor {
    Executor {
        ledger: Arc::new(cordon_infra::SqliteStore::in_memory().unwrap()),
        responders: vec![Arc::new(r)],
        clock: Arc::new(SystemClock),
        sleeper,
        retry: RetryPolicy::default(),
    }
}

fn plan(kind: ActionKind, id: &str) -> PlannedAction {
    PlannedAction::new(
        "inc-okta",
        kind,
        target(id),
        Mode::Enforce,
        PlanStatus::Planned,
        0.999,
        format!("Okta user {id}"),
    )
}

#[tokio::test]
async fn suspend_then_undo_restores_active() {
    let m = mock().await;
    let ex = executor(oauth(&m), Arc::default());
    let action = plan(ActionKind::SuspendOktaUser, "alice@example.com");
    let rec = ex.execute(&action).await.unwrap();
    assert_eq!(rec.status, ActionStatus::Applied, "{rec:?}");
    assert_eq!(rec.prior.as_ref().unwrap().data["status"], "ACTIVE");
    assert_eq!(status(&m, ACTIVE).await, "SUSPENDED");

    // A second delivery of the same action changes nothing (C16).
    let again = ex.execute(&action).await.unwrap();
    assert_eq!(again.status, ActionStatus::Applied);
    assert_eq!(sent(&m, "POST", "/api/v1/users/").await.len(), 1);

    let undone = ex.undo(&action.id, "analyst").await.unwrap();
    assert_eq!(undone.status, ActionStatus::Reverted, "{undone:?}");
    assert_eq!(status(&m, ACTIVE).await, "ACTIVE");
}

#[tokio::test]
async fn an_already_suspended_user_stays_suspended_after_undo() {
    let m = mock().await;
    let ex = executor(api_token(&m), Arc::default());
    let action = plan(ActionKind::SuspendOktaUser, SUSPENDED);
    let rec = ex.execute(&action).await.unwrap();
    assert_eq!(rec.status, ActionStatus::NoOp, "{rec:?}");
    let undone = ex.undo(&action.id, "analyst").await.unwrap();
    assert_eq!(undone.status, ActionStatus::Reverted);
    assert_eq!(status(&m, SUSPENDED).await, "SUSPENDED");
    assert!(sent(&m, "POST", "/api/v1/users/").await.is_empty());
}

#[tokio::test]
async fn a_locked_out_user_fails_once_for_a_person() {
    let m = mock().await;
    let ex = executor(api_token(&m), Arc::default());
    let rec = ex
        .execute(&plan(ActionKind::SuspendOktaUser, LOCKED_OUT))
        .await
        .unwrap();
    assert_eq!(rec.status, ActionStatus::Failed);
    assert_eq!(rec.attempts, 1, "a permanent error is not retried");
    match rec.last_failure {
        Some(Failure::Permanent { detail }) => assert!(detail.contains("a person must decide")),
        other => panic!("{other:?}"),
    }
    assert_eq!(status(&m, LOCKED_OUT).await, "LOCKED_OUT");
}

#[tokio::test]
async fn a_rate_limited_suspend_is_retried_after_the_reset() {
    let m = mock().await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let ex = executor(api_token(&m), sleeper.clone());
    fault(
        &m,
        json!({"method": "POST", "path": "/okta/api/v1/users/*/lifecycle/suspend", "status": 429, "times": 1}),
    )
    .await;
    let rec = ex
        .execute(&plan(ActionKind::SuspendOktaUser, ACTIVE))
        .await
        .unwrap();
    assert_eq!(rec.status, ActionStatus::Applied, "{rec:?}");
    let waits = sleeper.delays().clone();
    assert_eq!(waits.len(), 1);
    assert!(
        waits[0] >= Duration::from_secs(1) && waits[0] <= Duration::from_secs(3),
        "{waits:?}"
    );
    let posts = sent(&m, "POST", "/api/v1/users/").await;
    assert_eq!(
        posts.iter().map(|p| p.status).collect::<Vec<_>>(),
        vec![429, 200]
    );
}

#[tokio::test]
async fn clear_sessions_then_undo_is_not_needed() {
    let m = mock().await;
    let ex = executor(api_token(&m), Arc::default());
    let action = plan(ActionKind::ClearOktaSessions, SUSPENDED);
    let rec = ex.execute(&action).await.unwrap();
    assert_eq!(rec.status, ActionStatus::Applied, "{rec:?}");
    assert_eq!(user_state(&m, SUSPENDED).await["oauth_tokens"], 0);
    let undone = ex.undo(&action.id, "analyst").await.unwrap();
    assert_eq!(undone.status, ActionStatus::Reverted);
    assert_eq!(status(&m, SUSPENDED).await, "SUSPENDED");
}

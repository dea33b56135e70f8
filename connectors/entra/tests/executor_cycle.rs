//! Full cycles through `cordon_core::execute::Executor`: execute → undo restores the state on
//! the mock; a privileged target fails once and is never retried; a no-op's undo changes nothing.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use common::*;
use cordon_core::action::{ActionKind, Mode, PlanStatus, PlannedAction, Target};
use cordon_core::execute::{Executor, RecordingSleeper, RetryPolicy, SystemClock};
use cordon_core::ledger::{ActionStatus, LedgerEvent};
use cordon_core::respond::Failure;
use std::sync::Arc;

fn executor(mock: &cordon_mockapi::MockServer) -> Executor {
    Executor {
        ledger: Arc::new(cordon_infra::SqliteStore::in_memory().unwrap()),
        responders: vec![Arc::new(responder(mock))],
        clock: Arc::new(SystemClock),
        sleeper: Arc::new(RecordingSleeper::default()),
        retry: RetryPolicy::default(),
    }
}

fn planned(kind: ActionKind, target: Target) -> PlannedAction {
    PlannedAction::new(
        "inc-1",
        kind,
        target,
        Mode::Enforce,
        PlanStatus::Planned,
        0.995,
        "attacker-controlled".into(),
    )
}

#[tokio::test]
async fn execute_then_undo_restores_the_user_and_the_app() {
    let mock = mock().await;
    let ex = executor(&mock);

    let a = planned(ActionKind::DisableUser, user("alice@contoso.com"));
    let rec = ex.execute(&a).await.unwrap();
    assert_eq!(rec.status, ActionStatus::Applied, "{rec:?}");
    assert!(!user_enabled(&mock, ALICE).await);
    // A second delivery of the same action changes nothing and calls no PATCH.
    clear_requests(&mock).await;
    ex.execute(&a).await.unwrap();
    assert!(graph_requests(&mock).await.is_empty());

    let undone = ex.undo(&a.id, "analyst@contoso.com").await.unwrap();
    assert_eq!(undone.status, ActionStatus::Reverted, "{undone:?}");
    assert!(user_enabled(&mock, ALICE).await);

    let b = planned(ActionKind::DisableOauthApp, app(&format!("app:{APP1}")));
    assert_eq!(ex.execute(&b).await.unwrap().status, ActionStatus::Applied);
    assert!(!sp_enabled(&mock, SP1).await);
    assert_eq!(
        ex.undo(&b.id, "analyst").await.unwrap().status,
        ActionStatus::Reverted
    );
    assert!(sp_enabled(&mock, SP1).await);

    let c = planned(ActionKind::RevokeSessions, user(ALICE));
    assert_eq!(ex.execute(&c).await.unwrap().status, ActionStatus::Applied);
    assert_eq!(
        ex.undo(&c.id, "analyst").await.unwrap().status,
        ActionStatus::Reverted
    );
}

#[tokio::test]
async fn a_no_op_and_its_undo_change_nothing() {
    let mock = mock().await;
    let ex = executor(&mock);
    let a = planned(ActionKind::DisableUser, user(BOB));
    assert_eq!(ex.execute(&a).await.unwrap().status, ActionStatus::NoOp);
    assert_eq!(
        ex.undo(&a.id, "analyst").await.unwrap().status,
        ActionStatus::Reverted
    );
    assert!(!user_enabled(&mock, BOB).await);
    assert!(graph_requests(&mock)
        .await
        .iter()
        .all(|(m, _, _)| m == "GET"));
}

#[tokio::test]
async fn a_privileged_target_fails_once_and_is_not_retried() {
    let mock = mock().await;
    let ex = executor(&mock);
    let a = planned(ActionKind::DisableUser, user(ADMIN));
    let rec = ex.execute(&a).await.unwrap();
    assert_eq!(rec.status, ActionStatus::Failed, "{rec:?}");
    assert!(
        matches!(&rec.last_failure, Some(Failure::PermissionMissing { permission, .. }) if permission.contains("privileged"))
    );
    let patches = graph_requests(&mock)
        .await
        .into_iter()
        .filter(|(m, _, _)| m == "PATCH")
        .count();
    assert_eq!(patches, 1);
}

#[tokio::test]
async fn throttling_is_retried_with_the_vendors_delay_then_succeeds() {
    let mock = mock().await;
    let ex = executor(&mock);
    fault(&mock, serde_json::json!({"method": "PATCH", "path": "/graph/v1.0/users/*", "status": 429, "retry_after": "1", "times": 2})).await;
    let a = planned(ActionKind::DisableUser, user(ALICE));
    let rec = ex.execute(&a).await.unwrap();
    assert_eq!(rec.status, ActionStatus::Applied, "{rec:?}");
    let statuses: Vec<u16> = graph_requests(&mock)
        .await
        .into_iter()
        .filter(|(m, _, _)| m == "PATCH")
        .map(|(_, _, s)| s)
        .collect();
    assert_eq!(statuses, vec![429, 429, 204]);
}

#[tokio::test]
async fn a_hang_on_the_patch_is_recorded_unknown_and_reverify_reads_the_target() {
    use cordon_core::respond::Responder;
    let mock = mock().await;
    let ex = executor(&mock);
    fault(&mock, serde_json::json!({"method": "PATCH", "path": "/graph/v1.0/users/*", "hang": true, "times": 1})).await;
    let a = planned(ActionKind::DisableUser, user(ALICE));
    let rec = ex.execute(&a).await.unwrap();
    assert_eq!(rec.status, ActionStatus::Unknown, "{rec:?}");
    let applies = ex
        .ledger
        .history(&a.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            matches!(
                e.event,
                LedgerEvent::Attempt {
                    step: cordon_core::ledger::Step::Apply,
                    ..
                }
            )
        })
        .count();
    assert_eq!(applies, 1, "an unknown outcome is not retried blindly");
    // The change did not land: re-verifying keeps it unknown, never success.
    assert_eq!(
        ex.reverify(&a.id).await.unwrap().status,
        ActionStatus::Unknown
    );
    // It landed later (another path made it): re-verifying reads it from the target.
    let r = responder(&mock);
    let prior = r
        .capture(ActionKind::DisableUser, &user(ALICE))
        .await
        .unwrap();
    r.apply(ActionKind::DisableUser, &user(ALICE), &prior, &ctx())
        .await
        .unwrap();
    let rec = ex.reverify(&a.id).await.unwrap();
    assert_eq!(rec.status, ActionStatus::Applied, "{rec:?}");
}

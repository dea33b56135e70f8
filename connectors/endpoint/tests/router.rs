//! The device router (id prefixes, `host:` lookup across vendors) and full executor cycles.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use cordon_core::action::{ActionKind, Mode, PlanStatus, PlannedAction, Target};
use cordon_core::execute::{Executor, RecordingSleeper, RetryPolicy, SystemClock};
use cordon_core::ledger::ActionStatus;
use cordon_core::respond::{Failure, Responder};
use cordon_endpoint::{DeviceRouter, EndpointConfig};
use serde_json::json;
use std::sync::Arc;

fn router(base: &str) -> DeviceRouter {
    DeviceRouter::from_config(EndpointConfig {
        mde: Some(mde_config(base)),
        crowdstrike: Some(cs_config(base)),
    })
    .unwrap()
}

#[tokio::test]
async fn dispatches_by_prefix_and_looks_hosts_up_in_mde_then_crowdstrike() {
    let mut s = seed(ALL_ROLES, json!([]));
    // mac-11 exists in CrowdStrike only; dup-01 twice in MDE.
    s["mde"]["machines"].as_array_mut().unwrap().extend([
        json!({"id": "5555555555555555555555555555555555555555", "computerDnsName": "dup-01"}),
        json!({"id": "6666666666666666666666666666666666666666", "computerDnsName": "dup-01"}),
    ]);
    let mock = start(&s).await;
    let r = router(&mock.url());
    assert_eq!(
        r.kinds(),
        vec![
            ActionKind::IsolateDevice,
            ActionKind::ReleaseDevice,
            ActionKind::ContainIp,
            ActionKind::UncontainIp
        ]
    );
    let st = r
        .capture(ActionKind::IsolateDevice, &device("host:ws-01.contoso.com"))
        .await
        .unwrap();
    assert_eq!(
        (st.data["vendor"].as_str(), st.data["machineId"].as_str()),
        (Some("mde"), Some(ONLINE))
    );
    let st = r
        .capture(ActionKind::IsolateDevice, &device("host:mac-11"))
        .await
        .unwrap();
    assert_eq!(
        (st.data["vendor"].as_str(), st.data["deviceId"].as_str()),
        (Some("crowdstrike"), Some(CS_ONLINE))
    );
    let st = r
        .capture(
            ActionKind::IsolateDevice,
            &device(&format!("cs:{CS_CONTAINED}")),
        )
        .await
        .unwrap();
    assert!(st.contained);
    let err = r
        .capture(ActionKind::IsolateDevice, &device("host:dup-01"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Failure::NotFound { ref detail } if detail.contains("ambiguous")),
        "{err:?}"
    );
    let err = r
        .capture(ActionKind::IsolateDevice, &device("host:ghost"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Failure::NotFound { ref detail } if detail.contains("Defender for Endpoint or CrowdStrike")),
        "{err:?}"
    );

    // Apply follows what capture resolved, without looking the host up again.
    let t = device("host:mac-11");
    let prior = r.capture(ActionKind::IsolateDevice, &t).await.unwrap();
    let before = count(&mock, "GET", "filter=hostname").await;
    r.apply(ActionKind::IsolateDevice, &t, &prior, &ctx())
        .await
        .unwrap();
    assert_eq!(count(&mock, "GET", "filter=hostname").await, before);
    assert_eq!(cs_status(&mock, CS_ONLINE).await, "containment_pending");

    let report = r.check().await;
    assert!(report.authenticated, "{report:?}");
    assert!(report.gaps.is_empty(), "{report:?}");
}

#[tokio::test]
async fn crowdstrike_only_router_refuses_ips_and_mde_ids() {
    let r = DeviceRouter::from_config(EndpointConfig {
        mde: None,
        crowdstrike: Some(cs_config("http://127.0.0.1:9")),
    })
    .unwrap();
    assert_eq!(
        r.kinds(),
        vec![ActionKind::IsolateDevice, ActionKind::ReleaseDevice]
    );
    let err = r
        .capture(ActionKind::IsolateDevice, &device(&format!("mde:{ONLINE}")))
        .await
        .unwrap_err();
    assert!(matches!(err, Failure::Permanent { .. }), "{err:?}");
    assert!(DeviceRouter::from_config(EndpointConfig::default()).is_err());
}

// --- executor cycle -------------------------------------------------------------------------

fn executor(r: DeviceRouter) -> Executor {
    Executor {
        ledger: Arc::new(cordon_infra::SqliteStore::in_memory().unwrap()),
        responders: vec![Arc::new(r)],
        clock: Arc::new(SystemClock),
        sleeper: Arc::new(RecordingSleeper::default()),
        retry: RetryPolicy {
            verify_attempts: 3,
            ..RetryPolicy::default()
        },
    }
}

fn plan(kind: ActionKind, target: Target) -> PlannedAction {
    PlannedAction::new(
        "inc-7",
        kind,
        target.clone(),
        Mode::Enforce,
        PlanStatus::Planned,
        0.995,
        target.id.clone(),
    )
}

#[tokio::test]
async fn executor_isolates_a_host_and_undo_releases_it() {
    let mock = start(&seed(ALL_ROLES, json!([]))).await;
    let ex = executor(router(&mock.url()));
    let action = plan(ActionKind::IsolateDevice, device("host:ws-01.contoso.com"));
    let rec = ex.execute(&action).await.unwrap();
    assert_eq!(rec.status, ActionStatus::Applied, "{rec:?}");
    assert_eq!(machine(&mock, ONLINE).await["isolated"], true);
    assert!(rec.prior.as_ref().is_some_and(|p| !p.contained));

    // A second delivery of the same action changes nothing (C16).
    ex.execute(&action).await.unwrap();
    assert_eq!(count(&mock, "POST", "/isolate").await, 1);

    let rec = ex.undo(&action.id, "analyst@contoso.com").await.unwrap();
    assert_eq!(rec.status, ActionStatus::Reverted, "{rec:?}");
    // The release is a machine action too: it completes as the device picks it up.
    let r = router(&mock.url());
    let after = r
        .capture(ActionKind::IsolateDevice, &device(&format!("mde:{ONLINE}")))
        .await
        .unwrap();
    let after = if after.contained {
        r.capture(ActionKind::IsolateDevice, &device(&format!("mde:{ONLINE}")))
            .await
            .unwrap()
    } else {
        after
    };
    assert!(!after.contained, "{after:?}");
    assert_eq!(machine(&mock, ONLINE).await["isolated"], false);
}

#[tokio::test]
async fn executor_records_a_noop_for_an_isolated_machine_and_its_undo_changes_nothing() {
    let mock = start(&seed(ALL_ROLES, json!([]))).await;
    let ex = executor(router(&mock.url()));
    let action = plan(
        ActionKind::IsolateDevice,
        device(&format!("mde:{ISOLATED}")),
    );
    assert_eq!(
        ex.execute(&action).await.unwrap().status,
        ActionStatus::NoOp
    );
    assert_eq!(
        ex.undo(&action.id, "analyst").await.unwrap().status,
        ActionStatus::Reverted
    );
    assert_eq!(machine(&mock, ISOLATED).await["isolated"], true);
    assert_eq!(count(&mock, "POST", "/mde/").await, 0);
}

#[tokio::test]
async fn executor_contains_an_ip_and_undo_removes_the_indicator() {
    let mock = start(&seed(ALL_ROLES, json!([]))).await;
    let ex = executor(router(&mock.url()));
    let action = plan(ActionKind::ContainIp, ip("198.51.100.23"));
    let rec = ex.execute(&action).await.unwrap();
    assert_eq!(rec.status, ActionStatus::Applied, "{rec:?}");
    let inds = state(&mock).await["mde"]["indicators"].clone();
    assert_eq!(inds.as_array().unwrap().len(), 1);
    assert!(inds[0]["description"]
        .as_str()
        .unwrap()
        .contains(&action.id));
    let rec = ex.undo(&action.id, "analyst").await.unwrap();
    assert_eq!(rec.status, ActionStatus::Reverted);
    assert!(state(&mock).await["mde"]["indicators"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn executor_does_not_retry_a_missing_permission() {
    let mock = start(&seed(&["Machine.Read.All"], json!([]))).await;
    let ex = executor(router(&mock.url()));
    let action = plan(ActionKind::IsolateDevice, device(&format!("mde:{ONLINE}")));
    let rec = ex.execute(&action).await.unwrap();
    assert_eq!(rec.status, ActionStatus::Failed);
    assert!(
        matches!(rec.last_failure, Some(Failure::PermissionMissing { ref permission, .. }) if permission == "Machine.Isolate")
    );
    assert_eq!(count(&mock, "POST", "/isolate").await, 1);
}

#[tokio::test]
async fn executor_keeps_an_offline_isolation_pending_never_applied() {
    let mock = start(&seed(ALL_ROLES, json!([]))).await;
    let ex = executor(router(&mock.url()));
    let action = plan(ActionKind::IsolateDevice, device(&format!("mde:{OFFLINE}")));
    let rec = ex.execute(&action).await.unwrap();
    assert_eq!(rec.status, ActionStatus::Pending, "{rec:?}");
    assert_eq!(machine(&mock, OFFLINE).await["isolated"], false);
}

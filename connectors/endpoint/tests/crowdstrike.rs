//! CrowdStrike responder against the stateful mock.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use cordon_core::action::ActionKind::*;
use cordon_core::respond::{Done, Failure, Responder, Verification};
use cordon_endpoint::CrowdStrikeResponder;
use serde_json::json;
use std::time::Duration;

fn responder(base: &str) -> CrowdStrikeResponder {
    CrowdStrikeResponder::new(cs_config(base)).unwrap()
}

fn seed_scopes(scopes: &[&str]) -> serde_json::Value {
    json!({"crowdstrike": cs_section(scopes)})
}

#[tokio::test]
async fn contain_is_pending_then_contained_and_revert_lifts_it() {
    let mock = start(&seed_scopes(&["devices:read", "devices:write"])).await;
    let r = responder(&mock.url());
    let t = device(&format!("cs:{CS_ONLINE}"));
    let prior = r.capture(IsolateDevice, &t).await.unwrap();
    assert!(!prior.contained);
    assert_eq!(prior.data["status"], "normal");
    let done = r.apply(IsolateDevice, &t, &prior, &ctx()).await.unwrap();
    assert!(matches!(done, Done::Pending { .. }), "{done:?}");
    assert_eq!(cs_status(&mock, CS_ONLINE).await, "containment_pending");
    assert!(matches!(
        r.verify(IsolateDevice, &t, &done).await.unwrap(),
        Verification::Effective { .. }
    ));
    assert_eq!(cs_status(&mock, CS_ONLINE).await, "contained");

    let undone = r
        .revert(IsolateDevice, &t, &prior, &done, &ctx())
        .await
        .unwrap();
    assert!(matches!(undone, Done::Pending { .. }), "{undone:?}");
    assert_eq!(
        cs_status(&mock, CS_ONLINE).await,
        "lift_containment_pending"
    );
    assert!(matches!(
        r.verify(ReleaseDevice, &t, &undone).await.unwrap(),
        Verification::Effective { .. }
    ));
    assert_eq!(cs_status(&mock, CS_ONLINE).await, "normal");
    let posts = requests(&mock)
        .await
        .into_iter()
        .filter(|(m, u, _)| m == "POST" && u.contains("devices-actions"))
        .map(|(_, u, _)| u)
        .collect::<Vec<_>>();
    assert_eq!(posts.len(), 2);
    assert!(posts[0].contains("action_name=contain"));
    assert!(posts[1].contains("action_name=lift_containment"));
    // One token for the whole run.
    assert_eq!(count(&mock, "POST", "/oauth2/token").await, 1);
}

#[tokio::test]
async fn a_contained_host_is_already_in_state_and_left_contained() {
    let mock = start(&seed_scopes(&["devices:read", "devices:write"])).await;
    let r = responder(&mock.url());
    let t = device(&format!("cs:{CS_CONTAINED}"));
    let prior = r.capture(IsolateDevice, &t).await.unwrap();
    assert!(prior.contained);
    let d = r
        .revert(
            IsolateDevice,
            &t,
            &prior,
            &Done::AlreadyInState {
                detail: String::new(),
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert!(matches!(d, Done::AlreadyInState { .. }));
    assert_eq!(cs_status(&mock, CS_CONTAINED).await, "contained");
}

#[tokio::test]
async fn offline_host_stays_pending_then_not_effective_and_undo_cancels() {
    let mock = start(&seed_scopes(&["devices:read", "devices:write"])).await;
    let mut cfg = cs_config(&mock.url());
    cfg.pending_deadline_secs = 1;
    let r = CrowdStrikeResponder::new(cfg).unwrap();
    let t = device(&format!("cs:{CS_OFFLINE}"));
    let prior = r.capture(IsolateDevice, &t).await.unwrap();
    let done = r.apply(IsolateDevice, &t, &prior, &ctx()).await.unwrap();
    assert!(matches!(
        r.verify(IsolateDevice, &t, &done).await.unwrap(),
        Verification::NotYet { .. }
    ));
    assert!(
        !r.capture(IsolateDevice, &t).await.unwrap().contained,
        "pending is never contained"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    match r.verify(IsolateDevice, &t, &done).await.unwrap() {
        Verification::NotEffective { detail } => {
            assert!(detail.contains("compensating"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    r.revert(IsolateDevice, &t, &prior, &done, &ctx())
        .await
        .unwrap();
    assert_eq!(cs_status(&mock, CS_OFFLINE).await, "normal");
}

#[tokio::test]
async fn bad_secret_is_unauthenticated() {
    let mock = start(&seed_scopes(&["devices:read", "devices:write"])).await;
    let mut cfg = cs_config(&mock.url());
    cfg.client_secret = "nope".to_string().into();
    let r = CrowdStrikeResponder::new(cfg).unwrap();
    let err = r
        .capture(IsolateDevice, &device(&format!("cs:{CS_ONLINE}")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Failure::Unauthenticated { ref detail } if detail.contains("403")),
        "{err:?}"
    );
    let report = r.check().await;
    assert!(!report.authenticated);
}

#[tokio::test]
async fn missing_hosts_write_is_permission_missing_once_and_check_reports_it() {
    let mock = start(&seed_scopes(&["devices:read"])).await;
    let r = responder(&mock.url());
    let t = device(&format!("cs:{CS_ONLINE}"));
    let prior = r.capture(IsolateDevice, &t).await.unwrap();
    let err = r
        .apply(IsolateDevice, &t, &prior, &ctx())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Failure::PermissionMissing { ref permission, .. } if permission == "Hosts: Write"),
        "{err:?}"
    );
    assert_eq!(count(&mock, "POST", "devices-actions").await, 1);
    let report = r.check().await;
    assert!(report.authenticated);
    assert_eq!(report.granted, vec!["Hosts: Read".to_string()]);
    assert_eq!(report.gaps.len(), 2);
    assert!(report
        .gaps
        .iter()
        .all(|g| g.missing == vec!["Hosts: Write".to_string()]));
    // The probe changed nothing.
    assert_eq!(cs_status(&mock, CS_ONLINE).await, "normal");

    let full = start(&seed_scopes(&["devices:read", "devices:write"])).await;
    let report = responder(&full.url()).check().await;
    assert!(report.gaps.is_empty(), "{report:?}");
    assert_eq!(cs_status(&full, CS_ONLINE).await, "normal");
}

#[tokio::test]
async fn unknown_host_is_not_found() {
    let mock = start(&seed_scopes(&["devices:read", "devices:write"])).await;
    let r = responder(&mock.url());
    let err = r
        .capture(IsolateDevice, &device(&format!("cs:{}", "d".repeat(32))))
        .await
        .unwrap_err();
    assert!(matches!(err, Failure::NotFound { .. }), "{err:?}");
    let err = r
        .capture(IsolateDevice, &device("host:ghost"))
        .await
        .unwrap_err();
    assert!(matches!(err, Failure::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn host_name_lookup() {
    let mock = start(&seed_scopes(&["devices:read", "devices:write"])).await;
    let r = responder(&mock.url());
    let prior = r
        .capture(IsolateDevice, &device("host:mac-11"))
        .await
        .unwrap();
    assert_eq!(prior.data["deviceId"], CS_ONLINE);
    assert!(requests(&mock)
        .await
        .iter()
        .any(|(_, u, _)| u.contains("filter=hostname")));
}

#[tokio::test]
async fn rate_limit_headers_give_the_delay() {
    let mut s = seed_scopes(&["devices:read", "devices:write"]);
    s["crowdstrike"]["rate_limit"] = json!({"limit": 1, "window_secs": 30});
    let mock = start(&s).await;
    let r = responder(&mock.url());
    let t = device(&format!("cs:{CS_ONLINE}"));
    r.capture(IsolateDevice, &t).await.unwrap();
    let err = r.capture(IsolateDevice, &t).await.unwrap_err();
    match err {
        Failure::RateLimited {
            retry_after_ms: Some(ms),
            ..
        } => assert!(ms <= 30_000, "{ms}"),
        other => panic!("{other:?}"),
    }

    let mock = start(&seed_scopes(&["devices:read", "devices:write"])).await;
    let r = responder(&mock.url());
    fault(
        &mock,
        json!({"path": "/crowdstrike/devices/*", "status": 429, "times": 1}),
    )
    .await;
    assert!(matches!(
        r.capture(IsolateDevice, &t).await.unwrap_err(),
        Failure::RateLimited {
            retry_after_ms: None,
            ..
        }
    ));
    fault(
        &mock,
        json!({"path": "/crowdstrike/devices/*", "status": 429, "retry_after": "3", "times": 1}),
    )
    .await;
    assert_eq!(
        r.capture(IsolateDevice, &t)
            .await
            .unwrap_err()
            .retry_after(),
        Some(Duration::from_secs(3))
    );
}

#[tokio::test]
async fn server_error_is_transient_and_hung_contain_is_unknown() {
    let mock = start(&seed_scopes(&["devices:read", "devices:write"])).await;
    let quick = || {
        let mut cfg = cs_config(&mock.url());
        cfg.timeouts = short();
        CrowdStrikeResponder::new(cfg).unwrap()
    };
    let r = quick();
    let t = device(&format!("cs:{CS_ONLINE}"));
    let prior = r.capture(IsolateDevice, &t).await.unwrap();
    fault(&mock, json!({"path": "/crowdstrike/devices/entities/devices-actions/v2", "status": 502, "times": 1})).await;
    assert!(matches!(
        r.apply(IsolateDevice, &t, &prior, &ctx())
            .await
            .unwrap_err(),
        Failure::Transient { .. }
    ));
    fault(&mock, json!({"path": "/crowdstrike/devices/entities/devices-actions/v2", "hang": true, "times": 1})).await;
    assert!(matches!(
        r.apply(IsolateDevice, &t, &prior, &ctx())
            .await
            .unwrap_err(),
        Failure::Unknown { .. }
    ));
    // The cached token is used: no new token request.
    fault(
        &mock,
        json!({"path": "/crowdstrike/oauth2/token", "hang": true}),
    )
    .await;
    assert!(r.capture(IsolateDevice, &t).await.is_ok());
    // A fresh client whose token request hangs: nothing was changed, so transient.
    let fresh = quick();
    assert!(matches!(
        fresh
            .apply(IsolateDevice, &t, &prior, &ctx())
            .await
            .unwrap_err(),
        Failure::Transient { .. }
    ));
}

//! MDE responder against the stateful mock (and wiremock for one-off shapes).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use cordon_core::action::ActionKind::{self, *};
use cordon_core::respond::{Done, Failure, Responder, Verification};
use cordon_endpoint::MdeResponder;
use serde_json::{json, Value};
use std::time::Duration;

fn responder(base: &str) -> MdeResponder {
    MdeResponder::new(mde_config(base)).unwrap()
}

fn reference(d: &Done) -> Value {
    match d {
        Done::Applied { reference, .. } | Done::Pending { reference, .. } => reference.clone(),
        Done::AlreadyInState { .. } => Value::Null,
    }
}

#[tokio::test]
async fn isolate_is_pending_until_the_device_applies_it_and_revert_releases() {
    let mock = start(&seed(ALL_ROLES, json!([]))).await;
    let r = responder(&mock.url());
    let t = device(&format!("mde:{ONLINE}"));

    let prior = r.capture(IsolateDevice, &t).await.unwrap();
    assert!(!prior.contained, "{prior:?}");
    assert_eq!(prior.data["isolated"], false);

    let done = r.apply(IsolateDevice, &t, &prior, &ctx()).await.unwrap();
    let Done::Pending { reference, .. } = &done else {
        panic!("isolation must be pending, never applied at once: {done:?}");
    };
    let action_id = reference["machineActionId"].as_str().unwrap().to_string();
    assert!(!action_id.is_empty());
    assert_eq!(machine(&mock, ONLINE).await["isolated"], false);

    // Pending → InProgress → Succeeded over successive reads.
    assert!(matches!(
        r.verify(IsolateDevice, &t, &done).await.unwrap(),
        Verification::NotYet { .. }
    ));
    assert!(matches!(
        r.verify(IsolateDevice, &t, &done).await.unwrap(),
        Verification::Effective { .. }
    ));
    assert_eq!(machine(&mock, ONLINE).await["isolated"], true);
    assert!(r.capture(IsolateDevice, &t).await.unwrap().contained);

    let undone = r
        .revert(IsolateDevice, &t, &prior, &done, &ctx())
        .await
        .unwrap();
    assert!(matches!(undone, Done::Pending { .. }), "{undone:?}");
    assert!(r.verify(ReleaseDevice, &t, &undone).await.is_ok());
    assert!(matches!(
        r.verify(ReleaseDevice, &t, &undone).await.unwrap(),
        Verification::Effective { .. }
    ));
    assert_eq!(machine(&mock, ONLINE).await["isolated"], false);

    assert_eq!(count(&mock, "POST", "/isolate").await, 1);
    assert_eq!(count(&mock, "POST", "/unisolate").await, 1);
    // The comment and isolation type were sent; the action records who asked and why.
    let st = state(&mock).await;
    let iso = st["mde"]["machineActions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == action_id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(iso["scope"], "Full");
    assert_eq!(iso["requestorComment"], ctx().comment);
    assert_eq!(iso["requestor"], CLIENT);
}

#[tokio::test]
async fn an_isolated_machine_is_already_contained_and_its_revert_changes_nothing() {
    let mock = start(&seed(ALL_ROLES, json!([]))).await;
    let r = responder(&mock.url());
    let t = device(&format!("mde:{ISOLATED}"));
    let prior = r.capture(IsolateDevice, &t).await.unwrap();
    assert!(prior.contained);
    let noop = Done::AlreadyInState { detail: "x".into() };
    let d = r
        .revert(IsolateDevice, &t, &prior, &noop, &ctx())
        .await
        .unwrap();
    assert!(matches!(d, Done::AlreadyInState { .. }));
    assert_eq!(machine(&mock, ISOLATED).await["isolated"], true);
    assert_eq!(count(&mock, "POST", "/mde/").await, 0);
    // Release of a machine that is not isolated is already in state too.
    let free = r
        .capture(ReleaseDevice, &device(&format!("mde:{ONLINE}")))
        .await
        .unwrap();
    assert!(free.contained);
}

#[tokio::test]
async fn offline_device_stays_pending_and_is_not_effective_after_the_deadline() {
    let mock = start(&seed(ALL_ROLES, json!([]))).await;
    let mut cfg = mde_config(&mock.url());
    cfg.pending_deadline_secs = 1;
    let r = MdeResponder::new(cfg).unwrap();
    let t = device(&format!("mde:{OFFLINE}"));
    let prior = r.capture(IsolateDevice, &t).await.unwrap();
    let done = r.apply(IsolateDevice, &t, &prior, &ctx()).await.unwrap();
    assert!(matches!(done, Done::Pending { .. }));
    for _ in 0..3 {
        assert!(matches!(
            r.verify(IsolateDevice, &t, &done).await.unwrap(),
            Verification::NotYet { .. }
        ));
        // Pending is never reported as contained (C14).
        let now = r.capture(IsolateDevice, &t).await.unwrap();
        assert!(!now.contained, "{now:?}");
        assert!(now.summary.contains("Pending"), "{}", now.summary);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    match r.verify(IsolateDevice, &t, &done).await.unwrap() {
        Verification::NotEffective { detail } => {
            assert!(detail.contains("NOT isolated"), "{detail}");
            assert!(detail.contains("disable the accounts"), "{detail}");
        }
        other => panic!("expected not effective, got {other:?}"),
    }
    assert_eq!(machine(&mock, OFFLINE).await["isolated"], false);

    // Undo cancels the request that never reached the device.
    let undone = r
        .revert(IsolateDevice, &t, &prior, &done, &ctx())
        .await
        .unwrap();
    assert!(
        matches!(undone, Done::Applied { ref detail, .. } if detail.contains("cancelled")),
        "{undone:?}"
    );
    let st = state(&mock).await;
    assert_eq!(st["mde"]["machineActions"][0]["status"], "Cancelled");
    assert_eq!(count(&mock, "POST", "/unisolate").await, 0);
}

#[tokio::test]
async fn failed_machine_action_is_not_effective() {
    let mock = start(&seed(ALL_ROLES, json!([]))).await;
    let r = responder(&mock.url());
    let t = device(&format!("mde:{FAILING}"));
    let prior = r.capture(IsolateDevice, &t).await.unwrap();
    let done = r.apply(IsolateDevice, &t, &prior, &ctx()).await.unwrap();
    assert!(matches!(
        r.verify(IsolateDevice, &t, &done).await.unwrap(),
        Verification::NotYet { .. }
    ));
    match r.verify(IsolateDevice, &t, &done).await.unwrap() {
        Verification::NotEffective { detail } => assert!(detail.contains("Failed"), "{detail}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn duplicate_request_follows_the_pending_one_and_opposite_one_is_permanent() {
    let mock = start(&seed(ALL_ROLES, json!([]))).await;
    let r = responder(&mock.url());
    let t = device(&format!("mde:{OFFLINE}"));
    let prior = r.capture(IsolateDevice, &t).await.unwrap();
    let first = r.apply(IsolateDevice, &t, &prior, &ctx()).await.unwrap();
    // A retry (C16) or another tool already asked: MDE answers 400 ActiveRequestAlreadyExists.
    let second = r.apply(IsolateDevice, &t, &prior, &ctx()).await.unwrap();
    assert_eq!(
        reference(&first)["machineActionId"],
        reference(&second)["machineActionId"]
    );
    assert_eq!(reference(&second)["adopted"], true);
    let isolates = requests(&mock)
        .await
        .into_iter()
        .filter(|(m, u, _)| m == "POST" && u.ends_with("/isolate"))
        .collect::<Vec<_>>();
    assert_eq!(
        isolates.iter().map(|r| r.2).collect::<Vec<_>>(),
        vec![201, 400]
    );

    let release_prior = r.capture(ReleaseDevice, &t).await.unwrap();
    let err = r
        .apply(ReleaseDevice, &t, &release_prior, &ctx())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Failure::Permanent { ref detail } if detail.contains("still Pending")),
        "{err:?}"
    );
    assert!(!err.retryable());
    assert_eq!(count(&mock, "POST", "/unisolate").await, 1);
}

#[tokio::test]
async fn missing_machine_isolate_is_permission_missing_and_reported_by_check() {
    let mock = start(&seed(&["Machine.Read.All"], json!([]))).await;
    let r = responder(&mock.url());
    let t = device(&format!("mde:{ONLINE}"));
    let prior = r.capture(IsolateDevice, &t).await.unwrap();
    let err = r
        .apply(IsolateDevice, &t, &prior, &ctx())
        .await
        .unwrap_err();
    match &err {
        Failure::PermissionMissing { permission, detail } => {
            assert_eq!(permission, "Machine.Isolate");
            assert!(detail.contains("403"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.retryable());
    assert_eq!(count(&mock, "POST", "/isolate").await, 1);

    let report = r.check().await;
    assert!(report.authenticated);
    assert_eq!(report.granted, vec!["Machine.Read.All".to_string()]);
    let gap = |k: ActionKind| {
        report
            .gaps
            .iter()
            .find(|g| g.action == k)
            .map(|g| g.missing.clone())
    };
    assert_eq!(
        gap(IsolateDevice),
        Some(vec!["Machine.Isolate".to_string()])
    );
    assert_eq!(gap(ContainIp), Some(vec!["Ti.ReadWrite.All".to_string()]));

    let full = start(&seed(ALL_ROLES, json!([]))).await;
    let report = responder(&full.url()).check().await;
    assert!(report.gaps.is_empty(), "{report:?}");
}

#[tokio::test]
async fn bad_secret_is_unauthenticated_and_check_says_so() {
    let mock = start(&seed(ALL_ROLES, json!([]))).await;
    let mut cfg = mde_config(&mock.url());
    cfg.client_secret = "wrong".to_string().into();
    let r = MdeResponder::new(cfg).unwrap();
    let err = r
        .capture(IsolateDevice, &device(&format!("mde:{ONLINE}")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Failure::Unauthenticated { ref detail } if detail.contains("AADSTS7000215")),
        "{err:?}"
    );
    assert!(!format!("{err:?}").contains("wrong"));
    let report = r.check().await;
    assert!(!report.authenticated);
    assert_eq!(report.gaps.len(), 4);
}

#[tokio::test]
async fn unknown_machine_and_unknown_host_are_not_found() {
    let mock = start(&seed(ALL_ROLES, json!([]))).await;
    let r = responder(&mock.url());
    let err = r
        .capture(IsolateDevice, &device(&format!("mde:{}", "9".repeat(40))))
        .await
        .unwrap_err();
    assert!(matches!(err, Failure::NotFound { .. }), "{err:?}");
    let err = r
        .capture(IsolateDevice, &device("host:nowhere.contoso.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Failure::NotFound { ref detail } if detail.contains("nowhere")),
        "{err:?}"
    );
    let err = r
        .capture(IsolateDevice, &device("not-an-id"))
        .await
        .unwrap_err();
    assert!(matches!(err, Failure::Permanent { .. }), "{err:?}");
}

#[tokio::test]
async fn host_name_is_looked_up() {
    let mock = start(&seed(ALL_ROLES, json!([]))).await;
    let r = responder(&mock.url());
    let t = device("host:WS-01.contoso.com");
    let prior = r.capture(IsolateDevice, &t).await.unwrap();
    assert_eq!(prior.data["machineId"], ONLINE);
    let done = r.apply(IsolateDevice, &t, &prior, &ctx()).await.unwrap();
    assert_eq!(reference(&done)["machineId"], ONLINE);
    assert!(count(&mock, "GET", "computerDnsName").await >= 1);
    assert_eq!(
        count(&mock, "POST", &format!("/machines/{ONLINE}/isolate")).await,
        1
    );
}

#[tokio::test]
async fn rate_limits_with_and_without_retry_after() {
    let mock = start(&seed(ALL_ROLES, json!([]))).await;
    let r = responder(&mock.url());
    let t = device(&format!("mde:{ONLINE}"));
    fault(
        &mock,
        json!({"path": "/mde/api/machines/*", "status": 429, "retry_after": "7", "times": 1}),
    )
    .await;
    let err = r.capture(IsolateDevice, &t).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert!(err.retryable());
    fault(
        &mock,
        json!({"path": "/mde/api/machines/*", "status": 429, "times": 1}),
    )
    .await;
    let err = r.capture(IsolateDevice, &t).await.unwrap_err();
    assert!(
        matches!(
            err,
            Failure::RateLimited {
                retry_after_ms: None,
                ..
            }
        ),
        "{err:?}"
    );

    // The mock's own per-window budget answers like MDE: 429 + Retry-After.
    let mut s = seed(ALL_ROLES, json!([]));
    s["mde"]["rate_limit"] = json!({"calls": 1, "window_secs": 60});
    let limited = start(&s).await;
    let r = responder(&limited.url());
    r.capture(ContainIp, &ip("198.51.100.1")).await.unwrap();
    let err = r.capture(ContainIp, &ip("198.51.100.1")).await.unwrap_err();
    assert!(
        matches!(err, Failure::RateLimited { retry_after_ms: Some(ms), .. } if ms > 0 && ms <= 60_000),
        "{err:?}"
    );
}

#[tokio::test]
async fn server_errors_are_transient_and_a_hung_isolate_is_unknown() {
    let mock = start(&seed(ALL_ROLES, json!([]))).await;
    let mut cfg = mde_config(&mock.url());
    cfg.timeouts = short();
    let r = MdeResponder::new(cfg).unwrap();
    let t = device(&format!("mde:{ONLINE}"));
    fault(
        &mock,
        json!({"path": "/mde/api/machines/*", "method": "GET", "status": 503, "times": 1}),
    )
    .await;
    assert!(matches!(
        r.capture(IsolateDevice, &t).await.unwrap_err(),
        Failure::Transient { .. }
    ));
    let prior = r.capture(IsolateDevice, &t).await.unwrap();

    fault(
        &mock,
        json!({"path": "/mde/api/machines/*/isolate", "status": 500, "times": 1}),
    )
    .await;
    assert!(matches!(
        r.apply(IsolateDevice, &t, &prior, &ctx())
            .await
            .unwrap_err(),
        Failure::Transient { .. }
    ));

    fault(
        &mock,
        json!({"path": "/mde/api/machines/*/isolate", "hang": true, "times": 1}),
    )
    .await;
    let err = r
        .apply(IsolateDevice, &t, &prior, &ctx())
        .await
        .unwrap_err();
    assert!(matches!(err, Failure::Unknown { .. }), "{err:?}");
    assert!(!err.retryable());

    fault(
        &mock,
        json!({"path": "/mde/api/machines/*", "method": "GET", "hang": true, "times": 1}),
    )
    .await;
    assert!(matches!(
        r.capture(IsolateDevice, &t).await.unwrap_err(),
        Failure::Transient { .. }
    ));
}

#[tokio::test]
async fn connection_refused_before_sending_is_transient_even_for_a_mutation() {
    let mut cfg = mde_config("http://127.0.0.1:9");
    cfg.authority_host = "http://127.0.0.1:9".into();
    let r = MdeResponder::new(cfg).unwrap();
    let t = device(&format!("mde:{ONLINE}"));
    let prior = cordon_core::respond::TargetState {
        contained: false,
        summary: String::new(),
        data: Value::Null,
    };
    let err = r
        .apply(IsolateDevice, &t, &prior, &ctx())
        .await
        .unwrap_err();
    assert!(matches!(err, Failure::Transient { .. }), "{err:?}");
}

#[tokio::test]
async fn contain_ip_creates_a_block_indicator_and_revert_deletes_exactly_it() {
    let other = json!([{"indicatorValue": "192.0.2.50", "indicatorType": "IpAddress", "action": "Block",
                        "title": "someone else's", "description": "manual"}]);
    let mock = start(&seed(ALL_ROLES, other)).await;
    let r = responder(&mock.url());
    let t = ip("203.0.113.7");
    let prior = r.capture(ContainIp, &t).await.unwrap();
    assert!(!prior.contained);
    let done = r.apply(ContainIp, &t, &prior, &ctx()).await.unwrap();
    let Done::Applied { reference, .. } = &done else {
        panic!("{done:?}")
    };
    let id = reference["indicatorId"].as_str().unwrap().to_string();

    let st = state(&mock).await;
    let ind = st["mde"]["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(ind["indicatorValue"], "203.0.113.7");
    assert_eq!(ind["action"], "Block");
    assert_eq!(ind["indicatorType"], "IpAddress");
    assert!(ind["title"].as_str().unwrap().contains("inc-42"));
    assert!(ind["description"]
        .as_str()
        .unwrap()
        .contains(&ctx().comment));
    let exp =
        chrono::DateTime::parse_from_rfc3339(ind["expirationTime"].as_str().unwrap()).unwrap();
    let days = (exp.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((167..=168).contains(&days), "{days}");

    assert!(matches!(
        r.verify(ContainIp, &t, &done).await.unwrap(),
        Verification::Effective { .. }
    ));
    assert!(r.capture(ContainIp, &t).await.unwrap().contained);

    let undone = r
        .revert(ContainIp, &t, &prior, &done, &ctx())
        .await
        .unwrap();
    assert!(matches!(undone, Done::Applied { .. }), "{undone:?}");
    let st = state(&mock).await;
    let left: Vec<_> = st["mde"]["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["indicatorValue"].clone())
        .collect();
    assert_eq!(left, vec![json!("192.0.2.50")], "only ours was removed");
    // Again: the indicator is gone (404) → already in state.
    let again = r
        .revert(ContainIp, &t, &prior, &done, &ctx())
        .await
        .unwrap();
    assert!(matches!(again, Done::AlreadyInState { .. }), "{again:?}");
}

#[tokio::test]
async fn an_existing_block_indicator_means_already_contained() {
    let existing = json!([{"indicatorValue": "203.0.113.7", "indicatorType": "IpAddress", "action": "AlertAndBlock",
                           "title": "SOC", "description": "blocked by the SOC"}]);
    let mock = start(&seed(ALL_ROLES, existing)).await;
    let r = responder(&mock.url());
    let prior = r.capture(ContainIp, &ip("203.0.113.7")).await.unwrap();
    assert!(prior.contained, "{prior:?}");
    let d = r
        .revert(
            ContainIp,
            &ip("203.0.113.7"),
            &prior,
            &Done::AlreadyInState {
                detail: String::new(),
            },
            &ctx(),
        )
        .await
        .unwrap();
    assert!(matches!(d, Done::AlreadyInState { .. }));
    assert_eq!(
        state(&mock).await["mde"]["indicators"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(count(&mock, "DELETE", "").await, 0);
}

#[tokio::test]
async fn an_existing_alert_indicator_is_restored_on_revert() {
    let existing = json!([{"indicatorValue": "203.0.113.8", "indicatorType": "IpAddress", "action": "Alert",
                           "title": "watch", "description": "watch this one", "severity": "Low"}]);
    let mock = start(&seed(ALL_ROLES, existing)).await;
    let r = responder(&mock.url());
    let t = ip("203.0.113.8");
    let prior = r.capture(ContainIp, &t).await.unwrap();
    assert!(!prior.contained);
    let done = r.apply(ContainIp, &t, &prior, &ctx()).await.unwrap();
    assert_eq!(
        state(&mock).await["mde"]["indicators"][0]["action"],
        "Block"
    );
    r.revert(ContainIp, &t, &prior, &done, &ctx())
        .await
        .unwrap();
    let ind = state(&mock).await["mde"]["indicators"][0].clone();
    assert_eq!(ind["action"], "Alert");
    assert_eq!(ind["title"], "watch");
    assert_eq!(ind["severity"], "Low");
}

#[tokio::test]
async fn uncontain_ip_removes_blocks_and_revert_recreates_them() {
    let existing = json!([{"indicatorValue": "203.0.113.9", "indicatorType": "IpAddress", "action": "Block",
                           "title": "t", "description": "d"}]);
    let mock = start(&seed(ALL_ROLES, existing)).await;
    let r = responder(&mock.url());
    let t = ip("203.0.113.9");
    let prior = r.capture(UncontainIp, &t).await.unwrap();
    assert!(!prior.contained);
    let done = r.apply(UncontainIp, &t, &prior, &ctx()).await.unwrap();
    assert!(state(&mock).await["mde"]["indicators"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(matches!(
        r.verify(UncontainIp, &t, &done).await.unwrap(),
        Verification::Effective { .. }
    ));
    r.revert(UncontainIp, &t, &prior, &done, &ctx())
        .await
        .unwrap();
    let inds = state(&mock).await["mde"]["indicators"].clone();
    assert_eq!(inds[0]["action"], "Block");
    assert_eq!(inds[0]["indicatorValue"], "203.0.113.9");
}

#[tokio::test]
async fn cidr_is_refused_before_any_call() {
    let mock = start(&seed(ALL_ROLES, json!([]))).await;
    let r = responder(&mock.url());
    let err = r
        .capture(ContainIp, &ip("203.0.113.0/24"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Failure::Permanent { ref detail } if detail.contains("CIDR")),
        "{err:?}"
    );
    assert!(requests(&mock).await.is_empty());
}

#[tokio::test]
async fn indicator_permission_missing_names_ti_readwrite() {
    let mock = start(&seed(&["Machine.Read.All", "Machine.Isolate"], json!([]))).await;
    let r = responder(&mock.url());
    let err = r.capture(ContainIp, &ip("203.0.113.7")).await.unwrap_err();
    assert!(
        matches!(err, Failure::PermissionMissing { ref permission, .. } if permission == "Ti.ReadWrite.All"),
        "{err:?}"
    );
}

mod wire {
    //! One-off answer shapes the mock does not produce.
    use super::*;
    use wiremock::matchers::{method, path, path_regex};
    use wiremock::{Mock, MockServer as Wire, ResponseTemplate};

    fn jwt(roles: &[&str]) -> String {
        use base64::Engine;
        let e = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.sig",
            e(json!({"alg": "none"})),
            e(json!({"roles": roles}))
        )
    }

    async fn wire() -> (Wire, MdeResponder) {
        let w = Wire::start().await;
        Mock::given(method("POST"))
            .and(path_regex(r"^/login/.*/oauth2/v2.0/token$"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"token_type": "Bearer", "expires_in": 3599, "access_token": jwt(ALL_ROLES)}),
            ))
            .mount(&w)
            .await;
        let r = responder(&w.uri());
        (w, r)
    }

    fn prior() -> cordon_core::respond::TargetState {
        cordon_core::respond::TargetState {
            contained: false,
            summary: String::new(),
            data: json!({"vendor": "mde", "machineId": ONLINE}),
        }
    }

    #[tokio::test]
    async fn conflict_is_permanent_and_sent_once() {
        let (w, r) = wire().await;
        Mock::given(method("POST"))
            .and(path(format!("/mde/api/machines/{ONLINE}/isolate")))
            .respond_with(
                ResponseTemplate::new(409)
                    .set_body_json(json!({"error": {"code": "Conflict", "message": "conflict"}})),
            )
            .expect(1)
            .mount(&w)
            .await;
        let err = r
            .apply(
                IsolateDevice,
                &device(&format!("mde:{ONLINE}")),
                &prior(),
                &ctx(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Failure::Permanent { .. }), "{err:?}");
        // The request that was sent carried the comment and the isolation type.
        let sent = w.received_requests().await.unwrap();
        let isolate = sent
            .iter()
            .find(|q| q.url.path().ends_with("/isolate"))
            .unwrap();
        let body: Value = serde_json::from_slice(&isolate.body).unwrap();
        assert_eq!(body["IsolationType"], "Full");
        assert_eq!(body["Comment"], ctx().comment);
        assert!(isolate
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("Bearer "));
    }

    #[tokio::test]
    async fn api_401_is_unauthenticated_and_the_token_is_fetched_again() {
        let (w, r) = wire().await;
        Mock::given(method("GET"))
            .and(path(format!("/mde/api/machines/{ONLINE}")))
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {"code": "Unauthorized", "message": "Authorization has been denied for this request."}})))
            .mount(&w)
            .await;
        let t = device(&format!("mde:{ONLINE}"));
        assert!(matches!(
            r.capture(IsolateDevice, &t).await.unwrap_err(),
            Failure::Unauthenticated { .. }
        ));
        assert!(matches!(
            r.capture(IsolateDevice, &t).await.unwrap_err(),
            Failure::Unauthenticated { .. }
        ));
        let tokens = w
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|q| q.url.path().ends_with("/token"))
            .count();
        assert_eq!(tokens, 2, "a refused token is not reused");
    }

    #[tokio::test]
    async fn retry_after_as_http_date() {
        let (w, r) = wire().await;
        let at = (chrono::Utc::now() + chrono::Duration::seconds(30))
            .to_rfc2822()
            .replace("+0000", "GMT");
        Mock::given(method("GET"))
            .and(path(format!("/mde/api/machines/{ONLINE}")))
            .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", at.as_str()))
            .mount(&w)
            .await;
        let err = r
            .capture(IsolateDevice, &device(&format!("mde:{ONLINE}")))
            .await
            .unwrap_err();
        let ms = match err {
            Failure::RateLimited {
                retry_after_ms: Some(ms),
                ..
            } => ms,
            other => panic!("{other:?}"),
        };
        assert!((25_000..=30_000).contains(&ms), "{ms}");
    }
}

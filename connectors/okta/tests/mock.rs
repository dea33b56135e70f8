//! The Okta responder against the stateful mock: every action kind, the C10 status matrix, both
//! authentication methods, and each failure shape.

#![allow(clippy::unwrap_used)] // tests unwrap what they set up

mod common;

use common::*;
use cordon_core::action::ActionKind::{ClearOktaSessions, SuspendOktaUser, UnsuspendOktaUser};
use cordon_core::respond::{Done, Failure, Responder, Verification};
use cordon_okta::OktaResponder;
use serde_json::json;

#[tokio::test]
async fn suspend_an_active_user_by_login_then_undo_restores_active() {
    let m = mock().await;
    let r = api_token(&m);
    assert_eq!(user_state(&m, ACTIVE).await["sessions"], 3);

    let prior = r
        .capture(SuspendOktaUser, &target("alice@example.com"))
        .await
        .unwrap();
    assert!(!prior.contained);
    assert_eq!(prior.data["status"], "ACTIVE");
    assert_eq!(prior.data["id"], ACTIVE);

    let done = r
        .apply(
            SuspendOktaUser,
            &target("alice@example.com"),
            &prior,
            &ctx(),
        )
        .await
        .unwrap();
    assert!(matches!(done, Done::Applied { .. }), "{done:?}");
    let u = user_state(&m, ACTIVE).await;
    assert_eq!(u["status"], "SUSPENDED");
    assert_eq!(u["sessions"], 0, "suspending ends the user's sessions");
    // The lifecycle call used the id resolved from the login, with the API token.
    let posts = sent(&m, "POST", "/api/v1/users/").await;
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].uri,
        format!("/okta/api/v1/users/{ACTIVE}/lifecycle/suspend")
    );
    assert_eq!(posts[0].auth_scheme.as_deref(), Some("SSWS"));

    let v = r
        .verify(SuspendOktaUser, &target("alice@example.com"), &done)
        .await
        .unwrap();
    assert!(matches!(v, Verification::Effective { .. }), "{v:?}");

    let undone = r
        .revert(
            SuspendOktaUser,
            &target("alice@example.com"),
            &prior,
            &done,
            &ctx(),
        )
        .await
        .unwrap();
    assert!(matches!(undone, Done::Applied { .. }), "{undone:?}");
    assert_eq!(status(&m, ACTIVE).await, "ACTIVE");

    // A second undo changes nothing.
    let again = r
        .revert(
            SuspendOktaUser,
            &target("alice@example.com"),
            &prior,
            &done,
            &ctx(),
        )
        .await
        .unwrap();
    assert!(matches!(again, Done::AlreadyInState { .. }), "{again:?}");
    assert_eq!(sent(&m, "POST", "/api/v1/users/").await.len(), 2);
}

#[tokio::test]
async fn suspended_and_deprovisioned_users_are_already_contained() {
    let m = mock().await;
    let r = api_token(&m);
    for (id, status) in [(SUSPENDED, "SUSPENDED"), (DEPROVISIONED, "DEPROVISIONED")] {
        let s = r.capture(SuspendOktaUser, &target(id)).await.unwrap();
        assert!(s.contained, "{status}");
        assert!(s.summary.contains(status), "{}", s.summary);
        // Applying anyway is a no-op, never a call.
        let d = r
            .apply(SuspendOktaUser, &target(id), &s, &ctx())
            .await
            .unwrap();
        match d {
            Done::AlreadyInState { detail } => assert!(detail.contains(status), "{detail}"),
            other => panic!("{other:?}"),
        }
    }
    assert!(sent(&m, "POST", "/api/v1/users/").await.is_empty());
}

#[tokio::test]
async fn other_statuses_are_left_to_a_person() {
    let m = mock().await;
    let r = api_token(&m);
    for (id, status) in [
        (LOCKED_OUT, "LOCKED_OUT"),
        ("00ustaged00001", "STAGED"),
        ("00uprovisioned", "PROVISIONED"),
        ("00urecovery001", "RECOVERY"),
        ("00upwexpired01", "PASSWORD_EXPIRED"),
    ] {
        let s = r.capture(SuspendOktaUser, &target(id)).await.unwrap();
        assert!(!s.contained, "{status}");
        assert!(s.summary.contains("a person must decide"), "{}", s.summary);
        match r.apply(SuspendOktaUser, &target(id), &s, &ctx()).await {
            Err(Failure::Permanent { detail }) => {
                assert!(detail.contains(status), "{detail}");
                assert!(detail.contains("a person must decide"), "{detail}");
            }
            other => panic!("{status}: {other:?}"),
        }
        assert_eq!(super_status(&m, id).await, status, "left as found");
    }
    assert!(
        sent(&m, "POST", "/api/v1/users/").await.is_empty(),
        "nothing suspended"
    );
}

async fn super_status(m: &cordon_mockapi::MockServer, id: &str) -> String {
    status(m, id).await
}

#[tokio::test]
async fn undo_leaves_an_already_suspended_user_suspended() {
    let m = mock().await;
    let r = api_token(&m);
    let prior = r
        .capture(SuspendOktaUser, &target(SUSPENDED))
        .await
        .unwrap();
    let done = Done::AlreadyInState {
        detail: "no-op".into(),
    };
    let undone = r
        .revert(SuspendOktaUser, &target(SUSPENDED), &prior, &done, &ctx())
        .await
        .unwrap();
    assert!(matches!(undone, Done::AlreadyInState { .. }), "{undone:?}");
    assert_eq!(status(&m, SUSPENDED).await, "SUSPENDED");
    assert!(sent(&m, "POST", "/api/v1/users/").await.is_empty());
}

#[tokio::test]
async fn undo_does_not_touch_a_user_someone_changed_since() {
    let m = mock().await;
    let r = api_token(&m);
    let prior = r.capture(SuspendOktaUser, &target(ACTIVE)).await.unwrap();
    let done = r
        .apply(SuspendOktaUser, &target(ACTIVE), &prior, &ctx())
        .await
        .unwrap();
    // A person deactivates the account after Cordon suspended it.
    set_status(&m, ACTIVE, "DEPROVISIONED");
    let undone = r
        .revert(SuspendOktaUser, &target(ACTIVE), &prior, &done, &ctx())
        .await
        .unwrap();
    match undone {
        Done::AlreadyInState { detail } => {
            assert!(detail.contains("DEPROVISIONED"), "{detail}");
            assert!(detail.contains("left as found"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(status(&m, ACTIVE).await, "DEPROVISIONED");
    // Or unsuspends it themselves.
    set_status(&m, ACTIVE, "ACTIVE");
    let undone = r
        .revert(SuspendOktaUser, &target(ACTIVE), &prior, &done, &ctx())
        .await
        .unwrap();
    assert!(matches!(undone, Done::AlreadyInState { .. }), "{undone:?}");
    let lifecycle = sent(&m, "POST", "/api/v1/users/").await;
    assert_eq!(lifecycle.len(), 1, "only the suspend: {lifecycle:?}");
}

#[tokio::test]
async fn unsuspend_as_an_action_and_its_undo() {
    let m = mock().await;
    let r = api_token(&m);
    let active = r.capture(UnsuspendOktaUser, &target(ACTIVE)).await.unwrap();
    assert!(active.contained, "an ACTIVE user is already unsuspended");
    let prior = r
        .capture(UnsuspendOktaUser, &target(SUSPENDED))
        .await
        .unwrap();
    assert!(!prior.contained);
    let done = r
        .apply(UnsuspendOktaUser, &target(SUSPENDED), &prior, &ctx())
        .await
        .unwrap();
    assert!(matches!(done, Done::Applied { .. }));
    assert_eq!(status(&m, SUSPENDED).await, "ACTIVE");
    assert!(matches!(
        r.verify(UnsuspendOktaUser, &target(SUSPENDED), &done)
            .await
            .unwrap(),
        Verification::Effective { .. }
    ));
    r.revert(UnsuspendOktaUser, &target(SUSPENDED), &prior, &done, &ctx())
        .await
        .unwrap();
    assert_eq!(status(&m, SUSPENDED).await, "SUSPENDED");
}

#[tokio::test]
async fn clear_sessions_always_applies_with_oauth_tokens_and_has_nothing_to_undo() {
    let m = mock().await;
    let r = api_token(&m);
    for id in [ACTIVE, SUSPENDED] {
        let prior = r.capture(ClearOktaSessions, &target(id)).await.unwrap();
        assert!(!prior.contained, "sessions are cleared in every status");
    }
    let prior = r
        .capture(ClearOktaSessions, &target("alice@example.com"))
        .await
        .unwrap();
    let done = r
        .apply(
            ClearOktaSessions,
            &target("alice@example.com"),
            &prior,
            &ctx(),
        )
        .await
        .unwrap();
    assert!(matches!(done, Done::Applied { .. }));
    let u = user_state(&m, ACTIVE).await;
    assert_eq!(u["sessions"], 0);
    assert_eq!(u["oauth_tokens"], 0);
    assert_eq!(u["status"], "ACTIVE", "clearing sessions does not suspend");
    let del = sent(&m, "DELETE", "/api/v1/users/").await;
    assert_eq!(
        del[0].uri,
        format!("/okta/api/v1/users/{ACTIVE}/sessions?oauthTokens=true")
    );
    let v = r
        .verify(ClearOktaSessions, &target("alice@example.com"), &done)
        .await
        .unwrap();
    assert!(matches!(v, Verification::Effective { .. }), "{v:?}");
    let undone = r
        .revert(
            ClearOktaSessions,
            &target("alice@example.com"),
            &prior,
            &done,
            &ctx(),
        )
        .await
        .unwrap();
    match undone {
        Done::AlreadyInState { detail } => assert!(detail.contains("signs in again"), "{detail}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(sent(&m, "DELETE", "/api/v1/users/").await.len(), 1);
}

#[tokio::test]
async fn logins_are_percent_encoded() {
    let m = mock().await;
    let r = api_token(&m);
    let s = r
        .capture(SuspendOktaUser, &target("Bob+Sec@Example.com"))
        .await
        .unwrap();
    assert_eq!(s.data["id"], "00uplusaddress");
    let gets = sent(&m, "GET", "/api/v1/users/").await;
    assert_eq!(gets[0].uri, "/okta/api/v1/users/bob%2Bsec@example.com");
}

#[tokio::test]
async fn a_malformed_target_is_refused_without_a_call() {
    let m = mock().await;
    let r = api_token(&m);
    let e = r
        .capture(SuspendOktaUser, &target("[\"a@b.com\",\"c@d.com\"]"))
        .await
        .unwrap_err();
    assert!(matches!(e, Failure::Permanent { .. }), "{e:?}");
    let e = r
        .capture(SuspendOktaUser, &target("../admin"))
        .await
        .unwrap_err();
    assert!(matches!(e, Failure::Permanent { .. }), "{e:?}");
    assert!(requests(&m).await.is_empty());
}

#[tokio::test]
async fn wrong_status_at_apply_time_is_permanent_and_sent_once() {
    let m = mock().await;
    let r = api_token(&m);
    let prior = r.capture(SuspendOktaUser, &target(ACTIVE)).await.unwrap();
    // Someone locks the account between the read and the suspend.
    set_status(&m, ACTIVE, "LOCKED_OUT");
    match r
        .apply(SuspendOktaUser, &target(ACTIVE), &prior, &ctx())
        .await
    {
        Err(Failure::Permanent { detail }) => {
            assert!(detail.contains("E0000001"), "{detail}");
            assert!(
                detail.contains("Cannot suspend a user that is not active"),
                "{detail}"
            );
        }
        other => panic!("{other:?}"),
    }
    let posts = sent(&m, "POST", "/api/v1/users/").await;
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].status, 400);
}

#[tokio::test]
async fn unknown_and_deprovisioned_users_are_not_found() {
    let m = mock().await;
    let r = api_token(&m);
    match r.capture(SuspendOktaUser, &target("00unobody00001")).await {
        Err(Failure::NotFound { detail }) => assert!(detail.contains("E0000007"), "{detail}"),
        other => panic!("{other:?}"),
    }
    match r
        .capture(ClearOktaSessions, &target("ghost@example.com"))
        .await
    {
        Err(Failure::NotFound { .. }) => {}
        other => panic!("{other:?}"),
    }
    // Deactivated between the read and the suspend: Okta answers 404 to lifecycle calls.
    let prior = r.capture(SuspendOktaUser, &target(ACTIVE)).await.unwrap();
    set_status(&m, ACTIVE, "DEPROVISIONED");
    match r
        .apply(SuspendOktaUser, &target(ACTIVE), &prior, &ctx())
        .await
    {
        Err(Failure::NotFound { detail }) => {
            assert!(detail.contains("Not found: Resource not found"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_api_token_is_unauthenticated() {
    let m = mock().await;
    let r = OktaResponder::new(&api_token_config(
        &format!("{}/okta", m.url()),
        "00wrong",
        2000,
    ))
    .unwrap();
    match r.capture(SuspendOktaUser, &target(ACTIVE)).await {
        Err(Failure::Unauthenticated { detail }) => {
            assert!(detail.contains("E0000011"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    let report = r.check().await;
    assert!(!report.authenticated);
}

#[tokio::test]
async fn oauth_service_app_suspends_and_undoes_with_one_token() {
    let m = mock().await;
    let r = oauth(&m);
    let prior = r.capture(SuspendOktaUser, &target(ACTIVE)).await.unwrap();
    let done = r
        .apply(SuspendOktaUser, &target(ACTIVE), &prior, &ctx())
        .await
        .unwrap();
    assert_eq!(status(&m, ACTIVE).await, "SUSPENDED");
    r.verify(SuspendOktaUser, &target(ACTIVE), &done)
        .await
        .unwrap();
    r.revert(SuspendOktaUser, &target(ACTIVE), &prior, &done, &ctx())
        .await
        .unwrap();
    assert_eq!(status(&m, ACTIVE).await, "ACTIVE");
    let reqs = requests(&m).await;
    let tokens: Vec<_> = reqs
        .iter()
        .filter(|q| q.uri == "/okta/oauth2/v1/token")
        .collect();
    assert_eq!(tokens.len(), 1, "the access token is cached: {reqs:?}");
    assert!(reqs
        .iter()
        .filter(|q| q.uri.starts_with("/okta/api/"))
        .all(|q| q.auth_scheme.as_deref() == Some("Bearer")));
}

#[tokio::test]
async fn an_assertion_signed_with_another_key_is_unauthenticated() {
    let m = mock().await;
    let r = OktaResponder::new(&oauth_config(
        &format!("{}/okta", m.url()),
        CLIENT_ID,
        "other.pem",
        &["okta.users.read", "okta.users.manage"],
    ))
    .unwrap();
    match r.capture(SuspendOktaUser, &target(ACTIVE)).await {
        Err(Failure::Unauthenticated { detail }) => {
            assert!(detail.contains("signature"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    assert!(!r.check().await.authenticated);
    // An app seeded without a public key does not check signatures (documented in the mock).
    let r = OktaResponder::new(&oauth_config(
        &format!("{}/okta", m.url()),
        NO_KEY_CLIENT,
        "other.pem",
        &["okta.users.read"],
    ))
    .unwrap();
    assert!(r.capture(SuspendOktaUser, &target(ACTIVE)).await.is_ok());
}

#[tokio::test]
async fn a_token_without_manage_scope_is_permission_missing() {
    let m = mock().await;
    let r = OktaResponder::new(&oauth_config(
        &format!("{}/okta", m.url()),
        CLIENT_ID,
        "service_app.pem",
        &["okta.users.read"],
    ))
    .unwrap();
    let prior = r.capture(SuspendOktaUser, &target(ACTIVE)).await.unwrap();
    match r
        .apply(SuspendOktaUser, &target(ACTIVE), &prior, &ctx())
        .await
    {
        Err(Failure::PermissionMissing { permission, detail }) => {
            assert_eq!(permission, "okta.users.manage");
            assert!(detail.contains("E0000006"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    match r
        .apply(ClearOktaSessions, &target(ACTIVE), &prior, &ctx())
        .await
    {
        Err(Failure::PermissionMissing { permission, .. }) => {
            assert_eq!(permission, "okta.users.manage")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(status(&m, ACTIVE).await, "ACTIVE");
    let posts = sent(&m, "POST", "/api/v1/users/").await;
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].status, 403);
}

#[tokio::test]
async fn check_reports_granted_scopes_and_gaps() {
    let m = mock().await;
    let url = format!("{}/okta", m.url());

    let full = oauth(&m).check().await;
    assert!(full.authenticated, "{full:?}");
    assert_eq!(full.granted, vec!["okta.users.read", "okta.users.manage"]);
    assert!(full.gaps.is_empty(), "{full:?}");

    // Configured for read only: the token works, every action lacks okta.users.manage.
    let r = OktaResponder::new(&oauth_config(
        &url,
        CLIENT_ID,
        "service_app.pem",
        &["okta.users.read"],
    ))
    .unwrap();
    let ro = r.check().await;
    assert!(ro.authenticated);
    assert_eq!(ro.gaps.len(), 3, "{ro:?}");
    assert!(ro
        .gaps
        .iter()
        .all(|g| g.missing == vec!["okta.users.manage".to_string()]));

    // The app is granted read only but asks for both: Okta refuses the token; check finds
    // which scopes are granted, one by one.
    let r = OktaResponder::new(&oauth_config(
        &url,
        READ_ONLY_CLIENT,
        "service_app.pem",
        &["okta.users.read", "okta.users.manage"],
    ))
    .unwrap();
    let probe = r.check().await;
    assert!(probe.authenticated, "{probe:?}");
    assert_eq!(probe.granted, vec!["okta.users.read"]);
    assert!(
        probe
            .gaps
            .iter()
            .any(|g| g.action == SuspendOktaUser
                && g.missing == vec!["okta.users.manage".to_string()])
    );
    // And an action with that config says which scope is missing.
    match r.capture(SuspendOktaUser, &target(ACTIVE)).await {
        Err(Failure::PermissionMissing { permission, .. }) => {
            assert!(permission.contains("okta.users.manage"), "{permission}")
        }
        other => panic!("{other:?}"),
    }

    let api = api_token(&m).check().await;
    assert!(api.authenticated, "{api:?}");
    assert!(
        api.detail.contains("admin who created it"),
        "{}",
        api.detail
    );
    assert!(sent(&m, "GET", "/api/v1/users?limit=1").await.len() >= 2);
}

#[tokio::test]
async fn rate_limit_waits_until_okta_resets() {
    let m = mock().await;
    let r = api_token(&m);
    let prior = r.capture(SuspendOktaUser, &target(ACTIVE)).await.unwrap();
    fault(
        &m,
        json!({"method": "POST", "path": "/okta/api/v1/users/*/lifecycle/suspend", "status": 429, "times": 1}),
    )
    .await;
    match r
        .apply(SuspendOktaUser, &target(ACTIVE), &prior, &ctx())
        .await
    {
        Err(Failure::RateLimited {
            retry_after_ms: Some(ms),
            detail,
        }) => {
            // The mock resets two seconds after the 429 (seconds granularity).
            assert!((1_000..=3_000).contains(&ms), "{ms}");
            assert!(detail.contains("E0000047"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(status(&m, ACTIVE).await, "ACTIVE");
    // The next attempt goes through.
    r.apply(SuspendOktaUser, &target(ACTIVE), &prior, &ctx())
        .await
        .unwrap();
    assert_eq!(status(&m, ACTIVE).await, "SUSPENDED");
}

#[tokio::test]
async fn server_errors_are_transient() {
    let m = mock().await;
    let r = api_token(&m);
    fault(
        &m,
        json!({"path": "/okta/api/v1/users/*", "status": 503, "times": 1}),
    )
    .await;
    match r.capture(SuspendOktaUser, &target(ACTIVE)).await {
        Err(Failure::Transient { detail }) => assert!(detail.contains("503"), "{detail}"),
        other => panic!("{other:?}"),
    }
    let prior = r.capture(SuspendOktaUser, &target(ACTIVE)).await.unwrap();
    fault(
        &m,
        json!({"method": "POST", "path": "/okta/api/v1/users/*/lifecycle/suspend", "status": 500, "times": 1}),
    )
    .await;
    assert!(matches!(
        r.apply(SuspendOktaUser, &target(ACTIVE), &prior, &ctx())
            .await,
        Err(Failure::Transient { .. })
    ));
}

#[tokio::test]
async fn a_hang_after_a_mutating_call_is_unknown_and_on_a_read_transient() {
    let m = mock().await;
    let r = OktaResponder::new(&api_token_config(
        &format!("{}/okta", m.url()),
        API_TOKEN,
        300,
    ))
    .unwrap();
    let prior = r.capture(SuspendOktaUser, &target(ACTIVE)).await.unwrap();
    fault(
        &m,
        json!({"method": "POST", "path": "/okta/api/v1/users/*/lifecycle/suspend", "hang": true, "times": 1}),
    )
    .await;
    let started = std::time::Instant::now();
    match r
        .apply(SuspendOktaUser, &target(ACTIVE), &prior, &ctx())
        .await
    {
        Err(Failure::Unknown { detail }) => assert!(detail.contains("not known"), "{detail}"),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    fault(
        &m,
        json!({"method": "DELETE", "path": "/okta/api/v1/users/*/sessions", "hang": true, "times": 1}),
    )
    .await;
    assert!(matches!(
        r.apply(ClearOktaSessions, &target(ACTIVE), &prior, &ctx())
            .await,
        Err(Failure::Unknown { .. })
    ));
    fault(
        &m,
        json!({"method": "GET", "path": "/okta/api/v1/users/*", "hang": true, "times": 1}),
    )
    .await;
    assert!(matches!(
        r.capture(SuspendOktaUser, &target(ACTIVE)).await,
        Err(Failure::Transient { .. })
    ));
}

#[tokio::test]
async fn nothing_listens_is_transient_even_for_a_mutating_call() {
    let m = mock().await;
    let url = format!("{}/okta", m.url());
    let r = api_token(&m);
    let prior = r.capture(SuspendOktaUser, &target(ACTIVE)).await.unwrap();
    drop(m);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let r = OktaResponder::new(&api_token_config(&url, API_TOKEN, 300)).unwrap();
    assert!(matches!(
        r.apply(SuspendOktaUser, &target(ACTIVE), &prior, &ctx())
            .await,
        Err(Failure::Transient { .. })
    ));
}

#[tokio::test]
async fn every_answer_carries_rate_limit_headers() {
    let m = mock().await;
    let resp = reqwest::Client::new()
        .get(format!("{}/okta/api/v1/users/{ACTIVE}", m.url()))
        .header("Authorization", format!("SSWS {API_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    for h in [
        "x-rate-limit-limit",
        "x-rate-limit-remaining",
        "x-rate-limit-reset",
    ] {
        assert!(resp.headers().contains_key(h), "{h}");
    }
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ACTIVE");
    assert!(body["_links"]["suspend"]["href"]
        .as_str()
        .unwrap()
        .ends_with("/lifecycle/suspend"));
    let unauth = reqwest::Client::new()
        .get(format!("{}/okta/api/v1/users/{ACTIVE}", m.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unauth.status(), 401);
    assert!(unauth.headers().contains_key("x-rate-limit-reset"));
}

#[test]
fn config_fails_loudly() {
    let bad = |v: serde_json::Value| {
        let c: Result<cordon_okta::OktaConfig, _> = serde_json::from_value(v);
        match c {
            Err(_) => true,
            Ok(c) => OktaResponder::new(&c).is_err(),
        }
    };
    let tok = json!({"method": "api_token", "token": "x"});
    assert!(bad(
        json!({"org_url": "http://contoso.okta.com", "auth": tok})
    ));
    assert!(bad(
        json!({"org_url": "https://contoso-admin.okta.com", "auth": tok})
    ));
    assert!(bad(
        json!({"org_url": "https://contoso.okta.com", "auth": {"method": "api_token", "token": " "}})
    ));
    assert!(bad(
        json!({"org_url": "https://contoso.okta.com", "auth": tok, "extra": 1})
    ));
    assert!(bad(json!({"org_url": "https://contoso.okta.com", "auth": {
        "method": "oauth_service_app", "client_id": "0oa1", "private_key_pem": "/nonexistent.pem"}})));
    assert!(bad(json!({"org_url": "https://contoso.okta.com", "auth": {
        "method": "oauth_service_app", "client_id": "0oa1",
        "private_key_pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"}})));
    assert!(!bad(
        json!({"org_url": "https://contoso.okta.com/", "auth": tok})
    ));
    // An inline PEM works as well as a path, and the secret never shows in Debug.
    let pem = std::fs::read_to_string(fixture("service_app.pem")).unwrap();
    let c: cordon_okta::OktaConfig =
        serde_json::from_value(json!({"org_url": "https://contoso.okta.com",
        "auth": {"method": "oauth_service_app", "client_id": "0oa1", "private_key_pem": pem}}))
        .unwrap();
    assert!(!format!("{c:?}").contains("PRIVATE KEY"));
    assert!(OktaResponder::new(&c).is_ok());
}

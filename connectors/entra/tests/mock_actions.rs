//! Every Entra action kind against the stateful Graph mock: apply changes the target, revert
//! restores exactly what was found, a target already in that state is left alone, and each
//! failure shape maps to the right outcome.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use common::*;
use cordon_core::action::ActionKind;
use cordon_core::respond::{Done, Failure, Responder, Verification};
use cordon_entra::EntraResponder;
use serde_json::json;

#[tokio::test]
async fn disable_user_reads_first_applies_verifies_and_revert_restores() {
    let mock = mock().await;
    let r = responder(&mock);
    let t = user("alice@contoso.com");

    let prior = capture(&r, ActionKind::DisableUser, &t).await;
    assert!(!prior.contained);
    assert_eq!(
        prior.summary,
        "accountEnabled=true, userType=Member, onPremisesSyncEnabled=null"
    );
    assert_eq!(prior.data["id"], ALICE);

    let done = r
        .apply(ActionKind::DisableUser, &t, &prior, &ctx())
        .await
        .unwrap();
    assert!(
        matches!(
            &done,
            Done::Applied {
                reverify_at: None,
                ..
            }
        ),
        "{done:?}"
    );
    assert!(!user_enabled(&mock, ALICE).await);
    assert!(matches!(
        r.verify(ActionKind::DisableUser, &t, &done).await.unwrap(),
        Verification::Effective { .. }
    ));

    let back = r
        .revert(ActionKind::DisableUser, &t, &prior, &done, &ctx())
        .await
        .unwrap();
    assert!(matches!(back, Done::Applied { .. }), "{back:?}");
    assert!(user_enabled(&mock, ALICE).await);

    let reqs = graph_requests(&mock).await;
    assert!(reqs.iter().any(|(m, u, _)| m == "GET"
        && u.contains("/graph/v1.0/users/alice@contoso.com?$select=id,userPrincipalName,accountEnabled,userType,onPremisesSyncEnabled")));
    let patches: Vec<_> = reqs.iter().filter(|(m, _, _)| m == "PATCH").collect();
    assert_eq!(patches.len(), 2, "{reqs:?}");
    assert!(patches.iter().all(|(_, _, s)| *s == 204));
}

#[tokio::test]
async fn a_user_disabled_before_stays_disabled_and_is_never_patched() {
    let mock = mock().await;
    let r = responder(&mock);
    let t = user(BOB);
    let prior = capture(&r, ActionKind::DisableUser, &t).await;
    assert!(prior.contained);
    let done = r
        .apply(ActionKind::DisableUser, &t, &prior, &ctx())
        .await
        .unwrap();
    assert!(matches!(done, Done::AlreadyInState { .. }));
    let back = r
        .revert(ActionKind::DisableUser, &t, &prior, &done, &ctx())
        .await
        .unwrap();
    assert!(matches!(back, Done::AlreadyInState { .. }));
    assert!(
        !user_enabled(&mock, BOB).await,
        "undo must not enable a user that was disabled before"
    );
    assert!(graph_requests(&mock)
        .await
        .iter()
        .all(|(m, _, _)| m == "GET"));
}

#[tokio::test]
async fn enable_user_and_its_revert() {
    let mock = mock().await;
    let r = responder(&mock);
    let t = user(BOB);
    let prior = capture(&r, ActionKind::EnableUser, &t).await;
    assert!(!prior.contained);
    let done = r
        .apply(ActionKind::EnableUser, &t, &prior, &ctx())
        .await
        .unwrap();
    assert!(user_enabled(&mock, BOB).await);
    assert!(matches!(
        r.verify(ActionKind::EnableUser, &t, &done).await.unwrap(),
        Verification::Effective { .. }
    ));
    r.revert(ActionKind::EnableUser, &t, &prior, &done, &ctx())
        .await
        .unwrap();
    assert!(!user_enabled(&mock, BOB).await);
}

#[tokio::test]
async fn revoke_sessions_sets_the_cutoff_and_notes_guests() {
    let mock = mock().await;
    let r = responder(&mock);
    let t = user(ALICE);
    let prior = capture(&r, ActionKind::RevokeSessions, &t).await;
    assert!(!prior.contained, "sessions can always be revoked again");
    let done = r
        .apply(ActionKind::RevokeSessions, &t, &prior, &ctx())
        .await
        .unwrap();
    let Done::Applied {
        detail, reference, ..
    } = &done
    else {
        panic!("{done:?}")
    };
    assert!(!detail.contains("B2B"));
    assert_eq!(reference["value"], true);
    assert!(
        state(&mock).await["graph"]["users"][ALICE]["signInSessionsValidFromDateTime"].is_string()
    );
    assert!(matches!(
        r.verify(ActionKind::RevokeSessions, &t, &done)
            .await
            .unwrap(),
        Verification::Effective { .. }
    ));
    let back = r
        .revert(ActionKind::RevokeSessions, &t, &prior, &done, &ctx())
        .await
        .unwrap();
    assert!(matches!(back, Done::AlreadyInState { .. }));

    let g = user(GUEST);
    let prior = capture(&r, ActionKind::RevokeSessions, &g).await;
    let done = r
        .apply(ActionKind::RevokeSessions, &g, &prior, &ctx())
        .await
        .unwrap();
    let Done::Applied { detail, .. } = &done else {
        panic!("{done:?}")
    };
    assert!(
        detail.contains("B2B") && detail.contains("home tenant"),
        "{detail}"
    );
    assert_eq!(
        graph_requests(&mock)
            .await
            .iter()
            .filter(|(m, u, _)| m == "POST" && u.ends_with("/revokeSignInSessions"))
            .count(),
        2
    );
}

#[tokio::test]
async fn service_principal_by_object_id_and_by_app_id() {
    let mock = mock().await;
    let r = responder(&mock);
    for id in [format!("sp:{SP1}"), format!("app:{APP1}")] {
        let t = app(&id);
        let prior = capture(&r, ActionKind::DisableOauthApp, &t).await;
        assert!(!prior.contained, "{id}");
        assert!(prior.summary.contains("Mail Exfil App"));
        let done = r
            .apply(ActionKind::DisableOauthApp, &t, &prior, &ctx())
            .await
            .unwrap();
        assert!(!sp_enabled(&mock, SP1).await);
        assert!(matches!(
            r.verify(ActionKind::DisableOauthApp, &t, &done)
                .await
                .unwrap(),
            Verification::Effective { .. }
        ));
        r.revert(ActionKind::DisableOauthApp, &t, &prior, &done, &ctx())
            .await
            .unwrap();
        assert!(sp_enabled(&mock, SP1).await, "{id}");
    }
    assert!(
        graph_requests(&mock)
            .await
            .iter()
            .any(|(m, u, _)| m == "PATCH"
                && u.contains(&format!("servicePrincipals(appId='{APP1}')")))
    );

    // Already disabled: no-op, undo leaves it disabled.
    let t = app(&format!("sp:{SP2}"));
    let prior = capture(&r, ActionKind::DisableOauthApp, &t).await;
    assert!(prior.contained);
    let done = r
        .apply(ActionKind::DisableOauthApp, &t, &prior, &ctx())
        .await
        .unwrap();
    assert!(matches!(done, Done::AlreadyInState { .. }));
    r.revert(ActionKind::DisableOauthApp, &t, &prior, &done, &ctx())
        .await
        .unwrap();
    assert!(!sp_enabled(&mock, SP2).await);

    // EnableOauthApp as a kind of its own.
    let prior = capture(&r, ActionKind::EnableOauthApp, &t).await;
    assert!(!prior.contained);
    r.apply(ActionKind::EnableOauthApp, &t, &prior, &ctx())
        .await
        .unwrap();
    assert!(sp_enabled(&mock, SP2).await);

    // An unknown app is NotFound, not success.
    let e = r
        .capture(
            ActionKind::DisableOauthApp,
            &app("app:00000000-0000-4000-8000-000000000000"),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Failure::NotFound { .. }), "{e:?}");
}

#[tokio::test]
async fn on_prem_synced_user_is_disabled_temporarily_and_the_sync_is_detected() {
    // C8: the PATCH works, the next directory sync enables the account again.
    let mock = mock().await;
    let r = responder(&mock);
    let t = user(CAROL);
    let c = ctx();
    let prior = capture(&r, ActionKind::DisableUser, &t).await;
    assert!(prior.summary.contains("onPremisesSyncEnabled=true"));
    let done = r
        .apply(ActionKind::DisableUser, &t, &prior, &c)
        .await
        .unwrap();
    let Done::Applied {
        detail,
        reverify_at,
        reference,
    } = &done
    else {
        panic!("{done:?}")
    };
    assert_eq!(*reverify_at, Some(c.now + chrono::Duration::minutes(40)));
    assert!(
        detail.contains("on-premises") && detail.contains("temporary"),
        "{detail}"
    );
    assert_eq!(reference["onPremisesSyncEnabled"], true);
    assert!(!user_enabled(&mock, CAROL).await);
    assert!(matches!(
        r.verify(ActionKind::DisableUser, &t, &done).await.unwrap(),
        Verification::Effective { .. }
    ));

    let synced: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/graph/_sync", mock.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(synced["reenabled"], json!([CAROL]));
    assert!(user_enabled(&mock, CAROL).await);
    let v = r.verify(ActionKind::DisableUser, &t, &done).await.unwrap();
    let Verification::NotEffective { detail } = v else {
        panic!("{v:?}")
    };
    assert!(detail.contains("on-premises"), "{detail}");
}

#[tokio::test]
async fn privileged_target_is_permission_missing_naming_the_target() {
    // C9: the app has User.EnableDisableAccount.All; the admin still answers 403.
    let mock = mock().await;
    let r = responder(&mock);
    let t = user(ADMIN);
    let prior = capture(&r, ActionKind::DisableUser, &t).await;
    let e = r
        .apply(ActionKind::DisableUser, &t, &prior, &ctx())
        .await
        .unwrap_err();
    let Failure::PermissionMissing { permission, detail } = &e else {
        panic!("{e:?}")
    };
    assert!(permission.contains("privileged target"), "{permission}");
    assert!(detail.contains("Authorization_RequestDenied"), "{detail}");
    assert!(!e.retryable());
    assert!(user_enabled(&mock, ADMIN).await);
}

#[tokio::test]
async fn missing_permissions_are_named() {
    let mock = mock().await;
    let r = EntraResponder::from_config(&config(&mock, WEAK_CLIENT, secret(SECRET))).unwrap();
    let t = user(ALICE);
    let prior = capture(&r, ActionKind::DisableUser, &t).await;
    let e = r
        .apply(ActionKind::DisableUser, &t, &prior, &ctx())
        .await
        .unwrap_err();
    assert_eq!(
        e,
        Failure::PermissionMissing {
            permission: "User.EnableDisableAccount.All".into(),
            detail: match &e {
                Failure::PermissionMissing { detail, .. } => detail.clone(),
                _ => unreachable!(),
            }
        }
    );
    let e = r
        .apply(ActionKind::RevokeSessions, &t, &prior, &ctx())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Failure::PermissionMissing { permission, .. } if permission == "User.RevokeSessions.All"),
        "{e:?}"
    );
    // OwnedBy does not reach an app Cordon does not own.
    let a = app(&format!("sp:{SP1}"));
    let e = r
        .capture(ActionKind::DisableOauthApp, &a)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Failure::PermissionMissing { permission, .. } if permission == "Application.Read.All"),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_json_array_id_is_sent_encoded_and_answers_not_found() {
    // C2: normally normalized upstream; if not, Graph's 404 is NotFound, never success.
    let mock = mock().await;
    let r = responder(&mock);
    let t = user("[\"alice@contoso.com\"]");
    let e = r.capture(ActionKind::DisableUser, &t).await.unwrap_err();
    let Failure::NotFound { detail } = &e else {
        panic!("{e:?}")
    };
    assert!(detail.contains("Request_ResourceNotFound"), "{detail}");
    let reqs = graph_requests(&mock).await;
    assert_eq!(reqs.len(), 1);
    assert!(
        reqs[0]
            .1
            .starts_with("/graph/v1.0/users/%5B%22alice@contoso.com%22%5D?"),
        "{reqs:?}"
    );
    assert_eq!(reqs[0].2, 404);
    // Apply straight away (no capture) is NotFound too, and nothing changed.
    let prior = cordon_core::respond::TargetState {
        contained: false,
        summary: String::new(),
        data: json!({}),
    };
    let e = r
        .apply(ActionKind::DisableUser, &t, &prior, &ctx())
        .await
        .unwrap_err();
    assert!(matches!(e, Failure::NotFound { .. }), "{e:?}");
    assert!(user_enabled(&mock, ALICE).await);

    let e = r
        .capture(ActionKind::DisableUser, &user("nobody@contoso.com"))
        .await
        .unwrap_err();
    assert!(matches!(e, Failure::NotFound { .. }), "{e:?}");
}

#[tokio::test]
async fn throttling_with_and_without_retry_after() {
    let mock = mock().await;
    let r = responder(&mock);
    let t = user(ALICE);
    let prior = capture(&r, ActionKind::DisableUser, &t).await;
    fault(&mock, json!({"method": "PATCH", "path": "/graph/v1.0/users/*", "status": 429, "retry_after": "3", "times": 1})).await;
    let e = r
        .apply(ActionKind::DisableUser, &t, &prior, &ctx())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Failure::RateLimited {
                retry_after_ms: Some(3000),
                ..
            }
        ),
        "{e:?}"
    );
    fault(
        &mock,
        json!({"method": "PATCH", "path": "/graph/v1.0/users/*", "status": 429, "times": 1}),
    )
    .await;
    let e = r
        .apply(ActionKind::DisableUser, &t, &prior, &ctx())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Failure::RateLimited {
                retry_after_ms: None,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(user_enabled(&mock, ALICE).await);
    r.apply(ActionKind::DisableUser, &t, &prior, &ctx())
        .await
        .unwrap();
    assert!(!user_enabled(&mock, ALICE).await);
}

#[tokio::test]
async fn server_errors_conflicts_and_refused_tokens() {
    let mock = mock().await;
    let r = responder(&mock);
    let t = user(ALICE);
    let prior = capture(&r, ActionKind::DisableUser, &t).await;
    for (status, check) in [
        (
            503u16,
            (|f: &Failure| matches!(f, Failure::Transient { .. })) as fn(&Failure) -> bool,
        ),
        (500, |f| matches!(f, Failure::Transient { .. })),
        (409, |f| matches!(f, Failure::Permanent { .. })),
        (400, |f| matches!(f, Failure::Permanent { .. })),
        (401, |f| matches!(f, Failure::Unauthenticated { .. })),
    ] {
        fault(
            &mock,
            json!({"method": "PATCH", "path": "/graph/v1.0/users/*", "status": status, "times": 1}),
        )
        .await;
        let e = r
            .apply(ActionKind::DisableUser, &t, &prior, &ctx())
            .await
            .unwrap_err();
        assert!(check(&e), "{status}: {e:?}");
    }
    assert!(user_enabled(&mock, ALICE).await);
}

#[tokio::test]
async fn a_hang_after_a_patch_is_unknown_and_on_a_read_is_transient() {
    // C17: 300 ms request timeout.
    let mock = mock().await;
    let r = responder(&mock);
    let t = user(ALICE);
    let prior = capture(&r, ActionKind::DisableUser, &t).await;
    fault(
        &mock,
        json!({"method": "PATCH", "path": "/graph/v1.0/users/*", "hang": true, "times": 1}),
    )
    .await;
    let started = std::time::Instant::now();
    let e = r
        .apply(ActionKind::DisableUser, &t, &prior, &ctx())
        .await
        .unwrap_err();
    assert!(matches!(e, Failure::Unknown { .. }), "{e:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));

    fault(
        &mock,
        json!({"method": "GET", "path": "/graph/v1.0/users/*", "hang": true, "times": 1}),
    )
    .await;
    let e = r.capture(ActionKind::DisableUser, &t).await.unwrap_err();
    assert!(matches!(e, Failure::Transient { .. }), "{e:?}");

    fault(&mock, json!({"method": "POST", "path": "/graph/v1.0/users/*/revokeSignInSessions", "hang": true, "times": 1})).await;
    let e = r
        .apply(ActionKind::RevokeSessions, &t, &prior, &ctx())
        .await
        .unwrap_err();
    assert!(matches!(e, Failure::Unknown { .. }), "{e:?}");
}

#[tokio::test]
async fn nothing_listening_is_transient_even_for_a_patch() {
    let mock = mock().await;
    let mut cfg = config(&mock, CLIENT, secret(SECRET));
    // A port nothing listens on: the connection is refused before anything is sent.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    cfg.graph_base_url = format!("http://127.0.0.1:{port}/graph/v1.0");
    let r = EntraResponder::from_config(&cfg).unwrap();
    let prior = cordon_core::respond::TargetState {
        contained: false,
        summary: String::new(),
        data: json!({"accountEnabled": true}),
    };
    let e = r
        .apply(ActionKind::DisableUser, &user(ALICE), &prior, &ctx())
        .await
        .unwrap_err();
    assert!(matches!(e, Failure::Transient { .. }), "{e:?}");
}

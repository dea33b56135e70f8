//! One-off Graph answer shapes with wiremock (tokens still come from the mock identity
//! platform): what was sent, Retry-After as an HTTP date, a revoke that does not answer `true`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use common::*;
use cordon_core::action::ActionKind;
use cordon_core::respond::{Done, Failure, Responder, TargetState, Verification};
use cordon_entra::EntraResponder;
use serde_json::json;
use wiremock::matchers::{body_json, header_regex, method, path};
use wiremock::{Mock, MockServer as Wire, ResponseTemplate};

async fn setup() -> (cordon_mockapi::MockServer, Wire, EntraResponder) {
    let mock = mock().await;
    let wire = Wire::start().await;
    let mut cfg = config(&mock, CLIENT, secret(SECRET));
    cfg.graph_base_url = format!("{}/v1.0", wire.uri());
    let r = EntraResponder::from_config(&cfg).unwrap();
    (mock, wire, r)
}

fn enabled_prior() -> TargetState {
    TargetState {
        contained: false,
        summary: "accountEnabled=true".into(),
        data: json!({"id": ALICE, "accountEnabled": true, "userType": "Member", "onPremisesSyncEnabled": false}),
    }
}

#[tokio::test]
async fn the_patch_sent_is_exactly_account_enabled_false_with_a_bearer_token() {
    let (_mock, wire, r) = setup().await;
    Mock::given(method("PATCH"))
        .and(path(format!("/v1.0/users/{ALICE}")))
        .and(header_regex(
            "authorization",
            "^Bearer [A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$",
        ))
        .and(body_json(json!({"accountEnabled": false})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&wire)
        .await;
    let done = r
        .apply(
            ActionKind::DisableUser,
            &user(ALICE),
            &enabled_prior(),
            &ctx(),
        )
        .await
        .unwrap();
    assert!(matches!(done, Done::Applied { .. }));
}

#[tokio::test]
async fn retry_after_as_an_http_date() {
    let (_mock, wire, r) = setup().await;
    let at = chrono::Utc::now() + chrono::Duration::seconds(20);
    Mock::given(method("PATCH"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header(
                    "Retry-After",
                    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string().as_str(),
                )
                .set_body_json(
                    json!({"error": {"code": "TooManyRequests", "message": "Too many requests"}}),
                ),
        )
        .expect(1)
        .mount(&wire)
        .await;
    let e = r
        .apply(
            ActionKind::DisableUser,
            &user(ALICE),
            &enabled_prior(),
            &ctx(),
        )
        .await
        .unwrap_err();
    let Failure::RateLimited {
        retry_after_ms: Some(ms),
        detail,
    } = &e
    else {
        panic!("{e:?}")
    };
    assert!((15_000..=20_000).contains(ms), "{ms}");
    assert!(detail.contains("TooManyRequests"));
}

#[tokio::test]
async fn a_bad_request_is_permanent_and_sent_once() {
    let (_mock, wire, r) = setup().await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": {"code": "Request_BadRequest", "message": "Invalid value specified for property 'accountEnabled'"}}),
        ))
        .expect(1)
        .mount(&wire)
        .await;
    let e = r
        .apply(
            ActionKind::DisableUser,
            &user(ALICE),
            &enabled_prior(),
            &ctx(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Failure::Permanent { detail } if detail.contains("Request_BadRequest")),
        "{e:?}"
    );
    assert!(!e.retryable());
}

#[tokio::test]
async fn a_revoke_without_value_true_is_pending_until_the_cutoff_is_read() {
    let (_mock, wire, r) = setup().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/users/{ALICE}/revokeSignInSessions")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&wire)
        .await;
    let c = ctx();
    let done = r
        .apply(
            ActionKind::RevokeSessions,
            &user(ALICE),
            &enabled_prior(),
            &c,
        )
        .await
        .unwrap();
    assert!(matches!(done, Done::Pending { .. }), "{done:?}");

    // Graph still shows an older cut-off: not yet.
    let old = (c.now - chrono::Duration::hours(1)).to_rfc3339();
    let stale = Mock::given(method("GET"))
        .and(path(format!("/v1.0/users/{ALICE}")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": ALICE, "signInSessionsValidFromDateTime": old})),
        )
        .up_to_n_times(1)
        .mount_as_scoped(&wire)
        .await;
    let v = r
        .verify(ActionKind::RevokeSessions, &user(ALICE), &done)
        .await
        .unwrap();
    assert!(matches!(v, Verification::NotYet { .. }), "{v:?}");
    drop(stale);

    let fresh = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/users/{ALICE}")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": ALICE, "signInSessionsValidFromDateTime": fresh})),
        )
        .mount(&wire)
        .await;
    let v = r
        .verify(ActionKind::RevokeSessions, &user(ALICE), &done)
        .await
        .unwrap();
    assert!(matches!(v, Verification::Effective { .. }), "{v:?}");
}

#[tokio::test]
async fn a_read_without_account_enabled_or_with_a_broken_body_is_permanent() {
    let (_mock, wire, r) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/users/{ALICE}")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": ALICE, "userPrincipalName": "alice@contoso.com"})),
        )
        .up_to_n_times(1)
        .mount(&wire)
        .await;
    let e = r
        .capture(ActionKind::DisableUser, &user(ALICE))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Failure::Permanent { detail } if detail.contains("accountEnabled")),
        "{e:?}"
    );
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>proxy</html>"))
        .mount(&wire)
        .await;
    let e = r
        .capture(ActionKind::DisableUser, &user(ALICE))
        .await
        .unwrap_err();
    assert!(matches!(e, Failure::Permanent { .. }), "{e:?}");
}

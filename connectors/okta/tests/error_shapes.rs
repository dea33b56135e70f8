//! One-off answer shapes with wiremock: Okta's rate-limit headers, `Retry-After`, bodies, and the
//! requests the responder sent.

#![allow(clippy::unwrap_used)] // tests unwrap what they set up

mod common;

use common::{api_token_config, ctx, target};
use cordon_core::action::ActionKind::SuspendOktaUser;
use cordon_core::respond::{Failure, Responder, TargetState};
use cordon_okta::OktaResponder;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ID: &str = "00uwiremock001";

fn responder(s: &MockServer) -> OktaResponder {
    OktaResponder::new(&api_token_config(&s.uri(), "00tok", 1000)).unwrap()
}

fn active() -> TargetState {
    TargetState {
        contained: false,
        summary: "ACTIVE".into(),
        data: json!({"id": ID, "login": "w@example.com", "status": "ACTIVE"}),
    }
}

fn okta_error(code: &str, summary: &str) -> serde_json::Value {
    json!({"errorCode": code, "errorSummary": summary, "errorLink": code, "errorId": "oaeX", "errorCauses": []})
}

async fn suspend_answer(template: ResponseTemplate) -> (Result<(), Failure>, usize) {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/api/v1/users/{ID}/lifecycle/suspend")))
        .and(header("authorization", "SSWS 00tok"))
        .respond_with(template)
        .mount(&s)
        .await;
    let r = responder(&s)
        .apply(SuspendOktaUser, &target(ID), &active(), &ctx())
        .await
        .map(|_| ());
    let n = s.received_requests().await.unwrap().len();
    (r, n)
}

#[tokio::test]
async fn rate_limit_reset_header_gives_the_delay() {
    let reset = chrono::Utc::now().timestamp() + 30;
    let (r, n) = suspend_answer(
        ResponseTemplate::new(429)
            .insert_header("x-rate-limit-limit", "600")
            .insert_header("x-rate-limit-remaining", "0")
            .insert_header("x-rate-limit-reset", reset.to_string().as_str())
            .set_body_json(okta_error(
                "E0000047",
                "API call exceeded rate limit due to too many requests.",
            )),
    )
    .await;
    match r {
        Err(Failure::RateLimited {
            retry_after_ms: Some(ms),
            ..
        }) => assert!((28_000..=31_000).contains(&ms), "{ms}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(n, 1, "the responder itself never retries");
}

#[tokio::test]
async fn rate_limit_with_retry_after_only_or_nothing() {
    let (r, _) = suspend_answer(ResponseTemplate::new(429).insert_header("retry-after", "7")).await;
    assert!(
        matches!(
            r,
            Err(Failure::RateLimited {
                retry_after_ms: Some(7_000),
                ..
            })
        ),
        "{r:?}"
    );
    let (r, _) = suspend_answer(ResponseTemplate::new(429)).await;
    assert!(
        matches!(
            r,
            Err(Failure::RateLimited {
                retry_after_ms: None,
                ..
            })
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn validation_error_is_permanent_with_okta_causes() {
    let body = json!({"errorCode": "E0000001", "errorSummary": "Api validation failed: status",
        "errorLink": "E0000001", "errorId": "oae123",
        "errorCauses": [{"errorSummary": "Cannot suspend a user that is not active"}]});
    let (r, n) = suspend_answer(ResponseTemplate::new(400).set_body_json(body)).await;
    match r {
        Err(Failure::Permanent { detail }) => {
            assert!(
                detail.contains("Cannot suspend a user that is not active"),
                "{detail}"
            );
            assert!(detail.contains("E0000001"), "{detail}");
            assert!(detail.contains("oae123"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(n, 1);
}

#[tokio::test]
async fn api_token_403_names_the_admin_permission() {
    let (r, _) = suspend_answer(ResponseTemplate::new(403).set_body_json(okta_error(
        "E0000006",
        "You do not have permission to perform the requested action",
    )))
    .await;
    match r {
        Err(Failure::PermissionMissing { permission, detail }) => {
            assert!(permission.contains("okta.users.manage"), "{permission}");
            assert!(detail.contains("admin"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn other_statuses() {
    let (r, _) = suspend_answer(
        ResponseTemplate::new(401).set_body_json(okta_error("E0000011", "Invalid token provided")),
    )
    .await;
    assert!(matches!(r, Err(Failure::Unauthenticated { .. })), "{r:?}");
    let (r, _) =
        suspend_answer(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"))
            .await;
    assert!(matches!(r, Err(Failure::Transient { .. })), "{r:?}");
    let (r, _) = suspend_answer(ResponseTemplate::new(404).set_body_json(okta_error(
        "E0000007",
        "Not found: Resource not found: 00uwiremock001 (User)",
    )))
    .await;
    assert!(matches!(r, Err(Failure::NotFound { .. })), "{r:?}");
    let (r, _) = suspend_answer(ResponseTemplate::new(409)).await;
    assert!(matches!(r, Err(Failure::Permanent { .. })), "{r:?}");
    let (r, _) = suspend_answer(ResponseTemplate::new(200).set_body_json(json!({}))).await;
    assert!(r.is_ok(), "{r:?}");
}

#[tokio::test]
async fn slow_answer_to_a_suspend_is_unknown() {
    let (r, n) = suspend_answer(
        ResponseTemplate::new(200)
            .set_body_json(json!({}))
            .set_delay(std::time::Duration::from_secs(3)),
    )
    .await;
    assert!(matches!(r, Err(Failure::Unknown { .. })), "{r:?}");
    assert_eq!(n, 1);
}

//! Token acquisition through azure_identity against the mock identity platform (client secret,
//! certificate, workload identity federation), refused credentials, and `check()` (C15).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use cordon_core::action::ActionKind;
use cordon_core::respond::{Failure, Responder};
use cordon_entra::{Credential, EntraResponder};
use std::io::Write;

fn fixture() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/test-only-cert-and-key.pem")
}

/// A federated token as a platform (GitHub Actions, Kubernetes) writes it.
fn federated_token(subject: &str) -> tempfile::NamedTempFile {
    let now = chrono::Utc::now().timestamp();
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(
        serde_json::json!({"iss": FED_ISSUER, "sub": subject, "aud": "api://AzureADTokenExchange",
                           "iat": now, "exp": now + 600})
        .to_string(),
    );
    let mut f = tempfile::NamedTempFile::new().unwrap();
    write!(f, "{header}.{claims}.c2lnbmF0dXJl").unwrap();
    f
}

async fn token_requests(mock: &cordon_mockapi::MockServer) -> Vec<(String, u16)> {
    let v: Vec<serde_json::Value> = reqwest::get(format!("{}/_mock/requests", mock.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v.into_iter()
        .filter(|r| r["uri"].as_str().unwrap().starts_with("/login"))
        .map(|r| {
            (
                r["uri"].as_str().unwrap().to_string(),
                r["status"].as_u64().unwrap() as u16,
            )
        })
        .collect()
}

#[tokio::test]
async fn client_secret_certificate_and_federated_assertion_all_get_tokens() {
    let mock = mock().await;
    let token_file = federated_token(FED_SUBJECT);
    for credential in [
        secret(SECRET),
        Credential::ClientCertificate {
            certificate_path: fixture(),
            send_certificate_chain: false,
        },
        Credential::ClientCertificate {
            certificate_path: fixture(),
            send_certificate_chain: true,
        },
        Credential::ClientAssertion {
            token_file: Some(token_file.path().to_path_buf()),
        },
    ] {
        let shown = format!("{credential:?}");
        let r = EntraResponder::from_config(&config(&mock, CLIENT, credential)).unwrap();
        let report = r.check().await;
        assert!(report.authenticated, "{shown}: {}", report.detail);
        assert_eq!(report.granted, FULL_ROLES, "{shown}");
        // And the token works on Graph.
        let s = r
            .capture(ActionKind::DisableUser, &user(ALICE))
            .await
            .unwrap();
        assert!(!s.contained, "{shown}");
    }
    let reqs = token_requests(&mock).await;
    assert_eq!(
        reqs.len(),
        4,
        "one token per credential, cached after: {reqs:?}"
    );
    assert!(reqs
        .iter()
        .all(|(u, s)| u == &format!("/login/{TENANT}/oauth2/v2.0/token") && *s == 200));
}

#[tokio::test]
async fn a_wrong_secret_is_unauthenticated_with_the_aadsts_code() {
    let mock = mock().await;
    let r = EntraResponder::from_config(&config(&mock, CLIENT, secret("wrong"))).unwrap();
    let report = r.check().await;
    assert!(!report.authenticated);
    assert!(report.detail.contains("AADSTS7000215"), "{}", report.detail);
    assert!(
        !report.detail.contains("wrong"),
        "the secret never shows: {}",
        report.detail
    );
    let e = r
        .capture(ActionKind::DisableUser, &user(ALICE))
        .await
        .unwrap_err();
    let Failure::Unauthenticated { detail } = &e else {
        panic!("{e:?}")
    };
    assert!(detail.contains("AADSTS7000215"), "{detail}");
    assert!(!e.retryable());
    // One token request per call: azure_identity does not retry on its own.
    assert_eq!(token_requests(&mock).await.len(), 2);
    // Nothing reached Graph.
    assert!(graph_requests(&mock).await.is_empty());
}

#[tokio::test]
async fn an_unknown_federated_subject_is_refused() {
    let mock = mock().await;
    let f = federated_token("repo:someone/else:ref:refs/heads/main");
    let r = EntraResponder::from_config(&config(
        &mock,
        CLIENT,
        Credential::ClientAssertion {
            token_file: Some(f.path().to_path_buf()),
        },
    ))
    .unwrap();
    let e = r
        .capture(ActionKind::DisableUser, &user(ALICE))
        .await
        .unwrap_err();
    let Failure::Unauthenticated { detail } = &e else {
        panic!("{e:?}")
    };
    assert!(detail.contains("AADSTS"), "{detail}");
}

#[tokio::test]
async fn a_throttled_or_failing_token_endpoint_is_retryable() {
    let mock = mock().await;
    let r = responder(&mock);
    fault(
        &mock,
        serde_json::json!({"path": "/login/*", "status": 503, "times": 1}),
    )
    .await;
    let e = r
        .capture(ActionKind::DisableUser, &user(ALICE))
        .await
        .unwrap_err();
    assert!(matches!(e, Failure::Transient { .. }), "{e:?}");
    fault(
        &mock,
        serde_json::json!({"path": "/login/*", "hang": true, "times": 1}),
    )
    .await;
    let e = r
        .capture(ActionKind::DisableUser, &user(ALICE))
        .await
        .unwrap_err();
    assert!(matches!(e, Failure::Transient { .. }), "{e:?}");
    r.capture(ActionKind::DisableUser, &user(ALICE))
        .await
        .unwrap();
}

#[tokio::test]
async fn bad_credential_files_fail_at_start() {
    let mock = mock().await;
    let missing = Credential::ClientCertificate {
        certificate_path: "/nonexistent/cert.pem".into(),
        send_certificate_chain: false,
    };
    let e = EntraResponder::from_config(&config(&mock, CLIENT, missing)).unwrap_err();
    assert!(e.to_string().contains("cannot read"), "{e}");
    let mut key_only = tempfile::NamedTempFile::new().unwrap();
    write!(
        key_only,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    )
    .unwrap();
    let e = EntraResponder::from_config(&config(
        &mock,
        CLIENT,
        Credential::ClientCertificate {
            certificate_path: key_only.path().into(),
            send_certificate_chain: false,
        },
    ))
    .unwrap_err();
    assert!(e.to_string().contains("private key"), "{e}");
    let e = EntraResponder::from_config(&config(
        &mock,
        CLIENT,
        Credential::ClientAssertion {
            token_file: Some("/nonexistent/token".into()),
        },
    ))
    .unwrap_err();
    assert!(e.to_string().contains("token"), "{e}");
}

#[tokio::test]
async fn check_reports_the_permissions_each_action_lacks() {
    let mock = mock().await;
    let full = responder(&mock).check().await;
    assert!(full.authenticated);
    assert!(full.gaps.is_empty(), "{:?}", full.gaps);

    let weak = EntraResponder::from_config(&config(&mock, WEAK_CLIENT, secret(SECRET))).unwrap();
    let report = weak.check().await;
    assert!(report.authenticated);
    assert_eq!(report.connector, "entra");
    assert_eq!(
        report.granted,
        vec!["User.Read.All", "Application.ReadWrite.OwnedBy"]
    );
    let gap = |k: ActionKind| {
        report
            .gaps
            .iter()
            .find(|g| g.action == k)
            .map(|g| g.missing.clone())
    };
    assert_eq!(
        gap(ActionKind::DisableUser),
        Some(vec![
            "User.EnableDisableAccount.All (or User.ReadWrite.All, Directory.ReadWrite.All)"
                .to_string()
        ])
    );
    assert_eq!(
        gap(ActionKind::RevokeSessions),
        Some(vec![
            "User.RevokeSessions.All (or User.ReadWrite.All, Directory.ReadWrite.All)".to_string()
        ])
    );
    let app_gap = gap(ActionKind::DisableOauthApp).unwrap();
    assert_eq!(app_gap.len(), 2, "read and write both missing: {app_gap:?}");
    assert!(app_gap[1].starts_with("Application.ReadWrite.All"));
}

//! AWS error answers the emulator does not produce (throttling, unmodifiable entities, limits,
//! service failures), served by wiremock in AWS's awsQuery error format: each maps to the
//! outcome the executor acts on, and the SDK itself never retries (one request per call).

#![allow(clippy::unwrap_used)] // tests unwrap what they set up

mod common;

use common::*;
use cordon_aws_iam::IamResponder;
use cordon_core::action::ActionKind::*;
use cordon_core::respond::{Failure, Responder, TargetState};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn aws_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "text/xml")
        .set_body_string(format!(
            r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>0f1e2d3c</RequestId></ErrorResponse>"#
        ))
}

fn user_prior() -> TargetState {
    TargetState {
        contained: false,
        summary: "iam_user alice".into(),
        data: serde_json::json!({"class": "iam_user", "name": "alice", "arn": user_arn("alice")}),
    }
}

async fn put_with(answer: ResponseTemplate) -> (Failure, usize) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(answer)
        .mount(&server)
        .await;
    let mut cfg = config(&server.uri(), "AKIATESTRESPONDER000", "testing");
    cfg.timeouts = cordon_aws_iam::Timeouts {
        connect_ms: 300,
        attempt_ms: 500,
        operation_ms: 1_000,
    };
    let r = IamResponder::new(cfg).await.unwrap();
    let err = r
        .apply(
            AttachAwsDenyPolicy,
            &principal(&user_arn("alice")),
            &user_prior(),
            &ctx(),
        )
        .await
        .unwrap_err();
    let n = server.received_requests().await.unwrap().len();
    (err, n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_aws_error_maps_to_what_the_executor_can_do_with_one_request() {
    let (f, n) = put_with(aws_error(400, "Throttling", "Rate exceeded")).await;
    assert!(
        matches!(
            f,
            Failure::RateLimited {
                retry_after_ms: None,
                ..
            }
        ),
        "{f:?}"
    );
    assert_eq!(n, 1, "the SDK does not retry: the executor does");

    let (f, _) =
        put_with(aws_error(429, "Throttling", "Rate exceeded").insert_header("retry-after", "3"))
            .await;
    assert_eq!(
        f.retry_after(),
        Some(std::time::Duration::from_secs(3)),
        "{f:?}"
    );

    let (f, n) = put_with(aws_error(
        400,
        "UnmodifiableEntity",
        "Cannot perform the operation on the protected role 'AWSReservedSSO_Admin_0a1b'",
    ))
    .await;
    let Failure::Permanent { detail } = &f else {
        panic!("{f:?}")
    };
    assert!(detail.contains("a person must"), "{detail}");
    assert_eq!(n, 1);

    for code in ["LimitExceeded", "MalformedPolicyDocument", "InvalidInput"] {
        let (f, n) = put_with(aws_error(409, code, "no")).await;
        assert!(matches!(f, Failure::Permanent { .. }), "{code}: {f:?}");
        assert_eq!(n, 1);
    }

    let (f, _) = put_with(aws_error(
        403,
        "AccessDenied",
        "User: x is not authorized to perform: iam:PutUserPolicy",
    ))
    .await;
    assert_eq!(
        match f {
            Failure::PermissionMissing { permission, .. } => permission,
            other => panic!("{other:?}"),
        },
        "iam:PutUserPolicy"
    );

    let (f, _) = put_with(aws_error(
        403,
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
    ))
    .await;
    assert!(matches!(f, Failure::Unauthenticated { .. }), "{f:?}");

    let (f, n) = put_with(aws_error(500, "ServiceFailure", "internal")).await;
    assert!(matches!(f, Failure::Transient { .. }), "{f:?}");
    assert_eq!(n, 1);

    let (f, _) =
        put_with(ResponseTemplate::new(503).set_body_string("<html>unavailable</html>")).await;
    assert!(matches!(f, Failure::Transient { .. }), "{f:?}");

    // A slow answer to a Put: sent, then timed out: unknown.
    let (f, n) =
        put_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(30))).await;
    assert!(matches!(f, Failure::Unknown { .. }), "{f:?}");
    assert_eq!(n, 1);
}

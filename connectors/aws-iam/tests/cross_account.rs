//! A target in another account is reached through `sts:AssumeRole` into that account's
//! `assume_role_name` role; the home account's same-named principal is not touched.

#![allow(clippy::unwrap_used)] // tests unwrap what they set up

mod common;

use common::*;
use cordon_aws_iam::{IamResponder, USER_POLICY};
use cordon_core::action::{ActionKind::*, Target, TargetKind};
use cordon_core::respond::{Done, Failure, Responder};

const OTHER: &str = "111111111111";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_in_another_account_is_contained_through_the_assumed_role() {
    let moto = moto();
    let home = iam(&moto);
    create_user(&home, "alice").await;
    // The other account's IAM, as moto serves it to a session of a role in that account.
    let sts = sts_with(moto.endpoint(), "AKIATESTSETUP0000000", "testing", None);
    let c = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{OTHER}:role/Setup"))
        .role_session_name("setup")
        .send()
        .await
        .unwrap();
    let c = c.credentials().unwrap();
    let other = iam_session(
        moto.endpoint(),
        c.access_key_id(),
        c.secret_access_key(),
        c.session_token(),
    );
    create_user(&other, "alice").await;
    other
        .create_role()
        .role_name("CordonResponder")
        .assume_role_policy_document(TRUST_ANY_ACCOUNT_PRINCIPAL)
        .send()
        .await
        .unwrap();

    let mut cfg = config(moto.endpoint(), "AKIATESTRESPONDER000", "testing");
    cfg.assume_role_name = Some("CordonResponder".into());
    cfg.home_account = Some(ACCOUNT.into());
    let r = IamResponder::new(cfg).await.unwrap();
    let t = Target {
        kind: TargetKind::AwsPrincipal,
        id: format!("arn:aws:iam::{OTHER}:user/alice"),
        owner: None,
        account: Some(OTHER.into()),
    };
    let prior = r.capture(AttachAwsDenyPolicy, &t).await.unwrap();
    assert_eq!(prior.data["principal_arn"], t.id.as_str());
    let done = r
        .apply(AttachAwsDenyPolicy, &t, &prior, &ctx())
        .await
        .unwrap();
    assert!(matches!(done, Done::Applied { .. }));
    assert_eq!(user_policies(&other, "alice").await.len(), 1);
    assert_eq!(user_policies(&other, "alice").await[0].0, USER_POLICY);
    assert!(
        user_policies(&home, "alice").await.is_empty(),
        "home account untouched"
    );
    r.revert(AttachAwsDenyPolicy, &t, &prior, &done, &ctx())
        .await
        .unwrap();
    assert!(user_policies(&other, "alice").await.is_empty());

    // The home account's own principal: no role assumed.
    let t_home = principal(&user_arn("alice"));
    let p = r.capture(AttachAwsDenyPolicy, &t_home).await.unwrap();
    assert_eq!(p.data["principal_arn"], user_arn("alice").as_str());

    // No account id: refused before any call.
    let bad = Target {
        account: Some("12".into()),
        ..key("AKIAEXAMPLE000000000", Some("alice"))
    };
    assert!(matches!(
        r.capture(DeactivateAccessKey, &bad).await,
        Err(Failure::Permanent { .. })
    ));
}

//! Issue 3, "done when": with the emulator enforcing IAM (signatures and policies), a contained
//! AWS principal's credentials are refused after containment and work again after undo.
//!
//! The responder acts with an admin user's credentials, through the executor, against a moto
//! server that enforces IAM from the moment setup is done (`Moto::enforce_iam_now`).
//!
//! What moto 5.2.5 cannot show (read in `moto/iam/access_control.py` and
//! `moto/iam/policy_conditions.py`, and pinned by the characterization tests at the end):
//! - it accepts requests signed with an `Inactive` access key (`IAMUserAccessKey` never reads
//!   the key's status), so deactivating a key alone does not refuse anything there;
//! - it evaluates only `StringEquals` conditions and treats every other operator as matching,
//!   so a `DateLessThan aws:TokenIssueTime` deny refuses every session of the role, the ones
//!   issued after the cut-off too. The already-issued session being refused is shown; that a
//!   session issued after the cut-off still works (real IAM) cannot be shown on moto.
//!
//! Those two real-IAM behaviours are kept as tests with their real assertions, `#[ignore]`d with
//! the reason; run them with `--ignored` against an emulator that implements them.

#![allow(clippy::unwrap_used)] // tests unwrap what they set up

mod common;

use common::*;
use cordon_aws_iam::IamResponder;
use cordon_core::action::ActionKind::*;
use cordon_core::ledger::ActionStatus;
use cordon_core::respond::Responder;
use cordon_infra::emulator::{Moto, MotoOptions};
use std::sync::Arc;

const VICTIM_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetUser","s3:ListAllMyBuckets"],"Resource":"*"}]}"#;
const ASSUMER_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;

struct World {
    moto: Moto,
    admin: (String, String),
    victim: (String, String),
    assumer: (String, String),
}

/// An admin (the responder's identity), a victim user with a key and a narrow policy, a role
/// `app-role` allowing `iam:GetUser` that `assumer` may assume; then IAM is enforced.
async fn world() -> World {
    let moto = Moto::start(MotoOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let setup = iam(&moto);
    create_user(&setup, "cordon-admin").await;
    put_user_policy(&setup, "cordon-admin", "AdministratorAccess", ALLOW_ALL).await;
    let admin = create_key(&setup, "cordon-admin").await;
    create_user(&setup, "mallory").await;
    put_user_policy(&setup, "mallory", "App", VICTIM_POLICY).await;
    let victim = create_key(&setup, "mallory").await;
    create_user(&setup, "assumer").await;
    put_user_policy(&setup, "assumer", "Assume", ASSUMER_POLICY).await;
    let assumer = create_key(&setup, "assumer").await;
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"sts:AssumeRole"}}]}}"#,
        user_arn("assumer")
    );
    setup
        .create_role()
        .role_name("app-role")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    setup
        .put_role_policy()
        .role_name("app-role")
        .policy_name("App")
        .policy_document(VICTIM_POLICY)
        .send()
        .await
        .unwrap();
    moto.enforce_iam_now().unwrap();
    World {
        moto,
        admin,
        victim,
        assumer,
    }
}

async fn put_user_policy(c: &aws_sdk_iam::Client, user: &str, name: &str, doc: &str) {
    c.put_user_policy()
        .user_name(user)
        .policy_name(name)
        .policy_document(doc)
        .send()
        .await
        .unwrap();
}

/// The error code of a failed call (read from the body when the SDK could not: moto's
/// enforcement errors wrap `<Error>` in `<Errors>`, which the SDK's awsQuery parser does not read).
fn code_of<E: aws_sdk_iam::error::ProvideErrorMetadata + std::fmt::Debug>(
    e: &aws_sdk_iam::error::SdkError<E, aws_sdk_iam::config::http::HttpResponse>,
) -> String {
    if let Some(c) = e.as_service_error().and_then(|s| s.code()) {
        return c.to_string();
    }
    let body = e
        .raw_response()
        .and_then(|r| r.body().bytes())
        .map(|b| String::from_utf8_lossy(b).to_string())
        .unwrap_or_default();
    cordon_aws_iam::error::xml_text(&body, "Code")
        .map(str::to_string)
        .unwrap_or_else(|| format!("no error code: {e:?}"))
}

/// `None` when `iam:GetUser` works, else its error code.
async fn get_user_code(c: &aws_sdk_iam::Client) -> Option<String> {
    c.get_user()
        .user_name("mallory")
        .send()
        .await
        .err()
        .map(|e| code_of(&e))
}

/// `None` when `iam:ListUsers` works (the victims are not allowed it), else its error code.
async fn list_users_code(c: &aws_sdk_iam::Client) -> Option<String> {
    c.list_users().send().await.err().map(|e| code_of(&e))
}

async fn responder_for(w: &World) -> Arc<dyn Responder> {
    Arc::new(
        IamResponder::new(config(w.moto.endpoint(), &w.admin.0, &w.admin.1))
            .await
            .unwrap(),
    )
}

/// A session of `app-role`, assumed by `assumer`: (key, secret, token).
async fn assume(w: &World, name: &str) -> (String, String, String) {
    let sts = sts_with(w.moto.endpoint(), &w.assumer.0, &w.assumer.1, None);
    let out = sts
        .assume_role()
        .role_arn(role_arn("app-role"))
        .role_session_name(name)
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    (
        c.access_key_id().to_string(),
        c.secret_access_key().to_string(),
        c.session_token().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contained_iam_user_is_refused_and_works_again_after_undo() {
    let w = world().await;
    let victim = iam_with(w.moto.endpoint(), &w.victim.0, &w.victim.1);
    // IAM is enforced: what the victim's policy allows works, the rest is refused.
    assert_eq!(get_user_code(&victim).await, None);
    assert_eq!(
        list_users_code(&victim).await.as_deref(),
        Some("AccessDenied")
    );
    // Unknown credentials are refused outright.
    let stranger = iam_with(w.moto.endpoint(), "AKIANOBODY0000000000", "x");
    assert_eq!(
        get_user_code(&stranger).await.as_deref(),
        Some("InvalidClientTokenId")
    );

    let (ex, _) = executor(responder_for(&w).await);
    let deny = planned(AttachAwsDenyPolicy, principal(&user_arn("mallory")));
    let key_off = planned(DeactivateAccessKey, key(&w.victim.0, Some("mallory")));
    for a in [&deny, &key_off] {
        let rec = ex.execute(a).await.unwrap();
        assert_eq!(rec.status, ActionStatus::Applied, "{rec:?}");
    }
    let admin_view = iam_with(w.moto.endpoint(), &w.admin.0, &w.admin.1);
    assert_eq!(
        keys(&admin_view, "mallory").await,
        vec![(w.victim.0.clone(), "Inactive".into())]
    );

    // Contained: the victim's credentials are refused.
    let code = get_user_code(&victim).await;
    assert!(
        matches!(
            code.as_deref(),
            Some("AccessDenied" | "InvalidClientTokenId")
        ),
        "{code:?}"
    );

    for a in [&key_off, &deny] {
        let rec = ex.undo(&a.id, "analyst").await.unwrap();
        assert_eq!(rec.status, ActionStatus::Reverted, "{rec:?}");
    }
    // Undone: they work again, exactly as before.
    assert_eq!(get_user_code(&victim).await, None);
    assert_eq!(
        list_users_code(&victim).await.as_deref(),
        Some("AccessDenied")
    );
    assert_eq!(
        keys(&admin_view, "mallory").await,
        vec![(w.victim.0.clone(), "Active".into())]
    );
    let left: Vec<(String, String)> = user_policies(&admin_view, "mallory")
        .await
        .into_iter()
        .map(|(n, d)| (n, normalize(&d)))
        .collect();
    assert_eq!(left, vec![("App".to_string(), normalize(VICTIM_POLICY))]);
}

/// A policy document in one canonical form.
fn normalize(d: &str) -> String {
    serde_json::from_str::<serde_json::Value>(d)
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_already_issued_role_session_is_refused_after_the_cutoff_and_works_after_undo() {
    let w = world().await;
    let (k, s, t) = assume(&w, "attacker").await;
    assert!(k.starts_with("ASIA"), "{k}");
    let session = iam_session(w.moto.endpoint(), &k, &s, &t);
    assert_eq!(get_user_code(&session).await, None);
    assert_eq!(
        list_users_code(&session).await.as_deref(),
        Some("AccessDenied")
    );

    let (ex, ledger) = executor(responder_for(&w).await);
    // Planned as the decision plans a session: on its role.
    let a = planned(AttachAwsDenyPolicy, principal(&role_arn("app-role")));
    let rec = ex.execute(&a).await.unwrap();
    assert_eq!(rec.status, ActionStatus::Applied, "{rec:?}");
    // The cut-off is recorded in the ledger.
    let cutoff = match &rec.applied {
        Some(cordon_core::respond::Done::Applied { reference, .. }) => reference
            ["token_issue_cutoff"]
            .as_str()
            .unwrap()
            .to_string(),
        other => panic!("{other:?}"),
    };
    use cordon_core::ledger::ActionLedger;
    assert!(serde_json::to_string(&ledger.entries().await.unwrap())
        .unwrap()
        .contains(&cutoff));

    // The session issued before the cut-off is refused.
    assert_eq!(
        get_user_code(&session).await.as_deref(),
        Some("AccessDenied")
    );

    let rec = ex.undo(&a.id, "analyst").await.unwrap();
    assert_eq!(rec.status, ActionStatus::Reverted, "{rec:?}");
    // The same session works again, and the role has exactly its own policy left.
    assert_eq!(get_user_code(&session).await, None);
    let admin_view = iam_with(w.moto.endpoint(), &w.admin.0, &w.admin.1);
    let left: Vec<String> = role_policies(&admin_view, "app-role")
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(left, vec!["App".to_string()]);
}

/// Real IAM: an `Inactive` key is refused (`InvalidClientTokenId`) even without a deny policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "moto 5.2.5 accepts requests signed with an Inactive access key (moto/iam/access_control.py IAMUserAccessKey never reads the key status); see moto_accepts_inactive_keys"]
async fn a_deactivated_key_alone_is_refused() {
    let w = world().await;
    let victim = iam_with(w.moto.endpoint(), &w.victim.0, &w.victim.1);
    assert_eq!(get_user_code(&victim).await, None);
    let (ex, _) = executor(responder_for(&w).await);
    let a = planned(DeactivateAccessKey, key(&w.victim.0, None));
    assert_eq!(ex.execute(&a).await.unwrap().status, ActionStatus::Applied);
    assert_eq!(
        get_user_code(&victim).await.as_deref(),
        Some("InvalidClientTokenId")
    );
    ex.undo(&a.id, "analyst").await.unwrap();
    assert_eq!(get_user_code(&victim).await, None);
}

/// Real IAM: a session issued after the cut-off is not affected by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "moto 5.2.5 does not evaluate DateLessThan (moto/iam/policy_conditions.py supports StringEquals only and treats other operators as matching); see moto_ignores_the_token_issue_time_condition"]
async fn a_session_issued_after_the_cutoff_still_works() {
    let w = world().await;
    let (ex, _) = executor(responder_for(&w).await);
    let a = planned(AttachAwsDenyPolicy, principal(&role_arn("app-role")));
    assert_eq!(ex.execute(&a).await.unwrap().status, ActionStatus::Applied);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (k, s, t) = assume(&w, "after-cutoff").await;
    let session = iam_session(w.moto.endpoint(), &k, &s, &t);
    assert_eq!(get_user_code(&session).await, None);
}

/// Characterization of the emulator (why the test above is ignored). When this starts failing,
/// moto checks key status: un-ignore `a_deactivated_key_alone_is_refused`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_accepts_inactive_keys() {
    let w = world().await;
    let admin_view = iam_with(w.moto.endpoint(), &w.admin.0, &w.admin.1);
    admin_view
        .update_access_key()
        .user_name("mallory")
        .access_key_id(&w.victim.0)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .unwrap();
    let victim = iam_with(w.moto.endpoint(), &w.victim.0, &w.victim.1);
    assert_eq!(get_user_code(&victim).await, None);
}

/// Characterization of the emulator: a cut-off years in the past still refuses a session issued
/// now, so on moto the cut-off's time plays no part. When this starts failing, un-ignore
/// `a_session_issued_after_the_cutoff_still_works`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_ignores_the_token_issue_time_condition() {
    let w = world().await;
    let admin_view = iam_with(w.moto.endpoint(), &w.admin.0, &w.admin.1);
    admin_view
        .put_role_policy()
        .role_name("app-role")
        .policy_name(cordon_aws_iam::ROLE_POLICY)
        .policy_document(cordon_aws_iam::principal::role_policy_document(
            "2001-01-01T00:00:00Z",
        ))
        .send()
        .await
        .unwrap();
    let (k, s, t) = assume(&w, "now").await;
    let session = iam_session(w.moto.endpoint(), &k, &s, &t);
    assert_eq!(
        get_user_code(&session).await.as_deref(),
        Some("AccessDenied")
    );
}

/// Credentials lacking `iam:PutUserPolicy`: permission missing, named, recorded, not retried.
/// Unknown credentials: unauthenticated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_permissions_and_refused_credentials_are_named_and_not_retried() {
    let moto = Moto::start(MotoOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let setup = iam(&moto);
    create_user(&setup, "mallory").await;
    create_user(&setup, "readonly").await;
    put_user_policy(
        &setup,
        "readonly",
        "Read",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetUser","iam:GetUserPolicy"],"Resource":"*"}]}"#,
    )
    .await;
    let (id, secret) = create_key(&setup, "readonly").await;
    moto.enforce_iam_now().unwrap();

    let r: Arc<dyn Responder> = Arc::new(
        IamResponder::new(config(moto.endpoint(), &id, &secret))
            .await
            .unwrap(),
    );
    let (ex, _) = executor(r.clone());
    let a = planned(AttachAwsDenyPolicy, principal(&user_arn("mallory")));
    let rec = ex.execute(&a).await.unwrap();
    assert_eq!(rec.status, ActionStatus::Failed, "{rec:?}");
    match &rec.last_failure {
        Some(cordon_core::respond::Failure::PermissionMissing { permission, .. }) => {
            assert_eq!(permission, "iam:PutUserPolicy")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(rec.attempts, 1, "not retried: {rec:?}");

    let stranger = IamResponder::new(config(moto.endpoint(), "AKIANOBODY0000000000", "x"))
        .await
        .unwrap();
    let err = stranger
        .capture(AttachAwsDenyPolicy, &principal(&user_arn("mallory")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, cordon_core::respond::Failure::Unauthenticated { .. }),
        "{err:?}"
    );
    let report = stranger.check().await;
    assert!(!report.authenticated, "{report:?}");
}

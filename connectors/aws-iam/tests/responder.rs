//! The AWS IAM responder against the AWS emulator (moto server, one per test): every action kind
//! changes the emulator's state, revert restores exactly what was there, and each failure shape
//! maps to the outcome the executor acts on.

#![allow(clippy::unwrap_used)] // tests unwrap what they set up

mod common;

use chrono::{TimeZone, Utc};
use common::*;
use cordon_aws_iam::{IamResponder, ROLE_POLICY, USER_POLICY};
use cordon_core::action::ActionKind::*;
use cordon_core::ledger::ActionStatus;
use cordon_core::respond::{Done, Failure, Responder, Verification};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_deny_policy_applies_verifies_and_reverts_to_exactly_what_was_there() {
    let moto = moto();
    let admin = iam(&moto);
    create_user(&admin, "alice").await;
    // Someone else's inline policy stays untouched.
    admin
        .put_user_policy()
        .user_name("alice")
        .policy_name("Reporting")
        .policy_document(ALLOW_ALL)
        .send()
        .await
        .unwrap();
    let before = user_policies(&admin, "alice").await;
    let r = responder(&moto).await;
    let t = principal(&user_arn("alice"));

    let prior = r.capture(AttachAwsDenyPolicy, &t).await.unwrap();
    assert!(!prior.contained, "{prior:?}");
    assert_eq!(prior.data["class"], "iam_user");
    let done = r
        .apply(AttachAwsDenyPolicy, &t, &prior, &ctx())
        .await
        .unwrap();
    let Done::Applied { reference, .. } = &done else {
        panic!("{done:?}")
    };
    assert_eq!(reference["policy_name"], USER_POLICY);

    let after = user_policies(&admin, "alice").await;
    let ours = after
        .iter()
        .find(|(n, _)| n == USER_POLICY)
        .expect("policy put");
    let doc: serde_json::Value = serde_json::from_str(&ours.1).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({"Version":"2012-10-17","Statement":[{"Sid":"CordonContainment","Effect":"Deny","Action":"*","Resource":"*"}]})
    );
    assert_eq!(after.len(), 2);
    assert!(matches!(
        r.verify(AttachAwsDenyPolicy, &t, &done).await.unwrap(),
        Verification::Effective { .. }
    ));
    // Now it reads as contained.
    assert!(r.capture(AttachAwsDenyPolicy, &t).await.unwrap().contained);

    let rev = r
        .revert(AttachAwsDenyPolicy, &t, &prior, &done, &ctx())
        .await
        .unwrap();
    assert!(matches!(rev, Done::Applied { .. }), "{rev:?}");
    assert_eq!(user_policies(&admin, "alice").await, before);
    // A second revert finds nothing to remove.
    assert!(matches!(
        r.revert(AttachAwsDenyPolicy, &t, &prior, &done, &ctx())
            .await
            .unwrap(),
        Done::AlreadyInState { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_deny_policy_carries_the_token_issue_time_cutoff_and_reverts() {
    let moto = moto();
    let admin = iam(&moto);
    create_role(&admin, "ci-deploy", "/").await;
    let r = responder(&moto).await;
    // The target as the decision plans it from a session ARN: the role, without its path.
    let t = principal(&role_arn("ci-deploy"));
    let prior = r.capture(AttachAwsDenyPolicy, &t).await.unwrap();
    assert!(!prior.contained);
    assert_eq!(prior.data["class"], "iam_role");
    let mut c = ctx();
    c.now =
        Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap() + chrono::Duration::milliseconds(250);
    let done = r.apply(AttachAwsDenyPolicy, &t, &prior, &c).await.unwrap();
    let Done::Applied { reference, .. } = &done else {
        panic!("{done:?}")
    };
    // The cut-off is in the reference (written in the ledger), rounded up to the second.
    assert_eq!(reference["token_issue_cutoff"], "2026-03-04T05:06:08Z");
    assert_eq!(reference["policy_name"], ROLE_POLICY);
    let pol = role_policies(&admin, "ci-deploy").await;
    assert_eq!(pol.len(), 1);
    assert_eq!(pol[0].0, ROLE_POLICY);
    let doc: serde_json::Value = serde_json::from_str(&pol[0].1).unwrap();
    assert_eq!(
        doc["Statement"][0]["Condition"],
        serde_json::json!({"DateLessThan": {"aws:TokenIssueTime": "2026-03-04T05:06:08Z"}})
    );
    assert_eq!(doc["Statement"][0]["Effect"], "Deny");
    assert!(matches!(
        r.verify(AttachAwsDenyPolicy, &t, &done).await.unwrap(),
        Verification::Effective { .. }
    ));
    r.revert(AttachAwsDenyPolicy, &t, &prior, &done, &ctx())
        .await
        .unwrap();
    assert!(role_policies(&admin, "ci-deploy").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_role_cutoff_is_refreshed_and_undo_puts_the_old_one_back() {
    let moto = moto();
    let admin = iam(&moto);
    create_role(&admin, "app", "/svc/").await;
    let old = r#"{"Version":"2012-10-17","Statement":[{"Sid":"CordonContainment","Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2020-01-01T00:00:00Z"}}}]}"#;
    admin
        .put_role_policy()
        .role_name("app")
        .policy_name(ROLE_POLICY)
        .policy_document(old)
        .send()
        .await
        .unwrap();
    let before = role_policies(&admin, "app").await;
    let r = responder(&moto).await;
    let t = principal(&format!("arn:aws:iam::{ACCOUNT}:role/svc/app"));
    let prior = r.capture(AttachAwsDenyPolicy, &t).await.unwrap();
    // Sessions issued since 2020 are not covered: not contained.
    assert!(!prior.contained, "{prior:?}");
    let done = r
        .apply(AttachAwsDenyPolicy, &t, &prior, &ctx())
        .await
        .unwrap();
    let now = role_policies(&admin, "app").await;
    assert_ne!(now, before);
    assert!(!now[0].1.contains("2020-01-01"));
    r.revert(AttachAwsDenyPolicy, &t, &prior, &done, &ctx())
        .await
        .unwrap();
    let after = role_policies(&admin, "app").await;
    let v = |d: &str| serde_json::from_str::<serde_json::Value>(d).unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(v(&after[0].1), v(old));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn already_contained_targets_are_no_ops_and_their_undo_changes_nothing() {
    let moto = moto();
    let admin = iam(&moto);
    create_user(&admin, "bob").await;
    admin
        .put_user_policy()
        .user_name("bob")
        .policy_name(USER_POLICY)
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let (key_id, _) = create_key(&admin, "bob").await;
    admin
        .update_access_key()
        .user_name("bob")
        .access_key_id(&key_id)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .unwrap();
    let pol_before = user_policies(&admin, "bob").await;
    let keys_before = keys(&admin, "bob").await;

    let r: Arc<dyn Responder> = Arc::new(responder(&moto).await);
    let (ex, _) = executor(r.clone());
    for a in [
        planned(AttachAwsDenyPolicy, principal(&user_arn("bob"))),
        planned(DeactivateAccessKey, key(&key_id, Some("bob"))),
    ] {
        let rec = ex.execute(&a).await.unwrap();
        assert_eq!(rec.status, ActionStatus::NoOp, "{rec:?}");
        let undone = ex.undo(&a.id, "analyst").await.unwrap();
        assert_eq!(undone.status, ActionStatus::Reverted);
    }
    assert_eq!(user_policies(&admin, "bob").await, pol_before);
    assert_eq!(keys(&admin, "bob").await, keys_before);

    // The responder itself: undoing a deactivation of a key that was inactive leaves it so.
    let t = key(&key_id, Some("bob"));
    let prior = r.capture(DeactivateAccessKey, &t).await.unwrap();
    assert!(prior.contained);
    let rev = r
        .revert(
            DeactivateAccessKey,
            &t,
            &prior,
            &Done::AlreadyInState { detail: "".into() },
            &ctx(),
        )
        .await
        .unwrap();
    assert!(matches!(rev, Done::AlreadyInState { .. }), "{rev:?}");
    assert_eq!(keys(&admin, "bob").await, keys_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_keys_deactivate_verify_and_reactivate_with_the_owner_looked_up() {
    let moto = moto();
    let admin = iam(&moto);
    create_user(&admin, "carol").await;
    let (k1, _) = create_key(&admin, "carol").await;
    let (k2, _) = create_key(&admin, "carol").await;
    let before = keys(&admin, "carol").await;
    assert!(before.iter().all(|(_, s)| s == "Active"));
    let r = responder(&moto).await;
    // Owner unknown: looked up with GetAccessKeyLastUsed.
    let t = key(&k1, None);
    let prior = r.capture(DeactivateAccessKey, &t).await.unwrap();
    assert!(!prior.contained);
    assert_eq!(prior.data["user_name"], "carol");
    assert_eq!(prior.data["status"], "Active");
    let done = r
        .apply(DeactivateAccessKey, &t, &prior, &ctx())
        .await
        .unwrap();
    assert!(matches!(done, Done::Applied { .. }));
    let now = keys(&admin, "carol").await;
    assert!(now.contains(&(k1.clone(), "Inactive".into())), "{now:?}");
    assert!(
        now.contains(&(k2.clone(), "Active".into())),
        "the other key is untouched"
    );
    assert!(matches!(
        r.verify(DeactivateAccessKey, &t, &done).await.unwrap(),
        Verification::Effective { .. }
    ));
    r.revert(DeactivateAccessKey, &t, &prior, &done, &ctx())
        .await
        .unwrap();
    assert_eq!(keys(&admin, "carol").await, before);

    // The inverse kind on its own: reactivating an inactive key, and its revert.
    admin
        .update_access_key()
        .user_name("carol")
        .access_key_id(&k2)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .unwrap();
    let t2 = key(&k2, Some("carol"));
    let p2 = r.capture(ReactivateAccessKey, &t2).await.unwrap();
    assert!(!p2.contained);
    let d2 = r
        .apply(ReactivateAccessKey, &t2, &p2, &ctx())
        .await
        .unwrap();
    assert!(keys(&admin, "carol")
        .await
        .contains(&(k2.clone(), "Active".into())));
    r.revert(ReactivateAccessKey, &t2, &p2, &d2, &ctx())
        .await
        .unwrap();
    assert!(keys(&admin, "carol")
        .await
        .contains(&(k2.clone(), "Inactive".into())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detach_as_its_own_action_removes_and_restores_the_policy() {
    let moto = moto();
    let admin = iam(&moto);
    create_user(&admin, "dave").await;
    let r = responder(&moto).await;
    let t = principal(&user_arn("dave"));
    let p = r.capture(AttachAwsDenyPolicy, &t).await.unwrap();
    let d = r.apply(AttachAwsDenyPolicy, &t, &p, &ctx()).await.unwrap();
    let with_policy = user_policies(&admin, "dave").await;
    let pd = r.capture(DetachAwsDenyPolicy, &t).await.unwrap();
    assert!(!pd.contained);
    let dd = r.apply(DetachAwsDenyPolicy, &t, &pd, &ctx()).await.unwrap();
    assert!(user_policies(&admin, "dave").await.is_empty());
    assert!(matches!(
        r.verify(DetachAwsDenyPolicy, &t, &dd).await.unwrap(),
        Verification::Effective { .. }
    ));
    assert!(r.capture(DetachAwsDenyPolicy, &t).await.unwrap().contained);
    r.revert(DetachAwsDenyPolicy, &t, &pd, &dd, &ctx())
        .await
        .unwrap();
    assert_eq!(user_policies(&admin, "dave").await, with_policy);
    let _ = d;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sso_service_linked_and_root_principals_are_refused_without_a_put() {
    let moto = moto();
    let admin = iam(&moto);
    let sso = create_role(
        &admin,
        "AWSReservedSSO_AdministratorAccess_0a1b2c3d",
        "/aws-reserved/sso.amazonaws.com/",
    )
    .await;
    let slr = create_role(
        &admin,
        "AWSServiceRoleForSupport",
        "/aws-service-role/support.amazonaws.com/",
    )
    .await;
    // moto itself would accept a policy on these (real AWS answers UnmodifiableEntity), so an
    // empty policy list afterwards proves the responder made no Put call.
    create_role(&admin, "probe", "/aws-service-role/probe.amazonaws.com/").await;
    admin
        .put_role_policy()
        .role_name("probe")
        .policy_name("p")
        .policy_document(ALLOW_ALL)
        .send()
        .await
        .expect(
            "moto accepts Put on a service-linked path: the emptiness checks below mean something",
        );

    let r = responder(&moto).await;
    let sso_session = format!(
        "arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_AdministratorAccess_0a1b2c3d/alice@example.com"
    );
    let cases = [
        (
            sso.clone(),
            "AWSReservedSSO_AdministratorAccess_0a1b2c3d",
            "IAM Identity Center",
        ),
        // Planned from a session ARN: no path in it; the role's path and name still classify it.
        (
            role_arn("AWSReservedSSO_AdministratorAccess_0a1b2c3d"),
            "AWSReservedSSO_AdministratorAccess_0a1b2c3d",
            "IAM Identity Center",
        ),
        (
            sso_session,
            "AWSReservedSSO_AdministratorAccess_0a1b2c3d",
            "IAM Identity Center",
        ),
        (slr.clone(), "AWSServiceRoleForSupport", "service-linked"),
        (
            role_arn("AWSServiceRoleForSupport"),
            "AWSServiceRoleForSupport",
            "service-linked",
        ),
        (format!("arn:aws:iam::{ACCOUNT}:root"), "", "root user"),
    ];
    for (arn, role, why) in cases {
        let t = principal(&arn);
        let prior = r.capture(AttachAwsDenyPolicy, &t).await.unwrap();
        assert!(!prior.contained);
        let err = r
            .apply(AttachAwsDenyPolicy, &t, &prior, &ctx())
            .await
            .unwrap_err();
        let Failure::Permanent { detail } = &err else {
            panic!("{arn}: {err:?}")
        };
        assert!(detail.contains(why), "{detail}");
        assert!(detail.contains("A person must"), "{detail}");
        assert!(!err.retryable());
        if !role.is_empty() {
            assert!(role_policies(&admin, role).await.is_empty(), "{arn}");
        }
    }

    // Through the executor: failed, not retried, nothing put.
    let r: Arc<dyn Responder> = Arc::new(r);
    let (ex, _) = executor(r);
    let rec = ex
        .execute(&planned(AttachAwsDenyPolicy, principal(&slr)))
        .await
        .unwrap();
    assert_eq!(rec.status, ActionStatus::Failed, "{rec:?}");
    assert!(matches!(rec.last_failure, Some(Failure::Permanent { .. })));
    assert!(role_policies(&admin, "AWSServiceRoleForSupport")
        .await
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_principals_and_keys_are_not_found_and_temporary_keys_permanent() {
    let moto = moto();
    let admin = iam(&moto);
    create_user(&admin, "erin").await;
    let r = responder(&moto).await;
    for (kind, t) in [
        (AttachAwsDenyPolicy, principal(&user_arn("nobody"))),
        (AttachAwsDenyPolicy, principal(&role_arn("nothing"))),
        (DeactivateAccessKey, key("AKIAUNKNOWN000000000", None)),
        (
            DeactivateAccessKey,
            key("AKIAUNKNOWN000000000", Some("erin")),
        ),
        (
            DeactivateAccessKey,
            key("AKIAUNKNOWN000000000", Some("nobody")),
        ),
    ] {
        let err = r.capture(kind, &t).await.unwrap_err();
        assert!(matches!(err, Failure::NotFound { .. }), "{t:?}: {err:?}");
    }
    let err = r
        .capture(DeactivateAccessKey, &key("ASIAQEXAMPLE00000000", None))
        .await
        .unwrap_err();
    let Failure::Permanent { detail } = err else {
        panic!()
    };
    assert!(detail.contains("temporary credentials cannot be deactivated"));
    let err = r
        .capture(AttachAwsDenyPolicy, &principal("not-an-arn"))
        .await
        .unwrap_err();
    assert!(matches!(err, Failure::Permanent { .. }));

    // Through the executor: not found is recorded as failed, never as success.
    let r: Arc<dyn Responder> = Arc::new(r);
    let (ex, _) = executor(r);
    let rec = ex
        .execute(&planned(
            AttachAwsDenyPolicy,
            principal(&user_arn("nobody")),
        ))
        .await
        .unwrap();
    assert_eq!(rec.status, ActionStatus::Failed);
    assert!(matches!(rec.last_failure, Some(Failure::NotFound { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_that_does_not_read_back_yet_is_not_yet_verified() {
    // IAM is eventually consistent (C13): right after a Put, reads may still miss the policy.
    let moto = moto();
    let admin = iam(&moto);
    create_user(&admin, "frank").await;
    let r = responder(&moto).await;
    let t = principal(&user_arn("frank"));
    let applied = Done::Applied {
        detail: "".into(),
        reference: serde_json::json!({"policy_name": USER_POLICY}),
        reverify_at: None,
    };
    let v = r.verify(AttachAwsDenyPolicy, &t, &applied).await.unwrap();
    assert!(matches!(v, Verification::NotYet { .. }), "{v:?}");
    // Someone overwrote our policy with something else: it will not become effective.
    admin
        .put_user_policy()
        .user_name("frank")
        .policy_name(USER_POLICY)
        .policy_document(ALLOW_ALL)
        .send()
        .await
        .unwrap();
    let v = r.verify(AttachAwsDenyPolicy, &t, &applied).await.unwrap();
    assert!(matches!(v, Verification::NotEffective { .. }), "{v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_executor_cycle_contains_and_undo_restores_the_emulator_state() {
    let moto = moto();
    let admin = iam(&moto);
    create_user(&admin, "gina").await;
    let (k, _) = create_key(&admin, "gina").await;
    create_role(&admin, "gina-role", "/").await;
    let pol_before = user_policies(&admin, "gina").await;
    let keys_before = keys(&admin, "gina").await;
    let r: Arc<dyn Responder> = Arc::new(responder(&moto).await);
    let (ex, ledger) = executor(r);
    let actions = [
        planned(AttachAwsDenyPolicy, principal(&user_arn("gina"))),
        planned(DeactivateAccessKey, key(&k, Some("gina"))),
        planned(AttachAwsDenyPolicy, principal(&role_arn("gina-role"))),
    ];
    for a in &actions {
        let rec = ex.execute(a).await.unwrap();
        assert_eq!(rec.status, ActionStatus::Applied, "{rec:?}");
        assert!(matches!(
            rec.verification,
            Some(Verification::Effective { .. })
        ));
    }
    assert_eq!(user_policies(&admin, "gina").await.len(), 1);
    assert_eq!(
        keys(&admin, "gina").await,
        vec![(k.clone(), "Inactive".into())]
    );
    assert_eq!(role_policies(&admin, "gina-role").await.len(), 1);
    // The role's cut-off is in the ledger.
    use cordon_core::ledger::ActionLedger;
    let entries = ledger.entries().await.unwrap();
    assert!(serde_json::to_string(&entries)
        .unwrap()
        .contains("token_issue_cutoff"));
    for a in &actions {
        let rec = ex.undo(&a.id, "analyst").await.unwrap();
        assert_eq!(rec.status, ActionStatus::Reverted, "{rec:?}");
    }
    assert_eq!(user_policies(&admin, "gina").await, pol_before);
    assert_eq!(keys(&admin, "gina").await, keys_before);
    assert!(role_policies(&admin, "gina-role").await.is_empty());
}

/// A TCP listener that accepts connections (the kernel does, through the backlog) and never
/// answers.
fn black_hole() -> (std::net::TcpListener, String) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    (l, url)
}

async fn short_timeout_responder(endpoint: &str) -> IamResponder {
    let mut c = config(endpoint, "AKIATESTRESPONDER000", "testing");
    c.timeouts = cordon_aws_iam::Timeouts {
        connect_ms: 300,
        attempt_ms: 300,
        operation_ms: 600,
    };
    IamResponder::new(c).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_after_a_mutating_call_is_unknown_and_on_a_read_transient() {
    let (_hole, url) = black_hole();
    let r = short_timeout_responder(&url).await;
    let t = principal(&user_arn("hank"));
    let started = std::time::Instant::now();
    let err = r.capture(AttachAwsDenyPolicy, &t).await.unwrap_err();
    assert!(matches!(err, Failure::Transient { .. }), "{err:?}");
    let prior = cordon_core::respond::TargetState {
        contained: false,
        summary: "".into(),
        data: serde_json::json!({"class": "iam_user", "name": "hank", "arn": t.id}),
    };
    let err = r
        .apply(AttachAwsDenyPolicy, &t, &prior, &ctx())
        .await
        .unwrap_err();
    let Failure::Unknown { detail } = &err else {
        panic!("{err:?}")
    };
    assert!(detail.contains("iam:PutUserPolicy"), "{detail}");
    let kprior = cordon_core::respond::TargetState {
        contained: false,
        summary: "".into(),
        data: serde_json::json!({"user_name": "hank", "status": "Active", "access_key_id": "AKIAHANK000000000000"}),
    };
    let err = r
        .apply(
            DeactivateAccessKey,
            &key("AKIAHANK000000000000", Some("hank")),
            &kprior,
            &ctx(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Failure::Unknown { .. }), "{err:?}");
    // No SDK retries: three calls, each bounded by the 300 ms attempt timeout.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_transient_even_for_a_mutating_call() {
    // Nothing listens: the request was never sent, so retrying is safe.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let r = short_timeout_responder(&format!("http://127.0.0.1:{port}")).await;
    let t = principal(&user_arn("ivan"));
    let prior = cordon_core::respond::TargetState {
        contained: false,
        summary: "".into(),
        data: serde_json::json!({"class": "iam_user", "name": "ivan", "arn": t.id}),
    };
    let err = r
        .apply(AttachAwsDenyPolicy, &t, &prior, &ctx())
        .await
        .unwrap_err();
    assert!(matches!(err, Failure::Transient { .. }), "{err:?}");
}

/// Reads through one responder, writes through another (the emulator / a black hole).
struct Split {
    read: IamResponder,
    write: IamResponder,
}

#[async_trait::async_trait]
impl Responder for Split {
    fn name(&self) -> &'static str {
        "aws-iam"
    }
    fn kinds(&self) -> Vec<cordon_core::action::ActionKind> {
        self.read.kinds()
    }
    async fn capture(
        &self,
        k: cordon_core::action::ActionKind,
        t: &cordon_core::action::Target,
    ) -> Result<cordon_core::respond::TargetState, Failure> {
        self.read.capture(k, t).await
    }
    async fn apply(
        &self,
        k: cordon_core::action::ActionKind,
        t: &cordon_core::action::Target,
        p: &cordon_core::respond::TargetState,
        c: &cordon_core::respond::ActionContext,
    ) -> Result<Done, Failure> {
        self.write.apply(k, t, p, c).await
    }
    async fn verify(
        &self,
        k: cordon_core::action::ActionKind,
        t: &cordon_core::action::Target,
        d: &Done,
    ) -> Result<Verification, Failure> {
        self.read.verify(k, t, d).await
    }
    async fn revert(
        &self,
        k: cordon_core::action::ActionKind,
        t: &cordon_core::action::Target,
        p: &cordon_core::respond::TargetState,
        d: &Done,
        c: &cordon_core::respond::ActionContext,
    ) -> Result<Done, Failure> {
        self.read.revert(k, t, p, d, c).await
    }
    async fn check(&self) -> cordon_core::respond::PermissionReport {
        self.read.check().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_outcome_is_recorded_as_unknown_by_the_executor_and_confirmed_later() {
    let (_hole, url) = black_hole();
    let moto = moto();
    let admin = iam(&moto);
    create_user(&admin, "judy").await;
    let split = Arc::new(Split {
        read: responder(&moto).await,
        write: short_timeout_responder(&url).await,
    });
    let (ex, _) = executor(split);
    let a = planned(AttachAwsDenyPolicy, principal(&user_arn("judy")));
    let rec = ex.execute(&a).await.unwrap();
    assert_eq!(rec.status, ActionStatus::Unknown, "{rec:?}");
    assert!(matches!(rec.last_failure, Some(Failure::Unknown { .. })));
    assert_eq!(
        rec.attempts, 1,
        "an unknown outcome is not blindly repeated: {rec:?}"
    );
    assert!(user_policies(&admin, "judy").await.is_empty());
    // The Put did land after all (someone else's view of the same call): reverify reads it back.
    admin
        .put_user_policy()
        .user_name("judy")
        .policy_name(USER_POLICY)
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Sid":"CordonContainment","Effect":"Deny","Action":"*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let rec = ex.reverify(&a.id).await.unwrap();
    assert_eq!(rec.status, ActionStatus::Applied, "{rec:?}");
    let rec = ex.undo(&a.id, "analyst").await.unwrap();
    assert_eq!(rec.status, ActionStatus::Reverted, "{rec:?}");
    assert!(user_policies(&admin, "judy").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_the_caller_and_says_when_simulation_is_unavailable() {
    let moto = moto();
    let admin = iam(&moto);
    create_user(&admin, "cordon").await;
    let (id, secret) = create_key(&admin, "cordon").await;
    let r = IamResponder::new(config(moto.endpoint(), &id, &secret))
        .await
        .unwrap();
    let report = r.check().await;
    assert!(report.authenticated, "{report:?}");
    assert!(
        !report.checked,
        "moto cannot simulate: the report must say it did not check"
    );
    assert_eq!(report.connector, "aws-iam");
    // moto 5.2.5 does not implement iam:SimulatePrincipalPolicy (HTTP 500): the report must say
    // the permissions were not checked, and must not invent grants or gaps.
    assert!(
        report.detail.contains("simulation unavailable"),
        "{report:?}"
    );
    assert!(report.detail.contains("NOT checked"), "{report:?}");
    assert!(report.detail.contains(&user_arn("cordon")), "{report:?}");
    assert!(report.granted.is_empty() && report.gaps.is_empty());

    // Nothing answers: not authenticated, and the detail says why.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let r = short_timeout_responder(&format!("http://127.0.0.1:{port}")).await;
    let report = r.check().await;
    assert!(!report.authenticated);
    assert!(
        report.detail.contains("sts:GetCallerIdentity"),
        "{report:?}"
    );
}

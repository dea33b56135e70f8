//! Shared test harness: a moto server per test, a separate SDK client to set up and read the
//! emulator's state, the responder under test, and an in-memory ledger for the executor.
#![allow(dead_code)]

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use chrono::Utc;
use cordon_aws_iam::{AwsIamConfig, IamResponder, StaticCredentials, Timeouts};
use cordon_core::action::{ActionKind, Mode, PlanStatus, PlannedAction, Target, TargetKind};
use cordon_core::execute::{Executor, RecordingSleeper, RetryPolicy, SystemClock};
use cordon_core::respond::{ActionContext, Responder};
use cordon_infra::emulator::{Moto, MotoOptions};
use std::sync::Arc;

/// moto's default account.
pub const ACCOUNT: &str = "123456789012";

pub fn moto() -> Moto {
    // Fails (never skips) when the emulator is not installed: the message says what to run.
    Moto::start(MotoOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// An IAM client with the given key, straight to the emulator (setup and state reads).
pub fn iam_with(endpoint: &str, key: &str, secret: &str) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .http_client(cordon_aws_iam::client::http_client())
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

/// The setup client (any key works while IAM is not enforced).
pub fn iam(moto: &Moto) -> aws_sdk_iam::Client {
    iam_with(moto.endpoint(), "AKIATESTSETUP0000000", "testing")
}

pub fn sts_with(
    endpoint: &str,
    key: &str,
    secret: &str,
    token: Option<&str>,
) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .http_client(cordon_aws_iam::client::http_client())
        .credentials_provider(Credentials::new(
            key,
            secret,
            token.map(str::to_string),
            None,
            "test",
        ))
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

pub fn iam_session(endpoint: &str, key: &str, secret: &str, token: &str) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .http_client(cordon_aws_iam::client::http_client())
        .credentials_provider(Credentials::new(
            key,
            secret,
            Some(token.to_string()),
            None,
            "test",
        ))
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

pub fn config(endpoint: &str, key: &str, secret: &str) -> AwsIamConfig {
    let mut c = AwsIamConfig::new("us-east-1");
    c.endpoint_url = Some(endpoint.to_string());
    c.static_credentials = Some(StaticCredentials {
        access_key_id: key.to_string(),
        secret_access_key: secret.to_string().into(),
        session_token: None,
    });
    c.timeouts = Timeouts {
        connect_ms: 1_000,
        attempt_ms: 5_000,
        operation_ms: 10_000,
    };
    c
}

pub async fn responder(moto: &Moto) -> IamResponder {
    IamResponder::new(config(moto.endpoint(), "AKIATESTRESPONDER000", "testing"))
        .await
        .unwrap()
}

pub fn ctx() -> ActionContext {
    ActionContext {
        action_id: "act-test".into(),
        incident_id: "inc-test".into(),
        now: Utc::now(),
        comment: "test".into(),
    }
}

pub fn user_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{name}")
}
pub fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

pub fn principal(arn: &str) -> Target {
    Target {
        kind: TargetKind::AwsPrincipal,
        id: arn.to_string(),
        owner: None,
        account: Some(ACCOUNT.into()),
    }
}

pub fn key(id: &str, owner: Option<&str>) -> Target {
    Target {
        kind: TargetKind::AwsAccessKey,
        id: id.to_string(),
        owner: owner.map(str::to_string),
        account: Some(ACCOUNT.into()),
    }
}

pub const TRUST_ANY_ACCOUNT_PRINCIPAL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
pub const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

pub async fn create_user(iam: &aws_sdk_iam::Client, name: &str) {
    iam.create_user().user_name(name).send().await.unwrap();
}

/// Creates an access key; returns (id, secret).
pub async fn create_key(iam: &aws_sdk_iam::Client, user: &str) -> (String, String) {
    let k = iam
        .create_access_key()
        .user_name(user)
        .send()
        .await
        .unwrap();
    let k = k.access_key().unwrap();
    (
        k.access_key_id().to_string(),
        k.secret_access_key().to_string(),
    )
}

pub async fn create_role(iam: &aws_sdk_iam::Client, name: &str, path: &str) -> String {
    iam.create_role()
        .role_name(name)
        .path(path)
        .assume_role_policy_document(TRUST_ANY_ACCOUNT_PRINCIPAL)
        .send()
        .await
        .unwrap()
        .role()
        .unwrap()
        .arn()
        .to_string()
}

/// The user's inline policies: (name, document), sorted.
pub async fn user_policies(iam: &aws_sdk_iam::Client, user: &str) -> Vec<(String, String)> {
    let names = iam
        .list_user_policies()
        .user_name(user)
        .send()
        .await
        .unwrap()
        .policy_names()
        .to_vec();
    let mut out = Vec::new();
    for n in names {
        let d = iam
            .get_user_policy()
            .user_name(user)
            .policy_name(&n)
            .send()
            .await
            .unwrap()
            .policy_document()
            .to_string();
        out.push((n, cordon_aws_iam::client::decode_policy_document(&d)));
    }
    out.sort();
    out
}

pub async fn role_policies(iam: &aws_sdk_iam::Client, role: &str) -> Vec<(String, String)> {
    let names = iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap()
        .policy_names()
        .to_vec();
    let mut out = Vec::new();
    for n in names {
        let d = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(&n)
            .send()
            .await
            .unwrap()
            .policy_document()
            .to_string();
        out.push((n, cordon_aws_iam::client::decode_policy_document(&d)));
    }
    out.sort();
    out
}

/// The user's keys: (id, status), sorted.
pub async fn keys(iam: &aws_sdk_iam::Client, user: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = iam
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .unwrap()
        .access_key_metadata()
        .iter()
        .map(|k| {
            (
                k.access_key_id().unwrap_or_default().to_string(),
                k.status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

pub fn executor(responder: Arc<dyn Responder>) -> (Executor, Arc<cordon_infra::SqliteStore>) {
    let ledger = Arc::new(cordon_infra::SqliteStore::in_memory().unwrap());
    let ex = Executor {
        ledger: ledger.clone(),
        responders: vec![responder],
        clock: Arc::new(SystemClock),
        sleeper: Arc::new(RecordingSleeper::default()),
        retry: RetryPolicy::default(),
    };
    (ex, ledger)
}

pub fn planned(kind: ActionKind, target: Target) -> PlannedAction {
    PlannedAction::new(
        "inc-1",
        kind,
        target,
        Mode::Enforce,
        PlanStatus::Planned,
        0.99,
        "test asset".into(),
    )
}

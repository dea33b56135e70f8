//! Shared test set-up: a seeded mock server and responders built from config against it.
#![allow(dead_code)]

use cordon_core::action::{Target, TargetKind};
use cordon_core::respond::ActionContext;
use cordon_mockapi::{MockServer, RecordedRequest};
use cordon_okta::{OktaConfig, OktaResponder};
use serde_json::{json, Value};

pub const API_TOKEN: &str = "00mock-api-token-for-tests";
pub const CLIENT_ID: &str = "0oacordonservice";
pub const READ_ONLY_CLIENT: &str = "0oareadonlyapp01";
pub const NO_KEY_CLIENT: &str = "0oanokeyseeded01";

pub const ACTIVE: &str = "00uactive0001";
pub const SUSPENDED: &str = "00ususpended01";
pub const DEPROVISIONED: &str = "00udeprov00001";
pub const LOCKED_OUT: &str = "00ulocked00001";

pub fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub fn jwk(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

fn user(id: &str, status: &str, login: &str) -> Value {
    let first = login.split('@').next().unwrap();
    json!({"id": id, "status": status,
           "profile": {"login": login, "email": login, "firstName": first, "lastName": "Test"},
           "sessions": 3, "oauth_tokens": 2})
}

/// One user per status of Okta's lifecycle.
pub fn seed() -> String {
    json!({"okta": {
        "api_tokens": [API_TOKEN],
        "service_apps": [
            {"client_id": CLIENT_ID, "scopes": ["okta.users.read", "okta.users.manage"],
             "public_key_jwk": jwk("service_app.jwk.json")},
            {"client_id": READ_ONLY_CLIENT, "scopes": ["okta.users.read"],
             "public_key_jwk": jwk("service_app.jwk.json")},
            {"client_id": NO_KEY_CLIENT, "scopes": ["okta.users.read", "okta.users.manage"]}
        ],
        "users": [
            user(ACTIVE, "ACTIVE", "alice@example.com"),
            user(SUSPENDED, "SUSPENDED", "sam@example.com"),
            user(DEPROVISIONED, "DEPROVISIONED", "dee@example.com"),
            user(LOCKED_OUT, "LOCKED_OUT", "lock@example.com"),
            user("00ustaged00001", "STAGED", "stage@example.com"),
            user("00uprovisioned", "PROVISIONED", "prov@example.com"),
            user("00urecovery001", "RECOVERY", "reco@example.com"),
            user("00upwexpired01", "PASSWORD_EXPIRED", "pwex@example.com"),
            user("00uplusaddress", "ACTIVE", "bob+sec@example.com"),
        ]
    }})
    .to_string()
}

pub async fn mock() -> MockServer {
    MockServer::start(&seed()).await.unwrap()
}

pub fn api_token_config(org_url: &str, token: &str, request_ms: u64) -> OktaConfig {
    serde_json::from_value(json!({
        "org_url": org_url,
        "auth": {"method": "api_token", "token": token},
        "timeouts": {"connect_ms": 300, "request_ms": request_ms}
    }))
    .unwrap()
}

pub fn oauth_config(org_url: &str, client_id: &str, key: &str, scopes: &[&str]) -> OktaConfig {
    serde_json::from_value(json!({
        "org_url": org_url,
        "auth": {"method": "oauth_service_app", "client_id": client_id,
                 "private_key_pem": fixture(key), "scopes": scopes},
        "timeouts": {"connect_ms": 300, "request_ms": 2000}
    }))
    .unwrap()
}

/// A responder with the seeded API token.
pub fn api_token(m: &MockServer) -> OktaResponder {
    OktaResponder::new(&api_token_config(
        &format!("{}/okta", m.url()),
        API_TOKEN,
        2000,
    ))
    .unwrap()
}

/// A responder authenticated as the seeded service app with both scopes.
pub fn oauth(m: &MockServer) -> OktaResponder {
    OktaResponder::new(&oauth_config(
        &format!("{}/okta", m.url()),
        CLIENT_ID,
        "service_app.pem",
        &["okta.users.read", "okta.users.manage"],
    ))
    .unwrap()
}

pub fn target(id: &str) -> Target {
    Target {
        kind: TargetKind::OktaUser,
        id: id.into(),
        owner: None,
        account: None,
    }
}

pub fn ctx() -> ActionContext {
    ActionContext {
        action_id: "act-1".into(),
        incident_id: "inc-1".into(),
        now: chrono::Utc::now(),
        comment: "test".into(),
    }
}

pub async fn state(m: &MockServer) -> Value {
    reqwest::get(format!("{}/_mock/state", m.url()))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["okta"]
        .clone()
}

pub async fn user_state(m: &MockServer, id: &str) -> Value {
    state(m).await["users"][id].clone()
}

pub async fn status(m: &MockServer, id: &str) -> String {
    user_state(m, id).await["status"]
        .as_str()
        .unwrap()
        .to_string()
}

pub async fn requests(m: &MockServer) -> Vec<RecordedRequest> {
    reqwest::get(format!("{}/_mock/requests", m.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn clear_requests(m: &MockServer) {
    reqwest::Client::new()
        .delete(format!("{}/_mock/requests", m.url()))
        .send()
        .await
        .unwrap();
}

/// Requests with this method whose path starts with `prefix` (after `/okta`).
pub async fn sent(m: &MockServer, method: &str, prefix: &str) -> Vec<RecordedRequest> {
    requests(m)
        .await
        .into_iter()
        .filter(|r| r.method == method && r.uri.starts_with(&format!("/okta{prefix}")))
        .collect()
}

pub async fn fault(m: &MockServer, rule: Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/_mock/faults", m.url()))
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

/// Changes a user's status behind Cordon's back (a person in the admin console).
pub fn set_status(m: &MockServer, id: &str, status: &str) {
    m.state.vendors().okta.users.get_mut(id).unwrap().status = status.into();
}

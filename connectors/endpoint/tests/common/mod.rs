//! Shared test plumbing: seeds for the mock vendor APIs, configs pointing at them, and readers of
//! the mock's state and recorded requests.
#![allow(dead_code, clippy::unwrap_used)]

use chrono::Utc;
use cordon_core::action::{Target, TargetKind};
use cordon_core::respond::ActionContext;
use cordon_endpoint::{CrowdStrikeConfig, MdeConfig, Timeouts};
use cordon_mockapi::MockServer;
use secrecy::SecretString;
use serde_json::{json, Value};

pub const TENANT: &str = "11111111-2222-3333-4444-555555555555";
pub const CLIENT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
pub const SECRET: &str = "mde-secret";
pub const MDE_AUD: &str = "https://api.securitycenter.microsoft.com";
pub const ALL_ROLES: &[&str] = &["Machine.Read.All", "Machine.Isolate", "Ti.ReadWrite.All"];

pub const ONLINE: &str = "1111111111111111111111111111111111111111";
pub const OFFLINE: &str = "2222222222222222222222222222222222222222";
pub const ISOLATED: &str = "3333333333333333333333333333333333333333";
pub const FAILING: &str = "4444444444444444444444444444444444444444";

pub const CS_CLIENT: &str = "cs-client";
pub const CS_SECRET: &str = "cs-secret";
pub const CS_ONLINE: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub const CS_OFFLINE: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
pub const CS_CONTAINED: &str = "cccccccccccccccccccccccccccccccc";

/// The identity section: one client with `roles` for MDE.
pub fn identity(roles: &[&str]) -> Value {
    json!({"tenants": {TENANT: {"clients": [{
        "client_id": CLIENT, "client_secret": SECRET, "roles": {MDE_AUD: roles},
    }]}}})
}

pub fn mde_machines() -> Value {
    json!([
        {"id": ONLINE, "computerDnsName": "ws-01.contoso.com", "online": true, "isolated": false},
        {"id": OFFLINE, "computerDnsName": "laptop-07.contoso.com", "online": false, "isolated": false},
        {"id": ISOLATED, "computerDnsName": "srv-09.contoso.com", "online": true, "isolated": true},
        {"id": FAILING, "computerDnsName": "kiosk-02.contoso.com", "online": true, "action_outcome": "Failed"},
    ])
}

pub fn cs_section(scopes: &[&str]) -> Value {
    json!({
        "clients": [{"client_id": CS_CLIENT, "client_secret": CS_SECRET, "scopes": scopes}],
        "devices": [
            {"device_id": CS_ONLINE, "hostname": "mac-11", "status": "normal", "online": true},
            {"device_id": CS_OFFLINE, "hostname": "linux-05", "status": "normal", "online": false},
            {"device_id": CS_CONTAINED, "hostname": "win-12", "status": "contained", "online": true},
        ],
    })
}

pub fn seed(roles: &[&str], indicators: Value) -> Value {
    json!({
        "identity": identity(roles),
        "mde": {"machines": mde_machines(), "indicators": indicators},
        "crowdstrike": cs_section(&["devices:read", "devices:write"]),
    })
}

pub async fn start(seed: &Value) -> MockServer {
    MockServer::start(&seed.to_string()).await.unwrap()
}

/// Timeouts for tests: generous enough for a loaded CI machine.
pub fn fast() -> Timeouts {
    Timeouts {
        connect_ms: 1_000,
        request_ms: 3_000,
    }
}

/// Short timeouts for the tests that make the mock hang.
pub fn short() -> Timeouts {
    Timeouts {
        connect_ms: 300,
        request_ms: 300,
    }
}

pub fn mde_config(base: &str) -> MdeConfig {
    let mut c = MdeConfig::new(TENANT, CLIENT, SecretString::from(SECRET));
    c.authority_host = format!("{base}/login");
    c.api_base_url = format!("{base}/mde/api");
    c.timeouts = fast();
    c
}

pub fn cs_config(base: &str) -> CrowdStrikeConfig {
    let mut c = CrowdStrikeConfig::new(
        &format!("{base}/crowdstrike"),
        CS_CLIENT,
        SecretString::from(CS_SECRET),
    );
    c.timeouts = fast();
    c
}

pub fn device(id: &str) -> Target {
    Target {
        kind: TargetKind::Device,
        id: id.into(),
        owner: None,
        account: None,
    }
}

pub fn ip(addr: &str) -> Target {
    Target {
        kind: TargetKind::Ip,
        id: addr.into(),
        owner: None,
        account: None,
    }
}

pub fn ctx() -> ActionContext {
    ActionContext {
        action_id: "act-0123456789abcdef".into(),
        incident_id: "inc-42".into(),
        now: Utc::now(),
        comment: "Cordon isolate_device for incident inc-42".into(),
    }
}

pub async fn state(mock: &MockServer) -> Value {
    reqwest::get(format!("{}/_mock/state", mock.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn machine(mock: &MockServer, id: &str) -> Value {
    state(mock).await["mde"]["machines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .cloned()
        .unwrap()
}

pub async fn cs_status(mock: &MockServer, id: &str) -> String {
    state(mock).await["crowdstrike"]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device_id"] == id)
        .and_then(|d| d["status"].as_str())
        .unwrap()
        .to_string()
}

/// `(method, uri, status)` of every request the mock received.
pub async fn requests(mock: &MockServer) -> Vec<(String, String, u16)> {
    let v: Value = reqwest::get(format!("{}/_mock/requests", mock.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap().to_string(),
                r["uri"].as_str().unwrap().to_string(),
                r["status"].as_u64().unwrap() as u16,
            )
        })
        .collect()
}

pub async fn count(mock: &MockServer, method: &str, path_contains: &str) -> usize {
    requests(mock)
        .await
        .iter()
        .filter(|(m, u, _)| m == method && u.contains(path_contains))
        .count()
}

pub async fn fault(mock: &MockServer, rule: Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/_mock/faults", mock.url()))
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

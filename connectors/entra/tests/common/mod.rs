//! Shared test helpers: the mock server seeded with one tenant, users and apps, and responders
//! built from configuration against it.
#![allow(dead_code, clippy::unwrap_used)] // shared by several test binaries; tests may unwrap

use cordon_core::action::{ActionKind, Target, TargetKind};
use cordon_core::respond::{ActionContext, Responder, TargetState};
use cordon_entra::{Credential, EntraConfig, EntraResponder, Timeouts};
use cordon_mockapi::MockServer;
use serde_json::{json, Value};

pub const TENANT: &str = "7b795fb9-09d3-42f4-a494-38864f99ba3c";
pub const CLIENT: &str = "c0rd0n00-0000-4000-8000-000000000001";
pub const WEAK_CLIENT: &str = "c0rd0n00-0000-4000-8000-000000000002";
pub const SECRET: &str = "correct-horse-battery-staple";
/// SHA-1 of `fixtures/test-only-cert-and-key.pem`'s certificate.
pub const THUMBPRINT: &str = "175c8b6676ab3ede753be71394036039f452c373";
pub const FED_ISSUER: &str = "https://token.actions.githubusercontent.com";
pub const FED_SUBJECT: &str = "repo:acme/cordon:ref:refs/heads/main";

pub const ALICE: &str = "11111111-1111-4111-8111-111111111111";
pub const BOB: &str = "22222222-2222-4222-8222-222222222222";
pub const CAROL: &str = "33333333-3333-4333-8333-333333333333";
pub const ADMIN: &str = "44444444-4444-4444-8444-444444444444";
pub const GUEST: &str = "55555555-5555-4555-8555-555555555555";
pub const SP1: &str = "66666666-6666-4666-8666-666666666666";
pub const APP1: &str = "77777777-7777-4777-8777-777777777777";
pub const SP2: &str = "88888888-8888-4888-8888-888888888888";

pub const FULL_ROLES: &[&str] = &[
    "User.Read.All",
    "User.EnableDisableAccount.All",
    "User.RevokeSessions.All",
    "Application.Read.All",
    "Application.ReadWrite.All",
];

pub fn seed() -> String {
    json!({
        "identity": {"tenants": {TENANT: {"clients": [
            {"client_id": CLIENT, "client_secret": SECRET,
             "certificate_thumbprints": [THUMBPRINT],
             "federated": [{"issuer": FED_ISSUER, "subject": FED_SUBJECT}],
             "roles": {"https://graph.microsoft.com": FULL_ROLES}},
            {"client_id": WEAK_CLIENT, "client_secret": SECRET,
             "roles": {"https://graph.microsoft.com": ["User.Read.All", "Application.ReadWrite.OwnedBy"]}}
        ]}}},
        "graph": {
            "users": [
                {"id": ALICE, "userPrincipalName": "alice@contoso.com", "accountEnabled": true, "userType": "Member", "onPremisesSyncEnabled": null},
                {"id": BOB, "userPrincipalName": "bob@contoso.com", "accountEnabled": false, "userType": "Member", "onPremisesSyncEnabled": null},
                {"id": CAROL, "userPrincipalName": "carol@contoso.com", "accountEnabled": true, "userType": "Member", "onPremisesSyncEnabled": true},
                {"id": ADMIN, "userPrincipalName": "admin@contoso.com", "accountEnabled": true, "userType": "Member", "privileged": true},
                {"id": GUEST, "userPrincipalName": "gus_fabrikam.com#EXT#@contoso.com", "accountEnabled": true, "userType": "Guest"}
            ],
            "servicePrincipals": [
                {"id": SP1, "appId": APP1, "displayName": "Mail Exfil App", "accountEnabled": true},
                {"id": SP2, "appId": "99999999-9999-4999-8999-999999999999", "displayName": "Off App", "accountEnabled": false}
            ]
        }
    })
    .to_string()
}

pub async fn mock() -> MockServer {
    MockServer::start(&seed()).await.unwrap()
}

pub fn config(mock: &MockServer, client_id: &str, credential: Credential) -> EntraConfig {
    let mut c = EntraConfig::new(TENANT, client_id, credential);
    c.authority_host = format!("{}/login", mock.url());
    c.graph_base_url = format!("{}/graph/v1.0", mock.url());
    c.timeouts = Timeouts {
        connect_ms: 300,
        request_ms: 300,
    };
    c
}

pub fn secret(s: &str) -> Credential {
    Credential::ClientSecret {
        secret: s.to_string().into(),
    }
}

pub fn responder(mock: &MockServer) -> EntraResponder {
    EntraResponder::from_config(&config(mock, CLIENT, secret(SECRET))).unwrap()
}

pub fn user(id: &str) -> Target {
    Target {
        kind: TargetKind::EntraUser,
        id: id.into(),
        owner: None,
        account: None,
    }
}

pub fn app(id: &str) -> Target {
    Target {
        kind: TargetKind::OauthApp,
        id: id.into(),
        owner: None,
        account: None,
    }
}

pub fn ctx() -> ActionContext {
    ActionContext {
        action_id: "act-test".into(),
        incident_id: "inc-test".into(),
        now: chrono::Utc::now(),
        comment: "test".into(),
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

pub async fn user_enabled(mock: &MockServer, id: &str) -> bool {
    state(mock).await["graph"]["users"][id]["accountEnabled"]
        .as_bool()
        .unwrap()
}

pub async fn sp_enabled(mock: &MockServer, id: &str) -> bool {
    state(mock).await["graph"]["servicePrincipals"][id]["accountEnabled"]
        .as_bool()
        .unwrap()
}

/// `(method, uri, status)` of the Graph requests received.
pub async fn graph_requests(mock: &MockServer) -> Vec<(String, String, u16)> {
    let v: Vec<Value> = reqwest::get(format!("{}/_mock/requests", mock.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v.into_iter()
        .filter(|r| r["uri"].as_str().unwrap().starts_with("/graph"))
        .map(|r| {
            (
                r["method"].as_str().unwrap().to_string(),
                r["uri"].as_str().unwrap().to_string(),
                r["status"].as_u64().unwrap() as u16,
            )
        })
        .collect()
}

pub async fn clear_requests(mock: &MockServer) {
    reqwest::Client::new()
        .delete(format!("{}/_mock/requests", mock.url()))
        .send()
        .await
        .unwrap();
}

pub async fn fault(mock: &MockServer, rule: Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/_mock/faults", mock.url()))
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

pub async fn capture(r: &EntraResponder, kind: ActionKind, t: &Target) -> TargetState {
    r.capture(kind, t).await.unwrap()
}

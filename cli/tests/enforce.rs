//! End to end in enforce mode: real corpus alerts through the real `cordon` binary, against the
//! mock vendor APIs (Entra/Graph, Okta, Defender for Endpoint) and the AWS emulator. Checks that
//! each target's state changed, undoes every action with `cordon undo`, and checks that every
//! state is back to what it was.

#![allow(clippy::unwrap_used)]

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use cordon_infra::emulator::{Moto, MotoOptions};
use cordon_mockapi::MockServer;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const TENANT: &str = "4b2a7e5c-9d31-4f0e-8c6a-2e7d1f93a5b8";
const CLIENT: &str = "7d1e0c3a-55b2-4c1e-9f0a-3c2b1a0d9e8f";
const SECRET: &str = "e2e-client-secret";
const OKTA_TOKEN: &str = "00e2eOktaApiTokenForTests";
const HOMER_OID: &str = "011d5ede-0faa-4946-a25e-b2cd0c47a52c";
const HOMER_OKTA: &str = "00u1homerspringfld1";
const MDE_R7: &str = "111e6dd8c833c8a052ea231ec1b19adaf497b625";
const MDE_TESTDEVICE: &str = "5a1c0f7e9b3d2c4a6e8f0b1d3c5a7e9f1b3d5c7a";
const HOME: &str = "123456789012";
const GD_ACCOUNT: &str = "883606788610";
const SH_ACCOUNT: &str = "644160558196";

/// The corpus alerts replayed (each a real payload from a public repository).
const CORPUS_FILES: &[&str] = &[
    "graph_defender/panther_graph-alertv2-anonymous-ip.json",
    "graph_defender/panther_graph-alertv2-password-spray.json",
    "graph_defender/panther_defenderxdr-alertevidence-machine.json",
    "graph_defender/r7_mde-alert-with-evidence.json",
    "okta/panther_okta-impersonation.grant.json",
    "guardduty/custodian_iam-duty-event.json",
    "securityhub/custodian_sechub-getfindings-guardduty-5.json",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn seed() -> String {
    let machine = |id: &str, name: &str| {
        json!({"id": id, "computerDnsName": name, "healthStatus": "Active",
               "onboardingStatus": "Onboarded", "online": true, "isolated": false})
    };
    json!({
        "identity": {"tenants": {TENANT: {"clients": [{
            "client_id": CLIENT, "client_secret": SECRET,
            "roles": {
                "https://graph.microsoft.com": ["User.Read.All", "User.EnableDisableAccount.All", "User.RevokeSessions.All", "Application.ReadWrite.All"],
                "https://api.securitycenter.microsoft.com": ["Machine.Read.All", "Machine.Isolate", "Ti.ReadWrite.All"]
            }
        }]}}},
        "graph": {"users": [{"id": HOMER_OID, "userPrincipalName": "homer.simpson@corporation.onmicrosoft.com",
                             "accountEnabled": true, "userType": "Member", "onPremisesSyncEnabled": null, "privileged": false}]},
        "okta": {"api_tokens": [OKTA_TOKEN], "users": [{"id": HOMER_OKTA, "status": "ACTIVE",
                 "profile": {"login": "homer@springfield.gov", "email": "homer@springfield.gov", "firstName": "Homer", "lastName": "Simpson"},
                 "sessions": 3, "oauth_tokens": 1}]},
        "mde": {"machines": [machine(MDE_R7, "test.example.com"), machine(MDE_TESTDEVICE, "testdevice.testdomain.com")]}
    })
    .to_string()
}

fn iam(endpoint: &str, key: &str, secret: &str, token: Option<&str>) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .http_client(cordon_aws_iam_client())
        .credentials_provider(Credentials::new(
            key,
            secret,
            token.map(str::to_string),
            None,
            "e2e",
        ))
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

fn cordon_aws_iam_client() -> aws_sdk_iam::config::SharedHttpClient {
    cordon_aws_iam::client::http_client()
}

/// An IAM client acting in `account` (moto serves another account to a session of a role in it).
async fn iam_in(endpoint: &str, account: &str) -> aws_sdk_iam::Client {
    if account == HOME {
        return iam(endpoint, "AKIAE2ESETUP00000000", "testing", None);
    }
    let conf = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .http_client(cordon_aws_iam_client())
        .credentials_provider(Credentials::new(
            "AKIAE2ESETUP00000000",
            "testing",
            None,
            None,
            "e2e",
        ))
        .build();
    let out = aws_sdk_sts::Client::from_conf(conf)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/Setup"))
        .role_session_name("e2e-setup")
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    iam(
        endpoint,
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token()),
    )
}

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;

/// The AWS principals the corpus findings name, each in its own account, plus the role Cordon
/// assumes there.
async fn seed_aws(endpoint: &str) -> Vec<(String, String)> {
    let mut users = Vec::new();
    for (account, names) in [
        (GD_ACCOUNT, vec!["GeneratedFindingUserName"]),
        (
            SH_ACCOUNT,
            vec!["kapil", "david.yun", "david.shepherd2", "brent.clements"],
        ),
    ] {
        let c = iam_in(endpoint, account).await;
        c.create_role()
            .role_name("CordonResponder")
            .assume_role_policy_document(TRUST)
            .send()
            .await
            .unwrap();
        for n in names {
            c.create_user().user_name(n).send().await.unwrap();
            users.push((account.to_string(), n.to_string()));
        }
    }
    users
}

async fn inline_policies(endpoint: &str, account: &str, user: &str) -> Vec<String> {
    let c = iam_in(endpoint, account).await;
    c.list_user_policies()
        .user_name(user)
        .send()
        .await
        .unwrap()
        .policy_names()
        .to_vec()
}

fn config(mock: &str, moto: &str) -> String {
    format!(
        r#"
[retry]
max_attempts = 3
base_delay_ms = 50
max_delay_ms = 200
verify_attempts = 10
verify_delay_ms = 50

[entra]
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
authority_host = "{mock}/login"
graph_base_url = "{mock}/graph/v1.0"
credential = {{ type = "client_secret", secret = "{SECRET}" }}

[okta]
org_url = "{mock}/okta"
auth = {{ method = "api_token", token = "{OKTA_TOKEN}" }}

[mde]
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
client_secret = "{SECRET}"
authority_host = "{mock}/login"
api_base_url = "{mock}/mde/api"

[aws]
region = "us-east-1"
endpoint_url = "{moto}"
assume_role_name = "CordonResponder"
home_account = "{HOME}"
static_credentials = {{ access_key_id = "AKIAE2ERESPONDER0000", secret_access_key = "testing" }}
"#
    )
}

async fn cordon(args: Vec<String>) -> (bool, Value, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(&args)
        .current_dir(root())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let v = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.success(),
        v,
        String::from_utf8_lossy(&out.stderr).to_string() + &stdout,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_alerts_in_enforce_mode_are_contained_and_every_undo_restores_the_state() {
    let mock = MockServer::start(&seed()).await.unwrap();
    let moto = Moto::start(MotoOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let aws_users = seed_aws(moto.endpoint()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cordon.toml");
    std::fs::write(&cfg, config(&mock.url(), moto.endpoint())).unwrap();
    let db = dir.path().join("cordon.db");
    let s = |p: &Path| p.to_string_lossy().to_string();

    let before = mock.state.vendors().mde.snapshot();
    // Doctor sees every connector authenticated with the permissions it needs (AWS: moto cannot
    // simulate policies, which doctor must say rather than claim).
    let (_, doctor, out) = cordon(vec![
        "doctor".into(),
        "--config".into(),
        s(&cfg),
        "--json".into(),
    ])
    .await;
    let reports = doctor.as_array().unwrap_or_else(|| panic!("{out}"));
    for r in reports {
        assert_eq!(r["authenticated"], true, "{r}");
        if r["connector"] != "aws-iam" {
            assert_eq!(r["checked"], true, "{r}");
            assert_eq!(r["gaps"], json!([]), "{r}");
        }
    }

    let mut args: Vec<String> = vec![
        "replay".into(),
        "--enforce".into(),
        "--json".into(),
        "--db".into(),
        s(&db),
    ];
    args.extend([
        "--config".into(),
        s(&cfg),
        "--policy".into(),
        s(&root().join("cli/tests/fixtures/enforce-policy.toml")),
    ]);
    args.extend(
        CORPUS_FILES
            .iter()
            .map(|f| s(&root().join("../shared/corpus").join(f))),
    );
    let (ok, report, out) = cordon(args).await;
    assert!(ok, "{out}");
    let executed = report["executed"]
        .as_array()
        .unwrap_or_else(|| panic!("{out}"));
    let status_of = |kind: &str, target: &str| -> Vec<String> {
        executed
            .iter()
            .filter(|e| e["kind"] == kind && e["target"].as_str().unwrap().starts_with(target))
            .map(|e| e["status"].as_str().unwrap().to_string())
            .collect()
    };

    // Entra: homer disabled and his sessions revoked.
    assert_eq!(
        status_of("disable_user", HOMER_OID),
        vec!["applied"],
        "{executed:#?}"
    );
    assert_eq!(status_of("revoke_sessions", HOMER_OID), vec!["applied"]);
    {
        let g = mock.state.vendors().graph.snapshot();
        assert_eq!(g["users"][HOMER_OID]["accountEnabled"], false);
        assert!(g["users"][HOMER_OID]["signInSessionsValidFromDateTime"].is_string());
    }
    // Okta: suspended (sessions cleared), looked up by login.
    assert_eq!(
        status_of("suspend_okta_user", "homer@springfield.gov"),
        vec!["applied"]
    );
    assert_eq!(
        mock.state.vendors().okta.snapshot()["users"][HOMER_OKTA]["status"],
        "SUSPENDED"
    );
    // Defender for Endpoint: both devices isolated (one by id, one looked up by name), and the
    // attacker IPs blocked with indicators.
    assert_eq!(
        status_of("isolate_device", &format!("mde:{MDE_R7}")),
        vec!["applied"]
    );
    assert_eq!(
        status_of("isolate_device", "host:testdevice.testdomain.com"),
        vec!["applied"]
    );
    let blocked_ips: Vec<String> = executed
        .iter()
        .filter(|e| e["kind"] == "contain_ip")
        .map(|e| e["target"].as_str().unwrap().to_string())
        .collect();
    assert!(
        blocked_ips.contains(&"185.220.103.6".to_string()),
        "{blocked_ips:?}"
    );
    {
        let m = mock.state.vendors().mde.snapshot();
        let isolated = |id: &str| {
            m["machines"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["id"] == id)
                .unwrap()["isolated"]
                .clone()
        };
        assert_eq!(isolated(MDE_R7), true, "{m:#}");
        assert_eq!(isolated(MDE_TESTDEVICE), true);
        let indicators: Vec<&str> = m["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["indicatorValue"].as_str().unwrap())
            .collect();
        for ip in &blocked_ips {
            assert!(
                indicators.contains(&ip.as_str()),
                "{ip} not blocked: {indicators:?}"
            );
        }
    }
    // AWS: every named IAM user denied, across accounts through the assumed role.
    for (account, user) in &aws_users {
        assert_eq!(
            inline_policies(moto.endpoint(), account, user).await,
            vec!["CordonDenyAll".to_string()],
            "{account}/{user}"
        );
    }
    // The findings' access key ids do not exist in this account: recorded as failed (not
    // found), never as done.
    for e in executed
        .iter()
        .filter(|e| e["kind"] == "deactivate_access_key")
    {
        assert_eq!(e["status"], "failed", "{e}");
        assert!(e["detail"].as_str().unwrap().contains("not found"), "{e}");
    }

    // A second replay changes nothing: no new actions, nothing applied twice.
    let requests_before = mock.state.requests.lock().unwrap().len();
    let mut again: Vec<String> = vec![
        "replay".into(),
        "--enforce".into(),
        "--json".into(),
        "--db".into(),
        s(&db),
    ];
    again.extend([
        "--config".into(),
        s(&cfg),
        "--policy".into(),
        s(&root().join("cli/tests/fixtures/enforce-policy.toml")),
    ]);
    again.extend(
        CORPUS_FILES
            .iter()
            .map(|f| s(&root().join("../shared/corpus").join(f))),
    );
    let (ok, second, out) = cordon(again).await;
    assert!(ok, "{out}");
    assert_eq!(second["actions_planned"], 0);
    let mutating_after = mock.state.requests.lock().unwrap()[requests_before..]
        .iter()
        .filter(|r| r.method != "GET" && !r.uri.contains("/token"))
        .count();
    assert_eq!(
        mutating_after, 0,
        "a second replay must not repeat a mutating call"
    );

    // Undo every action through `cordon undo`.
    let (ok, actions, out) = cordon(vec![
        "actions".into(),
        "--db".into(),
        s(&db),
        "--json".into(),
    ])
    .await;
    assert!(ok, "{out}");
    let undoable = [
        "applied",
        "pending",
        "no_op",
        "unknown",
        "not_effective",
        "undo_kept",
    ];
    for a in actions.as_array().unwrap() {
        if !undoable.contains(&a["status"].as_str().unwrap()) {
            continue;
        }
        let id = a["id"].as_str().unwrap().to_string();
        let (ok, _, out) = cordon(vec![
            "undo".into(),
            id.clone(),
            "--db".into(),
            s(&db),
            "--config".into(),
            s(&cfg),
            "--by".into(),
            "e2e".into(),
        ])
        .await;
        assert!(ok, "undo {id}: {out}");
    }
    let (_, after, _) = cordon(vec![
        "actions".into(),
        "--db".into(),
        s(&db),
        "--json".into(),
    ])
    .await;
    for a in after.as_array().unwrap() {
        let st = a["status"].as_str().unwrap();
        assert!(st == "reverted" || st == "failed", "{a}");
    }

    // Every state is back.
    {
        let g = mock.state.vendors().graph.snapshot();
        assert_eq!(g["users"][HOMER_OID]["accountEnabled"], true);
        assert_eq!(
            mock.state.vendors().okta.snapshot()["users"][HOMER_OKTA]["status"],
            "ACTIVE"
        );
        let m = mock.state.vendors().mde.snapshot();
        for id in [MDE_R7, MDE_TESTDEVICE] {
            let now = m["machines"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["id"] == id)
                .unwrap()["isolated"]
                .clone();
            let was = before["machines"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["id"] == id)
                .unwrap()["isolated"]
                .clone();
            assert_eq!(now, was, "{id}");
        }
        assert_eq!(
            m["indicators"], before["indicators"],
            "indicators back to what they were"
        );
    }
    for (account, user) in &aws_users {
        assert!(
            inline_policies(moto.endpoint(), account, user)
                .await
                .is_empty(),
            "{account}/{user}"
        );
    }

    // The whole history is in the hash-chained ledger, which exports and verifies.
    let (ok, _, out) = cordon(vec![
        "ledger".into(),
        "verify".into(),
        "--db".into(),
        s(&db),
    ])
    .await;
    assert!(ok && out.contains("ledger intact"), "{out}");
    let export = dir.path().join("ledger.ndjson");
    let (ok, _, out) = cordon(vec![
        "ledger".into(),
        "export".into(),
        "--db".into(),
        s(&db),
        "--out".into(),
        s(&export),
    ])
    .await;
    assert!(ok, "{out}");
    let lines = std::fs::read_to_string(&export).unwrap();
    assert!(
        lines.lines().count() > 50,
        "every step of every action is in the ledger"
    );
    assert!(
        lines.contains("\"event\":\"captured\"") && lines.contains("\"event\":\"reverted\""),
        "{lines}"
    );
    let (ok, _, out) = cordon(vec![
        "ledger".into(),
        "verify".into(),
        "--file".into(),
        s(&export),
    ])
    .await;
    assert!(ok, "{out}");
    // A tampered export is caught.
    let tampered = lines.replacen("\"accountEnabled\":true", "\"accountEnabled\":false", 1);
    assert_ne!(tampered, lines);
    std::fs::write(&export, tampered).unwrap();
    let (ok, _, out) = cordon(vec![
        "ledger".into(),
        "verify".into(),
        "--file".into(),
        s(&export),
    ])
    .await;
    assert!(!ok && out.contains("broken at entry"), "{out}");
}

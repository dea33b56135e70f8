//! `cordon replay` end to end: the real binary over the repository's examples and the real corpus.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn corpus() -> PathBuf {
    root().join("../shared/corpus")
}

fn replay(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .arg("replay")
        .args(args)
        .arg("--json")
        .current_dir(root())
        .output()
        .expect("run cordon");
    assert!(
        out.status.success(),
        "cordon replay {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("{k} missing in {v}"))
}

#[test]
fn corpus_every_file_is_parsed_or_quarantined_with_a_reason() {
    let all = replay(&[corpus().to_str().unwrap()]);
    let mut files = Vec::new();
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(p).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out)
            } else {
                out.push(p)
            }
        }
    }
    walk(&corpus(), &mut files);
    assert_eq!(n(&all, "files"), files.len() as u64);
    let quarantined = all["quarantined"].as_array().unwrap();
    for q in quarantined {
        assert!(q["file"].as_str().is_some_and(|f| !f.is_empty()));
        assert!(q["reason"].as_str().is_some_and(|r| r.len() > 10), "{q}");
    }
    // Raw telemetry is reported as not an alert, never parsed and never a crash.
    let reason_of = |name: &str| -> Vec<String> {
        quarantined
            .iter()
            .filter(|q| q["file"].as_str().unwrap().contains(name))
            .map(|q| q["reason"].as_str().unwrap().to_string())
            .collect()
    };
    for f in files.iter().filter(|f| {
        let s = f.to_string_lossy();
        (s.contains("/cloudtrail/") || s.contains("/entra/")) && s.ends_with(".json")
    }) {
        let name = f
            .strip_prefix(corpus())
            .unwrap()
            .to_string_lossy()
            .to_string();
        let reasons = reason_of(&name);
        assert!(!reasons.is_empty(), "{name} was not quarantined");
        assert!(
            reasons.iter().all(|r| r.starts_with("not an alert")),
            "{name}: {reasons:?}"
        );
    }
    // Each file on its own: alerts, or a quarantine entry with a reason.
    for f in &files {
        let one = replay(&[f.to_str().unwrap()]);
        let parsed = n(&one, "alerts_parsed");
        let q = one["quarantined"].as_array().unwrap().len();
        assert!(
            parsed > 0 || q > 0,
            "{} gave neither alerts nor a reason",
            f.display()
        );
    }
    // The counts, so a parser regression shows up here.
    assert_eq!(
        n(&all, "alerts_parsed"),
        55,
        "alerts parsed from the corpus"
    );
    assert_eq!(quarantined.len(), 45, "quarantined corpus records");
    let not_alerts = quarantined
        .iter()
        .filter(|q| q["reason"].as_str().unwrap().starts_with("not an alert"))
        .count();
    assert_eq!(not_alerts, 28);
}

#[test]
fn examples_tell_the_story_and_contain_only_attacker_assets() {
    let r = replay(&["examples/alerts"]);
    assert_eq!(
        r["quarantined"].as_array().unwrap().len(),
        0,
        "{}",
        r["quarantined"]
    );
    assert_eq!(
        n(&r, "duplicates"),
        1,
        "the Security Hub finding delivered twice is stored once"
    );
    let incidents = r["incidents"].as_array().unwrap();
    let alice = incidents
        .iter()
        .find(|i| {
            i["entities"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["label"] == "alice.ng@contoso.com")
        })
        .expect("alice's incident");
    let sources: Vec<&str> = alice["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for s in ["okta", "sentinel", "graph_security", "guardduty"] {
        assert!(
            sources.contains(&s),
            "alice's incident spans {s}: {sources:?}"
        );
    }
    assert!(alice["confidence"].as_f64().unwrap() >= 0.99);
    let actions: Vec<(String, String)> = alice["planned_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_string(),
                a["target"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in [
        ("disable_user", "6f1c3a9e-2b47-4d85-a0e3-9c5b7d12f4a6"),
        ("revoke_sessions", "6f1c3a9e-2b47-4d85-a0e3-9c5b7d12f4a6"),
        ("suspend_okta_user", "00u8xk2lq9RtVb3Zf5d7"),
        ("clear_okta_sessions", "00u8xk2lq9RtVb3Zf5d7"),
    ] {
        assert!(
            actions.contains(&(want.0.into(), want.1.into())),
            "{want:?} in {actions:?}"
        );
    }
    // Everything is in audit mode by default.
    for inc in incidents {
        for a in inc["planned_actions"].as_array().unwrap() {
            assert_eq!(a["mode"], "audit");
        }
    }
    // The phishing recipient and the locked-out user are victims: never contained.
    let text = r.to_string();
    for victim in [
        "bob.li@contoso.com",
        "carol.diaz@contoso.com",
        "00u5pw7ne2HcKj4Ya9d7",
        "2d8e6b14-5a9c-4f37-b1e0-8c4d2a6f9b35",
    ] {
        let targeted = incidents
            .iter()
            .flat_map(|i| i["planned_actions"].as_array().unwrap())
            .any(|a| a["target"]["id"] == victim);
        assert!(!targeted, "{victim} must never be a target");
        assert!(text.contains("victim"));
    }
    // The stolen CI role is denied with a session cut-off, not the SSO role.
    let all_actions: Vec<&Value> = incidents
        .iter()
        .flat_map(|i| i["planned_actions"].as_array().unwrap())
        .collect();
    assert!(all_actions
        .iter()
        .any(|a| a["kind"] == "attach_aws_deny_policy"
            && a["target"]["id"] == "arn:aws:iam::111122223333:role/ci-deploy"));
    assert!(!all_actions
        .iter()
        .any(|a| a["kind"] == "attach_aws_deny_policy"
            && a["target"]["id"]
                .as_str()
                .unwrap()
                .contains("AWSReservedSSO")
            && a["status"]["status"] == "planned"));
}

#[test]
fn a_second_replay_into_the_same_store_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cordon.db");
    let first = replay(&["examples/alerts", "--db", db.to_str().unwrap()]);
    assert!(n(&first, "alerts_stored") > 0);
    assert!(n(&first, "actions_planned") > 0);
    let second = replay(&["examples/alerts", "--db", db.to_str().unwrap()]);
    assert_eq!(n(&second, "alerts_stored"), 0);
    assert_eq!(n(&second, "incidents_created"), 0);
    assert_eq!(n(&second, "incidents_updated"), 0);
    assert_eq!(n(&second, "actions_planned"), 0);
    assert_eq!(first["incidents"], second["incidents"]);
}

#[test]
fn human_output_explains_decisions() {
    let out = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(["replay", "examples/alerts"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("CONTAIN"));
    assert!(s.contains("Combined as independent sources"));
    assert!(s.contains("audit: logged, not executed"));
    assert!(s.contains("undo: enable_user"));
}

#[test]
fn bad_input_is_quarantined_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("truncated.json"),
        br#"{"detail-type":"GuardDuty Finding","detail":{"id":"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("mixed.ndjson"),
        concat!(
            r#"{"eventType":"security.threat.detected","uuid":"a1","published":"2026-11-30T09:00:00Z","actor":{"type":"User","alternateId":"x@contoso.com"},"client":{"ipAddress":"185.220.101.47"}}"#,
            "\n{not json}\n"
        ),
    )
    .unwrap();
    let r = replay(&[dir.path().to_str().unwrap()]);
    assert_eq!(n(&r, "alerts_parsed"), 1);
    let q = r["quarantined"].as_array().unwrap();
    assert_eq!(q.len(), 2, "{q:?}");
    assert!(q.iter().any(|x| x["record"] == "line 2"));
    assert!(q
        .iter()
        .any(|x| x["reason"].as_str().unwrap().contains("truncated")));
    // A missing path is an error, not a silent nothing.
    let out = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(["replay", "/nonexistent/path"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/path"));
}

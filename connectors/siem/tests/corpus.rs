//! Every file of the shared corpus either parses into alerts with sensible fields, or is rejected
//! with the expected error kind.

mod common;
use common::*;
use cordon_core::entity::Role;
use cordon_core::ids::AwsPrincipalKind;
use cordon_core::{Coverage, Entity, Severity, Source};
use cordon_siem::ParseError;
use std::path::Path;

#[derive(Debug, PartialEq)]
enum Expect {
    Alerts(&'static str),
    NotJson,
    NotAnAlert,
    Invalid,
}

fn expected(rel: &str) -> Expect {
    let folder = rel.split('/').next().unwrap_or("");
    if rel.ends_with(".yml") || rel.ends_with(".md") {
        return Expect::NotJson; // YAML scenario files and notes are not payloads
    }
    if rel.ends_with(".tpl") {
        return Expect::Invalid; // templates with ${...} placeholders
    }
    match (folder, rel) {
        (_, "sentinel/msticpy_securityalert-entities.json") => Expect::Invalid,
        (_, "securityhub/custodian_sechub-insight-results.json") => Expect::NotAnAlert,
        ("cloudtrail", _) | ("entra", _) => Expect::NotAnAlert,
        ("sentinel", _) => Expect::Alerts("sentinel"),
        ("graph_defender", _) => Expect::Alerts("graph"),
        ("guardduty", _) => Expect::Alerts("guardduty"),
        ("securityhub", _) => Expect::Alerts("securityhub"),
        ("okta", _) => Expect::Alerts("okta"),
        ("siem_webhook", _) => Expect::Alerts("webhook"),
        _ => panic!("no expectation for corpus file {rel}: add one"),
    }
}

#[test]
fn every_corpus_file_has_its_expected_outcome() {
    let root = Path::new(CORPUS);
    let mut files = Vec::new();
    walk(root, &mut files);
    files.sort();
    let mut checked = 0;
    for f in files {
        let rel = f
            .strip_prefix(root)
            .unwrap_or(&f)
            .to_string_lossy()
            .replace('\\', "/");
        if !rel.contains('/') {
            continue; // MANIFEST.tsv, README.md
        }
        let bytes = std::fs::read(&f).unwrap_or_default();
        let parsed = cordon_siem::parse_bytes(&bytes);
        assert!(!parsed.is_empty(), "{rel}: no outcome at all");
        for p in &parsed {
            match (expected(&rel), &p.result) {
                (Expect::Alerts(src), Ok(alerts)) => {
                    assert_eq!(p.source, Some(src), "{rel} {}", p.origin);
                    assert!(!alerts.is_empty(), "{rel}: parsed into no alerts");
                    for a in alerts {
                        assert!(!a.source_id.is_empty(), "{rel}: empty source_id");
                        assert!(
                            !a.detector_id.is_empty() && !a.alert_type.is_empty(),
                            "{rel}: {a:?}"
                        );
                        assert!(!a.title.is_empty(), "{rel}: empty title");
                        if a.entities.is_empty() {
                            assert_eq!(
                                a.coverage,
                                Coverage::Missing,
                                "{rel}: no entities must be Missing"
                            );
                        }
                    }
                }
                (Expect::NotJson, Err(ParseError::NotJson { .. })) => {}
                (Expect::NotAnAlert, Err(ParseError::NotAnAlert { what })) => {
                    assert!(!what.is_empty())
                }
                (Expect::Invalid, Err(ParseError::Invalid { detail, .. })) => {
                    assert!(!detail.is_empty())
                }
                (want, got) => panic!("{rel} {}: expected {want:?}, got {got:?}", p.origin),
            }
        }
        checked += 1;
    }
    assert!(
        checked >= 90,
        "only {checked} corpus files found; is ../shared/corpus there?"
    );
}

fn one(rel: &str) -> cordon_core::Alert {
    let mut a = alerts(&corpus(rel));
    assert_eq!(a.len(), 1, "{rel}");
    a.remove(0)
}

#[test]
fn guardduty_iam_finding_names_the_principal_and_attacker_ip() {
    let a = one("guardduty/custodian_iam-duty-event.json");
    assert_eq!(a.source, Source::GuardDuty);
    assert_eq!(a.source_id, "36b01b60fc22bb4edb19d62d9899e953");
    assert_eq!(
        a.detector_id,
        "guardduty:UnauthorizedAccess:IAMUser/TorIPCaller"
    );
    assert_eq!(a.severity, Severity::Medium);
    assert_eq!(a.tactics, ["InitialAccess"]);
    assert_eq!(a.tenant.as_deref(), Some("883606788610"));
    let p = a
        .entities
        .iter()
        .find_map(|e| match &e.entity {
            Entity::AwsPrincipal(p) => Some((p, e.role, e.role_from_source)),
            _ => None,
        })
        .expect("principal");
    assert_eq!(
        p.0.arn.as_ref().map(|a| a.arn.as_str()),
        Some("arn:aws:iam::883606788610:user/GeneratedFindingUserName")
    );
    // The sample's "GeneratedFindingAccessKeyId" is not an access key id: not set, not guessed.
    assert!(p.0.access_key_id.is_none());
    assert_eq!((p.1, p.2), (Role::Compromised, true));
    let ip = a
        .entities
        .iter()
        .find(|e| matches!(e.entity, Entity::Ip { .. }))
        .expect("ip");
    assert_eq!(ip.entity.label(), "198.51.100.0");
    assert_eq!(ip.role, Role::Attacker);
}

#[test]
fn guardduty_instance_roles_follow_resource_role() {
    let brute = one("guardduty/gdsoar_eb-ec2-sshbruteforce.json");
    let dev = brute
        .entities
        .iter()
        .find(|e| matches!(e.entity, Entity::Device(_)))
        .expect("device");
    assert_eq!(
        (dev.entity.label().as_str(), dev.role),
        ("i-99999999", Role::Victim)
    );
    assert_eq!(brute.severity, Severity::Low);
    let exfil = one("guardduty/gdsoar_eb-ec2-dnsdataexfiltration.json");
    let dev = exfil
        .entities
        .iter()
        .find(|e| matches!(e.entity, Entity::Device(_)))
        .expect("device");
    assert_eq!(dev.role, Role::Compromised);
    assert_eq!(exfil.severity, Severity::High);
}

#[test]
fn guardduty_pascal_case_api_finding() {
    let a = one("guardduty/stixshifter_gd-api-stealth-cloudtraillogging-disabled.json");
    assert_eq!(a.alert_type, "Stealth:IAMUser/CloudTrailLoggingDisabled");
    assert_eq!(a.tactics, ["DefenseEvasion"]);
    assert_eq!(
        a.source_updated.map(|t| t.to_rfc3339()),
        Some("2023-06-08T09:23:06.809+00:00".into())
    );
    assert!(a
        .entities
        .iter()
        .any(|e| e.entity.label() == "222.22.222.22" && e.role == Role::Attacker));
}

#[test]
fn guardduty_templates_are_invalid_with_the_placeholder() {
    match error(&corpus(
        "guardduty/gdsoar_eb-discovery-s3-anomalous.json.tpl",
    )) {
        ParseError::Invalid {
            format: "guardduty",
            detail,
        } => assert!(detail.contains("${user_name}"), "{detail}"),
        e => panic!("{e:?}"),
    }
}

#[test]
fn graph_anonymous_ip_alert_names_homer() {
    let a = one("graph_defender/panther_graph-alertv2-anonymous-ip.json");
    assert_eq!(a.source, Source::GraphSecurity);
    assert_eq!(a.title, "Anonymous IP address");
    let user = a
        .entities
        .iter()
        .find_map(|e| match &e.entity {
            Entity::User(u) => Some(u),
            _ => None,
        })
        .expect("user");
    assert_eq!(
        user.upn.as_ref().map(|u| u.as_str()),
        Some("homer.simpson@corporation.onmicrosoft.com")
    );
    assert_eq!(
        user.object_id.as_ref().map(|u| u.as_str()),
        Some("011d5ede-0faa-4946-a25e-b2cd0c47a52c")
    );
    assert!(a
        .entities
        .iter()
        .any(|e| e.entity.label() == "185.220.103.6"));
}

#[test]
fn mde_alert_has_device_user_and_incident() {
    let a = one("graph_defender/r7_mde-alert-with-evidence.json");
    assert_eq!(a.source, Source::DefenderEndpoint);
    assert_eq!(a.parent_incident.as_deref(), Some("1126093"));
    assert_eq!(a.techniques, ["T1064", "T1085", "T1220"]);
    assert!(a.entities.iter().any(|e| matches!(&e.entity, Entity::Device(d)
        if d.mde_device_id.as_ref().map(|m| m.as_str()) == Some("111e6dd8c833c8a052ea231ec1b19adaf497b625"))));
    assert!(a.entities.iter().any(|e| matches!(&e.entity, Entity::User(u)
        if u.sid.as_ref().map(|s| s.as_str()) == Some("S-1-5-21-11111607-1111760036-109187956-75141"))));
}

#[test]
fn m365d_incident_list_yields_the_mailbox_user() {
    let parsed = cordon_siem::parse_bytes(&corpus("graph_defender/r7_m365d-list-incidents.json"));
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].origin, "value[0]");
    let a = &parsed[0].result.as_ref().expect("alerts")[0];
    assert_eq!(a.source, Source::DefenderXdr);
    assert_eq!(a.parent_incident.as_deref(), Some("924518"));
    assert!(a
        .entities
        .iter()
        .any(|e| e.entity.label() == "testuser3@example.com"));
}

#[test]
fn graph_incident_without_alerts_is_one_missing_alert() {
    let a = one("graph_defender/graphdocs_incident-get-multistage.json");
    assert_eq!(a.source_id, "incident:2972395");
    assert_eq!(a.coverage, Coverage::Missing);
}

#[test]
fn defender_xdr_evidence_record_states_its_role() {
    let a = one("graph_defender/panther_defenderxdr-alertevidence-machine.json");
    assert!(a
        .source_id
        .starts_with("sn34c87846-505a-4c84-b125-44bce1202df4/evidence/"));
    let d = &a.entities[0];
    assert_eq!(d.entity.label(), "testdevice.testdomain.com");
    assert!(d.role_from_source);
    let info = one("graph_defender/panther_defenderxdr-alertinfo.json");
    assert_eq!(info.techniques, ["T1218", "T1218.010", "T1218.011"]);
    assert_eq!(info.coverage, Coverage::Missing);
}

#[test]
fn sentinel_minimal_rest_incident_is_an_alert_with_missing_coverage() {
    let a = one("sentinel/r7_sentinel-rest-incident-minimal.json");
    assert_eq!(a.source, Source::Sentinel);
    assert!(
        a.source_id
            .ends_with("/providers/microsoft.securityinsights/incidents/1505"),
        "{}",
        a.source_id
    );
    assert_eq!(a.coverage, Coverage::Missing);
    assert_eq!(a.severity, Severity::Low);
    assert_eq!(a.parent_incident.as_deref(), Some(a.source_id.as_str()));
}

#[test]
fn sentinel_security_alert_row_with_expanded_entities() {
    let a = one("sentinel/stixshifter_securityalert-row-asc-sample-cryptomining.json");
    assert_eq!(a.source_id, "fac479ec-3566-dce6-0ae3-a90c4af39175");
    assert_eq!(a.severity, Severity::High, "numeric 100 is Sentinel's High");
    assert_eq!(a.tactics, ["Execution"]);
    // Entities repeat "$id": "2" many times; one device comes out.
    let devices: Vec<_> = a
        .entities
        .iter()
        .filter(|e| matches!(e.entity, Entity::Device(_)))
        .collect();
    assert_eq!(devices.len(), 1);
    assert!(a
        .entities
        .iter()
        .any(|e| e.entity.label() == "11.111.111.111"));
    assert!(a
        .entities
        .iter()
        .any(|e| matches!(&e.entity, Entity::User(u) if u.sid.is_some())));
}

#[test]
fn sentinel_entities_ref_graph_resolves() {
    let column = String::from_utf8(corpus("sentinel/msticpy_securityalert-entities.json"))
        .unwrap_or_default();
    let ents = cordon_siem::sentinel::entities_from_securityalert(&serde_json::Value::String(
        column.clone(),
    ));
    let labels: Vec<String> = ents.iter().map(|e| e.entity.label()).collect();
    assert!(
        labels.contains(&"msticalertswin1".to_string()),
        "{labels:?}"
    );
    assert!(
        labels.contains(&"WORKGROUP\\MSTICALERTSWIN1$".to_string()),
        "{labels:?}"
    );
    assert!(labels.iter().any(|l| l.contains("mimikatz")), "{labels:?}");
    // The same column inside a SecurityAlert row (Entities as a JSON string).
    let row = serde_json::json!({
        "TenantId": "f5e9aaeb-3c3c-4045-9889-41e1a8e13cf3",
        "TimeGenerated": "2018-11-15T23:55:00Z",
        "AlertName": "Mimikatz credential theft tool",
        "AlertSeverity": "High",
        "SystemAlertId": "2518519727693000000_0c5b8d2e-1e8c-4e77-9a8d-5f5a2cbf1f00",
        "ProductName": "Azure Security Center",
        "Entities": column,
        "Type": "SecurityAlert"
    });
    let parsed = cordon_siem::parse_value(&row);
    let a = &parsed[0].result.as_ref().expect("alert")[0];
    let user = a
        .entities
        .iter()
        .find_map(|e| match &e.entity {
            Entity::User(u) => Some(u),
            _ => None,
        })
        .expect("account");
    assert_eq!(user.sid.as_ref().map(|s| s.as_str()), Some("S-1-5-20"));
    assert_eq!(
        user.sam.as_ref().map(|s| s.as_str()),
        Some("WORKGROUP\\MSTICALERTSWIN1$")
    );
}

#[test]
fn securityhub_guardduty_relay_keeps_guardduty_semantics() {
    let a = one("securityhub/custodian_sechub-custom-action-guardduty-consolelogin.json");
    assert_eq!(a.source, Source::SecurityHub);
    assert_eq!(
        a.source_id,
        "arn:aws:securityhub:us-east-1::product/aws/guardduty/arn:aws:guardduty:us-east-1:644160558196:detector/06b01209ca77b0865dd973df0355fc1e/finding/4cb5a629e9757b650d102f683cdbcd7b"
    );
    assert_eq!(a.alert_type, "UnauthorizedAccess:IAMUser/ConsoleLogin");
    assert!(a.entities.iter().any(|e| e.role == Role::Compromised
        && matches!(&e.entity, Entity::AwsPrincipal(p) if p.kind == AwsPrincipalKind::IamUser && p.label().ends_with("user/kapil"))));
    assert!(a
        .entities
        .iter()
        .any(|e| e.role == Role::Attacker && e.entity.label() == "208.115.85.104"));
}

#[test]
fn securityhub_getfindings_yields_each_finding_with_its_key() {
    let a = alerts(&corpus(
        "securityhub/custodian_sechub-getfindings-guardduty-5.json",
    ));
    assert_eq!(a.len(), 5);
    assert!(a.iter().any(|x| x
        .entities
        .iter()
        .any(|e| matches!(&e.entity, Entity::AwsPrincipal(p)
        if p.access_key_id.as_ref().map(|k| k.as_str()) == Some("AKIAIPRJCJL6BOF6DPMA")))));
}

#[test]
fn securityhub_compliance_resources_are_related() {
    for f in [
        "securityhub/asr_afsbp-iam.3.json",
        "securityhub/asr_cis14.json",
        "securityhub/asr_afsbp-s3.2.json",
    ] {
        let a = one(f);
        assert!(!a.entities.is_empty(), "{f}");
        assert!(
            a.entities
                .iter()
                .all(|e| e.role == Role::Related && e.role_from_source),
            "{f}"
        );
    }
    assert_eq!(one("securityhub/asr_afsbp-iam.3.json").alert_type, "IAM.3");
}

#[test]
fn securityhub_insight_is_not_an_alert() {
    match error(&corpus("securityhub/custodian_sechub-insight-results.json")) {
        ParseError::NotAnAlert { what } => assert!(what.contains("insight"), "{what}"),
        e => panic!("{e:?}"),
    }
}

#[test]
fn okta_hook_and_lowercased_events() {
    let a = one("okta/oktadocs_event-hook-delivery-user.session.start.json");
    assert_eq!(a.source_id, "f1d0b993-cc19-11ed-a688-db22c99ef6c4");
    assert_eq!(a.detector_id, "okta:user.session.start");
    assert!(a
        .entities
        .iter()
        .any(|e| matches!(&e.entity, Entity::User(u)
        if u.okta_id.as_ref().map(|o| o.as_str()) == Some("00uz9fj5aT69fHVro1d6")
            && u.email.as_ref().map(|m| m.as_str()) == Some("admin@okta.com"))));
    assert!(a
        .entities
        .iter()
        .any(|e| e.entity.label() == "142.126.158.61"));
    let lock = one("okta/panther_okta-user.account.lock.json");
    assert_eq!(lock.alert_type, "user.account.lock");
    assert!(lock
        .entities
        .iter()
        .any(|e| e.entity.label() == "homer.simpson@duff.com"));
    let arr = alerts(&corpus(
        "okta/panther_story-root_attacker_okta.derived.json",
    ));
    assert_eq!(arr.len(), 2);
}

#[test]
fn chronicle_detections_give_the_service_account() {
    let a = alerts(&corpus(
        "siem_webhook/demisto_chronicle-curated-detections-gcp-secret-deletion.json",
    ));
    assert_eq!(a.len(), 2);
    for x in &a {
        assert_eq!(x.source, Source::Chronicle);
        assert_eq!(x.detector_id, "chronicle:ur_ttp_GCP__MassSecretDeletion");
        assert_eq!(x.tactics, ["Impact"]);
        assert_eq!(x.techniques, ["T1485"]);
        assert!(x
            .entities
            .iter()
            .any(|e| e.entity.label() == "secret-migration@test-is-00001.iam.gserviceaccount.com"));
    }
}

#[test]
fn splunk_webhook() {
    let a = one("siem_webhook/zulip_splunk-webhook-search_one_result.json");
    assert_eq!(a.source, Source::Splunk);
    assert_eq!(
        a.source_id,
        "rt_scheduler__admin__search__sudo_at_1483557185_2.2"
    );
    assert_eq!(a.detector_id, "splunk:search:sudo");
    assert!(a.entities.iter().any(|e| e.entity.label() == "myserver"));
}

#[test]
fn telemetry_is_named_precisely() {
    match error(&corpus("cloudtrail/panther_ct-stoplogging.json")) {
        ParseError::NotAnAlert { what } => assert!(
            what.contains("CloudTrail") && what.contains("StopLogging"),
            "{what}"
        ),
        e => panic!("{e:?}"),
    }
    match error(&corpus("entra/panther_entra-signin-legacy-auth.json")) {
        ParseError::NotAnAlert { what } => assert!(what.contains("sign-in"), "{what}"),
        e => panic!("{e:?}"),
    }
    // Not strict JSON (a trailing comma, as published): tolerated, then recognised as a sign-in.
    let p = cordon_siem::parse_bytes(&corpus("entra/graphdocs_signins-list-graph-explorer.json"));
    assert!(
        matches!(&p[0].result, Err(ParseError::NotAnAlert { what }) if what.contains("signIn"))
    );
}

//! Hand-written edge cases (fixtures in `tests/fixtures/`, in the vendors' real formats) for the
//! failure modes in `../shared/cases` C1, C2, C3, C5, C6, and for input framing.

mod common;
use common::*;
use cordon_core::entity::{IdentityRule, Resolution, Role, UserEntity};
use cordon_core::{AlertEntity, Coverage, Entity, Severity, Source};
use cordon_siem::{parse_bytes, parse_value, ParseError};
use serde_json::{json, Value};

fn users(entities: &[AlertEntity]) -> Vec<&UserEntity> {
    entities
        .iter()
        .filter_map(|e| match &e.entity {
            Entity::User(u) => Some(u),
            _ => None,
        })
        .collect()
}

fn trigger() -> Value {
    serde_json::from_slice(&fixture("sentinel_trigger_incident.json")).expect("fixture is JSON")
}

#[test]
fn sentinel_trigger_one_alert_per_alert_with_incident_entities() {
    let a = alerts(&fixture("sentinel_trigger_incident.json"));
    assert_eq!(a.len(), 2);
    let incident = "/subscriptions/d1d8779d-38d7-4f06-91db-9cbc8de0176f/resourcegroups/soc-rg/providers/microsoft.operationalinsights/workspaces/soc-ws/providers/microsoft.securityinsights/incidents/7e0b6a1c-2f45-4b8e-9a31-5c2d0f4e8a77";
    for x in &a {
        assert_eq!(x.source, Source::Sentinel);
        assert_eq!(x.parent_incident.as_deref(), Some(incident));
        assert_eq!(x.coverage, Coverage::Complete);
        assert_eq!(
            x.source_updated.map(|t| t.to_rfc3339()),
            Some("2024-01-12T10:05:11.123+00:00".into())
        );
        // Sentinel states no roles.
        assert!(x.entities.iter().all(|e| !e.role_from_source));
    }
    assert_eq!(a[0].source_id, "c6a1e2d3-4b5f-4a6b-8c7d-9e0f1a2b3c4d");
    assert_eq!(
        a[0].detector_id,
        "sentinel:5e3f1c2a-9b7d-4c11-8f0e-1a2b3c4d5e6f"
    );
    assert_eq!(a[0].severity, Severity::High);
    assert_eq!(
        a[1].detector_id,
        "sentinel:0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
    );
    assert_eq!(a[1].tactics, ["Persistence", "DefenseEvasion"]);

    let u = users(&a[0].entities);
    // AadUserId in braces and upper case → normalized object id; UPN from name + suffix.
    let alice = u
        .iter()
        .find(|u| u.name.as_deref() == Some("alice"))
        .expect("alice");
    assert_eq!(
        alice.object_id.as_ref().map(|o| o.as_str()),
        Some("8b0f3c1e-6a2d-4e4f-9c8b-7a6d5e4f3a2b")
    );
    assert!(matches!(
        alice.resolve(),
        Resolution::Resolved {
            rule: IdentityRule::AadUserId,
            ..
        }
    ));
    // C1: Name + UPNSuffix only → the UPN rule.
    let jdoe = u
        .iter()
        .find(|u| u.name.as_deref() == Some("jdoe"))
        .expect("jdoe");
    assert_eq!(
        jdoe.upn.as_ref().map(|x| x.as_str()),
        Some("jdoe@example.com")
    );
    assert!(matches!(
        jdoe.resolve(),
        Resolution::Resolved {
            rule: IdentityRule::Upn,
            ..
        }
    ));
    // A bare name stays a name: unresolved, never acted on.
    let svc = u
        .iter()
        .find(|u| u.name.as_deref() == Some("svc-backup"))
        .expect("svc");
    assert!(matches!(svc.resolve(), Resolution::Unresolved { .. }));
    // C2: the name is a JSON array in a string; the SID arrives in lower case.
    let bob = u
        .iter()
        .find(|u| {
            u.upn
                .as_ref()
                .is_some_and(|x| x.as_str() == "bob@contoso.com")
        })
        .expect("bob");
    assert_eq!(
        bob.sid.as_ref().map(|s| s.as_str()),
        Some("S-1-5-21-1004336348-1177238915-682003330-512")
    );
    // The mail recipient is a user of ours, unstated: the policy decides she is the victim.
    assert!(u.iter().any(|u| u
        .email
        .as_ref()
        .is_some_and(|x| x.as_str() == "carol@contoso.com")));
    assert!(a[0].entities.iter().any(|e| matches!(&e.entity, Entity::Context { value, .. } if value == "billing@examp1e-invoices.com")));

    let dev = a[0]
        .entities
        .iter()
        .find_map(|e| match &e.entity {
            Entity::Device(d) => Some(d),
            _ => None,
        })
        .expect("host");
    assert_eq!(
        dev.fqdn.as_ref().map(|h| h.as_str()),
        Some("wkstn-042.corp.contoso.com")
    );
    assert!(dev
        .cloud_resource_id
        .as_ref()
        .is_some_and(|c| c.as_str().starts_with("/subscriptions/d1d8779d")));
    assert!(a[0]
        .entities
        .iter()
        .any(|e| e.entity.label() == "185.220.101.33"));
    assert!(a[0]
        .entities
        .iter()
        .any(|e| e.entity.label() == "203.0.113.7"));
}

fn ip_entity(i: usize) -> Value {
    json!({"kind": "Ip", "properties": {"address": format!("10.0.{}.{}", i / 250, i % 250 + 1)}})
}

#[test]
fn sentinel_entity_list_capped_at_50_is_truncated() {
    let mut t = trigger();
    t["object"]["properties"]["relatedEntities"] = Value::Array((0..50).map(ip_entity).collect());
    let parsed = parse_value(&t);
    for a in parsed[0].result.as_ref().expect("alerts") {
        assert_eq!(
            a.coverage,
            Coverage::Truncated {
                received: 50,
                declared: None
            }
        );
    }
}

#[test]
fn sentinel_entity_list_shorter_than_declared_is_truncated() {
    let mut t = trigger();
    t["object"]["properties"]["relatedEntities"] = Value::Array((0..30).map(ip_entity).collect());
    t["object"]["properties"]["additionalData"]["entitiesCount"] = json!(80);
    let parsed = parse_value(&t);
    let a = &parsed[0].result.as_ref().expect("alerts")[0];
    assert_eq!(
        a.coverage,
        Coverage::Truncated {
            received: 30,
            declared: Some(80)
        }
    );
}

#[test]
fn sentinel_incident_with_alerts_but_no_entities_is_missing_never_empty() {
    let mut t = trigger();
    t["object"]["properties"]["relatedEntities"] = json!([]);
    let parsed = parse_value(&t);
    let alerts = parsed[0].result.as_ref().expect("alerts");
    assert_eq!(alerts.len(), 2);
    assert!(alerts
        .iter()
        .all(|a| a.coverage == Coverage::Missing && a.entities.is_empty()));
    // And a Fusion-style incident with neither alerts nor entities still yields one alert.
    t["object"]["properties"]["alerts"] = json!([]);
    let parsed = parse_value(&t);
    let alerts = parsed[0].result.as_ref().expect("alerts");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].coverage, Coverage::Missing);
}

#[test]
fn securityalert_row_identifiers_in_odd_shapes() {
    let row = json!({
        "Type": "SecurityAlert",
        "SystemAlertId": "{5D3F8A41-0000-4000-8000-00000000AAAA}",
        "AlertName": "Suspicious sign-in",
        "AlertSeverity": "Medium",
        "TimeGenerated": "2024-01-01T00:00:00Z",
        "Entities": "[{\"$id\":\"2\",\"Name\":\"[\\\"Eve@Example.COM\\\"]\",\"AadUserId\":\"{0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D}\",\"Type\":\"account\"},{\"$id\":\"3\",\"Name\":\"[\\\"a@x.com\\\",\\\"b@x.com\\\"]\",\"Type\":\"account\"},{\"$id\":\"4\",\"Address\":\"[\\\"192.0.2.10\\\"]\",\"Type\":\"ip\"},{\"$ref\":\"2\"}]"
    });
    let parsed = parse_value(&row);
    let a = &parsed[0].result.as_ref().expect("alert")[0];
    let u = users(&a.entities);
    let eve = u.iter().find(|u| u.upn.is_some()).expect("eve");
    assert_eq!(
        eve.upn.as_ref().map(|x| x.as_str()),
        Some("eve@example.com")
    );
    assert_eq!(
        eve.object_id.as_ref().map(|x| x.as_str()),
        Some("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
    );
    // Several values in one identifier: refused, not guessed (the account keeps no identity).
    assert!(u
        .iter()
        .all(|u| u.upn.as_ref().map(|x| x.as_str()) != Some("a@x.com")));
    let several = u
        .iter()
        .find(|u| u.upn.is_none())
        .expect("kept for a person");
    assert!(matches!(several.resolve(), Resolution::Unresolved { .. }));
    assert!(a.entities.iter().any(|e| e.entity.label() == "192.0.2.10"));
    assert_eq!(
        users(&a.entities).len(),
        2,
        "the $ref repeats the account; it is not a new one"
    );
}

#[test]
fn securityhub_duplicate_deliveries_share_the_dedup_key() {
    let member: Value =
        serde_json::from_slice(&fixture("securityhub_imported_guardduty.json")).expect("json");
    let mut admin = member.clone();
    admin["id"] = json!("99999999-8888-7777-6666-555555555555");
    admin["account"] = json!("777788889999");
    let a = &parse_value(&member)[0].result.clone().expect("member")[0];
    let b = &parse_value(&admin)[0].result.clone().expect("admin")[0];
    assert_eq!(a.dedup_key(), b.dedup_key());
    assert_eq!(a.source_id, b.source_id);
    // A new version of the finding (UpdatedAt moved) is a new key.
    let mut newer = member.clone();
    newer["detail"]["findings"][0]["UpdatedAt"] = json!("2024-04-02T12:30:00.000Z");
    let c = &parse_value(&newer)[0].result.clone().expect("newer")[0];
    assert_ne!(a.dedup_key(), c.dedup_key());
    // GuardDuty semantics through Security Hub: the brute-forced instance is the victim.
    assert_eq!(a.alert_type, "UnauthorizedAccess:EC2/SSHBruteForce");
    assert_eq!(a.tactics, ["InitialAccess"]);
    assert!(a
        .entities
        .iter()
        .any(|e| e.role == Role::Victim && e.entity.label() == "i-0123456789abcdef0"));
    assert!(a
        .entities
        .iter()
        .any(|e| e.role == Role::Attacker && e.entity.label() == "198.51.100.23"));
}

#[test]
fn guardduty_envelope_without_detail_type_still_parses() {
    let a = alerts(&fixture("guardduty_eventbridge_no_detail_type.json"));
    assert_eq!(a.len(), 1);
    let a = &a[0];
    assert_eq!(a.source, Source::GuardDuty);
    assert_eq!(a.severity, Severity::High);
    let p = a
        .entities
        .iter()
        .find_map(|e| match &e.entity {
            Entity::AwsPrincipal(p) => Some((p, e.role)),
            _ => None,
        })
        .expect("principal");
    assert_eq!(
        p.0.access_key_id.as_ref().map(|k| k.as_str()),
        Some("ASIAQWERTYUIOPASDFGH")
    );
    // The session (from principalId) is kept; containment acts on its role.
    let arn = p.0.arn.as_ref().expect("arn");
    assert_eq!(
        arn.arn,
        "arn:aws:sts::123456789012:assumed-role/web-app-role/i-0abc123def4567890"
    );
    assert_eq!(
        arn.role_arn().as_deref(),
        Some("arn:aws:iam::123456789012:role/web-app-role")
    );
    assert_eq!(p.1, Role::Compromised);
    assert!(a
        .entities
        .iter()
        .any(|e| e.role == Role::Attacker && e.entity.label() == "203.0.113.50"));
}

#[test]
fn guardduty_iam_finding_keeps_its_access_key() {
    let a = &alerts(&fixture("guardduty_iam_user_key.json"))[0];
    assert!(a.entities.iter().any(|e| matches!(&e.entity, Entity::AwsPrincipal(p)
        if p.access_key_id.as_ref().map(|k| k.as_str()) == Some("AKIAIOSFODNN7EXAMPLE")
            && p.arn.as_ref().map(|x| x.arn.as_str()) == Some("arn:aws:iam::123456789012:user/ci-deployer"))));
}

#[test]
fn graph_evidence_roles_are_stated() {
    let a = &alerts(&fixture("graph_alert_v2_roles.json"))[0];
    assert_eq!(a.parent_incident.as_deref(), Some("28282"));
    assert_eq!(a.tactics, ["InitialAccess"]);
    assert_eq!(a.techniques, ["T1566.002", "T1528"]);
    let role_of = |pred: &dyn Fn(&Entity) -> bool| {
        a.entities
            .iter()
            .find(|e| pred(&e.entity))
            .map(|e| (e.role, e.role_from_source))
    };
    assert_eq!(
        role_of(
            &|e| matches!(e, Entity::User(u) if u.object_id.as_ref().is_some_and(|o| o.as_str() == "7d0e1f2a-3b4c-4d5e-8f60-718293a4b5c6"))
        ),
        Some((Role::Compromised, true))
    );
    assert_eq!(
        role_of(
            &|e| matches!(e, Entity::User(u) if u.email.as_ref().is_some_and(|m| m.as_str() == "erin@contoso.com"))
        ),
        Some((Role::Victim, true))
    );
    assert_eq!(
        role_of(&|e| matches!(e, Entity::OauthApp(_))),
        Some((Role::Attacker, true))
    );
    assert_eq!(
        role_of(&|e| matches!(e, Entity::Device(_))),
        Some((Role::Related, false))
    );
    // The sender IP is mentioned twice (message: victim role, ip evidence: attacker); the stated
    // attacker role is not lost.
    assert!(a
        .entities
        .iter()
        .any(|e| e.entity.label() == "203.0.113.99" && e.role_from_source));
}

#[test]
fn okta_redacted_event_without_uuid_gets_a_stable_id() {
    let raw = fixture("okta_redacted_no_uuid.json");
    let a = &alerts(&raw)[0];
    assert!(a.source_id.starts_with("sha256:"));
    assert_eq!(a.coverage, Coverage::Missing);
    assert_eq!(a.severity, Severity::Medium);
    // Same event, keys in another order and other whitespace: same id.
    let v: Value = serde_json::from_slice(&raw).expect("json");
    let again = serde_json::to_vec_pretty(&v).expect("serialize");
    assert_eq!(alerts(&again)[0].source_id, a.source_id);
}

#[test]
fn ndjson_bad_line_is_quarantined_with_its_number() {
    let parsed = parse_bytes(&fixture("okta_events.ndjson"));
    assert_eq!(parsed.len(), 3);
    assert_eq!(parsed[0].origin, "line 1");
    assert!(parsed[0].result.is_ok());
    assert_eq!(parsed[1].origin, "line 2");
    assert!(matches!(parsed[1].result, Err(ParseError::NotJson { .. })));
    assert_eq!(parsed[2].origin, "line 3");
    assert_eq!(
        parsed[2]
            .result
            .as_ref()
            .map(|a| a[0].alert_type.clone())
            .ok()
            .as_deref(),
        Some("user.account.lock")
    );
}

#[test]
fn truncated_json_is_not_json() {
    match error(&fixture("truncated_guardduty.json")) {
        ParseError::NotJson { detail } => assert!(
            detail.contains("truncated") || detail.contains("EOF"),
            "{detail}"
        ),
        e => panic!("{e:?}"),
    }
}

#[test]
fn bom_is_tolerated() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(fixture("guardduty_iam_user_key.json"));
    assert_eq!(alerts(&bytes).len(), 1);
}

#[test]
fn array_elements_are_parsed_separately() {
    let gd: Value = serde_json::from_slice(&fixture("guardduty_iam_user_key.json")).expect("json");
    let ct = json!({"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": "CreateUser"});
    let payload = json!([gd, {"hello": "world"}, ct]);
    let parsed = parse_value(&payload);
    assert_eq!(parsed.len(), 3);
    assert!(parsed[0].result.is_ok());
    assert_eq!(parsed[1].origin, "[1]");
    assert!(
        matches!(&parsed[1].result, Err(ParseError::Unrecognised { detail }) if detail.contains("hello"))
    );
    assert!(matches!(
        parsed[2].result,
        Err(ParseError::NotAnAlert { .. })
    ));
}

#[test]
fn degenerate_inputs() {
    assert!(matches!(error(b""), ParseError::NotJson { .. }));
    assert!(matches!(error(b"   \n"), ParseError::NotJson { .. }));
    assert!(matches!(error(b"\xff\xfe{}"), ParseError::NotJson { .. }));
    assert!(matches!(error(b"[]"), ParseError::NotAnAlert { .. }));
    assert!(matches!(error(b"42"), ParseError::Unrecognised { .. }));
    assert!(matches!(error(b"{}"), ParseError::Unrecognised { .. }));
    assert!(matches!(
        error(b"{\"detail\":{},\"detail-type\":\"GuardDuty Finding\"}"),
        ParseError::Invalid { .. }
    ));
}

#[test]
fn recognition_is_by_shape() {
    let gd: Value = serde_json::from_slice(&fixture("guardduty_iam_user_key.json")).expect("json");
    assert_eq!(
        cordon_siem::recognise(&gd).map(|s| s.name()),
        Some("guardduty")
    );
    assert_eq!(
        cordon_siem::recognise(&trigger()).map(|s| s.name()),
        Some("sentinel")
    );
    assert!(cordon_siem::recognise(&json!({"a": 1})).is_none());
    assert_eq!(cordon_siem::sources().len(), 7);
}

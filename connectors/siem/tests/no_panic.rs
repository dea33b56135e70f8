//! Nothing may panic on any input: arbitrary bytes, arbitrary JSON, and JSON built from the keys
//! the parsers look at (so the property reaches deep into every parser, not just recognition).

use proptest::prelude::*;
use serde_json::{Map, Value};

const KEYS: &[&str] = &[
    "object",
    "properties",
    "type",
    "Type",
    "kind",
    "id",
    "Id",
    "name",
    "alerts",
    "relatedEntities",
    "Entities",
    "$id",
    "$ref",
    "SystemAlertId",
    "AlertName",
    "IncidentName",
    "IncidentNumber",
    "IncidentUrl",
    "Name",
    "UPNSuffix",
    "AadUserId",
    "Sid",
    "NTDomain",
    "HostName",
    "DnsDomain",
    "Address",
    "additionalData",
    "evidence",
    "@odata.type",
    "at_sign_odata_type",
    "roles",
    "userAccount",
    "userPrincipalName",
    "machineId",
    "incidentId",
    "incidentName",
    "category",
    "AlertId",
    "EntityType",
    "detail",
    "detail-type",
    "source",
    "resource",
    "Resource",
    "service",
    "accessKeyDetails",
    "instanceDetails",
    "action",
    "remoteIpDetails",
    "ipAddressV4",
    "resourceRole",
    "severity",
    "updatedAt",
    "accountId",
    "findings",
    "Findings",
    "ProductArn",
    "Resources",
    "Severity",
    "UpdatedAt",
    "Compliance",
    "Types",
    "eventType",
    "uuid",
    "published",
    "actor",
    "target",
    "client",
    "ipAddress",
    "alternateId",
    "data",
    "events",
    "sid",
    "search_name",
    "result",
    "detections",
    "detection",
    "collectionElements",
    "references",
    "event",
    "principal",
    "entity",
    "signals",
    "tags",
    "value",
    "Records",
    "eventVersion",
    "eventSource",
    "eventName",
    "status_code",
    "tactics",
];

const STRINGS: &[&str] = &[
    "Microsoft.SecurityInsights/Incidents",
    "SecurityAlert",
    "Account",
    "Host",
    "Ip",
    "MailMessage",
    "account",
    "GuardDuty Finding",
    "Security Hub Findings - Imported",
    "UnauthorizedAccess:EC2/SSHBruteForce",
    "TARGET",
    "ACTOR",
    "#microsoft.graph.security.userEvidence",
    "#microsoft.graph.security.incident",
    "AdvancedHunting-AlertEvidence",
    "com.okta.event_hook",
    "User",
    "user.session.start",
    "[\"a@b.com\"]",
    "[\"a@b.com\",\"c@d.com\"]",
    "{011D5EDE-0FAA-4946-A25E-B2CD0C47A52C}",
    "S-1-5-21-1-2-3",
    "1.2.3.4",
    "::1",
    "${x}",
    "2024-01-01 00:00:00",
    "arn:aws:iam::123456789012:user/x",
    "AKIAIOSFODNN7EXAMPLE",
    "T1078.001",
    "TA0001",
    "",
    " ",
    "é€𝄞",
    "0",
    "[{\"$id\":\"1\",\"Type\":\"account\",\"Name\":\"x\"},{\"$ref\":\"1\"}]",
    "/SUBSCRIPTIONS/x",
    "i-0abc",
];

fn shaped_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        prop::sample::select(STRINGS).prop_map(|s| Value::String(s.to_string())),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<Map<String, Value>>(),
                )
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let out = cordon_siem::parse_bytes(&bytes);
        prop_assert!(!out.is_empty());
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,256}") {
        let _ = cordon_siem::parse_bytes(text.as_bytes());
    }

    #[test]
    fn shaped_json_never_panics(v in shaped_json()) {
        let out = cordon_siem::parse_value(&v);
        prop_assert!(!out.is_empty());
        for p in out {
            if let Ok(alerts) = p.result {
                for a in alerts {
                    prop_assert!(!a.source_id.is_empty());
                    prop_assert!(!a.entities.is_empty() || a.coverage == cordon_core::Coverage::Missing);
                }
            }
        }
        // And the same value as bytes, pretty and as an NDJSON line pair.
        let text = serde_json::to_string(&v).unwrap_or_default();
        let _ = cordon_siem::parse_bytes(format!("{text}\n{text}\n").as_bytes());
    }
}

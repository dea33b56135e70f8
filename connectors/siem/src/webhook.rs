//! Generic SIEM webhooks. Field names follow the vendors' published payloads; where a vendor
//! leaves a choice, the choice is written next to the code.
//!
//! Accepted shapes:
//! - **Splunk** alert action webhook: `{sid, search_name, app, owner, results_link, result{}}`
//!   → [`Source::Splunk`]; `source_id` = `sid` (unique per search run), `detector_id` =
//!   `splunk:<app>:<search_name>`. Entities come from the first result row's CIM-style fields
//!   (`user`/`src_user`…, `src_ip`/`dest_ip`/`src`/`dest`…, `host`/`dest_host`…); `host` is the
//!   machine that logged the event.
//! - **Google SecOps / Chronicle** detections: a list response (`detections[]` or
//!   `curatedRuleDetections[]`) or one detection (`{id, type, detection[], collectionElements[],
//!   timeWindow}`) → [`Source::Chronicle`], one alert per detection; `detector_id` =
//!   `chronicle:<ruleId>`; entities from the UDM events in `collectionElements[].references[]`
//!   (`principal`, `target`, `src`: user e-mail/userid/SID, IPs, host names); MITRE from
//!   `tags` (`TA0040`, `T1485`) and `ruleLabels` (`tactic`/`technique`/`mitre_attack_*`).
//! - **Sumo Logic Cloud SIEM** insights and signals (`{id, readableId, name, severity,
//!   entity{entityType, value}, signals[], tags}`) → [`Source::SumoLogic`]; MITRE from tags
//!   `_mitreAttackTactic:…` / `_mitreAttackTechnique:…`; signal severity (0–10) on GuardDuty's
//!   scale.
//!
//! No webhook states roles: every entity is unstated.

use crate::util::*;
use cordon_core::entity::{ContextKind, DeviceEntity};
use cordon_core::ids::HostName;
use cordon_core::{Alert, AlertEntity, AlertSource, Entity, ParseError, Severity, Source};
use serde_json::Value;

/// The generic webhook parser (Splunk, Chronicle/SecOps, Sumo Logic).
pub struct Webhook;

enum Shape<'a> {
    Splunk,
    ChronicleList(&'a [Value]),
    ChronicleOne,
    Sumo,
}

fn is_chronicle_detection(v: &Value) -> bool {
    v.get("detection").is_some_and(Value::is_array) && v.get("id").is_some()
}

fn shape(v: &Value) -> Option<Shape<'_>> {
    let o = v.as_object()?;
    if o.contains_key("sid") && o.contains_key("search_name") {
        return Some(Shape::Splunk);
    }
    for k in ["detections", "curatedRuleDetections"] {
        if let Some(Value::Array(list)) = o.get(k) {
            return Some(Shape::ChronicleList(list));
        }
    }
    if is_chronicle_detection(v) {
        return Some(Shape::ChronicleOne);
    }
    let sumo_entity = o
        .get("entity")
        .is_some_and(|e| e.get("entityType").is_some());
    let readable = o
        .get("readableId")
        .and_then(Value::as_str)
        .is_some_and(|r| r.starts_with("INSIGHT-") || r.starts_with("SIGNAL-"));
    if readable || (sumo_entity && (o.contains_key("signals") || o.contains_key("ruleId"))) {
        return Some(Shape::Sumo);
    }
    None
}

impl AlertSource for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn recognises(&self, payload: &Value) -> bool {
        shape(payload).is_some()
    }

    fn parse(&self, payload: &Value) -> Result<Vec<Alert>, ParseError> {
        match shape(payload) {
            Some(Shape::Splunk) => splunk(payload).map(|a| vec![a]),
            Some(Shape::ChronicleList([])) => Err(ParseError::NotAnAlert {
                what: "a Chronicle detections response with no detections".into(),
            }),
            Some(Shape::ChronicleList(list)) => list.iter().map(chronicle).collect(),
            Some(Shape::ChronicleOne) => chronicle(payload).map(|a| vec![a]),
            Some(Shape::Sumo) => sumo(payload).map(|a| vec![a]),
            None => Err(ParseError::Unrecognised {
                detail: "not a known SIEM webhook".into(),
            }),
        }
    }
}

/// A scalar field value, or the first of a multi-value field.
fn scalar(v: Option<&Value>) -> Option<&str> {
    match v? {
        Value::Array(a) => a.iter().find_map(|x| str_of(Some(x))),
        other => str_of(Some(other)),
    }
}

fn user_entity(s: &str) -> Option<Entity> {
    let parts = if s.contains('@') {
        AccountParts {
            email: Some(s),
            ..AccountParts::default()
        }
    } else if let Some((d, n)) = s.split_once('\\') {
        AccountParts {
            nt_domain: Some(d),
            name: Some(n),
            ..AccountParts::default()
        }
    } else {
        AccountParts {
            name: Some(s),
            ..AccountParts::default()
        }
    };
    user_from(&parts).map(Entity::User)
}

fn host_or_ip(s: &str) -> Option<Entity> {
    ip_entity(s).or_else(|| {
        HostName::parse(s).ok().map(|h| {
            let fqdn = h.as_str().contains('.').then(|| h.clone());
            Entity::Device(DeviceEntity {
                host_name: HostName::parse(h.short()).ok(),
                fqdn,
                ..DeviceEntity::default()
            })
        })
    })
}

const SPLUNK_USER: &[&str] = &[
    "user",
    "src_user",
    "user_name",
    "username",
    "user_principal_name",
    "userPrincipalName",
    "Account_Name",
];
const SPLUNK_IP: &[&str] = &[
    "src_ip",
    "dest_ip",
    "ip",
    "client_ip",
    "clientip",
    "remote_ip",
    "source_ip",
    "src",
    "dest",
];
const SPLUNK_HOST: &[&str] = &[
    "host",
    "dest_host",
    "src_host",
    "hostname",
    "ComputerName",
    "dvc",
];

fn splunk(v: &Value) -> Result<Alert, ParseError> {
    let sid = gs(v, "sid").ok_or_else(|| ParseError::Invalid {
        format: "splunk",
        detail: "webhook has no sid".into(),
    })?;
    let search = gs(v, "search_name").unwrap_or("unnamed search");
    let app = gs(v, "app").unwrap_or("search");
    let mut a = blank(Source::Splunk, sid.to_string());
    let result = get(v, "result").unwrap_or(&Value::Null);
    let t = time_of(get(result, "_time"));
    a.source_updated = t;
    a.first_activity = t;
    a.detector_id = format!("splunk:{app}:{search}");
    a.detector_name = search.to_string();
    a.alert_type = search.to_string();
    a.title = search.to_string();
    a.severity = severity_of(get(result, "severity").or_else(|| get(result, "urgency")))
        .unwrap_or(Severity::Medium);
    let mut ents = Vec::new();
    for k in SPLUNK_USER {
        ents.extend(scalar(result.get(*k)).and_then(user_entity));
    }
    for k in SPLUNK_IP {
        ents.extend(scalar(result.get(*k)).and_then(host_or_ip));
    }
    for k in SPLUNK_HOST {
        ents.extend(scalar(result.get(*k)).and_then(host_or_ip));
    }
    a.entities = ents.into_iter().map(AlertEntity::unstated).collect();
    Ok(finish(a))
}

fn udm_entities(noun: &Value, out: &mut Vec<Entity>) {
    if let Some(user) = get(noun, "user") {
        if let Some(Value::Array(emails)) = get(user, "emailAddresses") {
            for e in emails.iter().filter_map(|e| str_of(Some(e))) {
                out.extend(user_entity(e));
            }
        }
        let parts = AccountParts {
            name: gs(user, "userid"),
            sid: gs(user, "windowsSid"),
            display_name: gs(user, "userDisplayName"),
            ..AccountParts::default()
        };
        if parts.name.is_some() || parts.sid.is_some() {
            if let Some(n) = parts.name.filter(|n| n.contains('@')) {
                out.extend(user_entity(n));
            } else {
                out.extend(user_from(&parts).map(Entity::User));
            }
        }
    }
    match get(noun, "ip") {
        Some(Value::Array(ips)) => out.extend(
            ips.iter()
                .filter_map(|i| str_of(Some(i)))
                .filter_map(ip_entity),
        ),
        Some(Value::String(ip)) => out.extend(ip_entity(ip)),
        _ => {}
    }
    if let Some(h) = gs(noun, "hostname").or_else(|| ps(noun, &["asset", "hostname"])) {
        out.extend(host_or_ip(h));
    }
}

fn chronicle(d: &Value) -> Result<Alert, ParseError> {
    let id = gs(d, "id").ok_or_else(|| ParseError::Invalid {
        format: "chronicle",
        detail: "detection has no id".into(),
    })?;
    let det = get(d, "detection")
        .and_then(|x| x.get(0))
        .unwrap_or(&Value::Null);
    let mut a = blank(Source::Chronicle, id.to_string());
    a.source_updated =
        time_of(get(d, "lastUpdatedTime")).or_else(|| time_of(get(d, "createdTime")));
    let rule_name = gs(det, "ruleName").unwrap_or("Chronicle detection");
    a.detector_id = format!("chronicle:{}", gs(det, "ruleId").unwrap_or(rule_name));
    a.detector_name = rule_name.to_string();
    a.alert_type = rule_name.to_string();
    a.title = rule_name.to_string();
    a.severity = severity_of(get(det, "severity"))
        .or_else(|| f64_of(get(det, "riskScore")).map(severity_0_100))
        .unwrap_or(Severity::Medium);
    let mut labels: Vec<String> = string_list(get(d, "tags"));
    if let Some(Value::Array(rl)) = get(det, "ruleLabels") {
        for l in rl {
            let key = gs(l, "key").unwrap_or("").to_ascii_lowercase();
            if key.contains("tactic") || key.contains("technique") || key.contains("mitre") {
                labels.extend(gs(l, "value").map(str::to_string));
            }
        }
    }
    for l in &labels {
        for part in l.split(',') {
            if let Some(t) = tactic(part) {
                push_unique(&mut a.tactics, t.to_string());
            }
        }
        techniques_in(l, &mut a.techniques);
    }
    a.first_activity = ps(d, &["timeWindow", "startTime"]).and_then(parse_time);
    a.last_activity = ps(d, &["timeWindow", "endTime"]).and_then(parse_time);
    let mut ents = Vec::new();
    if let Some(Value::Array(elems)) = get(d, "collectionElements") {
        for el in elems {
            let Some(Value::Array(refs)) = get(el, "references") else {
                continue;
            };
            for r in refs {
                let Some(ev) = get(r, "event").or_else(|| get(r, "entity")) else {
                    continue;
                };
                for noun in ["principal", "target", "src"] {
                    if let Some(n) = get(ev, noun) {
                        udm_entities(n, &mut ents);
                    }
                }
            }
        }
    }
    a.entities = ents.into_iter().map(AlertEntity::unstated).collect();
    Ok(finish(a))
}

fn sumo_entity(e: &Value) -> Option<Entity> {
    let value = gs(e, "value").or_else(|| gs(e, "name"))?;
    match gs(e, "entityType")
        .unwrap_or("")
        .trim_start_matches('_')
        .to_ascii_lowercase()
        .as_str()
    {
        "username" | "user" => user_entity(value),
        "ip" => ip_entity(value),
        "hostname" | "host" => host_or_ip(value),
        other => Some(context(ContextKind::Other, &format!("{other}: {value}"))),
    }
}

fn sumo(v: &Value) -> Result<Alert, ParseError> {
    let id = text_of(get(v, "id"))
        .or_else(|| gs(v, "readableId").map(str::to_string))
        .ok_or_else(|| ParseError::Invalid {
            format: "sumologic",
            detail: "insight/signal has no id".into(),
        })?;
    let mut a = blank(Source::SumoLogic, id);
    a.source_updated = time_of(get(v, "lastUpdated")).or_else(|| time_of(get(v, "timestamp")));
    let name = gs(v, "name").unwrap_or("Cloud SIEM insight");
    let insight = get(v, "signals").is_some()
        || gs(v, "readableId").is_some_and(|r| r.starts_with("INSIGHT-"));
    a.detector_id = match gs(v, "ruleId") {
        Some(r) => format!("sumologic:{r}"),
        None if insight => "sumologic:insight".to_string(),
        None => format!("sumologic:{name}"),
    };
    a.detector_name = name.to_string();
    a.alert_type = name.to_string();
    a.title = gs(v, "readableId")
        .map(|r| format!("{r}: {name}"))
        .unwrap_or_else(|| name.to_string());
    a.severity = match get(v, "severity") {
        Some(Value::Number(n)) => n
            .as_f64()
            .map(Severity::from_guardduty)
            .unwrap_or(Severity::Medium),
        other => severity_of(other).unwrap_or(Severity::Medium),
    };
    let mut tags = string_list(get(v, "tags"));
    let mut ents: Vec<Entity> = get(v, "entity").and_then(sumo_entity).into_iter().collect();
    if let Some(Value::Array(signals)) = get(v, "signals") {
        for s in signals {
            ents.extend(get(s, "entity").and_then(sumo_entity));
            tags.extend(string_list(get(s, "tags")));
        }
    }
    for t in &tags {
        if let Some(x) = t.strip_prefix("_mitreAttackTactic:") {
            if let Some(tac) = tactic(x) {
                push_unique(&mut a.tactics, tac.to_string());
            }
        } else if t.starts_with("_mitreAttackTechnique:") {
            techniques_in(t, &mut a.techniques);
        }
    }
    a.first_activity = time_of(get(v, "timestamp")).or_else(|| time_of(get(v, "created")));
    a.entities = ents.into_iter().map(AlertEntity::unstated).collect();
    Ok(finish(a))
}

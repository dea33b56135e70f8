//! Microsoft Sentinel.
//!
//! Accepted shapes:
//! - the body a Sentinel playbook's incident trigger forwards: `{ object: { id, name, type:
//!   "Microsoft.SecurityInsights/Incidents", properties: { …, alerts[], relatedEntities[] } },
//!   workspaceId, … }`;
//! - REST API objects: an incident (`type: Microsoft.SecurityInsights/Incidents`, with or without
//!   `alerts`/`relatedEntities`), an alert (`kind: SecurityAlert`), and the incident entities
//!   response / a lone entity (recognised, rejected as `NotAnAlert`: they complete an incident,
//!   see [`entities_from_rest`]);
//! - Log Analytics rows: `SecurityAlert` (its `Entities` column a JSON string or an expanded
//!   array/object of ASC-style entities with `$id`/`$ref` references) and `SecurityIncident`;
//! - a bare `Entities` column (entity graph without its alert row): `Invalid`.
//!
//! Sentinel does not state entity roles, so every entity is `AlertEntity::unstated` and the
//! policy's role table decides (a mail recipient included, `../shared/cases` C4).
//!
//! Coverage (`../shared/cases` C3): no entities → `Missing`; fewer related entities than a
//! declared count, or exactly 50 (the trigger's cap) → `Truncated`. An incident with no alerts
//! still yields one alert standing for the incident (`source_id` = its ARM id, lower-cased, or
//! its name), with `Coverage::Missing` when it carries no entities.
//!
//! Alerts inside an incident take the incident's `lastModifiedTimeUtc` as `source_updated`: the
//! entities come from the incident, so a later delivery with more entities is a new version.

use crate::util::*;
use cordon_core::entity::{AppEntity, ContextKind, DeviceEntity};
use cordon_core::ids::{AppId, CloudResourceId, HostName, MdeDeviceId, ObjectId};
use cordon_core::{
    Alert, AlertEntity, AlertSource, Coverage, Entity, ParseError, Severity, Source,
};
use serde_json::Value;
use std::collections::HashSet;

const FORMAT: &str = "sentinel";
/// The number of related entities a Sentinel incident trigger carries at most.
pub const ENTITY_CAP: usize = 50;

/// The Sentinel parser.
pub struct Sentinel;

fn is_type(v: &Value, suffix: &str) -> bool {
    v.get("type")
        .and_then(Value::as_str)
        .and_then(|t| t.get(t.len().checked_sub(suffix.len())?..))
        .is_some_and(|end| end.eq_ignore_ascii_case(suffix))
}

enum Shape<'a> {
    /// An incident object (`{id, name, type, properties}`), and the envelope around it, if any.
    Incident(&'a Value, Option<&'a Value>),
    RestAlert(&'a Value),
    RestEntity,
    EntitiesResponse,
    SecurityAlertRow,
    SecurityIncidentRow,
    EntitiesColumn,
}

fn shape(v: &Value) -> Option<Shape<'_>> {
    let obj = v.as_object()?;
    if let Some(inner) = obj.get("object") {
        if is_type(inner, "SecurityInsights/Incidents")
            || obj.get("objectSchemaType").and_then(Value::as_str) == Some("Incident")
        {
            return Some(Shape::Incident(inner, Some(v)));
        }
    }
    if is_type(v, "SecurityInsights/Incidents") {
        return Some(Shape::Incident(v, None));
    }
    if is_type(v, "SecurityInsights/Entities") || is_type(v, "SecurityInsights/alerts") {
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        if kind.eq_ignore_ascii_case("SecurityAlert") || is_type(v, "SecurityInsights/alerts") {
            return Some(Shape::RestAlert(v));
        }
        return Some(Shape::RestEntity);
    }
    if obj.get("entities").is_some_and(Value::is_array) && obj.contains_key("metaData") {
        return Some(Shape::EntitiesResponse);
    }
    match obj.get("Type").and_then(Value::as_str) {
        Some("SecurityAlert") => return Some(Shape::SecurityAlertRow),
        Some("SecurityIncident") => return Some(Shape::SecurityIncidentRow),
        _ => {}
    }
    if obj.contains_key("SystemAlertId")
        && (obj.contains_key("AlertName") || obj.contains_key("DisplayName"))
    {
        return Some(Shape::SecurityAlertRow);
    }
    if obj.contains_key("IncidentName") && obj.contains_key("IncidentNumber") {
        return Some(Shape::SecurityIncidentRow);
    }
    // A bare Entities column: an object whose values are ASC entities (`$id` + `Type`).
    if !obj.is_empty()
        && obj.len() <= 1000
        && obj
            .values()
            .take(3)
            .all(|e| e.get("$id").is_some() && e.get("Type").is_some())
    {
        return Some(Shape::EntitiesColumn);
    }
    None
}

impl AlertSource for Sentinel {
    fn name(&self) -> &'static str {
        FORMAT
    }

    fn recognises(&self, payload: &Value) -> bool {
        shape(payload).is_some()
    }

    fn parse(&self, payload: &Value) -> Result<Vec<Alert>, ParseError> {
        match shape(payload) {
            Some(Shape::Incident(inc, env)) => parse_incident(inc, env),
            Some(Shape::RestAlert(a)) => {
                let props = get(a, "properties").ok_or_else(|| invalid("alert object has no properties"))?;
                Ok(vec![finish(rest_alert(a, props, None, Vec::new(), None, None, &[]))])
            }
            Some(Shape::RestEntity) => Err(ParseError::NotAnAlert {
                what: "a Sentinel entity object on its own (entities complete an incident; they are not alerts)"
                    .into(),
            }),
            Some(Shape::EntitiesResponse) => Err(ParseError::NotAnAlert {
                what: "a Sentinel incident entities response (use it to complete a truncated incident)".into(),
            }),
            Some(Shape::SecurityAlertRow) => security_alert_row(payload).map(|a| vec![a]),
            Some(Shape::SecurityIncidentRow) => security_incident_row(payload).map(|a| vec![a]),
            Some(Shape::EntitiesColumn) => Err(invalid(
                "a SecurityAlert Entities column without its alert row (no SystemAlertId, name or time)",
            )),
            None => Err(ParseError::Unrecognised { detail: "not a Sentinel incident, alert or row".into() }),
        }
    }
}

fn invalid(detail: &str) -> ParseError {
    ParseError::Invalid {
        format: FORMAT,
        detail: detail.to_string(),
    }
}

/// The workspace an ARM id belongs to: everything before `/providers/Microsoft.SecurityInsights`.
fn workspace_of(arm_id: &str) -> Option<String> {
    let lower = arm_id.to_ascii_lowercase();
    let i = lower.find("/providers/microsoft.securityinsights")?;
    Some(lower[..i].to_string())
}

fn rule_id(s: &str) -> String {
    s.rsplit('/').next().unwrap_or(s).to_ascii_lowercase()
}

fn parse_incident(inc: &Value, env: Option<&Value>) -> Result<Vec<Alert>, ParseError> {
    let props = get(inc, "properties")
        .filter(|p| p.is_object())
        .ok_or_else(|| invalid("incident has no properties"))?;
    let key = gs(inc, "id")
        .map(str::to_ascii_lowercase)
        .or_else(|| gs(inc, "name").map(str::to_string))
        .or_else(|| text_of(get(props, "incidentNumber")))
        .ok_or_else(|| invalid("incident has neither id, name nor incidentNumber"))?;
    let tenant = gs(inc, "id")
        .and_then(workspace_of)
        .or_else(|| env.and_then(|e| gs(e, "workspaceId")).map(str::to_string));
    let updated = time_of(get(props, "lastModifiedTimeUtc"));
    let incident_rules: Vec<String> = string_list(get(props, "relatedAnalyticRuleIds"));

    let related = get(props, "relatedEntities").and_then(Value::as_array);
    let mut entities = Vec::new();
    if let Some(list) = related {
        for e in list {
            let kind = gs(e, "kind").unwrap_or("");
            if let Some(p) = get(e, "properties") {
                entity_from(kind, p, &mut entities);
            }
        }
    }
    let entities: Vec<AlertEntity> =
        dedup(entities.into_iter().map(AlertEntity::unstated).collect());
    let declared = [
        path(props, &["additionalData", "entitiesCount"]),
        path(props, &["additionalData", "relatedEntitiesCount"]),
        get(props, "relatedEntitiesCount"),
    ]
    .into_iter()
    .find_map(|v| f64_of(v).map(|n| n as usize));
    let received = related.map_or(0, Vec::len);
    let coverage = if entities.is_empty() {
        Coverage::Missing
    } else if declared.is_some_and(|d| d > received) || received == ENTITY_CAP {
        Coverage::Truncated { received, declared }
    } else {
        Coverage::Complete
    };

    let alerts = get(props, "alerts")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut out = Vec::with_capacity(alerts.len().max(1));
    for a in alerts {
        let Some(ap) = get(a, "properties") else {
            continue;
        };
        let mut alert = rest_alert(
            a,
            ap,
            Some(&key),
            entities.clone(),
            updated,
            tenant.clone(),
            &incident_rules,
        );
        alert.coverage = coverage.clone();
        out.push(finish_keep_coverage(alert));
    }
    if out.is_empty() {
        let mut a = blank(Source::Sentinel, key.clone());
        a.source_updated = updated;
        a.detector_id = match incident_rules.as_slice() {
            [one] => format!("sentinel:{}", rule_id(one)),
            _ => "sentinel:incident".to_string(),
        };
        a.alert_type = "SentinelIncident".into();
        a.title = gs(props, "title")
            .unwrap_or("Sentinel incident")
            .to_string();
        a.detector_name = a.title.clone();
        a.severity = sentinel_severity(get(props, "severity"));
        a.tactics = tactics_of(path(props, &["additionalData", "tactics"]));
        a.techniques = techniques_of(path(props, &["additionalData", "techniques"]));
        a.first_activity = time_of(get(props, "firstActivityTimeUtc"));
        a.last_activity = time_of(get(props, "lastActivityTimeUtc"));
        a.entities = entities;
        a.coverage = coverage;
        a.tenant = tenant;
        a.parent_incident = Some(key);
        out.push(finish_keep_coverage(a));
    }
    Ok(out)
}

/// Like `finish`, but an explicit `Truncated` stays.
fn finish_keep_coverage(a: Alert) -> Alert {
    let cov = a.coverage.clone();
    let mut a = finish(a);
    if matches!(cov, Coverage::Truncated { .. }) && !a.entities.is_empty() {
        a.coverage = cov;
    }
    a
}

fn rest_alert(
    a: &Value,
    p: &Value,
    incident: Option<&str>,
    entities: Vec<AlertEntity>,
    incident_updated: Option<chrono::DateTime<chrono::Utc>>,
    tenant: Option<String>,
    incident_rules: &[String],
) -> Alert {
    let id = gs(p, "systemAlertId")
        .or_else(|| gs(a, "name"))
        .or_else(|| gs(a, "id").map(|i| i.rsplit('/').next().unwrap_or(i)))
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| stable_hash(a));
    let mut alert = blank(Source::Sentinel, id);
    alert.source_updated = incident_updated
        .or_else(|| time_of(get(p, "processingEndTime")))
        .or_else(|| time_of(get(p, "timeGenerated")));
    let rules = string_list(path(p, &["additionalData", "Analytic Rule Ids"]));
    let product = gs(p, "productName").unwrap_or("Azure Sentinel");
    let alert_type = gs(p, "alertType").unwrap_or("");
    alert.detector_id = match (rules.first(), incident_rules) {
        (Some(r), _) => format!("sentinel:{}", rule_id(r)),
        (None, [one]) if incident.is_some() && product.contains("Sentinel") => {
            format!("sentinel:{}", rule_id(one))
        }
        _ => format!("sentinel:{product}:{alert_type}"),
    };
    alert.detector_name = gs(p, "alertDisplayName")
        .or_else(|| {
            path(p, &["additionalData", "Analytic Rule Name"]).and_then(|v| str_of(Some(v)))
        })
        .unwrap_or("")
        .to_string();
    alert.title = gs(p, "alertDisplayName")
        .or_else(|| gs(p, "friendlyName"))
        .unwrap_or("")
        .to_string();
    alert.alert_type = if alert_type.is_empty() {
        alert.title.clone()
    } else {
        alert_type.to_string()
    };
    alert.severity = sentinel_severity(get(p, "severity"));
    alert.tactics = tactics_of(get(p, "tactics"));
    alert.techniques = techniques_of(get(p, "techniques"));
    if alert.techniques.is_empty() {
        alert.techniques = techniques_of(get(p, "subTechniques"));
    }
    alert.first_activity = time_of(get(p, "startTimeUtc"));
    alert.last_activity = time_of(get(p, "endTimeUtc"));
    alert.entities = entities;
    alert.tenant = tenant;
    alert.parent_incident = incident.map(str::to_string);
    alert
}

fn security_alert_row(row: &Value) -> Result<Alert, ParseError> {
    let id = gs(row, "SystemAlertId")
        .ok_or_else(|| invalid("SecurityAlert row has no SystemAlertId"))?;
    let mut a = blank(Source::Sentinel, id.to_ascii_lowercase());
    a.source_updated =
        time_of(get(row, "TimeGenerated")).or_else(|| time_of(get(row, "ProcessingEndTime")));
    let ext = match get(row, "ExtendedProperties") {
        Some(Value::String(s)) => serde_json::from_str::<Value>(s).unwrap_or(Value::Null),
        Some(v) => v.clone(),
        None => Value::Null,
    };
    let rules = string_list(get(&ext, "Analytic Rule Ids"));
    let product = gs(row, "ProductName")
        .or_else(|| gs(row, "ProviderName"))
        .unwrap_or("Azure Sentinel");
    let alert_type = gs(row, "AlertType").unwrap_or("");
    a.detector_id = match rules.first() {
        Some(r) => format!("sentinel:{}", rule_id(r)),
        None => format!("sentinel:{product}:{alert_type}"),
    };
    a.title = gs(row, "AlertName")
        .or_else(|| gs(row, "DisplayName"))
        .unwrap_or("")
        .to_string();
    a.detector_name = gs(&ext, "Analytic Rule Name")
        .unwrap_or(&a.title)
        .to_string();
    a.alert_type = if alert_type.is_empty() {
        a.title.clone()
    } else {
        alert_type.to_string()
    };
    a.severity = sentinel_severity(get(row, "AlertSeverity"));
    a.tactics = tactics_of(get(row, "Tactics"));
    a.techniques = techniques_of(get(row, "Techniques"));
    a.first_activity = time_of(get(row, "StartTime"));
    a.last_activity = time_of(get(row, "EndTime"));
    a.tenant = gs(row, "TenantId").map(str::to_string);
    a.entities = entities_from_securityalert(get(row, "Entities").unwrap_or(&Value::Null));
    if a.entities.is_empty() {
        if let Some(c) = gs(row, "CompromisedEntity") {
            let e = if c.contains('@') {
                user_from(&AccountParts {
                    upn: Some(c),
                    ..Default::default()
                })
                .map(Entity::User)
            } else {
                HostName::parse(c).ok().map(|h| {
                    Entity::Device(DeviceEntity {
                        host_name: Some(h),
                        ..DeviceEntity::default()
                    })
                })
            };
            a.entities.extend(e.map(AlertEntity::unstated));
        }
    }
    Ok(finish(a))
}

fn security_incident_row(row: &Value) -> Result<Alert, ParseError> {
    // The ARM id, rebuilt from the portal URL, so the row and the REST/trigger shapes agree.
    let arm = gs(row, "IncidentUrl").and_then(|u| {
        let lower = u.to_ascii_lowercase();
        let i = lower.find("/subscriptions/")?;
        Some(lower[i..].to_string())
    });
    let key = arm
        .or_else(|| gs(row, "IncidentName").map(str::to_ascii_lowercase))
        .or_else(|| text_of(get(row, "IncidentNumber")))
        .ok_or_else(|| {
            invalid("SecurityIncident row has no IncidentName, IncidentNumber or IncidentUrl")
        })?;
    let mut a = blank(Source::Sentinel, key.clone());
    a.source_updated =
        time_of(get(row, "LastModifiedTime")).or_else(|| time_of(get(row, "TimeGenerated")));
    let rules = string_list(get(row, "RelatedAnalyticRuleIds"));
    a.detector_id = match rules.as_slice() {
        [one] => format!("sentinel:{}", rule_id(one)),
        _ => "sentinel:incident".into(),
    };
    a.alert_type = "SentinelIncident".into();
    a.title = gs(row, "Title").unwrap_or("Sentinel incident").to_string();
    a.detector_name = a.title.clone();
    a.severity = sentinel_severity(get(row, "Severity"));
    a.tactics = tactics_of(path(row, &["AdditionalData", "tactics"]));
    a.techniques = techniques_of(path(row, &["AdditionalData", "techniques"]));
    a.first_activity = time_of(get(row, "FirstActivityTime"));
    a.last_activity = time_of(get(row, "LastActivityTime"));
    a.tenant = gs(row, "TenantId").map(str::to_string);
    a.parent_incident = Some(key);
    a.coverage = Coverage::Missing;
    Ok(finish(a))
}

/// Entities of a REST entities response (`{entities: [...]}`), a `relatedEntities` list, or one
/// entity object: what completes a truncated incident.
pub fn entities_from_rest(v: &Value) -> Vec<AlertEntity> {
    let list: &[Value] = match v {
        Value::Array(a) => a,
        Value::Object(_) => match get(v, "entities").or_else(|| get(v, "relatedEntities")) {
            Some(Value::Array(a)) => a,
            _ => std::slice::from_ref(v),
        },
        _ => &[],
    };
    let mut out = Vec::new();
    for e in list {
        if let (Some(kind), Some(p)) = (gs(e, "kind"), get(e, "properties")) {
            entity_from(kind, p, &mut out);
        }
    }
    dedup(out.into_iter().map(AlertEntity::unstated).collect())
}

/// Entities of a SecurityAlert `Entities` column: a JSON string, an array, or an object of
/// entities (keyed by `$id` or by type). References are resolved by collecting every `$id`
/// definition wherever it sits in the graph (nested inside a process, a logon session, …); a
/// `{"$ref": …}` node is a use of a definition found elsewhere and adds nothing by itself.
pub fn entities_from_securityalert(v: &Value) -> Vec<AlertEntity> {
    let parsed;
    let root = match v {
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
            &parsed
        }
        other => other,
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    walk(root, &mut seen, &mut out, 0);
    dedup(out.into_iter().map(AlertEntity::unstated).collect())
}

fn walk<'a>(v: &'a Value, seen: &mut HashSet<&'a str>, out: &mut Vec<Entity>, depth: usize) {
    if depth > 64 {
        return;
    }
    match v {
        Value::Object(o) => {
            if let Some(t) = o.get("Type").and_then(Value::as_str) {
                let fresh = match o.get("$id").and_then(Value::as_str) {
                    Some(id) => seen.insert(id),
                    None => true,
                };
                if fresh {
                    entity_from(t, v, out);
                }
            }
            for (k, child) in o {
                if k != "$ref" {
                    walk(child, seen, out, depth + 1);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| walk(x, seen, out, depth + 1)),
        _ => {}
    }
}

fn norm_kind(kind: &str) -> String {
    kind.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Converts one Sentinel entity (REST `kind` + camelCase `properties`, or ASC `Type` +
/// PascalCase fields; keys are matched case-insensitively) into Cordon entities.
pub(crate) fn entity_from(kind: &str, p: &Value, out: &mut Vec<Entity>) {
    match norm_kind(kind).as_str() {
        "account" => {
            let parts = AccountParts {
                name: gs(p, "Name").or_else(|| gs(p, "accountName")),
                upn_suffix: gs(p, "UPNSuffix"),
                upn: gs(p, "UserPrincipalName").or_else(|| gs(p, "upn")),
                aad_user_id: gs(p, "AadUserId"),
                object_guid: gs(p, "ObjectGuid"),
                sid: gs(p, "Sid"),
                nt_domain: gs(p, "NTDomain"),
                display_name: gs(p, "DisplayName").or_else(|| gs(p, "FriendlyName")),
                email: None,
                is_domain_joined: bool_of(get(p, "IsDomainJoined")),
            };
            out.extend(user_from(&parts).map(Entity::User));
        }
        "host" => {
            let mut d = DeviceEntity::default();
            let host = gs(p, "HostName").or_else(|| gs(p, "NetBiosName"));
            if let Some(h) = host.and_then(|h| HostName::parse(h).ok()) {
                if let Some(dom) = gs(p, "DnsDomain") {
                    d.fqdn = HostName::parse(&format!("{h}.{dom}")).ok();
                } else if h.as_str().contains('.') {
                    d.fqdn = Some(h.clone());
                }
                d.host_name = HostName::parse(h.short()).ok();
            }
            if d.fqdn.is_none() {
                d.fqdn = gs(p, "FQDN").and_then(|f| HostName::parse(f).ok());
            }
            d.mde_device_id = gs(p, "MdatpDeviceId").and_then(|s| MdeDeviceId::parse(s).ok());
            d.azure_device_id = gs(p, "AadDeviceId").and_then(|s| ObjectId::parse(s).ok());
            d.cloud_resource_id = gs(p, "AzureID").and_then(cloud_resource);
            if !d.is_empty() {
                out.push(Entity::Device(d));
            }
        }
        "ip" => out.extend(gs(p, "Address").and_then(ip_entity)),
        "url" => out.extend(gs(p, "Url").map(|u| context(ContextKind::Url, u))),
        "filehash" => {
            if let Some(h) = gs(p, "Value").or_else(|| gs(p, "hashValue")) {
                let alg = gs(p, "Algorithm").unwrap_or("hash").to_ascii_lowercase();
                out.push(context(ContextKind::FileHash, &format!("{alg}:{h}")));
            }
        }
        "file" => {
            if let Some(n) = gs(p, "Name").or_else(|| gs(p, "fileName")) {
                let v = match gs(p, "Directory") {
                    Some(d) => format!("{}\\{n}", d.trim_end_matches('\\')),
                    None => n.to_string(),
                };
                out.push(context(ContextKind::File, &v));
            }
        }
        "process" => out.extend(gs(p, "CommandLine").map(|c| context(ContextKind::Process, c))),
        "mailbox" => {
            let parts = AccountParts {
                upn: gs(p, "Upn"),
                email: gs(p, "MailboxPrimaryAddress"),
                aad_user_id: gs(p, "AadId").or_else(|| gs(p, "ExternalDirectoryObjectId")),
                display_name: gs(p, "DisplayName"),
                ..AccountParts::default()
            };
            out.extend(user_from(&parts).map(Entity::User));
        }
        "mailmessage" => {
            // The recipient is a user of ours (the policy decides it is the victim); senders are
            // addresses, kept as context.
            if let Some(r) = gs(p, "Recipient") {
                let parts = AccountParts {
                    email: Some(r),
                    ..AccountParts::default()
                };
                out.extend(user_from(&parts).map(Entity::User));
            }
            for k in ["Sender", "P1Sender", "P2Sender"] {
                out.extend(gs(p, k).map(|s| context(ContextKind::Mailbox, s)));
            }
            out.extend(gs(p, "SenderIP").and_then(ip_entity));
        }
        "cloudapplication" | "oauthapplication" => {
            let name = gs(p, "Name")
                .or_else(|| gs(p, "AppName"))
                .or_else(|| gs(p, "InstanceName"));
            match text_of(get(p, "AppId")).and_then(|s| AppId::parse(&s).ok()) {
                Some(app_id) => out.push(Entity::OauthApp(AppEntity {
                    app_id: Some(app_id),
                    service_principal_id: None,
                    name: name.map(str::to_string),
                })),
                None => out
                    .extend(name.map(|n| context(ContextKind::Other, &format!("cloud app: {n}")))),
            }
        }
        "azureresource" => {
            if let Some(r) = gs(p, "ResourceId") {
                if r.to_ascii_lowercase()
                    .contains("/providers/microsoft.compute/virtualmachines/")
                {
                    if let Some(id) = cloud_resource(r) {
                        out.push(Entity::Device(DeviceEntity {
                            cloud_resource_id: Some(id),
                            ..Default::default()
                        }));
                        return;
                    }
                }
                out.push(context(ContextKind::CloudResource, r));
            }
        }
        "dns" | "dnsresolution" => {
            out.extend(gs(p, "DomainName").map(|d| context(ContextKind::Domain, d)))
        }
        "malware" => out.extend(
            gs(p, "Name")
                .or_else(|| gs(p, "MalwareName"))
                .map(|m| context(ContextKind::Other, &format!("malware: {m}"))),
        ),
        _ => {}
    }
}

/// Azure resource ids arrive in any case (`/SUBSCRIPTIONS/…`); they are case-insensitive.
pub(crate) fn cloud_resource(s: &str) -> Option<CloudResourceId> {
    let t = s.trim();
    if t.get(..15)
        .is_some_and(|p| p.eq_ignore_ascii_case("/subscriptions/"))
    {
        return CloudResourceId::parse(&t.to_ascii_lowercase()).ok();
    }
    CloudResourceId::parse(t).ok()
}

/// Sentinel's scale tops at High; Log Analytics connectors that map it to numbers use 100 for
/// High, so a numeric 100 is High here, not Critical.
fn sentinel_severity(v: Option<&Value>) -> Severity {
    severity_of(v)
        .unwrap_or(Severity::Medium)
        .min(Severity::High)
}

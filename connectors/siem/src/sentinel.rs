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

use crate::fast::{sc, text, view, Bag, Decline, Lit, Record, Seq, Strings, Tree};
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
        .is_some_and(|t| ends_with_ci(t, suffix))
}

/// Whether `t` ends with `suffix`, ignoring ASCII case.
pub(crate) fn ends_with_ci(t: &str, suffix: &str) -> bool {
    t.len()
        .checked_sub(suffix.len())
        .and_then(|i| t.get(i..))
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
                let parts = AlertParts::of_value(a, props);
                Ok(vec![finish(rest_alert(parts, None, Vec::new(), None, None, &[]))])
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
    let key = incident_key(
        gs(inc, "id"),
        gs(inc, "name"),
        get(props, "incidentNumber").map(Scalar::from),
    )
    .ok_or_else(|| invalid("incident has neither id, name nor incidentNumber"))?;
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
    let incident = IncidentParts {
        tenant: incident_tenant(gs(inc, "id"), env.and_then(|e| gs(e, "workspaceId"))),
        key,
        updated: time_of(get(props, "lastModifiedTimeUtc")),
        rules: string_list(get(props, "relatedAnalyticRuleIds")),
        entities,
        received: related.map_or(0, Vec::len),
        declared: [
            path(props, &["additionalData", "entitiesCount"]),
            path(props, &["additionalData", "relatedEntitiesCount"]),
            get(props, "relatedEntitiesCount"),
        ]
        .into_iter()
        .find_map(|v| f64_of(v).map(|n| n as usize)),
        title: gs(props, "title"),
        severity: props.prop("severity"),
        tactics: string_list(path(props, &["additionalData", "tactics"])),
        techniques: string_list(path(props, &["additionalData", "techniques"])),
        first_activity: props.prop("firstActivityTimeUtc"),
        last_activity: props.prop("lastActivityTimeUtc"),
    };
    let alerts = get(props, "alerts")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let alerts = alerts
        .iter()
        .filter_map(|a| get(a, "properties").map(|ap| AlertParts::of_value(a, ap)));
    Ok(incident_alerts(incident, alerts))
}

/// An incident's key: its ARM id (lower-cased), else its name, else its number.
fn incident_key(
    id: Option<&str>,
    name: Option<&str>,
    number: Option<Scalar<'_>>,
) -> Option<String> {
    id.map(str::to_ascii_lowercase)
        .or_else(|| name.map(str::to_string))
        .or_else(|| number.and_then(Scalar::text_owned))
}

/// The workspace of the incident's ARM id, else the trigger's `workspaceId`.
fn incident_tenant(id: Option<&str>, workspace_id: Option<&str>) -> Option<String> {
    id.and_then(workspace_of)
        .or_else(|| workspace_id.map(str::to_string))
}

/// What an incident states, read from either representation.
struct IncidentParts<'a> {
    key: String,
    tenant: Option<String>,
    updated: Option<chrono::DateTime<chrono::Utc>>,
    /// `relatedAnalyticRuleIds`.
    rules: Vec<String>,
    /// The related entities, in order (not yet deduplicated).
    entities: Vec<Entity>,
    /// How many related entities the payload carries.
    received: usize,
    /// How many the incident says it has.
    declared: Option<usize>,
    title: Option<&'a str>,
    severity: Option<Scalar<'a>>,
    tactics: Vec<String>,
    techniques: Vec<String>,
    first_activity: Option<Scalar<'a>>,
    last_activity: Option<Scalar<'a>>,
}

/// The alerts of an incident: one per alert in it (with the incident's entities), or one
/// standing for the incident when it has none.
fn incident_alerts<'a>(
    inc: IncidentParts<'a>,
    alerts: impl Iterator<Item = AlertParts<'a>>,
) -> Vec<Alert> {
    let entities: Vec<AlertEntity> = dedup(
        inc.entities
            .into_iter()
            .map(AlertEntity::unstated)
            .collect(),
    );
    let received = inc.received;
    let declared = inc.declared;
    let coverage = if entities.is_empty() {
        Coverage::Missing
    } else if declared.is_some_and(|d| d > received) || received == ENTITY_CAP {
        Coverage::Truncated { received, declared }
    } else {
        Coverage::Complete
    };
    let mut out = Vec::with_capacity(alerts.size_hint().0.max(1));
    for parts in alerts {
        let mut alert = rest_alert(
            parts,
            Some(&inc.key),
            entities.clone(),
            inc.updated,
            inc.tenant.clone(),
            &inc.rules,
        );
        alert.coverage = coverage.clone();
        out.push(finish_keep_coverage(alert));
    }
    if out.is_empty() {
        let mut a = blank(Source::Sentinel, inc.key.clone());
        a.source_updated = inc.updated;
        a.detector_id = match inc.rules.as_slice() {
            [one] => format!("sentinel:{}", rule_id(one)),
            _ => "sentinel:incident".to_string(),
        };
        a.alert_type = "SentinelIncident".into();
        a.title = inc.title.unwrap_or("Sentinel incident").to_string();
        a.detector_name = a.title.clone();
        a.severity = sentinel_severity(inc.severity);
        a.tactics = tactics_in(inc.tactics);
        a.techniques = techniques_in_list(&inc.techniques);
        a.first_activity = inc.first_activity.and_then(Scalar::time);
        a.last_activity = inc.last_activity.and_then(Scalar::time);
        a.entities = entities;
        a.coverage = coverage;
        a.tenant = inc.tenant;
        a.parent_incident = Some(inc.key);
        out.push(finish_keep_coverage(a));
    }
    out
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

/// What a REST alert (`{id, name, properties}`) states, read from either representation.
struct AlertParts<'a> {
    id: String,
    processing_end_time: Option<Scalar<'a>>,
    time_generated: Option<Scalar<'a>>,
    /// `additionalData."Analytic Rule Ids"`.
    rules: Vec<String>,
    /// `additionalData."Analytic Rule Name"`.
    rule_name: Option<&'a str>,
    product: Option<&'a str>,
    alert_type: Option<&'a str>,
    display_name: Option<&'a str>,
    friendly_name: Option<&'a str>,
    severity: Option<Scalar<'a>>,
    tactics: Vec<String>,
    techniques: Vec<String>,
    sub_techniques: Vec<String>,
    start: Option<Scalar<'a>>,
    end: Option<Scalar<'a>>,
}

/// A REST alert's id: `systemAlertId`, else its name, else the last part of its ARM id.
fn alert_id(system_alert_id: Option<&str>, name: Option<&str>, id: Option<&str>) -> Option<String> {
    system_alert_id
        .or(name)
        .or_else(|| id.map(|i| i.rsplit('/').next().unwrap_or(i)))
        .map(str::to_ascii_lowercase)
}

impl<'a> AlertParts<'a> {
    fn of_value(a: &'a Value, p: &'a Value) -> Self {
        AlertParts {
            id: alert_id(gs(p, "systemAlertId"), gs(a, "name"), gs(a, "id"))
                .unwrap_or_else(|| stable_hash(a)),
            processing_end_time: p.prop("processingEndTime"),
            time_generated: p.prop("timeGenerated"),
            rules: string_list(path(p, &["additionalData", "Analytic Rule Ids"])),
            rule_name: ps(p, &["additionalData", "Analytic Rule Name"]),
            product: gs(p, "productName"),
            alert_type: gs(p, "alertType"),
            display_name: gs(p, "alertDisplayName"),
            friendly_name: gs(p, "friendlyName"),
            severity: p.prop("severity"),
            tactics: string_list(get(p, "tactics")),
            techniques: string_list(get(p, "techniques")),
            sub_techniques: string_list(get(p, "subTechniques")),
            start: p.prop("startTimeUtc"),
            end: p.prop("endTimeUtc"),
        }
    }
}

fn rest_alert(
    p: AlertParts<'_>,
    incident: Option<&str>,
    entities: Vec<AlertEntity>,
    incident_updated: Option<chrono::DateTime<chrono::Utc>>,
    tenant: Option<String>,
    incident_rules: &[String],
) -> Alert {
    let mut alert = blank(Source::Sentinel, p.id);
    alert.source_updated = incident_updated
        .or_else(|| p.processing_end_time.and_then(Scalar::time))
        .or_else(|| p.time_generated.and_then(Scalar::time));
    let product = p.product.unwrap_or("Azure Sentinel");
    let alert_type = p.alert_type.unwrap_or("");
    alert.detector_id = match (p.rules.first(), incident_rules) {
        (Some(r), _) => format!("sentinel:{}", rule_id(r)),
        (None, [one]) if incident.is_some() && product.contains("Sentinel") => {
            format!("sentinel:{}", rule_id(one))
        }
        _ => format!("sentinel:{product}:{alert_type}"),
    };
    alert.detector_name = p.display_name.or(p.rule_name).unwrap_or("").to_string();
    alert.title = p.display_name.or(p.friendly_name).unwrap_or("").to_string();
    alert.alert_type = if alert_type.is_empty() {
        alert.title.clone()
    } else {
        alert_type.to_string()
    };
    alert.severity = sentinel_severity(p.severity);
    alert.tactics = tactics_in(p.tactics);
    alert.techniques = techniques_in_list(&p.techniques);
    if alert.techniques.is_empty() {
        alert.techniques = techniques_in_list(&p.sub_techniques);
    }
    alert.first_activity = p.start.and_then(Scalar::time);
    alert.last_activity = p.end.and_then(Scalar::time);
    alert.entities = entities;
    alert.tenant = tenant;
    alert.parent_incident = incident.map(str::to_string);
    alert
}

/// What a SecurityAlert row states, read from a `serde_json::Value` or from the fast path's view;
/// turned into an alert by [`build_alert_row`].
struct AlertRowParts<'a> {
    id: Option<&'a str>,
    time_generated: Option<Scalar<'a>>,
    processing_end_time: Option<Scalar<'a>>,
    /// `ExtendedProperties."Analytic Rule Ids"`.
    rules: Vec<String>,
    /// `ExtendedProperties."Analytic Rule Name"`.
    rule_name: Option<&'a str>,
    product: Option<&'a str>,
    provider: Option<&'a str>,
    alert_type: Option<&'a str>,
    alert_name: Option<&'a str>,
    display_name: Option<&'a str>,
    severity: Option<Scalar<'a>>,
    tactics: Vec<String>,
    techniques: Vec<String>,
    start: Option<Scalar<'a>>,
    end: Option<Scalar<'a>>,
    tenant: Option<&'a str>,
    entities: Vec<AlertEntity>,
    compromised: Option<&'a str>,
}

fn security_alert_row(row: &Value) -> Result<Alert, ParseError> {
    let ext = match get(row, "ExtendedProperties") {
        Some(Value::String(s)) => serde_json::from_str::<Value>(s).unwrap_or(Value::Null),
        Some(v) => v.clone(),
        None => Value::Null,
    };
    build_alert_row(AlertRowParts {
        id: gs(row, "SystemAlertId"),
        time_generated: row.prop("TimeGenerated"),
        processing_end_time: row.prop("ProcessingEndTime"),
        rules: string_list(get(&ext, "Analytic Rule Ids")),
        rule_name: gs(&ext, "Analytic Rule Name"),
        product: gs(row, "ProductName"),
        provider: gs(row, "ProviderName"),
        alert_type: gs(row, "AlertType"),
        alert_name: gs(row, "AlertName"),
        display_name: gs(row, "DisplayName"),
        severity: row.prop("AlertSeverity"),
        tactics: string_list(get(row, "Tactics")),
        techniques: string_list(get(row, "Techniques")),
        start: row.prop("StartTime"),
        end: row.prop("EndTime"),
        tenant: gs(row, "TenantId"),
        entities: entities_from_securityalert(get(row, "Entities").unwrap_or(&Value::Null)),
        compromised: gs(row, "CompromisedEntity"),
    })
}

fn build_alert_row(p: AlertRowParts<'_>) -> Result<Alert, ParseError> {
    let id =
        p.id.ok_or_else(|| invalid("SecurityAlert row has no SystemAlertId"))?;
    let mut a = blank(Source::Sentinel, id.to_ascii_lowercase());
    a.source_updated = p
        .time_generated
        .and_then(Scalar::time)
        .or_else(|| p.processing_end_time.and_then(Scalar::time));
    let product = p.product.or(p.provider).unwrap_or("Azure Sentinel");
    let alert_type = p.alert_type.unwrap_or("");
    a.detector_id = match p.rules.first() {
        Some(r) => format!("sentinel:{}", rule_id(r)),
        None => format!("sentinel:{product}:{alert_type}"),
    };
    a.title = p.alert_name.or(p.display_name).unwrap_or("").to_string();
    a.detector_name = p.rule_name.unwrap_or(&a.title).to_string();
    a.alert_type = if alert_type.is_empty() {
        a.title.clone()
    } else {
        alert_type.to_string()
    };
    a.severity = sentinel_severity(p.severity);
    a.tactics = tactics_in(p.tactics);
    a.techniques = techniques_in_list(&p.techniques);
    a.first_activity = p.start.and_then(Scalar::time);
    a.last_activity = p.end.and_then(Scalar::time);
    a.tenant = p.tenant.map(str::to_string);
    a.entities = p.entities;
    if a.entities.is_empty() {
        if let Some(c) = p.compromised {
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
    a.severity = sentinel_severity(row.prop("Severity"));
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
    entities_of_graph(root)
}

/// A node of an `Entities` graph: a `serde_json::Value` or the fast path's [`Tree`].
trait EntityNode: Props {
    /// Whether it is an object.
    fn is_object(&self) -> bool;
    /// A member that is a string, the key matched exactly (`Value::get`, `as_str`).
    fn str_member(&self, key: &str) -> Option<&str>;
    /// Its members (in `Map` order) or items, with their keys (`""` for items).
    fn children(&self) -> impl Iterator<Item = (&str, &Self)>;
}

impl EntityNode for Value {
    fn is_object(&self) -> bool {
        Value::is_object(self)
    }
    fn str_member(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }
    fn children(&self) -> impl Iterator<Item = (&str, &Self)> {
        let (members, items) = match self {
            Value::Object(o) => (Some(o.iter().map(|(k, v)| (k.as_str(), v))), None),
            Value::Array(a) => (None, Some(a.iter().map(|v| ("", v)))),
            _ => (None, None),
        };
        members
            .into_iter()
            .flatten()
            .chain(items.into_iter().flatten())
    }
}

impl EntityNode for Tree<'_> {
    fn is_object(&self) -> bool {
        matches!(self, Tree::Object(_))
    }
    fn str_member(&self, key: &str) -> Option<&str> {
        match self.exact(key) {
            Some(Tree::Lit(Lit::Str(s))) => Some(s),
            _ => None,
        }
    }
    fn children(&self) -> impl Iterator<Item = (&str, &Self)> {
        let (members, items) = match self {
            Tree::Object(o) => (Some(o.iter().map(|(k, v)| (&**k, v))), None),
            Tree::Array(a) => (None, Some(a.iter().map(|v| ("", v)))),
            Tree::Lit(_) => (None, None),
        };
        members
            .into_iter()
            .flatten()
            .chain(items.into_iter().flatten())
    }
}

/// The entities of an `Entities` graph (the column's value, parsed).
fn entities_of_graph(root: &impl EntityNode) -> Vec<AlertEntity> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    walk(root, &mut seen, &mut out, 0);
    dedup(out.into_iter().map(AlertEntity::unstated).collect())
}

fn walk<'a, N: EntityNode>(
    v: &'a N,
    seen: &mut HashSet<&'a str>,
    out: &mut Vec<Entity>,
    depth: usize,
) {
    if depth > 64 {
        return;
    }
    if v.is_object() {
        if let Some(t) = v.str_member("Type") {
            let fresh = match v.str_member("$id") {
                Some(id) => seen.insert(id),
                None => true,
            };
            if fresh {
                entity_from(t, v, out);
            }
        }
    }
    for (k, child) in v.children() {
        if k != "$ref" {
            walk(child, seen, out, depth + 1);
        }
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
pub(crate) fn entity_from<P: Props + ?Sized>(kind: &str, p: &P, out: &mut Vec<Entity>) {
    match norm_kind(kind).as_str() {
        "account" => {
            let parts = AccountParts {
                name: p.text("Name").or_else(|| p.text("accountName")),
                upn_suffix: p.text("UPNSuffix"),
                upn: p.text("UserPrincipalName").or_else(|| p.text("upn")),
                aad_user_id: p.text("AadUserId"),
                object_guid: p.text("ObjectGuid"),
                sid: p.text("Sid"),
                nt_domain: p.text("NTDomain"),
                display_name: p.text("DisplayName").or_else(|| p.text("FriendlyName")),
                email: None,
                is_domain_joined: p.prop("IsDomainJoined").and_then(Scalar::bool),
            };
            out.extend(user_from(&parts).map(Entity::User));
        }
        "host" => {
            let mut d = DeviceEntity::default();
            let host = p.text("HostName").or_else(|| p.text("NetBiosName"));
            if let Some(h) = host.and_then(|h| HostName::parse(h).ok()) {
                if let Some(dom) = p.text("DnsDomain") {
                    d.fqdn = HostName::parse(&format!("{h}.{dom}")).ok();
                } else if h.as_str().contains('.') {
                    d.fqdn = Some(h.clone());
                }
                d.host_name = HostName::parse(h.short()).ok();
            }
            if d.fqdn.is_none() {
                d.fqdn = p.text("FQDN").and_then(|f| HostName::parse(f).ok());
            }
            d.mde_device_id = p
                .text("MdatpDeviceId")
                .and_then(|s| MdeDeviceId::parse(s).ok());
            d.azure_device_id = p.text("AadDeviceId").and_then(|s| ObjectId::parse(s).ok());
            d.cloud_resource_id = p.text("AzureID").and_then(cloud_resource);
            if !d.is_empty() {
                out.push(Entity::Device(d));
            }
        }
        "ip" => out.extend(p.text("Address").and_then(ip_entity)),
        "url" => out.extend(p.text("Url").map(|u| context(ContextKind::Url, u))),
        "filehash" => {
            if let Some(h) = p.text("Value").or_else(|| p.text("hashValue")) {
                let alg = p.text("Algorithm").unwrap_or("hash").to_ascii_lowercase();
                out.push(context(ContextKind::FileHash, &format!("{alg}:{h}")));
            }
        }
        "file" => {
            if let Some(n) = p.text("Name").or_else(|| p.text("fileName")) {
                let v = match p.text("Directory") {
                    Some(d) => format!("{}\\{n}", d.trim_end_matches('\\')),
                    None => n.to_string(),
                };
                out.push(context(ContextKind::File, &v));
            }
        }
        "process" => out.extend(
            p.text("CommandLine")
                .map(|c| context(ContextKind::Process, c)),
        ),
        "mailbox" => {
            let parts = AccountParts {
                upn: p.text("Upn"),
                email: p.text("MailboxPrimaryAddress"),
                aad_user_id: p
                    .text("AadId")
                    .or_else(|| p.text("ExternalDirectoryObjectId")),
                display_name: p.text("DisplayName"),
                ..AccountParts::default()
            };
            out.extend(user_from(&parts).map(Entity::User));
        }
        "mailmessage" => {
            // The recipient is a user of ours (the policy decides it is the victim); senders are
            // addresses, kept as context.
            if let Some(r) = p.text("Recipient") {
                let parts = AccountParts {
                    email: Some(r),
                    ..AccountParts::default()
                };
                out.extend(user_from(&parts).map(Entity::User));
            }
            for k in ["Sender", "P1Sender", "P2Sender"] {
                out.extend(p.text(k).map(|s| context(ContextKind::Mailbox, s)));
            }
            out.extend(p.text("SenderIP").and_then(ip_entity));
        }
        "cloudapplication" | "oauthapplication" => {
            let name = p
                .text("Name")
                .or_else(|| p.text("AppName"))
                .or_else(|| p.text("InstanceName"));
            match p
                .prop("AppId")
                .and_then(Scalar::text_owned)
                .and_then(|s| AppId::parse(&s).ok())
            {
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
            if let Some(r) = p.text("ResourceId") {
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
        "dns" | "dnsresolution" => out.extend(
            p.text("DomainName")
                .map(|d| context(ContextKind::Domain, d)),
        ),
        "malware" => out.extend(
            p.text("Name")
                .or_else(|| p.text("MalwareName"))
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
fn sentinel_severity(v: Option<Scalar<'_>>) -> Severity {
    v.and_then(Scalar::severity)
        .unwrap_or(Severity::Medium)
        .min(Severity::High)
}

// ---------------------------------------------------------------------------------------------
// Fast path (see `crate::fast`)

view! {
    /// The `object` of a playbook incident trigger.
    pub(crate) struct IncidentView<'de> {
        "id" => id: Lit<'de>,
        "name" => name: Lit<'de>,
        "type" => ty: Lit<'de>,
        "properties" => properties: IncidentPropsView<'de>,
    }
}

view! {
    pub(crate) struct IncidentPropsView<'de> {
        "lastModifiedTimeUtc" => last_modified: Lit<'de>,
        "relatedAnalyticRuleIds" => rules: Strings,
        "relatedEntities" => related_entities: Seq<EntityView<'de>>,
        "additionalData" => additional_data: IncidentDataView<'de>,
        "relatedEntitiesCount" => related_entities_count: Lit<'de>,
        "alerts" => alerts: Seq<AlertView<'de>>,
        "incidentNumber" => incident_number: Lit<'de>,
        "title" => title: Lit<'de>,
        "severity" => severity: Lit<'de>,
        "firstActivityTimeUtc" => first_activity: Lit<'de>,
        "lastActivityTimeUtc" => last_activity: Lit<'de>,
    }
}

view! {
    pub(crate) struct IncidentDataView<'de> {
        "entitiesCount" => entities_count: Lit<'de>,
        "relatedEntitiesCount" => related_entities_count: Lit<'de>,
        "tactics" => tactics: Strings,
        "techniques" => techniques: Strings,
    }
}

view! {
    pub(crate) struct EntityView<'de> {
        "kind" => kind: Lit<'de>,
        "properties" => properties: Bag<'de>,
    }
}

view! {
    pub(crate) struct AlertView<'de> {
        "id" => id: Lit<'de>,
        "name" => name: Lit<'de>,
        "properties" => properties: AlertPropsView<'de>,
    }
}

view! {
    pub(crate) struct AlertPropsView<'de> {
        "systemAlertId" => system_alert_id: Lit<'de>,
        "processingEndTime" => processing_end_time: Lit<'de>,
        "timeGenerated" => time_generated: Lit<'de>,
        "additionalData" => additional_data: AlertDataView<'de>,
        "productName" => product_name: Lit<'de>,
        "alertType" => alert_type: Lit<'de>,
        "alertDisplayName" => alert_display_name: Lit<'de>,
        "friendlyName" => friendly_name: Lit<'de>,
        "severity" => severity: Lit<'de>,
        "tactics" => tactics: Strings,
        "techniques" => techniques: Strings,
        "subTechniques" => sub_techniques: Strings,
        "startTimeUtc" => start_time: Lit<'de>,
        "endTimeUtc" => end_time: Lit<'de>,
    }
}

view! {
    pub(crate) struct AlertDataView<'de> {
        "Analytic Rule Ids" => rules: Strings,
        "Analytic Rule Name" => rule_name: Lit<'de>,
    }
}

fn strings(field: &Option<Strings>) -> Vec<String> {
    field.as_ref().map(|s| s.0.clone()).unwrap_or_default()
}

impl<'a> AlertParts<'a> {
    /// `None` when the alert has no id (its id would be a hash of the whole alert).
    fn of_view(a: &'a AlertView<'_>, p: &'a AlertPropsView<'_>) -> Option<Self> {
        let data = p.additional_data.as_ref();
        Some(AlertParts {
            id: alert_id(text(&p.system_alert_id), text(&a.name), text(&a.id))?,
            processing_end_time: sc(&p.processing_end_time),
            time_generated: sc(&p.time_generated),
            rules: data.map(|d| strings(&d.rules)).unwrap_or_default(),
            rule_name: data.and_then(|d| text(&d.rule_name)),
            product: text(&p.product_name),
            alert_type: text(&p.alert_type),
            display_name: text(&p.alert_display_name),
            friendly_name: text(&p.friendly_name),
            severity: sc(&p.severity),
            tactics: strings(&p.tactics),
            techniques: strings(&p.techniques),
            sub_techniques: strings(&p.sub_techniques),
            start: sc(&p.start_time),
            end: sc(&p.end_time),
        })
    }
}

/// The alerts of a playbook incident trigger on the fast path (`parse_incident`), or `None`
/// where it declines: no properties object, no key, or an alert without an id.
pub(crate) fn parse_trigger_fast(
    inc: &IncidentView<'_>,
    envelope: &Record<'_>,
) -> Option<Result<Vec<Alert>, ParseError>> {
    let props = inc.properties.as_ref().filter(|p| p.meta.is_object)?;
    let key = incident_key(text(&inc.id), text(&inc.name), sc(&props.incident_number))?;
    let related = props.related_entities.as_ref().and_then(Seq::items);
    let mut entities = Vec::new();
    for e in related.unwrap_or(&[]) {
        let kind = text(&e.kind).unwrap_or("");
        if let Some(p) = &e.properties {
            entity_from(kind, p, &mut entities);
        }
    }
    let data = props.additional_data.as_ref();
    let mut alerts = Vec::new();
    for a in props.alerts.as_ref().and_then(Seq::items).unwrap_or(&[]) {
        if let Some(p) = &a.properties {
            alerts.push(AlertParts::of_view(a, p)?);
        }
    }
    let incident = IncidentParts {
        tenant: incident_tenant(text(&inc.id), text(&envelope.workspace_id)),
        key,
        updated: sc(&props.last_modified).and_then(Scalar::time),
        rules: strings(&props.rules),
        entities,
        received: related.map_or(0, <[_]>::len),
        declared: [
            data.and_then(|d| sc(&d.entities_count)),
            data.and_then(|d| sc(&d.related_entities_count)),
            sc(&props.related_entities_count),
        ]
        .into_iter()
        .find_map(|v| v.and_then(Scalar::f64).map(|n| n as usize)),
        title: text(&props.title),
        severity: sc(&props.severity),
        tactics: data.map(|d| strings(&d.tactics)).unwrap_or_default(),
        techniques: data.map(|d| strings(&d.techniques)).unwrap_or_default(),
        first_activity: sc(&props.first_activity),
        last_activity: sc(&props.last_activity),
    };
    Some(Ok(incident_alerts(incident, alerts.into_iter())))
}

view! {
    /// A Log Analytics SecurityAlert row (`Type: SecurityAlert`): the fields
    /// [`security_alert_row`] reads, and the keys of the shapes the dispatcher asks first.
    pub(crate) struct AlertRowView<'de> {
        "Type" => ty: Lit<'de>,
        "SystemAlertId" => system_alert_id: Lit<'de>,
        "TimeGenerated" => time_generated: Lit<'de>,
        "ProcessingEndTime" => processing_end_time: Lit<'de>,
        "ExtendedProperties" => extended_properties: Tree<'de>,
        "ProductName" => product_name: Lit<'de>,
        "ProviderName" => provider_name: Lit<'de>,
        "AlertType" => alert_type: Lit<'de>,
        "AlertName" => alert_name: Lit<'de>,
        "DisplayName" => display_name: Lit<'de>,
        "AlertSeverity" => alert_severity: Lit<'de>,
        "Tactics" => tactics: Strings,
        "Techniques" => techniques: Strings,
        "StartTime" => start_time: Lit<'de>,
        "EndTime" => end_time: Lit<'de>,
        "TenantId" => tenant_id: Lit<'de>,
        "Entities" => entities: Tree<'de>,
        "CompromisedEntity" => compromised_entity: Lit<'de>,
        // Keys of the shapes asked before (`type`, `entities` are case variants of the above):
        // an SDK recording, a list response, telemetry, a playbook trigger.
        "status_code" => _status_code: Decline,
        "value" => _value: Decline,
        "Records" => _records: Decline,
        "detail" => _detail: Decline,
        "eventSource" => _event_source: Decline,
        "eventName" => _event_name: Decline,
        "category" => _category: Decline,
        "properties" => _properties: Decline,
        "riskEventType" => _risk_event_type: Decline,
        "riskLastUpdatedDateTime" => _risk_last_updated: Decline,
        "appDisplayName" => _app_display_name: Decline,
        "activityDisplayName" => _activity_display_name: Decline,
        "object" => _object: Decline,
    }
}

/// A string column holding JSON, parsed (`null` where it is not JSON), or the value itself.
fn json_column<'a>(
    field: &'a Option<Tree<'_>>,
    parsed: &'a mut Option<Tree<'a>>,
) -> Option<&'a Tree<'a>> {
    match field {
        Some(Tree::Lit(Lit::Str(s))) => Some(&*parsed.insert(Tree::parse(s))),
        other => other.as_ref(),
    }
}

/// The alert of a SecurityAlert row on the fast path (`security_alert_row`), or `None` where
/// it declines: the text is not such a row (with `Type: SecurityAlert`).
pub(crate) fn parse_alert_row_fast(input: &str) -> Option<Result<Vec<Alert>, ParseError>> {
    let r: AlertRowView = serde_json::from_str(input).ok()?;
    if !r.meta.is_object || Record::str_field(&r.ty) != Some("SecurityAlert") {
        return None;
    }
    let (mut ext, mut ents) = (None, None);
    let ext = json_column(&r.extended_properties, &mut ext);
    let entities = json_column(&r.entities, &mut ents).map_or_else(Vec::new, entities_of_graph);
    let parts = AlertRowParts {
        id: text(&r.system_alert_id),
        time_generated: sc(&r.time_generated),
        processing_end_time: sc(&r.processing_end_time),
        rules: ext
            .and_then(|e| e.member("Analytic Rule Ids"))
            .map(Tree::string_list)
            .unwrap_or_default(),
        rule_name: ext.and_then(|e| e.text("Analytic Rule Name")),
        product: text(&r.product_name),
        provider: text(&r.provider_name),
        alert_type: text(&r.alert_type),
        alert_name: text(&r.alert_name),
        display_name: text(&r.display_name),
        severity: sc(&r.alert_severity),
        tactics: strings(&r.tactics),
        techniques: strings(&r.techniques),
        start: sc(&r.start_time),
        end: sc(&r.end_time),
        tenant: text(&r.tenant_id),
        entities,
        compromised: text(&r.compromised_entity),
    };
    Some(build_alert_row(parts).map(|a| vec![a]))
}

//! Microsoft Graph security and Defender XDR.
//!
//! Accepted shapes:
//! - Graph security alert (v2, `alerts_v2`): `evidence[]` typed by `@odata.type` (or Panther's
//!   `at_sign_odata_type`) with `roles` → [`Source::GraphSecurity`];
//! - Graph security incident (`#microsoft.graph.security.incident`): one alert per expanded
//!   `alerts[]`, or, with none expanded, one alert standing for the incident with
//!   `Coverage::Missing` (`source_id` = `incident:<id>`);
//! - Defender for Endpoint API alert (`machineId`, `computerDnsName`, `relatedUser`,
//!   `evidence[].entityType`) → [`Source::DefenderEndpoint`];
//! - Microsoft 365 Defender incidents API incident (`incidentId`, `incidentName`, `alerts[]` with
//!   `devices`/`entities`); a list response `{value: [...]}` is split by the dispatcher →
//!   [`Source::DefenderXdr`];
//! - Defender XDR streaming API (Event Hub) AdvancedHunting `AlertInfo` and `AlertEvidence`
//!   records (`category` + `properties`), or the same rows without the wrapper →
//!   [`Source::DefenderXdr`]. An `AlertEvidence` record carries one entity of an alert; it is
//!   given its own `source_id` (`<AlertId>/evidence/<hash>`) so that deduplication does not drop
//!   it as a repeat of the `AlertInfo` record, and correlation joins them by entity.
//!
//! Roles: Graph evidence `roles` are the source's own statement → `AlertEntity::stated` (the
//! strongest wins: attacker > compromised > victim > related; `attacked`/`scanned` → victim,
//! `commandAndControl` → attacker, `created`/`added`/`edited`/`loaded`/`policyViolator` →
//! related). Evidence without roles, MDE and M365D entities → `unstated`. `AlertEvidence`'s
//! `EvidenceRole` is mapped with `Role::parse` (`Impacted` → compromised, `Related` → related).

use crate::fast::{
    sc, sentinel_may_claim, text, top_level_view, view, Bag, Decline, Lit, Present, Record, Seq,
    Strings,
};
use crate::util::*;
use cordon_core::entity::{AppEntity, ContextKind, DeviceEntity, Role};
use cordon_core::ids::{AppId, HostName, MdeDeviceId, ObjectId};
use cordon_core::{Alert, AlertEntity, AlertSource, Entity, ParseError, Severity, Source};
use serde_json::Value;

const FORMAT: &str = "graph";

/// The Graph security / Defender parser.
pub struct GraphSecurity;

fn odata_type(v: &Value) -> Option<&str> {
    v.get("@odata.type")
        .or_else(|| v.get("at_sign_odata_type"))
        .and_then(Value::as_str)
}

/// [`odata_type`] on the fast path, from the two fields (matched exactly, as above).
pub(crate) fn odata_type_of<'a>(
    odata: &'a Option<Lit<'_>>,
    at_sign: &'a Option<Lit<'_>>,
) -> Option<&'a str> {
    let field = if odata.is_some() { odata } else { at_sign };
    Record::str_field(field)
}

enum Shape<'a> {
    GraphAlert,
    GraphIncident,
    MdeAlert,
    M365Incident,
    AdvancedHunting(&'a str, &'a Value),
}

fn shape(v: &Value) -> Option<Shape<'_>> {
    let o = v.as_object()?;
    if let Some(t) = odata_type(v) {
        if t.ends_with(".incident") {
            return Some(Shape::GraphIncident);
        }
        if t.ends_with(".alert") {
            return Some(Shape::GraphAlert);
        }
    }
    if let Some(Value::Array(ev)) = o.get("evidence") {
        if ev.iter().any(|e| odata_type(e).is_some()) {
            return Some(Shape::GraphAlert);
        }
        if ev.iter().any(|e| e.get("entityType").is_some()) || o.contains_key("machineId") {
            return Some(Shape::MdeAlert);
        }
    }
    if o.contains_key("incidentWebUrl") && o.contains_key("displayName") {
        return Some(Shape::GraphIncident);
    }
    if o.contains_key("serviceSource")
        && o.contains_key("createdDateTime")
        && o.contains_key("title")
    {
        return Some(Shape::GraphAlert);
    }
    if o.contains_key("machineId")
        || o.contains_key("computerDnsName")
        || (o.contains_key("alertCreationTime") && o.contains_key("detectionSource"))
    {
        return Some(Shape::MdeAlert);
    }
    if o.contains_key("incidentId") && o.contains_key("incidentName") {
        return Some(Shape::M365Incident);
    }
    if let (Some(cat), Some(props)) = (
        o.get("category").and_then(Value::as_str),
        o.get("properties"),
    ) {
        if let Some(table) = cat.strip_prefix("AdvancedHunting-") {
            if table == "AlertInfo" || table == "AlertEvidence" {
                return Some(Shape::AdvancedHunting(table, props));
            }
        }
    }
    if o.contains_key("AlertId") && o.contains_key("Title") && o.contains_key("ServiceSource") {
        let table = if o.contains_key("EntityType") {
            "AlertEvidence"
        } else {
            "AlertInfo"
        };
        return Some(Shape::AdvancedHunting(table, v));
    }
    None
}

impl AlertSource for GraphSecurity {
    fn name(&self) -> &'static str {
        FORMAT
    }

    fn recognises(&self, payload: &Value) -> bool {
        shape(payload).is_some()
    }

    fn parse(&self, payload: &Value) -> Result<Vec<Alert>, ParseError> {
        match shape(payload) {
            Some(Shape::GraphAlert) => graph_alert(payload, None).map(|a| vec![a]),
            Some(Shape::GraphIncident) => graph_incident(payload),
            Some(Shape::MdeAlert) => mde_alert(payload).map(|a| vec![a]),
            Some(Shape::M365Incident) => m365_incident(payload),
            Some(Shape::AdvancedHunting(table, props)) => {
                advanced_hunting(table, props, payload).map(|a| vec![a])
            }
            None => Err(ParseError::Unrecognised {
                detail: "not a Graph or Defender alert".into(),
            }),
        }
    }
}

fn invalid(detail: &str) -> ParseError {
    ParseError::Invalid {
        format: FORMAT,
        detail: detail.to_string(),
    }
}

fn detector(source: Source, detector_id: Option<&str>, title: &str) -> String {
    format!("{}:{}", source.as_str(), detector_id.unwrap_or(title))
}

/// The strongest role in a Graph `roles` list.
fn strongest_role(roles: &[String]) -> Option<Role> {
    let rank = |r: Role| match r {
        Role::Attacker => 3,
        Role::Compromised => 2,
        Role::Victim => 1,
        Role::Related => 0,
    };
    roles
        .iter()
        .filter_map(|r| match r.to_ascii_lowercase().as_str() {
            "attacked" | "scanned" => Some(Role::Victim),
            "commandandcontrol" => Some(Role::Attacker),
            "created" | "added" | "edited" | "loaded" | "policyviolator" => Some(Role::Related),
            other => Role::parse(other),
        })
        .max_by_key(|r| rank(*r))
}

/// A domain that is a NetBIOS name (no dots) can form `DOMAIN\name`; a DNS domain cannot.
fn netbios(d: Option<&str>) -> Option<&str> {
    d.filter(|d| !d.contains('.'))
}

fn graph_user(acct: &impl Props) -> Option<Entity> {
    let parts = AccountParts {
        name: acct.text("accountName"),
        upn: acct.text("userPrincipalName"),
        aad_user_id: acct.text("azureAdUserId"),
        sid: acct.text("userSid"),
        nt_domain: netbios(acct.text("domainName")),
        display_name: acct.text("displayName"),
        ..AccountParts::default()
    };
    user_from(&parts).map(Entity::User)
}

fn device(dns: Option<&str>, mde: Option<&str>, aad: Option<&str>) -> Option<Entity> {
    let mut d = DeviceEntity::default();
    if let Some(h) = dns.and_then(|h| HostName::parse(h).ok()) {
        d.host_name = HostName::parse(h.short()).ok();
        if h.as_str().contains('.') {
            d.fqdn = Some(h);
        }
    }
    d.mde_device_id = mde.and_then(|s| MdeDeviceId::parse(s).ok());
    d.azure_device_id = aad.and_then(|s| ObjectId::parse(s).ok());
    (!d.is_empty()).then_some(Entity::Device(d))
}

fn oauth_app(app_id: Option<String>, sp: Option<&str>, name: Option<&str>) -> Option<Entity> {
    let app = AppEntity {
        app_id: app_id.and_then(|s| AppId::parse(&s).ok()),
        service_principal_id: sp.and_then(|s| ObjectId::parse(s).ok()),
        name: name.map(str::to_string),
    };
    if app.app_id.is_none() && app.service_principal_id.is_none() {
        return name.map(|n| context(ContextKind::Other, &format!("cloud app: {n}")));
    }
    Some(Entity::OauthApp(app))
}

/// A Graph v2 evidence item, as a `serde_json::Value` or the fast path's [`EvidenceView`]: its
/// scalar fields through [`Props`].
trait Evidence: Props {
    type Child: Props;
    /// Its `@odata.type` ([`odata_type`]).
    fn kind(&self) -> Option<&str>;
    /// A nested object (`userAccount`, `fileDetails`…), looked up as [`get`] does.
    fn child(&self, key: &str) -> Option<&Self::Child>;
    /// The strongest of its `roles` ([`string_list`]).
    fn role(&self) -> Option<Role>;
}

impl Evidence for Value {
    type Child = Value;
    fn kind(&self) -> Option<&str> {
        odata_type(self)
    }
    fn child(&self, key: &str) -> Option<&Value> {
        get(self, key)
    }
    fn role(&self) -> Option<Role> {
        strongest_role(&string_list(get(self, "roles")))
    }
}

/// Entities of one Graph v2 evidence item.
fn evidence_entities(e: &impl Evidence, out: &mut Vec<Entity>) {
    let t = e.kind().unwrap_or("");
    let kind = t.rsplit('.').next().unwrap_or(t);
    match kind {
        "userEvidence" => out.extend(e.child("userAccount").and_then(graph_user)),
        "deviceEvidence" => out.extend(device(
            e.text("deviceDnsName").or_else(|| e.text("hostName")),
            e.text("mdeDeviceId"),
            e.text("azureAdDeviceId"),
        )),
        "ipEvidence" => out.extend(e.text("ipAddress").and_then(ip_entity)),
        "mailboxEvidence" => {
            let mut u = e.child("userAccount").and_then(graph_user);
            if let (Some(Entity::User(user)), Some(addr)) = (&mut u, e.text("primaryAddress")) {
                user.email = cordon_core::ids::Upn::parse(addr).ok();
            } else if u.is_none() {
                let parts = AccountParts {
                    email: e.text("primaryAddress"),
                    ..AccountParts::default()
                };
                u = user_from(&parts).map(Entity::User);
            }
            out.extend(u);
        }
        "analyzedMessageEvidence" => {
            let parts = AccountParts {
                email: e.text("recipientEmailAddress"),
                ..AccountParts::default()
            };
            out.extend(user_from(&parts).map(Entity::User));
            out.extend(e.text("senderIp").and_then(ip_entity));
            for k in ["p1Sender", "p2Sender"] {
                out.extend(
                    e.child(k)
                        .and_then(|s| s.text("emailAddress"))
                        .map(|s| context(ContextKind::Mailbox, s)),
                );
            }
        }
        "oauthApplicationEvidence" => out.extend(oauth_app(
            e.prop("appId").and_then(Scalar::text_owned),
            e.text("objectId"),
            e.text("displayName"),
        )),
        "cloudApplicationEvidence" => out.extend(
            e.text("displayName")
                .map(|n| context(ContextKind::Other, &format!("cloud app: {n}"))),
        ),
        "processEvidence" => out.extend(
            e.text("processCommandLine")
                .map(|c| context(ContextKind::Process, c)),
        ),
        "fileEvidence" => {
            if let Some(h) = e.child("fileDetails").and_then(|f| f.text("sha256")) {
                out.push(context(ContextKind::FileHash, &format!("sha256:{h}")));
            }
            if let Some(n) = e.child("fileDetails").and_then(|f| f.text("fileName")) {
                out.push(context(ContextKind::File, n));
            }
        }
        "urlEvidence" => out.extend(e.text("url").map(|u| context(ContextKind::Url, u))),
        "azureResourceEvidence" => {
            if let Some(r) = e.text("resourceId") {
                out.push(match crate::sentinel::cloud_resource(r) {
                    Some(id) if r.to_ascii_lowercase().contains("/virtualmachines/") => {
                        Entity::Device(DeviceEntity {
                            cloud_resource_id: Some(id),
                            ..DeviceEntity::default()
                        })
                    }
                    _ => context(ContextKind::CloudResource, r),
                });
            }
        }
        "amazonResourceEvidence" | "googleCloudResourceEvidence" => {
            if let Some(r) = e
                .text("amazonResourceId")
                .or_else(|| e.text("fullResourceName"))
                .or_else(|| e.text("resourceName"))
            {
                out.push(context(ContextKind::CloudResource, r));
            }
        }
        _ => {}
    }
}

/// What a Graph v2 alert states, read from a `serde_json::Value` or from the fast path's view;
/// turned into an alert by [`build_alert`].
struct AlertParts<'a> {
    id: Option<String>,
    last_update: Option<Scalar<'a>>,
    created: Option<Scalar<'a>>,
    title: Option<&'a str>,
    service_source: Option<&'a str>,
    detector_id: Option<&'a str>,
    severity: Option<Scalar<'a>>,
    category: Option<&'a str>,
    techniques: Vec<String>,
    first_activity: Option<Scalar<'a>>,
    last_activity: Option<Scalar<'a>>,
    tenant: Option<&'a str>,
    incident_id: Option<String>,
}

fn graph_alert(v: &Value, parent: Option<&str>) -> Result<Alert, ParseError> {
    let evidence = match get(v, "evidence") {
        Some(Value::Array(evidence)) => evidence.as_slice(),
        _ => &[],
    };
    let parts = AlertParts {
        id: text_of(get(v, "id")),
        last_update: v.prop("lastUpdateDateTime"),
        created: v.prop("createdDateTime"),
        title: gs(v, "title"),
        service_source: gs(v, "serviceSource"),
        detector_id: gs(v, "detectorId"),
        severity: v.prop("severity"),
        category: gs(v, "category"),
        techniques: techniques_of(get(v, "mitreTechniques")),
        first_activity: v.prop("firstActivityDateTime"),
        last_activity: v.prop("lastActivityDateTime"),
        tenant: gs(v, "tenantId"),
        incident_id: text_of(get(v, "incidentId")),
    };
    build_alert(parts, parent, evidence)
}

/// The alert of a Graph v2 alert (`parent`: the incident it was expanded from).
fn build_alert(
    p: AlertParts<'_>,
    parent: Option<&str>,
    evidence: &[impl Evidence],
) -> Result<Alert, ParseError> {
    let id = p.id.ok_or_else(|| invalid("Graph alert has no id"))?;
    let mut a = blank(Source::GraphSecurity, id);
    a.source_updated = p
        .last_update
        .and_then(Scalar::time)
        .or_else(|| p.created.and_then(Scalar::time));
    a.title = p.title.unwrap_or("").to_string();
    // The service that raised it (Defender for Endpoint, for Identity, Entra ID Protection…) is
    // what a detector's precision depends on most; the detector id within it is stable.
    a.detector_id = match p.service_source {
        Some(service) => format!(
            "{}:{service}/{}",
            Source::GraphSecurity.as_str(),
            p.detector_id.unwrap_or(&a.title)
        ),
        None => detector(Source::GraphSecurity, p.detector_id, &a.title),
    };
    a.alert_type = a.title.clone();
    a.severity = p
        .severity
        .and_then(Scalar::severity)
        .unwrap_or(Severity::Medium);
    if let Some(t) = p.category.and_then(tactic) {
        a.tactics.push(t.to_string());
    }
    a.techniques = p.techniques;
    a.first_activity = p.first_activity.and_then(Scalar::time);
    a.last_activity = p.last_activity.and_then(Scalar::time);
    a.tenant = p.tenant.map(str::to_string);
    a.parent_incident = parent.map(str::to_string).or(p.incident_id);
    for e in evidence {
        let role = e.role();
        let mut ents = Vec::new();
        evidence_entities(e, &mut ents);
        a.entities.extend(ents.into_iter().map(|ent| match role {
            Some(r) => AlertEntity::stated(ent, r),
            None => AlertEntity::unstated(ent),
        }));
    }
    Ok(finish(a))
}

fn graph_incident(v: &Value) -> Result<Vec<Alert>, ParseError> {
    let id = text_of(get(v, "id")).ok_or_else(|| invalid("Graph incident has no id"))?;
    let alerts = get(v, "alerts")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if !alerts.is_empty() {
        return alerts.iter().map(|x| graph_alert(x, Some(&id))).collect();
    }
    let mut a = blank(Source::GraphSecurity, format!("incident:{id}"));
    a.source_updated = time_of(get(v, "lastUpdateDateTime"));
    a.title = gs(v, "displayName")
        .unwrap_or("Defender XDR incident")
        .to_string();
    a.detector_id = "graph_security:incident".into();
    a.detector_name = "Defender XDR incident".into();
    a.alert_type = "DefenderIncident".into();
    a.severity = severity_of(get(v, "severity")).unwrap_or(Severity::Medium);
    a.first_activity = time_of(get(v, "createdDateTime"));
    a.tenant = gs(v, "tenantId").map(str::to_string);
    a.parent_incident = Some(id);
    Ok(vec![finish(a)])
}

/// Entities of an MDE `evidence[]` item or an M365D `entities[]` item (same field names).
fn mde_entities(e: &Value, out: &mut Vec<Entity>) {
    let kind = gs(e, "entityType").unwrap_or("").to_ascii_lowercase();
    match kind.as_str() {
        "user" => {
            let parts = AccountParts {
                name: gs(e, "accountName"),
                upn: gs(e, "userPrincipalName"),
                aad_user_id: gs(e, "aadUserId"),
                sid: gs(e, "userSid"),
                nt_domain: netbios(gs(e, "domainName")),
                ..AccountParts::default()
            };
            out.extend(user_from(&parts).map(Entity::User));
        }
        "mailbox" => {
            let parts = AccountParts {
                upn: gs(e, "userPrincipalName"),
                email: gs(e, "mailboxAddress"),
                aad_user_id: gs(e, "aadUserId"),
                display_name: gs(e, "mailboxDisplayName"),
                ..AccountParts::default()
            };
            out.extend(user_from(&parts).map(Entity::User));
        }
        "mailmessage" => {
            let parts = AccountParts {
                email: gs(e, "recipient"),
                ..AccountParts::default()
            };
            out.extend(user_from(&parts).map(Entity::User));
            out.extend(gs(e, "sender").map(|s| context(ContextKind::Mailbox, s)));
        }
        "ip" => out.extend(gs(e, "ipAddress").and_then(ip_entity)),
        "url" => out.extend(gs(e, "url").map(|u| context(ContextKind::Url, u))),
        "process" => {
            out.extend(gs(e, "processCommandLine").map(|c| context(ContextKind::Process, c)))
        }
        "file" => {
            out.extend(
                gs(e, "sha256").map(|h| context(ContextKind::FileHash, &format!("sha256:{h}"))),
            );
            if let Some(n) = gs(e, "fileName") {
                let v = match gs(e, "filePath") {
                    Some(p) => format!("{}\\{n}", p.trim_end_matches('\\')),
                    None => n.to_string(),
                };
                out.push(context(ContextKind::File, &v));
            }
        }
        "machine" | "device" => out.extend(device(
            gs(e, "deviceDnsName"),
            gs(e, "deviceId"),
            gs(e, "aadDeviceId"),
        )),
        _ => {}
    }
}

fn mde_alert(v: &Value) -> Result<Alert, ParseError> {
    let id =
        text_of(get(v, "id")).ok_or_else(|| invalid("Defender for Endpoint alert has no id"))?;
    let mut a = blank(Source::DefenderEndpoint, id);
    a.source_updated =
        time_of(get(v, "lastUpdateTime")).or_else(|| time_of(get(v, "alertCreationTime")));
    a.title = gs(v, "title").unwrap_or("").to_string();
    a.detector_id = detector(Source::DefenderEndpoint, gs(v, "detectorId"), &a.title);
    a.alert_type = a.title.clone();
    a.severity = severity_of(get(v, "severity")).unwrap_or(Severity::Medium);
    a.tactics = gs(v, "category")
        .and_then(tactic)
        .map(|t| vec![t.to_string()])
        .unwrap_or_default();
    a.techniques = techniques_of(get(v, "mitreTechniques"));
    a.first_activity = time_of(get(v, "firstEventTime"));
    a.last_activity = time_of(get(v, "lastEventTime"));
    a.tenant = gs(v, "aadTenantId").map(str::to_string);
    a.parent_incident = text_of(get(v, "incidentId"));
    let mut ents = Vec::new();
    ents.extend(device(gs(v, "computerDnsName"), gs(v, "machineId"), None));
    if let Some(u) = get(v, "relatedUser").filter(|u| u.is_object()) {
        let parts = AccountParts {
            name: gs(u, "userName"),
            nt_domain: netbios(gs(u, "domainName")),
            ..AccountParts::default()
        };
        ents.extend(user_from(&parts).map(Entity::User));
    }
    if let Some(Value::Array(ev)) = get(v, "evidence") {
        ev.iter().for_each(|e| mde_entities(e, &mut ents));
    }
    a.entities = ents.into_iter().map(AlertEntity::unstated).collect();
    Ok(finish(a))
}

fn m365_incident(v: &Value) -> Result<Vec<Alert>, ParseError> {
    let incident = text_of(get(v, "incidentId"))
        .ok_or_else(|| invalid("Defender incident has no incidentId"))?;
    let alerts = get(v, "alerts")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut out = Vec::with_capacity(alerts.len().max(1));
    for x in alerts {
        let Some(id) = text_of(get(x, "alertId")) else {
            continue;
        };
        let mut a = blank(Source::DefenderXdr, id);
        a.source_updated =
            time_of(get(x, "lastUpdatedTime")).or_else(|| time_of(get(x, "creationTime")));
        a.title = gs(x, "title").unwrap_or("").to_string();
        a.detector_id = detector(Source::DefenderXdr, None, &a.title);
        a.alert_type = a.title.clone();
        a.severity = severity_of(get(x, "severity")).unwrap_or(Severity::Medium);
        a.tactics = gs(x, "category")
            .and_then(tactic)
            .map(|t| vec![t.to_string()])
            .unwrap_or_default();
        a.techniques = techniques_of(get(x, "mitreTechniques"));
        a.first_activity = time_of(get(x, "firstActivity"));
        a.last_activity = time_of(get(x, "lastActivity"));
        a.parent_incident = Some(incident.clone());
        let mut ents = Vec::new();
        if let Some(Value::Array(devs)) = get(x, "devices") {
            for d in devs {
                ents.extend(device(
                    gs(d, "deviceDnsName"),
                    gs(d, "mdatpDeviceId"),
                    gs(d, "aadDeviceId"),
                ));
            }
        }
        if let Some(Value::Array(es)) = get(x, "entities") {
            es.iter().for_each(|e| mde_entities(e, &mut ents));
        }
        a.entities = ents.into_iter().map(AlertEntity::unstated).collect();
        out.push(finish(a));
    }
    if out.is_empty() {
        let mut a = blank(Source::DefenderXdr, format!("incident:{incident}"));
        a.source_updated = time_of(get(v, "lastUpdateTime"));
        a.title = gs(v, "incidentName")
            .unwrap_or("Defender XDR incident")
            .to_string();
        a.detector_id = "defender_xdr:incident".into();
        a.alert_type = "DefenderIncident".into();
        a.severity = severity_of(get(v, "severity")).unwrap_or(Severity::Medium);
        a.first_activity = time_of(get(v, "createdTime"));
        a.parent_incident = Some(incident);
        out.push(finish(a));
    }
    Ok(out)
}

fn advanced_hunting(table: &str, p: &Value, record: &Value) -> Result<Alert, ParseError> {
    let alert_id =
        gs(p, "AlertId").ok_or_else(|| invalid("AdvancedHunting alert record has no AlertId"))?;
    let evidence = table == "AlertEvidence";
    let id = if evidence {
        format!("{alert_id}/evidence/{}", stable_hash(p))
    } else {
        alert_id.to_string()
    };
    let mut a = blank(Source::DefenderXdr, id);
    a.source_updated = time_of(get(p, "Timestamp")).or_else(|| time_of(get(record, "time")));
    a.title = gs(p, "Title").unwrap_or("").to_string();
    a.detector_id = detector(Source::DefenderXdr, None, &a.title);
    a.alert_type = a.title.clone();
    a.severity = severity_of(get(p, "Severity")).unwrap_or(Severity::Medium);
    let cats = string_list(get(p, "Category").or_else(|| get(p, "Categories")));
    a.tactics = cats
        .iter()
        .filter_map(|c| tactic(c))
        .map(str::to_string)
        .collect();
    a.techniques = techniques_of(get(p, "AttackTechniques"));
    a.first_activity = time_of(get(p, "Timestamp"));
    a.tenant = gs(record, "tenantId").map(str::to_string);
    if evidence {
        let extra = match get(p, "AdditionalFields") {
            Some(Value::String(s)) => serde_json::from_str::<Value>(s).unwrap_or(Value::Null),
            Some(v) => v.clone(),
            None => Value::Null,
        };
        let mut ents = Vec::new();
        match gs(p, "EntityType")
            .unwrap_or("")
            .to_ascii_lowercase()
            .as_str()
        {
            "machine" => ents.extend(device(
                gs(p, "DeviceName").or_else(|| gs(&extra, "HostName")),
                gs(p, "DeviceId").or_else(|| gs(&extra, "MachineId")),
                None,
            )),
            "user" | "mailbox" => {
                let parts = AccountParts {
                    name: gs(p, "AccountName"),
                    upn: gs(p, "AccountUpn"),
                    aad_user_id: gs(p, "AccountObjectId"),
                    sid: gs(p, "AccountSid"),
                    nt_domain: netbios(gs(p, "AccountDomain")),
                    ..AccountParts::default()
                };
                ents.extend(user_from(&parts).map(Entity::User));
            }
            "ip" => ents.extend(
                gs(p, "RemoteIP")
                    .or_else(|| gs(p, "LocalIP"))
                    .and_then(ip_entity),
            ),
            "url" => ents.extend(gs(p, "RemoteUrl").map(|u| context(ContextKind::Url, u))),
            "file" => ents.extend(
                gs(p, "SHA256").map(|h| context(ContextKind::FileHash, &format!("sha256:{h}"))),
            ),
            "process" => {
                ents.extend(gs(p, "ProcessCommandLine").map(|c| context(ContextKind::Process, c)))
            }
            "oauthapplication" | "cloudapplication" => ents.extend(oauth_app(
                gs(p, "OAuthApplicationId")
                    .or_else(|| gs(p, "ApplicationId"))
                    .map(str::to_string),
                None,
                gs(p, "Application"),
            )),
            _ => {}
        }
        let role = gs(p, "EvidenceRole").and_then(Role::parse);
        a.entities = ents
            .into_iter()
            .map(|e| match role {
                Some(r) => AlertEntity::stated(e, r),
                None => AlertEntity::unstated(e),
            })
            .collect();
    }
    Ok(finish(a))
}

// ---------------------------------------------------------------------------------------------
// Fast path (see `crate::fast`)

top_level_view! {
    /// A Graph security alert v2: the fields [`graph_alert`] reads, and the keys of the shapes
    /// the dispatcher asks first (telemetry's CloudTrail records and EventBridge events, a
    /// Sentinel playbook trigger or REST object).
    pub(crate) struct AlertView<'de> {
        "@odata.type" => odata_type: Lit<'de>,
        "at_sign_odata_type" => at_sign_odata_type: Lit<'de>,
        "id" => id: Lit<'de>,
        "title" => title: Lit<'de>,
        "severity" => severity: Lit<'de>,
        "evidence" => evidence: Seq<EvidenceView<'de>>,
        "serviceSource" => service_source: Lit<'de>,
        "category" => category: Lit<'de>,
        "incidentId" => incident_id: Lit<'de>,
        "incidentWebUrl" => incident_web_url: Present, // with `displayName`: a Graph incident
        "detectorId" => detector_id: Lit<'de>,
        "createdDateTime" => created_date_time: Lit<'de>,
        "lastUpdateDateTime" => last_update_date_time: Lit<'de>,
        "firstActivityDateTime" => first_activity_date_time: Lit<'de>,
        "lastActivityDateTime" => last_activity_date_time: Lit<'de>,
        "mitreTechniques" => mitre_techniques: Strings,
        "tenantId" => tenant_id: Lit<'de>,
        "type" => ty: Lit<'de>,
        "object" => _object: Decline,
        "detail" => _detail: Decline,
        "eventSource" => _event_source: Decline,
        "eventName" => _event_name: Decline,
    }
}

/// The keys one of which [`AlertView::is_graph_alert`] needs, as they appear in a JSON text.
pub(crate) const ALERT_KEYS: [&[u8]; 4] = [
    b"\"@odata.type\"",
    b"\"at_sign_odata_type\"",
    b"\"evidence\"",
    b"\"serviceSource\"",
];

impl AlertView<'_> {
    /// Whether Graph recognises it as a Graph security alert v2 ([`shape`]), conservatively:
    /// an evidence list without typed items (a Defender for Endpoint alert, perhaps) and an
    /// untyped record with `incidentWebUrl` (an incident, with `displayName`) are left to the
    /// `Value` path; Graph's other shapes have keys the view declines on.
    fn is_graph_alert(&self) -> bool {
        let ty = odata_type_of(&self.odata_type, &self.at_sign_odata_type);
        if let Some(t) = ty {
            if t.ends_with(".incident") {
                return false;
            }
            if t.ends_with(".alert") {
                return true;
            }
        }
        if let Some(ev) = self.evidence.as_ref().and_then(Seq::items) {
            return ev.iter().any(|e| e.odata_type().is_some());
        }
        self.incident_web_url.is_none()
            && self.service_source.is_some()
            && self.created_date_time.is_some()
            && self.title.is_some()
    }
}

/// The alert of a Graph security alert v2 read by the fast path (`graph_alert`), or `None`
/// where it declines: the text is not one, or telemetry or Sentinel may claim it first.
pub(crate) fn parse_alert_fast(input: &str) -> Option<Result<Vec<Alert>, ParseError>> {
    let r: AlertView = serde_json::from_str(input).ok()?;
    if !r.meta.is_object || sentinel_may_claim(&r.ty, r.meta) || !r.is_graph_alert() {
        return None;
    }
    let evidence = r.evidence.as_ref().and_then(Seq::items).unwrap_or(&[]);
    let parts = AlertParts {
        id: sc(&r.id).and_then(Scalar::text_owned),
        last_update: sc(&r.last_update_date_time),
        created: sc(&r.created_date_time),
        title: text(&r.title),
        service_source: text(&r.service_source),
        detector_id: text(&r.detector_id),
        severity: sc(&r.severity),
        category: text(&r.category),
        techniques: r
            .mitre_techniques
            .as_ref()
            .map(|t| techniques_in_list(&t.0))
            .unwrap_or_default(),
        first_activity: sc(&r.first_activity_date_time),
        last_activity: sc(&r.last_activity_date_time),
        tenant: text(&r.tenant_id),
        incident_id: sc(&r.incident_id).and_then(Scalar::text_owned),
    };
    Some(build_alert(parts, None, evidence).map(|a| vec![a]))
}

view! {
    /// A Graph v2 evidence item: the fields [`evidence_entities`] reads.
    pub(crate) struct EvidenceView<'de> {
        "@odata.type" => odata_type: Lit<'de>,
        "at_sign_odata_type" => at_sign_odata_type: Lit<'de>,
        "roles" => roles: Strings,
        "userAccount" => user_account: Bag<'de>,
        "p1Sender" => p1_sender: Bag<'de>,
        "p2Sender" => p2_sender: Bag<'de>,
        "fileDetails" => file_details: Bag<'de>,
        "deviceDnsName" => device_dns_name: Lit<'de>,
        "hostName" => host_name: Lit<'de>,
        "mdeDeviceId" => mde_device_id: Lit<'de>,
        "azureAdDeviceId" => azure_ad_device_id: Lit<'de>,
        "ipAddress" => ip_address: Lit<'de>,
        "primaryAddress" => primary_address: Lit<'de>,
        "recipientEmailAddress" => recipient_email_address: Lit<'de>,
        "senderIp" => sender_ip: Lit<'de>,
        "appId" => app_id: Lit<'de>,
        "objectId" => object_id: Lit<'de>,
        "displayName" => display_name: Lit<'de>,
        "processCommandLine" => process_command_line: Lit<'de>,
        "url" => url: Lit<'de>,
        "resourceId" => resource_id: Lit<'de>,
        "amazonResourceId" => amazon_resource_id: Lit<'de>,
        "fullResourceName" => full_resource_name: Lit<'de>,
        "resourceName" => resource_name: Lit<'de>,
    }
}

impl EvidenceView<'_> {
    /// Its `@odata.type` ([`odata_type`]).
    pub(crate) fn odata_type(&self) -> Option<&str> {
        odata_type_of(&self.odata_type, &self.at_sign_odata_type)
    }
}

impl Props for EvidenceView<'_> {
    /// A scalar field; every key `evidence_entities` reads is one of the view's (so a key in
    /// another case has made it decline).
    fn prop(&self, key: &str) -> Option<Scalar<'_>> {
        let field = match key {
            "deviceDnsName" => &self.device_dns_name,
            "hostName" => &self.host_name,
            "mdeDeviceId" => &self.mde_device_id,
            "azureAdDeviceId" => &self.azure_ad_device_id,
            "ipAddress" => &self.ip_address,
            "primaryAddress" => &self.primary_address,
            "recipientEmailAddress" => &self.recipient_email_address,
            "senderIp" => &self.sender_ip,
            "appId" => &self.app_id,
            "objectId" => &self.object_id,
            "displayName" => &self.display_name,
            "processCommandLine" => &self.process_command_line,
            "url" => &self.url,
            "resourceId" => &self.resource_id,
            "amazonResourceId" => &self.amazon_resource_id,
            "fullResourceName" => &self.full_resource_name,
            "resourceName" => &self.resource_name,
            _ => {
                debug_assert!(false, "evidence key {key} is not in the view");
                return None;
            }
        };
        sc(field)
    }
}

impl<'de> Evidence for EvidenceView<'de> {
    type Child = Bag<'de>;
    fn kind(&self) -> Option<&str> {
        self.odata_type()
    }
    fn child(&self, key: &str) -> Option<&Bag<'de>> {
        match key {
            "userAccount" => self.user_account.as_ref(),
            "p1Sender" => self.p1_sender.as_ref(),
            "p2Sender" => self.p2_sender.as_ref(),
            "fileDetails" => self.file_details.as_ref(),
            _ => {
                debug_assert!(false, "evidence key {key} is not in the view");
                None
            }
        }
    }
    fn role(&self) -> Option<Role> {
        strongest_role(self.roles.as_ref().map_or(&[], |r| &r.0))
    }
}

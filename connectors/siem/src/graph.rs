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

fn graph_user(acct: &Value) -> Option<Entity> {
    let parts = AccountParts {
        name: gs(acct, "accountName"),
        upn: gs(acct, "userPrincipalName"),
        aad_user_id: gs(acct, "azureAdUserId"),
        sid: gs(acct, "userSid"),
        nt_domain: netbios(gs(acct, "domainName")),
        display_name: gs(acct, "displayName"),
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

/// Entities of one Graph v2 evidence item.
fn evidence_entities(e: &Value, out: &mut Vec<Entity>) {
    let t = odata_type(e).unwrap_or("");
    let kind = t.rsplit('.').next().unwrap_or(t);
    match kind {
        "userEvidence" => out.extend(get(e, "userAccount").and_then(graph_user)),
        "deviceEvidence" => out.extend(device(
            gs(e, "deviceDnsName").or_else(|| gs(e, "hostName")),
            gs(e, "mdeDeviceId"),
            gs(e, "azureAdDeviceId"),
        )),
        "ipEvidence" => out.extend(gs(e, "ipAddress").and_then(ip_entity)),
        "mailboxEvidence" => {
            let mut u = get(e, "userAccount").and_then(graph_user);
            if let (Some(Entity::User(user)), Some(addr)) = (&mut u, gs(e, "primaryAddress")) {
                user.email = cordon_core::ids::Upn::parse(addr).ok();
            } else if u.is_none() {
                let parts = AccountParts {
                    email: gs(e, "primaryAddress"),
                    ..AccountParts::default()
                };
                u = user_from(&parts).map(Entity::User);
            }
            out.extend(u);
        }
        "analyzedMessageEvidence" => {
            let parts = AccountParts {
                email: gs(e, "recipientEmailAddress"),
                ..AccountParts::default()
            };
            out.extend(user_from(&parts).map(Entity::User));
            out.extend(gs(e, "senderIp").and_then(ip_entity));
            for k in ["p1Sender", "p2Sender"] {
                out.extend(ps(e, &[k, "emailAddress"]).map(|s| context(ContextKind::Mailbox, s)));
            }
        }
        "oauthApplicationEvidence" => out.extend(oauth_app(
            text_of(get(e, "appId")),
            gs(e, "objectId"),
            gs(e, "displayName"),
        )),
        "cloudApplicationEvidence" => out.extend(
            gs(e, "displayName").map(|n| context(ContextKind::Other, &format!("cloud app: {n}"))),
        ),
        "processEvidence" => {
            out.extend(gs(e, "processCommandLine").map(|c| context(ContextKind::Process, c)))
        }
        "fileEvidence" => {
            if let Some(h) = ps(e, &["fileDetails", "sha256"]) {
                out.push(context(ContextKind::FileHash, &format!("sha256:{h}")));
            }
            if let Some(n) = ps(e, &["fileDetails", "fileName"]) {
                out.push(context(ContextKind::File, n));
            }
        }
        "urlEvidence" => out.extend(gs(e, "url").map(|u| context(ContextKind::Url, u))),
        "azureResourceEvidence" => {
            if let Some(r) = gs(e, "resourceId") {
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
            if let Some(r) = gs(e, "amazonResourceId")
                .or_else(|| gs(e, "fullResourceName"))
                .or_else(|| gs(e, "resourceName"))
            {
                out.push(context(ContextKind::CloudResource, r));
            }
        }
        _ => {}
    }
}

fn graph_alert(v: &Value, parent: Option<&str>) -> Result<Alert, ParseError> {
    let id = text_of(get(v, "id")).ok_or_else(|| invalid("Graph alert has no id"))?;
    let mut a = blank(Source::GraphSecurity, id);
    a.source_updated =
        time_of(get(v, "lastUpdateDateTime")).or_else(|| time_of(get(v, "createdDateTime")));
    a.title = gs(v, "title").unwrap_or("").to_string();
    // The service that raised it (Defender for Endpoint, for Identity, Entra ID Protection…) is
    // what a detector's precision depends on most; the detector id within it is stable.
    a.detector_id = match gs(v, "serviceSource") {
        Some(service) => format!(
            "{}:{service}/{}",
            Source::GraphSecurity.as_str(),
            gs(v, "detectorId").unwrap_or(&a.title)
        ),
        None => detector(Source::GraphSecurity, gs(v, "detectorId"), &a.title),
    };
    a.alert_type = a.title.clone();
    a.severity = severity_of(get(v, "severity")).unwrap_or(Severity::Medium);
    if let Some(t) = gs(v, "category").and_then(tactic) {
        a.tactics.push(t.to_string());
    }
    a.techniques = techniques_of(get(v, "mitreTechniques"));
    a.first_activity = time_of(get(v, "firstActivityDateTime"));
    a.last_activity = time_of(get(v, "lastActivityDateTime"));
    a.tenant = gs(v, "tenantId").map(str::to_string);
    a.parent_incident = parent
        .map(str::to_string)
        .or_else(|| text_of(get(v, "incidentId")));
    if let Some(Value::Array(evidence)) = get(v, "evidence") {
        for e in evidence {
            let roles = string_list(get(e, "roles"));
            let role = strongest_role(&roles);
            let mut ents = Vec::new();
            evidence_entities(e, &mut ents);
            a.entities.extend(ents.into_iter().map(|ent| match role {
                Some(r) => AlertEntity::stated(ent, r),
                None => AlertEntity::unstated(ent),
            }));
        }
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

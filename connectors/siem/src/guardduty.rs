//! Amazon GuardDuty findings.
//!
//! Accepted shapes:
//! - the EventBridge event (`detail-type: "GuardDuty Finding"`, `source: "aws.guardduty"`,
//!   `detail` = the finding). An envelope missing `detail-type` or `source` is still accepted when
//!   its `detail` has the shape of a finding (`../shared/cases` C5);
//! - a bare finding, in the API's camelCase (`{id, type, severity, resource, service, accountId,
//!   updatedAt, …}`) or the PascalCase some tools print (`{Id, Type, Resource, Service, …}`);
//! - a GetFindings response `{Findings: [...]}` of GuardDuty findings.
//!
//! Templates (`${role_name}` placeholders in identity fields, as test scenarios ship them) are
//! rejected as `Invalid` with the placeholder and where it sits.
//!
//! Entities and roles, as GuardDuty states them: `resource.accessKeyDetails` → the AWS principal,
//! `Compromised` (the finding's resource is the affected credential); `resource.instanceDetails` →
//! the EC2 instance, `Compromised` when `service.resourceRole` is `ACTOR` (or, without a role,
//! when the finding type says the instance acts: `Backdoor`, `CryptoCurrency`, `Trojan`),
//! `Victim` when it is `TARGET`; each `remoteIpDetails` IP → `Attacker` when the resource is the
//! `TARGET`, `Related` when it is the `ACTOR`, unstated otherwise.
//!
//! Tactics come from the type's threat purpose, mapped to MITRE: `UnauthorizedAccess` →
//! InitialAccess, `Recon` → Discovery (`Recon:EC2/*` → Reconnaissance), `Stealth` →
//! DefenseEvasion, `Backdoor`/`Trojan` → CommandAndControl, `CryptoCurrency` → Impact; MITRE-named
//! purposes (`CredentialAccess`, `Discovery`, `Exfiltration`, …) as they are; `Policy`,
//! `Behavior`, `Pentest` give none.

use crate::util::*;
use cordon_core::entity::{AwsPrincipalEntity, ContextKind, DeviceEntity, Role};
use cordon_core::ids::{AccessKeyId, AwsAccountId, CloudResourceId};
use cordon_core::{Alert, AlertEntity, AlertSource, Entity, ParseError, Severity, Source};
use serde_json::Value;

const FORMAT: &str = "guardduty";

/// The GuardDuty parser.
pub struct GuardDuty;

fn g2<'a>(v: &'a Value, camel: &str, pascal: &str) -> Option<&'a Value> {
    v.get(camel).or_else(|| v.get(pascal))
}

/// Whether `v` has the shape of a GuardDuty finding (either casing), and is not ASFF.
pub(crate) fn looks_like_finding(v: &Value) -> bool {
    let Some(o) = v.as_object() else { return false };
    if o.contains_key("ProductArn") || o.contains_key("Resources") {
        return false;
    }
    let typed = g2(v, "type", "Type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.contains(':') && t.contains('/'));
    typed && (g2(v, "service", "Service").is_some() || g2(v, "resource", "Resource").is_some())
}

enum Shape<'a> {
    One(&'a Value),
    Many(&'a [Value]),
}

fn shape(v: &Value) -> Option<Shape<'_>> {
    let o = v.as_object()?;
    if let Some(detail) = o.get("detail") {
        let dt = o.get("detail-type").and_then(Value::as_str);
        let src = o.get("source").and_then(Value::as_str);
        if dt == Some("GuardDuty Finding")
            || src == Some("aws.guardduty")
            || looks_like_finding(detail)
        {
            return Some(Shape::One(detail));
        }
        return None;
    }
    if looks_like_finding(v) {
        return Some(Shape::One(v));
    }
    if let Some(Value::Array(list)) = o.get("Findings").or_else(|| o.get("findings")) {
        if list.first().is_some_and(looks_like_finding) {
            return Some(Shape::Many(list));
        }
    }
    None
}

impl AlertSource for GuardDuty {
    fn name(&self) -> &'static str {
        FORMAT
    }

    fn recognises(&self, payload: &Value) -> bool {
        shape(payload).is_some()
    }

    fn parse(&self, payload: &Value) -> Result<Vec<Alert>, ParseError> {
        match shape(payload) {
            Some(Shape::One(f)) => parse_finding(f).map(|a| vec![a]),
            Some(Shape::Many(list)) => list.iter().map(parse_finding).collect(),
            None => Err(ParseError::Unrecognised {
                detail: "not a GuardDuty finding".into(),
            }),
        }
    }
}

fn invalid(detail: String) -> ParseError {
    ParseError::Invalid {
        format: FORMAT,
        detail,
    }
}

/// The MITRE tactic of a GuardDuty threat purpose (the part of the type before `:`).
pub(crate) fn tactic_of_type(ty: &str) -> Option<&'static str> {
    let (purpose, rest) = ty.split_once(':').unwrap_or((ty, ""));
    Some(match purpose {
        "UnauthorizedAccess" => "InitialAccess",
        "Recon" if rest.starts_with("EC2/") => "Reconnaissance",
        "Recon" => "Discovery",
        "Stealth" => "DefenseEvasion",
        "Backdoor" | "Trojan" => "CommandAndControl",
        "CryptoCurrency" => "Impact",
        other => return tactic(other),
    })
}

/// Finding types whose resource is, by definition, the one acting.
fn type_says_resource_acts(ty: &str) -> bool {
    ["Backdoor:", "CryptoCurrency:", "Trojan:"]
        .iter()
        .any(|p| ty.starts_with(p))
}

fn parse_finding(f: &Value) -> Result<Alert, ParseError> {
    if !f.is_object() {
        return Err(invalid("detail is not an object".into()));
    }
    for key in ["id", "arn", "type", "accountId", "resource", "title"] {
        if let Some(v) = get(f, key) {
            if let Some((at, ph)) = placeholder(v, key) {
                return Err(invalid(format!(
                    "unrendered template placeholder {ph} in {at}: a finding template, not a finding"
                )));
            }
        }
    }
    let id = gs(f, "id")
        .or_else(|| gs(f, "arn"))
        .ok_or_else(|| invalid("finding has neither id nor arn".into()))?;
    let ty = gs(f, "type").ok_or_else(|| invalid("finding has no type".into()))?;
    let mut a = blank(Source::GuardDuty, id.to_string());
    a.source_updated = time_of(get(f, "updatedAt")).or_else(|| time_of(get(f, "createdAt")));
    a.detector_id = format!("guardduty:{ty}");
    a.detector_name = ty.to_string();
    a.alert_type = ty.to_string();
    a.title = gs(f, "title").unwrap_or(ty).to_string();
    a.severity = f64_of(get(f, "severity"))
        .map(Severity::from_guardduty)
        .unwrap_or(Severity::Medium);
    a.tactics = tactic_of_type(ty)
        .map(|t| vec![t.to_string()])
        .unwrap_or_default();
    let account_raw = gs(f, "accountId");
    let account = account_raw.and_then(|s| AwsAccountId::parse(s).ok());
    a.tenant = account_raw.map(str::to_string);

    let service = get(f, "service").unwrap_or(&Value::Null);
    a.first_activity = time_of(get(service, "eventFirstSeen"));
    a.last_activity = time_of(get(service, "eventLastSeen"));
    let resource_role = gs(service, "resourceRole").map(str::to_ascii_uppercase);
    let (target, actor) = match resource_role.as_deref() {
        Some("TARGET") => (true, false),
        Some("ACTOR") => (false, true),
        _ => (false, false),
    };

    let resource = get(f, "resource").unwrap_or(&Value::Null);
    if let Some(akd) = get(resource, "accessKeyDetails") {
        let key = gs(akd, "accessKeyId").and_then(|k| AccessKeyId::parse(k).ok());
        let user_type = gs(akd, "userType").unwrap_or("");
        // For an assumed role GuardDuty puts the role name in userName and
        // `<role id>:<session name>` in principalId; the session name (for IAM Identity Center
        // the person's e-mail) is what links it to the person.
        let session = gs(akd, "principalId")
            .and_then(|p| p.split_once(':'))
            .map(|(_, s)| s)
            .filter(|s| !s.is_empty());
        let user_name = match (user_type.eq_ignore_ascii_case("AssumedRole"), gs(akd, "userName"), session) {
            (true, Some(role), Some(session)) if !role.contains('/') => Some(format!("{role}/{session}")),
            (_, name, _) => name.map(str::to_string),
        };
        if let Some(p) =
            AwsPrincipalEntity::from_parts(user_type, user_name.as_deref(), account.as_ref(), key)
        {
            a.entities.push(AlertEntity::stated(
                Entity::AwsPrincipal(p),
                Role::Compromised,
            ));
        }
    }
    if let Some(inst) = get(resource, "instanceDetails") {
        if let Some(id) = gs(inst, "instanceId").and_then(|i| CloudResourceId::parse(i).ok()) {
            let device = Entity::Device(DeviceEntity {
                cloud_resource_id: Some(id),
                ..DeviceEntity::default()
            });
            a.entities
                .push(if actor || (!target && type_says_resource_acts(ty)) {
                    AlertEntity::stated(device, Role::Compromised)
                } else if target {
                    AlertEntity::stated(device, Role::Victim)
                } else {
                    AlertEntity::unstated(device)
                });
        }
    }
    if let Some(Value::Array(buckets)) = get(resource, "s3BucketDetails") {
        for b in buckets {
            if let Some(r) = gs(b, "arn").or_else(|| gs(b, "name")) {
                a.entities.push(AlertEntity::unstated(context(
                    ContextKind::CloudResource,
                    r,
                )));
            }
        }
    }
    if let Some(r) =
        path(resource, &["rdsDbInstanceDetails", "dbInstanceArn"]).and_then(|v| str_of(Some(v)))
    {
        a.entities.push(AlertEntity::unstated(context(
            ContextKind::CloudResource,
            r,
        )));
    }
    let mut ips = Vec::new();
    if let Some(action) = get(service, "action") {
        remote_ips(action, &mut ips, 0);
    }
    for ip in ips {
        let e = Entity::Ip { address: ip };
        a.entities.push(if target {
            AlertEntity::stated(e, Role::Attacker)
        } else if actor {
            AlertEntity::stated(e, Role::Related)
        } else {
            AlertEntity::unstated(e)
        });
    }
    Ok(finish(a))
}

/// Every `remoteIpDetails.ipAddressV4` (or V6) under the action, whatever the action type.
fn remote_ips(v: &Value, out: &mut Vec<std::net::IpAddr>, depth: usize) {
    if depth > 5 {
        return;
    }
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                if k.eq_ignore_ascii_case("remoteIpDetails") {
                    let ip = gs(child, "ipAddressV4")
                        .or_else(|| gs(child, "ipAddressV6"))
                        .and_then(ip_of);
                    if let Some(ip) = ip {
                        if !out.contains(&ip) {
                            out.push(ip);
                        }
                    }
                } else {
                    remote_ips(child, out, depth + 1);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| remote_ips(x, out, depth + 1)),
        _ => {}
    }
}

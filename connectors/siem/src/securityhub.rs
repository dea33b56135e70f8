//! AWS Security Hub findings in ASFF.
//!
//! Accepted shapes:
//! - one ASFF finding (`SchemaVersion`, `Id`, `ProductArn`, `Resources`, …);
//! - the EventBridge events "Security Hub Findings - Imported" and "Security Hub Findings -
//!   Custom Action" (`detail.findings[]`), also without `detail-type` when `detail.findings`
//!   holds ASFF (`../shared/cases` C5);
//! - the GetFindings API response `{Findings: [...]}` (also inside an SDK recording
//!   `{status_code, data}`, unwrapped by the dispatcher);
//! - "Security Hub Insight Results": recognised and rejected as `NotAnAlert` (counts, no finding).
//!
//! `source_id` is `ProductArn + "/" + Id` and `source_updated` the finding's `UpdatedAt`, so the
//! same finding delivered twice (member and admin account, different envelope ids) has one
//! `dedup_key()` (`../shared/cases` C6).
//!
//! Roles: a posture/compliance finding (a `Compliance` block, or a type under "Software and
//! Configuration Checks") states every resource `Related` (a misconfigured bucket is not attacker
//! controlled). Otherwise a resource's `ResourceRole` (`Actor` → `Compromised`, `Target` →
//! `Victim`) is used; GuardDuty findings relayed through Security Hub follow the GuardDuty rules
//! (credential `Compromised`; instance by `resourceRole`); anything else is unstated. A remote IP
//! in `Action` (or GuardDuty's `ProductFields`) is `Attacker` when the resource is the target.

use crate::util::*;
use cordon_core::entity::{AwsPrincipalEntity, ContextKind, DeviceEntity, Role};
use cordon_core::ids::{AccessKeyId, AwsAccountId, AwsArn, CloudResourceId};
use cordon_core::{Alert, AlertEntity, AlertSource, Entity, ParseError, Severity, Source};
use serde_json::Value;

const FORMAT: &str = "securityhub";

/// The Security Hub parser.
pub struct SecurityHub;

pub(crate) fn looks_like_asff(v: &Value) -> bool {
    v.as_object().is_some_and(|o| {
        o.contains_key("ProductArn")
            && o.contains_key("Id")
            && (o.contains_key("Resources") || o.contains_key("SchemaVersion"))
    })
}

enum Shape<'a> {
    Findings(&'a [Value]),
    One(&'a Value),
    Insight(&'a Value),
}

fn shape(v: &Value) -> Option<Shape<'_>> {
    let o = v.as_object()?;
    if let Some(detail) = o.get("detail") {
        let dt = o.get("detail-type").and_then(Value::as_str).unwrap_or("");
        if dt == "Security Hub Insight Results" || detail.get("insightResults").is_some() {
            return Some(Shape::Insight(detail));
        }
        if let Some(Value::Array(list)) = detail.get("findings") {
            if dt.starts_with("Security Hub Findings")
                || o.get("source").and_then(Value::as_str) == Some("aws.securityhub")
                || list.first().is_some_and(looks_like_asff)
            {
                return Some(Shape::Findings(list));
            }
        }
        return None;
    }
    if looks_like_asff(v) {
        return Some(Shape::One(v));
    }
    if let Some(Value::Array(list)) = o.get("Findings") {
        if list.is_empty() || list.first().is_some_and(looks_like_asff) {
            return Some(Shape::Findings(list));
        }
    }
    None
}

impl AlertSource for SecurityHub {
    fn name(&self) -> &'static str {
        FORMAT
    }

    fn recognises(&self, payload: &Value) -> bool {
        shape(payload).is_some()
    }

    fn parse(&self, payload: &Value) -> Result<Vec<Alert>, ParseError> {
        match shape(payload) {
            Some(Shape::One(f)) => parse_finding(f).map(|a| vec![a]),
            Some(Shape::Findings([])) => Err(ParseError::NotAnAlert {
                what: "a Security Hub findings list with no findings".into(),
            }),
            Some(Shape::Findings(list)) => list.iter().map(parse_finding).collect(),
            Some(Shape::Insight(d)) => Err(ParseError::NotAnAlert {
                what: format!(
                    "a Security Hub insight result ({:?}: aggregated counts per {}, no findings)",
                    gs(d, "insightName").unwrap_or("unnamed insight"),
                    gs(d, "resultType").unwrap_or("group")
                ),
            }),
            None => Err(ParseError::Unrecognised {
                detail: "not a Security Hub finding".into(),
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

/// A GuardDuty type as Security Hub writes it in `Types` (`…/Recon:IAMUser-UserPermissions`) back
/// in GuardDuty's form (`Recon:IAMUser/UserPermissions`), so one role table serves both.
fn guardduty_type(types: &[String]) -> Option<String> {
    let last = types.iter().rev().find_map(|t| {
        let seg = t.rsplit('/').next()?;
        seg.contains(':').then_some(seg)
    })?;
    let (purpose, rest) = last.split_once(':')?;
    Some(match rest.split_once('-') {
        Some((res, name)) => format!("{purpose}:{res}/{name}"),
        None => last.to_string(),
    })
}

fn parse_finding(f: &Value) -> Result<Alert, ParseError> {
    let id = f
        .get("Id")
        .and_then(|v| str_of(Some(v)))
        .ok_or_else(|| invalid("finding has no Id"))?;
    let product = f
        .get("ProductArn")
        .and_then(|v| str_of(Some(v)))
        .ok_or_else(|| invalid("finding has no ProductArn"))?;
    let mut a = blank(Source::SecurityHub, format!("{product}/{id}"));
    a.source_updated = time_of(f.get("UpdatedAt"));
    let types = string_list(
        f.get("Types")
            .or_else(|| path(f, &["FindingProviderFields", "Types"])),
    );
    let is_guardduty = product.ends_with("/aws/guardduty");
    let compliance = f.get("Compliance").is_some_and(|c| !c.is_null())
        || types
            .iter()
            .any(|t| t.starts_with("Software and Configuration Checks"));
    let generator = gs(f, "GeneratorId").unwrap_or("");
    let pf = f.get("ProductFields").unwrap_or(&Value::Null);
    let gd_type = if is_guardduty {
        guardduty_type(&types)
    } else {
        None
    };
    a.alert_type = gd_type
        .clone()
        .or_else(|| gs(pf, "ControlId").map(str::to_string))
        .or_else(|| gs(pf, "RuleId").map(|r| format!("CIS {r}")))
        .or_else(|| types.first().cloned())
        .unwrap_or_else(|| generator.to_string());
    a.detector_id = match &gd_type {
        Some(t) => format!("securityhub:guardduty:{t}"),
        None => format!(
            "securityhub:{}",
            if generator.is_empty() {
                &a.alert_type
            } else {
                generator
            }
        ),
    };
    a.title = gs(f, "Title").unwrap_or("").to_string();
    a.detector_name = gs(pf, "ControlId")
        .map(|c| format!("{c} {}", a.title))
        .unwrap_or_else(|| a.title.clone());
    let sev = f
        .get("Severity")
        .or_else(|| path(f, &["FindingProviderFields", "Severity"]));
    a.severity = sev
        .and_then(|s| {
            severity_of(s.get("Label")).or_else(|| f64_of(s.get("Normalized")).map(severity_0_100))
        })
        .unwrap_or(Severity::Medium);
    for t in &types {
        // "TTPs/Initial Access/…" namespaces carry the MITRE tactic.
        if let Some(rest) = t.strip_prefix("TTPs/") {
            if let Some(tac) = tactic(rest.split('/').next().unwrap_or("")) {
                push_unique(&mut a.tactics, tac.to_string());
            }
        }
    }
    if let Some(t) = gd_type
        .as_deref()
        .and_then(crate::guardduty::tactic_of_type)
    {
        push_unique(&mut a.tactics, t.to_string());
    }
    a.first_activity = time_of(f.get("FirstObservedAt")).or_else(|| time_of(f.get("CreatedAt")));
    a.last_activity = time_of(f.get("LastObservedAt"));
    let account_raw = gs(f, "AwsAccountId");
    let account = account_raw.and_then(|s| AwsAccountId::parse(s).ok());
    a.tenant = account_raw.map(str::to_string);

    // Older findings say `resourceRole`; current ones `aws/guardduty/service/resourceRole`.
    let gd_role = gs(pf, "resourceRole")
        .or_else(|| gs(pf, "aws/guardduty/service/resourceRole"))
        .map(str::to_ascii_uppercase);
    let resources = f
        .get("Resources")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut any_target = gd_role.as_deref() == Some("TARGET");
    for r in resources {
        let rrole = gs(r, "ResourceRole").map(str::to_ascii_lowercase);
        any_target |= rrole.as_deref() == Some("target");
        let Some(entity) = resource_entity(r, account.as_ref()) else {
            continue;
        };
        let role = if compliance {
            Some(Role::Related)
        } else if let Some(rr) = rrole.as_deref() {
            match rr {
                "actor" => Some(Role::Compromised),
                "target" => Some(Role::Victim),
                other => Role::parse(other),
            }
        } else if is_guardduty {
            match (&entity, gd_role.as_deref()) {
                (Entity::AwsPrincipal(_), _) => Some(Role::Compromised),
                (Entity::Device(_), Some("ACTOR")) => Some(Role::Compromised),
                (Entity::Device(_), Some("TARGET")) => Some(Role::Victim),
                _ => None,
            }
        } else {
            None
        };
        a.entities.push(match role {
            Some(role) => AlertEntity::stated(entity, role),
            None => AlertEntity::unstated(entity),
        });
    }
    let ip = ps(
        f,
        &[
            "Action",
            "AwsApiCallAction",
            "RemoteIpDetails",
            "IpAddressV4",
        ],
    )
    .or_else(|| {
        ps(
            f,
            &[
                "Action",
                "NetworkConnectionAction",
                "RemoteIpDetails",
                "IpAddressV4",
            ],
        )
    })
    .or_else(|| gs(pf, "action/awsApiCallAction/remoteIpDetails/ipAddressV4"))
    .or_else(|| {
        gs(
            pf,
            "action/networkConnectionAction/remoteIpDetails/ipAddressV4",
        )
    });
    if let Some(e) = ip.and_then(ip_entity) {
        a.entities.push(if compliance {
            AlertEntity::stated(e, Role::Related)
        } else if any_target {
            AlertEntity::stated(e, Role::Attacker)
        } else {
            AlertEntity::unstated(e)
        });
    }
    Ok(finish(a))
}

fn resource_entity(r: &Value, account: Option<&AwsAccountId>) -> Option<Entity> {
    let ty = gs(r, "Type").unwrap_or("");
    let rid = gs(r, "Id").unwrap_or("");
    match ty {
        "AwsIamUser" | "AwsIamRole" => {
            if let Ok(arn) = AwsArn::parse(rid) {
                return Some(Entity::AwsPrincipal(AwsPrincipalEntity::from_arn(arn)));
            }
            let name = ps(r, &["Details", "AwsIamUser", "UserName"])
                .or_else(|| ps(r, &["Details", "AwsIamRole", "RoleName"]));
            let kind = if ty == "AwsIamUser" {
                "IAMUser"
            } else {
                "Role"
            };
            AwsPrincipalEntity::from_parts(kind, name, account, None).map(Entity::AwsPrincipal)
        }
        "AwsIamAccessKey" => {
            let d = path(r, &["Details", "AwsIamAccessKey"]).unwrap_or(&Value::Null);
            let key = rid
                .rsplit(':')
                .next()
                .and_then(|k| AccessKeyId::parse(k).ok())
                .or_else(|| gs(d, "AccessKeyId").and_then(|k| AccessKeyId::parse(k).ok()));
            let acct = gs(d, "AccountId").and_then(|s| AwsAccountId::parse(s).ok());
            let acct = acct.as_ref().or(account);
            let user = gs(d, "UserName").or_else(|| gs(d, "PrincipalName"));
            let kind = gs(d, "PrincipalType").unwrap_or("IAMUser");
            // An assumed-role key names its issuer; the session itself is not an IAM user.
            if kind.eq_ignore_ascii_case("AssumedRole") {
                if let Some(issuer) = ps(d, &["SessionContext", "SessionIssuer", "Arn"])
                    .and_then(|s| AwsArn::parse(s).ok())
                {
                    let mut p = AwsPrincipalEntity::from_arn(issuer);
                    p.access_key_id = key;
                    return Some(Entity::AwsPrincipal(p));
                }
            }
            AwsPrincipalEntity::from_parts(kind, user, acct, key).map(Entity::AwsPrincipal)
        }
        "AwsEc2Instance" => {
            let inst = rid.rsplit('/').next().unwrap_or(rid);
            let id = CloudResourceId::parse(inst)
                .or_else(|_| CloudResourceId::parse(rid))
                .ok()?;
            Some(Entity::Device(DeviceEntity {
                cloud_resource_id: Some(id),
                ..DeviceEntity::default()
            }))
        }
        _ if !rid.is_empty() => Some(context(ContextKind::CloudResource, rid)),
        _ => None,
    }
}

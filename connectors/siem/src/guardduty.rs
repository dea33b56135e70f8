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

use crate::fast::{decline, sc, text, view, Key, Lit, Record, Seq};
use crate::util::*;
use cordon_core::entity::{AwsPrincipalEntity, ContextKind, DeviceEntity, Role};
use cordon_core::ids::{AccessKeyId, AwsAccountId, CloudResourceId};
use cordon_core::{Alert, AlertEntity, AlertSource, Entity, ParseError, Severity, Source};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::net::IpAddr;

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
    build_finding(FindingParts::of_value(f))
}

/// What a finding states, read from a `serde_json::Value` or from the fast path's view; turned
/// into an alert by [`build_finding`].
struct FindingParts<'a> {
    /// `id`, else `arn`.
    id: Option<&'a str>,
    ty: Option<&'a str>,
    title: Option<&'a str>,
    severity: Option<Scalar<'a>>,
    updated_at: Option<Scalar<'a>>,
    created_at: Option<Scalar<'a>>,
    account: Option<&'a str>,
    first_seen: Option<Scalar<'a>>,
    last_seen: Option<Scalar<'a>>,
    resource_role: Option<&'a str>,
    /// `resource.accessKeyDetails`, when present (whatever its type).
    access_key: Option<AccessKeyParts<'a>>,
    /// `resource.instanceDetails.instanceId`.
    instance_id: Option<&'a str>,
    /// `resource.s3BucketDetails[].arn` (else `.name`).
    buckets: Vec<&'a str>,
    rds_arn: Option<&'a str>,
    /// The `remoteIpDetails` addresses under `service.action`, in [`remote_ips`] order.
    remote_ips: Cow<'a, [IpAddr]>,
}

struct AccessKeyParts<'a> {
    access_key_id: Option<&'a str>,
    user_type: Option<&'a str>,
    principal_id: Option<&'a str>,
    user_name: Option<&'a str>,
}

impl<'a> FindingParts<'a> {
    fn of_value(f: &'a Value) -> Self {
        let service = get(f, "service").unwrap_or(&Value::Null);
        let resource = get(f, "resource").unwrap_or(&Value::Null);
        let mut ips = Vec::new();
        if let Some(action) = get(service, "action") {
            remote_ips(action, &mut ips, 0);
        }
        FindingParts {
            id: gs(f, "id").or_else(|| gs(f, "arn")),
            ty: gs(f, "type"),
            title: gs(f, "title"),
            severity: f.prop("severity"),
            updated_at: f.prop("updatedAt"),
            created_at: f.prop("createdAt"),
            account: gs(f, "accountId"),
            first_seen: service.prop("eventFirstSeen"),
            last_seen: service.prop("eventLastSeen"),
            resource_role: gs(service, "resourceRole"),
            access_key: get(resource, "accessKeyDetails").map(|akd| AccessKeyParts {
                access_key_id: gs(akd, "accessKeyId"),
                user_type: gs(akd, "userType"),
                principal_id: gs(akd, "principalId"),
                user_name: gs(akd, "userName"),
            }),
            instance_id: get(resource, "instanceDetails").and_then(|i| gs(i, "instanceId")),
            buckets: match get(resource, "s3BucketDetails") {
                Some(Value::Array(list)) => list
                    .iter()
                    .filter_map(|b| gs(b, "arn").or_else(|| gs(b, "name")))
                    .collect(),
                _ => Vec::new(),
            },
            rds_arn: ps(resource, &["rdsDbInstanceDetails", "dbInstanceArn"]),
            remote_ips: Cow::Owned(ips),
        }
    }

    fn of_view(f: &'a Record<'_>) -> Self {
        let service = f.service.as_ref();
        let resource = f.resource.as_ref();
        FindingParts {
            id: text(&f.id).or_else(|| text(&f.arn)),
            ty: text(&f.ty),
            title: text(&f.title),
            severity: sc(&f.severity),
            updated_at: sc(&f.updated_at),
            created_at: sc(&f.created_at),
            account: text(&f.account_id),
            first_seen: service.and_then(|s| sc(&s.event_first_seen)),
            last_seen: service.and_then(|s| sc(&s.event_last_seen)),
            resource_role: service.and_then(|s| text(&s.resource_role)),
            access_key: resource
                .and_then(|r| r.access_key.as_ref())
                .map(|akd| AccessKeyParts {
                    access_key_id: text(&akd.access_key_id),
                    user_type: text(&akd.user_type),
                    principal_id: text(&akd.principal_id),
                    user_name: text(&akd.user_name),
                }),
            instance_id: resource
                .and_then(|r| r.instance.as_ref())
                .and_then(|i| text(&i.instance_id)),
            buckets: match resource
                .and_then(|r| r.buckets.as_ref())
                .and_then(Seq::items)
            {
                Some(list) => list
                    .iter()
                    .filter_map(|b| text(&b.arn).or_else(|| text(&b.name)))
                    .collect(),
                None => Vec::new(),
            },
            rds_arn: resource
                .and_then(|r| r.rds.as_ref())
                .and_then(|r| text(&r.db_instance_arn)),
            remote_ips: Cow::Borrowed(
                service
                    .and_then(|s| s.action.as_ref())
                    .map_or(&[], |a| a.0.as_slice()),
            ),
        }
    }
}

fn build_finding(f: FindingParts<'_>) -> Result<Alert, ParseError> {
    let id =
        f.id.ok_or_else(|| invalid("finding has neither id nor arn".into()))?;
    let ty = f.ty.ok_or_else(|| invalid("finding has no type".into()))?;
    let mut a = blank(Source::GuardDuty, id.to_string());
    a.source_updated = f
        .updated_at
        .and_then(Scalar::time)
        .or_else(|| f.created_at.and_then(Scalar::time));
    a.detector_id = format!("guardduty:{ty}");
    a.detector_name = ty.to_string();
    a.alert_type = ty.to_string();
    a.title = f.title.unwrap_or(ty).to_string();
    a.severity = f
        .severity
        .and_then(Scalar::f64)
        .map(Severity::from_guardduty)
        .unwrap_or(Severity::Medium);
    a.tactics = tactic_of_type(ty)
        .map(|t| vec![t.to_string()])
        .unwrap_or_default();
    let account = f.account.and_then(|s| AwsAccountId::parse(s).ok());
    a.tenant = f.account.map(str::to_string);

    a.first_activity = f.first_seen.and_then(Scalar::time);
    a.last_activity = f.last_seen.and_then(Scalar::time);
    a.entities = Vec::with_capacity(
        usize::from(f.access_key.is_some())
            + usize::from(f.instance_id.is_some())
            + f.buckets.len()
            + usize::from(f.rds_arn.is_some())
            + f.remote_ips.len(),
    );
    let (target, actor) = match f.resource_role {
        Some(r) if r.eq_ignore_ascii_case("TARGET") => (true, false),
        Some(r) if r.eq_ignore_ascii_case("ACTOR") => (false, true),
        _ => (false, false),
    };

    if let Some(akd) = f.access_key {
        let key = akd.access_key_id.and_then(|k| AccessKeyId::parse(k).ok());
        let user_type = akd.user_type.unwrap_or("");
        // For an assumed role GuardDuty puts the role name in userName and
        // `<role id>:<session name>` in principalId; the session name (for IAM Identity Center
        // the person's e-mail) is what links it to the person.
        let session = akd
            .principal_id
            .and_then(|p| p.split_once(':'))
            .map(|(_, s)| s)
            .filter(|s| !s.is_empty());
        let user_name = match (
            user_type.eq_ignore_ascii_case("AssumedRole"),
            akd.user_name,
            session,
        ) {
            (true, Some(role), Some(session)) if !role.contains('/') => {
                Some(format!("{role}/{session}"))
            }
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
    if let Some(id) = f.instance_id.and_then(|i| CloudResourceId::parse(i).ok()) {
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
    for r in f.buckets.into_iter().chain(f.rds_arn) {
        a.entities.push(AlertEntity::unstated(context(
            ContextKind::CloudResource,
            r,
        )));
    }
    for &ip in f.remote_ips.iter() {
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

const REMOTE_IP_DETAILS: &str = "remoteIpDetails";
/// How deep under `service.action` remote IPs are looked for.
const REMOTE_IP_DEPTH: usize = 5;

fn remote_ip(v4: Option<&str>, v6: Option<&str>) -> Option<IpAddr> {
    v4.or(v6).and_then(ip_of)
}

/// Every `remoteIpDetails.ipAddressV4` (or V6) under the action, whatever the action type, in
/// the order of a depth-first walk with object keys sorted (`serde_json::Map` order).
fn remote_ips(v: &Value, out: &mut Vec<IpAddr>, depth: usize) {
    if depth > REMOTE_IP_DEPTH {
        return;
    }
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                if k.eq_ignore_ascii_case(REMOTE_IP_DETAILS) {
                    let ip = remote_ip(gs(child, "ipAddressV4"), gs(child, "ipAddressV6"));
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

// ---------------------------------------------------------------------------------------------
// Fast path (see `crate::fast`)

/// The alert of a finding read by the fast path, or `None` where it declines: the finding is
/// not an object, or the payload may hold a template placeholder (`${…}`, also escaped).
pub(crate) fn parse_finding_fast(
    f: &Record<'_>,
    text: &str,
) -> Option<Result<Vec<Alert>, ParseError>> {
    if !f.meta.is_object || may_hold_placeholder(text) {
        return None;
    }
    Some(build_finding(FindingParts::of_view(f)).map(|a| vec![a]))
}

/// Whether the text may hold `${` (also written with `\\u` escapes) anywhere.
fn may_hold_placeholder(text: &str) -> bool {
    let b = text.as_bytes();
    memchr::memchr2_iter(b'$', b'\\', b).any(|i| match b[i] {
        b'$' => b.get(i + 1) == Some(&b'{'),
        _ => matches!(b.get(i + 1..i + 6), Some(b"u0024" | b"u007b" | b"u007B")),
    })
}

view! {
    pub(crate) struct ResourceView<'de> {
        "accessKeyDetails" => access_key: AccessKeyView<'de>,
        "instanceDetails" => instance: InstanceView<'de>,
        "s3BucketDetails" => buckets: Seq<BucketView<'de>>,
        "rdsDbInstanceDetails" => rds: RdsView<'de>,
    }
}

view! {
    pub(crate) struct AccessKeyView<'de> {
        "accessKeyId" => access_key_id: Lit<'de>,
        "userType" => user_type: Lit<'de>,
        "principalId" => principal_id: Lit<'de>,
        "userName" => user_name: Lit<'de>,
    }
}

view! {
    pub(crate) struct InstanceView<'de> {
        "instanceId" => instance_id: Lit<'de>,
    }
}

view! {
    pub(crate) struct BucketView<'de> {
        "arn" => arn: Lit<'de>,
        "name" => name: Lit<'de>,
    }
}

view! {
    pub(crate) struct RdsView<'de> {
        "dbInstanceArn" => db_instance_arn: Lit<'de>,
    }
}

view! {
    pub(crate) struct ServiceView<'de> {
        "eventFirstSeen" => event_first_seen: Lit<'de>,
        "eventLastSeen" => event_last_seen: Lit<'de>,
        "resourceRole" => resource_role: Lit<'de>,
        "action" => action: RemoteIps,
    }
}

view! {
    pub(crate) struct RemoteIpView<'de> {
        "ipAddressV4" => v4: Lit<'de>,
        "ipAddressV6" => v6: Lit<'de>,
    }
}

/// The remote IPs under `service.action`, found while reading it, in [`remote_ips`] order.
#[derive(Debug, Default)]
pub(crate) struct RemoteIps(Vec<IpAddr>);

impl crate::fast::Node for RemoteIps {
    fn asc_entity(&self) -> bool {
        false // only ever read below the top level
    }
}

/// One step of the path to a value: a key, or an index in an array.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step<'de> {
    Key(&'de str),
    Index(usize),
}

/// The longest path walked: `REMOTE_IP_DEPTH + 1` containers, then the `remoteIpDetails` key.
const MAX_PATH: usize = REMOTE_IP_DEPTH + 2;
/// Objects with more keys than this, keys with escapes, or more addresses than [`MAX_FOUND`],
/// make the walk decline (kept on the stack; none of them occurs in findings seen so far).
const MAX_KEYS: usize = 16;
const MAX_FOUND: usize = 8;

type Path<'de> = ([Step<'de>; MAX_PATH], usize);

struct IpWalk<'de> {
    path: Path<'de>,
    found: [(Path<'de>, IpAddr); MAX_FOUND],
    found_len: usize,
}

struct IpWalkSeed<'w, 'de> {
    walk: &'w mut IpWalk<'de>,
    depth: usize,
}

impl<'de> serde::Deserialize<'de> for RemoteIps {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let empty: Path = ([Step::Index(0); MAX_PATH], 0);
        let mut walk = IpWalk {
            path: empty,
            found: [(empty, IpAddr::from([0, 0, 0, 0])); MAX_FOUND],
            found_len: 0,
        };
        IpWalkSeed {
            walk: &mut walk,
            depth: 0,
        }
        .deserialize(d)?;
        let found = &mut walk.found[..walk.found_len];
        // The `Value` walk visits keys in sorted order: sorting the paths gives its order.
        found.sort_by(|a, b| a.0 .0[..a.0 .1].cmp(&b.0 .0[..b.0 .1]));
        let mut ips = Vec::with_capacity(found.len());
        for &(_, ip) in found.iter() {
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
        Ok(RemoteIps(ips))
    }
}

impl<'de> DeserializeSeed<'de> for IpWalkSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.depth > REMOTE_IP_DEPTH {
            return serde::Deserialize::deserialize(d).map(|IgnoredAny| ());
        }
        d.deserialize_any(self)
    }
}

impl<'de> IpWalkSeed<'_, 'de> {
    fn push<E: de::Error>(&mut self, step: Step<'de>) -> Result<(), E> {
        let (steps, len) = &mut self.walk.path;
        *steps.get_mut(*len).ok_or_else(|| decline("a deep path"))? = step;
        *len += 1;
        Ok(())
    }

    fn child(&mut self) -> IpWalkSeed<'_, 'de> {
        IpWalkSeed {
            walk: self.walk,
            depth: self.depth + 1,
        }
    }
}

impl<'de> Visitor<'de> for IpWalkSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        for i in 0.. {
            self.push(Step::Index(i))?;
            let more = seq.next_element_seed(self.child())?.is_some();
            self.walk.path.1 -= 1;
            if !more {
                break;
            }
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        // A repeated key keeps only its last value in a `Map`: decline on one.
        let mut siblings = [""; MAX_KEYS];
        let mut n = 0;
        while let Some(Key(key)) = map.next_key()? {
            let Cow::Borrowed(key) = key else {
                return Err(decline("a key with escapes under service.action"));
            };
            if siblings[..n].contains(&key) {
                return Err(decline("a repeated key under service.action"));
            }
            *siblings
                .get_mut(n)
                .ok_or_else(|| decline("many keys under service.action"))? = key;
            n += 1;
            self.push(Step::Key(key))?;
            if key.eq_ignore_ascii_case(REMOTE_IP_DETAILS) {
                let r: RemoteIpView = map.next_value()?;
                if let Some(ip) = remote_ip(text(&r.v4), text(&r.v6)) {
                    let slot = self
                        .walk
                        .found
                        .get_mut(self.walk.found_len)
                        .ok_or_else(|| decline("many remote IPs"))?;
                    *slot = (self.walk.path, ip);
                    self.walk.found_len += 1;
                }
            } else {
                map.next_value_seed(self.child())?;
            }
            self.walk.path.1 -= 1;
        }
        Ok(())
    }
}

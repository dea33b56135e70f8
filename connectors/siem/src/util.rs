//! Small helpers shared by the parsers: tolerant field access (camelCase, PascalCase and
//! lower-cased keys), timestamps in the shapes vendors print them, severities, MITRE tactic and
//! technique normalization, entity builders and stable hashes. No allocation on the hot path
//! unless a value is actually produced.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use cordon_core::entity::{ContextKind, Directory, UserEntity};
use cordon_core::ids::{ObjectId, SamAccount, Sid, Upn};
use cordon_core::{AlertEntity, Entity, Severity};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::net::IpAddr;

/// `obj[key]`, falling back to a case-insensitive match on the key (PascalCase GetFindings
/// output, Panther's lower-cased Okta keys). The exact key is tried first, so the common case
/// costs one map lookup.
pub(crate) fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    if let Some(x) = obj.get(key) {
        return Some(x);
    }
    get_ci(obj, key)
}

fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// A path of keys, each matched as in [`get`].
pub(crate) fn path<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(v, |cur, k| get(cur, k))
}

/// A JSON scalar as the parsers read it, borrowed from a `serde_json::Value` or from the typed
/// fast path ([`crate::fast`]), so both read values through the same functions. Containers are
/// only told apart from scalars (a parser that wants a string and gets an object gets nothing).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    Num(&'a serde_json::Number),
    Str(&'a str),
    Array,
    Object,
}

impl<'a> From<&'a Value> for Scalar<'a> {
    fn from(v: &'a Value) -> Self {
        match v {
            Value::Null => Scalar::Null,
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Number(n) => Scalar::Num(n),
            Value::String(s) => Scalar::Str(s),
            Value::Array(_) => Scalar::Array,
            Value::Object(_) => Scalar::Object,
        }
    }
}

impl<'a> Scalar<'a> {
    /// A non-empty, trimmed string (`null`, `""`, `"null"`, `"None"` are treated as absent).
    pub(crate) fn text(self) -> Option<&'a str> {
        match self {
            Scalar::Str(s) => {
                let t = s.trim();
                if t.is_empty() || t == "null" || t == "None" || t == "N/A" {
                    None
                } else {
                    Some(t)
                }
            }
            _ => None,
        }
    }

    /// A string or a number, as text (ids that are sometimes numbers: `incidentId: 924518`).
    pub(crate) fn text_owned(self) -> Option<String> {
        match self {
            Scalar::Str(_) => self.text().map(str::to_string),
            Scalar::Num(n) => Some(n.to_string()),
            _ => None,
        }
    }

    pub(crate) fn f64(self) -> Option<f64> {
        match self {
            Scalar::Num(n) => n.as_f64(),
            Scalar::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub(crate) fn bool(self) -> Option<bool> {
        match self {
            Scalar::Bool(b) => Some(b),
            Scalar::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Scalar::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// See [`time_of`].
    pub(crate) fn time(self) -> Option<DateTime<Utc>> {
        match self {
            Scalar::Str(s) => parse_time(s),
            Scalar::Num(n) => epoch(n.as_f64()?),
            _ => None,
        }
    }

    /// See [`severity_of`].
    pub(crate) fn severity(self) -> Option<Severity> {
        match self {
            Scalar::Str(s) => {
                Severity::parse(s).or_else(|| s.trim().parse::<f64>().ok().map(severity_0_100))
            }
            Scalar::Num(n) => n.as_f64().map(severity_0_100),
            _ => None,
        }
    }
}

/// Named fields of an object, looked up as [`get`] does. Lets entity mapping read a
/// `serde_json::Value` and the fast path's [`crate::fast::Bag`] alike.
pub(crate) trait Props {
    fn prop(&self, key: &str) -> Option<Scalar<'_>>;

    /// The field as a non-empty string ([`Scalar::text`]).
    fn text(&self, key: &str) -> Option<&str> {
        self.prop(key).and_then(Scalar::text)
    }
}

impl Props for Value {
    fn prop(&self, key: &str) -> Option<Scalar<'_>> {
        get(self, key).map(Scalar::from)
    }
}

/// A non-empty, trimmed string (`null`, `""`, `"null"`, `"None"` are treated as absent).
pub(crate) fn str_of(v: Option<&Value>) -> Option<&str> {
    v.map(Scalar::from).and_then(Scalar::text)
}

pub(crate) fn gs<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    str_of(get(v, key))
}

pub(crate) fn ps<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a str> {
    str_of(path(v, keys))
}

/// A string or a number, as text (ids that are sometimes numbers: `incidentId: 924518`).
pub(crate) fn text_of(v: Option<&Value>) -> Option<String> {
    v.map(Scalar::from).and_then(Scalar::text_owned)
}

pub(crate) fn f64_of(v: Option<&Value>) -> Option<f64> {
    v.map(Scalar::from).and_then(Scalar::f64)
}

/// String items of an array, a JSON-array string or a comma-separated string.
pub(crate) fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| str_of(Some(x)))
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) => split_list(s),
        _ => Vec::new(),
    }
}

/// The items of a list given as one string: a JSON array or comma-separated.
pub(crate) fn split_list(s: &str) -> Vec<String> {
    let t = s.trim();
    if t.starts_with('[') {
        return string_list(serde_json::from_str::<Value>(t).ok().as_ref());
    }
    t.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Time

/// Parses the timestamp shapes seen in the corpus: RFC 3339 (`2022-06-02T09:52:00.5643443Z`),
/// space-separated with or without offset (`2023-03-22 07:27:56.188461+00:00`,
/// `2025-04-11 20:51:04.058183200` — taken as UTC), and epoch seconds or milliseconds (numbers or
/// digit strings).
pub(crate) fn time_of(v: Option<&Value>) -> Option<DateTime<Utc>> {
    v.map(Scalar::from).and_then(Scalar::time)
}

pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.len() < 4 {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if s.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return epoch(s.parse().ok()?);
    }
    let t = s.replacen(' ', "T", 1);
    if let Ok(t) = DateTime::parse_from_rfc3339(&t) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(&t, fmt) {
            return Some(Utc.from_utc_datetime(&n));
        }
        if let Ok(d) = DateTime::parse_from_str(&t, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    None
}

fn epoch(x: f64) -> Option<DateTime<Utc>> {
    if !x.is_finite() || x <= 0.0 {
        return None;
    }
    let millis = if x > 1e11 { x } else { x * 1000.0 };
    if millis > 32_503_680_000_000.0 {
        return None; // beyond year 3000: not a timestamp
    }
    DateTime::from_timestamp_millis(millis as i64)
}

// ---------------------------------------------------------------------------------------------
// Severity

/// A severity name, or a number on a 0–100 scale (Log Analytics connectors map High to 100,
/// Medium to 50; Security Hub `Normalized`).
pub(crate) fn severity_of(v: Option<&Value>) -> Option<Severity> {
    v.map(Scalar::from).and_then(Scalar::severity)
}

/// 0–100 scale, as Security Hub documents `Severity.Normalized`.
pub(crate) fn severity_0_100(x: f64) -> Severity {
    match x {
        x if x >= 90.0 => Severity::Critical,
        x if x >= 70.0 => Severity::High,
        x if x >= 40.0 => Severity::Medium,
        x if x >= 1.0 => Severity::Low,
        _ => Severity::Informational,
    }
}

// ---------------------------------------------------------------------------------------------
// MITRE

const TACTICS: &[(&str, &str)] = &[
    ("reconnaissance", "Reconnaissance"),
    ("ta0043", "Reconnaissance"),
    ("resourcedevelopment", "ResourceDevelopment"),
    ("ta0042", "ResourceDevelopment"),
    ("initialaccess", "InitialAccess"),
    ("ta0001", "InitialAccess"),
    ("execution", "Execution"),
    ("ta0002", "Execution"),
    ("persistence", "Persistence"),
    ("ta0003", "Persistence"),
    ("privilegeescalation", "PrivilegeEscalation"),
    ("ta0004", "PrivilegeEscalation"),
    ("defenseevasion", "DefenseEvasion"),
    ("defenceevasion", "DefenseEvasion"),
    ("ta0005", "DefenseEvasion"),
    ("credentialaccess", "CredentialAccess"),
    ("ta0006", "CredentialAccess"),
    ("discovery", "Discovery"),
    ("ta0007", "Discovery"),
    ("lateralmovement", "LateralMovement"),
    ("ta0008", "LateralMovement"),
    ("collection", "Collection"),
    ("ta0009", "Collection"),
    ("exfiltration", "Exfiltration"),
    ("ta0010", "Exfiltration"),
    ("commandandcontrol", "CommandAndControl"),
    ("ta0011", "CommandAndControl"),
    ("impact", "Impact"),
    ("ta0040", "Impact"),
    ("preattack", "PreAttack"),
    ("impairprocesscontrol", "ImpairProcessControl"),
    ("inhibitresponsefunction", "InhibitResponseFunction"),
];

/// Normalizes a MITRE tactic name or id (`Defense Evasion`, `defense_evasion`, `TA0005`) to the
/// CamelCase name Sentinel and Defender use.
pub(crate) fn tactic(s: &str) -> Option<&'static str> {
    let mut key = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c.to_ascii_lowercase());
        }
    }
    TACTICS.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Tactics from a list or a comma-separated string; unknown names are kept as given (Sentinel
/// and Defender names are already normalized; nothing is lost).
pub(crate) fn tactics_of(v: Option<&Value>) -> Vec<String> {
    tactics_in(string_list(v))
}

/// [`tactics_of`] for a list already split.
pub(crate) fn tactics_in(list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in list {
        let t = tactic(&t).map(str::to_string).unwrap_or(t);
        push_unique(&mut out, t);
    }
    out
}

/// Every MITRE technique id (`T1078`, `T1218.011`) found in the text.
pub(crate) fn techniques_in(s: &str, out: &mut Vec<String>) {
    let b = s.as_bytes();
    let mut i = 0;
    while i + 5 <= b.len() {
        let boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if boundary
            && (b[i] == b'T' || b[i] == b't')
            && b[i + 1..i + 5].iter().all(u8::is_ascii_digit)
        {
            let mut end = i + 5;
            if end + 4 <= b.len()
                && b[end] == b'.'
                && b[end + 1..end + 4].iter().all(u8::is_ascii_digit)
            {
                end += 4;
            }
            if end == b.len() || !b[end].is_ascii_alphanumeric() {
                push_unique(out, format!("T{}", &s[i + 1..end]));
                i = end;
                continue;
            }
        }
        i += 1;
    }
}

pub(crate) fn techniques_of(v: Option<&Value>) -> Vec<String> {
    techniques_in_list(&string_list(v))
}

/// [`techniques_of`] for a list already split.
pub(crate) fn techniques_in_list(list: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for t in list {
        techniques_in(t, &mut out);
    }
    out
}

pub(crate) fn push_unique(out: &mut Vec<String>, s: String) {
    if !out.contains(&s) {
        out.push(s);
    }
}

// ---------------------------------------------------------------------------------------------
// Entities

/// The account parts sources give, in any combination (`../shared/cases` C1).
#[derive(Default)]
pub(crate) struct AccountParts<'a> {
    pub name: Option<&'a str>,
    pub upn_suffix: Option<&'a str>,
    pub upn: Option<&'a str>,
    pub aad_user_id: Option<&'a str>,
    pub object_guid: Option<&'a str>,
    pub sid: Option<&'a str>,
    pub nt_domain: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub is_domain_joined: Option<bool>,
}

/// Builds a user from whatever identifiers validate. Every identifier that parses is set, so
/// `UserEntity::resolve` can apply the fixed order (AadUserId → object GUID → UPN → SID →
/// `NTDomain\Name`). A bare name with nothing else stays as `name` only (never acted on).
pub(crate) fn user_from(p: &AccountParts<'_>) -> Option<UserEntity> {
    let mut u = UserEntity {
        object_id: p.aad_user_id.and_then(|s| ObjectId::parse(s).ok()),
        ad_object_guid: p.object_guid.and_then(|s| ObjectId::parse(s).ok()),
        sid: p.sid.and_then(|s| Sid::parse(s).ok()),
        email: p.email.and_then(|s| Upn::parse(s).ok()),
        display_name: p.display_name.map(str::to_string),
        ..UserEntity::default()
    };
    let name = match p
        .name
        .map(|n| cordon_core::ids::unwrap_scalar(n, "account name"))
    {
        Some(Ok(n)) => Some(n),
        // Several values in one name: no identity is picked, but the account stays visible
        // (unresolved, for a person to look at) instead of vanishing.
        Some(Err(cordon_core::ids::IdError::Several { .. })) => {
            u.name = p.name.map(|n| n.trim().to_string());
            None
        }
        _ => None,
    };
    u.upn = p.upn.and_then(|s| Upn::parse(s).ok());
    if u.upn.is_none() {
        if let Some(n) = name.as_deref() {
            if n.contains('@') {
                u.upn = Upn::parse(n).ok();
            } else if let Some(suffix) = p.upn_suffix {
                u.upn = Upn::parse(&format!("{n}@{suffix}")).ok();
            }
        }
    }
    if let (Some(d), Some(n)) = (p.nt_domain, name.as_deref()) {
        if !n.contains('@') {
            u.sam = SamAccount::from_parts(d, n).ok();
        }
    }
    if let Some(n) = name {
        if !n.contains('@') {
            u.name = Some(n);
        }
    }
    u.directory = Some(if u.object_id.is_some() {
        Directory::Entra
    } else if p.is_domain_joined == Some(false) && (u.sid.is_some() || u.sam.is_some()) {
        // A local account on one machine: no directory can contain it.
        Directory::Unknown
    } else if u.sid.is_some() || u.sam.is_some() || u.ad_object_guid.is_some() {
        Directory::ActiveDirectory
    } else if u.upn.is_some() {
        Directory::Entra
    } else {
        Directory::Unknown
    });
    if u.is_empty() {
        return None;
    }
    Some(u)
}

pub(crate) fn ip_of(s: &str) -> Option<IpAddr> {
    // A plain address is what `unwrap_scalar` would return as is: skip its copy.
    if let Ok(ip) = s.trim().parse() {
        return Some(ip);
    }
    let t = cordon_core::ids::unwrap_scalar(s, "IP").ok()?;
    t.parse().ok()
}

pub(crate) fn ip_entity(s: &str) -> Option<Entity> {
    ip_of(s).map(|address| Entity::Ip { address })
}

pub(crate) fn context(kind: ContextKind, value: &str) -> Entity {
    Entity::Context {
        kind,
        value: value.to_string(),
    }
}

/// Removes repeated mentions of one entity, keeping the first (the stated role, if any, wins
/// over an unstated mention of the same entity).
pub(crate) fn dedup(mut v: Vec<AlertEntity>) -> Vec<AlertEntity> {
    if v.len() > 1 {
        v.sort_by_key(|e| !e.role_from_source);
        let mut kept = 0;
        for i in 0..v.len() {
            if !v[..kept].iter().any(|o| o.entity == v[i].entity) {
                v.swap(kept, i);
                kept += 1;
            }
        }
        v.truncate(kept);
    }
    // Alerts are kept (correlation holds them): no spare room.
    v.shrink_to_fit();
    v
}

// ---------------------------------------------------------------------------------------------
// Identity

/// A stable id for a payload that carries none: SHA-256 of its canonical JSON (object keys
/// sorted), first 16 bytes in hex.
pub(crate) fn stable_hash(v: &Value) -> String {
    let canonical = serde_json::to_string(v).unwrap_or_default();
    let digest = Sha256::digest(canonical.as_bytes());
    hex::encode(&digest[..16])
}

/// The first string inside `v` (depth-first) that is an unrendered template placeholder
/// (`${role_name}`), with where it was. Used on identity-bearing parts of a payload only, so a
/// command line holding `${jndi:…}` in an alert is never mistaken for a template.
pub(crate) fn placeholder(v: &Value, at: &str) -> Option<(String, String)> {
    // Cheap scan first (no allocation); the path is only built for a payload that has one.
    if !has_dollar_brace(v, 0) {
        return None;
    }
    placeholder_at(v, at)
}

fn has_dollar_brace(v: &Value, depth: usize) -> bool {
    match v {
        Value::String(s) => s.contains("${"),
        Value::Object(o) if depth < 64 => o.values().any(|x| has_dollar_brace(x, depth + 1)),
        Value::Array(a) if depth < 64 => a.iter().any(|x| has_dollar_brace(x, depth + 1)),
        _ => false,
    }
}

fn placeholder_at(v: &Value, at: &str) -> Option<(String, String)> {
    if at.len() > 4096 {
        return None; // absurdly deep: not a template a person wrote
    }
    match v {
        Value::String(s) => {
            let start = s.find("${")?;
            let rest = &s[start + 2..];
            let end = rest.find('}')?;
            let name = &rest[..end];
            let ident =
                !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
            ident.then(|| (at.to_string(), format!("${{{name}}}")))
        }
        Value::Object(o) => o
            .iter()
            .find_map(|(k, x)| placeholder_at(x, &format!("{at}.{k}"))),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| placeholder_at(x, &format!("{at}[{i}]"))),
        _ => None,
    }
}

/// A blank alert to fill in; coverage is decided by [`finish`] unless the parser set it.
pub(crate) fn blank(source: cordon_core::Source, source_id: String) -> cordon_core::Alert {
    cordon_core::Alert {
        source,
        source_id,
        source_updated: None,
        detector_id: String::new(),
        detector_name: String::new(),
        alert_type: String::new(),
        title: String::new(),
        severity: Severity::Medium,
        tactics: Vec::new(),
        techniques: Vec::new(),
        first_activity: None,
        last_activity: None,
        entities: Vec::new(),
        coverage: cordon_core::Coverage::Complete,
        tenant: None,
        parent_incident: None,
    }
}

/// Deduplicates the entities and marks an alert without any as `Coverage::Missing`
/// (`../shared/cases` C3: never "nothing to contain").
pub(crate) fn finish(mut a: cordon_core::Alert) -> cordon_core::Alert {
    a.entities = dedup(std::mem::take(&mut a.entities));
    if a.entities.is_empty() {
        a.coverage = cordon_core::Coverage::Missing;
    }
    if a.title.is_empty() {
        a.title = if a.detector_name.is_empty() {
            a.alert_type.clone()
        } else {
            a.detector_name.clone()
        };
    }
    if a.detector_name.is_empty() {
        a.detector_name = a.title.clone();
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        for s in [
            "2022-06-02T09:52:00.5643443Z",
            "2023-03-22 07:27:56.188461+00:00",
            "2025-04-11 20:51:04.058183200",
            "2024-05-24 13:17:15.000000000",
            "2022-11-22 18:48:49.177",
            "1483557272",
        ] {
            assert!(parse_time(s).is_some(), "{s}");
        }
        assert!(parse_time("None").is_none());
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn technique_ids() {
        let mut v = Vec::new();
        techniques_in(
            "[\"System Binary Proxy Execution (T1218)\",\"Rundll32 (T1218.011)\"] XT1234",
            &mut v,
        );
        assert_eq!(v, ["T1218", "T1218.011"]);
    }

    #[test]
    fn tactic_names() {
        assert_eq!(tactic("Defense Evasion"), Some("DefenseEvasion"));
        assert_eq!(tactic("TA0040"), Some("Impact"));
        assert_eq!(tactic("AnonymousLogin"), None);
    }

    #[test]
    fn name_and_suffix_make_a_upn() {
        let u = user_from(&AccountParts {
            name: Some("jdoe"),
            upn_suffix: Some("example.com"),
            is_domain_joined: Some(true),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(u.upn.unwrap().as_str(), "jdoe@example.com");
        assert_eq!(u.name.as_deref(), Some("jdoe"));
    }
}

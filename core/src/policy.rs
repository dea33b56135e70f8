//! The disruption policy, as data (`policy/default.toml`). Parsing is pure: the caller reads the
//! file. Everything here is checked once at load, so a bad policy fails loudly at start.

use crate::action::{ActionKind, Mode};
use crate::alert::{Alert, Source};
use crate::entity::{EntityKind, Role};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Why a policy was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy is not valid TOML: {0}")]
    Toml(String),
    #[error("policy: {0}")]
    Invalid(String),
}

/// A detector's prior precision: how often its alerts are true positives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorPrior {
    /// Glob on the alert's `detector_id` (`guardduty:UnauthorizedAccess:IAMUser/*`).
    #[serde(rename = "match")]
    pub pattern: String,
    /// Estimated precision, 0..1.
    pub precision: f64,
    /// How many observations that estimate is worth; the lower confidence bound tightens with it.
    pub weight: f64,
    /// Why this number (shown in explanations).
    #[serde(default)]
    pub note: Option<String>,
}

/// One row of the role table: which role an entity kind plays in an alert type.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleRule {
    /// Glob on the source name (`sentinel`, `guardduty`, `*`).
    #[serde(default = "star")]
    pub source: String,
    /// Glob on the alert type (finding type, category, event type).
    #[serde(default = "star")]
    pub alert_type: String,
    /// Glob on the alert title (for sources whose type is a rule name).
    #[serde(default = "star")]
    pub title: String,
    /// Entity kind, or `*`.
    #[serde(default = "star")]
    pub entity: String,
    pub role: Role,
    /// Whether this rule overrides a role the source stated itself.
    #[serde(default, rename = "override")]
    pub override_source: bool,
}

fn star() -> String {
    "*".to_string()
}

/// Which actions follow for each kind of attacker asset.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionTable {
    #[serde(default)]
    pub entra_user: Vec<ActionKind>,
    #[serde(default)]
    pub okta_user: Vec<ActionKind>,
    #[serde(default)]
    pub aws_iam_user: Vec<ActionKind>,
    #[serde(default)]
    pub aws_role: Vec<ActionKind>,
    #[serde(default)]
    pub device: Vec<ActionKind>,
    #[serde(default)]
    pub ip: Vec<ActionKind>,
    #[serde(default)]
    pub oauth_app: Vec<ActionKind>,
}

/// Assets never contained. An excluded action is logged as skipped, not dropped.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusions {
    /// Globs on UPN / e-mail / object id / Okta id / `DOMAIN\sam`.
    #[serde(default)]
    pub users: Vec<String>,
    /// Globs on host name / FQDN / device ids.
    #[serde(default)]
    pub devices: Vec<String>,
    /// IPs or CIDRs.
    #[serde(default)]
    pub ips: Vec<String>,
    /// Globs on principal ARNs and access key ids.
    #[serde(default)]
    pub aws_principals: Vec<String>,
    /// Globs on app ids and names.
    #[serde(default)]
    pub apps: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    mode: Mode,
    #[serde(default = "default_threshold")]
    threshold: f64,
    #[serde(default = "default_window")]
    window_hours: f64,
    #[serde(default = "default_max_actions")]
    max_actions_per_incident: usize,
    #[serde(default = "default_z")]
    z: f64,
    #[serde(default)]
    default_detector: Option<DefaultPrior>,
    #[serde(default)]
    modes: BTreeMap<String, Mode>,
    #[serde(default)]
    detectors: Vec<DetectorPrior>,
    #[serde(default)]
    roles: Vec<RoleRule>,
    #[serde(default)]
    actions: ActionTable,
    #[serde(default)]
    exclusions: Exclusions,
    #[serde(default)]
    break_glass: Vec<String>,
    #[serde(default)]
    own_principals: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultPrior {
    pub precision: f64,
    pub weight: f64,
}

fn default_threshold() -> f64 {
    0.99
}
fn default_window() -> f64 {
    24.0
}
fn default_max_actions() -> usize {
    25
}
fn default_z() -> f64 {
    1.645
}

/// A loaded, validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub mode: Mode,
    /// Per action kind overrides of `mode`.
    pub modes: BTreeMap<ActionKind, Mode>,
    /// Confidence an asset needs before it is contained (0.99 by default).
    pub threshold: f64,
    /// Correlation window, seconds.
    pub window_secs: i64,
    /// Blast-radius limit: more planned actions than this for one incident trips it to audit.
    pub max_actions_per_incident: usize,
    /// z of the one-sided lower confidence bound on detector precision (1.645 ≈ 95%).
    pub z: f64,
    pub default_detector: DefaultPrior,
    pub detectors: Vec<DetectorPrior>,
    pub roles: Vec<RoleRule>,
    pub actions: ActionTable,
    pub exclusions: Exclusions,
    pub break_glass: Vec<String>,
    pub own_principals: Vec<String>,
    excluded_nets: Vec<(IpAddr, u8)>,
}

/// The precision numbers behind one detector, as used in a decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Precision {
    pub prior: f64,
    pub weight: f64,
    /// Lower confidence bound of the precision (Wilson score, one-sided).
    pub lower_bound: f64,
    /// Whether a `[[detectors]]` row matched; otherwise the default prior was used.
    pub configured: bool,
}

impl Policy {
    /// Parses and validates a policy document.
    ///
    /// # Errors
    /// [`PolicyError::Toml`] for syntax and unknown keys, [`PolicyError::Invalid`] for values
    /// out of range (precision outside 0..1, a threshold not in (0, 1], a bad CIDR, an
    /// inverse action listed as a containment).
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string()))?;
        let invalid = |m: String| Err(PolicyError::Invalid(m));
        if !(raw.threshold > 0.0 && raw.threshold <= 1.0) {
            return invalid(format!("threshold {} must be in (0, 1]", raw.threshold));
        }
        if !(raw.window_hours > 0.0 && raw.window_hours.is_finite()) {
            return invalid(format!(
                "window_hours {} must be positive",
                raw.window_hours
            ));
        }
        if !(raw.z >= 0.0 && raw.z.is_finite()) {
            return invalid(format!("z {} must be non-negative", raw.z));
        }
        let default_detector = raw.default_detector.unwrap_or(DefaultPrior {
            precision: 0.5,
            weight: 10.0,
        });
        let check_prior = |what: &str, p: f64, w: f64| -> Result<(), PolicyError> {
            if !((0.0..=1.0).contains(&p) && w > 0.0 && w.is_finite()) {
                return Err(PolicyError::Invalid(format!(
                    "{what}: precision {p} must be in [0, 1] and weight {w} positive"
                )));
            }
            Ok(())
        };
        check_prior(
            "default_detector",
            default_detector.precision,
            default_detector.weight,
        )?;
        for d in &raw.detectors {
            check_prior(&format!("detector {:?}", d.pattern), d.precision, d.weight)?;
        }
        for r in &raw.roles {
            if r.entity != "*" && EntityKind::parse(&r.entity).is_none() {
                return invalid(format!(
                    "role rule names unknown entity kind {:?}",
                    r.entity
                ));
            }
        }
        let a = &raw.actions;
        for (table, kinds) in [
            ("entra_user", &a.entra_user),
            ("okta_user", &a.okta_user),
            ("aws_iam_user", &a.aws_iam_user),
            ("aws_role", &a.aws_role),
            ("device", &a.device),
            ("ip", &a.ip),
            ("oauth_app", &a.oauth_app),
        ] {
            for k in kinds.iter() {
                if !k.is_containment() {
                    return invalid(format!(
                        "actions.{table}: {k} is a reversal, not a containment"
                    ));
                }
            }
        }
        let mut modes = BTreeMap::new();
        for (name, mode) in &raw.modes {
            let Some(kind) = ActionKind::parse(name) else {
                return invalid(format!("modes: unknown action kind {name:?}"));
            };
            modes.insert(kind, *mode);
        }
        let mut excluded_nets = Vec::new();
        for s in &raw.exclusions.ips {
            match parse_cidr(s) {
                Some(net) => excluded_nets.push(net),
                None => return invalid(format!("exclusions.ips: {s:?} is not an IP or CIDR")),
            }
        }
        Ok(Self {
            mode: raw.mode,
            modes,
            threshold: raw.threshold,
            window_secs: (raw.window_hours * 3600.0).round() as i64,
            max_actions_per_incident: raw.max_actions_per_incident,
            z: raw.z,
            default_detector,
            detectors: raw.detectors,
            roles: raw.roles,
            actions: raw.actions,
            exclusions: raw.exclusions,
            break_glass: raw.break_glass,
            own_principals: raw.own_principals,
            excluded_nets,
        })
    }

    /// The mode an action kind runs in.
    pub fn mode_for(&self, kind: ActionKind) -> Mode {
        self.modes.get(&kind).copied().unwrap_or(self.mode)
    }

    /// The precision of the detector that raised `alert`.
    pub fn precision(&self, alert: &Alert) -> Precision {
        let (prior, weight, configured) = self
            .detectors
            .iter()
            .find(|d| glob(&d.pattern, &alert.detector_id))
            .map(|d| (d.precision, d.weight, true))
            .unwrap_or((
                self.default_detector.precision,
                self.default_detector.weight,
                false,
            ));
        Precision {
            prior,
            weight,
            lower_bound: wilson_lower(prior, weight, self.z),
            configured,
        }
    }

    /// The role of an entity of `kind` in `alert`, given what the source stated (if anything).
    /// First matching rule wins; a rule only overrides a role the source stated when it says
    /// `override = true`. No rule → the stated role, or `Related` (never contained).
    pub fn role(&self, alert: &Alert, kind: EntityKind, stated: Option<Role>) -> Role {
        for r in &self.roles {
            if (r.entity == "*" || r.entity == kind.as_str())
                && glob(&r.source, alert.source.as_str())
                && glob(&r.alert_type, &alert.alert_type)
                && glob(&r.title, &alert.title)
                && (stated.is_none() || r.override_source)
            {
                return r.role;
            }
        }
        stated.unwrap_or(Role::Related)
    }

    /// Whether an IP is excluded.
    pub fn ip_excluded(&self, ip: IpAddr) -> bool {
        self.excluded_nets
            .iter()
            .any(|(net, len)| in_net(ip, *net, *len))
    }

    /// The first glob in `list` matching any of `names`.
    pub fn matches_any<'a>(list: &'a [String], names: &[&str]) -> Option<&'a str> {
        list.iter()
            .find(|g| names.iter().any(|n| glob(g, n)))
            .map(String::as_str)
    }

    /// Whether this source has any role rule (used to tell "unknown alert type" in explanations).
    pub fn has_role_rule_for(&self, alert: &Alert) -> bool {
        self.roles.iter().any(|r| {
            glob(&r.source, alert.source.as_str())
                && glob(&r.alert_type, &alert.alert_type)
                && glob(&r.title, &alert.title)
        })
    }
}

/// The default policy shipped in `policy/default.toml`.
pub const DEFAULT_POLICY: &str = include_str!("../../policy/default.toml");

impl Source {
    /// Whether the source is a Microsoft product (identities in it are Entra identities).
    pub fn is_microsoft(self) -> bool {
        matches!(
            self,
            Source::Sentinel
                | Source::GraphSecurity
                | Source::DefenderXdr
                | Source::DefenderEndpoint
        )
    }
}

/// One-sided Wilson score lower bound of a proportion `p` observed over `n` trials.
pub fn wilson_lower(p: f64, n: f64, z: f64) -> f64 {
    if n <= 0.0 {
        return 0.0;
    }
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let margin = z * ((p * (1.0 - p) + z2 / (4.0 * n)) / n).sqrt();
    ((centre - margin) / (1.0 + z2 / n)).clamp(0.0, 1.0)
}

/// Case-insensitive glob with `*` (any run) and `?` (one character).
pub fn glob(pattern: &str, text: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let p: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
    let t: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let (mut pi, mut ti, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (
            a.trim().parse::<IpAddr>().ok()?,
            l.trim().parse::<u8>().ok()?,
        ),
        None => {
            let a = s.trim().parse::<IpAddr>().ok()?;
            (a, if a.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((addr, len))
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob(
            "guardduty:UnauthorizedAccess:IAMUser/*",
            "guardduty:unauthorizedaccess:iamuser/TorIPCaller"
        ));
        assert!(glob("*phish*", "Phishing email detected"));
        assert!(!glob("*phish*", "Anonymous IP"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "abbc"));
    }

    #[test]
    fn wilson_tightens_with_weight() {
        let few = wilson_lower(0.99, 20.0, 1.645);
        let many = wilson_lower(0.99, 5000.0, 1.645);
        assert!(few < many && many < 0.99, "{few} {many}");
        assert_eq!(wilson_lower(0.5, 0.0, 1.645), 0.0);
    }

    #[test]
    fn cidr_exclusions() {
        let (n, l) = parse_cidr("10.0.0.0/8").unwrap();
        assert!(in_net("10.1.2.3".parse().unwrap(), n, l));
        assert!(!in_net("11.1.2.3".parse().unwrap(), n, l));
        assert!(parse_cidr("10.0.0.0/33").is_none());
    }

    #[test]
    fn default_policy_loads_in_audit_mode() {
        let p = Policy::from_toml(DEFAULT_POLICY).unwrap();
        assert_eq!(p.mode, Mode::Audit);
        assert!((p.threshold - 0.99).abs() < 1e-12);
    }

    #[test]
    fn bad_policies_fail_loudly() {
        assert!(matches!(
            Policy::from_toml("threshold = 2.0"),
            Err(PolicyError::Invalid(_))
        ));
        assert!(matches!(
            Policy::from_toml("nonsense = 1"),
            Err(PolicyError::Toml(_))
        ));
        assert!(matches!(
            Policy::from_toml("[actions]\nentra_user = [\"enable_user\"]"),
            Err(PolicyError::Invalid(_))
        ));
        assert!(matches!(
            Policy::from_toml("[exclusions]\nips = [\"nope\"]"),
            Err(PolicyError::Invalid(_))
        ));
    }
}

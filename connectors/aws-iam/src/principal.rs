//! AWS principals parsed once from their ARN, classified before anything is done to them
//! (`../shared/cases` C11), and the deny policies Cordon puts on them (C12).

use chrono::{DateTime, DurationRound, Utc};
use cordon_core::respond::Failure;
use serde_json::{json, Value};

/// The inline policy on an IAM user: deny everything.
pub const USER_POLICY: &str = "CordonDenyAll";
/// The inline policy on a role: deny everything to sessions issued before a cut-off.
pub const ROLE_POLICY: &str = "CordonRevokeOlderSessions";

/// A principal named by its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsArn {
    pub partition: String,
    pub account: String,
    pub kind: ArnKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArnKind {
    /// `user/<path>/<name>`: the path, as far as the ARN shows it, and the name.
    User { path: String, name: String },
    /// `role/<path>/<name>`, or the role of an `assumed-role/<name>/<session>` session (the
    /// path is then unknown: `/`).
    Role { path: String, name: String },
    /// `:root`.
    Root,
    /// `federated-user/<name>` (GetFederationToken sessions).
    FederatedUser { name: String },
}

impl AwsArn {
    /// Parses an IAM user / role / root ARN or an STS assumed-role / federated-user ARN.
    pub fn parse(s: &str) -> Result<AwsArn, Failure> {
        let bad = || Failure::Permanent {
            detail: format!("{s:?} is not an IAM user, role or root ARN"),
        };
        let mut parts = s.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(service), Some(_region), Some(account), Some(res)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        if partition.is_empty() || !crate::config::is_account_id(account) {
            return Err(bad());
        }
        let split_path = |rest: &str| -> Option<(String, String)> {
            let (path, name) = match rest.rfind('/') {
                Some(i) => (format!("/{}/", &rest[..i]), &rest[i + 1..]),
                None => ("/".to_string(), rest),
            };
            (!name.is_empty()).then(|| (path.replace("//", "/"), name.to_string()))
        };
        let kind = match (service, res) {
            ("iam", "root") => ArnKind::Root,
            ("iam", r) if r.starts_with("user/") => {
                let (path, name) = split_path(&r[5..]).ok_or_else(bad)?;
                ArnKind::User { path, name }
            }
            ("iam", r) if r.starts_with("role/") => {
                let (path, name) = split_path(&r[5..]).ok_or_else(bad)?;
                ArnKind::Role { path, name }
            }
            ("sts", r) if r.starts_with("assumed-role/") => {
                let name = r[13..].split('/').next().unwrap_or_default();
                if name.is_empty() {
                    return Err(bad());
                }
                ArnKind::Role {
                    path: "/".into(),
                    name: name.to_string(),
                }
            }
            ("sts", r) if r.starts_with("federated-user/") => ArnKind::FederatedUser {
                name: r[15..].to_string(),
            },
            _ => return Err(bad()),
        };
        Ok(AwsArn {
            partition: partition.to_string(),
            account: account.to_string(),
            kind,
        })
    }
}

/// What kind of principal it is, for deciding whether an inline policy can contain it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalClass {
    User,
    Role,
    /// IAM Identity Center (`AWSReservedSSO_*`, path `/aws-reserved/sso.amazonaws.com/`).
    SsoRole,
    /// Path `/aws-service-role/`.
    ServiceLinkedRole,
    Root,
    FederatedUser,
}

impl PrincipalClass {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalClass::User => "iam_user",
            PrincipalClass::Role => "iam_role",
            PrincipalClass::SsoRole => "sso_role",
            PrincipalClass::ServiceLinkedRole => "service_linked_role",
            PrincipalClass::Root => "root",
            PrincipalClass::FederatedUser => "federated_user",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            PrincipalClass::User,
            PrincipalClass::Role,
            PrincipalClass::SsoRole,
            PrincipalClass::ServiceLinkedRole,
            PrincipalClass::Root,
            PrincipalClass::FederatedUser,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    /// Classifies a role by its path and name (as `GetRole` reports them).
    pub fn of_role(path: &str, name: &str) -> Self {
        if path.starts_with("/aws-reserved/sso.amazonaws.com/")
            || name.starts_with("AWSReservedSSO_")
        {
            PrincipalClass::SsoRole
        } else if path.starts_with("/aws-service-role/") {
            PrincipalClass::ServiceLinkedRole
        } else {
            PrincipalClass::Role
        }
    }

    /// Why an inline policy cannot contain this principal, and what a person must do instead;
    /// `None` when it can.
    pub fn refusal(self, arn: &str) -> Option<String> {
        match self {
            PrincipalClass::User | PrincipalClass::Role => None,
            PrincipalClass::SsoRole => Some(format!(
                "{arn} is an IAM Identity Center (SSO) role: AWS refuses changes to it \
                 (UnmodifiableEntity), so no policy was put. A person must act in IAM Identity \
                 Center: remove the user's permission set assignment (or add a deny to the \
                 permission set) and revoke the user's active sessions there"
            )),
            PrincipalClass::ServiceLinkedRole => Some(format!(
                "{arn} is a service-linked role: it is managed by its AWS service and cannot take \
                 inline policies (UnmodifiableEntity), so no policy was put. A person must \
                 contain the resource or service that uses it"
            )),
            PrincipalClass::Root => Some(format!(
                "{arn} is the account's root user: IAM policies cannot restrict it, so no policy \
                 was put. A person must change the root password and MFA, delete root access keys, \
                 and apply a deny SCP from the organization's management account"
            )),
            PrincipalClass::FederatedUser => Some(format!(
                "{arn} is a federated user session (GetFederationToken): it cannot take a policy. \
                 A person must contain the IAM user or identity provider that issued it"
            )),
        }
    }
}

/// The deny-all document put on an IAM user.
pub fn user_policy_document() -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "CordonContainment",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*"
        }]
    })
    .to_string()
}

/// The deny-all document put on a role: every session issued before `cutoff` is refused.
pub fn role_policy_document(cutoff: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "CordonContainment",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}}
        }]
    })
    .to_string()
}

/// The cut-off for `now`: rounded up to the next whole second (a session issued in the same
/// second as the containment is refused too), ISO 8601 in UTC.
pub fn cutoff_for(now: DateTime<Utc>) -> String {
    let floor = now
        .duration_trunc(chrono::Duration::seconds(1))
        .unwrap_or(now);
    let t = if floor == now {
        now
    } else {
        floor + chrono::Duration::seconds(1)
    };
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// What a deny document read back from IAM does: `None` when it is not an unconditional or
/// `TokenIssueTime`-conditioned deny of everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DenyEffect {
    /// Denies everything, always.
    All,
    /// Denies everything to sessions issued before this time.
    IssuedBefore(DateTime<Utc>),
}

pub fn deny_effect(document: &str) -> Option<DenyEffect> {
    let v: Value = serde_json::from_str(document).ok()?;
    let statements = match &v["Statement"] {
        Value::Array(a) => a.clone(),
        o @ Value::Object(_) => vec![o.clone()],
        _ => return None,
    };
    let all = |x: &Value| match x {
        Value::String(s) => s == "*",
        Value::Array(a) => a.iter().any(|s| s == "*"),
        _ => false,
    };
    let mut best: Option<DenyEffect> = None;
    for s in statements {
        if s["Effect"] != "Deny" || !all(&s["Action"]) || !all(&s["Resource"]) {
            continue;
        }
        let effect = match s.get("Condition") {
            None => DenyEffect::All,
            Some(c) => {
                let obj = c.as_object()?;
                if obj.len() != 1 {
                    continue;
                }
                let t = c["DateLessThan"]["aws:TokenIssueTime"].as_str()?;
                DenyEffect::IssuedBefore(DateTime::parse_from_rfc3339(t).ok()?.with_timezone(&Utc))
            }
        };
        best = match (best, effect) {
            (Some(DenyEffect::All), _) | (_, DenyEffect::All) => Some(DenyEffect::All),
            (Some(DenyEffect::IssuedBefore(a)), DenyEffect::IssuedBefore(b)) => {
                Some(DenyEffect::IssuedBefore(a.max(b)))
            }
            (None, e) => Some(e),
        };
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn arns_parse_to_principals() {
        let u = AwsArn::parse("arn:aws:iam::111122223333:user/ops/alice").unwrap();
        assert_eq!(
            u.kind,
            ArnKind::User {
                path: "/ops/".into(),
                name: "alice".into()
            }
        );
        let r = AwsArn::parse(
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0a1b",
        )
        .unwrap();
        let ArnKind::Role { path, name } = r.kind else {
            panic!()
        };
        assert_eq!(
            PrincipalClass::of_role(&path, &name),
            PrincipalClass::SsoRole
        );
        let s = AwsArn::parse("arn:aws:sts::111122223333:assumed-role/ci-deploy/i-0abc").unwrap();
        assert_eq!(
            s.kind,
            ArnKind::Role {
                path: "/".into(),
                name: "ci-deploy".into()
            }
        );
        assert_eq!(
            AwsArn::parse("arn:aws-cn:iam::111122223333:root")
                .unwrap()
                .kind,
            ArnKind::Root
        );
        for bad in [
            "alice",
            "arn:aws:iam::1:user/a",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::111122223333:user/",
        ] {
            assert!(
                matches!(AwsArn::parse(bad), Err(Failure::Permanent { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            PrincipalClass::of_role("/aws-service-role/x.amazonaws.com/", "AWSServiceRoleForX"),
            PrincipalClass::ServiceLinkedRole
        );
    }

    #[test]
    fn cutoff_rounds_up_to_the_second() {
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(cutoff_for(t), "2026-01-02T03:04:05Z");
        assert_eq!(
            cutoff_for(t + chrono::Duration::milliseconds(1)),
            "2026-01-02T03:04:06Z"
        );
    }

    #[test]
    fn documents_read_back_to_their_effect() {
        assert_eq!(deny_effect(&user_policy_document()), Some(DenyEffect::All));
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(
            deny_effect(&role_policy_document(&cutoff_for(t))),
            Some(DenyEffect::IssuedBefore(t))
        );
        assert_eq!(
            deny_effect(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#),
            None
        );
        assert_eq!(
            deny_effect(r#"{"Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#),
            None
        );
    }
}

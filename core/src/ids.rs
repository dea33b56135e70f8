//! Validated identifier newtypes. Each is parsed once, at the edge, and is valid from then on
//! (`../shared/cases` C1, C2): surrounding whitespace and quotes are stripped, a value wrapped in
//! a one-element JSON array inside a string (`"[\"a@b.com\"]"`) is unwrapped, several values are
//! rejected, and the shape is checked.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an identifier was rejected at the edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("empty {kind}")]
    Empty { kind: &'static str },
    #[error("{kind} holds several values ({count}); refusing to pick one")]
    Several { kind: &'static str, count: usize },
    #[error("malformed {kind}: {value:?}")]
    Malformed { kind: &'static str, value: String },
}

/// Unwraps the shapes identifiers arrive in: surrounding whitespace, quotes, and a JSON array
/// serialized into a string. A one-element array yields its element; several elements are an
/// error, never a guess.
pub fn unwrap_scalar(raw: &str, kind: &'static str) -> Result<String, IdError> {
    let mut s = raw.trim();
    if s.starts_with('[') && s.ends_with(']') {
        let items: Vec<String> = match serde_json::from_str::<Vec<serde_json::Value>>(s) {
            Ok(values) => values
                .into_iter()
                .filter_map(|v| match v {
                    serde_json::Value::String(s) => Some(s),
                    serde_json::Value::Null => None,
                    other => Some(other.to_string()),
                })
                .filter(|s| !s.trim().is_empty())
                .collect(),
            Err(_) => s[1..s.len() - 1]
                .split(',')
                .map(|p| p.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
                .filter(|p| !p.is_empty())
                .collect(),
        };
        return match items.len() {
            0 => Err(IdError::Empty { kind }),
            1 => unwrap_scalar(&items[0], kind),
            count => Err(IdError::Several { kind, count }),
        };
    }
    while s.len() >= 2
        && ((s.starts_with('"') && s.ends_with('"')) || (s.starts_with('\'') && s.ends_with('\'')))
    {
        s = s[1..s.len() - 1].trim();
    }
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    Ok(s.to_string())
}

/// Percent-encodes one URL path segment, so an identifier can never change the path it is put in.
pub fn encode_path_segment(segment: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'@');
    percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string()
}

macro_rules! newtype {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c == '/' || c == '"' || c == '[' || c == ']')
}

newtype!(
    /// A user principal name (`alice@contoso.com`), lower-cased. Also used for e-mail addresses
    /// and Okta logins, which are the same shape and, in practice, the same person.
    Upn
);
impl Upn {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = unwrap_scalar(raw, "UPN")?;
        if !looks_like_email(&s) {
            return Err(IdError::Malformed {
                kind: "UPN",
                value: s,
            });
        }
        let mut s = s;
        s.make_ascii_lowercase();
        Ok(Self(s))
    }
    /// The part before `@`.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or(&self.0)
    }
}

newtype!(
    /// A directory object id (Entra object id, device id): a GUID, lower-cased.
    ObjectId
);
impl ObjectId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = unwrap_scalar(raw, "object id")?;
        let s = s.trim_start_matches('{').trim_end_matches('}');
        if !is_guid(s) {
            return Err(IdError::Malformed {
                kind: "object id",
                value: s.to_string(),
            });
        }
        Ok(Self(s.to_ascii_lowercase()))
    }
}

newtype!(
    /// A Windows security identifier (`S-1-5-21-…`), upper-cased.
    Sid
);
impl Sid {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let mut s = unwrap_scalar(raw, "SID")?;
        s.make_ascii_uppercase();
        let ok = s.starts_with("S-1-")
            && s[4..]
                .split('-')
                .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()));
        if !ok {
            return Err(IdError::Malformed {
                kind: "SID",
                value: s,
            });
        }
        Ok(Self(s))
    }
}

newtype!(
    /// A down-level logon name `DOMAIN\sam`, both parts upper-cased.
    SamAccount
);
impl SamAccount {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = unwrap_scalar(raw, "DOMAIN\\sam")?;
        let Some((domain, sam)) = s.split_once('\\') else {
            return Err(IdError::Malformed {
                kind: "DOMAIN\\sam",
                value: s,
            });
        };
        Self::from_parts(domain, sam)
    }
    pub fn from_parts(domain: &str, sam: &str) -> Result<Self, IdError> {
        let (domain, sam) = (domain.trim(), sam.trim());
        let bad = |c: char| c.is_whitespace() || c == '\\' || c == '@' || c == '/';
        if domain.is_empty() || sam.is_empty() || domain.contains(bad) || sam.contains(bad) {
            return Err(IdError::Malformed {
                kind: "DOMAIN\\sam",
                value: format!("{domain}\\{sam}"),
            });
        }
        Ok(Self(format!(
            "{}\\{}",
            domain.to_ascii_uppercase(),
            sam.to_ascii_uppercase()
        )))
    }
}

newtype!(
    /// An Okta user id (`00u…`), case preserved (Okta ids are case-sensitive).
    OktaId
);
impl OktaId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = unwrap_scalar(raw, "Okta id")?;
        let ok = s.len() >= 10 && s.len() <= 40 && s.bytes().all(|c| c.is_ascii_alphanumeric());
        if !ok || s.eq_ignore_ascii_case("unknown") {
            return Err(IdError::Malformed {
                kind: "Okta id",
                value: s,
            });
        }
        Ok(Self(s))
    }
}

newtype!(
    /// A host name (NetBIOS or the first label of an FQDN), lower-cased.
    HostName
);
impl HostName {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let mut s = unwrap_scalar(raw, "host name")?;
        s.make_ascii_lowercase();
        let s = s.trim_end_matches('.').to_string();
        let ok = !s.is_empty()
            && s.len() <= 253
            && s.bytes().all(|c| {
                c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.' || c == b'$'
            });
        if !ok {
            return Err(IdError::Malformed {
                kind: "host name",
                value: s,
            });
        }
        Ok(Self(s))
    }
    /// The short name: the first DNS label.
    pub fn short(&self) -> &str {
        self.0.split('.').next().unwrap_or(&self.0)
    }
}

newtype!(
    /// A Defender for Endpoint machine id: 40 hex characters, lower-cased.
    MdeDeviceId
);
impl MdeDeviceId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let mut s = unwrap_scalar(raw, "Defender device id")?;
        s.make_ascii_lowercase();
        if s.len() != 40 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(IdError::Malformed {
                kind: "Defender device id",
                value: s,
            });
        }
        Ok(Self(s))
    }
}

newtype!(
    /// A CrowdStrike Falcon agent id (AID): 32 hex characters, lower-cased.
    CsAgentId
);
impl CsAgentId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let mut s = unwrap_scalar(raw, "CrowdStrike agent id")?;
        s.make_ascii_lowercase();
        if s.len() != 32 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(IdError::Malformed {
                kind: "CrowdStrike agent id",
                value: s,
            });
        }
        Ok(Self(s))
    }
}

newtype!(
    /// A cloud resource id: an EC2 instance id (`i-…`), an ARN, or an Azure resource id
    /// (lower-cased, since Azure resource ids are case-insensitive).
    CloudResourceId
);
impl CloudResourceId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = unwrap_scalar(raw, "cloud resource id")?;
        let ok =
            (s.starts_with("i-") && s.len() > 2 && s[2..].bytes().all(|c| c.is_ascii_hexdigit()))
                || s.starts_with("arn:")
                || s.starts_with("/subscriptions/");
        if !ok {
            return Err(IdError::Malformed {
                kind: "cloud resource id",
                value: s,
            });
        }
        if s.starts_with("/subscriptions/") {
            return Ok(Self(s.to_ascii_lowercase()));
        }
        Ok(Self(s))
    }
}

newtype!(
    /// A 12-digit AWS account id.
    AwsAccountId
);
impl AwsAccountId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = unwrap_scalar(raw, "AWS account id")?;
        if s.len() != 12 || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(IdError::Malformed {
                kind: "AWS account id",
                value: s,
            });
        }
        Ok(Self(s))
    }
}

newtype!(
    /// An AWS access key id (`AKIA…` long-term, `ASIA…` temporary).
    AccessKeyId
);
impl AccessKeyId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = unwrap_scalar(raw, "access key id")?;
        let ok = s.len() >= 16
            && s.len() <= 128
            && s.bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && s.starts_with('A');
        if !ok {
            return Err(IdError::Malformed {
                kind: "access key id",
                value: s,
            });
        }
        Ok(Self(s))
    }
    /// Temporary (STS) credentials start with `ASIA`; they cannot be deactivated, only denied.
    pub fn is_temporary(&self) -> bool {
        self.0.starts_with("ASIA")
    }
}

newtype!(
    /// An application (client) id or service principal object id: a GUID, lower-cased.
    AppId
);
impl AppId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        ObjectId::parse(raw).map(|o| Self(o.0))
    }
}

/// What kind of AWS principal an ARN names. The kind decides which containment works
/// (`../shared/cases` C11, C12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AwsPrincipalKind {
    IamUser,
    Role,
    AssumedRoleSession,
    Root,
    FederatedUser,
    /// An IAM Identity Center (SSO) permission-set role or a session of one: managed by AWS,
    /// cannot take inline policies.
    SsoRole,
    /// A service-linked role (`/aws-service-role/`): cannot be modified.
    ServiceLinkedRole,
}

/// A parsed AWS principal ARN.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AwsArn {
    /// The ARN as received, normalized (whitespace, wrapping stripped).
    pub arn: String,
    pub partition: String,
    pub account: AwsAccountId,
    pub kind: AwsPrincipalKind,
    /// User name, role name, or `root`.
    pub name: String,
    /// The IAM path (`/`, `/aws-reserved/sso.amazonaws.com/`, …) when the ARN carries one.
    pub path: String,
    /// For assumed-role and SSO sessions: the role session name (often the person's e-mail).
    pub session_name: Option<String>,
}

impl AwsArn {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let arn = unwrap_scalar(raw, "AWS ARN")?;
        let bad = || IdError::Malformed {
            kind: "AWS ARN",
            value: arn.clone(),
        };
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        if parts.len() != 6 || parts[0] != "arn" {
            return Err(bad());
        }
        let (partition, service, account, resource) = (parts[1], parts[2], parts[4], parts[5]);
        if !matches!(partition, "aws" | "aws-cn" | "aws-us-gov") {
            return Err(bad());
        }
        let account = AwsAccountId::parse(account).map_err(|_| bad())?;
        let (rtype, rest) = resource.split_once('/').unwrap_or((resource, ""));
        let split_path = |rest: &str| -> (String, String) {
            match rest.rfind('/') {
                Some(i) => (format!("/{}", &rest[..=i]), rest[i + 1..].to_string()),
                None => ("/".to_string(), rest.to_string()),
            }
        };
        let (kind, name, path, session_name) = match (service, rtype) {
            ("iam", "root") if rest.is_empty() => (
                AwsPrincipalKind::Root,
                "root".to_string(),
                "/".to_string(),
                None,
            ),
            ("iam", "user") if !rest.is_empty() => {
                let (path, name) = split_path(rest);
                (AwsPrincipalKind::IamUser, name, path, None)
            }
            ("iam", "role") if !rest.is_empty() => {
                let (path, name) = split_path(rest);
                let kind = if path.starts_with("/aws-service-role/") {
                    AwsPrincipalKind::ServiceLinkedRole
                } else if path.starts_with("/aws-reserved/sso.amazonaws.com/")
                    || name.starts_with("AWSReservedSSO_")
                {
                    AwsPrincipalKind::SsoRole
                } else {
                    AwsPrincipalKind::Role
                };
                (kind, name, path, None)
            }
            ("sts", "assumed-role") => {
                let (role, session) = rest.split_once('/').ok_or_else(bad)?;
                if role.is_empty() || session.is_empty() {
                    return Err(bad());
                }
                let kind = if role.starts_with("AWSReservedSSO_") {
                    AwsPrincipalKind::SsoRole
                } else {
                    AwsPrincipalKind::AssumedRoleSession
                };
                (
                    kind,
                    role.to_string(),
                    "/".to_string(),
                    Some(session.to_string()),
                )
            }
            ("sts", "federated-user") if !rest.is_empty() => (
                AwsPrincipalKind::FederatedUser,
                rest.to_string(),
                "/".to_string(),
                None,
            ),
            _ => return Err(bad()),
        };
        Ok(Self {
            arn: arn.clone(),
            partition: partition.to_string(),
            account,
            kind,
            name,
            path,
            session_name,
        })
    }

    /// The IAM role ARN behind an assumed-role session (what a deny policy attaches to).
    pub fn role_arn(&self) -> Option<String> {
        match self.kind {
            AwsPrincipalKind::Role
            | AwsPrincipalKind::SsoRole
            | AwsPrincipalKind::ServiceLinkedRole
                if self.session_name.is_none() =>
            {
                Some(self.arn.clone())
            }
            AwsPrincipalKind::AssumedRoleSession | AwsPrincipalKind::SsoRole => Some(format!(
                "arn:{}:iam::{}:role/{}",
                self.partition, self.account, self.name
            )),
            _ => None,
        }
    }
}

impl fmt::Display for AwsArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upn_unwraps_json_array_in_string() {
        // ../shared/cases C2
        let upn = Upn::parse("[\"User@Example.com\"]").unwrap();
        assert_eq!(upn.as_str(), "user@example.com");
        assert!(matches!(
            Upn::parse("[\"a@example.com\",\"b@example.com\"]"),
            Err(IdError::Several { count: 2, .. })
        ));
        assert!(matches!(Upn::parse("[]"), Err(IdError::Empty { .. })));
        assert!(Upn::parse("not an upn").is_err());
        assert!(Upn::parse("a/b@example.com").is_err());
    }

    #[test]
    fn guid_and_sid_shapes() {
        assert!(ObjectId::parse("{011D5EDE-0FAA-4946-A25E-B2CD0C47A52C}").is_ok());
        assert!(ObjectId::parse("011d5ede-0faa-4946-a25e").is_err());
        assert_eq!(
            Sid::parse("s-1-5-21-1-2-3-1001").unwrap().as_str(),
            "S-1-5-21-1-2-3-1001"
        );
        assert!(Sid::parse("S-1-5-x").is_err());
        assert_eq!(
            SamAccount::parse("corp\\jdoe").unwrap().as_str(),
            "CORP\\JDOE"
        );
    }

    #[test]
    fn arn_classification() {
        let sso = AwsArn::parse(
            "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123",
        )
        .unwrap();
        assert_eq!(sso.kind, AwsPrincipalKind::SsoRole);
        let slr = AwsArn::parse(
            "arn:aws:iam::123456789012:role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport",
        )
        .unwrap();
        assert_eq!(slr.kind, AwsPrincipalKind::ServiceLinkedRole);
        let sess = AwsArn::parse(
            "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/alice@corp.com",
        )
        .unwrap();
        assert_eq!(sess.kind, AwsPrincipalKind::SsoRole);
        assert_eq!(sess.session_name.as_deref(), Some("alice@corp.com"));
        let ar = AwsArn::parse("arn:aws:sts::123456789012:assumed-role/ci/build-1").unwrap();
        assert_eq!(ar.kind, AwsPrincipalKind::AssumedRoleSession);
        assert_eq!(ar.role_arn().unwrap(), "arn:aws:iam::123456789012:role/ci");
        let root = AwsArn::parse("arn:aws:iam::123456789012:root").unwrap();
        assert_eq!(root.kind, AwsPrincipalKind::Root);
        let user = AwsArn::parse("arn:aws:iam::123456789012:user/dev/bob").unwrap();
        assert_eq!(
            (user.kind, user.name.as_str(), user.path.as_str()),
            (AwsPrincipalKind::IamUser, "bob", "/dev/")
        );
        assert!(AwsArn::parse("arn:aws:s3:::bucket").is_err());
        assert!(AwsArn::parse("arn:aws:iam::12:user/x").is_err());
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_path_segment("a@b.com"), "a@b.com");
        assert_eq!(encode_path_segment("[\"a\"]/x"), "%5B%22a%22%5D%2Fx");
    }
}

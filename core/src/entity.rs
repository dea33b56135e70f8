//! Typed entities and their role in an alert.

use crate::ids::*;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// What part an entity plays in one alert. Roles matter as much as types: the recipient of a
/// phishing mail is a victim, not an attacker asset (`../shared/cases` C4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Operated by the attacker (attacker IP, attacker-created app, malicious session).
    Attacker,
    /// A legitimate asset now under the attacker's control (compromised account or device).
    Compromised,
    /// Targeted or affected, not controlled (phishing recipient, scanned host).
    Victim,
    /// Mentioned for context; never a containment target.
    Related,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "attacker" | "source" => Some(Role::Attacker),
            "compromised" | "impacted" | "suspicious" => Some(Role::Compromised),
            "victim" | "destination" | "recipient" | "target" => Some(Role::Victim),
            "related" | "contextual" | "context" | "unknown" | "" => Some(Role::Related),
            _ => None,
        }
    }
    /// Whether evidence with this role says the attacker controls the entity.
    pub fn is_attacker_controlled(self) -> bool {
        matches!(self, Role::Attacker | Role::Compromised)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Attacker => "attacker",
            Role::Compromised => "compromised",
            Role::Victim => "victim",
            Role::Related => "related",
        }
    }
}

/// Which directory a user identity lives in; decides which containment applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Directory {
    Entra,
    ActiveDirectory,
    Okta,
    Unknown,
}

/// A user. Every identifier is optional: sources give what they have (`../shared/cases` C1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UserEntity {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upn: Option<Upn>,
    /// Entra (Azure AD) object id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_id: Option<ObjectId>,
    /// On-premises AD objectGUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ad_object_guid: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<Sid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sam: Option<SamAccount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub okta_id: Option<OktaId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<Upn>,
    /// A bare account name that fits no identifier shape (`jdoe`): kept for people, never acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub directory: Option<Directory>,
}

/// The rule that resolved a user to one identity, in the fixed order of `../shared/cases` C1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityRule {
    AadUserId,
    ObjectGuid,
    Upn,
    Sid,
    NtDomainName,
    OktaId,
    Email,
}

/// The outcome of resolving a user's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Resolution {
    Resolved {
        rule: IdentityRule,
        id: String,
    },
    /// Nothing usable: no action, flagged for a person.
    Unresolved {
        reason: String,
    },
}

impl UserEntity {
    /// Resolves the identity in a fixed order: AadUserId → object GUID → UPN → SID →
    /// `NTDomain\Name` → Okta id → e-mail. The rule that matched is returned with the id.
    pub fn resolve(&self) -> Resolution {
        let found = if let Some(v) = &self.object_id {
            Some((IdentityRule::AadUserId, v.to_string()))
        } else if let Some(v) = &self.ad_object_guid {
            Some((IdentityRule::ObjectGuid, v.to_string()))
        } else if let Some(v) = &self.upn {
            Some((IdentityRule::Upn, v.to_string()))
        } else if let Some(v) = &self.sid {
            Some((IdentityRule::Sid, v.to_string()))
        } else if let Some(v) = &self.sam {
            Some((IdentityRule::NtDomainName, v.to_string()))
        } else if let Some(v) = &self.okta_id {
            Some((IdentityRule::OktaId, v.to_string()))
        } else {
            self.email
                .as_ref()
                .map(|v| (IdentityRule::Email, v.to_string()))
        };
        match found {
            Some((rule, id)) => Resolution::Resolved { rule, id },
            None => Resolution::Unresolved {
                reason: match &self.name {
                    Some(n) => format!("account {n:?} carries no directory id, UPN, SID or domain"),
                    None => "account carries no identifier".to_string(),
                },
            },
        }
    }

    /// The person this identity belongs to, as a lower-cased e-mail-shaped key: the UPN, the
    /// e-mail, or an Okta login. The same person's UPN, Okta login and AWS SSO session name meet
    /// here.
    pub fn person(&self) -> Option<&Upn> {
        self.upn.as_ref().or(self.email.as_ref())
    }

    pub fn label(&self) -> String {
        if let Some(p) = self.person() {
            return p.to_string();
        }
        if let Some(s) = &self.sam {
            return s.to_string();
        }
        if let Some(o) = &self.object_id {
            return o.to_string();
        }
        if let Some(o) = &self.okta_id {
            return o.to_string();
        }
        if let Some(s) = &self.sid {
            return s.to_string();
        }
        self.name
            .clone()
            .unwrap_or_else(|| "(unnamed user)".to_string())
    }

    pub fn is_empty(&self) -> bool {
        self.upn.is_none()
            && self.object_id.is_none()
            && self.ad_object_guid.is_none()
            && self.sid.is_none()
            && self.sam.is_none()
            && self.okta_id.is_none()
            && self.email.is_none()
            && self.name.is_none()
    }
}

/// A device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeviceEntity {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_name: Option<HostName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<HostName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mde_device_id: Option<MdeDeviceId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cs_agent_id: Option<CsAgentId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_resource_id: Option<CloudResourceId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azure_device_id: Option<ObjectId>,
}

impl DeviceEntity {
    pub fn label(&self) -> String {
        if let Some(f) = &self.fqdn {
            return f.to_string();
        }
        if let Some(h) = &self.host_name {
            return h.to_string();
        }
        if let Some(c) = &self.cloud_resource_id {
            return c.to_string();
        }
        if let Some(m) = &self.mde_device_id {
            return m.to_string();
        }
        if let Some(c) = &self.cs_agent_id {
            return c.to_string();
        }
        "(unnamed device)".to_string()
    }
    pub fn is_empty(&self) -> bool {
        self.host_name.is_none()
            && self.fqdn.is_none()
            && self.mde_device_id.is_none()
            && self.cs_agent_id.is_none()
            && self.cloud_resource_id.is_none()
            && self.azure_device_id.is_none()
    }
}

/// An AWS principal. `arn` is absent when a finding only names an access key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AwsPrincipalEntity {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<AwsArn>,
    pub kind: AwsPrincipalKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<AccessKeyId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<AwsAccountId>,
}

impl AwsPrincipalEntity {
    /// Builds the principal from a parsed ARN.
    pub fn from_arn(arn: AwsArn) -> Self {
        Self {
            kind: arn.kind,
            account: Some(arn.account.clone()),
            arn: Some(arn),
            access_key_id: None,
        }
    }

    /// Builds the principal from the parts findings carry (GuardDuty `userType` + `userName`,
    /// account id). Returns `None` when the parts do not name a principal.
    pub fn from_parts(
        user_type: &str,
        user_name: Option<&str>,
        account: Option<&AwsAccountId>,
        access_key_id: Option<AccessKeyId>,
    ) -> Option<Self> {
        let name = user_name.map(str::trim).filter(|s| !s.is_empty());
        let arn = match (user_type.to_ascii_lowercase().as_str(), name, account) {
            ("root", _, Some(acct)) => AwsArn::parse(&format!("arn:aws:iam::{acct}:root")).ok(),
            ("iamuser", Some(n), Some(acct)) if !n.contains('/') => {
                AwsArn::parse(&format!("arn:aws:iam::{acct}:user/{n}")).ok()
            }
            ("role", Some(n), Some(acct)) if !n.contains('/') => {
                AwsArn::parse(&format!("arn:aws:iam::{acct}:role/{n}")).ok()
            }
            ("assumedrole", Some(n), Some(acct)) if n.contains('/') => {
                AwsArn::parse(&format!("arn:aws:sts::{acct}:assumed-role/{n}")).ok()
            }
            ("assumedrole", Some(n), Some(acct)) => {
                AwsArn::parse(&format!("arn:aws:iam::{acct}:role/{n}")).ok()
            }
            ("federateduser", Some(n), Some(acct)) => {
                AwsArn::parse(&format!("arn:aws:sts::{acct}:federated-user/{n}")).ok()
            }
            _ => None,
        };
        let kind = match (&arn, user_type.to_ascii_lowercase().as_str()) {
            (Some(a), _) => a.kind,
            (None, "root") => AwsPrincipalKind::Root,
            (None, "iamuser") => AwsPrincipalKind::IamUser,
            (None, "assumedrole") => AwsPrincipalKind::AssumedRoleSession,
            (None, "role") => AwsPrincipalKind::Role,
            (None, "federateduser") => AwsPrincipalKind::FederatedUser,
            (None, _) if access_key_id.is_some() => AwsPrincipalKind::IamUser,
            _ => return None,
        };
        if arn.is_none() && access_key_id.is_none() {
            return None;
        }
        Some(Self {
            arn,
            kind,
            access_key_id,
            account: account.cloned(),
        })
    }

    pub fn label(&self) -> String {
        match (&self.arn, &self.access_key_id) {
            (Some(a), Some(k)) => format!("{a} (key {k})"),
            (Some(a), None) => a.to_string(),
            (None, Some(k)) => format!("access key {k}"),
            (None, None) => "(unnamed AWS principal)".to_string(),
        }
    }
}

/// An OAuth application / service principal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AppEntity {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_id: Option<AppId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_principal_id: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl AppEntity {
    pub fn label(&self) -> String {
        match (&self.name, &self.app_id) {
            (Some(n), Some(a)) => format!("{n} ({a})"),
            (Some(n), None) => n.clone(),
            (None, Some(a)) => a.to_string(),
            (None, None) => self
                .service_principal_id
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_else(|| "(unnamed app)".to_string()),
        }
    }
}

/// Entities kept for context only; never containment targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextKind {
    Mailbox,
    Url,
    FileHash,
    File,
    Process,
    Domain,
    CloudResource,
    Other,
}

/// A typed entity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Entity {
    User(UserEntity),
    Device(DeviceEntity),
    Ip { address: IpAddr },
    AwsPrincipal(AwsPrincipalEntity),
    OauthApp(AppEntity),
    Context { kind: ContextKind, value: String },
}

/// The kind of an entity, for policy tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    User,
    Device,
    Ip,
    AwsPrincipal,
    OauthApp,
    Context,
}

impl EntityKind {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "user" => Self::User,
            "device" => Self::Device,
            "ip" => Self::Ip,
            "aws_principal" => Self::AwsPrincipal,
            "oauth_app" => Self::OauthApp,
            "context" => Self::Context,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Device => "device",
            Self::Ip => "ip",
            Self::AwsPrincipal => "aws_principal",
            Self::OauthApp => "oauth_app",
            Self::Context => "context",
        }
    }
}

/// How strongly a key ties two alerts together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strength {
    /// Shares an asset: user, device, AWS principal, OAuth app.
    Strong,
    /// IPs (NAT, proxies, VPN egress): never enough on their own.
    Weak,
}

impl Entity {
    pub fn kind(&self) -> EntityKind {
        match self {
            Entity::User(_) => EntityKind::User,
            Entity::Device(_) => EntityKind::Device,
            Entity::Ip { .. } => EntityKind::Ip,
            Entity::AwsPrincipal(_) => EntityKind::AwsPrincipal,
            Entity::OauthApp(_) => EntityKind::OauthApp,
            Entity::Context { .. } => EntityKind::Context,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Entity::User(u) => u.label(),
            Entity::Device(d) => d.label(),
            Entity::Ip { address } => address.to_string(),
            Entity::AwsPrincipal(p) => p.label(),
            Entity::OauthApp(a) => a.label(),
            Entity::Context { kind, value } => format!("{kind:?}: {value}").to_lowercase(),
        }
    }

    /// The keys this entity is known by. Two mentions that share a key are the same asset.
    /// Aliases meet here: a UPN, an e-mail, an Okta login and an AWS SSO session name that is an
    /// e-mail all give the same `person:` key.
    pub fn keys(&self, mut out: impl FnMut(String, Strength)) {
        match self {
            Entity::User(u) => {
                if let Some(p) = &u.upn {
                    out(format!("person:{p}"), Strength::Strong);
                }
                if let Some(p) = &u.email {
                    if u.upn.as_ref() != Some(p) {
                        out(format!("person:{p}"), Strength::Strong);
                    }
                }
                if let Some(v) = &u.object_id {
                    out(format!("user:oid:{v}"), Strength::Strong);
                }
                if let Some(v) = &u.ad_object_guid {
                    out(format!("user:guid:{v}"), Strength::Strong);
                }
                if let Some(v) = &u.sid {
                    out(format!("user:sid:{v}"), Strength::Strong);
                }
                if let Some(v) = &u.sam {
                    out(format!("user:sam:{v}"), Strength::Strong);
                }
                if let Some(v) = &u.okta_id {
                    out(format!("user:okta:{v}"), Strength::Strong);
                }
            }
            Entity::Device(d) => {
                if let Some(v) = &d.mde_device_id {
                    out(format!("device:mde:{v}"), Strength::Strong);
                }
                if let Some(v) = &d.cs_agent_id {
                    out(format!("device:cs:{v}"), Strength::Strong);
                }
                if let Some(v) = &d.cloud_resource_id {
                    out(format!("device:res:{v}"), Strength::Strong);
                }
                if let Some(v) = &d.azure_device_id {
                    out(format!("device:aad:{v}"), Strength::Strong);
                }
                if let Some(v) = d.fqdn.as_ref().or(d.host_name.as_ref()) {
                    // Short names are how most sources name hosts; FQDN and short name meet here.
                    out(format!("device:host:{}", v.short()), Strength::Strong);
                }
            }
            Entity::Ip { address } => out(format!("ip:{address}"), Strength::Weak),
            Entity::AwsPrincipal(p) => {
                if let Some(a) = &p.arn {
                    match (a.kind, a.role_arn(), &a.session_name) {
                        (_, Some(role), Some(session)) => {
                            out(format!("aws:{role}"), Strength::Strong);
                            if let Ok(person) = Upn::parse(session) {
                                out(format!("person:{person}"), Strength::Strong);
                            }
                        }
                        _ => out(format!("aws:{}", a.arn), Strength::Strong),
                    }
                }
                if let Some(k) = &p.access_key_id {
                    out(format!("aws:key:{k}"), Strength::Strong);
                }
            }
            Entity::OauthApp(a) => {
                if let Some(v) = &a.app_id {
                    out(format!("app:{v}"), Strength::Strong);
                }
                if let Some(v) = &a.service_principal_id {
                    out(format!("app:sp:{v}"), Strength::Strong);
                }
            }
            Entity::Context { .. } => {}
        }
    }
}

/// An entity as it appears in one alert.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AlertEntity {
    #[serde(flatten)]
    pub entity: Entity,
    /// The role, once decided (by the source or by the policy's role table).
    pub role: Role,
    /// Whether the source itself stated the role (Graph evidence roles, GuardDuty resource
    /// vs. actor). Policy role rules can override it only when they say so.
    #[serde(default)]
    pub role_from_source: bool,
}

impl AlertEntity {
    /// An entity whose role the source did not state; the policy's role table decides.
    pub fn unstated(entity: Entity) -> Self {
        Self {
            entity,
            role: Role::Related,
            role_from_source: false,
        }
    }
    /// An entity whose role the source stated.
    pub fn stated(entity: Entity, role: Role) -> Self {
        Self {
            entity,
            role,
            role_from_source: true,
        }
    }
}

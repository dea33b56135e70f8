//! Containment action kinds, each with its reversal defined beside it, and planned actions.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// Every containment (and reversal) Cordon can take. A closed set: the reversal of each is known
/// before anything runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Entra ID: `accountEnabled = false`.
    DisableUser,
    EnableUser,
    /// Entra ID: revoke refresh tokens and session cookies.
    RevokeSessions,
    /// Okta: lifecycle suspend (ACTIVE users only).
    SuspendOktaUser,
    UnsuspendOktaUser,
    /// Okta: delete the user's sessions and OAuth tokens.
    ClearOktaSessions,
    /// AWS IAM: deny-all inline policy under a deterministic name; for roles with an
    /// `aws:TokenIssueTime` cut-off that also ends sessions issued before it.
    AttachAwsDenyPolicy,
    DetachAwsDenyPolicy,
    /// AWS IAM: access key status Inactive.
    DeactivateAccessKey,
    ReactivateAccessKey,
    /// EDR: network isolation / containment of a device.
    IsolateDevice,
    ReleaseDevice,
    /// EDR: block indicator for an IP.
    ContainIp,
    UncontainIp,
    /// Entra ID: disable the service principal (`accountEnabled = false`).
    DisableOauthApp,
    EnableOauthApp,
}

/// How an action is undone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "detail", rename_all = "snake_case")]
pub enum Reversal {
    /// Undone by running this action on the same target, back to the state found before.
    Inverse(ActionKind),
    /// Nothing to undo: the effect ends by itself (the user signs in again).
    NotNeeded(String),
}

impl ActionKind {
    pub const CONTAINMENTS: [ActionKind; 9] = [
        ActionKind::DisableUser,
        ActionKind::RevokeSessions,
        ActionKind::SuspendOktaUser,
        ActionKind::ClearOktaSessions,
        ActionKind::AttachAwsDenyPolicy,
        ActionKind::DeactivateAccessKey,
        ActionKind::IsolateDevice,
        ActionKind::ContainIp,
        ActionKind::DisableOauthApp,
    ];

    /// The reversal of this action, defined beside it.
    pub fn reversal(self) -> Reversal {
        use ActionKind::*;
        match self {
            DisableUser => Reversal::Inverse(EnableUser),
            EnableUser => Reversal::Inverse(DisableUser),
            RevokeSessions => {
                Reversal::NotNeeded("revoked sessions end; the user signs in again".into())
            }
            SuspendOktaUser => Reversal::Inverse(UnsuspendOktaUser),
            UnsuspendOktaUser => Reversal::Inverse(SuspendOktaUser),
            ClearOktaSessions => {
                Reversal::NotNeeded("cleared sessions end; the user signs in again".into())
            }
            AttachAwsDenyPolicy => Reversal::Inverse(DetachAwsDenyPolicy),
            DetachAwsDenyPolicy => Reversal::Inverse(AttachAwsDenyPolicy),
            DeactivateAccessKey => Reversal::Inverse(ReactivateAccessKey),
            ReactivateAccessKey => Reversal::Inverse(DeactivateAccessKey),
            IsolateDevice => Reversal::Inverse(ReleaseDevice),
            ReleaseDevice => Reversal::Inverse(IsolateDevice),
            ContainIp => Reversal::Inverse(UncontainIp),
            UncontainIp => Reversal::Inverse(ContainIp),
            DisableOauthApp => Reversal::Inverse(EnableOauthApp),
            EnableOauthApp => Reversal::Inverse(DisableOauthApp),
        }
    }

    /// Whether this action contains (as opposed to reverting a containment).
    pub fn is_containment(self) -> bool {
        Self::CONTAINMENTS.contains(&self)
    }

    /// The kind of target this action applies to.
    pub fn target_kind(self) -> TargetKind {
        use ActionKind::*;
        match self {
            DisableUser | EnableUser | RevokeSessions => TargetKind::EntraUser,
            SuspendOktaUser | UnsuspendOktaUser | ClearOktaSessions => TargetKind::OktaUser,
            AttachAwsDenyPolicy | DetachAwsDenyPolicy => TargetKind::AwsPrincipal,
            DeactivateAccessKey | ReactivateAccessKey => TargetKind::AwsAccessKey,
            IsolateDevice | ReleaseDevice => TargetKind::Device,
            ContainIp | UncontainIp => TargetKind::Ip,
            DisableOauthApp | EnableOauthApp => TargetKind::OauthApp,
        }
    }

    pub fn as_str(self) -> &'static str {
        use ActionKind::*;
        match self {
            DisableUser => "disable_user",
            EnableUser => "enable_user",
            RevokeSessions => "revoke_sessions",
            SuspendOktaUser => "suspend_okta_user",
            UnsuspendOktaUser => "unsuspend_okta_user",
            ClearOktaSessions => "clear_okta_sessions",
            AttachAwsDenyPolicy => "attach_aws_deny_policy",
            DetachAwsDenyPolicy => "detach_aws_deny_policy",
            DeactivateAccessKey => "deactivate_access_key",
            ReactivateAccessKey => "reactivate_access_key",
            IsolateDevice => "isolate_device",
            ReleaseDevice => "release_device",
            ContainIp => "contain_ip",
            UncontainIp => "uncontain_ip",
            DisableOauthApp => "disable_oauth_app",
            EnableOauthApp => "enable_oauth_app",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        use ActionKind::*;
        [
            DisableUser,
            EnableUser,
            RevokeSessions,
            SuspendOktaUser,
            UnsuspendOktaUser,
            ClearOktaSessions,
            AttachAwsDenyPolicy,
            DetachAwsDenyPolicy,
            DeactivateAccessKey,
            ReactivateAccessKey,
            IsolateDevice,
            ReleaseDevice,
            ContainIp,
            UncontainIp,
            DisableOauthApp,
            EnableOauthApp,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an action is aimed at, in the terms its connector needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    EntraUser,
    OktaUser,
    AwsPrincipal,
    AwsAccessKey,
    Device,
    Ip,
    OauthApp,
}

/// A containment target: the identifier the connector acts on, plus what a person reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Target {
    pub kind: TargetKind,
    /// Entra object id or UPN; Okta id or login; principal ARN; access key id (with
    /// `owner` = user name); device id (`mde:…`, `cs:…`, `host:…`); IP; app id.
    pub id: String,
    /// For access keys: the IAM user owning the key, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The AWS account the target lives in, when it is an AWS target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.owner {
            Some(o) => write!(f, "{} (of {o})", self.id),
            None => f.write_str(&self.id),
        }
    }
}

/// Audit decides and logs; enforce acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Audit,
    Enforce,
}

/// Whether a planned action will run, and why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum PlanStatus {
    /// Will run in enforce mode; logged only in audit mode.
    Planned,
    /// Not run, by a safety rail: excluded asset, break-glass, blast-radius limit, below threshold.
    Skipped(String),
    /// Needs a person: unresolved identity, privileged target class, no safe mechanism.
    Escalate(String),
}

/// One action the decision calls for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedAction {
    /// Derived from the idempotency key.
    pub id: String,
    /// `incident|kind|target`: a retry never plans (or runs) the same action twice.
    pub idempotency_key: String,
    pub incident_id: String,
    pub kind: ActionKind,
    pub target: Target,
    pub mode: Mode,
    pub status: PlanStatus,
    /// The confidence of the asset it follows from.
    pub confidence: f64,
    /// The asset it follows from, as a person reads it.
    pub asset: String,
    pub reversal: Reversal,
}

impl PlannedAction {
    pub fn new(
        incident_id: &str,
        kind: ActionKind,
        target: Target,
        mode: Mode,
        status: PlanStatus,
        confidence: f64,
        asset: String,
    ) -> Self {
        let idempotency_key = format!("{incident_id}|{kind}|{:?}:{}", target.kind, target.id);
        let id = format!(
            "act-{}",
            &hex::encode(Sha256::digest(idempotency_key.as_bytes()))[..16]
        );
        Self {
            id,
            idempotency_key,
            incident_id: incident_id.to_string(),
            kind,
            target,
            mode,
            status,
            confidence,
            asset,
            reversal: kind.reversal(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_containment_has_a_reversal_that_comes_back() {
        for kind in ActionKind::CONTAINMENTS {
            match kind.reversal() {
                Reversal::Inverse(inv) => {
                    assert_eq!(inv.reversal(), Reversal::Inverse(kind), "{kind}");
                    assert!(!inv.is_containment());
                    assert_eq!(inv.target_kind(), kind.target_kind());
                }
                Reversal::NotNeeded(why) => assert!(!why.is_empty()),
            }
            assert_eq!(ActionKind::parse(kind.as_str()), Some(kind));
        }
    }
}

//! The AWS IAM responder: deny policies on users and roles, access key deactivation.
//!
//! - A user is contained by the inline policy [`USER_POLICY`] (deny everything). A role by
//!   [`ROLE_POLICY`]: deny everything to sessions issued before a cut-off (`aws:TokenIssueTime`),
//!   which ends sessions already handed out (C12); the cut-off is returned in the apply's
//!   `reference` and so written in the ledger.
//! - Principals are classified before acting (C11): root, IAM Identity Center roles,
//!   service-linked roles and federated users cannot take inline policies, and apply says what a
//!   person must do instead, without calling `Put*Policy`.
//! - Access keys are set `Inactive`; temporary keys (`ASIA…`) cannot be, and apply says so.
//! - Verification reads the change back; IAM is eventually consistent, so a miss is `NotYet` (C13).
//! - Undo restores the state read before acting: only our policy is removed (or the document
//!   found before is put back), and a key is re-activated only if it was active.

use crate::client::{iam, AwsClients, EntityInfo};
use crate::config::{AwsIamConfig, ConfigError};
use crate::principal::{
    cutoff_for, deny_effect, role_policy_document, user_policy_document, ArnKind, AwsArn,
    DenyEffect, PrincipalClass, ROLE_POLICY, USER_POLICY,
};
use async_trait::async_trait;
use chrono::Utc;
use cordon_core::action::{ActionKind, Target};
use cordon_core::respond::{
    ActionContext, Done, Failure, PermissionGap, PermissionReport, Responder, TargetState,
    Verification,
};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// A role's existing cut-off at most this old counts as "already contained"; an older one is
/// refreshed (sessions issued since then are not covered by it), and its undo puts it back.
pub const ROLE_CUTOFF_REUSE: chrono::Duration = chrono::Duration::minutes(5);

const DENY_POLICY_PERMISSIONS: &[&str] = &[
    "iam:GetUser",
    "iam:GetRole",
    "iam:GetUserPolicy",
    "iam:GetRolePolicy",
    "iam:PutUserPolicy",
    "iam:PutRolePolicy",
    "iam:DeleteUserPolicy",
    "iam:DeleteRolePolicy",
];
const ACCESS_KEY_PERMISSIONS: &[&str] = &[
    "iam:GetAccessKeyLastUsed",
    "iam:ListAccessKeys",
    "iam:UpdateAccessKey",
];

/// The IAM actions an action kind (or its inverse: undo runs the same calls) needs.
pub fn required_permissions(kind: ActionKind) -> &'static [&'static str] {
    match kind {
        ActionKind::AttachAwsDenyPolicy | ActionKind::DetachAwsDenyPolicy => {
            DENY_POLICY_PERMISSIONS
        }
        ActionKind::DeactivateAccessKey | ActionKind::ReactivateAccessKey => ACCESS_KEY_PERMISSIONS,
        _ => &[],
    }
}

pub struct IamResponder {
    clients: AwsClients,
}

/// A deny-policy target, resolved.
struct Principal {
    arn: AwsArn,
    iam: aws_sdk_iam::Client,
}

impl IamResponder {
    /// Builds the responder from its configuration (validated here; no AWS call is made).
    pub async fn new(cfg: AwsIamConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            clients: AwsClients::new(cfg).await?,
        })
    }

    async fn principal(&self, target: &Target) -> Result<Principal, Failure> {
        let arn = AwsArn::parse(&target.id)?;
        let iam = self
            .clients
            .iam_for(Some(&arn.account), &arn.partition)
            .await?;
        Ok(Principal { arn, iam })
    }

    /// Reads the principal and our policy on it.
    async fn capture_principal(
        &self,
        kind: ActionKind,
        target: &Target,
    ) -> Result<TargetState, Failure> {
        let p = self.principal(target).await?;
        let (class, info) = match &p.arn.kind {
            ArnKind::Root => (PrincipalClass::Root, None),
            ArnKind::FederatedUser { .. } => (PrincipalClass::FederatedUser, None),
            ArnKind::User { name, .. } => (
                PrincipalClass::User,
                Some(iam::get_user(&p.iam, name).await?),
            ),
            ArnKind::Role { path, name } => {
                // The ARN of a session shows no path: the role's own path decides (C11).
                let info = iam::get_role(&p.iam, name).await?;
                let class = match PrincipalClass::of_role(path, name) {
                    PrincipalClass::Role => PrincipalClass::of_role(&info.path, &info.name),
                    c => c,
                };
                (class, Some(info))
            }
        };
        let mut data = json!({
            "class": class.as_str(),
            "arn": target.id,
            "account": p.arn.account,
        });
        let Some(info) = info else {
            return Ok(TargetState {
                contained: false,
                summary: format!("{}: {}", class.as_str(), target.id),
                data,
            });
        };
        data["name"] = json!(info.name);
        data["path"] = json!(info.path);
        data["principal_arn"] = json!(info.arn);
        if class.refusal(&info.arn).is_some() {
            return Ok(TargetState {
                contained: false,
                summary: format!("{} {} (path {})", class.as_str(), info.name, info.path),
                data,
            });
        }
        let role = class == PrincipalClass::Role;
        let policy = if role { ROLE_POLICY } else { USER_POLICY };
        let doc = iam::get_inline_policy(&p.iam, role, &info.name, policy).await?;
        let effect = doc.as_deref().and_then(deny_effect);
        let in_force = match &effect {
            Some(DenyEffect::All) => true,
            Some(DenyEffect::IssuedBefore(t)) => role && *t >= Utc::now() - ROLE_CUTOFF_REUSE,
            None => false,
        };
        let contained = match kind {
            ActionKind::DetachAwsDenyPolicy => doc.is_none(),
            _ => in_force,
        };
        let found = match (&doc, &effect) {
            (None, _) => "absent".to_string(),
            (Some(_), Some(DenyEffect::All)) => "present (deny all)".to_string(),
            (Some(_), Some(DenyEffect::IssuedBefore(t))) => {
                format!("present (deny sessions issued before {})", t.to_rfc3339())
            }
            (Some(_), None) => "present (not a deny-all document)".to_string(),
        };
        data["policy_name"] = json!(policy);
        data["policy_document"] = doc.map(Value::String).unwrap_or(Value::Null);
        Ok(TargetState {
            contained,
            summary: format!(
                "{} {} (path {}): inline policy {policy} {found}",
                class.as_str(),
                info.name,
                info.path
            ),
            data,
        })
    }

    /// The class, name and policy of a captured principal; refuses the ones that cannot take a
    /// policy, before any call.
    fn policy_target(prior: &TargetState) -> Result<(bool, String, &'static str), Failure> {
        let class = prior.data["class"]
            .as_str()
            .and_then(PrincipalClass::parse)
            .ok_or_else(|| Failure::Permanent {
                detail: format!(
                    "the state read before acting is incomplete: {}",
                    prior.summary
                ),
            })?;
        let arn = prior.data["principal_arn"]
            .as_str()
            .or(prior.data["arn"].as_str())
            .unwrap_or_default()
            .to_string();
        if let Some(why) = class.refusal(&arn) {
            return Err(Failure::Permanent { detail: why });
        }
        let name = prior.data["name"]
            .as_str()
            .ok_or_else(|| Failure::Permanent {
                detail: format!(
                    "the state read before acting has no name: {}",
                    prior.summary
                ),
            })?
            .to_string();
        let role = class == PrincipalClass::Role;
        Ok((role, name, if role { ROLE_POLICY } else { USER_POLICY }))
    }

    async fn put_deny(
        &self,
        target: &Target,
        prior: &TargetState,
        ctx: &ActionContext,
    ) -> Result<Done, Failure> {
        let (role, name, policy) = Self::policy_target(prior)?;
        let p = self.principal(target).await?;
        let (doc, cutoff) = if role {
            let c = cutoff_for(ctx.now);
            (role_policy_document(&c), Some(c))
        } else {
            (user_policy_document(), None)
        };
        iam::put_inline_policy(&p.iam, role, &name, policy, &doc).await?;
        tracing::info!(action_id = %ctx.action_id, incident_id = %ctx.incident_id, target = %target.id, policy, cutoff = ?cutoff, "deny policy put");
        let detail = match &cutoff {
            Some(c) => format!(
                "inline policy {policy} on role {name}: every session issued before {c} is denied"
            ),
            None => format!("inline policy {policy} on user {name}: everything is denied"),
        };
        let mut reference = json!({"policy_name": policy, "principal": name, "role": role});
        if let Some(c) = cutoff {
            reference["token_issue_cutoff"] = json!(c);
        }
        Ok(Done::Applied {
            detail,
            reference,
            reverify_at: None,
        })
    }

    async fn remove_deny(&self, target: &Target, prior: &TargetState) -> Result<Done, Failure> {
        let (role, name, policy) = Self::policy_target(prior)?;
        let p = self.principal(target).await?;
        if iam::delete_inline_policy(&p.iam, role, &name, policy).await? {
            tracing::info!(target = %target.id, policy, "deny policy deleted");
            Ok(Done::Applied {
                detail: format!("inline policy {policy} deleted from {name}"),
                reference: json!({"policy_name": policy, "principal": name, "role": role}),
                reverify_at: None,
            })
        } else {
            Ok(Done::AlreadyInState {
                detail: format!("{name} has no inline policy {policy}"),
            })
        }
    }

    /// Puts back the document found before acting.
    async fn restore_deny(
        &self,
        target: &Target,
        prior: &TargetState,
        doc: &str,
    ) -> Result<Done, Failure> {
        let (role, name, policy) = Self::policy_target(prior)?;
        let p = self.principal(target).await?;
        iam::put_inline_policy(&p.iam, role, &name, policy, doc).await?;
        Ok(Done::Applied {
            detail: format!(
                "inline policy {policy} on {name} restored to the document found before"
            ),
            reference: json!({"policy_name": policy, "principal": name, "role": role}),
            reverify_at: None,
        })
    }

    async fn verify_deny(
        &self,
        kind: ActionKind,
        target: &Target,
        applied: &Done,
    ) -> Result<Verification, Failure> {
        let p = self.principal(target).await?;
        let (role, name) = match &p.arn.kind {
            ArnKind::User { name, .. } => (false, name.clone()),
            ArnKind::Role { name, .. } => (true, name.clone()),
            _ => {
                return Ok(Verification::NotEffective {
                    detail: format!("{} cannot take a policy", target.id),
                })
            }
        };
        let policy = if role { ROLE_POLICY } else { USER_POLICY };
        let doc = iam::get_inline_policy(&p.iam, role, &name, policy).await?;
        if kind == ActionKind::DetachAwsDenyPolicy {
            return Ok(match doc {
                None => Verification::Effective {
                    detail: format!("{name} has no inline policy {policy}"),
                },
                Some(_) => Verification::NotYet {
                    detail: format!(
                        "inline policy {policy} still reads back on {name} (IAM propagation)"
                    ),
                },
            });
        }
        let Some(doc) = doc else {
            return Ok(Verification::NotYet {
                detail: format!(
                    "inline policy {policy} does not read back on {name} yet (IAM is eventually consistent)"
                ),
            });
        };
        let wanted = match applied {
            Done::Applied { reference, .. } | Done::Pending { reference, .. } => reference
                ["token_issue_cutoff"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc)),
            Done::AlreadyInState { .. } => None,
        };
        Ok(match (deny_effect(&doc), wanted) {
            (Some(DenyEffect::All), _) => Verification::Effective {
                detail: format!("inline policy {policy} on {name} denies everything"),
            },
            (Some(DenyEffect::IssuedBefore(t)), Some(w)) if t >= w => Verification::Effective {
                detail: format!(
                    "inline policy {policy} on {name} denies sessions issued before {}",
                    t.to_rfc3339()
                ),
            },
            (Some(DenyEffect::IssuedBefore(t)), None) if role => Verification::Effective {
                detail: format!(
                    "inline policy {policy} on {name} denies sessions issued before {}",
                    t.to_rfc3339()
                ),
            },
            (Some(DenyEffect::IssuedBefore(t)), _) => Verification::NotYet {
                detail: format!(
                    "inline policy {policy} on {name} still shows an older cut-off {} (IAM propagation)",
                    t.to_rfc3339()
                ),
            },
            (None, _) => Verification::NotEffective {
                detail: format!(
                    "inline policy {policy} on {name} reads back, but not as a deny of everything: it was changed by someone else"
                ),
            },
        })
    }

    /// Reads an access key: its owner (looked up when not given) and its status.
    async fn capture_key(&self, kind: ActionKind, target: &Target) -> Result<TargetState, Failure> {
        let key_id = target.id.trim();
        if key_id.starts_with("ASIA") {
            return Err(Failure::Permanent {
                detail: format!(
                    "{key_id} is a temporary (STS) access key: temporary credentials cannot be \
                     deactivated; deny the role's older sessions (AttachAwsDenyPolicy on its role) \
                     or contain the user that issued them"
                ),
            });
        }
        if key_id.is_empty() || !key_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Failure::Permanent {
                detail: format!("{key_id:?} is not an access key id"),
            });
        }
        let c = self
            .clients
            .iam_for(target.account.as_deref(), "aws")
            .await?;
        let user = match target.owner.as_deref().filter(|o| !o.is_empty()) {
            Some(u) => u.to_string(),
            None => iam::key_owner(&c, key_id).await?,
        };
        let key = iam::find_key(&c, &user, key_id).await?;
        let contained = match kind {
            ActionKind::ReactivateAccessKey => key.status == "Active",
            _ => key.status == "Inactive",
        };
        Ok(TargetState {
            contained,
            summary: format!(
                "access key {} of user {}: status={}",
                key.access_key_id, key.user_name, key.status
            ),
            data: json!({
                "access_key_id": key.access_key_id,
                "user_name": key.user_name,
                "status": key.status,
            }),
        })
    }

    fn key_owner(target: &Target, prior: &TargetState) -> Option<String> {
        prior.data["user_name"]
            .as_str()
            .map(str::to_string)
            .or_else(|| target.owner.clone())
    }

    async fn set_key(
        &self,
        target: &Target,
        prior: &TargetState,
        active: bool,
        ctx: &ActionContext,
    ) -> Result<Done, Failure> {
        let c = self
            .clients
            .iam_for(target.account.as_deref(), "aws")
            .await?;
        let user = match Self::key_owner(target, prior) {
            Some(u) => u,
            None => iam::key_owner(&c, &target.id).await?,
        };
        iam::set_key_status(&c, &user, &target.id, active).await?;
        let status = if active { "Active" } else { "Inactive" };
        tracing::info!(action_id = %ctx.action_id, incident_id = %ctx.incident_id, target = %target.id, status, "access key status set");
        Ok(Done::Applied {
            detail: format!("access key {} of user {user} set {status}", target.id),
            reference: json!({"access_key_id": target.id, "user_name": user, "status": status}),
            reverify_at: None,
        })
    }

    async fn verify_key(&self, kind: ActionKind, target: &Target) -> Result<Verification, Failure> {
        let want = if kind == ActionKind::ReactivateAccessKey {
            "Active"
        } else {
            "Inactive"
        };
        let c = self
            .clients
            .iam_for(target.account.as_deref(), "aws")
            .await?;
        let user = match target.owner.clone() {
            Some(u) => u,
            None => iam::key_owner(&c, &target.id).await?,
        };
        let key = iam::find_key(&c, &user, &target.id).await?;
        Ok(if key.status == want {
            Verification::Effective {
                detail: format!("access key {} of user {user} is {want}", target.id),
            }
        } else {
            Verification::NotYet {
                detail: format!(
                    "access key {} of user {user} still reads {} (IAM propagation)",
                    target.id, key.status
                ),
            }
        })
    }

    /// The ARN to simulate for the caller: a session's role (with its path), or the user.
    async fn simulation_arn(&self, caller: &str) -> Result<String, Failure> {
        match AwsArn::parse(caller) {
            Ok(AwsArn {
                kind: ArnKind::Role { name, .. },
                ..
            }) if caller.contains(":assumed-role/") => {
                let c = self.clients.home();
                iam::get_role(c, &name)
                    .await
                    .map(|EntityInfo { arn, .. }| arn)
            }
            _ => Ok(caller.to_string()),
        }
    }
}

#[async_trait]
impl Responder for IamResponder {
    fn name(&self) -> &'static str {
        "aws-iam"
    }

    fn kinds(&self) -> Vec<ActionKind> {
        vec![
            ActionKind::AttachAwsDenyPolicy,
            ActionKind::DetachAwsDenyPolicy,
            ActionKind::DeactivateAccessKey,
            ActionKind::ReactivateAccessKey,
        ]
    }

    async fn capture(&self, kind: ActionKind, target: &Target) -> Result<TargetState, Failure> {
        match kind {
            ActionKind::AttachAwsDenyPolicy | ActionKind::DetachAwsDenyPolicy => {
                self.capture_principal(kind, target).await
            }
            ActionKind::DeactivateAccessKey | ActionKind::ReactivateAccessKey => {
                self.capture_key(kind, target).await
            }
            other => Err(unsupported(other)),
        }
    }

    async fn apply(
        &self,
        kind: ActionKind,
        target: &Target,
        prior: &TargetState,
        ctx: &ActionContext,
    ) -> Result<Done, Failure> {
        match kind {
            ActionKind::AttachAwsDenyPolicy => self.put_deny(target, prior, ctx).await,
            ActionKind::DetachAwsDenyPolicy => self.remove_deny(target, prior).await,
            ActionKind::DeactivateAccessKey | ActionKind::ReactivateAccessKey => {
                if target.id.starts_with("ASIA") {
                    return Err(Failure::Permanent {
                        detail: format!(
                            "{} is a temporary (STS) access key: temporary credentials cannot be \
                             deactivated; deny the role's older sessions",
                            target.id
                        ),
                    });
                }
                self.set_key(target, prior, kind == ActionKind::ReactivateAccessKey, ctx)
                    .await
            }
            other => Err(unsupported(other)),
        }
    }

    async fn verify(
        &self,
        kind: ActionKind,
        target: &Target,
        applied: &Done,
    ) -> Result<Verification, Failure> {
        match kind {
            ActionKind::AttachAwsDenyPolicy | ActionKind::DetachAwsDenyPolicy => {
                self.verify_deny(kind, target, applied).await
            }
            ActionKind::DeactivateAccessKey | ActionKind::ReactivateAccessKey => {
                self.verify_key(kind, target).await
            }
            other => Err(unsupported(other)),
        }
    }

    async fn revert(
        &self,
        kind: ActionKind,
        target: &Target,
        prior: &TargetState,
        _applied: &Done,
        ctx: &ActionContext,
    ) -> Result<Done, Failure> {
        match kind {
            ActionKind::AttachAwsDenyPolicy | ActionKind::DetachAwsDenyPolicy => {
                let refused = prior.data["class"]
                    .as_str()
                    .and_then(PrincipalClass::parse)
                    .and_then(|c| c.refusal(&target.id));
                if let Some(why) = refused {
                    return Ok(Done::AlreadyInState {
                        detail: format!("nothing was put, nothing to remove: {why}"),
                    });
                }
                match prior.data["policy_document"].as_str() {
                    // Back to exactly the document found before (a stale cut-off, someone
                    // else's document under our name).
                    Some(doc) => self.restore_deny(target, prior, doc).await,
                    None if kind == ActionKind::AttachAwsDenyPolicy => {
                        self.remove_deny(target, prior).await
                    }
                    None => Ok(Done::AlreadyInState {
                        detail: "there was no policy before; nothing to put back".into(),
                    }),
                }
            }
            ActionKind::DeactivateAccessKey | ActionKind::ReactivateAccessKey => {
                let was = prior.data["status"].as_str().unwrap_or_default();
                let (restore_active, wanted) = if kind == ActionKind::DeactivateAccessKey {
                    (true, "Active")
                } else {
                    (false, "Inactive")
                };
                if was != wanted {
                    return Ok(Done::AlreadyInState {
                        detail: format!(
                            "access key {} was {} before; left as it is",
                            target.id,
                            if was.is_empty() { "(unknown)" } else { was }
                        ),
                    });
                }
                self.set_key(target, prior, restore_active, ctx).await
            }
            other => Err(unsupported(other)),
        }
    }

    async fn check(&self) -> PermissionReport {
        let mut report = PermissionReport {
            connector: self.name().into(),
            authenticated: false,
            checked: false,
            detail: String::new(),
            granted: Vec::new(),
            gaps: Vec::new(),
        };
        let (_, caller) = match self.clients.caller_identity().await {
            Ok(c) => c,
            Err(f) => {
                report.detail = format!("sts:GetCallerIdentity failed: {f}");
                return report;
            }
        };
        report.authenticated = true;
        let needed: BTreeSet<&str> = self
            .kinds()
            .into_iter()
            .flat_map(|k| required_permissions(k).iter().copied())
            .collect();
        let needed: Vec<&str> = needed.into_iter().collect();
        let unavailable = |why: String| {
            format!(
                "authenticated as {caller}; permission simulation unavailable ({why}): the \
                 permissions of these credentials were NOT checked"
            )
        };
        let arn = match self.simulation_arn(&caller).await {
            Ok(a) => a,
            Err(f) => {
                report.detail = unavailable(format!("could not resolve the caller's role: {f}"));
                return report;
            }
        };
        let results = match iam::simulate(self.clients.home(), &arn, &needed).await {
            Ok(r) => r,
            Err(f) => {
                report.detail = unavailable(f.to_string());
                return report;
            }
        };
        let known = ["allowed", "explicitDeny", "implicitDeny"];
        let covered = needed.iter().all(|a| {
            results
                .iter()
                .any(|(name, d)| name == a && known.contains(&d.as_str()))
        });
        if !covered {
            report.detail = unavailable(format!(
                "iam:SimulatePrincipalPolicy answered {} result(s) that do not cover the {} actions needed",
                results.len(),
                needed.len()
            ));
            return report;
        }
        report.checked = true;
        report.granted = results
            .iter()
            .filter(|(_, d)| d == "allowed")
            .map(|(a, _)| a.clone())
            .collect();
        report.granted.sort();
        report.granted.dedup();
        for kind in self.kinds() {
            let missing: Vec<String> = required_permissions(kind)
                .iter()
                .filter(|p| !report.granted.iter().any(|g| g == *p))
                .map(|p| p.to_string())
                .collect();
            if !missing.is_empty() {
                report.gaps.push(PermissionGap {
                    action: kind,
                    missing,
                });
            }
        }
        report.detail = format!(
            "authenticated as {caller}; simulated {} IAM actions for {arn}: {} allowed, {} action kind(s) with gaps",
            needed.len(),
            report.granted.len(),
            report.gaps.len()
        );
        report
    }
}

fn unsupported(kind: ActionKind) -> Failure {
    Failure::Permanent {
        detail: format!("the aws-iam connector does not handle {kind}"),
    }
}

//! The Entra ID [`Responder`]: users (disable / enable, revoke sessions) and service principals
//! (disable / enable) through Microsoft Graph.
//!
//! - Every user action reads `accountEnabled`, `userType` and `onPremisesSyncEnabled` first.
//! - A user mastered on-premises (`onPremisesSyncEnabled: true`) is still disabled in the cloud
//!   at once, but the next directory sync enables it again: the action is recorded as
//!   temporary with `reverify_at` = now + the sync interval, and a verify that finds it enabled
//!   again says so (`NotEffective`), so the sync's re-enable is never taken for our undo (C8).
//! - A 403 on a privileged user is a `PermissionMissing` naming the privileged target, never
//!   retried (C9); a 404 is `NotFound`, never success (C2).
//! - Revert restores exactly the `accountEnabled` found before.

use crate::client::{GraphClient, SpRef, USER_SELECT};
use crate::config::{ConfigError, EntraConfig};
use crate::credential::token_roles;
use async_trait::async_trait;
use cordon_core::action::{ActionKind, Target, TargetKind};
use cordon_core::respond::{
    ActionContext, Done, Failure, PermissionGap, PermissionReport, Responder, TargetState,
    Verification,
};
use serde_json::{json, Value};

/// One permission need: any of these application permissions (Graph `roles`) will do; the
/// first is the least privileged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    pub any_of: &'static [&'static str],
}

impl Requirement {
    pub fn met(&self, roles: &[String]) -> bool {
        roles.iter().any(|r| self.any_of.contains(&r.as_str()))
    }
    pub fn least(&self) -> &'static str {
        self.any_of.first().copied().unwrap_or("unknown")
    }
    /// `User.EnableDisableAccount.All (or User.ReadWrite.All, Directory.ReadWrite.All)`.
    pub fn describe(&self) -> String {
        match self.any_of {
            [] => "unknown".into(),
            [one] => (*one).into(),
            [first, rest @ ..] => format!("{first} (or {})", rest.join(", ")),
        }
    }
}

/// Read users (every user action reads the user first).
pub const USER_READ: Requirement = Requirement {
    any_of: &[
        "User.Read.All",
        "User.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
};
/// Change a user's `accountEnabled`.
pub const USER_ENABLE: Requirement = Requirement {
    any_of: &[
        "User.EnableDisableAccount.All",
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
};
/// Revoke a user's sign-in sessions.
pub const USER_REVOKE: Requirement = Requirement {
    any_of: &[
        "User.RevokeSessions.All",
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
};
/// Read service principals.
pub const SP_READ: Requirement = Requirement {
    any_of: &[
        "Application.Read.All",
        "Application.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
};
/// Change a service principal's `accountEnabled`. `Application.ReadWrite.OwnedBy` is not
/// enough: it only covers apps Cordon's own app owns, never an attacker's consented app.
pub const SP_WRITE: Requirement = Requirement {
    any_of: &["Application.ReadWrite.All", "Directory.ReadWrite.All"],
};

/// The application permissions each action kind needs (`cordon doctor`, C15).
pub fn required_permissions(kind: ActionKind) -> Vec<Requirement> {
    match kind {
        ActionKind::DisableUser | ActionKind::EnableUser => vec![USER_READ, USER_ENABLE],
        ActionKind::RevokeSessions => vec![USER_READ, USER_REVOKE],
        ActionKind::DisableOauthApp | ActionKind::EnableOauthApp => vec![SP_READ, SP_WRITE],
        _ => Vec::new(),
    }
}

const KINDS: [ActionKind; 5] = [
    ActionKind::DisableUser,
    ActionKind::EnableUser,
    ActionKind::RevokeSessions,
    ActionKind::DisableOauthApp,
    ActionKind::EnableOauthApp,
];

/// What an action acts on.
enum Subject {
    User(String),
    App(SpRef),
}

/// The Entra ID responder.
#[derive(Debug)]
pub struct EntraResponder {
    graph: GraphClient,
    sync_interval: chrono::Duration,
}

impl EntraResponder {
    /// Validates the configuration and builds the credential and the Graph client. Reads the
    /// certificate or federated token file now: a bad credential file fails at start.
    pub fn from_config(cfg: &EntraConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        Ok(Self {
            graph: GraphClient::from_config(cfg)?,
            sync_interval: cfg.sync_interval(),
        })
    }

    pub fn graph(&self) -> &GraphClient {
        &self.graph
    }

    fn subject(kind: ActionKind, target: &Target) -> Result<Subject, Failure> {
        if !KINDS.contains(&kind) {
            return Err(Failure::Permanent {
                detail: format!("the entra connector does not handle {kind}"),
            });
        }
        if target.kind != kind.target_kind() {
            return Err(Failure::Permanent {
                detail: format!(
                    "{kind} needs a {:?} target, got {:?}",
                    kind.target_kind(),
                    target.kind
                ),
            });
        }
        match target.kind {
            TargetKind::EntraUser if !target.id.is_empty() => Ok(Subject::User(target.id.clone())),
            TargetKind::OauthApp => SpRef::parse(&target.id).map(Subject::App),
            _ => Err(Failure::Permanent {
                detail: format!("target `{}` is not an Entra user or OAuth app", target.id),
            }),
        }
    }

    /// The `accountEnabled` value `kind` puts the target in (`None` for revoke).
    fn wanted(kind: ActionKind) -> Option<bool> {
        match kind {
            ActionKind::DisableUser | ActionKind::DisableOauthApp => Some(false),
            ActionKind::EnableUser | ActionKind::EnableOauthApp => Some(true),
            _ => None,
        }
    }

    async fn read(&self, subject: &Subject) -> Result<Value, Failure> {
        let mut v = match subject {
            Subject::User(id) => self.graph.get_user(id, USER_SELECT).await?,
            Subject::App(sp) => self.graph.get_sp(sp).await?,
        };
        if let Some(o) = v.as_object_mut() {
            o.retain(|k, _| !k.starts_with("@odata"));
        }
        Ok(v)
    }

    async fn set_enabled(&self, subject: &Subject, enabled: bool) -> Result<(), Failure> {
        match subject {
            Subject::User(id) => self.graph.set_user_enabled(id, enabled).await,
            Subject::App(sp) => self.graph.set_sp_enabled(sp, enabled).await,
        }
    }
}

fn enabled_of(v: &Value) -> Result<bool, Failure> {
    v.get("accountEnabled")
        .and_then(Value::as_bool)
        .ok_or_else(|| Failure::Permanent {
            detail: format!("Graph did not return accountEnabled: {v}"),
        })
}

fn synced(v: &Value) -> bool {
    v.get("onPremisesSyncEnabled").and_then(Value::as_bool) == Some(true)
}

fn is_guest(v: &Value) -> bool {
    v.get("userType")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("Guest"))
}

fn name_of(v: &Value, fallback: &str) -> String {
    v.get("userPrincipalName")
        .or_else(|| v.get("displayName"))
        .and_then(Value::as_str)
        .unwrap_or(fallback)
        .to_string()
}

fn summary(v: &Value) -> String {
    let show = |k: &str| match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "null".into(),
        Some(x) => x.to_string(),
    };
    if v.get("appId").is_some() {
        format!(
            "accountEnabled={}, appId={}, displayName={}",
            show("accountEnabled"),
            show("appId"),
            show("displayName")
        )
    } else {
        format!(
            "accountEnabled={}, userType={}, onPremisesSyncEnabled={}",
            show("accountEnabled"),
            show("userType"),
            show("onPremisesSyncEnabled")
        )
    }
}

const GUEST_NOTE: &str = "guest (B2B) user: only sessions in this tenant are revoked, not those in the user's home tenant";

#[async_trait]
impl Responder for EntraResponder {
    fn name(&self) -> &'static str {
        "entra"
    }

    fn kinds(&self) -> Vec<ActionKind> {
        KINDS.to_vec()
    }

    async fn capture(&self, kind: ActionKind, target: &Target) -> Result<TargetState, Failure> {
        let subject = Self::subject(kind, target)?;
        let data = self.read(&subject).await?;
        let contained = match Self::wanted(kind) {
            Some(want) => enabled_of(&data)? == want,
            // Sessions can always be revoked again; nothing to read that says "already revoked".
            None => false,
        };
        Ok(TargetState {
            contained,
            summary: summary(&data),
            data,
        })
    }

    async fn apply(
        &self,
        kind: ActionKind,
        target: &Target,
        prior: &TargetState,
        ctx: &ActionContext,
    ) -> Result<Done, Failure> {
        let subject = Self::subject(kind, target)?;
        let name = name_of(&prior.data, &target.id);
        let Some(want) = Self::wanted(kind) else {
            // Revoke sessions.
            let Subject::User(id) = &subject else {
                return Err(Failure::Permanent {
                    detail: "revoke needs a user".into(),
                });
            };
            let value = self.graph.revoke_sessions(id).await?;
            let mut detail =
                format!("sign-in sessions of {name} revoked (refresh tokens and session cookies)");
            if is_guest(&prior.data) {
                detail.push_str("; ");
                detail.push_str(GUEST_NOTE);
            }
            let reference = json!({"value": value, "revokedAt": ctx.now.to_rfc3339()});
            tracing::info!(action_id = %ctx.action_id, incident_id = %ctx.incident_id, target = %target, "entra: sessions revoked");
            return Ok(if value == Some(true) {
                Done::Applied {
                    detail,
                    reference,
                    reverify_at: None,
                }
            } else {
                Done::Pending {
                    detail: format!("{detail}; Graph did not answer value=true, verifying from signInSessionsValidFromDateTime"),
                    reference,
                }
            });
        };
        if prior.contained {
            return Ok(Done::AlreadyInState {
                detail: format!("already accountEnabled={want}: {}", prior.summary),
            });
        }
        self.set_enabled(&subject, want).await?;
        tracing::info!(action_id = %ctx.action_id, incident_id = %ctx.incident_id, target = %target, account_enabled = want, "entra: accountEnabled set");
        let on_prem = matches!(subject, Subject::User(_)) && synced(&prior.data);
        let mut reference = json!({"accountEnabled": want});
        if let Some(id) = prior.data.get("id") {
            reference["id"] = id.clone();
        }
        if on_prem && !want {
            reference["onPremisesSyncEnabled"] = json!(true);
            let at = ctx.now + self.sync_interval;
            return Ok(Done::Applied {
                detail: format!(
                    "{name} disabled in the cloud, but the account is mastered on-premises \
                     (onPremisesSyncEnabled=true): temporary, the next directory sync enables it again; \
                     re-verify at {} and disable it in on-premises AD to make it last",
                    at.to_rfc3339()
                ),
                reference,
                reverify_at: Some(at),
            });
        }
        Ok(Done::Applied {
            detail: format!("{name}: accountEnabled set to {want}"),
            reference,
            reverify_at: None,
        })
    }

    async fn verify(
        &self,
        kind: ActionKind,
        target: &Target,
        applied: &Done,
    ) -> Result<Verification, Failure> {
        let subject = Self::subject(kind, target)?;
        let Some(want) = Self::wanted(kind) else {
            // Revoke: effective once Graph answered true; otherwise read the cut-off it keeps.
            let (reference, answered_true) = match applied {
                Done::Applied { reference, .. } => {
                    (reference, reference.get("value") == Some(&json!(true)))
                }
                Done::Pending { reference, .. } => (reference, false),
                Done::AlreadyInState { detail } => {
                    return Ok(Verification::Effective {
                        detail: detail.clone(),
                    })
                }
            };
            if answered_true {
                return Ok(Verification::Effective {
                    detail: "Graph answered revokeSignInSessions value=true".into(),
                });
            }
            let Subject::User(id) = &subject else {
                return Err(Failure::Permanent {
                    detail: "revoke needs a user".into(),
                });
            };
            let v = self
                .graph
                .get_user(id, "id,signInSessionsValidFromDateTime")
                .await?;
            let parse = |s: Option<&str>| {
                s.and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| t.with_timezone(&chrono::Utc))
            };
            let valid_from = parse(
                v.get("signInSessionsValidFromDateTime")
                    .and_then(Value::as_str),
            );
            let revoked_at = parse(reference.get("revokedAt").and_then(Value::as_str));
            return Ok(match (valid_from, revoked_at) {
                // Graph keeps whole seconds.
                (Some(f), Some(r)) if f >= r - chrono::Duration::seconds(1) => {
                    Verification::Effective {
                        detail: format!("signInSessionsValidFromDateTime={}", f.to_rfc3339()),
                    }
                }
                _ => Verification::NotYet {
                    detail: "signInSessionsValidFromDateTime is older than the revocation".into(),
                },
            });
        };
        let v = self.read(&subject).await?;
        let now = enabled_of(&v)?;
        Ok(if now == want {
            Verification::Effective {
                detail: format!("accountEnabled={now}"),
            }
        } else if matches!(subject, Subject::User(_)) && synced(&v) {
            Verification::NotEffective {
                detail: format!(
                    "accountEnabled={now} again: the account is mastered on-premises and the directory sync \
                     undid the cloud change; re-apply and disable it in on-premises AD, or escalate"
                ),
            }
        } else {
            Verification::NotYet {
                detail: format!("accountEnabled={now} (Graph replicas may lag)"),
            }
        })
    }

    async fn revert(
        &self,
        kind: ActionKind,
        target: &Target,
        prior: &TargetState,
        _applied: &Done,
        ctx: &ActionContext,
    ) -> Result<Done, Failure> {
        let subject = Self::subject(kind, target)?;
        if Self::wanted(kind).is_none() {
            return Ok(Done::AlreadyInState {
                detail: "revoked sessions are not restored: the user signs in again".into(),
            });
        }
        if prior.contained {
            return Ok(Done::AlreadyInState {
                detail: format!(
                    "it already was in that state before Cordon acted; left as found ({})",
                    prior.summary
                ),
            });
        }
        let Some(before) = prior.data.get("accountEnabled").and_then(Value::as_bool) else {
            return Err(Failure::Permanent {
                detail:
                    "the state before the action was not recorded: not guessing what to restore"
                        .into(),
            });
        };
        let current = self.read(&subject).await?;
        if enabled_of(&current)? == before {
            return Ok(Done::AlreadyInState {
                detail: format!(
                    "already back to accountEnabled={before}: {}",
                    summary(&current)
                ),
            });
        }
        self.set_enabled(&subject, before).await?;
        tracing::info!(action_id = %ctx.action_id, target = %target, account_enabled = before, "entra: restored");
        Ok(Done::Applied {
            detail: format!(
                "{}: accountEnabled restored to {before}",
                name_of(&current, &target.id)
            ),
            reference: json!({"accountEnabled": before}),
            reverify_at: None,
        })
    }

    async fn check(&self) -> PermissionReport {
        let mut report = PermissionReport {
            connector: "entra".into(),
            authenticated: false,
            checked: true,
            detail: String::new(),
            granted: Vec::new(),
            gaps: Vec::new(),
        };
        let token = match self.graph.tokens().token().await {
            Ok(t) => t,
            Err(f) => {
                report.detail = f.to_string();
                return report;
            }
        };
        report.authenticated = true;
        match token_roles(&token) {
            Ok(roles) => report.granted = roles,
            Err(e) => {
                report.detail = format!("token acquired, but its permissions cannot be read: {e}");
                return report;
            }
        }
        for kind in KINDS {
            let missing: Vec<String> = required_permissions(kind)
                .iter()
                .filter(|r| !r.met(&report.granted))
                .map(Requirement::describe)
                .collect();
            if !missing.is_empty() {
                report.gaps.push(PermissionGap {
                    action: kind,
                    missing,
                });
            }
        }
        report.detail = if report.gaps.is_empty() {
            format!(
                "token carries every permission the Entra actions need ({} roles)",
                report.granted.len()
            )
        } else {
            format!(
                "token carries {} roles; {} action kinds lack permissions",
                report.granted.len(),
                report.gaps.len()
            )
        };
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_read_well() {
        assert_eq!(
            USER_ENABLE.describe(),
            "User.EnableDisableAccount.All (or User.ReadWrite.All, Directory.ReadWrite.All)"
        );
        assert!(USER_ENABLE.met(&["User.ReadWrite.All".to_string()]));
        assert!(!SP_WRITE.met(&["Application.ReadWrite.OwnedBy".to_string()]));
        for k in KINDS {
            assert!(!required_permissions(k).is_empty(), "{k}");
        }
    }

    #[test]
    fn targets() {
        let t = |kind, id: &str| Target {
            kind,
            id: id.into(),
            owner: None,
            account: None,
        };
        assert!(EntraResponder::subject(
            ActionKind::DisableOauthApp,
            &t(TargetKind::OauthApp, "x")
        )
        .is_err());
        assert!(EntraResponder::subject(
            ActionKind::DisableOauthApp,
            &t(TargetKind::OauthApp, "app:1")
        )
        .is_ok());
        assert!(
            EntraResponder::subject(ActionKind::DisableUser, &t(TargetKind::OauthApp, "sp:1"))
                .is_err()
        );
        assert!(EntraResponder::subject(
            ActionKind::IsolateDevice,
            &t(TargetKind::Device, "mde:1")
        )
        .is_err());
    }
}

//! [`Responder`] for Okta, driven by the user's status (`../shared/cases` C10):
//!
//! | kind | status read first | outcome |
//! |---|---|---|
//! | `SuspendOktaUser` | ACTIVE | suspend (which also ends the user's Okta sessions) |
//! | | SUSPENDED, DEPROVISIONED | already contained: the executor records a no-op |
//! | | STAGED, PROVISIONED, RECOVERY, LOCKED_OUT, PASSWORD_EXPIRED, … | not suspended: `Permanent`, a person decides |
//! | `ClearOktaSessions` | any | clear sessions and OAuth tokens (never "already contained") |
//! | `UnsuspendOktaUser` | SUSPENDED → unsuspend; ACTIVE → already so; other → a person decides |
//!
//! Undo only unsuspends what Cordon suspended: the user was ACTIVE before and is SUSPENDED now.
//! A user someone else changed since (unsuspended, deactivated) is left as found.

use crate::client::{OktaClient, OktaUser};
use crate::config::{OktaConfig, SCOPE_MANAGE, SCOPE_READ};
use crate::error::ConfigError;
use async_trait::async_trait;
use cordon_core::action::{ActionKind, Target, TargetKind};
use cordon_core::ids::{OktaId, Upn};
use cordon_core::respond::{
    ActionContext, Done, Failure, PermissionGap, PermissionReport, Responder, TargetState,
    Verification,
};
use serde_json::{json, Value};

const KINDS: [ActionKind; 3] = [
    ActionKind::SuspendOktaUser,
    ActionKind::UnsuspendOktaUser,
    ActionKind::ClearOktaSessions,
];

/// The scopes each action kind needs: reading the user's status first, then the change.
pub fn required_permissions(kind: ActionKind) -> &'static [&'static str] {
    match kind {
        ActionKind::SuspendOktaUser
        | ActionKind::UnsuspendOktaUser
        | ActionKind::ClearOktaSessions => &[SCOPE_READ, SCOPE_MANAGE],
        _ => &[],
    }
}

/// What is missing from `granted` for `kind` (`okta.users.manage` covers `okta.users.read`).
fn missing(kind: ActionKind, granted: &[String]) -> Vec<String> {
    let has = |s: &str| granted.iter().any(|g| g == s);
    required_permissions(kind)
        .iter()
        .filter(|p| !(has(p) || (**p == SCOPE_READ && has(SCOPE_MANAGE))))
        .map(|p| p.to_string())
        .collect()
}

pub struct OktaResponder {
    client: OktaClient,
}

/// A user as named by the target: an Okta id or a login.
fn user_ref(target: &Target) -> Result<String, Failure> {
    if target.kind != TargetKind::OktaUser {
        return Err(Failure::Permanent {
            detail: format!(
                "okta: target {target} is a {:?}, not an Okta user",
                target.kind
            ),
        });
    }
    let parsed = if target.id.contains('@') {
        Upn::parse(&target.id).map(|u| u.as_str().to_string())
    } else {
        OktaId::parse(&target.id).map(|i| i.as_str().to_string())
    };
    parsed.map_err(|e| Failure::Permanent {
        detail: format!(
            "okta: target {:?} is not an Okta id or login: {e}",
            target.id
        ),
    })
}

fn status_meaning(status: &str) -> &'static str {
    match status {
        "ACTIVE" => "active",
        "SUSPENDED" => "suspended: cannot sign in",
        "DEPROVISIONED" => "deactivated: cannot sign in",
        "LOCKED_OUT" => "locked out",
        "PASSWORD_EXPIRED" => "password expired",
        "RECOVERY" => "in password recovery",
        "STAGED" => "staged, never activated",
        "PROVISIONED" => "provisioned, not yet activated by the user",
        _ => "status unknown to Cordon",
    }
}

fn state_of(kind: ActionKind, u: &OktaUser) -> TargetState {
    let contained = match kind {
        ActionKind::SuspendOktaUser => matches!(u.status.as_str(), "SUSPENDED" | "DEPROVISIONED"),
        ActionKind::UnsuspendOktaUser => u.status == "ACTIVE",
        _ => false,
    };
    let note = match (kind, u.status.as_str()) {
        (ActionKind::SuspendOktaUser, "ACTIVE") | (ActionKind::UnsuspendOktaUser, "SUSPENDED") => {
            String::new()
        }
        (ActionKind::SuspendOktaUser | ActionKind::UnsuspendOktaUser, _) if contained => {
            "; already contained, nothing to do".to_string()
        }
        (ActionKind::SuspendOktaUser | ActionKind::UnsuspendOktaUser, _) => {
            format!(
                "; {kind} applies to {} users only: a person must decide",
                from_status(kind)
            )
        }
        _ => String::new(),
    };
    TargetState {
        contained,
        summary: format!(
            "Okta user {} ({}): status={} ({}){note}",
            u.login,
            u.id,
            u.status,
            status_meaning(&u.status)
        ),
        data: json!({
            "id": u.id, "login": u.login, "status": u.status, "statusChanged": u.status_changed,
        }),
    }
}

/// The status a lifecycle kind starts from, and the one it leads to.
fn from_status(kind: ActionKind) -> &'static str {
    if kind == ActionKind::UnsuspendOktaUser {
        "SUSPENDED"
    } else {
        "ACTIVE"
    }
}
fn to_status(kind: ActionKind) -> &'static str {
    if kind == ActionKind::UnsuspendOktaUser {
        "ACTIVE"
    } else {
        "SUSPENDED"
    }
}
fn op(kind: ActionKind) -> &'static str {
    if kind == ActionKind::UnsuspendOktaUser {
        "unsuspend"
    } else {
        "suspend"
    }
}
fn inverse(kind: ActionKind) -> ActionKind {
    if kind == ActionKind::UnsuspendOktaUser {
        ActionKind::SuspendOktaUser
    } else {
        ActionKind::UnsuspendOktaUser
    }
}

fn data_str<'a>(state: &'a TargetState, key: &str) -> Option<&'a str> {
    state.data.get(key).and_then(Value::as_str)
}

impl OktaResponder {
    /// Validates the configuration, loads the key, and builds the HTTP client. No network.
    pub fn new(config: &OktaConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            client: OktaClient::new(config)?,
        })
    }

    pub fn client(&self) -> &OktaClient {
        &self.client
    }

    /// The user id to act on: the one read at capture, else resolved from the target now.
    async fn user_id(&self, target: &Target, prior: &TargetState) -> Result<String, Failure> {
        match data_str(prior, "id") {
            Some(id) => Ok(id.to_string()),
            None => Ok(self.client.get_user(&user_ref(target)?).await?.id),
        }
    }

    /// Runs a lifecycle `kind` on a user found in `status` (the forward action).
    async fn lifecycle(
        &self,
        kind: ActionKind,
        target: &Target,
        prior: &TargetState,
    ) -> Result<Done, Failure> {
        let status = data_str(prior, "status").unwrap_or_default();
        let id = self.user_id(target, prior).await?;
        let login = data_str(prior, "login").unwrap_or(&target.id).to_string();
        if prior.contained || (kind == ActionKind::SuspendOktaUser && status == "DEPROVISIONED") {
            return Ok(Done::AlreadyInState {
                detail: format!("Okta user {login} ({id}) already is {status}; nothing done"),
            });
        }
        if status != from_status(kind) {
            return Err(Failure::Permanent {
                detail: format!(
                    "Okta user {login} ({id}) is {status} ({}), not {}: Cordon does not {} it; a person must decide what to do with this account",
                    status_meaning(status),
                    from_status(kind),
                    op(kind)
                ),
            });
        }
        self.client.lifecycle(&id, op(kind)).await?;
        let also = if kind == ActionKind::SuspendOktaUser {
            "; Okta ended their sessions"
        } else {
            ""
        };
        Ok(Done::Applied {
            detail: format!(
                "Okta user {login} ({id}) {}ed: {status} → {}{also}",
                op(kind),
                to_status(kind)
            ),
            reference: json!({"user_id": id, "prior_status": status}),
            reverify_at: None,
        })
    }

    /// Undoes a lifecycle `kind`: only when Cordon made the change (the user was in its `from`
    /// status before) and the user is still in its `to` status.
    async fn undo_lifecycle(
        &self,
        kind: ActionKind,
        target: &Target,
        prior: &TargetState,
        applied: &Done,
    ) -> Result<Done, Failure> {
        let before = data_str(prior, "status").unwrap_or_default();
        if prior.contained
            || before != from_status(kind)
            || matches!(applied, Done::AlreadyInState { .. })
        {
            return Ok(Done::AlreadyInState {
                detail: format!(
                    "Okta user {} was {before} before Cordon acted; Cordon did not {} it, so it is left as found",
                    data_str(prior, "login").unwrap_or(&target.id),
                    op(kind)
                ),
            });
        }
        let id = self.user_id(target, prior).await?;
        let now = self.client.get_user(&id).await?;
        if now.status == before {
            return Ok(Done::AlreadyInState {
                detail: format!(
                    "Okta user {} ({id}) already is {before} again (someone changed it since Cordon acted); nothing done",
                    now.login
                ),
            });
        }
        if now.status != to_status(kind) {
            return Ok(Done::AlreadyInState {
                detail: format!(
                    "Okta user {} ({id}) is now {} ({}), not {}: someone changed it after Cordon acted; left as found",
                    now.login,
                    now.status,
                    status_meaning(&now.status),
                    to_status(kind)
                ),
            });
        }
        self.client.lifecycle(&id, op(inverse(kind))).await?;
        Ok(Done::Applied {
            detail: format!(
                "Okta user {} ({id}) {}ed: {} → {before}, as found before Cordon acted",
                now.login,
                op(inverse(kind)),
                now.status
            ),
            reference: json!({"user_id": id, "restored_status": before}),
            reverify_at: None,
        })
    }
}

#[async_trait]
impl Responder for OktaResponder {
    fn name(&self) -> &'static str {
        "okta"
    }

    fn kinds(&self) -> Vec<ActionKind> {
        KINDS.to_vec()
    }

    async fn capture(&self, kind: ActionKind, target: &Target) -> Result<TargetState, Failure> {
        unsupported(kind)?;
        let user = self.client.get_user(&user_ref(target)?).await?;
        Ok(state_of(kind, &user))
    }

    async fn apply(
        &self,
        kind: ActionKind,
        target: &Target,
        prior: &TargetState,
        _ctx: &ActionContext,
    ) -> Result<Done, Failure> {
        unsupported(kind)?;
        match kind {
            ActionKind::ClearOktaSessions => {
                let id = self.user_id(target, prior).await?;
                self.client.clear_sessions(&id, true).await?;
                Ok(Done::Applied {
                    detail: format!(
                        "cleared the Okta sessions and OAuth tokens of {} ({id})",
                        data_str(prior, "login").unwrap_or(&target.id)
                    ),
                    reference: json!({"user_id": id, "oauth_tokens": true}),
                    reverify_at: None,
                })
            }
            _ => self.lifecycle(kind, target, prior).await,
        }
    }

    async fn verify(
        &self,
        kind: ActionKind,
        target: &Target,
        applied: &Done,
    ) -> Result<Verification, Failure> {
        unsupported(kind)?;
        let reference = match applied {
            Done::Applied { reference, .. } | Done::Pending { reference, .. } => reference,
            Done::AlreadyInState { .. } => &Value::Null,
        };
        let who = match reference.get("user_id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => user_ref(target)?,
        };
        let u = self.client.get_user(&who).await?;
        if kind == ActionKind::ClearOktaSessions {
            return Ok(Verification::Effective {
                detail: format!(
                    "Okta accepted the session clear for {} ({}) with 204; Okta has no API to list a user's sessions, so that answer is the evidence",
                    u.login, u.id
                ),
            });
        }
        let wanted = to_status(kind);
        let ok = u.status == wanted
            || (kind == ActionKind::SuspendOktaUser && u.status == "DEPROVISIONED");
        let detail = format!(
            "Okta user {} ({}) is {} ({})",
            u.login,
            u.id,
            u.status,
            status_meaning(&u.status)
        );
        Ok(if ok {
            Verification::Effective { detail }
        } else {
            Verification::NotEffective {
                detail: format!("{detail}, not {wanted}"),
            }
        })
    }

    async fn revert(
        &self,
        kind: ActionKind,
        target: &Target,
        prior: &TargetState,
        applied: &Done,
        _ctx: &ActionContext,
    ) -> Result<Done, Failure> {
        unsupported(kind)?;
        match kind {
            ActionKind::ClearOktaSessions => Ok(Done::AlreadyInState {
                detail: "cleared Okta sessions and OAuth tokens cannot be restored and need no undo: the user signs in again".into(),
            }),
            _ => self.undo_lifecycle(kind, target, prior, applied).await,
        }
    }

    async fn check(&self) -> PermissionReport {
        let mut report = PermissionReport {
            connector: "okta".into(),
            authenticated: false,
            checked: true,
            detail: String::new(),
            granted: Vec::new(),
            gaps: Vec::new(),
        };
        if self.client.is_api_token() {
            match self.client.probe().await {
                Ok(()) => {
                    report.authenticated = true;
                    report.granted =
                        vec!["API token: the admin roles of the admin who created it".into()];
                    report.detail = "the API token works (GET /api/v1/users?limit=1). An Okta API token carries the permissions of the admin who created it, which the token cannot show: that admin needs a role that manages the users Cordon may suspend (Super Administrator for admins, else Organization, Group or Help Desk Administrator over them); a missing permission shows as 403 at action time".into();
                }
                Err(f) => report.detail = format!("the API token does not work: {f}"),
            }
            return report;
        }
        let granted = match self.client.granted_scopes().await {
            Ok(Some(g)) => g,
            Ok(None) => Vec::new(),
            Err(f) => {
                report.detail = format!("no access token for the service app: {f}");
                return report;
            }
        };
        report.authenticated = true;
        report.granted = granted.clone();
        report.gaps = KINDS
            .iter()
            .map(|k| PermissionGap {
                action: *k,
                missing: missing(*k, &granted),
            })
            .filter(|g| !g.missing.is_empty())
            .collect();
        let probe = if missing(ActionKind::SuspendOktaUser, &granted)
            .iter()
            .any(|m| m == SCOPE_READ)
        {
            "users cannot be read with these scopes".to_string()
        } else {
            match self.client.probe().await {
                Ok(()) => "reading users works".to_string(),
                Err(f) => format!("reading users failed: {f}"),
            }
        };
        report.detail = format!(
            "service app token granted scopes [{}]; {probe}; {}",
            granted.join(" "),
            if report.gaps.is_empty() {
                "every Okta action is covered (the app also needs an admin role over the users: e.g. Help Desk Administrator)".to_string()
            } else {
                format!("missing for some actions: grant {SCOPE_MANAGE} / {SCOPE_READ} to the app and list them in auth.scopes")
            }
        );
        report
    }
}

fn unsupported(kind: ActionKind) -> Result<(), Failure> {
    if KINDS.contains(&kind) {
        Ok(())
    } else {
        Err(Failure::Permanent {
            detail: format!("okta: {kind} is not an Okta action"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manage_covers_read() {
        let g = vec![SCOPE_MANAGE.to_string()];
        assert!(missing(ActionKind::SuspendOktaUser, &g).is_empty());
        let g = vec![SCOPE_READ.to_string()];
        assert_eq!(
            missing(ActionKind::ClearOktaSessions, &g),
            vec![SCOPE_MANAGE.to_string()]
        );
    }

    #[test]
    fn targets_are_ids_or_logins() {
        let t = |id: &str| Target {
            kind: TargetKind::OktaUser,
            id: id.into(),
            owner: None,
            account: None,
        };
        assert_eq!(user_ref(&t("00uabc12345")).unwrap(), "00uabc12345");
        assert_eq!(
            user_ref(&t("[\"Alice@Example.com\"]")).unwrap(),
            "alice@example.com"
        );
        assert!(matches!(
            user_ref(&t("../../admin")),
            Err(Failure::Permanent { .. })
        ));
    }
}

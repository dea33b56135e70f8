//! The outbound port: responders that contain a target and undo it, and the typed outcomes a
//! caller can act on (`../shared/cases` C9–C17).
//!
//! A responder does four things for one target and one action kind: read the current state,
//! apply, verify, and revert to a recorded state. It never decides; it reports what happened in
//! terms the executor can act on: retry after a delay, stop and tell a person, or verify later.

use crate::action::{ActionKind, Target};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The state of a target as a responder read it before acting: what undo restores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetState {
    /// Whether the target is already in the state the action would put it in.
    pub contained: bool,
    /// What a person reads: `accountEnabled=true, userType=Member, onPremisesSyncEnabled=false`.
    pub summary: String,
    /// The vendor's own fields, as read (restored on undo).
    pub data: serde_json::Value,
}

/// A successful apply or revert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Done {
    /// The change was made and read back.
    Applied {
        detail: String,
        /// Vendor references needed later (machine action id, indicator id, policy name,
        /// token cut-off time).
        #[serde(default)]
        reference: serde_json::Value,
        /// The effect may be undone by the vendor itself (on-prem sync re-enabling a user, C8):
        /// re-verify at this time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reverify_at: Option<DateTime<Utc>>,
    },
    /// Nothing to do: the target already was in that state. Its undo changes nothing.
    AlreadyInState { detail: String },
    /// Accepted by the vendor but not effective yet (an isolate on an offline device, IAM
    /// eventual consistency). Never reported as contained; verified later (C13, C14).
    Pending {
        detail: String,
        #[serde(default)]
        reference: serde_json::Value,
    },
}

/// Why a responder call did not succeed; each variant says what the caller can do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum Failure {
    /// The target does not exist (404, `NoSuchEntity`, `E0000007`). A person is told; never
    /// success (C2).
    #[error("target not found: {detail}")]
    NotFound { detail: String },
    /// Throttled; retry after the vendor's delay (or a backoff when it gave none).
    #[error("rate limited (retry after {retry_after_ms:?} ms): {detail}")]
    RateLimited {
        retry_after_ms: Option<u64>,
        detail: String,
    },
    /// The credentials lack a permission, or the target is privileged (C9, C15). Not retried.
    #[error("permission missing: {permission}: {detail}")]
    PermissionMissing { permission: String, detail: String },
    /// The vendor refused for good (bad request, unmodifiable entity, wrong state). Not retried.
    #[error("permanent error: {detail}")]
    Permanent { detail: String },
    /// Worth retrying (5xx, connection refused before the request was sent).
    #[error("transient error: {detail}")]
    Transient { detail: String },
    /// Whether the change happened is not known (timeout after sending a mutating call).
    /// Recorded as unknown and verified later, never as success or failure (C17).
    #[error("outcome unknown: {detail}")]
    Unknown { detail: String },
    /// The credentials were refused (401).
    #[error("authentication failed: {detail}")]
    Unauthenticated { detail: String },
}

impl Failure {
    /// Whether retrying the same call can help.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            Failure::RateLimited { .. } | Failure::Transient { .. }
        )
    }
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Failure::RateLimited { retry_after_ms, .. } => {
                retry_after_ms.map(Duration::from_millis)
            }
            _ => None,
        }
    }
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::NotFound { .. } => "not_found",
            Failure::RateLimited { .. } => "rate_limited",
            Failure::PermissionMissing { .. } => "permission_missing",
            Failure::Permanent { .. } => "permanent",
            Failure::Transient { .. } => "transient",
            Failure::Unknown { .. } => "unknown",
            Failure::Unauthenticated { .. } => "unauthenticated",
        }
    }
}

/// What verification found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verified", rename_all = "snake_case")]
pub enum Verification {
    /// The target is in the wanted state.
    Effective { detail: String },
    /// Not yet (pending machine action, IAM propagation); try again later.
    NotYet { detail: String },
    /// It will not become effective (machine action failed / timed out / cancelled).
    NotEffective { detail: String },
}

/// Context an apply needs beyond the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionContext {
    pub action_id: String,
    pub incident_id: String,
    /// When the action runs: the `aws:TokenIssueTime` cut-off, comments, expirations.
    pub now: DateTime<Utc>,
    /// A comment the vendor records with the action (MDE, Okta) so a person can trace it.
    pub comment: String,
}

/// One connector's self-check (`cordon doctor`, C15).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PermissionReport {
    pub connector: String,
    /// Whether the credentials worked at all.
    pub authenticated: bool,
    /// Whether the permissions were actually read and compared. `false` when the vendor offers
    /// no way to check (empty `gaps` then means "not known", never "all fine").
    pub checked: bool,
    pub detail: String,
    /// Permissions (roles, scopes, IAM actions) the token carries, as read.
    pub granted: Vec<String>,
    /// For each action kind: the permissions it needs that the token lacks.
    pub gaps: Vec<PermissionGap>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PermissionGap {
    pub action: ActionKind,
    pub missing: Vec<String>,
}

/// A connector that contains targets of some action kinds.
///
/// Every method makes real calls to the vendor and maps its answers to [`Done`] / [`Failure`].
/// Implementations carry explicit connect and request timeouts and map a timeout after a
/// mutating request was sent to [`Failure::Unknown`].
#[async_trait]
pub trait Responder: Send + Sync {
    /// `entra`, `okta`, `aws-iam`, `mde`, `crowdstrike`.
    fn name(&self) -> &'static str;
    /// The action kinds (containments and their reversals) it handles.
    fn kinds(&self) -> Vec<ActionKind>;
    /// Reads the target's current state for `kind`.
    async fn capture(&self, kind: ActionKind, target: &Target) -> Result<TargetState, Failure>;
    /// Applies `kind`. `prior` is what [`Responder::capture`] read just before.
    async fn apply(
        &self,
        kind: ActionKind,
        target: &Target,
        prior: &TargetState,
        ctx: &ActionContext,
    ) -> Result<Done, Failure>;
    /// Reads back whether `kind` is in effect.
    async fn verify(
        &self,
        kind: ActionKind,
        target: &Target,
        applied: &Done,
    ) -> Result<Verification, Failure>;
    /// Undoes `kind` (a containment), back to `prior`; `applied` is what apply returned.
    async fn revert(
        &self,
        kind: ActionKind,
        target: &Target,
        prior: &TargetState,
        applied: &Done,
        ctx: &ActionContext,
    ) -> Result<Done, Failure>;
    /// Checks the credentials and the permissions they carry against what each kind needs.
    async fn check(&self) -> PermissionReport;
}

/// The delay a standard `Retry-After` value asks for, in milliseconds: delay-seconds (an
/// integer, or a decimal some vendors send) or an HTTP date relative to `now` (a date in the
/// past is no delay). Vendors' own rate-limit headers are read by their connectors first.
pub fn retry_after_ms(value: &str, now: DateTime<Utc>) -> Option<u64> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then_some((secs * 1000.0) as u64);
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some(u64::try_from((at - now).num_milliseconds()).unwrap_or(0))
}

/// The `roles` claim of a JWT access token (Microsoft identity platform application
/// permissions), read without checking the signature: the token came straight from the
/// authority and is only read to report which permissions it carries (`cordon doctor`, C15).
///
/// # Errors
/// A token that is not a JWT, or whose payload is not base64url JSON.
pub fn token_roles(token: &str) -> Result<Vec<String>, String> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or("the access token is not a JWT")?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| format!("the access token payload is not base64url: {e}"))?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("the access token payload is not JSON: {e}"))?;
    Ok(claims
        .get("roles")
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retry_after_in_seconds_decimals_and_dates() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        assert_eq!(retry_after_ms("7", now), Some(7000));
        assert_eq!(retry_after_ms(" 1.5 ", now), Some(1500));
        assert_eq!(retry_after_ms("-3", now), None);
        assert_eq!(
            retry_after_ms("Tue, 01 Dec 2026 12:00:30 GMT", now),
            Some(30_000)
        );
        assert_eq!(
            retry_after_ms("Tue, 01 Dec 2026 11:00:00 GMT", now),
            Some(0)
        );
        assert_eq!(retry_after_ms("soon", now), None);
    }

    #[test]
    fn roles_from_a_jwt() {
        let payload = URL_SAFE_NO_PAD.encode(r#"{"roles":["Machine.Isolate","User.Read.All"]}"#);
        assert_eq!(
            token_roles(&format!("h.{payload}.s")).unwrap(),
            vec!["Machine.Isolate", "User.Read.All"]
        );
        assert!(
            token_roles(&format!("h.{}.s", URL_SAFE_NO_PAD.encode("{}")))
                .unwrap()
                .is_empty()
        );
        assert!(token_roles("opaque").is_err());
    }
}

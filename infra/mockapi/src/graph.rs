//! Microsoft Graph v1.0 users and service principals (`/graph/v1.0/…`), stateful and
//! authenticated with bearer tokens from [`crate::identity`] (audience
//! `https://graph.microsoft.com`), answering with Graph's status codes and error bodies.
//!
//! Seed (`"graph"` section):
//! ```json
//! {"users": [{"id": "<guid>", "userPrincipalName": "a@contoso.com", "accountEnabled": true,
//!             "userType": "Member", "onPremisesSyncEnabled": null, "privileged": false}],
//!  "servicePrincipals": [{"id": "<guid>", "appId": "<guid>", "displayName": "App",
//!                         "accountEnabled": true, "owners": ["<client id>"]}]}
//! ```
//!
//! Behaviour worth knowing (each one a real Graph behaviour a client must handle):
//! - `GET /users/{id|upn}` without `$select` returns Graph's default property set, which does
//!   not include `accountEnabled`, `userType` or `onPremisesSyncEnabled`.
//! - Permissions come from the token's `roles`: 403 `Authorization_RequestDenied` when missing.
//! - Changing `accountEnabled` of a `privileged` user (an admin) is a sensitive action: 403
//!   `Authorization_RequestDenied` (`../shared/cases` C9).
//! - An unknown or malformed id (`["a@b.com"]`) is 404 `Request_ResourceNotFound` (C2).
//! - A user with `onPremisesSyncEnabled: true` accepts the PATCH, and `POST /graph/_sync`
//!   (the next directory sync) puts back the on-premises value of `accountEnabled` (C8).
//! - `revokeSignInSessions` sets `signInSessionsValidFromDateTime` to now.

use crate::Shared;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

const AUDIENCE: &str = "https://graph.microsoft.com";
const CONTEXT: &str = "https://graph.microsoft.com/v1.0/$metadata";

/// Read users.
const USER_READ: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
/// Change `accountEnabled` of a user.
const USER_ENABLE: &[&str] = &[
    "User.EnableDisableAccount.All",
    "User.ReadWrite.All",
    "Directory.ReadWrite.All",
];
/// Revoke a user's sign-in sessions.
const USER_REVOKE: &[&str] = &[
    "User.RevokeSessions.All",
    "User.ReadWrite.All",
    "Directory.ReadWrite.All",
];
/// Read service principals.
const SP_READ: &[&str] = &[
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
/// Update service principals (`Application.ReadWrite.OwnedBy` only for the ones it owns).
const SP_WRITE: &[&str] = &["Application.ReadWrite.All", "Directory.ReadWrite.All"];
const SP_WRITE_OWNED: &str = "Application.ReadWrite.OwnedBy";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub user_principal_name: String,
    #[serde(default = "yes")]
    pub account_enabled: bool,
    #[serde(default = "member")]
    pub user_type: String,
    #[serde(default)]
    pub on_premises_sync_enabled: Option<bool>,
    /// Holds a privileged directory role: changing `accountEnabled` is refused (C9).
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub sign_in_sessions_valid_from_date_time: Option<String>,
    /// `accountEnabled` in the on-premises directory (the value the next sync writes back).
    #[serde(skip)]
    pub on_premises_account_enabled: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    pub id: String,
    pub app_id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default = "yes")]
    pub account_enabled: bool,
    /// Client ids of the applications that own it (`Application.ReadWrite.OwnedBy`).
    #[serde(default)]
    pub owners: Vec<String>,
}

fn yes() -> bool {
    true
}
fn member() -> String {
    "Member".into()
}

#[derive(Default)]
pub struct State {
    pub users: Vec<User>,
    pub service_principals: Vec<ServicePrincipal>,
}

impl State {
    pub fn from_seed(v: &Value) -> Result<Self, String> {
        if v.is_null() {
            return Ok(Self::default());
        }
        let mut users: Vec<User> = match v.get("users") {
            Some(u) => serde_json::from_value(u.clone()).map_err(|e| format!("users: {e}"))?,
            None => Vec::new(),
        };
        for u in &mut users {
            u.on_premises_account_enabled = u.account_enabled;
        }
        let service_principals = match v.get("servicePrincipals") {
            Some(s) => {
                serde_json::from_value(s.clone()).map_err(|e| format!("servicePrincipals: {e}"))?
            }
            None => Vec::new(),
        };
        Ok(Self {
            users,
            service_principals,
        })
    }

    /// Users and service principals keyed by object id.
    pub fn snapshot(&self) -> Value {
        let users: Map<String, Value> = self
            .users
            .iter()
            .map(|u| {
                (
                    u.id.clone(),
                    json!({
                        "id": u.id, "userPrincipalName": u.user_principal_name,
                        "accountEnabled": u.account_enabled, "userType": u.user_type,
                        "onPremisesSyncEnabled": u.on_premises_sync_enabled, "privileged": u.privileged,
                        "signInSessionsValidFromDateTime": u.sign_in_sessions_valid_from_date_time,
                    }),
                )
            })
            .collect();
        let sps: Map<String, Value> = self
            .service_principals
            .iter()
            .map(|s| (s.id.clone(), sp_json(s)))
            .collect();
        json!({"users": users, "servicePrincipals": sps})
    }

    fn user_mut(&mut self, key: &str) -> Option<&mut User> {
        self.users.iter_mut().find(|u| {
            u.id.eq_ignore_ascii_case(key) || u.user_principal_name.eq_ignore_ascii_case(key)
        })
    }

    fn sp_mut(&mut self, key: &SpKey) -> Option<&mut ServicePrincipal> {
        self.service_principals.iter_mut().find(|s| match key {
            SpKey::Id(id) => s.id.eq_ignore_ascii_case(id),
            SpKey::AppId(a) => s.app_id.eq_ignore_ascii_case(a),
        })
    }
}

fn user_json(u: &User) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(u.id));
    m.insert("userPrincipalName".into(), json!(u.user_principal_name));
    m.insert("displayName".into(), json!(u.display_name));
    m.insert("mail".into(), json!(u.user_principal_name));
    m.insert("accountEnabled".into(), json!(u.account_enabled));
    m.insert("userType".into(), json!(u.user_type));
    m.insert(
        "onPremisesSyncEnabled".into(),
        json!(u.on_premises_sync_enabled),
    );
    m.insert(
        "signInSessionsValidFromDateTime".into(),
        json!(u.sign_in_sessions_valid_from_date_time),
    );
    m
}

fn sp_json(s: &ServicePrincipal) -> Value {
    json!({"id": s.id, "appId": s.app_id, "displayName": s.display_name, "accountEnabled": s.account_enabled})
}

/// Graph's default user properties (returned without `$select`).
const USER_DEFAULT: &[&str] = &["id", "userPrincipalName", "displayName", "mail"];

fn select(
    mut all: Map<String, Value>,
    query: &HashMap<String, String>,
    default: Option<&[&str]>,
    entity: &str,
) -> Value {
    let wanted: Vec<String> = match query.get("$select") {
        Some(s) => s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        None => match default {
            Some(d) => d.iter().map(|s| s.to_string()).collect(),
            None => all.keys().cloned().collect(),
        },
    };
    let mut out = Map::new();
    let ctx = match query.get("$select") {
        Some(s) => format!("{CONTEXT}#{entity}({s})/$entity"),
        None => format!("{CONTEXT}#{entity}/$entity"),
    };
    out.insert("@odata.context".into(), json!(ctx));
    for k in wanted {
        if let Some(v) = all.remove(&k) {
            out.insert(k, v);
        }
    }
    Value::Object(out)
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v1.0/users/{id}", get(get_user).patch(patch_user))
        .route("/v1.0/users/{id}/revokeSignInSessions", post(revoke))
        .route(
            "/v1.0/servicePrincipals/{id}",
            get(get_sp_by_id).patch(patch_sp_by_id),
        )
        // `/servicePrincipals(appId='…')` is one path segment.
        .route(
            "/v1.0/{segment}",
            get(get_sp_by_segment).patch(patch_sp_by_segment),
        )
        .route("/_sync", post(sync))
}

/// A Graph error body (`{"error": {"code", "message", "innerError"}}`).
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let now = chrono::Utc::now();
    let rid = request_id(now.timestamp_nanos_opt().unwrap_or_default());
    (
        status,
        Json(json!({"error": {"code": code, "message": message, "innerError": {
            "date": now.format("%Y-%m-%dT%H:%M:%S").to_string(), "request-id": rid, "client-request-id": rid,
        }}})),
    )
        .into_response()
}

fn request_id(n: i64) -> String {
    use sha2::{Digest, Sha256};
    let h = hex::encode(Sha256::digest(n.to_le_bytes()));
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        &format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
    )
}

fn denied() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
}

/// The caller's token claims, or Graph's 401.
// Handlers answer with the vendor's error response; its size does not matter here.
#[allow(clippy::result_large_err)]
fn authenticate(s: &Shared, headers: &HeaderMap) -> Result<crate::identity::Claims, Response> {
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let v = s.vendors();
    v.identity.check(auth, AUDIENCE).map_err(|why| {
        let msg = if auth.is_none() {
            "Access token is empty.".to_string()
        } else {
            format!("Access token validation failure. {why}")
        };
        error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", &msg)
    })
}

fn has_any(c: &crate::identity::Claims, wanted: &[&str]) -> bool {
    c.roles.iter().any(|r| wanted.contains(&r.as_str()))
}

/// Graph answers 404 for ids that cannot name an object (`["a@b.com"]`, quotes, braces).
fn malformed(id: &str) -> bool {
    id.is_empty()
        || id
            .chars()
            .any(|c| matches!(c, '[' | ']' | '"' | '{' | '}' | '/' | '\\') || c.is_whitespace())
}

async fn get_user(
    AxState(s): AxState<Shared>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let claims = match authenticate(&s, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !has_any(&claims, USER_READ) {
        return denied();
    }
    if malformed(&id) {
        return not_found(&id);
    }
    let mut v = s.vendors();
    match v.graph.user_mut(&id) {
        Some(u) => Json(select(user_json(u), &q, Some(USER_DEFAULT), "users")).into_response(),
        None => not_found(&id),
    }
}

// Handlers answer with the vendor's error response; its size does not matter here.
#[allow(clippy::result_large_err)]
fn parse_patch(body: &Bytes) -> Result<bool, Response> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Unable to read JSON request payload. {e}"),
        )
    })?;
    let Some(obj) = v.as_object() else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The request payload must be a JSON object.",
        ));
    };
    if let Some(k) = obj.keys().find(|k| k.as_str() != "accountEnabled") {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            &format!(
                "Property '{k}' is not supported by this mock; only accountEnabled can be updated."
            ),
        ));
    }
    match obj.get("accountEnabled") {
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "Invalid value specified for property 'accountEnabled' of resource 'User'.",
        )),
        None => Err(error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "The request payload is empty.",
        )),
    }
}

async fn patch_user(
    AxState(s): AxState<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let claims = match authenticate(&s, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !has_any(&claims, USER_ENABLE) {
        return denied();
    }
    let enabled = match parse_patch(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if malformed(&id) {
        return not_found(&id);
    }
    let mut v = s.vendors();
    let Some(u) = v.graph.user_mut(&id) else {
        return not_found(&id);
    };
    if u.privileged && u.account_enabled != enabled {
        // Sensitive action on a privileged user: the app needs a higher directory role.
        return denied();
    }
    u.account_enabled = enabled;
    if u.on_premises_sync_enabled != Some(true) {
        u.on_premises_account_enabled = enabled;
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn revoke(
    AxState(s): AxState<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let claims = match authenticate(&s, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !has_any(&claims, USER_REVOKE) {
        return denied();
    }
    if malformed(&id) {
        return not_found(&id);
    }
    let mut v = s.vendors();
    let Some(u) = v.graph.user_mut(&id) else {
        return not_found(&id);
    };
    u.sign_in_sessions_valid_from_date_time =
        Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    Json(json!({"@odata.context": format!("{CONTEXT}#Edm.Boolean"), "value": true})).into_response()
}

enum SpKey {
    Id(String),
    AppId(String),
}

impl SpKey {
    fn shown(&self) -> String {
        match self {
            SpKey::Id(i) => i.clone(),
            SpKey::AppId(a) => format!("appId='{a}'"),
        }
    }
}

fn sp_key_of_segment(segment: &str) -> Option<SpKey> {
    let inner = segment
        .strip_prefix("servicePrincipals(")?
        .strip_suffix(')')?;
    let app = inner.strip_prefix("appId=")?;
    let app = app.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(SpKey::AppId(app.to_string()))
}

async fn get_sp(s: Shared, key: SpKey, q: HashMap<String, String>, headers: HeaderMap) -> Response {
    let claims = match authenticate(&s, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !has_any(&claims, SP_READ) {
        return denied();
    }
    let mut v = s.vendors();
    match v.graph.sp_mut(&key) {
        Some(sp) => {
            let all = sp_json(sp).as_object().cloned().unwrap_or_default();
            Json(select(all, &q, None, "servicePrincipals")).into_response()
        }
        None => not_found(&key.shown()),
    }
}

async fn patch_sp(s: Shared, key: SpKey, headers: HeaderMap, body: Bytes) -> Response {
    let claims = match authenticate(&s, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let owned_only = !has_any(&claims, SP_WRITE);
    if owned_only && !claims.roles.iter().any(|r| r == SP_WRITE_OWNED) {
        return denied();
    }
    let enabled = match parse_patch(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut v = s.vendors();
    let Some(sp) = v.graph.sp_mut(&key) else {
        return not_found(&key.shown());
    };
    if owned_only
        && !sp
            .owners
            .iter()
            .any(|o| o.eq_ignore_ascii_case(&claims.client_id))
    {
        return denied();
    }
    sp.account_enabled = enabled;
    StatusCode::NO_CONTENT.into_response()
}

async fn get_sp_by_id(
    AxState(s): AxState<Shared>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    get_sp(s, SpKey::Id(id), q, headers).await
}

async fn patch_sp_by_id(
    AxState(s): AxState<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    patch_sp(s, SpKey::Id(id), headers, body).await
}

fn unknown_segment(segment: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        &format!("Resource not found for the segment '{segment}'."),
    )
}

async fn get_sp_by_segment(
    AxState(s): AxState<Shared>,
    Path(segment): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    match sp_key_of_segment(&segment) {
        Some(key) => get_sp(s, key, q, headers).await,
        None => unknown_segment(&segment),
    }
}

async fn patch_sp_by_segment(
    AxState(s): AxState<Shared>,
    Path(segment): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match sp_key_of_segment(&segment) {
        Some(key) => patch_sp(s, key, headers, body).await,
        None => unknown_segment(&segment),
    }
}

/// Control: the next on-premises directory sync. Every synced user gets the on-premises value of
/// `accountEnabled` back, so a cloud-only disable is undone (C8). Answers the ids re-enabled.
async fn sync(AxState(s): AxState<Shared>) -> Response {
    let mut v = s.vendors();
    let mut reenabled = Vec::new();
    for u in v
        .graph
        .users
        .iter_mut()
        .filter(|u| u.on_premises_sync_enabled == Some(true))
    {
        if u.account_enabled != u.on_premises_account_enabled {
            if u.on_premises_account_enabled {
                reenabled.push(u.id.clone());
            }
            u.account_enabled = u.on_premises_account_enabled;
        }
    }
    Json(json!({"reenabled": reenabled})).into_response()
}

//! Okta: users, lifecycle (suspend / unsuspend), sessions, and the org authorization server's
//! token endpoint for OAuth 2.0 service apps (`private_key_jwt`), under the prefix `/okta`.
//!
//! Seed (`"okta"` section):
//! ```json
//! {"api_tokens": ["00abc…"],
//!  "service_apps": [{"client_id": "0oa…", "scopes": ["okta.users.read", "okta.users.manage"],
//!                    "public_key_jwk": {"kty": "RSA", "n": "…", "e": "AQAB"}}],
//!  "users": [{"id": "00u…", "status": "ACTIVE",
//!             "profile": {"login": "a@b.com", "email": "a@b.com", "firstName": "A", "lastName": "B"},
//!             "sessions": 2, "oauth_tokens": 1}]}
//! ```
//!
//! Semantics follow Okta's management API:
//! - `GET /api/v1/users/{id|login}` (the login is matched case-insensitively), `GET /api/v1/users`
//!   (`limit`; DEPROVISIONED users are left out, as Okta does without a filter).
//! - `POST /api/v1/users/{id}/lifecycle/suspend`: ACTIVE only (→ SUSPENDED, sessions destroyed),
//!   any other status → 400 `E0000001`; DEPROVISIONED → 404 `E0000007`.
//! - `POST /api/v1/users/{id}/lifecycle/unsuspend`: SUSPENDED only (→ ACTIVE), else 400
//!   `E0000001`; DEPROVISIONED → 404 `E0000007`.
//! - `DELETE /api/v1/users/{id}/sessions?oauthTokens=true|false` → 204, clears the sessions and,
//!   when asked, the OAuth tokens.
//!
//! Lifecycle and session calls take the user id only; a login there answers 404, so a client
//! must resolve a login with the GET first.
//!
//! Authentication: `Authorization: SSWS <api token>` (a seeded token; it carries its creating
//! admin's permissions, here all of them) or `Bearer <access token>` issued by
//! `POST /oauth2/v1/token` (client credentials, `private_key_jwt`). Reads need `okta.users.read`
//! or `okta.users.manage`; lifecycle and session calls need `okta.users.manage`. Missing or
//! unknown token → 401 `E0000011`; a token lacking the scope → 403 `E0000006` with a
//! `WWW-Authenticate: Bearer … error="insufficient_scope"` header.
//!
//! The client assertion's header, claims (`iss` = `sub` = client id, `aud` = this token endpoint's
//! URL, `exp` in the future and at most an hour away, a `jti` never seen before) are checked. Its
//! RS256 signature is checked when the app has a seeded `public_key_jwk`; an app seeded without
//! one accepts any signature.
//!
//! Every answer carries `X-Rate-Limit-Limit`, `X-Rate-Limit-Remaining` and `X-Rate-Limit-Reset`
//! (epoch seconds of the end of the current one-minute window).

use crate::Shared;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Form, Json, Router};
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The requests per minute each window allows (the headers report it; the mock never throttles
/// on its own: use a fault rule for 429).
const RATE_LIMIT: u32 = 600;

const STATUSES: [&str; 8] = [
    "ACTIVE",
    "SUSPENDED",
    "DEPROVISIONED",
    "STAGED",
    "PROVISIONED",
    "RECOVERY",
    "LOCKED_OUT",
    "PASSWORD_EXPIRED",
];

pub const SCOPE_READ: &str = "okta.users.read";
pub const SCOPE_MANAGE: &str = "okta.users.manage";

#[derive(Debug, Clone, Deserialize)]
pub struct ServiceApp {
    pub client_id: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// RSA public key (JWK with `n`, `e`); the assertion signature is checked when present.
    #[serde(default)]
    pub public_key_jwk: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
struct SeedUser {
    id: String,
    status: String,
    profile: Value,
    #[serde(default)]
    sessions: u32,
    #[serde(default)]
    oauth_tokens: u32,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub status: String,
    pub profile: Value,
    pub sessions: u32,
    pub oauth_tokens: u32,
    pub created: String,
    pub status_changed: String,
    pub last_updated: String,
}

impl User {
    fn login(&self) -> &str {
        self.profile
            .get("login")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// An access token this mock issued.
#[derive(Debug, Clone)]
pub struct Issued {
    pub client_id: String,
    pub scopes: Vec<String>,
    pub expires: i64,
}

#[derive(Default)]
pub struct State {
    pub api_tokens: HashSet<String>,
    pub service_apps: Vec<ServiceApp>,
    /// By id, in seed order of ids.
    pub users: BTreeMap<String, User>,
    pub issued: HashMap<String, Issued>,
    used_jtis: HashSet<String>,
    window_start: i64,
    window_count: u32,
    error_seq: u64,
}

fn now_str() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl State {
    pub fn from_seed(v: &Value) -> Result<Self, String> {
        if v.is_null() {
            return Ok(Self::default());
        }
        let api_tokens = v
            .get("api_tokens")
            .cloned()
            .map(serde_json::from_value::<Vec<String>>)
            .transpose()
            .map_err(|e| format!("api_tokens: {e}"))?
            .unwrap_or_default()
            .into_iter()
            .collect();
        let service_apps = v
            .get("service_apps")
            .cloned()
            .map(serde_json::from_value::<Vec<ServiceApp>>)
            .transpose()
            .map_err(|e| format!("service_apps: {e}"))?
            .unwrap_or_default();
        for app in &service_apps {
            if let Some(jwk) = &app.public_key_jwk {
                rs256::PublicKey::from_jwk(jwk)
                    .map_err(|e| format!("service app {}: public_key_jwk: {e}", app.client_id))?;
            }
        }
        let seeded = v
            .get("users")
            .cloned()
            .map(serde_json::from_value::<Vec<SeedUser>>)
            .transpose()
            .map_err(|e| format!("users: {e}"))?
            .unwrap_or_default();
        let mut users = BTreeMap::new();
        let created = now_str();
        for u in seeded {
            if !STATUSES.contains(&u.status.as_str()) {
                return Err(format!(
                    "user {}: unknown status {:?} (one of {STATUSES:?})",
                    u.id, u.status
                ));
            }
            if u.profile.get("login").and_then(Value::as_str).is_none() {
                return Err(format!("user {}: profile.login is missing", u.id));
            }
            let user = User {
                id: u.id.clone(),
                status: u.status,
                profile: u.profile,
                sessions: u.sessions,
                oauth_tokens: u.oauth_tokens,
                created: created.clone(),
                status_changed: created.clone(),
                last_updated: created.clone(),
            };
            if users.insert(u.id.clone(), user).is_some() {
                return Err(format!("user {} is seeded twice", u.id));
            }
        }
        Ok(Self {
            api_tokens,
            service_apps,
            users,
            ..Self::default()
        })
    }

    /// `{"users": {"<id>": {"status", "login", "sessions", "oauth_tokens", "statusChanged"}}, "tokens_issued": n}`
    pub fn snapshot(&self) -> Value {
        let users: serde_json::Map<String, Value> = self
            .users
            .values()
            .map(|u| {
                (
                    u.id.clone(),
                    json!({"status": u.status, "login": u.login(), "sessions": u.sessions,
                           "oauth_tokens": u.oauth_tokens, "statusChanged": u.status_changed}),
                )
            })
            .collect();
        json!({"users": users, "tokens_issued": self.issued.len()})
    }

    /// By id, or by login (case-insensitive).
    fn find(&self, id_or_login: &str) -> Option<&User> {
        self.users.get(id_or_login).or_else(|| {
            self.users
                .values()
                .find(|u| u.login().eq_ignore_ascii_case(id_or_login))
        })
    }

    fn error_id(&mut self) -> String {
        use sha2::{Digest, Sha256};
        self.error_seq += 1;
        let h = URL_SAFE_NO_PAD.encode(Sha256::digest(format!("okta-error-{}", self.error_seq)));
        format!(
            "oae{}",
            h.chars()
                .filter(char::is_ascii_alphanumeric)
                .take(19)
                .collect::<String>()
        )
    }

    /// Adds the rate-limit headers every Okta answer carries.
    fn finish(&mut self, mut resp: Response) -> Response {
        let now = Utc::now().timestamp();
        if now - self.window_start >= 60 {
            self.window_start = now;
            self.window_count = 0;
        }
        self.window_count = self.window_count.saturating_add(1);
        let remaining = RATE_LIMIT.saturating_sub(self.window_count);
        let h = resp.headers_mut();
        for (name, value) in [
            ("x-rate-limit-limit", RATE_LIMIT.to_string()),
            ("x-rate-limit-remaining", remaining.to_string()),
            ("x-rate-limit-reset", (self.window_start + 60).to_string()),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
        resp
    }

    fn error(
        &mut self,
        status: StatusCode,
        code: &str,
        summary: &str,
        causes: &[&str],
    ) -> Response {
        let body = json!({
            "errorCode": code,
            "errorSummary": summary,
            "errorLink": code,
            "errorId": self.error_id(),
            "errorCauses": causes.iter().map(|c| json!({"errorSummary": c})).collect::<Vec<_>>(),
        });
        let resp = (status, Json(body)).into_response();
        self.finish(resp)
    }

    fn not_found(&mut self, id: &str) -> Response {
        self.error(
            StatusCode::NOT_FOUND,
            "E0000007",
            &format!("Not found: Resource not found: {id} (User)"),
            &[],
        )
    }

    /// Checks the caller may do what `scope` allows. `Err` is the answer to send.
    fn authorize(
        &mut self,
        headers: &HeaderMap,
        scope: &str,
        resource: &str,
    ) -> Result<(), Box<Response>> {
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if let Some(token) = auth.strip_prefix("SSWS ") {
            if self.api_tokens.contains(token.trim()) {
                return Ok(());
            }
        } else if let Some(token) = auth.strip_prefix("Bearer ") {
            let now = Utc::now().timestamp();
            if let Some(t) = self.issued.get(token.trim()).filter(|t| t.expires > now) {
                let allowed = t.scopes.iter().any(|s| s == scope)
                    || (scope == SCOPE_READ && t.scopes.iter().any(|s| s == SCOPE_MANAGE));
                if allowed {
                    return Ok(());
                }
                let host = host(headers);
                let www = format!(
                    "Bearer authorization_uri=\"http://{host}/okta/oauth2/v1/authorize\", realm=\"http://{host}/okta\", \
                     scope=\"{scope}\", error=\"insufficient_scope\", \
                     error_description=\"The access token provided does not contain the required scopes.\", \
                     resource=\"{resource}\""
                );
                let mut resp = self.error(
                    StatusCode::FORBIDDEN,
                    "E0000006",
                    "You do not have permission to perform the requested action",
                    &[],
                );
                if let Ok(v) = HeaderValue::from_str(&www) {
                    resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                return Err(Box::new(resp));
            }
        }
        Err(Box::new(self.error(
            StatusCode::UNAUTHORIZED,
            "E0000011",
            "Invalid token provided",
            &[],
        )))
    }
}

fn host(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost")
        .to_string()
}

fn user_json(u: &User, base: &str) -> Value {
    let me = format!("{base}/api/v1/users/{}", u.id);
    let mut links = serde_json::Map::new();
    links.insert("self".into(), json!({"href": me}));
    let lifecycle = |op: &str| json!({"href": format!("{me}/lifecycle/{op}"), "method": "POST"});
    match u.status.as_str() {
        "ACTIVE" | "LOCKED_OUT" | "PASSWORD_EXPIRED" | "RECOVERY" => {
            if u.status == "ACTIVE" {
                links.insert("suspend".into(), lifecycle("suspend"));
            }
            if u.status == "LOCKED_OUT" {
                links.insert("unlock".into(), lifecycle("unlock"));
            }
            links.insert("resetPassword".into(), lifecycle("reset_password"));
            links.insert("expirePassword".into(), lifecycle("expire_password"));
            links.insert("deactivate".into(), lifecycle("deactivate"));
        }
        "SUSPENDED" => {
            links.insert("unsuspend".into(), lifecycle("unsuspend"));
            links.insert("deactivate".into(), lifecycle("deactivate"));
        }
        "STAGED" | "PROVISIONED" => {
            links.insert("activate".into(), lifecycle("activate"));
            links.insert("deactivate".into(), lifecycle("deactivate"));
        }
        _ => {
            links.insert("activate".into(), lifecycle("activate"));
        }
    }
    json!({
        "id": u.id,
        "status": u.status,
        "created": u.created,
        "activated": if u.status == "STAGED" { Value::Null } else { json!(u.created) },
        "statusChanged": u.status_changed,
        "lastLogin": Value::Null,
        "lastUpdated": u.last_updated,
        "passwordChanged": Value::Null,
        "type": {"id": "otymock"},
        "profile": u.profile,
        "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
        "_links": links,
    })
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/users", get(list_users))
        .route("/api/v1/users/{id}", get(get_user))
        .route("/api/v1/users/{id}/lifecycle/suspend", post(suspend))
        .route("/api/v1/users/{id}/lifecycle/unsuspend", post(unsuspend))
        .route("/api/v1/users/{id}/sessions", delete(clear_sessions))
        .route("/oauth2/v1/token", post(token))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

async fn list_users(
    AxState(s): AxState<Shared>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    let mut v = s.vendors();
    let st = &mut v.okta;
    if let Err(resp) = st.authorize(&headers, SCOPE_READ, "/api/v1/users") {
        return *resp;
    }
    let base = format!("http://{}/okta", host(&headers));
    let users: Vec<Value> = st
        .users
        .values()
        .filter(|u| u.status != "DEPROVISIONED")
        .take(q.limit.unwrap_or(200).clamp(1, 200))
        .map(|u| user_json(u, &base))
        .collect();
    let resp = Json(users).into_response();
    st.finish(resp)
}

async fn get_user(
    AxState(s): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut v = s.vendors();
    let st = &mut v.okta;
    if let Err(resp) = st.authorize(&headers, SCOPE_READ, &format!("/api/v1/users/{id}")) {
        return *resp;
    }
    let base = format!("http://{}/okta", host(&headers));
    match st.find(&id).map(|u| user_json(u, &base)) {
        Some(body) => {
            let resp = Json(body).into_response();
            st.finish(resp)
        }
        None => st.not_found(&id),
    }
}

/// A lifecycle transition `from` → `to`; `verb` names it in the error.
fn transition(
    s: &Shared,
    headers: &HeaderMap,
    id: &str,
    op: &str,
    from: &str,
    to: &str,
) -> Response {
    let mut v = s.vendors();
    let st = &mut v.okta;
    if let Err(resp) = st.authorize(
        headers,
        SCOPE_MANAGE,
        &format!("/api/v1/users/{id}/lifecycle/{op}"),
    ) {
        return *resp;
    }
    let status = match st.users.get(id) {
        Some(u) => u.status.clone(),
        None => return st.not_found(id),
    };
    if status == "DEPROVISIONED" {
        return st.not_found(id);
    }
    if status != from {
        let cause = match op {
            "suspend" => "Cannot suspend a user that is not active",
            _ => "Cannot unsuspend a user that is not suspended",
        };
        return st.error(
            StatusCode::BAD_REQUEST,
            "E0000001",
            "Api validation failed: status",
            &[cause],
        );
    }
    if let Some(u) = st.users.get_mut(id) {
        let now = now_str();
        u.status = to.to_string();
        u.status_changed = now.clone();
        u.last_updated = now;
        if op == "suspend" {
            // Suspending destroys the user's Okta sessions.
            u.sessions = 0;
        }
    }
    let resp = Json(json!({})).into_response();
    st.finish(resp)
}

async fn suspend(
    AxState(s): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    transition(&s, &headers, &id, "suspend", "ACTIVE", "SUSPENDED")
}

async fn unsuspend(
    AxState(s): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    transition(&s, &headers, &id, "unsuspend", "SUSPENDED", "ACTIVE")
}

#[derive(Debug, Deserialize)]
struct SessionsQuery {
    #[serde(rename = "oauthTokens")]
    oauth_tokens: Option<String>,
}

async fn clear_sessions(
    AxState(s): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<SessionsQuery>,
) -> Response {
    let mut v = s.vendors();
    let st = &mut v.okta;
    if let Err(resp) = st.authorize(
        &headers,
        SCOPE_MANAGE,
        &format!("/api/v1/users/{id}/sessions"),
    ) {
        return *resp;
    }
    let oauth = match q.oauth_tokens.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            let cause = format!("oauthTokens: '{other}' is not a valid boolean");
            return st.error(
                StatusCode::BAD_REQUEST,
                "E0000001",
                "Api validation failed: oauthTokens",
                &[&cause],
            );
        }
    };
    let Some(u) = st.users.get_mut(&id) else {
        return st.not_found(&id);
    };
    u.sessions = 0;
    if oauth {
        u.oauth_tokens = 0;
    }
    st.finish(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    scope: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

fn decode_part(part: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .or_else(|_| URL_SAFE.decode(part))
        .ok()
}

fn oauth_error(st: &mut State, status: StatusCode, error: &str, desc: &str) -> Response {
    let resp = (
        status,
        Json(json!({"error": error, "error_description": desc})),
    )
        .into_response();
    st.finish(resp)
}

async fn token(
    AxState(s): AxState<Shared>,
    headers: HeaderMap,
    Form(req): Form<TokenRequest>,
) -> Response {
    let mut v = s.vendors();
    let st = &mut v.okta;
    let invalid_client = |st: &mut State, desc: &str| {
        oauth_error(st, StatusCode::UNAUTHORIZED, "invalid_client", desc)
    };
    if req.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(
            st,
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server. Configured grant types: [client_credentials].",
        );
    }
    let assertion = match (req.client_assertion_type.as_deref(), req.client_assertion.as_deref()) {
        (Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"), Some(a)) => a,
        _ => {
            return invalid_client(
                st,
                "Client authentication failed. Either the client or the client credentials are invalid.",
            )
        }
    };
    let parts: Vec<&str> = assertion.split('.').collect();
    let decoded = match parts.as_slice() {
        [h, c, sig] => (
            decode_part(h).and_then(|b| serde_json::from_slice::<Value>(&b).ok()),
            decode_part(c).and_then(|b| serde_json::from_slice::<Value>(&b).ok()),
            decode_part(sig),
        ),
        _ => (None, None, None),
    };
    let (Some(jwt_header), Some(claims), Some(signature)) = decoded else {
        return invalid_client(st, "The client_assertion token is malformed.");
    };
    if jwt_header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return invalid_client(
            st,
            "The client_assertion token has an unsupported signing algorithm; use RS256.",
        );
    }
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if iss.is_empty() || iss != sub {
        return invalid_client(
            st,
            "The 'iss' and 'sub' claims of the client_assertion must both be the client_id.",
        );
    }
    let Some(app) = st.service_apps.iter().find(|a| a.client_id == sub).cloned() else {
        return invalid_client(st, "Invalid value for 'client_id' parameter.");
    };
    let expected_aud = format!("http://{}/okta/oauth2/v1/token", host(&headers));
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => *a == expected_aud,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(expected_aud.as_str())),
        _ => false,
    };
    if !aud_ok {
        return invalid_client(
            st,
            "The audience claim for client_assertion must be the endpoint invoked for the request.",
        );
    }
    let now = Utc::now().timestamp();
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp <= now => {
            return invalid_client(st, "The client_assertion token is expired.")
        }
        Some(exp) if exp > now + 3600 + 60 => {
            return invalid_client(
                st,
                "The client_assertion token has an expiration too far in the future.",
            )
        }
        Some(_) => {}
        None => {
            return invalid_client(
                st,
                "The client_assertion token must contain an 'exp' claim.",
            )
        }
    }
    let Some(jti) = claims
        .get("jti")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return invalid_client(st, "The client_assertion token must contain a 'jti' claim.");
    };
    if let Some(jwk) = &app.public_key_jwk {
        let signed = format!("{}.{}", parts[0], parts[1]);
        let valid = rs256::PublicKey::from_jwk(jwk)
            .map(|k| k.verify(signed.as_bytes(), &signature))
            .unwrap_or(false);
        if !valid {
            return invalid_client(st, "The client_assertion signature is invalid.");
        }
    }
    if !st.used_jtis.insert(jti) {
        return invalid_client(st, "The client_assertion token has already been used.");
    }
    let Some(scope) = req
        .scope
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    else {
        return oauth_error(
            st,
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The authorization server resource does not have any configured default scopes, 'scope' must be provided.",
        );
    };
    let requested: Vec<String> = scope.split_whitespace().map(str::to_string).collect();
    if requested.iter().any(|r| !app.scopes.contains(r)) {
        return oauth_error(
            st,
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "One or more scopes are not configured for the authorization server resource.",
        );
    }
    let claims = json!({
        "ver": 1, "iss": format!("http://{}/okta", host(&headers)), "aud": format!("http://{}/okta", host(&headers)),
        "iat": now, "exp": now + 3600, "cid": app.client_id, "scp": requested, "sub": app.client_id,
    });
    let token = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "kid": "mock"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(format!("mock-signature-{}", st.issued.len()))
    );
    st.issued.insert(
        token.clone(),
        Issued {
            client_id: app.client_id.clone(),
            scopes: requested.clone(),
            expires: now + 3600,
        },
    );
    let resp = Json(json!({
        "token_type": "Bearer", "expires_in": 3600, "access_token": token, "scope": requested.join(" "),
    }))
    .into_response();
    st.finish(resp)
}

/// RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signature verification with a small big-number
/// implementation, so the mock checks client assertions without a crypto dependency. Not
/// constant-time: it only ever handles test keys.
mod rs256 {
    use super::{decode_part, Value};
    use sha2::{Digest, Sha256};

    /// DER prefix of the DigestInfo for SHA-256 (RFC 8017, section 9.2, note 1).
    const SHA256_PREFIX: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];

    pub struct PublicKey {
        n: Vec<u8>,
        e: Vec<u8>,
    }

    /// Little-endian 32-bit limbs, one more than the modulus needs, so `2r` never overflows.
    type Big = Vec<u32>;

    fn strip(b: &[u8]) -> Vec<u8> {
        b.iter().copied().skip_while(|x| *x == 0).collect()
    }

    fn from_be(b: &[u8], limbs: usize) -> Big {
        let mut out = vec![0u32; limbs];
        for (i, byte) in b.iter().rev().enumerate() {
            if let Some(l) = out.get_mut(i / 4) {
                *l |= u32::from(*byte) << (8 * (i % 4));
            }
        }
        out
    }

    fn to_be(x: &Big, k: usize) -> Vec<u8> {
        let mut bytes: Vec<u8> = x.iter().flat_map(|l| l.to_le_bytes()).collect();
        bytes.resize(k.max(bytes.len()), 0);
        bytes.truncate(k);
        bytes.reverse();
        bytes
    }

    fn ge(a: &Big, b: &Big) -> bool {
        for (x, y) in a.iter().rev().zip(b.iter().rev()) {
            if x != y {
                return x > y;
            }
        }
        true
    }

    fn sub(a: &mut Big, b: &Big) {
        let mut borrow = 0i64;
        for (x, y) in a.iter_mut().zip(b) {
            let d = i64::from(*x) - i64::from(*y) - borrow;
            borrow = i64::from(d < 0);
            *x = (d + (borrow << 32)) as u32;
        }
    }

    fn add(a: &mut Big, b: &Big) {
        let mut carry = 0u64;
        for (x, y) in a.iter_mut().zip(b) {
            let s = u64::from(*x) + u64::from(*y) + carry;
            *x = s as u32;
            carry = s >> 32;
        }
    }

    fn shl1(a: &mut Big) {
        let mut carry = 0u32;
        for x in a.iter_mut() {
            let next = *x >> 31;
            *x = (*x << 1) | carry;
            carry = next;
        }
    }

    fn bits(a: &Big) -> usize {
        a.iter()
            .rposition(|l| *l != 0)
            .map_or(0, |i| i * 32 + 32 - a[i].leading_zeros() as usize)
    }

    fn bit(a: &Big, i: usize) -> bool {
        a.get(i / 32).is_some_and(|l| (l >> (i % 32)) & 1 == 1)
    }

    /// `a * b mod n`, for `a, b < n`, by doubling and adding.
    fn mulmod(a: &Big, b: &Big, n: &Big) -> Big {
        let mut r = vec![0u32; n.len()];
        for i in (0..bits(b)).rev() {
            shl1(&mut r);
            if ge(&r, n) {
                sub(&mut r, n);
            }
            if bit(b, i) {
                add(&mut r, a);
                if ge(&r, n) {
                    sub(&mut r, n);
                }
            }
        }
        r
    }

    fn modpow(base: &Big, e: &Big, n: &Big) -> Big {
        let mut r = vec![0u32; n.len()];
        r[0] = 1;
        for i in (0..bits(e)).rev() {
            r = mulmod(&r, &r, n);
            if bit(e, i) {
                r = mulmod(&r, base, n);
            }
        }
        r
    }

    impl PublicKey {
        pub fn from_jwk(jwk: &Value) -> Result<Self, String> {
            if jwk.get("kty").and_then(Value::as_str) != Some("RSA") {
                return Err("kty must be RSA".into());
            }
            let field = |k: &str| {
                jwk.get(k)
                    .and_then(Value::as_str)
                    .and_then(decode_part)
                    .map(|b| strip(&b))
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| format!("{k} is missing or not base64url"))
            };
            let (n, e) = (field("n")?, field("e")?);
            if n.len() < 128 || n.len() > 1024 {
                return Err("the modulus must be 1024 to 8192 bits".into());
            }
            Ok(Self { n, e })
        }

        pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
            let k = self.n.len();
            if signature.len() != k {
                return false;
            }
            let limbs = k.div_ceil(4) + 1;
            let n = from_be(&self.n, limbs);
            let s = from_be(signature, limbs);
            if ge(&s, &n) {
                return false;
            }
            let m = modpow(&s, &from_be(&self.e, limbs), &n);
            let mut expected = vec![0x00, 0x01];
            let t_len = SHA256_PREFIX.len() + 32;
            if k < t_len + 11 {
                return false;
            }
            expected.resize(k - t_len - 1, 0xff);
            expected.push(0x00);
            expected.extend_from_slice(&SHA256_PREFIX);
            expected.extend_from_slice(&Sha256::digest(message));
            to_be(&m, k) == expected
        }
    }
}

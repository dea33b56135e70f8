//! Microsoft identity platform token endpoint (`POST /login/{tenant}/oauth2/v2.0/token`),
//! client-credentials grant with a client secret or a client assertion (certificate or workload
//! identity federation). Issues JWT-shaped tokens whose `roles` claim holds the application
//! permissions seeded for that client and resource, as Entra does, so a client can read the
//! permissions its own token carries.
//!
//! Seed (`"identity"` section):
//! ```json
//! {"tenants": {"<tenant-id>": {"clients": [{
//!     "client_id": "<guid>", "client_secret": "…",
//!     "certificate_thumbprints": ["<hex sha1>"],
//!     "federated": [{"issuer": "https://token.actions.githubusercontent.com", "subject": "repo:o/r:ref:refs/heads/main"}],
//!     "roles": {"https://graph.microsoft.com": ["User.Read.All", "User.EnableDisableAccount.All"]}
//! }]}}}
//! ```
//! The assertion's signature is not checked (there is no key material in tests); its shape,
//! audience, issuer/subject and expiry are, and a certificate assertion must name a seeded
//! thumbprint in its `x5t` header.

use crate::Shared;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Deserialize)]
pub struct Federated {
    pub issuer: String,
    pub subject: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Client {
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub certificate_thumbprints: Vec<String>,
    #[serde(default)]
    pub federated: Vec<Federated>,
    /// Resource (audience) → application permissions.
    #[serde(default)]
    pub roles: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct Tenant {
    #[serde(default)]
    pub clients: Vec<Client>,
}

/// The claims of a token this mock issued.
#[derive(Debug, Clone)]
pub struct Claims {
    pub tenant: String,
    pub client_id: String,
    pub audience: String,
    pub roles: Vec<String>,
    pub expires: i64,
}

#[derive(Default)]
pub struct State {
    pub tenants: BTreeMap<String, Tenant>,
    /// Tokens issued, by token string.
    pub issued: HashMap<String, Claims>,
}

impl State {
    pub fn from_seed(v: &Value) -> Result<Self, String> {
        if v.is_null() {
            return Ok(Self::default());
        }
        let tenants = v
            .get("tenants")
            .cloned()
            .map(serde_json::from_value::<BTreeMap<String, Tenant>>)
            .transpose()
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        Ok(Self {
            tenants,
            issued: HashMap::new(),
        })
    }

    pub fn snapshot(&self) -> Value {
        json!({"tenants": self.tenants.keys().collect::<Vec<_>>(), "tokens_issued": self.issued.len()})
    }

    /// Checks a bearer token: issued here, for `audience`, not expired. `Err` carries what is
    /// wrong, for the vendor module to put in its own 401 body.
    pub fn check(&self, authorization: Option<&str>, audience: &str) -> Result<Claims, String> {
        let Some(h) = authorization else {
            return Err("Authorization header is missing".into());
        };
        let Some(token) = h.strip_prefix("Bearer ") else {
            return Err("Authorization header is not a Bearer token".into());
        };
        let Some(c) = self.issued.get(token.trim()) else {
            return Err("token is not valid (not issued by this authority, or revoked)".into());
        };
        if c.audience.trim_end_matches('/') != audience.trim_end_matches('/') {
            return Err(format!("token audience {} is not {audience}", c.audience));
        }
        if c.expires <= chrono::Utc::now().timestamp() {
            return Err("token has expired".into());
        }
        Ok(c.clone())
    }
}

pub fn routes() -> Router<Shared> {
    Router::new().route("/{tenant}/oauth2/v2.0/token", post(token))
}

#[derive(Debug, Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
    scope: Option<String>,
}

fn aad_error(status: StatusCode, error: &str, code: &str, desc: &str) -> Response {
    let now = chrono::Utc::now();
    (
        status,
        Json(json!({
            "error": error,
            "error_description": format!("{code}: {desc} Trace ID: mock Correlation ID: mock Timestamp: {}", now.format("%Y-%m-%d %H:%M:%SZ")),
            "error_codes": [code.trim_start_matches("AADSTS").parse::<u64>().unwrap_or(0)],
            "timestamp": now.to_rfc3339(),
            "trace_id": "mock",
            "correlation_id": "mock",
        })),
    )
        .into_response()
}

fn decode_jwt_part(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .or_else(|_| URL_SAFE.decode(part))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

async fn token(
    AxState(s): AxState<Shared>,
    Path(tenant): Path<String>,
    Form(req): Form<TokenRequest>,
) -> Response {
    if req.grant_type.as_deref() != Some("client_credentials") {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003",
            "The app requested an unsupported grant type.",
        );
    }
    let Some(scope) = req.scope.as_deref().filter(|s| s.ends_with("/.default")) else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "AADSTS1002012",
            "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
        );
    };
    let audience = scope.trim_end_matches("/.default").to_string();
    let mut v = s.vendors();
    let st = &mut v.identity;
    let Some(t) = st.tenants.get(&tenant) else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS90002",
            &format!("Tenant '{tenant}' not found."),
        );
    };
    // The client id comes from the form, or from the assertion's subject.
    let assertion = match (&req.client_assertion_type, &req.client_assertion) {
        (Some(t), Some(a)) if t == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" => {
            let parts: Vec<&str> = a.split('.').collect();
            match (
                parts.len(),
                parts.first().and_then(|p| decode_jwt_part(p)),
                parts.get(1).and_then(|p| decode_jwt_part(p)),
            ) {
                (3, Some(h), Some(c)) => Some((h, c)),
                _ => {
                    return aad_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_client",
                        "AADSTS50027",
                        "JWT token is invalid or malformed.",
                    )
                }
            }
        }
        (Some(_), _) => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "AADSTS50012",
                "Invalid client assertion type.",
            )
        }
        _ => None,
    };
    let client_id = req.client_id.clone().or_else(|| {
        assertion
            .as_ref()
            .and_then(|(_, c)| c.get("sub").and_then(Value::as_str).map(str::to_string))
    });
    let Some(client) = client_id
        .as_deref()
        .and_then(|id| t.clients.iter().find(|c| c.client_id == id))
    else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "AADSTS700016",
            &format!(
                "Application with identifier '{}' was not found in the directory '{tenant}'.",
                client_id.unwrap_or_default()
            ),
        );
    };
    let authenticated = match (&req.client_secret, &assertion) {
        (Some(secret), None) => client.client_secret.as_deref() == Some(secret.as_str()),
        (None, Some((header, claims))) => {
            let now = chrono::Utc::now().timestamp();
            let exp_ok = claims.get("exp").and_then(Value::as_i64).is_some_and(|e| e > now);
            let aud_ok = claims
                .get("aud")
                .and_then(Value::as_str)
                .is_some_and(|a| a.contains(&tenant) && a.ends_with("/oauth2/v2.0/token"));
            let iss = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
            let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
            let by_cert = header
                .get("x5t")
                .and_then(Value::as_str)
                .and_then(|x| {
                    // base64url per RFC 7515; azure_identity's certificate credential sends
                    // standard base64 with padding, which Entra accepts too.
                    URL_SAFE_NO_PAD
                        .decode(x.trim_end_matches('='))
                        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(x))
                        .ok()
                })
                .map(hex::encode)
                .is_some_and(|thumb| client.certificate_thumbprints.iter().any(|t| t.eq_ignore_ascii_case(&thumb)))
                && iss == client.client_id
                && sub == client.client_id;
            let by_federation = client.federated.iter().any(|f| f.issuer == iss && f.subject == sub);
            if !exp_ok {
                return aad_error(StatusCode::BAD_REQUEST, "invalid_client", "AADSTS700024", "Client assertion is not within its valid time range.");
            }
            if !aud_ok && !by_federation {
                return aad_error(StatusCode::BAD_REQUEST, "invalid_client", "AADSTS700212", "No matching federated identity record found for presented assertion audience.");
            }
            by_cert || by_federation
        }
        (None, None) => {
            return aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "AADSTS7000218",
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )
        }
        _ => false,
    };
    if !authenticated {
        return aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215",
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app.",
        );
    }
    let roles = client
        .roles
        .get(&audience)
        .or_else(|| client.roles.get(&format!("{audience}/")))
        .cloned()
        .unwrap_or_default();
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "aud": audience, "iss": format!("https://sts.windows.net/{tenant}/"), "iat": now, "nbf": now,
        "exp": now + 3599, "appid": client.client_id, "tid": tenant, "roles": roles,
        "oid": uuid_like(&client.client_id), "jti": uuid_like(&format!("{now}{}", st.issued.len())),
    });
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": "mock"});
    let token = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(format!("mock-signature-{}", st.issued.len()))
    );
    st.issued.insert(
        token.clone(),
        Claims {
            tenant: tenant.clone(),
            client_id: client.client_id.clone(),
            audience,
            roles,
            expires: now + 3599,
        },
    );
    Json(json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token})).into_response()
}

fn uuid_like(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = hex::encode(Sha256::digest(seed.as_bytes()));
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

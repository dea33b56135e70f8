//! The calls to Okta's management API and its org authorization server, with explicit timeouts
//! and the status mapping of [`crate::error`]. No retries here: the executor retries what is
//! retryable, with Okta's delay.

use crate::config::{OktaAuth, OktaConfig, SCOPE_MANAGE, SCOPE_READ};
use crate::error::{from_response, from_transport, AuthKind, ConfigError};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::Utc;
use cordon_core::ids::encode_path_segment;
use cordon_core::respond::Failure;
use reqwest::Method;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A user as read from `GET /api/v1/users/{id|login}`.
#[derive(Debug, Clone, PartialEq)]
pub struct OktaUser {
    pub id: String,
    pub status: String,
    pub status_changed: Option<String>,
    pub login: String,
}

/// Scopes a service app was granted, as the token endpoint answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Granted {
    Scopes(Vec<String>),
    /// The token endpoint refused the scopes asked for (`invalid_scope`).
    InvalidScope(String),
}

struct ServiceApp {
    client_id: String,
    key: RsaKeyPair,
    key_id: Option<String>,
    scopes: Vec<String>,
}

enum Auth {
    ApiToken(SecretString),
    ServiceApp(Box<ServiceApp>),
}

struct CachedToken {
    token: SecretString,
    scopes: Vec<String>,
    /// Refresh after this (a minute before Okta's expiry).
    fresh_until: Instant,
}

pub struct OktaClient {
    http: reqwest::Client,
    base: String,
    auth: Auth,
    token: Mutex<Option<CachedToken>>,
    rng: SystemRandom,
}

/// The body of a PEM block, decoded, and its label.
fn pem_der(pem: &str) -> Result<(String, Vec<u8>), ConfigError> {
    let mut label = None;
    let mut body = String::new();
    for line in pem.lines().map(str::trim) {
        if let Some(l) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            label = Some(l.to_string());
            body.clear();
        } else if line.starts_with("-----END ") {
            break;
        } else if label.is_some() {
            body.push_str(line);
        }
    }
    let label =
        label.ok_or_else(|| ConfigError::PrivateKey("no '-----BEGIN …-----' line".into()))?;
    let der = STANDARD
        .decode(body.as_bytes())
        .map_err(|e| ConfigError::PrivateKey(format!("the PEM body is not base64: {e}")))?;
    Ok((label, der))
}

fn load_key(pem_or_path: &SecretString) -> Result<RsaKeyPair, ConfigError> {
    let v = pem_or_path.expose_secret();
    let pem = if v.contains("-----BEGIN ") {
        v.to_string()
    } else {
        std::fs::read_to_string(v.trim()).map_err(|e| {
            ConfigError::PrivateKey(format!("cannot read the key file {:?}: {e}", v.trim()))
        })?
    };
    let (label, der) = pem_der(&pem)?;
    let key = match label.as_str() {
        "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
        other => {
            return Err(ConfigError::PrivateKey(format!(
                "a {other:?} PEM is not an RSA private key (want PRIVATE KEY or RSA PRIVATE KEY)"
            )))
        }
    };
    key.map_err(|e| ConfigError::PrivateKey(format!("not a usable RSA key (≥ 2048 bits): {e}")))
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct OAuthError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// A successful call's status and body.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl OktaClient {
    pub fn new(config: &OktaConfig) -> Result<Self, ConfigError> {
        let base = config.validate()?;
        let auth = match &config.auth {
            OktaAuth::ApiToken { token } => {
                Auth::ApiToken(SecretString::from(token.expose_secret().trim().to_string()))
            }
            OktaAuth::OauthServiceApp {
                client_id,
                private_key_pem,
                key_id,
                scopes,
            } => Auth::ServiceApp(Box::new(ServiceApp {
                client_id: client_id.trim().to_string(),
                key: load_key(private_key_pem)?,
                key_id: key_id.clone(),
                scopes: scopes.clone(),
            })),
        };
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeouts.connect())
            .timeout(config.timeouts.request())
            // Pooled connections die across a Lambda freeze; do not keep them long (C17).
            .pool_idle_timeout(Duration::from_secs(20))
            .user_agent(concat!("cordon-okta/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::Http(e.to_string()))?;
        Ok(Self {
            http,
            base,
            auth,
            token: Mutex::new(None),
            rng: SystemRandom::new(),
        })
    }

    pub(crate) fn auth_kind(&self) -> AuthKind {
        match self.auth {
            Auth::ApiToken(_) => AuthKind::ApiToken,
            Auth::ServiceApp(_) => AuthKind::OAuth,
        }
    }

    pub fn is_api_token(&self) -> bool {
        matches!(self.auth, Auth::ApiToken(_))
    }

    /// `{org}/oauth2/v1/token`: the org authorization server, the only one that issues tokens
    /// for Okta's management API.
    fn token_url(&self) -> String {
        format!("{}/oauth2/v1/token", self.base)
    }

    /// A signed `private_key_jwt` client assertion.
    fn assertion(&self, app: &ServiceApp) -> Result<String, Failure> {
        let now = Utc::now().timestamp();
        let mut jti = [0u8; 16];
        self.rng.fill(&mut jti).map_err(|_| Failure::Transient {
            detail: "okta: no randomness for the client assertion's jti".into(),
        })?;
        let mut header = json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &app.key_id {
            header["kid"] = json!(kid);
        }
        let claims = json!({
            "iss": app.client_id, "sub": app.client_id, "aud": self.token_url(),
            "iat": now, "exp": now + 300,
            "jti": jti.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; app.key.public().modulus_len()];
        app.key
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                signing_input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| Failure::Permanent {
                detail: "okta: signing the client assertion failed".into(),
            })?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }

    /// Asks the token endpoint for `scopes`. `Ok(Err(description))` when Okta refused the
    /// scopes (`invalid_scope`).
    async fn request_token(
        &self,
        app: &ServiceApp,
        scopes: &[String],
    ) -> Result<Result<(SecretString, Vec<String>, u64), String>, Failure> {
        let what = format!("okta: token for service app {}", app.client_id);
        let assertion = self.assertion(app)?;
        let scope = scopes.join(" ");
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", scope.as_str()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ];
        let resp = self
            .http
            .post(self.token_url())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| from_transport(&e, &what, false))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .bytes()
            .await
            .map_err(|e| from_transport(&e, &what, false))?;
        if (200..300).contains(&status) {
            let t: TokenAnswer = serde_json::from_slice(&body).map_err(|e| Failure::Transient {
                detail: format!("{what}: the token answer is not the expected JSON: {e}"),
            })?;
            let granted = t
                .scope
                .as_deref()
                .map(|s| s.split_whitespace().map(str::to_string).collect())
                .unwrap_or_else(|| scopes.to_vec());
            return Ok(Ok((
                SecretString::from(t.access_token),
                granted,
                t.expires_in.unwrap_or(3600),
            )));
        }
        let e: OAuthError = serde_json::from_slice(&body).unwrap_or_default();
        let detail = format!("{what}: HTTP {status} {} {}", e.error, e.error_description);
        Err(match (status, e.error.as_str()) {
            (400, "invalid_scope") => return Ok(Err(e.error_description)),
            (_, "invalid_client") | (401, _) => Failure::Unauthenticated {
                detail: format!(
                    "{detail}; check the client id, that the app uses public key / private key authentication with this key, and that DPoP is not required"
                ),
            },
            (429, _) | (500..=599, _) => {
                from_response(status, &headers, &body, &what, "", AuthKind::OAuth, Utc::now())
            }
            _ => Failure::Permanent { detail },
        })
    }

    /// A cached access token, or a new one.
    async fn access_token(&self, app: &ServiceApp) -> Result<SecretString, Failure> {
        if let Some(t) = self.cached() {
            return Ok(t);
        }
        match self.request_token(app, &app.scopes).await? {
            Ok((token, scopes, expires_in)) => {
                let fresh = Duration::from_secs(expires_in.saturating_sub(60).max(1));
                let mut cache = self.token.lock().unwrap_or_else(|p| p.into_inner());
                *cache = Some(CachedToken {
                    token: token.clone(),
                    scopes,
                    fresh_until: Instant::now() + fresh,
                });
                Ok(token)
            }
            Err(desc) => Err(Failure::PermissionMissing {
                permission: app.scopes.join(" "),
                detail: format!(
                    "okta: the token endpoint refused the scopes {:?} for service app {}: {desc}; grant them to the app (Okta API Scopes tab) or remove them from auth.scopes",
                    app.scopes, app.client_id
                ),
            }),
        }
    }

    fn cached(&self) -> Option<SecretString> {
        let cache = self.token.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .as_ref()
            .filter(|t| t.fresh_until > Instant::now())
            .map(|t| t.token.clone())
    }

    /// The scopes the service app is granted: those of a token for the configured scopes or,
    /// when Okta refuses some of them, those it grants one by one. `None` for API tokens.
    pub async fn granted_scopes(&self) -> Result<Option<Vec<String>>, Failure> {
        let Auth::ServiceApp(app) = &self.auth else {
            return Ok(None);
        };
        match self.request_token(app, &app.scopes).await? {
            Ok((_, scopes, _)) => Ok(Some(scopes)),
            Err(_) => {
                let mut granted = Vec::new();
                for s in &app.scopes {
                    if let Ok((_, mut g, _)) =
                        self.request_token(app, std::slice::from_ref(s)).await?
                    {
                        granted.append(&mut g);
                    }
                }
                Ok(Some(granted))
            }
        }
    }

    /// The scopes of the cached token, if any.
    pub fn cached_scopes(&self) -> Option<Vec<String>> {
        let cache = self.token.lock().unwrap_or_else(|p| p.into_inner());
        cache.as_ref().map(|t| t.scopes.clone())
    }

    async fn authorization(&self) -> Result<String, Failure> {
        match &self.auth {
            Auth::ApiToken(t) => Ok(format!("SSWS {}", t.expose_secret())),
            Auth::ServiceApp(app) => Ok(format!(
                "Bearer {}",
                self.access_token(app).await?.expose_secret()
            )),
        }
    }

    /// One management API call. `mutating` decides what a broken connection means.
    async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        what: &str,
        scope: &str,
        mutating: bool,
    ) -> Result<Answer, Failure> {
        let authorization = self.authorization().await?;
        let url = format!("{}{path_and_query}", self.base);
        let mut req = self
            .http
            .request(method.clone(), url)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header(reqwest::header::ACCEPT, "application/json");
        if method == Method::POST {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json");
        }
        let resp = req
            .send()
            .await
            .map_err(|e| from_transport(&e, what, mutating))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = match resp.bytes().await {
            Ok(b) => b.to_vec(),
            // A mutating call's status already tells its outcome.
            Err(_) if mutating && (200..300).contains(&status) => Vec::new(),
            Err(e) => return Err(from_transport(&e, what, mutating)),
        };
        if status == 401 {
            // A revoked or expired access token: fetch a new one next time.
            *self.token.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
        if (200..300).contains(&status) {
            tracing::debug!(status, what, "okta call succeeded");
            Ok(Answer { status, body })
        } else {
            let f = from_response(
                status,
                &headers,
                &body,
                what,
                scope,
                self.auth_kind(),
                Utc::now(),
            );
            tracing::warn!(status, what, failure = f.kind(), "okta call failed");
            Err(f)
        }
    }

    /// `GET /api/v1/users/{id or login}`.
    pub async fn get_user(&self, id_or_login: &str) -> Result<OktaUser, Failure> {
        let what = format!("okta: read user {id_or_login}");
        let a = self
            .call(
                Method::GET,
                &format!("/api/v1/users/{}", encode_path_segment(id_or_login)),
                &what,
                SCOPE_READ,
                false,
            )
            .await?;
        let v: Value = serde_json::from_slice(&a.body).map_err(|e| Failure::Transient {
            detail: format!("{what}: the answer is not JSON: {e}"),
        })?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        match (s("id"), s("status")) {
            (Some(id), Some(status)) => Ok(OktaUser {
                id,
                status,
                status_changed: s("statusChanged"),
                login: v
                    .pointer("/profile/login")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            }),
            _ => Err(Failure::Permanent {
                detail: format!("{what}: the answer has no id or status (HTTP {})", a.status),
            }),
        }
    }

    /// `POST /api/v1/users/{id}/lifecycle/{suspend|unsuspend}`.
    pub async fn lifecycle(&self, user_id: &str, op: &str) -> Result<(), Failure> {
        let what = format!("okta: {op} user {user_id}");
        self.call(
            Method::POST,
            &format!(
                "/api/v1/users/{}/lifecycle/{op}",
                encode_path_segment(user_id)
            ),
            &what,
            SCOPE_MANAGE,
            true,
        )
        .await
        .map(|_| ())
    }

    /// `DELETE /api/v1/users/{id}/sessions?oauthTokens=…`.
    pub async fn clear_sessions(&self, user_id: &str, oauth_tokens: bool) -> Result<(), Failure> {
        let what = format!("okta: clear sessions of user {user_id}");
        self.call(
            Method::DELETE,
            &format!(
                "/api/v1/users/{}/sessions?oauthTokens={oauth_tokens}",
                encode_path_segment(user_id)
            ),
            &what,
            SCOPE_MANAGE,
            true,
        )
        .await
        .map(|_| ())
    }

    /// `GET /api/v1/users?limit=1`: a cheap authenticated read that proves the credentials work.
    pub async fn probe(&self) -> Result<(), Failure> {
        self.call(
            Method::GET,
            "/api/v1/users?limit=1",
            "okta: list one user",
            SCOPE_READ,
            false,
        )
        .await
        .map(|_| ())
    }
}

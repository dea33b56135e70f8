//! Microsoft Graph calls: users and service principals, with explicit timeouts and the mapping
//! of every answer to a [`Failure`].

use crate::config::{graph_url, ConfigError, EntraConfig};
use crate::credential::{token_roles, TokenSource};
use crate::error::{transport_failure, GraphError};
use crate::responder::Requirement;
use cordon_core::ids::encode_path_segment;
use cordon_core::respond::Failure;
use serde_json::{json, Value};

/// A service principal, by object id (`sp:`) or by application id (`app:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpRef {
    ObjectId(String),
    AppId(String),
}

impl SpRef {
    /// `sp:<object id>` or `app:<appId>`.
    pub fn parse(id: &str) -> Result<Self, Failure> {
        let bad = || Failure::Permanent {
            detail: format!(
                "OAuth app target `{id}` is neither `sp:<object id>` nor `app:<appId>`"
            ),
        };
        if let Some(v) = id.strip_prefix("sp:") {
            (!v.is_empty())
                .then(|| SpRef::ObjectId(v.to_string()))
                .ok_or_else(bad)
        } else if let Some(v) = id.strip_prefix("app:") {
            (!v.is_empty())
                .then(|| SpRef::AppId(v.to_string()))
                .ok_or_else(bad)
        } else {
            Err(bad())
        }
    }

    fn path(&self) -> String {
        match self {
            SpRef::ObjectId(id) => format!("servicePrincipals/{}", encode_path_segment(id)),
            SpRef::AppId(a) => format!("servicePrincipals(appId='{}')", encode_path_segment(a)),
        }
    }
}

/// One Graph call, described for the error mapping.
struct Call<'a> {
    method: reqwest::Method,
    path: String,
    body: Option<Value>,
    /// What the call needs (named in a 403).
    needs: &'a Requirement,
    /// A 403 with the permission present means the target is privileged (user updates, C9).
    privileged_target_possible: bool,
}

/// Graph v1.0 client: reqwest with connect and request timeouts, tokens from [`TokenSource`].
pub struct GraphClient {
    http: reqwest::Client,
    base: String,
    tokens: TokenSource,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// The user fields every user action reads first (C8, C9).
pub const USER_SELECT: &str = "id,userPrincipalName,accountEnabled,userType,onPremisesSyncEnabled";
pub const SP_SELECT: &str = "id,appId,displayName,accountEnabled";

impl GraphClient {
    pub fn from_config(cfg: &EntraConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let base = graph_url(&cfg.graph_base_url)?
            .as_str()
            .trim_end_matches('/')
            .to_string();
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.timeouts.connect())
            .timeout(cfg.timeouts.request())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::Credential(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            base,
            tokens: TokenSource::from_config(cfg)?,
        })
    }

    pub fn tokens(&self) -> &TokenSource {
        &self.tokens
    }

    async fn send(&self, call: Call<'_>) -> Result<Value, Failure> {
        let token = self.tokens.token().await?;
        let url = format!("{}/{}", self.base, call.path);
        let mutating = call.method != reqwest::Method::GET;
        let what = format!("{} {}", call.method, call.path);
        let mut req = self
            .http
            .request(call.method.clone(), &url)
            .bearer_auth(&token)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = &call.body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| transport_failure(&e, mutating, &what))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await;
        if (200..300).contains(&status) {
            let body = match body {
                Ok(b) => b,
                // The change was answered 2xx; only the body is lost.
                Err(_) if mutating => return Ok(Value::Null),
                Err(e) => return Err(transport_failure(&e, false, &what)),
            };
            if body.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&body).map_err(|e| Failure::Permanent {
                detail: format!(
                    "{what}: Graph answered {status} with a body that is not JSON: {e}"
                ),
            });
        }
        let body = body.map(|b| b.to_vec()).unwrap_or_default();
        let err = GraphError::from_response(status, &headers, &body, chrono::Utc::now());
        if status != 403 {
            return Err(err.to_failure());
        }
        // 403: missing permission, or a privileged target (C9). Tell them apart by what the
        // token carries.
        let has = token_roles(&token)
            .map(|r| call.needs.met(&r))
            .unwrap_or(false);
        Err(if has && call.privileged_target_possible {
            Failure::PermissionMissing {
                permission: PRIVILEGED_TARGET_ROLE.into(),
                detail: format!(
                    "{what}: the target is a privileged user: changing it is a sensitive action that needs a \
                     higher directory role on the app than {}; escalate to a person. {}",
                    call.needs.describe(),
                    err.detail()
                ),
            }
        } else if has {
            Failure::PermissionMissing {
                permission: call.needs.describe(),
                detail: format!(
                    "{what}: refused although the token carries {}: {}",
                    call.needs.describe(),
                    err.detail()
                ),
            }
        } else {
            Failure::PermissionMissing {
                permission: call.needs.least().to_string(),
                detail: format!(
                    "{what}: the app lacks {}: {}",
                    call.needs.describe(),
                    err.detail()
                ),
            }
        })
    }

    pub async fn get_user(&self, id: &str, select: &str) -> Result<Value, Failure> {
        self.send(Call {
            method: reqwest::Method::GET,
            path: format!("users/{}?$select={select}", encode_path_segment(id)),
            body: None,
            needs: &crate::responder::USER_READ,
            privileged_target_possible: false,
        })
        .await
    }

    pub async fn set_user_enabled(&self, id: &str, enabled: bool) -> Result<(), Failure> {
        self.send(Call {
            method: reqwest::Method::PATCH,
            path: format!("users/{}", encode_path_segment(id)),
            body: Some(json!({"accountEnabled": enabled})),
            needs: &crate::responder::USER_ENABLE,
            privileged_target_possible: true,
        })
        .await
        .map(|_| ())
    }

    /// `POST /users/{id}/revokeSignInSessions`: Graph's `value` (true when revoked).
    pub async fn revoke_sessions(&self, id: &str) -> Result<Option<bool>, Failure> {
        self.send(Call {
            method: reqwest::Method::POST,
            path: format!("users/{}/revokeSignInSessions", encode_path_segment(id)),
            body: None,
            needs: &crate::responder::USER_REVOKE,
            privileged_target_possible: true,
        })
        .await
        .map(|v| v.get("value").and_then(Value::as_bool))
    }

    pub async fn get_sp(&self, sp: &SpRef) -> Result<Value, Failure> {
        self.send(Call {
            method: reqwest::Method::GET,
            path: format!("{}?$select={SP_SELECT}", sp.path()),
            body: None,
            needs: &crate::responder::SP_READ,
            privileged_target_possible: false,
        })
        .await
    }

    pub async fn set_sp_enabled(&self, sp: &SpRef, enabled: bool) -> Result<(), Failure> {
        self.send(Call {
            method: reqwest::Method::PATCH,
            path: sp.path(),
            body: Some(json!({"accountEnabled": enabled})),
            needs: &crate::responder::SP_WRITE,
            privileged_target_possible: false,
        })
        .await
        .map(|_| ())
    }
}

/// What a 403 on a privileged user calls for.
pub const PRIVILEGED_TARGET_ROLE: &str =
    "privileged target: a directory role such as Privileged Authentication Administrator";

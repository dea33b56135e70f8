//! CrowdStrike Falcon API calls: OAuth2 client credentials (`POST /oauth2/token`, cached until
//! shortly before expiry), host lookup and host actions.

use super::{join, Http, Reply};
use crate::config::{ConfigError, CrowdStrikeConfig};
use crate::error::{self, ApiError, Call};
use cordon_core::respond::Failure;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// API client scopes, as the Falcon console names them.
pub const HOSTS_READ: &str = "Hosts: Read";
pub const HOSTS_WRITE: &str = "Hosts: Write";

struct Cached {
    token: SecretString,
    refresh_at: Instant,
}

pub(crate) struct CsClient {
    http: Http,
    base: String,
    client_id: String,
    client_secret: SecretString,
    cached: Mutex<Option<Cached>>,
}

fn call(what: String, permission: &'static str, mutating: bool) -> Call {
    Call {
        vendor: "crowdstrike",
        what,
        permission,
        mutating,
    }
}

impl CsClient {
    pub fn new(cfg: &CrowdStrikeConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            http: Http::new(&cfg.timeouts)?,
            base: cfg.base_url.trim_end_matches('/').to_string(),
            client_id: cfg.client_id.clone(),
            client_secret: cfg.client_secret.clone(),
            cached: Mutex::new(None),
        })
    }

    pub async fn token(&self) -> Result<SecretString, Failure> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| c.refresh_at > Instant::now()) {
            return Ok(c.token.clone());
        }
        let c = call(
            "POST /oauth2/token".into(),
            "(API client credentials)",
            false,
        );
        let form = [
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
        ];
        let reply = self
            .http
            .send(
                &c,
                self.http
                    .client()
                    .post(join(&self.base, "oauth2/token"))
                    .form(&form),
            )
            .await?;
        if !(200..300).contains(&reply.status) {
            let e = error::status(&c, reply.status, &reply.headers, &reply.body);
            // Falcon answers bad client credentials with 403 (and 401 for some clouds).
            return Err(match (reply.status, e.failure) {
                (400 | 401 | 403, f) => Failure::Unauthenticated {
                    detail: f.to_string(),
                },
                (_, f) => f,
            });
        }
        let Some(token) = reply.body.get("access_token").and_then(Value::as_str) else {
            return Err(Failure::Unauthenticated {
                detail: "crowdstrike token answer has no access_token".into(),
            });
        };
        let expires_in = reply
            .body
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(1799);
        let lifetime = expires_in.saturating_sub(120).max(expires_in / 2);
        let token = SecretString::from(token.to_string());
        *cached = Some(Cached {
            token: token.clone(),
            refresh_at: Instant::now() + Duration::from_secs(lifetime),
        });
        Ok(token)
    }

    async fn request(
        &self,
        c: &Call,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Reply, ApiError> {
        let token = self.token().await?;
        let mut req = self
            .http
            .client()
            .request(method, join(&self.base, path))
            .bearer_auth(token.expose_secret())
            .header("accept", "application/json");
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = self.http.expect(c, req).await;
        if let Err(e) = &r {
            if e.status == Some(401) {
                *self.cached.lock().await = None;
            }
        }
        r
    }

    /// One host's details.
    pub async fn device(&self, aid: &str) -> Result<Value, ApiError> {
        let c = call(
            format!("GET /devices/entities/devices/v2?ids={aid}"),
            HOSTS_READ,
            false,
        );
        let r = self
            .request(
                &c,
                reqwest::Method::GET,
                "devices/entities/devices/v2",
                &[("ids", aid.to_string())],
                None,
            )
            .await?;
        r.body
            .get("resources")
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .find(|d| {
                        d.get("device_id")
                            .and_then(Value::as_str)
                            .is_some_and(|x| x.eq_ignore_ascii_case(aid))
                    })
                    .cloned()
            })
            .ok_or_else(|| {
                Failure::NotFound {
                    detail: format!("crowdstrike has no host with device id {aid}"),
                }
                .into()
            })
    }

    /// The device ids of hosts named `hostname`.
    pub async fn devices_named(&self, hostname: &str) -> Result<Vec<String>, ApiError> {
        if hostname.contains(['\'', '"', '\\']) {
            return Err(Failure::Permanent {
                detail: format!("host name {hostname:?} holds quote characters"),
            }
            .into());
        }
        let filter = format!("hostname:'{hostname}'");
        let c = call(
            format!("GET /devices/queries/devices/v1?filter={filter}"),
            HOSTS_READ,
            false,
        );
        let r = self
            .request(
                &c,
                reqwest::Method::GET,
                "devices/queries/devices/v1",
                &[("filter", filter), ("limit", "10".into())],
                None,
            )
            .await?;
        Ok(r.body
            .get("resources")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `contain` or `lift_containment` on one host (202 Accepted).
    pub async fn action(&self, aid: &str, action_name: &'static str) -> Result<Value, ApiError> {
        let c = call(
            format!("POST /devices/entities/devices-actions/v2?action_name={action_name}"),
            HOSTS_WRITE,
            true,
        );
        let r = self
            .request(
                &c,
                reqwest::Method::POST,
                "devices/entities/devices-actions/v2",
                &[("action_name", action_name.to_string())],
                Some(&json!({"ids": [aid]})),
            )
            .await?;
        Ok(r.body)
    }

    /// Cheap read, for the self-check.
    pub async fn probe_read(&self) -> Result<(), ApiError> {
        let c = call(
            "GET /devices/queries/devices/v1?limit=1".into(),
            HOSTS_READ,
            false,
        );
        self.request(
            &c,
            reqwest::Method::GET,
            "devices/queries/devices/v1",
            &[("limit", "1".into())],
            None,
        )
        .await
        .map(|_| ())
    }

    /// A host action on no host: authorization is checked before the body, so 403 means the
    /// scope is missing and 400 (empty `ids`) means it is granted. Changes nothing.
    pub async fn probe_write(&self) -> Result<bool, ApiError> {
        let c = call(
            "POST /devices/entities/devices-actions/v2 (empty ids, probe)".into(),
            HOSTS_WRITE,
            false,
        );
        match self
            .request(
                &c,
                reqwest::Method::POST,
                "devices/entities/devices-actions/v2",
                &[("action_name", "contain".into())],
                Some(&json!({"ids": []})),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.status == Some(403) => Ok(false),
            Err(e) if matches!(e.status, Some(400) | Some(404)) => Ok(true),
            Err(e) => Err(e),
        }
    }
}

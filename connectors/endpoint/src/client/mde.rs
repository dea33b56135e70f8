//! Defender for Endpoint API calls. Tokens come from a plain client-credentials request to the
//! Microsoft identity platform (`{authority}/{tenant}/oauth2/v2.0/token`, scope
//! `{resource}/.default`) and are cached until shortly before they expire.

use super::{join, Http, Reply};
use crate::config::{ConfigError, MdeConfig};
use crate::error::{self, ApiError, Call};
use cordon_core::ids::encode_path_segment;
use cordon_core::respond::Failure;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

pub const MACHINE_READ: &str = "Machine.Read.All";
pub const MACHINE_ISOLATE: &str = "Machine.Isolate";
pub const TI_READWRITE: &str = "Ti.ReadWrite.All";

struct Cached {
    token: SecretString,
    roles: Vec<String>,
    refresh_at: Instant,
}

pub(crate) struct MdeClient {
    http: Http,
    token_url: String,
    api: String,
    scope: String,
    client_id: String,
    client_secret: SecretString,
    cached: Mutex<Option<Cached>>,
}

fn call(what: String, permission: &'static str, mutating: bool) -> Call {
    Call {
        vendor: "mde",
        what,
        permission,
        mutating,
    }
}

/// Escapes a value for an OData string literal.
fn odata_literal(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

impl MdeClient {
    pub fn new(cfg: &MdeConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            http: Http::new(&cfg.timeouts)?,
            token_url: join(
                &cfg.authority_host,
                &format!("{}/oauth2/v2.0/token", encode_path_segment(&cfg.tenant_id)),
            ),
            api: cfg.api_base_url.trim_end_matches('/').to_string(),
            scope: format!("{}/.default", cfg.resource.trim_end_matches('/')),
            client_id: cfg.client_id.clone(),
            client_secret: cfg.client_secret.clone(),
            cached: Mutex::new(None),
        })
    }

    /// A valid access token and the roles it carries.
    pub async fn token(&self) -> Result<(SecretString, Vec<String>), Failure> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| c.refresh_at > Instant::now()) {
            return Ok((c.token.clone(), c.roles.clone()));
        }
        let call = Call {
            vendor: "mde",
            what: "token request to the Microsoft identity platform".into(),
            permission: "(application credentials)",
            mutating: false,
        };
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
            ("scope", self.scope.as_str()),
        ];
        let reply = self
            .http
            .send(&call, self.http.client().post(&self.token_url).form(&form))
            .await?;
        if !(200..300).contains(&reply.status) {
            let e = error::status(&call, reply.status, &reply.headers, &reply.body);
            // The identity platform answers bad credentials with 400/401 `invalid_client`.
            return Err(match (reply.status, e.failure) {
                (400 | 401 | 403, f) => Failure::Unauthenticated {
                    detail: f.to_string(),
                },
                (_, f) => f,
            });
        }
        let Some(token) = reply.body.get("access_token").and_then(Value::as_str) else {
            return Err(Failure::Unauthenticated {
                detail: "mde token answer has no access_token".into(),
            });
        };
        let expires_in = reply
            .body
            .get("expires_in")
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(3599);
        let roles = cordon_core::respond::token_roles(token).unwrap_or_default();
        let lifetime = expires_in.saturating_sub(300).max(expires_in / 2);
        let c = Cached {
            token: SecretString::from(token.to_string()),
            roles: roles.clone(),
            refresh_at: Instant::now() + Duration::from_secs(lifetime),
        };
        let out = (c.token.clone(), roles);
        *cached = Some(c);
        Ok(out)
    }

    async fn forget_token(&self) {
        *self.cached.lock().await = None;
    }

    async fn request(
        &self,
        call: &Call,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Reply, ApiError> {
        let (token, _) = self.token().await?;
        let mut req = self
            .http
            .client()
            .request(method, join(&self.api, path))
            .bearer_auth(token.expose_secret())
            .header("accept", "application/json");
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = self.http.expect(call, req).await;
        if let Err(e) = &r {
            if e.status == Some(401) {
                self.forget_token().await;
            }
        }
        r
    }

    pub async fn get_machine(&self, id: &str) -> Result<Value, ApiError> {
        let path = format!("machines/{}", encode_path_segment(id));
        let c = call(format!("GET /{path}"), MACHINE_READ, false);
        Ok(self
            .request(&c, reqwest::Method::GET, &path, &[], None)
            .await?
            .body)
    }

    pub async fn machines_named(&self, dns_name: &str) -> Result<Vec<Value>, ApiError> {
        let filter = format!("computerDnsName eq {}", odata_literal(dns_name));
        let c = call(
            format!("GET /machines?$filter={filter}"),
            MACHINE_READ,
            false,
        );
        let r = self
            .request(
                &c,
                reqwest::Method::GET,
                "machines",
                &[("$filter", filter)],
                None,
            )
            .await?;
        Ok(values(r.body))
    }

    pub async fn machine_actions(&self, machine_id: &str) -> Result<Vec<Value>, ApiError> {
        let filter = format!("machineId eq {}", odata_literal(machine_id));
        let c = call(
            format!("GET /machineactions?$filter={filter}"),
            MACHINE_READ,
            false,
        );
        let r = self
            .request(
                &c,
                reqwest::Method::GET,
                "machineactions",
                &[("$filter", filter)],
                None,
            )
            .await?;
        Ok(values(r.body))
    }

    pub async fn machine_action(&self, id: &str) -> Result<Value, ApiError> {
        let path = format!("machineactions/{}", encode_path_segment(id));
        let c = call(format!("GET /{path}"), MACHINE_READ, false);
        Ok(self
            .request(&c, reqwest::Method::GET, &path, &[], None)
            .await?
            .body)
    }

    /// `isolate` or `unisolate`; the created MachineAction.
    pub async fn isolation(
        &self,
        machine_id: &str,
        isolate: bool,
        comment: &str,
        isolation_type: &str,
    ) -> Result<Value, ApiError> {
        let verb = if isolate { "isolate" } else { "unisolate" };
        let path = format!("machines/{}/{verb}", encode_path_segment(machine_id));
        let c = call(format!("POST /{path}"), MACHINE_ISOLATE, true);
        let body = if isolate {
            json!({"Comment": comment, "IsolationType": isolation_type})
        } else {
            json!({"Comment": comment})
        };
        Ok(self
            .request(&c, reqwest::Method::POST, &path, &[], Some(&body))
            .await?
            .body)
    }

    pub async fn cancel_action(&self, id: &str, comment: &str) -> Result<Value, ApiError> {
        let path = format!("machineactions/{}/cancel", encode_path_segment(id));
        let c = call(format!("POST /{path}"), MACHINE_ISOLATE, true);
        let body = json!({"Comment": comment});
        Ok(self
            .request(&c, reqwest::Method::POST, &path, &[], Some(&body))
            .await?
            .body)
    }

    pub async fn indicators_for(&self, value: &str) -> Result<Vec<Value>, ApiError> {
        let filter = format!("indicatorValue eq {}", odata_literal(value));
        let c = call(
            format!("GET /indicators?$filter={filter}"),
            TI_READWRITE,
            false,
        );
        let r = self
            .request(
                &c,
                reqwest::Method::GET,
                "indicators",
                &[("$filter", filter)],
                None,
            )
            .await?;
        Ok(values(r.body))
    }

    /// Submit-or-update: an indicator with the same value and type is updated in place.
    pub async fn submit_indicator(&self, body: &Value) -> Result<Value, ApiError> {
        let c = call("POST /indicators".into(), TI_READWRITE, true);
        Ok(self
            .request(&c, reqwest::Method::POST, "indicators", &[], Some(body))
            .await?
            .body)
    }

    pub async fn delete_indicator(&self, id: &str) -> Result<(), ApiError> {
        let path = format!("indicators/{}", encode_path_segment(id));
        let c = call(format!("DELETE /{path}"), TI_READWRITE, true);
        self.request(&c, reqwest::Method::DELETE, &path, &[], None)
            .await
            .map(|_| ())
    }
}

/// The `value` array of an OData collection.
fn values(body: Value) -> Vec<Value> {
    match body {
        Value::Object(mut m) => match m.remove("value") {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

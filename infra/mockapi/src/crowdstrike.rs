//! CrowdStrike Falcon API (`/crowdstrike/...`): OAuth2 client credentials, host lookup and host
//! containment, with API-client scopes, the Falcon response envelope
//! (`{"meta":{…,"trace_id"},"resources":[…],"errors":[…]}`) and the `X-Ratelimit-*` headers.
//!
//! Seed (`"crowdstrike"` section):
//! ```json
//! {"clients": [{"client_id": "…", "client_secret": "…", "scopes": ["devices:read", "devices:write"]}],
//!  "devices": [{"device_id": "<32 hex>", "hostname": "ws-01", "status": "normal", "online": true}],
//!  "rate_limit": {"limit": 6000, "window_secs": 60}}
//! ```
//! Scopes: `devices:read` is "Hosts: Read", `devices:write` is "Hosts: Write". A containment moves
//! the device to `containment_pending`, then to `contained` on a later read when it is online;
//! an offline device stays pending (case C14). Lifting containment goes through
//! `lift_containment_pending` to `normal` the same way. When the rate-limit window is spent the
//! API answers 429 with `X-Ratelimit-Remaining: 0` and `X-Ratelimit-RetryAfter` (epoch seconds).
// Handlers answer early with the vendor's error response; boxing it would buy nothing here.
#![allow(clippy::result_large_err)]

use crate::Shared;
use axum::extract::{Query, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

#[derive(Debug, Clone, Deserialize)]
pub struct Client {
    pub client_id: String,
    pub client_secret: String,
    #[serde(default)]
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Device {
    pub fields: Map<String, Value>,
    pub online: bool,
}

impl Device {
    fn id(&self) -> &str {
        self.fields
            .get("device_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
    fn status(&self) -> &str {
        self.fields
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
struct Token {
    scopes: Vec<String>,
    expires: i64,
}

#[derive(Debug, Clone)]
struct RateLimit {
    limit: u32,
    window_secs: i64,
    window_start: i64,
    used: u32,
}

#[derive(Default)]
pub struct State {
    pub clients: Vec<Client>,
    pub devices: Vec<Device>,
    tokens: HashMap<String, Token>,
    rate: Option<RateLimit>,
}

impl State {
    pub fn from_seed(v: &Value) -> Result<Self, String> {
        if v.is_null() {
            return Ok(Self::default());
        }
        let clients = v
            .get("clients")
            .cloned()
            .map(serde_json::from_value::<Vec<Client>>)
            .transpose()
            .map_err(|e| format!("clients: {e}"))?
            .unwrap_or_default();
        let mut devices = Vec::new();
        for d in v
            .get("devices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(obj) = d.as_object() else {
                return Err("devices: each device is an object".into());
            };
            let mut fields = obj.clone();
            let id = fields
                .get("device_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if id.len() != 32 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(format!("device_id {id:?} is not 32 hex characters"));
            }
            let online = fields
                .remove("online")
                .and_then(|v| v.as_bool())
                .unwrap_or(true);
            fields.entry("status").or_insert_with(|| json!("normal"));
            fields
                .entry("platform_name")
                .or_insert_with(|| json!("Windows"));
            fields
                .entry("cid")
                .or_insert_with(|| json!("0123456789abcdef0123456789abcdef"));
            devices.push(Device { fields, online });
        }
        let rate = v.get("rate_limit").map(|rl| RateLimit {
            limit: rl.get("limit").and_then(Value::as_u64).unwrap_or(6000) as u32,
            window_secs: rl.get("window_secs").and_then(Value::as_i64).unwrap_or(60),
            window_start: chrono::Utc::now().timestamp(),
            used: 0,
        });
        Ok(Self {
            clients,
            devices,
            tokens: HashMap::new(),
            rate,
        })
    }

    pub fn snapshot(&self) -> Value {
        json!({
            "devices": self.devices.iter().map(|d| {
                let mut f = d.fields.clone();
                f.insert("online".into(), json!(d.online));
                Value::Object(f)
            }).collect::<Vec<_>>(),
            "tokens_issued": self.tokens.len(),
        })
    }

    /// Moves a device's pending containment change on, if it is online.
    fn advance(&mut self, id: &str) {
        if let Some(d) = self
            .devices
            .iter_mut()
            .find(|d| d.id().eq_ignore_ascii_case(id))
        {
            if !d.online {
                return;
            }
            let next = match d.status() {
                "containment_pending" => "contained",
                "lift_containment_pending" => "normal",
                _ => return,
            };
            d.fields.insert("status".into(), json!(next));
        }
    }
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/oauth2/token", post(token))
        .route("/devices/entities/devices/v2", get(get_devices))
        .route("/devices/queries/devices/v1", get(query_devices))
        .route("/devices/entities/devices-actions/v2", post(device_action))
}

fn trace_id() -> String {
    use sha2::{Digest, Sha256};
    let h = hex::encode(Sha256::digest(
        format!("{:?}", std::time::SystemTime::now()).as_bytes(),
    ));
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn meta() -> Value {
    json!({"query_time": 0.004, "powered_by": "device-api", "trace_id": trace_id()})
}

fn errors(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"meta": meta(), "resources": [], "errors": [{"code": status.as_u16(), "message": message}]})),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct TokenRequest {
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn token(AxState(s): AxState<Shared>, Form(req): Form<TokenRequest>) -> Response {
    let mut v = s.vendors();
    let st = &mut v.crowdstrike;
    let (Some(id), Some(secret)) = (req.client_id, req.client_secret) else {
        return errors(
            StatusCode::BAD_REQUEST,
            "client_id and client_secret are required",
        );
    };
    let Some(client) = st
        .clients
        .iter()
        .find(|c| c.client_id == id && c.client_secret == secret)
    else {
        return errors(
            StatusCode::FORBIDDEN,
            "Failed to issue access token - Not Authorized",
        );
    };
    let scopes = client.scopes.clone();
    let now = chrono::Utc::now().timestamp();
    let token = format!("cs-mock-{}", trace_id().replace('-', ""));
    st.tokens.insert(
        token.clone(),
        Token {
            scopes,
            expires: now + 1799,
        },
    );
    (
        StatusCode::CREATED,
        Json(json!({"access_token": token, "token_type": "bearer", "expires_in": 1799})),
    )
        .into_response()
}

/// Authenticates, spends a rate-limit call and checks the scope. On success returns the rate
/// headers to add to the answer.
fn authorize(
    st: &mut State,
    headers: &HeaderMap,
    scope: &str,
) -> Result<Vec<(&'static str, String)>, Response> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim);
    let now = chrono::Utc::now().timestamp();
    let Some(t) = token
        .and_then(|t| st.tokens.get(t))
        .filter(|t| t.expires > now)
        .cloned()
    else {
        return Err(errors(
            StatusCode::UNAUTHORIZED,
            "access denied, invalid bearer token",
        ));
    };
    let mut rate_headers = Vec::new();
    if let Some(rl) = st.rate.as_mut() {
        if now >= rl.window_start + rl.window_secs {
            rl.window_start = now;
            rl.used = 0;
        }
        if rl.used >= rl.limit {
            let mut r = errors(StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded.");
            let h = r.headers_mut();
            for (k, val) in [
                ("x-ratelimit-limit", rl.limit.to_string()),
                ("x-ratelimit-remaining", "0".to_string()),
                (
                    "x-ratelimit-retryafter",
                    (rl.window_start + rl.window_secs).to_string(),
                ),
            ] {
                if let Ok(val) = HeaderValue::from_str(&val) {
                    h.insert(k, val);
                }
            }
            return Err(r);
        }
        rl.used += 1;
        rate_headers.push(("x-ratelimit-limit", rl.limit.to_string()));
        rate_headers.push(("x-ratelimit-remaining", (rl.limit - rl.used).to_string()));
    }
    if !t.scopes.iter().any(|s| s == scope) {
        return Err(errors(
            StatusCode::FORBIDDEN,
            "access denied, authorization failed",
        ));
    }
    Ok(rate_headers)
}

fn with_headers(mut r: Response, headers: Vec<(&'static str, String)>) -> Response {
    for (k, v) in headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

/// Values of a query parameter that may repeat (`ids=a&ids=b`) or hold a comma list.
fn values(q: &[(String, String)], key: &str) -> Vec<String> {
    q.iter()
        .filter(|(k, _)| k == key || k == &format!("{key}[]"))
        .flat_map(|(_, v)| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

async fn get_devices(
    AxState(s): AxState<Shared>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let mut v = s.vendors();
    let st = &mut v.crowdstrike;
    let rate = match authorize(st, &headers, "devices:read") {
        Ok(h) => h,
        Err(r) => return r,
    };
    let ids = values(&q, "ids");
    if ids.is_empty() {
        return with_headers(errors(StatusCode::BAD_REQUEST, "ids is required"), rate);
    }
    let mut resources = Vec::new();
    let mut errs = Vec::new();
    for id in &ids {
        st.advance(id);
        match st.devices.iter().find(|d| d.id().eq_ignore_ascii_case(id)) {
            Some(d) => resources.push(Value::Object(d.fields.clone())),
            None => errs
                .push(json!({"code": 404, "message": format!("Device {id} not found"), "id": id})),
        }
    }
    let status = if resources.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    with_headers(
        (
            status,
            Json(json!({"meta": meta(), "resources": resources, "errors": errs})),
        )
            .into_response(),
        rate,
    )
}

/// Parses the FQL filters this mock understands: `hostname:'x'`, `hostname:"x"`, `hostname:['x']`.
fn fql(filter: &str) -> Option<(String, String)> {
    let (k, v) = filter.split_once(':')?;
    let v = v.trim().trim_start_matches('[').trim_end_matches(']');
    let v = v.trim_matches(|c| c == '\'' || c == '"');
    Some((k.trim().to_string(), v.to_string()))
}

async fn query_devices(
    AxState(s): AxState<Shared>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let mut v = s.vendors();
    let st = &mut v.crowdstrike;
    let rate = match authorize(st, &headers, "devices:read") {
        Ok(h) => h,
        Err(r) => return r,
    };
    let filter = q
        .iter()
        .find(|(k, _)| k == "filter")
        .map(|(_, v)| v.clone());
    let limit = q
        .iter()
        .find(|(k, _)| k == "limit")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(100);
    let clause = match filter.as_deref().map(fql) {
        None => None,
        Some(Some(c)) => Some(c),
        Some(None) => {
            return with_headers(
                errors(StatusCode::BAD_REQUEST, "Invalid filter expression"),
                rate,
            );
        }
    };
    let ids: Vec<Value> = st
        .devices
        .iter()
        .filter(|d| match &clause {
            None => true,
            Some((k, val)) => d
                .fields
                .get(k)
                .and_then(Value::as_str)
                .is_some_and(|x| x.eq_ignore_ascii_case(val)),
        })
        .map(|d| json!(d.id()))
        .collect();
    let total = ids.len();
    let ids: Vec<Value> = ids.into_iter().take(limit).collect();
    let mut m = meta();
    m["pagination"] = json!({"offset": 0, "limit": limit, "total": total});
    with_headers(
        Json(json!({"meta": m, "resources": ids, "errors": []})).into_response(),
        rate,
    )
}

async fn device_action(
    AxState(s): AxState<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Option<Json<Value>>,
) -> Response {
    let mut v = s.vendors();
    let st = &mut v.crowdstrike;
    let rate = match authorize(st, &headers, "devices:write") {
        Ok(h) => h,
        Err(r) => return r,
    };
    let next = match q.get("action_name").map(String::as_str) {
        Some("contain") => "containment_pending",
        Some("lift_containment") => "lift_containment_pending",
        Some(other) => {
            return with_headers(
                errors(
                    StatusCode::BAD_REQUEST,
                    &format!("action_name {other} is not supported by this mock"),
                ),
                rate,
            )
        }
        None => {
            return with_headers(
                errors(StatusCode::BAD_REQUEST, "action_name is required"),
                rate,
            )
        }
    };
    let ids: Vec<String> = body
        .and_then(|Json(b)| b.get("ids").and_then(Value::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if ids.is_empty() {
        return with_headers(errors(StatusCode::BAD_REQUEST, "ids is required"), rate);
    }
    let mut resources = Vec::new();
    let mut errs = Vec::new();
    for id in &ids {
        match st
            .devices
            .iter_mut()
            .find(|d| d.id().eq_ignore_ascii_case(id))
        {
            Some(d) => {
                // A request against a change that has not reached the sensor yet replaces it
                // (last write wins): lifting a pending containment leaves the host as it was.
                let status = match (next, d.status()) {
                    ("containment_pending", "contained" | "lift_containment_pending") => {
                        "contained"
                    }
                    ("lift_containment_pending", "normal" | "containment_pending") => "normal",
                    (n, _) => n,
                };
                d.fields.insert("status".into(), json!(status));
                resources
                    .push(json!({"id": d.id(), "path": "/devices/entities/devices-actions/v2"}));
            }
            None => errs
                .push(json!({"code": 404, "message": format!("Device {id} not found"), "id": id})),
        }
    }
    let status = if resources.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::ACCEPTED
    };
    with_headers(
        (
            status,
            Json(json!({"meta": meta(), "resources": resources, "errors": errs})),
        )
            .into_response(),
        rate,
    )
}

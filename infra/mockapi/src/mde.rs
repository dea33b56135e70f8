//! Microsoft Defender for Endpoint API (`/mde/api/...`): machines, machine actions (isolate,
//! unisolate, cancel) and indicators, behind bearer tokens issued by [`crate::identity`] for the
//! audience `https://api.securitycenter.microsoft.com`, with permissions read from the token's
//! `roles` claim as the real API does.
//!
//! Seed (`"mde"` section):
//! ```json
//! {"machines": [{"id": "<40 hex>", "computerDnsName": "ws-01.contoso.com",
//!                "healthStatus": "Active", "onboardingStatus": "Onboarded",
//!                "online": true, "isolated": false,
//!                "action_outcome": "Succeeded"}],
//!  "indicators": [{"indicatorValue": "203.0.113.9", "indicatorType": "IpAddress", "action": "Block"}],
//!  "rate_limit": {"calls": 100, "window_secs": 60}}
//! ```
//! `online` and `action_outcome` (`Succeeded`, `Failed`, `TimeOut`) are mock-only: a machine
//! action on an online machine moves Pending → InProgress → its outcome over successive reads of
//! the action or the machine; on an offline machine it stays Pending forever (case C14).
//! `rate_limit` (optional) answers 429 with `Retry-After` once the calls of a window are spent.
// Handlers answer early with the vendor's error response; boxing it would buy nothing here.
#![allow(clippy::result_large_err)]

use crate::Shared;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// The audience MDE tokens are issued for.
pub const AUDIENCE: &str = "https://api.securitycenter.microsoft.com";

const ISOLATE: &str = "Machine.Isolate";
const READ: &[&str] = &["Machine.Read.All", "Machine.ReadWrite.All"];
const TI_WRITE: &[&str] = &["Ti.ReadWrite.All", "Ti.ReadWrite"];
const TI_READ: &[&str] = &["Ti.ReadWrite.All", "Ti.ReadWrite", "Ti.Read.All"];

#[derive(Debug, Clone)]
pub struct Machine {
    /// The machine as the API shows it (id, computerDnsName, healthStatus, …, isolated).
    pub fields: Map<String, Value>,
    pub online: bool,
    /// Where an action on this machine ends: Succeeded, Failed, TimeOut.
    pub outcome: String,
}

impl Machine {
    fn id(&self) -> &str {
        self.fields
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
    fn dns(&self) -> &str {
        self.fields
            .get("computerDnsName")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct MachineAction {
    pub fields: Map<String, Value>,
}

impl MachineAction {
    fn status(&self) -> &str {
        self.fields
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
    fn machine_id(&self) -> &str {
        self.fields
            .get("machineId")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
    fn kind(&self) -> &str {
        self.fields
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
    fn active(&self) -> bool {
        matches!(self.status(), "Pending" | "InProgress")
    }
}

#[derive(Debug, Clone, Default)]
struct RateLimit {
    calls: u32,
    window_secs: i64,
    window_start: i64,
    used: u32,
}

#[derive(Default)]
pub struct State {
    pub machines: Vec<Machine>,
    pub actions: Vec<MachineAction>,
    pub indicators: Vec<Map<String, Value>>,
    next_indicator: u64,
    rate: Option<RateLimit>,
}

fn now_str() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
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

impl State {
    pub fn from_seed(v: &Value) -> Result<Self, String> {
        if v.is_null() {
            return Ok(Self::default());
        }
        let mut st = Self::default();
        for m in v
            .get("machines")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(obj) = m.as_object() else {
                return Err("machines: each machine is an object".into());
            };
            let mut fields = obj.clone();
            let id = fields
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if id.len() != 40 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(format!("machine id {id:?} is not 40 hex characters"));
            }
            let online = fields
                .remove("online")
                .and_then(|v| v.as_bool())
                .unwrap_or(true);
            let outcome = fields
                .remove("action_outcome")
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "Succeeded".into());
            fields
                .entry("healthStatus")
                .or_insert_with(|| json!("Active"));
            fields
                .entry("onboardingStatus")
                .or_insert_with(|| json!("Onboarded"));
            fields.entry("isolated").or_insert(json!(false));
            fields
                .entry("osPlatform")
                .or_insert_with(|| json!("Windows11"));
            fields.insert(
                "lastSeen".into(),
                json!(if online {
                    now_str()
                } else {
                    "2026-01-01T00:00:00Z".to_string()
                }),
            );
            st.machines.push(Machine {
                fields,
                online,
                outcome,
            });
        }
        for i in v
            .get("indicators")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(obj) = i.as_object() else {
                return Err("indicators: each indicator is an object".into());
            };
            let mut obj = obj.clone();
            st.next_indicator += 1;
            obj.entry("id")
                .or_insert_with(|| json!(st.next_indicator.to_string()));
            obj.entry("createdBy").or_insert_with(|| json!("seed"));
            obj.entry("creationTimeDateTimeUtc")
                .or_insert_with(|| json!(now_str()));
            st.indicators.push(obj);
        }
        if let Some(rl) = v.get("rate_limit") {
            st.rate = Some(RateLimit {
                calls: rl.get("calls").and_then(Value::as_u64).unwrap_or(100) as u32,
                window_secs: rl.get("window_secs").and_then(Value::as_i64).unwrap_or(60),
                window_start: chrono::Utc::now().timestamp(),
                used: 0,
            });
        }
        Ok(st)
    }

    pub fn snapshot(&self) -> Value {
        json!({
            "machines": self.machines.iter().map(|m| {
                let mut f = m.fields.clone();
                f.insert("online".into(), json!(m.online));
                Value::Object(f)
            }).collect::<Vec<_>>(),
            "machineActions": self.actions.iter().map(|a| Value::Object(a.fields.clone())).collect::<Vec<_>>(),
            "indicators": self.indicators.iter().cloned().map(Value::Object).collect::<Vec<_>>(),
        })
    }

    fn machine_mut(&mut self, id: &str) -> Option<&mut Machine> {
        self.machines
            .iter_mut()
            .find(|m| m.id().eq_ignore_ascii_case(id))
    }

    /// Moves a machine's active actions one step on, if the machine is online.
    fn advance(&mut self, machine_id: &str) {
        let Some(m) = self
            .machines
            .iter()
            .find(|m| m.id().eq_ignore_ascii_case(machine_id))
        else {
            return;
        };
        if !m.online {
            return;
        }
        let outcome = m.outcome.clone();
        let mut isolated: Option<bool> = None;
        for a in self
            .actions
            .iter_mut()
            .filter(|a| a.machine_id().eq_ignore_ascii_case(machine_id))
        {
            let next = match a.status() {
                "Pending" => "InProgress".to_string(),
                "InProgress" => outcome.clone(),
                _ => continue,
            };
            if next == "Succeeded" {
                isolated = Some(a.kind() == "Isolate");
            }
            a.fields.insert("status".into(), json!(next));
            a.fields
                .insert("lastUpdateDateTimeUtc".into(), json!(now_str()));
        }
        if let (Some(iso), Some(m)) = (isolated, self.machine_mut(machine_id)) {
            m.fields.insert("isolated".into(), json!(iso));
        }
    }

    /// Spends one call of the rate-limit window; `Some(seconds)` to wait when none is left.
    fn spend(&mut self) -> Option<i64> {
        let rl = self.rate.as_mut()?;
        let now = chrono::Utc::now().timestamp();
        if now >= rl.window_start + rl.window_secs {
            rl.window_start = now;
            rl.used = 0;
        }
        if rl.used >= rl.calls {
            return Some((rl.window_start + rl.window_secs - now).max(1));
        }
        rl.used += 1;
        None
    }
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/machines", get(list_machines))
        .route("/api/machines/{id}", get(get_machine))
        .route("/api/machines/{id}/isolate", post(isolate))
        .route("/api/machines/{id}/unisolate", post(unisolate))
        .route("/api/machineactions", get(list_actions))
        .route("/api/machineactions/{id}", get(get_action))
        .route("/api/machineactions/{id}/cancel", post(cancel_action))
        .route("/api/indicators", get(list_indicators).post(post_indicator))
        .route(
            "/api/indicators/{id}",
            axum::routing::delete(delete_indicator),
        )
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message, "target": uuid_like(&format!("{message}{}", now_str()))}})),
    )
        .into_response()
}

fn odata(entity: &str, value: Vec<Value>) -> Response {
    Json(json!({
        "@odata.context": format!("https://api.securitycenter.microsoft.com/api/$metadata#{entity}"),
        "value": value,
    }))
    .into_response()
}

/// Authenticates, spends a rate-limit call and checks that the token carries one of `any_of`.
fn authorize(
    st: &mut crate::Vendors,
    headers: &HeaderMap,
    any_of: &[&str],
) -> Result<(), Response> {
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let claims = st.identity.check(auth, AUDIENCE).map_err(|_| {
        error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Authorization has been denied for this request.",
        )
    })?;
    if let Some(wait) = st.mde.spend() {
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Rate limit is exceeded. Try again later.",
        );
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
        return Err(r);
    }
    if any_of.iter().any(|p| claims.roles.iter().any(|r| r == p)) {
        return Ok(());
    }
    Err(error(
        StatusCode::FORBIDDEN,
        "Forbidden",
        &format!(
            "The application does not have any of the required application permissions ({}) to access the resource.",
            any_of.join(", ")
        ),
    ))
}

/// The clauses of an OData `$filter` such as `computerDnsName eq 'x' and type eq 'Isolate'`.
fn filter_clauses(q: &HashMap<String, String>) -> Result<Vec<(String, String)>, Response> {
    let Some(f) = q.get("$filter") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for clause in f.split(" and ") {
        let parsed = clause.trim().split_once(" eq ").and_then(|(k, v)| {
            let v = v.trim();
            v.strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .map(|v| (k.trim().to_string(), v.replace("''", "'")))
        });
        match parsed {
            Some(p) => out.push(p),
            None => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    &format!("Invalid filter clause: {clause}"),
                ))
            }
        }
    }
    Ok(out)
}

fn matches(obj: &Map<String, Value>, clauses: &[(String, String)]) -> bool {
    clauses.iter().all(|(k, v)| match obj.get(k) {
        Some(Value::String(s)) => s.eq_ignore_ascii_case(v),
        Some(other) => serde_json::from_str::<Value>(v).ok().as_ref() == Some(other),
        None => false,
    })
}

async fn list_machines(
    AxState(s): AxState<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut v = s.vendors();
    if let Err(r) = authorize(&mut v, &headers, READ) {
        return r;
    }
    let clauses = match filter_clauses(&q) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let ids: Vec<String> = v
        .mde
        .machines
        .iter()
        .filter(|m| matches(&m.fields, &clauses))
        .map(|m| m.id().to_string())
        .collect();
    for id in &ids {
        v.mde.advance(id);
    }
    let value = v
        .mde
        .machines
        .iter()
        .filter(|m| matches(&m.fields, &clauses))
        .map(|m| Value::Object(m.fields.clone()))
        .collect();
    odata("Machines", value)
}

fn not_found_machine(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        &format!("Machine {id} was not found"),
    )
}

async fn get_machine(
    AxState(s): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut v = s.vendors();
    if let Err(r) = authorize(&mut v, &headers, READ) {
        return r;
    }
    v.mde.advance(&id);
    match v.mde.machine_mut(&id) {
        Some(m) => {
            let mut f = m.fields.clone();
            f.insert(
                "@odata.context".into(),
                json!("https://api.securitycenter.microsoft.com/api/$metadata#Machines/$entity"),
            );
            Json(Value::Object(f)).into_response()
        }
        None => not_found_machine(&id),
    }
}

async fn isolate(
    s: AxState<Shared>,
    headers: HeaderMap,
    id: Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    machine_action(s, headers, id, body, "Isolate").await
}

async fn unisolate(
    s: AxState<Shared>,
    headers: HeaderMap,
    id: Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    machine_action(s, headers, id, body, "Unisolate").await
}

async fn machine_action(
    AxState(s): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
    kind: &str,
) -> Response {
    let mut v = s.vendors();
    if let Err(r) = authorize(&mut v, &headers, &[ISOLATE]) {
        return r;
    }
    let Some(Json(body)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestBody",
            "Request body is missing or is not JSON",
        );
    };
    let Some(comment) = body
        .get("Comment")
        .and_then(Value::as_str)
        .filter(|c| !c.trim().is_empty())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestBody",
            "Comment is required",
        );
    };
    let scope = match (kind, body.get("IsolationType").and_then(Value::as_str)) {
        ("Isolate", None) => "Full",
        ("Isolate", Some(t @ ("Full" | "Selective" | "UnManagedDevice"))) => t,
        ("Isolate", Some(other)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestBody",
                &format!("Invalid IsolationType: {other}"),
            )
        }
        _ => "Full",
    };
    let requestor = match headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .map(|h| v.identity.check(Some(h), AUDIENCE))
    {
        Some(Ok(c)) => c.client_id,
        _ => String::new(),
    };
    let st = &mut v.mde;
    let Some(m) = st
        .machines
        .iter()
        .find(|m| m.id().eq_ignore_ascii_case(&id))
    else {
        return not_found_machine(&id);
    };
    let (machine_id, dns) = (m.id().to_string(), m.dns().to_string());
    if st.actions.iter().any(|a| {
        a.machine_id() == machine_id && a.active() && matches!(a.kind(), "Isolate" | "Unisolate")
    }) {
        return error(
            StatusCode::BAD_REQUEST,
            "ActiveRequestAlreadyExists",
            "Action is already in progress",
        );
    }
    let now = now_str();
    let action_id = uuid_like(&format!("{machine_id}{kind}{now}{}", st.actions.len()));
    let fields = json!({
        "id": action_id, "type": kind, "scope": scope, "requestor": requestor,
        "requestorComment": comment, "status": "Pending", "machineId": machine_id,
        "computerDnsName": dns, "creationDateTimeUtc": now, "lastUpdateDateTimeUtc": now,
        "externalID": body.get("ExternalID").cloned().unwrap_or(Value::Null),
        "relatedFileInfo": Value::Null,
    });
    let Value::Object(fields) = fields else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "mock",
        );
    };
    st.actions.push(MachineAction {
        fields: fields.clone(),
    });
    let mut out = fields;
    out.insert(
        "@odata.context".into(),
        json!("https://api.securitycenter.microsoft.com/api/$metadata#MachineActions/$entity"),
    );
    (StatusCode::CREATED, Json(Value::Object(out))).into_response()
}

async fn list_actions(
    AxState(s): AxState<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut v = s.vendors();
    if let Err(r) = authorize(&mut v, &headers, READ) {
        return r;
    }
    let clauses = match filter_clauses(&q) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let machines: Vec<String> = v
        .mde
        .actions
        .iter()
        .filter(|a| matches(&a.fields, &clauses))
        .map(|a| a.machine_id().to_string())
        .collect();
    for m in machines {
        v.mde.advance(&m);
    }
    let value = v
        .mde
        .actions
        .iter()
        .filter(|a| matches(&a.fields, &clauses))
        .map(|a| Value::Object(a.fields.clone()))
        .collect();
    odata("MachineActions", value)
}

async fn get_action(
    AxState(s): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut v = s.vendors();
    if let Err(r) = authorize(&mut v, &headers, READ) {
        return r;
    }
    let Some(machine) = v
        .mde
        .actions
        .iter()
        .find(|a| a.fields.get("id").and_then(Value::as_str) == Some(id.as_str()))
        .map(|a| a.machine_id().to_string())
    else {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            &format!("MachineAction {id} was not found"),
        );
    };
    v.mde.advance(&machine);
    match v
        .mde
        .actions
        .iter()
        .find(|a| a.fields.get("id").and_then(Value::as_str) == Some(id.as_str()))
    {
        Some(a) => Json(Value::Object(a.fields.clone())).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            &format!("MachineAction {id} was not found"),
        ),
    }
}

async fn cancel_action(
    AxState(s): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    let mut v = s.vendors();
    if let Err(r) = authorize(&mut v, &headers, &[ISOLATE]) {
        return r;
    }
    if body
        .and_then(|Json(b)| b.get("Comment").and_then(Value::as_str).map(str::to_string))
        .is_none()
    {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestBody",
            "Comment is required",
        );
    }
    let Some(a) = v
        .mde
        .actions
        .iter_mut()
        .find(|a| a.fields.get("id").and_then(Value::as_str) == Some(id.as_str()))
    else {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            &format!("MachineAction {id} was not found"),
        );
    };
    if !a.active() {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            &format!(
                "Machine action {id} cannot be cancelled in status {}",
                a.status()
            ),
        );
    }
    a.fields.insert("status".into(), json!("Cancelled"));
    a.fields
        .insert("lastUpdateDateTimeUtc".into(), json!(now_str()));
    Json(Value::Object(a.fields.clone())).into_response()
}

async fn list_indicators(
    AxState(s): AxState<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut v = s.vendors();
    if let Err(r) = authorize(&mut v, &headers, TI_READ) {
        return r;
    }
    let clauses = match filter_clauses(&q) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let value = v
        .mde
        .indicators
        .iter()
        .filter(|i| matches(i, &clauses))
        .cloned()
        .map(Value::Object)
        .collect();
    odata("Indicators", value)
}

const INDICATOR_TYPES: &[&str] = &[
    "FileSha1",
    "FileMd5",
    "CertificateThumbprint",
    "FileSha256",
    "IpAddress",
    "DomainName",
    "Url",
];
const INDICATOR_ACTIONS: &[&str] = &[
    "Alert",
    "Warn",
    "Block",
    "Audit",
    "BlockAndRemediate",
    "AlertAndBlock",
    "Allowed",
];

async fn post_indicator(
    AxState(s): AxState<Shared>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    let mut v = s.vendors();
    if let Err(r) = authorize(&mut v, &headers, TI_WRITE) {
        return r;
    }
    let creator = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| v.identity.check(Some(h), AUDIENCE).ok())
        .map(|c| c.client_id)
        .unwrap_or_default();
    let Some(Json(Value::Object(body))) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestBody",
            "Request body is missing or is not a JSON object",
        );
    };
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (value, kind, action) = (
        field("indicatorValue"),
        field("indicatorType"),
        field("action"),
    );
    if value.is_empty()
        || !INDICATOR_TYPES.contains(&kind.as_str())
        || !INDICATOR_ACTIONS.contains(&action.as_str())
    {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestBody",
            "indicatorValue, a valid indicatorType and a valid action are required",
        );
    }
    if field("title").is_empty() || field("description").is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestBody",
            "title and description are required",
        );
    }
    if kind == "IpAddress" && value.parse::<std::net::IpAddr>().is_err() {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestBody",
            &format!("Invalid IpAddress indicator value: {value} (CIDR notation and ranges are not supported)"),
        );
    }
    let st = &mut v.mde;
    let now = now_str();
    // Submit-or-update: an indicator with the same value and type is updated in place.
    let existing = st.indicators.iter().position(|i| {
        i.get("indicatorValue")
            .and_then(Value::as_str)
            .is_some_and(|x| x.eq_ignore_ascii_case(&value))
            && i.get("indicatorType").and_then(Value::as_str) == Some(kind.as_str())
    });
    let mut ind = match existing {
        Some(pos) => st.indicators[pos].clone(),
        None => {
            st.next_indicator += 1;
            let mut m = Map::new();
            m.insert("id".into(), json!(st.next_indicator.to_string()));
            m.insert("creationTimeDateTimeUtc".into(), json!(now));
            m.insert("createdBy".into(), json!(creator));
            m
        }
    };
    for k in [
        "indicatorValue",
        "indicatorType",
        "action",
        "title",
        "description",
        "expirationTime",
        "severity",
        "recommendedActions",
        "rbacGroupNames",
        "generateAlert",
        "application",
    ] {
        if let Some(x) = body.get(k) {
            ind.insert(k.into(), x.clone());
        }
    }
    ind.entry("severity")
        .or_insert_with(|| json!("Informational"));
    ind.entry("generateAlert").or_insert(json!(false));
    ind.insert("lastUpdateTime".into(), json!(now));
    ind.insert("lastUpdatedBy".into(), json!(creator));
    match existing {
        Some(pos) => st.indicators[pos] = ind.clone(),
        None => st.indicators.push(ind.clone()),
    }
    ind.insert(
        "@odata.context".into(),
        json!("https://api.securitycenter.microsoft.com/api/$metadata#Indicators/$entity"),
    );
    Json(Value::Object(ind)).into_response()
}

async fn delete_indicator(
    AxState(s): AxState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut v = s.vendors();
    if let Err(r) = authorize(&mut v, &headers, TI_WRITE) {
        return r;
    }
    let st = &mut v.mde;
    match st
        .indicators
        .iter()
        .position(|i| i.get("id").and_then(Value::as_str) == Some(id.as_str()))
    {
        Some(pos) => {
            st.indicators.remove(pos);
            StatusCode::NO_CONTENT.into_response()
        }
        None => error(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            &format!("Indicator {id} was not found"),
        ),
    }
}

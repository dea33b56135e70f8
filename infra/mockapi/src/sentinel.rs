//! Microsoft Sentinel incidents through Azure Resource Manager (`/arm/subscriptions/…`),
//! stateful and authenticated with bearer tokens from [`crate::identity`] (audience
//! `https://management.azure.com`). Small, but with ARM's real behaviour: `api-version` is
//! required, writes need the current `etag` (409 on a mismatch in the body, 412 on a mismatched
//! `If-Match`), reads need a Sentinel reader role and writes `Microsoft Sentinel Responder` (or
//! Contributor) in the token's `roles`.
//!
//! Paths (under `/arm`), all with `?api-version=…`:
//! - `GET  /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/workspaces/{ws}/providers/Microsoft.SecurityInsights/incidents`
//!   (`$filter=properties/lastModifiedTimeUtc gt <time>` [`and …`], `$orderby`, `$top`, `$skipToken`)
//! - `GET|PUT …/incidents/{id}`
//! - `GET …/incidents/{id}/comments`, `PUT …/incidents/{id}/comments/{commentId}`
//! - `POST …/incidents/{id}/entities`, `POST …/incidents/{id}/alerts`
//!
//! Seed (`"sentinel"` section):
//! ```json
//! {"incidents": [{"subscription": "<sub>", "resourceGroup": "rg", "workspace": "ws",
//!   "name": "<incident id>", "properties": {"title": "…", "severity": "High", "status": "New",
//!   "lastModifiedTimeUtc": "2026-01-01T00:00:00Z", "labels": []},
//!   "entities": [{"kind": "Account", "properties": {…}}], "alerts": [{…}]}]}
//! ```

use crate::Shared;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

const AUDIENCE: &str = "https://management.azure.com";
const READ_ROLES: &[&str] = &[
    "Microsoft Sentinel Reader",
    "Microsoft Sentinel Responder",
    "Microsoft Sentinel Contributor",
    "Contributor",
    "Owner",
    "Reader",
];
const WRITE_ROLES: &[&str] = &[
    "Microsoft Sentinel Responder",
    "Microsoft Sentinel Contributor",
    "Contributor",
    "Owner",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SeedIncident {
    subscription: String,
    resource_group: String,
    workspace: String,
    name: String,
    #[serde(default)]
    properties: Map<String, Value>,
    #[serde(default)]
    entities: Vec<Value>,
    #[serde(default)]
    alerts: Vec<Value>,
    #[serde(default)]
    comments: Vec<Value>,
}

#[derive(Debug, Clone)]
pub struct Incident {
    pub subscription: String,
    pub resource_group: String,
    pub workspace: String,
    pub name: String,
    pub etag: String,
    pub properties: Map<String, Value>,
    pub entities: Vec<Value>,
    pub alerts: Vec<Value>,
    /// Comment id → comment resource.
    pub comments: Vec<(String, Value)>,
}

impl Incident {
    fn scope(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.OperationalInsights/workspaces/{}",
            self.subscription, self.resource_group, self.workspace
        )
    }
    fn id(&self) -> String {
        format!(
            "{}/providers/Microsoft.SecurityInsights/Incidents/{}",
            self.scope(),
            self.name
        )
    }
    /// The incident `id` of workspace `w` (names compare case-insensitively, as ARM does).
    fn is(&self, w: &Ws, id: &str) -> bool {
        self.matches(w) && self.name.eq_ignore_ascii_case(id)
    }
    fn matches(&self, w: &Ws) -> bool {
        self.subscription.eq_ignore_ascii_case(&w.sub)
            && self.resource_group.eq_ignore_ascii_case(&w.rg)
            && self.workspace.eq_ignore_ascii_case(&w.ws)
    }
    fn resource(&self) -> Value {
        let mut props = self.properties.clone();
        let mut additional = props
            .get("additionalData")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        additional.insert("alertsCount".into(), json!(self.alerts.len()));
        additional.insert("commentsCount".into(), json!(self.comments.len()));
        additional.entry("bookmarksCount").or_insert(json!(0));
        props.insert("additionalData".into(), Value::Object(additional));
        json!({"id": self.id(), "name": self.name, "etag": self.etag,
               "type": "Microsoft.SecurityInsights/Incidents", "properties": props})
    }
    fn modified(&self) -> Option<DateTime<Utc>> {
        self.properties
            .get("lastModifiedTimeUtc")
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    }
    fn created(&self) -> Option<DateTime<Utc>> {
        self.properties
            .get("createdTimeUtc")
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    }
}

#[derive(Default)]
pub struct State {
    pub incidents: Vec<Incident>,
    /// Bumped on every write, so etags are unique.
    version: u64,
    next_number: u64,
}

fn now_str() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl State {
    pub fn from_seed(v: &Value) -> Result<Self, String> {
        let mut st = Self {
            next_number: 1,
            ..Self::default()
        };
        if v.is_null() {
            return Ok(st);
        }
        let seeds: Vec<SeedIncident> = match v.get("incidents") {
            Some(i) => serde_json::from_value(i.clone()).map_err(|e| format!("incidents: {e}"))?,
            None => Vec::new(),
        };
        for s in seeds {
            let mut props = s.properties;
            let now = now_str();
            props.entry("createdTimeUtc").or_insert(json!(now));
            props.entry("lastModifiedTimeUtc").or_insert(json!(now));
            props.entry("labels").or_insert(json!([]));
            props.entry("status").or_insert(json!("New"));
            props.entry("severity").or_insert(json!("Medium"));
            if !props.contains_key("incidentNumber") {
                props.insert("incidentNumber".into(), json!(st.next_number));
            }
            st.next_number = st.next_number.max(
                props
                    .get("incidentNumber")
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
                    + 1,
            );
            let etag = st.etag();
            let mut inc = Incident {
                subscription: s.subscription,
                resource_group: s.resource_group,
                workspace: s.workspace,
                name: s.name,
                etag,
                properties: props,
                entities: s.entities,
                alerts: s.alerts,
                comments: Vec::new(),
            };
            for (n, c) in s.comments.into_iter().enumerate() {
                let id = c
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("seed-{n}"));
                let msg = c
                    .pointer("/properties/message")
                    .or_else(|| c.get("message"))
                    .cloned()
                    .unwrap_or(json!(""));
                let res = comment_resource(&inc, &id, &msg, "seed", &st.etag());
                inc.comments.push((id, res));
            }
            st.incidents.push(inc);
        }
        Ok(st)
    }

    pub fn snapshot(&self) -> Value {
        let incidents: Vec<Value> = self
            .incidents
            .iter()
            .map(|i| {
                let mut r = i.resource();
                if let Some(o) = r.as_object_mut() {
                    o.insert(
                        "comments".into(),
                        Value::Array(i.comments.iter().map(|(_, c)| c.clone()).collect()),
                    );
                }
                r
            })
            .collect();
        json!({"incidents": incidents})
    }

    fn etag(&mut self) -> String {
        self.version += 1;
        use sha2::{Digest, Sha256};
        let h = hex::encode(Sha256::digest(format!("etag-{}", self.version)));
        format!(
            "\"{}-{}-{}-{}-{}\"",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

fn comment_resource(inc: &Incident, id: &str, message: &Value, author: &str, etag: &str) -> Value {
    let now = now_str();
    json!({
        "id": format!("{}/Comments/{id}", inc.id()), "name": id, "etag": etag,
        "type": "Microsoft.SecurityInsights/Incidents/Comments",
        "properties": {"message": message, "createdTimeUtc": now, "lastModifiedTimeUtc": now,
                        "author": {"objectId": author, "name": author, "userPrincipalName": null}}
    })
}

/// ARM's error body.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

const INC: &str = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/workspaces/{ws}/providers/Microsoft.SecurityInsights/incidents";

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(INC, get(list))
        .route(
            &format!("{INC}/{{id}}"),
            get(get_incident).put(put_incident),
        )
        .route(&format!("{INC}/{{id}}/comments"), get(list_comments))
        .route(
            &format!("{INC}/{{id}}/comments/{{comment}}"),
            put(put_comment),
        )
        .route(&format!("{INC}/{{id}}/entities"), post(entities))
        .route(&format!("{INC}/{{id}}/alerts"), post(alerts))
}

#[derive(Deserialize)]
struct Ws {
    sub: String,
    rg: String,
    ws: String,
}

#[derive(Deserialize)]
struct WsInc {
    sub: String,
    rg: String,
    ws: String,
    id: String,
}

impl WsInc {
    fn ws(&self) -> Ws {
        Ws {
            sub: self.sub.clone(),
            rg: self.rg.clone(),
            ws: self.ws.clone(),
        }
    }
}

#[derive(Deserialize)]
struct WsIncComment {
    sub: String,
    rg: String,
    ws: String,
    id: String,
    comment: String,
}

enum Need {
    Read,
    Write,
}

/// Authenticates, checks the role and the `api-version`.
// Handlers answer with the vendor's error response; its size does not matter here.
#[allow(clippy::result_large_err)]
fn admit(
    s: &Shared,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    need: Need,
    action: &str,
    scope: &str,
) -> Result<(), Response> {
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let claims = {
        let v = s.vendors();
        v.identity.check(auth, AUDIENCE)
    };
    let claims = match claims {
        Ok(c) => c,
        Err(_) if auth.is_none() => {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            ))
        }
        Err(why) => {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                &format!("The access token is invalid. {why}"),
            ))
        }
    };
    if q.get("api-version").is_none_or(|v| v.is_empty()) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    }
    let roles = match need {
        Need::Read => READ_ROLES,
        Need::Write => WRITE_ROLES,
    };
    if !claims.roles.iter().any(|r| roles.contains(&r.as_str())) {
        return Err(error(
            StatusCode::FORBIDDEN,
            "AuthorizationFailed",
            &format!(
                "The client '{0}' with object id '{0}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
                claims.client_id
            ),
        ));
    }
    Ok(())
}

fn not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("Incident '{id}' was not found."),
    )
}

fn scope_of(sub: &str, rg: &str, ws: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/workspaces/{ws}")
}

/// One clause of `$filter`: `properties/<field> gt|ge|lt|le|eq <value>`.
struct Clause {
    field: String,
    op: String,
    value: String,
}

fn parse_filter(f: &str) -> Result<Vec<Clause>, String> {
    let mut out = Vec::new();
    for part in f.split(" and ") {
        let toks: Vec<&str> = part.split_whitespace().collect();
        let [field, op, value] = toks.as_slice() else {
            return Err(format!("Invalid $filter clause '{part}'"));
        };
        let Some(field) = field.strip_prefix("properties/") else {
            return Err(format!("Invalid $filter property '{field}'"));
        };
        if !matches!(*op, "gt" | "ge" | "lt" | "le" | "eq" | "ne") {
            return Err(format!("Invalid $filter operator '{op}'"));
        }
        out.push(Clause {
            field: field.to_string(),
            op: op.to_string(),
            value: value.trim_matches('\'').to_string(),
        });
    }
    Ok(out)
}

fn clause_holds(c: &Clause, inc: &Incident) -> Result<bool, String> {
    use std::cmp::Ordering;
    let ord = match c.field.as_str() {
        "lastModifiedTimeUtc" | "createdTimeUtc" => {
            let want = DateTime::parse_from_rfc3339(&c.value)
                .map_err(|_| format!("Invalid datetime '{}' in $filter", c.value))?
                .with_timezone(&Utc);
            let have = if c.field == "createdTimeUtc" {
                inc.created()
            } else {
                inc.modified()
            };
            match have {
                Some(h) => h.cmp(&want),
                None => return Ok(false),
            }
        }
        "status" | "severity" => {
            let have = inc
                .properties
                .get(&c.field)
                .and_then(Value::as_str)
                .unwrap_or_default();
            if have.eq_ignore_ascii_case(&c.value) {
                Ordering::Equal
            } else {
                Ordering::Less
            }
        }
        other => return Err(format!("Filtering on property '{other}' is not supported")),
    };
    Ok(match c.op.as_str() {
        "gt" => ord == Ordering::Greater,
        "ge" => ord != Ordering::Less,
        "lt" => ord == Ordering::Less,
        "le" => ord != Ordering::Greater,
        "eq" => ord == Ordering::Equal,
        _ => ord != Ordering::Equal,
    })
}

async fn list(
    AxState(s): AxState<Shared>,
    Path(w): Path<Ws>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let scope = scope_of(&w.sub, &w.rg, &w.ws);
    if let Err(r) = admit(
        &s,
        &headers,
        &q,
        Need::Read,
        "Microsoft.SecurityInsights/incidents/read",
        &scope,
    ) {
        return r;
    }
    let clauses = match q.get("$filter").map(|f| parse_filter(f)).transpose() {
        Ok(c) => c.unwrap_or_default(),
        Err(e) => return error(StatusCode::BAD_REQUEST, "BadRequest", &e),
    };
    let v = s.vendors();
    let mut found = Vec::new();
    for inc in v.sentinel.incidents.iter().filter(|i| i.matches(&w)) {
        let mut keep = true;
        for c in &clauses {
            match clause_holds(c, inc) {
                Ok(b) => keep &= b,
                Err(e) => return error(StatusCode::BAD_REQUEST, "BadRequest", &e),
            }
        }
        if keep {
            found.push(inc);
        }
    }
    let order = q
        .get("$orderby")
        .map(String::as_str)
        .unwrap_or("properties/createdTimeUtc desc");
    let desc = order.trim_end().ends_with(" desc");
    if order.starts_with("properties/lastModifiedTimeUtc") {
        found.sort_by_key(|i| i.modified());
    } else {
        found.sort_by_key(|i| i.created());
    }
    if desc {
        found.reverse();
    }
    let top = q
        .get("$top")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, 1000);
    let skip = q
        .get("$skipToken")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    let page: Vec<Value> = found
        .iter()
        .skip(skip)
        .take(top)
        .map(|i| i.resource())
        .collect();
    let mut body = json!({"value": page});
    if skip + top < found.len() {
        // Absolute, like ARM's: a client follows it as is.
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let mut next = format!(
            "http://{host}/arm{}/providers/Microsoft.SecurityInsights/incidents?api-version={}&$top={top}&$skipToken={}",
            scope,
            q.get("api-version").map(String::as_str).unwrap_or_default(),
            skip + top
        );
        if let Some(f) = q.get("$filter") {
            next.push_str(&format!("&$filter={}", f.replace(' ', "%20")));
        }
        if let Some(o) = q.get("$orderby") {
            next.push_str(&format!("&$orderby={}", o.replace(' ', "%20")));
        }
        body["nextLink"] = json!(next);
    }
    Json(body).into_response()
}

async fn get_incident(
    AxState(s): AxState<Shared>,
    Path(p): Path<WsInc>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let scope = scope_of(&p.sub, &p.rg, &p.ws);
    if let Err(r) = admit(
        &s,
        &headers,
        &q,
        Need::Read,
        "Microsoft.SecurityInsights/incidents/read",
        &scope,
    ) {
        return r;
    }
    let w = p.ws();
    let v = s.vendors();
    match v.sentinel.incidents.iter().find(|i| i.is(&w, &p.id)) {
        Some(i) => Json(i.resource()).into_response(),
        None => not_found(&p.id),
    }
}

/// Properties the service owns: a PUT cannot change them.
const READ_ONLY: &[&str] = &[
    "incidentNumber",
    "createdTimeUtc",
    "lastModifiedTimeUtc",
    "additionalData",
    "incidentUrl",
    "relatedAnalyticRuleIds",
    "providerName",
    "providerIncidentId",
];

async fn put_incident(
    AxState(s): AxState<Shared>,
    Path(p): Path<WsInc>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let scope = scope_of(&p.sub, &p.rg, &p.ws);
    if let Err(r) = admit(
        &s,
        &headers,
        &q,
        Need::Write,
        "Microsoft.SecurityInsights/incidents/write",
        &scope,
    ) {
        return r;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The request content was invalid and could not be deserialized.",
        );
    };
    let Some(props) = body.get("properties").and_then(Value::as_object).cloned() else {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The 'properties' of the incident are required.",
        );
    };
    for k in ["title", "severity", "status"] {
        if props
            .get(k)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("The '{k}' field is required."),
            );
        }
    }
    let status = props
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !matches!(status, "New" | "Active" | "Closed") {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Invalid incident status '{status}'."),
        );
    }
    if status == "Closed"
        && props
            .get("classification")
            .and_then(Value::as_str)
            .is_none()
    {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Classification is required when closing an incident.",
        );
    }
    let if_match = headers
        .get(axum::http::header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body_etag = body.get("etag").and_then(Value::as_str).map(str::to_string);
    let w = p.ws();
    let mut v = s.vendors();
    let st = &mut v.sentinel;
    let existing = st.incidents.iter().position(|i| i.is(&w, &p.id));
    let etag = st.etag();
    let now = now_str();
    match existing {
        Some(ix) => {
            let current = st.incidents[ix].etag.clone();
            if let Some(m) = if_match.as_deref().filter(|m| *m != "*") {
                if m != current {
                    return error(
                        StatusCode::PRECONDITION_FAILED,
                        "PreconditionFailed",
                        &format!("The If-Match etag {m} does not match the current etag {current} of the incident."),
                    );
                }
            } else if if_match.is_none() {
                match body_etag {
                    Some(e) if e == current => {}
                    Some(e) => {
                        return error(
                            StatusCode::CONFLICT,
                            "Conflict",
                            &format!("Incident '{}' was modified: the etag {e} does not match the current etag {current}.", p.id),
                        )
                    }
                    None => {
                        return error(
                            StatusCode::CONFLICT,
                            "Conflict",
                            &format!("Incident '{}' already exists; send its current etag to update it.", p.id),
                        )
                    }
                }
            }
            let inc = &mut st.incidents[ix];
            let mut merged = props;
            for k in READ_ONLY {
                merged.remove(*k);
                if let Some(v) = inc.properties.get(*k) {
                    merged.insert((*k).to_string(), v.clone());
                }
            }
            merged.insert("lastModifiedTimeUtc".into(), json!(now));
            inc.properties = merged;
            inc.etag = etag;
            Json(inc.resource()).into_response()
        }
        None => {
            let mut merged = props;
            for k in READ_ONLY {
                merged.remove(*k);
            }
            merged.insert("createdTimeUtc".into(), json!(now));
            merged.insert("lastModifiedTimeUtc".into(), json!(now));
            merged.insert("incidentNumber".into(), json!(st.next_number));
            merged.entry("labels").or_insert(json!([]));
            st.next_number += 1;
            let inc = Incident {
                subscription: p.sub.clone(),
                resource_group: p.rg.clone(),
                workspace: p.ws.clone(),
                name: p.id.clone(),
                etag,
                properties: merged,
                entities: Vec::new(),
                alerts: Vec::new(),
                comments: Vec::new(),
            };
            let res = inc.resource();
            st.incidents.push(inc);
            (StatusCode::CREATED, Json(res)).into_response()
        }
    }
}

async fn list_comments(
    AxState(s): AxState<Shared>,
    Path(p): Path<WsInc>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let scope = scope_of(&p.sub, &p.rg, &p.ws);
    if let Err(r) = admit(
        &s,
        &headers,
        &q,
        Need::Read,
        "Microsoft.SecurityInsights/incidents/comments/read",
        &scope,
    ) {
        return r;
    }
    let w = p.ws();
    let v = s.vendors();
    match v.sentinel.incidents.iter().find(|i| i.is(&w, &p.id)) {
        Some(i) => {
            Json(json!({"value": i.comments.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>()}))
                .into_response()
        }
        None => not_found(&p.id),
    }
}

async fn put_comment(
    AxState(s): AxState<Shared>,
    Path(p): Path<WsIncComment>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let scope = scope_of(&p.sub, &p.rg, &p.ws);
    if let Err(r) = admit(
        &s,
        &headers,
        &q,
        Need::Write,
        "Microsoft.SecurityInsights/incidents/comments/write",
        &scope,
    ) {
        return r;
    }
    let message = serde_json::from_slice::<Value>(&body).ok().and_then(|b| {
        b.pointer("/properties/message")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let Some(message) = message.filter(|m| !m.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The comment 'properties.message' is required.",
        );
    };
    if message.chars().count() > 30_000 {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The comment message exceeds the maximum length of 30000 characters.",
        );
    }
    let author = {
        let auth = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        s.vendors()
            .identity
            .check(auth, AUDIENCE)
            .map(|c| c.client_id)
            .unwrap_or_default()
    };
    let w = WsInc {
        sub: p.sub.clone(),
        rg: p.rg.clone(),
        ws: p.ws.clone(),
        id: p.id.clone(),
    }
    .ws();
    let mut v = s.vendors();
    let st = &mut v.sentinel;
    let etag = st.etag();
    let Some(inc) = st.incidents.iter_mut().find(|i| i.is(&w, &p.id)) else {
        return not_found(&p.id);
    };
    let res = comment_resource(inc, &p.comment, &json!(message), &author, &etag);
    let status = match inc
        .comments
        .iter_mut()
        .find(|(id, _)| id.eq_ignore_ascii_case(&p.comment))
    {
        Some((_, c)) => {
            *c = res.clone();
            StatusCode::OK
        }
        None => {
            inc.comments.push((p.comment.clone(), res.clone()));
            StatusCode::CREATED
        }
    };
    (status, Json(res)).into_response()
}

async fn entities(
    AxState(s): AxState<Shared>,
    Path(p): Path<WsInc>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let scope = scope_of(&p.sub, &p.rg, &p.ws);
    if let Err(r) = admit(
        &s,
        &headers,
        &q,
        Need::Read,
        "Microsoft.SecurityInsights/incidents/entities/read",
        &scope,
    ) {
        return r;
    }
    let w = p.ws();
    let v = s.vendors();
    let Some(inc) = v.sentinel.incidents.iter().find(|i| i.is(&w, &p.id)) else {
        return not_found(&p.id);
    };
    let mut counts: Vec<(String, usize)> = Vec::new();
    for e in &inc.entities {
        let kind = e
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("Unknown")
            .to_string();
        match counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((kind, 1)),
        }
    }
    let meta: Vec<Value> = counts
        .into_iter()
        .map(|(k, n)| json!({"count": n, "entityKind": k}))
        .collect();
    Json(json!({"entities": inc.entities, "metaData": meta})).into_response()
}

async fn alerts(
    AxState(s): AxState<Shared>,
    Path(p): Path<WsInc>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let scope = scope_of(&p.sub, &p.rg, &p.ws);
    if let Err(r) = admit(
        &s,
        &headers,
        &q,
        Need::Read,
        "Microsoft.SecurityInsights/incidents/alerts/read",
        &scope,
    ) {
        return r;
    }
    let w = p.ws();
    let v = s.vendors();
    match v.sentinel.incidents.iter().find(|i| i.is(&w, &p.id)) {
        Some(i) => Json(json!({"value": i.alerts})).into_response(),
        None => not_found(&p.id),
    }
}

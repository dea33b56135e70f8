//! A stateful, authenticated mock of the vendor APIs Cordon calls, for tests: one HTTP server on
//! 127.0.0.1 serving, under path prefixes,
//!
//! | prefix         | vendor                                         | module            |
//! |----------------|------------------------------------------------|-------------------|
//! | `/login`       | Microsoft identity platform token endpoint     | [`identity`]      |
//! | `/graph`       | Microsoft Graph v1.0 users, service principals | [`graph`]         |
//! | `/okta`        | Okta users, lifecycle, sessions                | [`okta`]          |
//! | `/mde`         | Defender for Endpoint machines, actions, IoCs  | [`mde`]           |
//! | `/crowdstrike` | CrowdStrike Falcon OAuth2 and device actions   | [`crowdstrike`]   |
//! | `/arm`         | Sentinel incidents (Azure Resource Manager)    | [`sentinel`]      |
//! | `/_mock`       | control: reset, faults, recorded requests      | this module       |
//!
//! State is seeded from a JSON document (one section per vendor) and changes with every call, so
//! a test can apply an action, read the target back, and undo it. Each vendor module answers with
//! that vendor's status codes and error bodies. Fault injection (`POST /_mock/faults`) makes any
//! matching request answer with a status (429 with or without `Retry-After`, 5xx, …), slowly, or
//! never.

pub mod crowdstrike;
pub mod faults;
pub mod graph;
pub mod identity;
pub mod mde;
pub mod okta;
pub mod sentinel;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Every vendor's state.
#[derive(Default)]
pub struct Vendors {
    pub identity: identity::State,
    pub graph: graph::State,
    pub okta: okta::State,
    pub mde: mde::State,
    pub crowdstrike: crowdstrike::State,
    pub sentinel: sentinel::State,
}

impl Vendors {
    /// Builds every vendor's state from the seed document (`{"identity": …, "graph": …}`).
    pub fn from_seed(seed: &Value) -> Result<Self, String> {
        let section = |k: &str| seed.get(k).cloned().unwrap_or(Value::Null);
        Ok(Self {
            identity: identity::State::from_seed(&section("identity"))
                .map_err(|e| format!("identity: {e}"))?,
            graph: graph::State::from_seed(&section("graph")).map_err(|e| format!("graph: {e}"))?,
            okta: okta::State::from_seed(&section("okta")).map_err(|e| format!("okta: {e}"))?,
            mde: mde::State::from_seed(&section("mde")).map_err(|e| format!("mde: {e}"))?,
            crowdstrike: crowdstrike::State::from_seed(&section("crowdstrike"))
                .map_err(|e| format!("crowdstrike: {e}"))?,
            sentinel: sentinel::State::from_seed(&section("sentinel"))
                .map_err(|e| format!("sentinel: {e}"))?,
        })
    }

    fn snapshot(&self) -> Value {
        serde_json::json!({
            "identity": self.identity.snapshot(),
            "graph": self.graph.snapshot(),
            "okta": self.okta.snapshot(),
            "mde": self.mde.snapshot(),
            "crowdstrike": self.crowdstrike.snapshot(),
            "sentinel": self.sentinel.snapshot(),
        })
    }
}

/// A request as received, for tests that assert what was sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// The scheme of the `Authorization` header (`Bearer`, `SSWS`, `Basic`), never the secret.
    pub auth_scheme: Option<String>,
    pub status: u16,
}

/// The shared state behind every handler.
pub struct Inner {
    pub vendors: Mutex<Vendors>,
    pub faults: Mutex<Vec<faults::FaultRule>>,
    pub requests: Mutex<Vec<RecordedRequest>>,
    seed: Value,
}

pub type Shared = Arc<Inner>;

impl Inner {
    /// Locks the vendors' state (a poisoned lock is recovered: the state is plain data).
    pub fn vendors(&self) -> MutexGuard<'_, Vendors> {
        self.vendors.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running mock server. Dropping it stops the server.
pub struct MockServer {
    addr: SocketAddr,
    pub state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockServer {
    /// Starts on a free port of 127.0.0.1.
    pub async fn start(seed: &str) -> Result<Self, String> {
        Self::start_at(SocketAddr::from(([127, 0, 0, 1], 0)), seed).await
    }

    /// Starts on `addr` (loopback only).
    pub async fn start_at(addr: SocketAddr, seed: &str) -> Result<Self, String> {
        if !addr.ip().is_loopback() {
            return Err(format!("{addr} is not a loopback address"));
        }
        let seed: Value =
            serde_json::from_str(seed).map_err(|e| format!("seed is not JSON: {e}"))?;
        let vendors = Vendors::from_seed(&seed)?;
        let state: Shared = Arc::new(Inner {
            vendors: Mutex::new(vendors),
            faults: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            seed,
        });
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("bind {addr}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, state, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The whole application: vendor routes behind the fault and recording layers, and `/_mock`.
pub fn router(state: Shared) -> Router {
    let vendors = Router::new()
        .nest("/login", identity::routes())
        .nest("/graph", graph::routes())
        .nest("/okta", okta::routes())
        .nest("/mde", mde::routes())
        .nest("/crowdstrike", crowdstrike::routes())
        .nest("/arm", sentinel::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::inject,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), record));
    Router::new()
        .route("/_mock/reset", post(reset))
        .route(
            "/_mock/faults",
            post(add_fault).delete(clear_faults).get(list_faults),
        )
        .route("/_mock/requests", get(requests).delete(clear_requests))
        .route("/_mock/state", get(snapshot))
        .merge(vendors)
        .with_state(state)
}

async fn record(State(s): State<Shared>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let auth_scheme = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_whitespace().next())
        .map(str::to_string);
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    s.requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(RecordedRequest {
            method,
            uri,
            auth_scheme,
            status,
        });
    resp
}

async fn reset(State(s): State<Shared>) -> Response {
    match Vendors::from_seed(&s.seed) {
        Ok(v) => {
            *s.vendors() = v;
            s.faults.lock().unwrap_or_else(|p| p.into_inner()).clear();
            s.requests.lock().unwrap_or_else(|p| p.into_inner()).clear();
            axum::http::StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

async fn add_fault(State(s): State<Shared>, Json(rule): Json<faults::FaultRule>) -> Response {
    s.faults
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(rule);
    axum::http::StatusCode::CREATED.into_response()
}

async fn clear_faults(State(s): State<Shared>) -> Response {
    s.faults.lock().unwrap_or_else(|p| p.into_inner()).clear();
    axum::http::StatusCode::NO_CONTENT.into_response()
}

async fn list_faults(State(s): State<Shared>) -> Json<Vec<faults::FaultRule>> {
    Json(s.faults.lock().unwrap_or_else(|p| p.into_inner()).clone())
}

async fn requests(State(s): State<Shared>) -> Json<Vec<RecordedRequest>> {
    Json(s.requests.lock().unwrap_or_else(|p| p.into_inner()).clone())
}

async fn clear_requests(State(s): State<Shared>) -> Response {
    s.requests.lock().unwrap_or_else(|p| p.into_inner()).clear();
    axum::http::StatusCode::NO_CONTENT.into_response()
}

async fn snapshot(State(s): State<Shared>) -> Json<Value> {
    Json(s.vendors().snapshot())
}

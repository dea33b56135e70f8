//! Fault injection: a rule makes matching requests answer with a status (and the vendor's error
//! body), after a delay, or never.

use crate::Shared;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

/// One fault. The first rule that matches a request (and has uses left) applies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultRule {
    /// HTTP method, or any.
    #[serde(default)]
    pub method: Option<String>,
    /// Path (with the vendor prefix, e.g. `/graph/v1.0/users/*`); `*` matches any run.
    pub path: String,
    /// Answer with this status instead of the real handler.
    #[serde(default)]
    pub status: Option<u16>,
    /// `Retry-After` header value (seconds), for 429 / 503.
    #[serde(default)]
    pub retry_after: Option<String>,
    /// Body to answer with; the vendor's error shape for the status when absent.
    #[serde(default)]
    pub body: Option<Value>,
    /// Wait this long first (then answer normally, or with `status`).
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// Never answer (the client must time out).
    #[serde(default)]
    pub hang: bool,
    /// How many requests this applies to; forever when absent.
    #[serde(default)]
    pub times: Option<u32>,
}

fn glob(p: &str, t: &str) -> bool {
    match p.split_once('*') {
        None => p == t,
        Some((head, rest)) => {
            t.starts_with(head)
                && (0..=t.len() - head.len()).any(|i| glob(rest, &t[head.len() + i..]))
        }
    }
}

pub async fn inject(State(s): State<Shared>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().to_string();
    let rule = {
        let mut faults = s.faults.lock().unwrap_or_else(|p| p.into_inner());
        let found = faults.iter_mut().find(|r| {
            r.times != Some(0)
                && r.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(&method))
                && glob(&r.path, &path)
        });
        found.map(|r| {
            if let Some(t) = r.times.as_mut() {
                *t -= 1;
            }
            r.clone()
        })
    };
    let Some(rule) = rule else {
        return next.run(req).await;
    };
    if rule.hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    if let Some(ms) = rule.delay_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let Some(status) = rule.status else {
        return next.run(req).await;
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = rule
        .body
        .clone()
        .unwrap_or_else(|| vendor_error(&path, status));
    let mut resp = (status, axum::Json(body)).into_response();
    if let Some(ra) = rule
        .retry_after
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        resp.headers_mut()
            .insert(axum::http::header::RETRY_AFTER, ra);
    }
    if path.starts_with("/okta") && status == StatusCode::TOO_MANY_REQUESTS {
        // Okta signals the reset time in epoch seconds instead of Retry-After.
        let reset = chrono::Utc::now().timestamp() + 2;
        if let Ok(v) = HeaderValue::from_str(&reset.to_string()) {
            resp.headers_mut().insert("x-rate-limit-reset", v);
        }
        resp.headers_mut()
            .insert("x-rate-limit-remaining", HeaderValue::from_static("0"));
    }
    resp
}

/// The error body each vendor sends for a status.
pub fn vendor_error(path: &str, status: StatusCode) -> Value {
    let reason = status.canonical_reason().unwrap_or("Error");
    if path.starts_with("/graph") || path.starts_with("/arm") || path.starts_with("/mde") {
        let code = match status.as_u16() {
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            500 => "InternalServerError",
            504 => "GatewayTimeout",
            _ => "UnknownError",
        };
        json!({"error": {"code": code, "message": reason, "innerError": {"date": chrono::Utc::now().to_rfc3339()}}})
    } else if path.starts_with("/okta") {
        let (code, summary) = match status.as_u16() {
            429 => (
                "E0000047",
                "API call exceeded rate limit due to too many requests.",
            ),
            _ => ("E0000009", "Internal Server Error"),
        };
        json!({"errorCode": code, "errorSummary": summary, "errorLink": code, "errorId": "oaemock", "errorCauses": []})
    } else if path.starts_with("/crowdstrike") {
        json!({"meta": {"query_time": 0.0, "trace_id": "mock"}, "resources": [], "errors": [{"code": status.as_u16(), "message": reason}]})
    } else {
        json!({"error": reason})
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn globs() {
        assert!(super::glob(
            "/graph/v1.0/users/*",
            "/graph/v1.0/users/a@b.com"
        ));
        assert!(super::glob(
            "/mde/api/machines/*/isolate",
            "/mde/api/machines/abc/isolate"
        ));
        assert!(!super::glob(
            "/mde/api/machines/*/isolate",
            "/mde/api/machines/abc/unisolate"
        ));
        assert!(super::glob("*", "/x"));
    }
}

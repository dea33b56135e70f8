//! Graph answers and transport errors, mapped to [`Failure`].
//!
//! | Graph                         | Failure                                                   |
//! |-------------------------------|-----------------------------------------------------------|
//! | 400, 409, 412, other 4xx      | `Permanent`                                               |
//! | 401                           | `Unauthenticated`                                         |
//! | 403 `Authorization_RequestDenied` | `PermissionMissing` naming the permission (or, when the token has it, the privileged target, C9) |
//! | 404 `Request_ResourceNotFound`| `NotFound` (C2)                                           |
//! | 429                           | `RateLimited` with `Retry-After` (seconds or HTTP date)   |
//! | 5xx                           | `Transient`                                               |
//! | connect error                 | `Transient` (nothing was sent)                            |
//! | timeout / reset after sending | `Unknown` for PATCH/POST (C17), `Transient` for GET       |

use chrono::{DateTime, Utc};
use cordon_core::respond::Failure;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// A non-2xx Graph answer.
#[derive(Debug, Clone)]
pub struct GraphError {
    pub status: u16,
    /// Graph's `error.code` (`Authorization_RequestDenied`, `Request_ResourceNotFound`, …).
    pub code: String,
    pub message: String,
    pub retry_after_ms: Option<u64>,
}

impl GraphError {
    pub fn from_response(
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Self {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let code = v
            .pointer("/error/code")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let message = v
            .pointer("/error/message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned());
        Self {
            status,
            code,
            message,
            retry_after_ms: retry_after_ms(headers, now),
        }
    }

    pub fn detail(&self) -> String {
        if self.code.is_empty() {
            format!("Graph answered {}: {}", self.status, self.message)
        } else {
            format!(
                "Graph answered {} {}: {}",
                self.status, self.code, self.message
            )
        }
    }

    /// Maps everything but 403 (which needs to know what the token carries: see the client).
    pub fn to_failure(&self) -> Failure {
        let detail = self.detail();
        match self.status {
            401 => Failure::Unauthenticated { detail },
            403 => Failure::PermissionMissing {
                permission: "unknown".into(),
                detail,
            },
            404 => Failure::NotFound { detail },
            429 => Failure::RateLimited {
                retry_after_ms: self.retry_after_ms,
                detail,
            },
            500..=599 => Failure::Transient { detail },
            _ => Failure::Permanent { detail },
        }
    }
}

/// The delay the vendor asked for: `retry-after-ms` / `x-ms-retry-after-ms` (Azure), else
/// `Retry-After` in seconds or as an HTTP date.
pub fn retry_after_ms(headers: &HeaderMap, now: DateTime<Utc>) -> Option<u64> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = get(name).and_then(|v| v.parse::<u64>().ok()) {
            return Some(ms);
        }
    }
    cordon_core::respond::retry_after_ms(get("retry-after")?, now)
}

/// A request that got no HTTP answer. `mutating`: a PATCH/POST that may have been applied.
pub fn transport_failure(e: &reqwest::Error, mutating: bool, what: &str) -> Failure {
    let detail = format!("{what}: {}", error_chain(e));
    if e.is_builder() {
        Failure::Permanent { detail }
    } else if e.is_connect() {
        // Refused or timed out while connecting: nothing was sent.
        Failure::Transient { detail }
    } else if mutating {
        Failure::Unknown {
            detail: format!("{detail} (the change may or may not have been made; verify)"),
        }
    } else {
        Failure::Transient { detail }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut h = HeaderMap::new();
        assert_eq!(retry_after_ms(&h, now), None);
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after_ms(&h, now), Some(7_000));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Thu, 01 Jan 2026 00:00:30 GMT"),
        );
        assert_eq!(retry_after_ms(&h, now), Some(30_000));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 31 Dec 2025 23:00:00 GMT"),
        );
        assert_eq!(retry_after_ms(&h, now), Some(0));
        h.insert("x-ms-retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after_ms(&h, now), Some(250));
    }

    #[test]
    fn statuses() {
        let e = |status| GraphError {
            status,
            code: "X".into(),
            message: "m".into(),
            retry_after_ms: None,
        };
        assert!(matches!(
            e(401).to_failure(),
            Failure::Unauthenticated { .. }
        ));
        assert!(matches!(e(404).to_failure(), Failure::NotFound { .. }));
        assert!(matches!(e(409).to_failure(), Failure::Permanent { .. }));
        assert!(matches!(e(400).to_failure(), Failure::Permanent { .. }));
        assert!(matches!(e(503).to_failure(), Failure::Transient { .. }));
        assert!(matches!(
            e(429).to_failure(),
            Failure::RateLimited {
                retry_after_ms: None,
                ..
            }
        ));
    }
}

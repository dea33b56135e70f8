//! How vendor answers map to [`Failure`]: what the caller can do about them.
//!
//! - transport: a connect failure never reached the vendor (transient); a timeout or reset after
//!   a mutating request was sent leaves the outcome unknown (C17); on reads it is transient;
//! - 401 → unauthenticated; 403 → the permission the call needs (C15), never retried;
//! - 404 → not found; 400/409 → permanent; 429 → rate limited with the vendor's delay
//!   (`Retry-After` in seconds or an HTTP date, or CrowdStrike's `X-Ratelimit-RetryAfter` epoch
//!   seconds); 5xx → transient.

use chrono::{DateTime, Utc};
use cordon_core::respond::Failure;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// What a call is, for error messages and the status mapping.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// `mde`, `crowdstrike`.
    pub vendor: &'static str,
    /// `POST /machines/{id}/isolate`, as a person reads it.
    pub what: String,
    /// The permission (role, API scope) the call needs, named in a 403.
    pub permission: &'static str,
    /// Whether the call changes something (a timeout after sending leaves the outcome unknown).
    pub mutating: bool,
}

/// A failed call: the [`Failure`] plus the vendor's own error code, for the few answers a
/// responder treats specially (MDE `ActiveRequestAlreadyExists`).
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub failure: Failure,
    pub status: Option<u16>,
    pub code: Option<String>,
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        e.failure
    }
}

impl From<Failure> for ApiError {
    fn from(failure: Failure) -> Self {
        ApiError {
            failure,
            status: None,
            code: None,
        }
    }
}

/// A transport error (no HTTP answer, or the answer could not be read).
pub(crate) fn transport(call: &Call, e: &reqwest::Error) -> ApiError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "transport error"
    };
    // `e` carries the URL but never headers, so no secret reaches the detail.
    let detail = format!("{} {}: {kind}: {e}", call.vendor, call.what);
    let failure = if e.is_connect() || !call.mutating {
        Failure::Transient { detail }
    } else {
        Failure::Unknown {
            detail: format!(
                "{detail}; the request was sent, so whether it took effect is not known: verify"
            ),
        }
    };
    failure.into()
}

/// The vendor's error code and message from an error body (Microsoft `{"error":{code,message}}`,
/// CrowdStrike `{"errors":[{code,message}]}`, identity platform `{error, error_description}`).
pub(crate) fn vendor_error(body: &Value) -> (Option<String>, String) {
    if let Some(e) = body.get("error").filter(|e| e.is_object()) {
        let code = e.get("code").and_then(Value::as_str).map(str::to_string);
        let msg = e.get("message").and_then(Value::as_str).unwrap_or_default();
        return (code, msg.to_string());
    }
    if let Some(e) = body
        .get("errors")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        let code = e.get("code").map(|c| match c {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let msg = e.get("message").and_then(Value::as_str).unwrap_or_default();
        return (code, msg.to_string());
    }
    if let Some(code) = body.get("error").and_then(Value::as_str) {
        let msg = body
            .get("error_description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return (Some(code.to_string()), msg.to_string());
    }
    (None, String::new())
}

/// The delay a 429 (or 503) asks for, in milliseconds.
pub(crate) fn retry_after_ms(headers: &HeaderMap, now: DateTime<Utc>) -> Option<u64> {
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) =
        header("retry-after").and_then(|v| cordon_core::respond::retry_after_ms(v, now))
    {
        return Some(ms);
    }
    // CrowdStrike: the epoch second at which the window resets.
    if let Some(epoch) = header("x-ratelimit-retryafter").and_then(|v| v.parse::<i64>().ok()) {
        return Some(((epoch - now.timestamp()).max(0) as u64) * 1000);
    }
    None
}

/// Maps a non-success HTTP answer.
pub(crate) fn status(call: &Call, status: u16, headers: &HeaderMap, body: &Value) -> ApiError {
    let (code, message) = vendor_error(body);
    let said = match (&code, message.is_empty()) {
        (Some(c), false) => format!("{c}: {message}"),
        (Some(c), true) => c.clone(),
        (None, false) => message.clone(),
        (None, true) => String::new(),
    };
    let detail = format!("{} {} answered {status} {said}", call.vendor, call.what)
        .trim_end()
        .to_string();
    let failure = match status {
        401 => Failure::Unauthenticated { detail },
        403 => Failure::PermissionMissing {
            permission: call.permission.to_string(),
            detail,
        },
        404 => Failure::NotFound { detail },
        429 => Failure::RateLimited {
            retry_after_ms: retry_after_ms(headers, Utc::now()),
            detail,
        },
        500..=599 => Failure::Transient { detail },
        _ => Failure::Permanent { detail },
    };
    ApiError {
        failure,
        status: Some(status),
        code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use reqwest::header::HeaderValue;

    fn headers(k: &'static str, v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(k, HeaderValue::from_static(v));
        h
    }

    #[test]
    fn retry_after_forms() {
        let now = Utc
            .with_ymd_and_hms(2015, 10, 21, 7, 27, 0)
            .single()
            .unwrap_or_default();
        assert_eq!(
            retry_after_ms(&headers("retry-after", "7"), now),
            Some(7000)
        );
        assert_eq!(
            retry_after_ms(
                &headers("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
                now
            ),
            Some(60_000)
        );
        let epoch = headers("x-ratelimit-retryafter", "1445412430");
        assert_eq!(retry_after_ms(&epoch, now), Some(10_000));
        assert_eq!(retry_after_ms(&HeaderMap::new(), now), None);
    }

    #[test]
    fn status_mapping() {
        let call = Call {
            vendor: "mde",
            what: "POST /machines/x/isolate".into(),
            permission: "Machine.Isolate",
            mutating: true,
        };
        let body = serde_json::json!({"error": {"code": "Forbidden", "message": "no"}});
        let e = status(&call, 403, &HeaderMap::new(), &body);
        assert!(
            matches!(e.failure, Failure::PermissionMissing { ref permission, .. } if permission == "Machine.Isolate")
        );
        assert_eq!(e.code.as_deref(), Some("Forbidden"));
        assert!(matches!(
            status(&call, 503, &HeaderMap::new(), &Value::Null).failure,
            Failure::Transient { .. }
        ));
        assert!(matches!(
            status(&call, 409, &HeaderMap::new(), &Value::Null).failure,
            Failure::Permanent { .. }
        ));
    }
}

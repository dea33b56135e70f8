//! Okta's answers mapped to what the executor can act on ([`Failure`]).
//!
//! | Okta answer | [`Failure`] |
//! |---|---|
//! | 400 `E0000001` (lifecycle call in the wrong status) and other 4xx | `Permanent` (never retried) |
//! | 401 `E0000011` | `Unauthenticated` |
//! | 403 `E0000006` | `PermissionMissing` naming the scope (from `WWW-Authenticate`, else the call's) |
//! | 404 `E0000007` | `NotFound` |
//! | 429 `E0000047` | `RateLimited`, delay from `X-Rate-Limit-Reset` (else `Retry-After`) |
//! | 5xx | `Transient` |
//! | timeout / broken connection after a mutating call was sent | `Unknown` |
//! | timeout / connection failure on a read, or before anything was sent | `Transient` |

use chrono::{DateTime, Utc};
use cordon_core::respond::Failure;
use reqwest::header::HeaderMap;
use serde::Deserialize;

/// The configuration cannot be used; the connector refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("okta.org_url {url:?} {why}")]
    OrgUrl { url: String, why: String },
    #[error("okta: {0}")]
    Invalid(String),
    #[error("okta.auth.private_key_pem: {0}")]
    PrivateKey(String),
    #[error("okta: cannot build the HTTP client: {0}")]
    Http(String),
}

/// Okta's error body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OktaError {
    #[serde(default)]
    pub error_code: String,
    #[serde(default)]
    pub error_summary: String,
    #[serde(default)]
    pub error_id: String,
    #[serde(default)]
    pub error_causes: Vec<Cause>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Cause {
    #[serde(default)]
    pub error_summary: String,
}

impl OktaError {
    pub(crate) fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }

    /// `Api validation failed: status (Cannot suspend a user that is not active) [E0000001, errorId oae…]`
    pub(crate) fn describe(&self, status: u16) -> String {
        let mut s = if self.error_summary.is_empty() {
            format!("HTTP {status}")
        } else {
            self.error_summary.clone()
        };
        let causes: Vec<&str> = self
            .error_causes
            .iter()
            .map(|c| c.error_summary.as_str())
            .filter(|c| !c.is_empty())
            .collect();
        if !causes.is_empty() {
            s.push_str(&format!(" ({})", causes.join("; ")));
        }
        let mut tags = Vec::new();
        if !self.error_code.is_empty() {
            tags.push(self.error_code.clone());
        }
        tags.push(format!("HTTP {status}"));
        if !self.error_id.is_empty() {
            tags.push(format!("errorId {}", self.error_id));
        }
        format!("{s} [{}]", tags.join(", "))
    }
}

/// How the connector authenticated, for what a 403 means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthKind {
    ApiToken,
    OAuth,
}

/// Maps a non-success answer from the management API. `what` says what was being done
/// (`suspend Okta user 00u…`); `scope` is the scope the call needs.
pub(crate) fn from_response(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    what: &str,
    scope: &str,
    auth: AuthKind,
    now: DateTime<Utc>,
) -> Failure {
    let err = OktaError::parse(body);
    let detail = format!("{what}: {}", err.describe(status));
    match status {
        401 => Failure::Unauthenticated {
            detail: format!("{detail}; the API token or access token was refused"),
        },
        403 => {
            let scope = insufficient_scope(headers).unwrap_or_else(|| scope.to_string());
            match auth {
                AuthKind::OAuth => Failure::PermissionMissing {
                    permission: scope.clone(),
                    detail: format!(
                        "{detail}; the service app's token lacks the scope {scope} (grant it to the app in Okta and add it to auth.scopes), or the app's admin role does not cover this user"
                    ),
                },
                AuthKind::ApiToken => Failure::PermissionMissing {
                    permission: format!("{scope} (the admin role of the API token's creator)"),
                    detail: format!(
                        "{detail}; an API token has its creating admin's permissions: that admin cannot manage this user (a privileged target needs a higher admin role)"
                    ),
                },
            }
        }
        404 => Failure::NotFound { detail },
        429 => Failure::RateLimited {
            retry_after_ms: retry_after_ms(headers, now),
            detail,
        },
        500..=599 => Failure::Transient { detail },
        _ => Failure::Permanent { detail },
    }
}

/// The `scope="…"` of a `WWW-Authenticate: Bearer … error="insufficient_scope"` header.
fn insufficient_scope(headers: &HeaderMap) -> Option<String> {
    let h = headers
        .get(reqwest::header::WWW_AUTHENTICATE)?
        .to_str()
        .ok()?;
    if !h.contains("insufficient_scope") {
        return None;
    }
    let start = h.find("scope=\"")? + "scope=\"".len();
    let rest = &h[start..];
    let end = rest.find('"')?;
    Some(rest[..end].to_string()).filter(|s| !s.is_empty())
}

/// The delay Okta asks for: `X-Rate-Limit-Reset` (epoch seconds, compared with the answer's
/// own `Date` to be immune to clock skew, else with `now`), at least one second; else
/// `Retry-After` (seconds or an HTTP date); else none.
pub fn retry_after_ms(headers: &HeaderMap, now: DateTime<Utc>) -> Option<u64> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let server_now = header("date")
        .and_then(|d| DateTime::parse_from_rfc2822(d).ok())
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or(now);
    if let Some(reset) = header("x-rate-limit-reset").and_then(|v| v.parse::<i64>().ok()) {
        let secs = (reset - server_now.timestamp()).max(1);
        return u64::try_from(secs).ok().map(|s| s.saturating_mul(1000));
    }
    let ra = header("retry-after")?;
    let is_date = ra.parse::<f64>().is_err();
    // A date already past still waits a second, as for the reset header.
    cordon_core::respond::retry_after_ms(ra, now).map(|ms| if is_date { ms.max(1000) } else { ms })
}

/// Maps a transport error. After a mutating request was (possibly) sent, whether Okta applied it
/// is not known; before sending, or on a read, it is worth retrying.
pub(crate) fn from_transport(err: &reqwest::Error, what: &str, mutating: bool) -> Failure {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    };
    // A connect failure means nothing reached Okta.
    if mutating && !err.is_connect() {
        Failure::Unknown {
            detail: format!(
                "{what}: {kind} after the request was sent ({err}); whether Okta applied it is not known: verify"
            ),
        }
    } else {
        Failure::Transient {
            detail: format!("{what}: {kind} ({err})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn reset_header_is_relative_to_the_answers_date() {
        let now = Utc::now();
        // The server's clock is 100 s behind ours; the reset is 10 s after the server's now.
        let server = now - chrono::Duration::seconds(100);
        let h = headers(&[
            ("date", &server.to_rfc2822()),
            ("x-rate-limit-reset", &(server.timestamp() + 10).to_string()),
        ]);
        assert_eq!(retry_after_ms(&h, now), Some(10_000));
    }

    #[test]
    fn reset_in_the_past_waits_one_second() {
        let now = Utc::now();
        let h = headers(&[("x-rate-limit-reset", &(now.timestamp() - 5).to_string())]);
        assert_eq!(retry_after_ms(&h, now), Some(1_000));
    }

    #[test]
    fn retry_after_seconds_and_date() {
        let now = Utc::now();
        assert_eq!(
            retry_after_ms(&headers(&[("retry-after", "7")]), now),
            Some(7_000)
        );
        let at = (now + chrono::Duration::seconds(30)).to_rfc2822();
        let ms = retry_after_ms(&headers(&[("retry-after", &at)]), now).unwrap();
        assert!((29_000..=30_000).contains(&ms), "{ms}");
        assert_eq!(retry_after_ms(&HeaderMap::new(), now), None);
    }

    #[test]
    fn scope_from_www_authenticate() {
        let h = headers(&[(
            "www-authenticate",
            r#"Bearer authorization_uri="x", realm="y", scope="okta.users.manage", error="insufficient_scope", error_description="z""#,
        )]);
        assert_eq!(insufficient_scope(&h).as_deref(), Some("okta.users.manage"));
    }
}

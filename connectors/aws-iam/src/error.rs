//! AWS SDK errors mapped to [`Failure`]: what the executor can do about them.

use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use cordon_core::respond::Failure;
use std::error::Error as StdError;

/// One AWS call, as the error mapping needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// The IAM action the call needs (`iam:PutUserPolicy`): named in `PermissionMissing`.
    pub action: &'static str,
    /// Whether the call changes something: a timeout after sending it leaves the outcome unknown.
    pub mutating: bool,
}

impl Call {
    pub const fn read(action: &'static str) -> Self {
        Self {
            action,
            mutating: false,
        }
    }
    pub const fn write(action: &'static str) -> Self {
        Self {
            action,
            mutating: true,
        }
    }
}

/// Error codes AWS uses for refused credentials (HTTP 403, but not a missing permission).
const UNAUTHENTICATED: &[&str] = &[
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "InvalidToken",
    "UnrecognizedClientException",
    "AuthFailure",
];
const ACCESS_DENIED: &[&str] = &["AccessDenied", "AccessDeniedException"];
const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
];
const TRANSIENT: &[&str] = &[
    "ServiceFailure",
    "ServiceFailureException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalError",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Maps one SDK error of `call` to a [`Failure`].
pub fn map_sdk_error<E>(err: SdkError<E, HttpResponse>, call: Call) -> Failure
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let chain = error_chain(&err);
    match &err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let retry_after_ms = ctx
                .raw()
                .headers()
                .get("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| s.saturating_mul(1000));
            let e = ctx.err();
            // When the SDK could not read the code (an emulator wrapping the error in
            // `<Errors>`, an HTML error page), read it from the body.
            let body = ctx
                .raw()
                .body()
                .bytes()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            let code = e.code().or_else(|| xml_text(&body, "Code")).unwrap_or("");
            let message = e
                .message()
                .or_else(|| xml_text(&body, "Message"))
                .unwrap_or("");
            map_service_error(call, status, code, message, retry_after_ms)
        }
        SdkError::TimeoutError(_) => {
            if call.mutating {
                Failure::Unknown {
                    detail: format!(
                        "{}: timed out after the request was sent; whether it took effect is not known: {chain}",
                        call.action
                    ),
                }
            } else {
                Failure::Transient {
                    detail: format!("{}: timed out: {chain}", call.action),
                }
            }
        }
        SdkError::DispatchFailure(d) => {
            // Connection not established (refused, DNS, connect timeout): nothing was sent.
            let before_send = d.is_timeout() || d.is_user() || connect_failure(&err);
            if call.mutating && !before_send {
                Failure::Unknown {
                    detail: format!(
                        "{}: the connection failed while the request was in flight; whether it took effect is not known: {chain}",
                        call.action
                    ),
                }
            } else if chain.contains("credentials") || chain.contains("identity") {
                credentials_failure(call, &chain)
            } else {
                Failure::Transient {
                    detail: format!("{}: could not reach AWS: {chain}", call.action),
                }
            }
        }
        SdkError::ConstructionFailure(_) => {
            // Nothing was sent. Most often the credentials could not be resolved.
            if chain.contains("credentials") || chain.contains("identity") {
                credentials_failure(call, &chain)
            } else {
                Failure::Permanent {
                    detail: format!("{}: the request could not be built: {chain}", call.action),
                }
            }
        }
        SdkError::ResponseError(r) => {
            let status = r.raw().status().as_u16();
            if call.mutating && status < 300 {
                Failure::Unknown {
                    detail: format!(
                        "{}: HTTP {status} with an unreadable answer; whether it took effect is not known: {chain}",
                        call.action
                    ),
                }
            } else {
                map_service_error(call, status, "", &chain, None)
            }
        }
        _ => {
            if call.mutating {
                Failure::Unknown {
                    detail: format!("{}: {chain}", call.action),
                }
            } else {
                Failure::Transient {
                    detail: format!("{}: {chain}", call.action),
                }
            }
        }
    }
}

fn credentials_failure(call: Call, chain: &str) -> Failure {
    // Resolving credentials may fail for a while (IMDS, STS) or for good (none configured);
    // it is told apart by neither, so it is retried a few times by the executor.
    Failure::Transient {
        detail: format!(
            "{}: no usable AWS credentials (the SDK's default chain or static_credentials): {chain}",
            call.action
        ),
    }
}

/// Maps an AWS error answer (code and HTTP status) to a [`Failure`].
pub fn map_service_error(
    call: Call,
    status: u16,
    code: &str,
    message: &str,
    retry_after_ms: Option<u64>,
) -> Failure {
    let detail = if code.is_empty() {
        format!("{}: HTTP {status}: {message}", call.action)
    } else {
        format!("{}: {code} (HTTP {status}): {message}", call.action)
    };
    if code == "NoSuchEntity"
        || code == "NoSuchEntityException"
        || (code.is_empty() && status == 404)
    {
        return Failure::NotFound { detail };
    }
    if UNAUTHENTICATED.contains(&code) || status == 401 {
        return Failure::Unauthenticated { detail };
    }
    if ACCESS_DENIED.contains(&code) || status == 403 {
        return Failure::PermissionMissing {
            permission: call.action.to_string(),
            detail,
        };
    }
    if THROTTLED.contains(&code) || status == 429 {
        return Failure::RateLimited {
            retry_after_ms,
            detail,
        };
    }
    if code == "UnmodifiableEntity" {
        return Failure::Permanent {
            detail: format!(
                "{detail}. AWS does not allow changing this principal (IAM Identity Center or \
                 service-linked role): a person must contain it where it is managed"
            ),
        };
    }
    if TRANSIENT.contains(&code) || status >= 500 {
        return Failure::Transient { detail };
    }
    // LimitExceeded, MalformedPolicyDocument, InvalidInput, ValidationError, … and any other 4xx.
    Failure::Permanent { detail }
}

/// The text of the first `<tag>…</tag>` in an XML body.
pub fn xml_text<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = body.find(&open)? + open.len();
    let len = body[start..].find(&close)?;
    Some(body[start..start + len].trim())
}

/// The error and its sources, as one line.
pub fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if parts.last() != Some(&s) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// Whether the chain shows the connection was never established.
fn connect_failure(err: &(dyn StdError + 'static)) -> bool {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::AddrNotAvailable
                    | std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::HostUnreachable
                    | std::io::ErrorKind::NetworkUnreachable
            ) {
                return true;
            }
        }
        // hyper-util's legacy client says `client error (Connect)` for connection failures.
        if e.to_string().contains("(Connect)") {
            return true;
        }
        cur = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUT: Call = Call::write("iam:PutUserPolicy");

    #[test]
    fn service_errors_map_to_what_the_caller_can_do() {
        let f = |status, code| map_service_error(PUT, status, code, "m", None);
        assert!(matches!(f(404, "NoSuchEntity"), Failure::NotFound { .. }));
        assert_eq!(
            f(403, "AccessDenied"),
            Failure::PermissionMissing {
                permission: "iam:PutUserPolicy".into(),
                detail: "iam:PutUserPolicy: AccessDenied (HTTP 403): m".into()
            }
        );
        assert!(matches!(
            f(403, "InvalidClientTokenId"),
            Failure::Unauthenticated { .. }
        ));
        assert!(matches!(f(400, "Throttling"), Failure::RateLimited { .. }));
        for code in [
            "LimitExceeded",
            "MalformedPolicyDocument",
            "UnmodifiableEntity",
            "InvalidInput",
        ] {
            assert!(matches!(f(409, code), Failure::Permanent { .. }), "{code}");
        }
        assert!(matches!(
            f(500, "ServiceFailure"),
            Failure::Transient { .. }
        ));
        assert!(matches!(f(503, ""), Failure::Transient { .. }));
        assert_eq!(
            map_service_error(PUT, 429, "", "", Some(2000)).retry_after(),
            Some(std::time::Duration::from_secs(2))
        );
    }
}

//! The inbound port: turning one payload into normalized alerts.

use crate::alert::Alert;

/// Why a payload was not turned into alerts. Each variant is a quarantine reason a person can act
/// on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON at all (or truncated JSON); `detail` says where it broke.
    #[error("not valid JSON: {detail}")]
    NotJson { detail: String },
    /// Well-formed, but raw telemetry rather than an alert (a CloudTrail event, a sign-in log).
    #[error("not an alert: {what}")]
    NotAnAlert { what: String },
    /// Looks like no format Cordon knows.
    #[error("unrecognised payload: {detail}")]
    Unrecognised { detail: String },
    /// Recognised as `format`, but a required part is missing or malformed.
    #[error("{format}: {detail}")]
    Invalid {
        format: &'static str,
        detail: String,
    },
}

/// A parser for one family of payloads. Pure: no I/O, no clock.
pub trait AlertSource: Send + Sync {
    /// A short name for logs and quarantine reasons (`sentinel`, `guardduty`, …).
    fn name(&self) -> &'static str;
    /// Whether the payload has this source's shape. Cheap; looks at keys only.
    fn recognises(&self, payload: &serde_json::Value) -> bool;
    /// Parses a recognised payload into one or more alerts.
    ///
    /// # Errors
    /// [`ParseError::Invalid`] when a required part is missing or malformed,
    /// [`ParseError::NotAnAlert`] when the payload is telemetry rather than an alert.
    fn parse(&self, payload: &serde_json::Value) -> Result<Vec<Alert>, ParseError>;
}

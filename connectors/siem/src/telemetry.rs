//! Raw telemetry that reaches the alert endpoint by mistake (or by a too-broad EventBridge rule):
//! recognised precisely and rejected with `ParseError::NotAnAlert`, so the quarantine says what
//! it was instead of "unrecognised".
//!
//! Recognised: CloudTrail records (`eventVersion` + `eventSource` + `eventName`), CloudTrail log
//! files (`{Records: [...]}`), CloudTrail events relayed by EventBridge; Entra sign-in and audit
//! logs as Azure Monitor exports them (`category` + `operationName` + `properties`, keys in any
//! case), Graph `signIn`, `directoryAudit`, `riskDetection` and `riskyUser` objects; Defender XDR
//! advanced-hunting tables other than AlertInfo/AlertEvidence; and Log Analytics rows of
//! any table other than SecurityAlert/SecurityIncident.

use crate::util::*;
use cordon_core::{Alert, AlertSource, ParseError};
use serde_json::Value;

/// Recognises telemetry; its `parse` always answers `NotAnAlert` with what the payload is.
pub struct Telemetry;

fn is_cloudtrail(v: &Value) -> bool {
    v.as_object().is_some_and(|o| {
        o.contains_key("eventSource")
            && o.contains_key("eventName")
            && (o.contains_key("eventVersion")
                || o.contains_key("eventTime")
                || o.contains_key("userIdentity"))
    })
}

const SIGNIN_CATEGORIES: &[&str] = &[
    "SignInLogs",
    "NonInteractiveUserSignInLogs",
    "ServicePrincipalSignInLogs",
    "ManagedIdentitySignInLogs",
    "ADFSSignInLogs",
];

/// What the payload is, when it is telemetry.
pub(crate) fn what(v: &Value) -> Option<String> {
    let o = v.as_object()?;
    if is_cloudtrail(v) {
        return Some(format!(
            "a CloudTrail record ({} {})",
            gs(v, "eventSource").unwrap_or("?"),
            gs(v, "eventName").unwrap_or("?")
        ));
    }
    if let Some(Value::Array(records)) = o.get("Records") {
        if records.first().is_some_and(is_cloudtrail) {
            return Some(format!("a CloudTrail log file ({} records)", records.len()));
        }
    }
    if let Some(detail) = o.get("detail") {
        let dt = o.get("detail-type").and_then(Value::as_str).unwrap_or("");
        if dt.contains("via CloudTrail") || is_cloudtrail(detail) {
            return Some(format!(
                "a CloudTrail event relayed by EventBridge ({} {})",
                gs(detail, "eventSource").unwrap_or("?"),
                gs(detail, "eventName").unwrap_or("?")
            ));
        }
        return None;
    }
    // Azure Monitor diagnostic export (Entra, Defender XDR streaming API): category + properties.
    if let (Some(cat), Some(props)) = (gs(v, "category"), get(v, "properties")) {
        if props.is_object()
            && (get(v, "operationName").is_some() || get(v, "resourceId").is_some())
        {
            if cat.starts_with("AdvancedHunting-Alert") {
                return None; // AlertInfo / AlertEvidence: alerts, parsed by the graph module
            }
            if let Some(table) = cat.strip_prefix("AdvancedHunting-") {
                return Some(format!("Defender XDR advanced hunting telemetry ({table})"));
            }
            if SIGNIN_CATEGORIES
                .iter()
                .any(|c| c.eq_ignore_ascii_case(cat))
            {
                return Some(format!(
                    "an Entra sign-in log record ({cat}, {})",
                    gs(props, "userPrincipalName").unwrap_or("unknown user")
                ));
            }
            if cat.contains("Risk") {
                return Some(format!("an Entra risk log record ({cat})"));
            }
            return Some(format!(
                "an Entra audit log record ({cat}: {})",
                gs(v, "operationName")
                    .or_else(|| gs(props, "activityDisplayName"))
                    .unwrap_or("?")
            ));
        }
    }
    // Graph objects.
    if o.contains_key("riskEventType") && o.contains_key("detectionTimingType") {
        return Some("an Entra risk detection (Graph riskDetection)".into());
    }
    if o.contains_key("riskLastUpdatedDateTime") && o.contains_key("riskState") {
        return Some("an Entra risky user record (Graph riskyUser)".into());
    }
    if o.contains_key("appDisplayName")
        && o.contains_key("createdDateTime")
        && (o.contains_key("conditionalAccessStatus")
            || o.contains_key("clientAppUsed")
            || o.contains_key("status"))
    {
        return Some(format!(
            "an Entra sign-in (Graph signIn) for {}",
            gs(v, "userPrincipalName").unwrap_or("unknown user")
        ));
    }
    if o.contains_key("activityDisplayName") && o.contains_key("loggedByService") {
        return Some("an Entra directory audit record (Graph directoryAudit)".into());
    }
    // Log Analytics rows of other tables.
    if let Some(t) = o.get("Type").and_then(Value::as_str) {
        if t != "SecurityAlert"
            && t != "SecurityIncident"
            && o.contains_key("TimeGenerated")
            && (o.contains_key("TenantId") || o.contains_key("SourceSystem"))
        {
            return Some(format!("a Log Analytics {t} row (telemetry, not an alert)"));
        }
    }
    None
}

impl AlertSource for Telemetry {
    fn name(&self) -> &'static str {
        "telemetry"
    }

    fn recognises(&self, payload: &Value) -> bool {
        what(payload).is_some()
    }

    fn parse(&self, payload: &Value) -> Result<Vec<Alert>, ParseError> {
        Err(ParseError::NotAnAlert {
            what: what(payload).unwrap_or_else(|| "telemetry".into()),
        })
    }
}

//! The normalized alert every source is parsed into.

use crate::entity::AlertEntity;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// Where an alert came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Sentinel,
    GraphSecurity,
    DefenderXdr,
    DefenderEndpoint,
    #[serde(rename = "guardduty")]
    GuardDuty,
    #[serde(rename = "securityhub")]
    SecurityHub,
    Okta,
    Splunk,
    Chronicle,
    #[serde(rename = "sumologic")]
    SumoLogic,
    Webhook,
}

impl Source {
    pub const ALL: [Source; 11] = [
        Source::Sentinel,
        Source::GraphSecurity,
        Source::DefenderXdr,
        Source::DefenderEndpoint,
        Source::GuardDuty,
        Source::SecurityHub,
        Source::Okta,
        Source::Splunk,
        Source::Chronicle,
        Source::SumoLogic,
        Source::Webhook,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Sentinel => "sentinel",
            Source::GraphSecurity => "graph_security",
            Source::DefenderXdr => "defender_xdr",
            Source::DefenderEndpoint => "defender_endpoint",
            Source::GuardDuty => "guardduty",
            Source::SecurityHub => "securityhub",
            Source::Okta => "okta",
            Source::Splunk => "splunk",
            Source::Chronicle => "chronicle",
            Source::SumoLogic => "sumologic",
            Source::Webhook => "webhook",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Source::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn serde_names_are_the_display_names() {
        for s in super::Source::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Normalized severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Parses the names vendors use (`High`, `high`, `HIGH`, `Informational`, `INFO`, …).
    pub fn parse(s: &str) -> Option<Self> {
        const NAMES: [(&str, Severity); 16] = [
            ("informational", Severity::Informational),
            ("info", Severity::Informational),
            ("information", Severity::Informational),
            ("unknown", Severity::Informational),
            ("none", Severity::Informational),
            ("low", Severity::Low),
            ("medium", Severity::Medium),
            ("moderate", Severity::Medium),
            ("warn", Severity::Medium),
            ("warning", Severity::Medium),
            ("high", Severity::High),
            ("error", Severity::High),
            ("critical", Severity::Critical),
            ("severe", Severity::Critical),
            ("fatal", Severity::Critical),
            ("crit", Severity::Critical),
        ];
        let s = s.trim();
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, v)| *v)
    }
    /// GuardDuty's numeric scale: 1–3.9 low, 4–6.9 medium, 7–8.9 high, 9+ critical.
    pub fn from_guardduty(score: f64) -> Self {
        match score {
            s if s >= 9.0 => Self::Critical,
            s if s >= 7.0 => Self::High,
            s if s >= 4.0 => Self::Medium,
            s if s > 0.0 => Self::Low,
            _ => Self::Informational,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Informational => "informational",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// Whether the entity list is the whole list (`../shared/cases` C3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Coverage {
    Complete,
    /// The source capped the list (e.g. 50 related entities of more).
    Truncated {
        received: usize,
        declared: Option<usize>,
    },
    /// The payload carried no entities at all (Fusion, rules without entity mapping).
    Missing,
}

/// A normalized alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub source: Source,
    /// The source's own id for the alert (for Security Hub: product ARN + finding id).
    pub source_id: String,
    /// The source's own update time; with the id it identifies a version of the alert.
    pub source_updated: Option<DateTime<Utc>>,
    /// The detector / rule id, prefixed by the source (`guardduty:Recon:IAMUser/TorIPCaller`).
    pub detector_id: String,
    pub detector_name: String,
    /// The alert type the policy's role table matches on (finding type, category, event type).
    pub alert_type: String,
    pub title: String,
    pub severity: Severity,
    pub tactics: Vec<String>,
    pub techniques: Vec<String>,
    pub first_activity: Option<DateTime<Utc>>,
    pub last_activity: Option<DateTime<Utc>>,
    pub entities: Vec<AlertEntity>,
    pub coverage: Coverage,
    /// Tenant / account / workspace the alert is from, when the source says.
    pub tenant: Option<String>,
    /// For alerts that arrive inside a SIEM incident: that incident's id.
    pub parent_incident: Option<String>,
}

/// The identity of an alert across versions: source + the source's own id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AlertIdentity {
    pub source: Source,
    pub source_id: String,
}

impl fmt::Display for AlertIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.source_id)
    }
}

impl Alert {
    pub fn identity(&self) -> AlertIdentity {
        AlertIdentity {
            source: self.source,
            source_id: self.source_id.clone(),
        }
    }

    /// The deduplication key: source, the source's id and update time. Two deliveries of the
    /// same version (different envelopes, member and admin account) share it
    /// (`../shared/cases` C6).
    pub fn dedup_key(&self) -> String {
        hex::encode(self.dedup_digest())
    }

    /// The bytes behind [`Alert::dedup_key`].
    pub fn dedup_digest(&self) -> [u8; 16] {
        let mut h = Sha256::new();
        h.update(self.source.as_str().as_bytes());
        h.update([0]);
        h.update(self.source_id.as_bytes());
        h.update([0]);
        match self.source_updated {
            // Seconds and nanoseconds: exact to the source's own precision.
            Some(t) => {
                h.update([1]);
                h.update(t.timestamp().to_be_bytes());
                h.update(t.timestamp_subsec_nanos().to_be_bytes());
            }
            None => h.update([0]),
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&h.finalize()[..16]);
        out
    }

    /// The time correlation windows are measured from.
    pub fn time(&self) -> Option<DateTime<Utc>> {
        self.first_activity
            .or(self.last_activity)
            .or(self.source_updated)
    }
}

/// A payload that could not be turned into alerts, kept with the reason (`../shared/cases` C5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    /// Where it came from (file path and record number, queue message id, …).
    pub origin: String,
    pub reason: String,
    /// The payload as received (cut to a bounded size by the caller if huge).
    pub payload: String,
}

impl Quarantined {
    /// A stable key for the quarantined payload, so the same bad payload is kept once.
    pub fn key(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.origin.as_bytes());
        h.update([0]);
        h.update(self.payload.as_bytes());
        hex::encode(&h.finalize()[..16])
    }
}

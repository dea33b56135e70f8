//! Storage ports. Implemented by the embedded store (SQLite) for one machine and by DynamoDB in
//! AWS; one conformance suite (`cordon-infra`'s `conformance` module) runs against every
//! implementation.

use crate::action::PlannedAction;
use crate::alert::{Alert, Quarantined};
use crate::decide::Incident;
use async_trait::async_trait;

/// What a store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backing store could not be reached or answered with an error; retrying may help.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored record could not be read back (schema drift, corruption): needs a person.
    #[error("stored record {key} is unreadable: {detail}")]
    Corrupt { key: String, detail: String },
}

/// Whether a write changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Created,
    Updated,
    Unchanged,
}

/// Alerts, deduplicated on the source's own identity (source, id, update time), and quarantine.
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Stores one alert version unless its dedup key is already stored: a conditional write, so
    /// two concurrent deliveries of the same version store it once (`../shared/cases` C6).
    /// Returns `true` when this call stored it.
    async fn put_alert(&self, alert: &Alert) -> Result<bool, StoreError>;
    /// [`AlertStore::put_alert`] for many alerts; stores may do it in one transaction.
    async fn put_alerts(&self, alerts: &[Alert]) -> Result<Vec<bool>, StoreError> {
        let mut out = Vec::with_capacity(alerts.len());
        for a in alerts {
            out.push(self.put_alert(a).await?);
        }
        Ok(out)
    }
    /// Every stored alert version.
    async fn alerts(&self) -> Result<Vec<Alert>, StoreError>;
    /// Keeps a payload that could not be parsed, with the reason. Returns `true` when new.
    async fn quarantine(&self, item: &Quarantined) -> Result<bool, StoreError>;
    /// Everything in quarantine.
    async fn quarantined(&self) -> Result<Vec<Quarantined>, StoreError>;
}

/// Incidents with their current decision.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Creates or replaces the incident with this id; `Unchanged` when identical.
    async fn put_incident(&self, incident: &Incident) -> Result<Written, StoreError>;
    /// Removes an incident that was merged into another (its alerts now belong there).
    async fn remove_incident(&self, id: &str) -> Result<bool, StoreError>;
    async fn incidents(&self) -> Result<Vec<Incident>, StoreError>;
    async fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError>;
}

/// Planned actions, keyed by idempotency key: planning the same action twice stores it once.
#[async_trait]
pub trait ActionPlanStore: Send + Sync {
    /// Stores the action unless one with its idempotency key exists. Returns `true` when new.
    async fn put_planned(&self, action: &PlannedAction) -> Result<bool, StoreError>;
    async fn planned(&self) -> Result<Vec<PlannedAction>, StoreError>;
}

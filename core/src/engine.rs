//! The engine: the one flow both deployment shapes run. Stores alerts once, correlates them into
//! incidents, decides each incident, and records incidents and planned actions idempotently.
//! It talks to storage only through the ports in [`crate::store`].

use crate::alert::Alert;
use crate::correlate::Correlator;
use crate::decide::{decide, Incident};
use crate::policy::Policy;
use crate::store::{ActionPlanStore, AlertStore, IncidentStore, StoreError, Written};
use std::collections::HashSet;
use std::sync::Arc;

/// The stores the engine works on.
#[derive(Clone)]
pub struct Stores {
    pub alerts: Arc<dyn AlertStore>,
    pub incidents: Arc<dyn IncidentStore>,
    pub plans: Arc<dyn ActionPlanStore>,
}

/// What one ingest did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Ingested {
    pub stored: usize,
    pub duplicates: usize,
}

/// What one correlation pass did.
#[derive(Debug, Default, Clone)]
pub struct Correlated {
    pub incidents: Vec<Incident>,
    pub incidents_created: usize,
    pub incidents_updated: usize,
    /// Incidents that merged into others since the last pass.
    pub incidents_removed: usize,
    pub actions_planned: usize,
}

pub struct Engine {
    pub policy: Policy,
    pub stores: Stores,
}

impl Engine {
    pub fn new(policy: Policy, stores: Stores) -> Self {
        Self { policy, stores }
    }

    /// Stores alerts, each version once.
    pub async fn ingest(&self, alerts: &[Alert]) -> Result<Ingested, StoreError> {
        let stored = self.stores.alerts.put_alerts(alerts).await?;
        let new = stored.iter().filter(|s| **s).count();
        Ok(Ingested {
            stored: new,
            duplicates: alerts.len() - new,
        })
    }

    /// Correlates every stored alert, decides each incident and records the result. Running it
    /// twice over the same alerts writes nothing the second time.
    pub async fn correlate(&self) -> Result<Correlated, StoreError> {
        let alerts = self.stores.alerts.alerts().await?;
        let mut correlator = Correlator::new(self.policy.window_secs);
        for a in alerts {
            correlator.add(a);
        }
        let mut out = Correlated::default();
        let mut live = HashSet::new();
        for (id, members) in correlator.incidents() {
            let incident = decide(&self.policy, &id, &members);
            match self.stores.incidents.put_incident(&incident).await? {
                Written::Created => out.incidents_created += 1,
                Written::Updated => out.incidents_updated += 1,
                Written::Unchanged => {}
            }
            for action in &incident.planned_actions {
                if self.stores.plans.put_planned(action).await? {
                    out.actions_planned += 1;
                }
            }
            live.insert(id);
            out.incidents.push(incident);
        }
        for old in self.stores.incidents.incidents().await? {
            if !live.contains(&old.id) && self.stores.incidents.remove_incident(&old.id).await? {
                out.incidents_removed += 1;
            }
        }
        Ok(out)
    }
}

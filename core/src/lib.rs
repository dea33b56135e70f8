//! Cordon's pure domain: the alert and entity model, correlation, the disruption policy and its
//! decisions, action planning, and the ports (traits) the adapters implement. No I/O here.

pub mod alert;
pub mod entity;
pub mod ids;
pub mod source;

pub use alert::{Alert, AlertIdentity, Coverage, Quarantined, Severity, Source};
pub use entity::{AlertEntity, Entity, EntityKind, Role};
pub use source::{AlertSource, ParseError};
pub mod action;
pub mod correlate;
pub mod decide;
pub mod engine;
pub mod execute;
#[cfg(test)]
mod execute_tests;
pub mod ledger;
pub mod policy;
pub mod respond;
pub mod store;

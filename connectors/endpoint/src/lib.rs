//! Endpoint responders: Microsoft Defender for Endpoint (isolate / release a machine, block an
//! IP with an indicator) and CrowdStrike Falcon (contain / lift containment of a host), behind
//! [`cordon_core::respond::Responder`].
//!
//! Build them from configuration with [`DeviceRouter::from_config`] (one responder for every
//! device and IP action, dispatching on the device id: `mde:<machine id>`, `cs:<aid>`,
//! `host:<name>` looked up in MDE first, then CrowdStrike), or use [`MdeResponder`] /
//! [`CrowdStrikeResponder`] on their own.
//!
//! Isolation is asynchronous at both vendors: apply returns [`cordon_core::respond::Done::Pending`]
//! with the machine action (or host) to follow, never "applied"; verify reports it effective once
//! the device has applied it, and not effective once it has stayed pending past the configured
//! deadline (an offline device, `../shared/cases` C14), proposing compensating controls.

mod client;
pub mod config;
mod error;
pub mod responder;

/// The permission names reported by `check()` and in `PermissionMissing`.
pub mod permissions {
    pub use crate::client::crowdstrike::{HOSTS_READ, HOSTS_WRITE};
    pub use crate::client::mde::{MACHINE_ISOLATE, MACHINE_READ, TI_READWRITE};
    pub use crate::responder::crowdstrike::required_permissions as crowdstrike_required;
    pub use crate::responder::mde::required_permissions as mde_required;
}

pub use config::{
    BlockAction, ConfigError, CrowdStrikeConfig, EndpointConfig, IsolationType, MdeConfig, Timeouts,
};
pub use responder::crowdstrike::CrowdStrikeResponder;
pub use responder::mde::MdeResponder;
pub use responder::router::DeviceRouter;

//! Microsoft Entra ID responder: disable / re-enable users, revoke sign-in sessions and disable
//! / re-enable service principals (OAuth apps) through Microsoft Graph, with tokens from
//! `azure_identity` (client secret, certificate, or workload identity federation).
//!
//! Build it from configuration with [`EntraResponder::from_config`].

pub mod client;
pub mod config;
pub mod credential;
pub mod error;
pub mod responder;

pub use config::{Credential, EntraConfig, Timeouts};

pub use responder::{required_permissions, EntraResponder, Requirement};

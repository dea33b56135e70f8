//! Okta responder: suspends and unsuspends users and clears their sessions (with OAuth tokens),
//! driven by the user's current status (`../shared/cases` C10), through Okta's management API with
//! an API token (`SSWS`) or an OAuth 2.0 service app (`private_key_jwt`, RS256).
//!
//! ```no_run
//! # fn build() -> Result<(), Box<dyn std::error::Error>> {
//! let config: cordon_okta::OktaConfig = serde_json::from_str(r#"{
//!     "org_url": "https://contoso.okta.com",
//!     "auth": {"method": "api_token", "token": "00abc"}
//! }"#)?;
//! let responder = cordon_okta::OktaResponder::new(&config)?;
//! # let _ = responder; Ok(()) }
//! ```

pub mod client;
pub mod config;
pub mod error;
pub mod responder;

pub use config::{OktaAuth, OktaConfig, Timeouts, SCOPE_MANAGE, SCOPE_READ};
pub use error::ConfigError;
pub use responder::{required_permissions, OktaResponder};

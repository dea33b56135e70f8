//! Configuration, read once at start and validated: a bad value fails loudly there, never in the
//! middle of an incident. Secrets are [`SecretString`]s and never logged.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("could not build the HTTP client: {0}")]
    Client(String),
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// Explicit connect and request timeouts for every outbound call (C17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    #[serde(default = "default_connect_ms")]
    pub connect_ms: u64,
    /// The whole request, answer included.
    #[serde(default = "default_request_ms")]
    pub request_ms: u64,
}

fn default_connect_ms() -> u64 {
    3_000
}
fn default_request_ms() -> u64 {
    15_000
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect_ms: default_connect_ms(),
            request_ms: default_request_ms(),
        }
    }
}

impl Timeouts {
    pub fn connect(&self) -> Duration {
        Duration::from_millis(self.connect_ms)
    }
    pub fn request(&self) -> Duration {
        Duration::from_millis(self.request_ms)
    }
    fn validate(&self) -> Result<(), ConfigError> {
        if self.connect_ms == 0 || self.request_ms == 0 {
            return Err(invalid(
                "timeouts",
                "connect_ms and request_ms must be above 0",
            ));
        }
        Ok(())
    }
}

/// MDE isolation type (`IsolationType` of the isolate call).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum IsolationType {
    /// Cuts all network traffic except the Defender service.
    #[default]
    Full,
    /// Keeps Outlook, Teams and Skype working.
    Selective,
    /// Contains an unmanaged device from the managed ones.
    UnManagedDevice,
}

impl IsolationType {
    pub fn as_str(&self) -> &'static str {
        match self {
            IsolationType::Full => "Full",
            IsolationType::Selective => "Selective",
            IsolationType::UnManagedDevice => "UnManagedDevice",
        }
    }
}

/// The MDE indicator action a contained IP gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum BlockAction {
    #[default]
    Block,
    AlertAndBlock,
    BlockAndRemediate,
}

impl BlockAction {
    pub fn as_str(&self) -> &'static str {
        match self {
            BlockAction::Block => "Block",
            BlockAction::AlertAndBlock => "AlertAndBlock",
            BlockAction::BlockAndRemediate => "BlockAndRemediate",
        }
    }
}

/// Microsoft Defender for Endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MdeConfig {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// The Microsoft identity platform (`https://login.microsoftonline.com`; sovereign clouds
    /// differ).
    #[serde(default = "default_authority")]
    pub authority_host: String,
    /// `https://api.securitycenter.microsoft.com/api` (or a regional / `api.security.microsoft.com`
    /// base).
    #[serde(default = "default_mde_api")]
    pub api_base_url: String,
    /// The resource the token is requested for (`{resource}/.default`).
    #[serde(default = "default_mde_resource")]
    pub resource: String,
    #[serde(default)]
    pub isolation_type: IsolationType,
    /// How long an isolation may stay Pending (offline device) before it is reported not
    /// effective (C14).
    #[serde(default = "default_pending_deadline")]
    pub pending_deadline_secs: u64,
    /// Lifetime of the block indicators created for a contained IP.
    #[serde(default = "default_indicator_expiration")]
    pub indicator_expiration_secs: u64,
    #[serde(default)]
    pub indicator_action: BlockAction,
    /// `Informational`, `Low`, `Medium`, `High`.
    #[serde(default = "default_severity")]
    pub indicator_severity: String,
    /// Whether a hit on a block indicator raises an alert.
    #[serde(default = "default_true")]
    pub indicator_generate_alert: bool,
    #[serde(default)]
    pub timeouts: Timeouts,
}

fn default_authority() -> String {
    "https://login.microsoftonline.com".into()
}
fn default_mde_api() -> String {
    "https://api.securitycenter.microsoft.com/api".into()
}
fn default_mde_resource() -> String {
    "https://api.securitycenter.microsoft.com".into()
}
fn default_pending_deadline() -> u64 {
    30 * 60
}
fn default_indicator_expiration() -> u64 {
    7 * 24 * 3600
}
fn default_severity() -> String {
    "High".into()
}
fn default_true() -> bool {
    true
}

fn check_url(field: &'static str, v: &str) -> Result<(), ConfigError> {
    let u = url::Url::parse(v).map_err(|e| invalid(field, format!("{v:?} is not a URL: {e}")))?;
    if !matches!(u.scheme(), "https" | "http") || u.host_str().is_none() {
        return Err(invalid(field, format!("{v:?} is not an http(s) URL")));
    }
    Ok(())
}

fn check_nonempty(field: &'static str, v: &str) -> Result<(), ConfigError> {
    if v.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    Ok(())
}

impl MdeConfig {
    /// The defaults for everything but the credentials.
    pub fn new(tenant_id: &str, client_id: &str, client_secret: SecretString) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            client_secret,
            authority_host: default_authority(),
            api_base_url: default_mde_api(),
            resource: default_mde_resource(),
            isolation_type: IsolationType::default(),
            pending_deadline_secs: default_pending_deadline(),
            indicator_expiration_secs: default_indicator_expiration(),
            indicator_action: BlockAction::default(),
            indicator_severity: default_severity(),
            indicator_generate_alert: true,
            timeouts: Timeouts::default(),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        check_nonempty("mde.tenant_id", &self.tenant_id)?;
        check_nonempty("mde.client_id", &self.client_id)?;
        check_nonempty("mde.client_secret", self.client_secret.expose_secret())?;
        check_url("mde.authority_host", &self.authority_host)?;
        check_url("mde.api_base_url", &self.api_base_url)?;
        check_url("mde.resource", &self.resource)?;
        if self.pending_deadline_secs == 0 {
            return Err(invalid("mde.pending_deadline_secs", "must be above 0"));
        }
        if self.indicator_expiration_secs == 0 {
            return Err(invalid("mde.indicator_expiration_secs", "must be above 0"));
        }
        if !["Informational", "Low", "Medium", "High"].contains(&self.indicator_severity.as_str()) {
            return Err(invalid(
                "mde.indicator_severity",
                "one of Informational, Low, Medium, High",
            ));
        }
        self.timeouts.validate()
    }
}

/// CrowdStrike Falcon.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrowdStrikeConfig {
    /// The cloud's regional base: `https://api.crowdstrike.com`, `https://api.us-2.crowdstrike.com`,
    /// `https://api.eu-1.crowdstrike.com`, `https://api.laggar.gcw.crowdstrike.com`.
    pub base_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// How long a containment may stay pending (offline host) before it is reported not
    /// effective (C14).
    #[serde(default = "default_pending_deadline")]
    pub pending_deadline_secs: u64,
    #[serde(default)]
    pub timeouts: Timeouts,
}

impl CrowdStrikeConfig {
    pub fn new(base_url: &str, client_id: &str, client_secret: SecretString) -> Self {
        Self {
            base_url: base_url.into(),
            client_id: client_id.into(),
            client_secret,
            pending_deadline_secs: default_pending_deadline(),
            timeouts: Timeouts::default(),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        check_url("crowdstrike.base_url", &self.base_url)?;
        check_nonempty("crowdstrike.client_id", &self.client_id)?;
        check_nonempty(
            "crowdstrike.client_secret",
            self.client_secret.expose_secret(),
        )?;
        if self.pending_deadline_secs == 0 {
            return Err(invalid(
                "crowdstrike.pending_deadline_secs",
                "must be above 0",
            ));
        }
        self.timeouts.validate()
    }
}

/// The endpoint section: either vendor, or both (devices are then routed by id prefix, and a
/// `host:` name is looked up in MDE first).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    #[serde(default)]
    pub mde: Option<MdeConfig>,
    #[serde(default)]
    pub crowdstrike: Option<CrowdStrikeConfig>,
}

impl EndpointConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.mde.is_none() && self.crowdstrike.is_none() {
            return Err(invalid("endpoint", "configure mde, crowdstrike, or both"));
        }
        if let Some(m) = &self.mde {
            m.validate()?;
        }
        if let Some(c) = &self.crowdstrike {
            c.validate()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let cfg: EndpointConfig = serde_json::from_value(serde_json::json!({
            "mde": {"tenant_id": "t", "client_id": "c", "client_secret": "s"},
            "crowdstrike": {"base_url": "https://api.eu-1.crowdstrike.com", "client_id": "c", "client_secret": "s"},
        }))
        .unwrap_or_default();
        assert!(cfg.validate().is_ok());
        let mde = cfg.mde.as_ref().map(|m| {
            (
                m.authority_host.as_str(),
                m.api_base_url.as_str(),
                m.isolation_type,
                m.pending_deadline_secs,
                m.indicator_expiration_secs,
            )
        });
        assert_eq!(
            mde,
            Some((
                "https://login.microsoftonline.com",
                "https://api.securitycenter.microsoft.com/api",
                IsolationType::Full,
                1800,
                604_800
            ))
        );
        // The secret never shows in Debug output.
        assert!(!format!("{cfg:?}").contains("\"s\""));

        let mut bad = MdeConfig::new("t", "c", SecretString::from(""));
        assert!(bad.validate().is_err());
        bad.client_secret = SecretString::from("s");
        bad.api_base_url = "not a url".into();
        assert!(bad.validate().is_err());
        assert!(EndpointConfig::default().validate().is_err());
        let unknown = serde_json::from_value::<MdeConfig>(serde_json::json!({
            "tenant_id": "t", "client_id": "c", "client_secret": "s", "isolation": "Full"
        }));
        assert!(unknown.is_err(), "a misspelt field fails loudly");
    }
}

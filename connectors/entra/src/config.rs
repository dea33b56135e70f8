//! Configuration of the Entra ID responder: read once at start, validated, fails loudly.

use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// The public cloud's authority.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// Microsoft Graph v1.0 in the public cloud.
pub const DEFAULT_GRAPH_BASE_URL: &str = "https://graph.microsoft.com/v1.0";
/// The token scope for Graph application permissions (client-credentials flow).
pub const DEFAULT_GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
/// Entra Connect's default sync cycle is 30 minutes; 40 leaves time for the cycle to finish.
pub const DEFAULT_SYNC_INTERVAL_MINUTES: u64 = 40;

/// `[connectors.entra]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntraConfig {
    /// Directory (tenant) id.
    pub tenant_id: String,
    /// Application (client) id of the app registration Cordon runs as.
    pub client_id: String,
    pub credential: Credential,
    /// The Microsoft identity platform authority, `https://login.microsoftonline.com` by default
    /// (`https://login.microsoftonline.us` for US Government, a mock in tests).
    #[serde(default = "default_authority_host")]
    pub authority_host: String,
    /// `https://graph.microsoft.com/v1.0` by default.
    #[serde(default = "default_graph_base_url")]
    pub graph_base_url: String,
    /// `https://graph.microsoft.com/.default` by default (national clouds have their own).
    #[serde(default = "default_graph_scope")]
    pub graph_scope: String,
    #[serde(default)]
    pub timeouts: Timeouts,
    /// How long until the next on-premises directory sync may undo a cloud-only disable of a
    /// synced user (`../shared/cases` C8): such an action is re-verified after this interval.
    #[serde(default = "default_sync_interval")]
    pub sync_interval_minutes: u64,
}

/// How the app authenticates to the Microsoft identity platform (all through `azure_identity`).
#[derive(Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Credential {
    /// A client secret (`ClientSecretCredential`).
    ClientSecret { secret: SecretString },
    /// A certificate: a PEM file holding the certificate and its unencrypted private key (RSA,
    /// PKCS#8 or PKCS#1). The client assertion is signed with it (RS256, `x5t` thumbprint).
    ClientCertificate {
        certificate_path: PathBuf,
        /// Send the certificate in `x5c` (subject name / issuer authentication).
        #[serde(default)]
        send_certificate_chain: bool,
    },
    /// Workload identity federation: a token file written by the platform (Kubernetes,
    /// GitHub Actions, …), `AZURE_FEDERATED_TOKEN_FILE` when no path is given.
    ClientAssertion {
        #[serde(default)]
        token_file: Option<PathBuf>,
    },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::ClientSecret { .. } => f.write_str("ClientSecret { secret: [redacted] }"),
            Credential::ClientCertificate {
                certificate_path,
                send_certificate_chain,
            } => f
                .debug_struct("ClientCertificate")
                .field("certificate_path", certificate_path)
                .field("send_certificate_chain", send_certificate_chain)
                .finish(),
            Credential::ClientAssertion { token_file } => f
                .debug_struct("ClientAssertion")
                .field("token_file", token_file)
                .finish(),
        }
    }
}

/// Explicit timeouts for every outbound call (token endpoint and Graph).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    #[serde(default = "default_connect_ms")]
    pub connect_ms: u64,
    /// The whole request, connect included.
    #[serde(default = "default_request_ms")]
    pub request_ms: u64,
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
}

fn default_authority_host() -> String {
    DEFAULT_AUTHORITY_HOST.into()
}
fn default_graph_base_url() -> String {
    DEFAULT_GRAPH_BASE_URL.into()
}
fn default_graph_scope() -> String {
    DEFAULT_GRAPH_SCOPE.into()
}
fn default_sync_interval() -> u64 {
    DEFAULT_SYNC_INTERVAL_MINUTES
}
fn default_connect_ms() -> u64 {
    3_000
}
fn default_request_ms() -> u64 {
    10_000
}

/// What is wrong with the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("entra: {field}: {why}")]
    Invalid { field: &'static str, why: String },
    #[error("entra: credential: {0}")]
    Credential(String),
}

fn invalid(field: &'static str, why: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        why: why.into(),
    }
}

impl EntraConfig {
    /// A configuration with the public-cloud defaults.
    pub fn new(tenant_id: &str, client_id: &str, credential: Credential) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            credential,
            authority_host: default_authority_host(),
            graph_base_url: default_graph_base_url(),
            graph_scope: default_graph_scope(),
            timeouts: Timeouts::default(),
            sync_interval_minutes: default_sync_interval(),
        }
    }

    /// Checks everything that can be checked without a network.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tenant_id.is_empty()
            || !self
                .tenant_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(invalid(
                "tenant_id",
                "must be the directory id (GUID) or a verified domain name",
            ));
        }
        if self.client_id.trim().is_empty() {
            return Err(invalid("client_id", "is empty"));
        }
        authority_url(&self.authority_host)?;
        graph_url(&self.graph_base_url)?;
        if !self.graph_scope.ends_with("/.default") {
            return Err(invalid(
                "graph_scope",
                "application permissions need a `<resource>/.default` scope",
            ));
        }
        if self.timeouts.connect_ms == 0 || self.timeouts.request_ms == 0 {
            return Err(invalid("timeouts", "must be greater than zero"));
        }
        if self.sync_interval_minutes == 0 {
            return Err(invalid(
                "sync_interval_minutes",
                "must be greater than zero",
            ));
        }
        Ok(())
    }

    pub fn sync_interval(&self) -> chrono::Duration {
        chrono::Duration::minutes(
            i64::try_from(self.sync_interval_minutes).unwrap_or(i64::MAX / 60_000),
        )
    }
}

/// HTTPS, or plain HTTP to a loopback address (a local mock). Never plain HTTP over a network.
fn checked_url(field: &'static str, s: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(s).map_err(|e| invalid(field, format!("`{s}` is not a URL: {e}")))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(invalid(
            field,
            format!("`{s}` must use https (plain http only to a loopback address)"),
        )),
    }
}

pub(crate) fn authority_url(s: &str) -> Result<Url, ConfigError> {
    checked_url("authority_host", s.trim_end_matches('/'))
}

pub(crate) fn graph_url(s: &str) -> Result<Url, ConfigError> {
    checked_url("graph_base_url", s.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: &str) -> Result<EntraConfig, String> {
        serde_json::from_str::<EntraConfig>(json).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_validation() {
        let c = cfg(r#"{"tenant_id":"t1","client_id":"c","credential":{"type":"client_secret","secret":"s"}}"#)
            .unwrap();
        assert_eq!(c.authority_host, DEFAULT_AUTHORITY_HOST);
        assert_eq!(c.graph_base_url, DEFAULT_GRAPH_BASE_URL);
        assert_eq!(c.sync_interval_minutes, 40);
        c.validate().unwrap();
        // The secret never shows in Debug output.
        assert!(!format!("{c:?}").contains("\"s\""));
        assert!(format!("{c:?}").contains("redacted"));

        let mut bad = c.clone();
        bad.graph_base_url = "http://graph.example.com/v1.0".into();
        assert!(
            bad.validate().is_err(),
            "plain http over a network is refused"
        );
        bad.graph_base_url = "http://127.0.0.1:9/graph/v1.0".into();
        bad.validate().unwrap();
        bad.tenant_id = "a/b".into();
        assert!(bad.validate().is_err());
        assert!(cfg(r#"{"tenant_id":"t","client_id":"c","credential":{"type":"client_secret","secret":"s"},"typo":1}"#).is_err());
        let c =
            cfg(r#"{"tenant_id":"t","client_id":"c","credential":{"type":"client_assertion"}}"#)
                .unwrap();
        assert!(matches!(
            c.credential,
            Credential::ClientAssertion { token_file: None }
        ));
    }
}

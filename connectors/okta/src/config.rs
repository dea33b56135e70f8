//! The Okta connector's configuration: read once, validated, fails loudly.
//!
//! ```toml
//! org_url = "https://contoso.okta.com"
//! [auth]
//! method = "api_token"             # an SSWS API token: it carries its creating admin's permissions
//! token = "00abc…"
//! # or
//! method = "oauth_service_app"     # OAuth 2.0 service app, private_key_jwt (RS256)
//! client_id = "0oa…"
//! private_key_pem = "/etc/cordon/okta.pem"   # a path, or the PEM itself
//! key_id = "…"                     # optional: the key's `kid` in Okta, when the app has several
//! scopes = ["okta.users.read", "okta.users.manage"]
//! [timeouts]
//! connect_ms = 5000
//! request_ms = 15000
//! ```

use crate::error::ConfigError;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;

/// The scope that reads users (`GET /api/v1/users/{id}`).
pub const SCOPE_READ: &str = "okta.users.read";
/// The scope that suspends, unsuspends and clears sessions. Okta's `.manage` scopes include the
/// matching `.read` access.
pub const SCOPE_MANAGE: &str = "okta.users.manage";

fn default_scopes() -> Vec<String> {
    vec![SCOPE_READ.to_string(), SCOPE_MANAGE.to_string()]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaConfig {
    /// `https://contoso.okta.com` (the org URL, not the `-admin` one). In tests
    /// `{mock}/okta`; plain `http` is accepted for loopback hosts only.
    pub org_url: String,
    pub auth: OktaAuth,
    #[serde(default)]
    pub timeouts: Timeouts,
}

/// How the connector authenticates to Okta.
#[derive(Debug, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum OktaAuth {
    /// `Authorization: SSWS <token>`. An Okta API token carries the permissions of the admin
    /// who created it; they cannot be read from the token.
    ApiToken { token: SecretString },
    /// An OAuth 2.0 service app with `private_key_jwt` client authentication; the access token
    /// carries the granted scopes. DPoP must be off for the app (Okta's "Require DPoP" setting).
    OauthServiceApp {
        client_id: String,
        /// A PEM (`PRIVATE KEY` / `RSA PRIVATE KEY`, RSA ≥ 2048 bits) inline, or a path to one.
        private_key_pem: SecretString,
        /// The key's id (`kid`) registered in Okta, sent in the assertion header.
        #[serde(default)]
        key_id: Option<String>,
        #[serde(default = "default_scopes")]
        scopes: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    #[serde(default = "Timeouts::default_connect_ms")]
    pub connect_ms: u64,
    /// The whole request, response body included.
    #[serde(default = "Timeouts::default_request_ms")]
    pub request_ms: u64,
}

impl Timeouts {
    fn default_connect_ms() -> u64 {
        5_000
    }
    fn default_request_ms() -> u64 {
        15_000
    }
    pub fn connect(&self) -> Duration {
        Duration::from_millis(self.connect_ms)
    }
    pub fn request(&self) -> Duration {
        Duration::from_millis(self.request_ms)
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect_ms: Self::default_connect_ms(),
            request_ms: Self::default_request_ms(),
        }
    }
}

impl OktaConfig {
    /// Checks everything that can be checked without a network: the org URL, the key, the
    /// scopes and the timeouts. Returns the org URL normalised (no trailing slash).
    pub fn validate(&self) -> Result<String, ConfigError> {
        let url = url::Url::parse(self.org_url.trim()).map_err(|e| ConfigError::OrgUrl {
            url: self.org_url.clone(),
            why: e.to_string(),
        })?;
        let bad = |why: &str| ConfigError::OrgUrl {
            url: self.org_url.clone(),
            why: why.to_string(),
        };
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let loopback = host == "localhost" || host == "127.0.0.1" || host == "[::1]";
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(bad("must be https (http only for a loopback test server)")),
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("must not carry a query or fragment"));
        }
        if host.contains("-admin.") {
            return Err(bad(
                "is the admin console's URL; use the org URL without '-admin' (https://contoso.okta.com)",
            ));
        }
        if self.timeouts.connect_ms == 0 || self.timeouts.request_ms == 0 {
            return Err(ConfigError::Invalid(
                "timeouts.connect_ms and timeouts.request_ms must be above 0".into(),
            ));
        }
        match &self.auth {
            OktaAuth::ApiToken { token } => {
                if token.expose_secret().trim().is_empty() {
                    return Err(ConfigError::Invalid("auth.token is empty".into()));
                }
            }
            OktaAuth::OauthServiceApp {
                client_id, scopes, ..
            } => {
                if client_id.trim().is_empty() {
                    return Err(ConfigError::Invalid("auth.client_id is empty".into()));
                }
                if scopes.is_empty()
                    || scopes
                        .iter()
                        .any(|s| s.trim().is_empty() || s.contains(' '))
                {
                    return Err(ConfigError::Invalid(
                        "auth.scopes must list scopes such as okta.users.read, okta.users.manage"
                            .into(),
                    ));
                }
            }
        }
        Ok(url.as_str().trim_end_matches('/').to_string())
    }
}

//! The connector configuration file (`cordon.toml`) and the responders it builds. Read once at
//! start; a bad file fails loudly.

use crate::enforce::RetrySettings;
use anyhow::{Context, Result};
use cordon_core::respond::Responder;
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;

/// The whole configuration. Every connector is optional: actions whose connector is missing are
/// recorded as failed ("no connector configured"), never as done.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub retry: Option<RetrySettings>,
    /// Microsoft Entra ID (Graph): disable / enable users, revoke sessions, disable OAuth apps.
    #[serde(default)]
    pub entra: Option<cordon_entra::EntraConfig>,
    /// Okta: suspend / unsuspend users, clear sessions.
    #[serde(default)]
    pub okta: Option<cordon_okta::OktaConfig>,
    /// Microsoft Defender for Endpoint: isolate / release devices, IP block indicators.
    #[serde(default)]
    pub mde: Option<cordon_endpoint::MdeConfig>,
    /// CrowdStrike Falcon: contain / lift containment.
    #[serde(default)]
    pub crowdstrike: Option<cordon_endpoint::CrowdStrikeConfig>,
    /// AWS IAM: deny policies on users and roles, access key deactivation.
    #[serde(default)]
    pub aws: Option<cordon_aws_iam::AwsIamConfig>,
}

impl Config {
    /// Reads `path`, else `$CORDON_CONFIG`, else `./cordon.toml` when it exists; no file is an
    /// empty configuration.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let chosen = match path {
            Some(p) => Some(p.to_path_buf()),
            None => match std::env::var_os("CORDON_CONFIG") {
                Some(p) => Some(p.into()),
                None => Some(Path::new("cordon.toml").to_path_buf()).filter(|p| p.exists()),
            },
        };
        let Some(p) = chosen else {
            return Ok(Self::default());
        };
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        toml::from_str(&text).with_context(|| format!("configuration {}", p.display()))
    }
}

/// Builds the responders the configuration names.
pub async fn build(config: &Config) -> Result<Vec<Arc<dyn Responder>>> {
    let mut out: Vec<Arc<dyn Responder>> = Vec::new();
    if let Some(c) = &config.entra {
        out.push(Arc::new(
            cordon_entra::EntraResponder::from_config(c).context("entra connector")?,
        ));
    }
    if let Some(c) = &config.okta {
        out.push(Arc::new(
            cordon_okta::OktaResponder::new(c).context("okta connector")?,
        ));
    }
    if let Some(c) = &config.aws {
        out.push(Arc::new(
            cordon_aws_iam::IamResponder::new(c.clone())
                .await
                .context("aws connector")?,
        ));
    }
    if config.mde.is_some() || config.crowdstrike.is_some() {
        // One router for every device and IP kind: it picks the vendor by the target id.
        let endpoint = cordon_endpoint::EndpointConfig {
            mde: config.mde.clone(),
            crowdstrike: config.crowdstrike.clone(),
        };
        out.push(Arc::new(
            cordon_endpoint::DeviceRouter::from_config(endpoint).context("endpoint connectors")?,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_example_configuration_loads_and_builds_every_connector() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cordon.example.toml");
        let config = Config::load(Some(&path)).unwrap();
        let names: Vec<&str> = build(&config)
            .await
            .unwrap()
            .iter()
            .map(|r| r.name())
            .collect();
        for want in ["entra", "okta", "aws-iam", "endpoint"] {
            assert!(names.contains(&want), "{want} in {names:?}");
        }
    }

    #[test]
    fn unknown_sections_fail_loudly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[sentinal]\nx = 1\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&p)).unwrap_err());
        assert!(err.contains("sentinal"), "{err}");
    }
}

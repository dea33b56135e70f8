//! Configuration of the AWS IAM responder: read once, validated, fails loudly.

use secrecy::SecretString;
use serde::Deserialize;
use std::time::Duration;

/// How the responder reaches AWS.
///
/// Credentials come from the SDK's default chain (environment, web identity, ECS/IMDS, profile)
/// unless `static_credentials` is set. The endpoint is AWS's own unless `endpoint_url` (or the
/// SDK's standard `AWS_ENDPOINT_URL`) points elsewhere, e.g. at the emulator in tests.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsIamConfig {
    /// Signing region (IAM is global; STS is called in this region).
    #[serde(default = "default_region")]
    pub region: String,
    /// Overrides the AWS endpoint for IAM and STS (emulator, VPC endpoint).
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Cross-account: for a target in another account than `home_account`, assume
    /// `arn:aws:iam::<account>:role/<assume_role_name>` and act with those credentials.
    #[serde(default)]
    pub assume_role_name: Option<String>,
    /// The `ExternalId` the target accounts' trust policies ask for, if any.
    #[serde(default)]
    pub assume_role_external_id: Option<String>,
    /// The account Cordon's own credentials belong to; read with `sts:GetCallerIdentity` when
    /// unset and a role is to be assumed.
    #[serde(default)]
    pub home_account: Option<String>,
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Explicit credentials instead of the default chain (tests, or a dedicated key).
    #[serde(default)]
    pub static_credentials: Option<StaticCredentials>,
}

/// Explicit credentials. The secret parts are never logged or printed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    #[serde(default)]
    pub session_token: Option<SecretString>,
}

/// Explicit timeouts for every call. The SDK's own retries are disabled: the executor retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// Establishing the TCP/TLS connection.
    pub connect_ms: u64,
    /// One attempt: sending the request and reading the whole response.
    pub attempt_ms: u64,
    /// The whole operation, credential resolution included.
    pub operation_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect_ms: 3_000,
            attempt_ms: 10_000,
            operation_ms: 20_000,
        }
    }
}

impl Timeouts {
    pub fn connect(&self) -> Duration {
        Duration::from_millis(self.connect_ms)
    }
    pub fn attempt(&self) -> Duration {
        Duration::from_millis(self.attempt_ms)
    }
    pub fn operation(&self) -> Duration {
        Duration::from_millis(self.operation_ms)
    }
}

fn default_region() -> String {
    "us-east-1".into()
}

/// A configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("aws-iam config: {0}")]
pub struct ConfigError(pub String);

impl AwsIamConfig {
    /// A configuration with defaults: the default credential chain and AWS's own endpoints.
    pub fn new(region: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            endpoint_url: None,
            assume_role_name: None,
            assume_role_external_id: None,
            home_account: None,
            timeouts: Timeouts::default(),
            static_credentials: None,
        }
    }

    /// Checks everything that can be checked without calling AWS.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |m: String| Err(ConfigError(m));
        if self.region.is_empty()
            || !self
                .region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return err(format!(
                "region {:?} is not an AWS region name",
                self.region
            ));
        }
        if let Some(u) = &self.endpoint_url {
            match url::Url::parse(u) {
                Ok(p) if matches!(p.scheme(), "http" | "https") && p.host().is_some() => {}
                _ => return err(format!("endpoint_url {u:?} is not an http(s) URL")),
            }
        }
        if let Some(a) = &self.home_account {
            if !is_account_id(a) {
                return err(format!(
                    "home_account {a:?} is not a 12-digit AWS account id"
                ));
            }
        }
        if let Some(r) = &self.assume_role_name {
            let ok = !r.is_empty()
                && r.len() <= 64
                && r.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
            if !ok {
                return err(format!(
                    "assume_role_name {r:?} is not an IAM role name (1-64 of A-Za-z0-9+=,.@_-)"
                ));
            }
        }
        if self.assume_role_external_id.is_some() && self.assume_role_name.is_none() {
            return err("assume_role_external_id is set but assume_role_name is not".into());
        }
        if let Some(c) = &self.static_credentials {
            if c.access_key_id.trim().is_empty() {
                return err("static_credentials.access_key_id is empty".into());
            }
        }
        let t = self.timeouts;
        if t.connect_ms == 0 || t.attempt_ms == 0 || t.operation_ms == 0 {
            return err("timeouts must all be above 0 ms".into());
        }
        if t.attempt_ms > t.operation_ms {
            return err(format!(
                "timeouts.attempt_ms ({}) is above timeouts.operation_ms ({})",
                t.attempt_ms, t.operation_ms
            ));
        }
        Ok(())
    }
}

/// Whether `s` is a 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_fail_loudly() {
        let c: AwsIamConfig = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(c.region, "us-east-1");
        c.validate().unwrap();
        let bad = [
            serde_json::json!({"region": "US East"}),
            serde_json::json!({"endpoint_url": "localhost:5000"}),
            serde_json::json!({"home_account": "1234"}),
            serde_json::json!({"assume_role_name": "a/b"}),
            serde_json::json!({"assume_role_external_id": "x"}),
            serde_json::json!({"timeouts": {"connect_ms": 1, "attempt_ms": 5, "operation_ms": 2}}),
        ];
        for b in bad {
            let c: AwsIamConfig = serde_json::from_value(b.clone()).unwrap();
            assert!(c.validate().is_err(), "{b}");
        }
        assert!(
            serde_json::from_value::<AwsIamConfig>(serde_json::json!({"regoin": "x"})).is_err()
        );
    }

    #[test]
    fn secrets_are_not_printed() {
        let c: AwsIamConfig = serde_json::from_value(serde_json::json!({
            "static_credentials": {"access_key_id": "AKIAEXAMPLE", "secret_access_key": "s3cr3t-value"}
        }))
        .unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t-value"));
    }
}

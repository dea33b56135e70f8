//! The AWS calls the responder makes, through `aws-sdk-iam` / `aws-sdk-sts`, with explicit
//! timeouts, the SDK's retries disabled (the executor retries), and errors mapped to
//! [`Failure`]. Cross-account targets are reached with credentials from `sts:AssumeRole`, cached
//! per account until shortly before they expire.

use crate::config::{is_account_id, AwsIamConfig, ConfigError};
use crate::error::{map_sdk_error, Call};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_iam::config::Credentials;
use aws_sdk_iam::types::StatusType;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use chrono::{DateTime, Utc};
use cordon_core::respond::Failure;
use secrecy::ExposeSecret;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Assumed-role credentials are renewed this long before they expire.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// IAM and STS clients for the home account, and for other accounts through an assumed role.
pub struct AwsClients {
    cfg: AwsIamConfig,
    sdk: SdkConfig,
    home_iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
    home_account: tokio::sync::OnceCell<String>,
    /// Per account: the IAM client over the assumed role's credentials, and when they expire.
    assumed: Mutex<HashMap<String, (aws_sdk_iam::Client, DateTime<Utc>)>>,
}

/// One IAM access key as `ListAccessKeys` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub access_key_id: String,
    pub user_name: String,
    /// `Active`, `Inactive` (or whatever else AWS answers, verbatim).
    pub status: String,
}

/// A user's or role's identity as `GetUser` / `GetRole` report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityInfo {
    pub name: String,
    pub path: String,
    pub arn: String,
}

impl AwsClients {
    /// Builds the SDK configuration (no call is made).
    pub async fn new(cfg: AwsIamConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let t = cfg.timeouts;
        let http = http_client();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(cfg.region.clone()))
            .http_client(http)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(t.connect())
                    .operation_attempt_timeout(t.attempt())
                    .operation_timeout(t.operation())
                    .build(),
            );
        if let Some(url) = &cfg.endpoint_url {
            loader = loader.endpoint_url(url.clone());
        }
        if let Some(c) = &cfg.static_credentials {
            loader = loader.credentials_provider(Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.expose_secret().to_string(),
                c.session_token
                    .as_ref()
                    .map(|s| s.expose_secret().to_string()),
                None,
                "cordon-static",
            ));
        }
        let sdk = loader.load().await;
        let home_account = tokio::sync::OnceCell::new();
        if let Some(a) = &cfg.home_account {
            let _ = home_account.set(a.clone());
        }
        Ok(Self {
            home_iam: aws_sdk_iam::Client::new(&sdk),
            sts: aws_sdk_sts::Client::new(&sdk),
            sdk,
            cfg,
            home_account,
            assumed: Mutex::new(HashMap::new()),
        })
    }

    /// The IAM client for the home account (`check()`, targets without an account).
    pub fn home(&self) -> &aws_sdk_iam::Client {
        &self.home_iam
    }

    /// `sts:GetCallerIdentity`: (account, ARN) of the credentials in use.
    pub async fn caller_identity(&self) -> Result<(String, String), Failure> {
        const C: Call = Call::read("sts:GetCallerIdentity");
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| map_sdk_error(e, C))?;
        let account = out.account().unwrap_or_default().to_string();
        let arn = out.arn().unwrap_or_default().to_string();
        Ok((account, arn))
    }

    async fn home_account(&self) -> Result<String, Failure> {
        self.home_account
            .get_or_try_init(|| async { self.caller_identity().await.map(|(a, _)| a) })
            .await
            .cloned()
    }

    /// The IAM client to act on a target in `account` (`None`: the home account).
    pub async fn iam_for(
        &self,
        account: Option<&str>,
        partition: &str,
    ) -> Result<aws_sdk_iam::Client, Failure> {
        let Some(account) = account else {
            return Ok(self.home_iam.clone());
        };
        if !is_account_id(account) {
            return Err(Failure::Permanent {
                detail: format!("{account:?} is not a 12-digit AWS account id"),
            });
        }
        let Some(role_name) = &self.cfg.assume_role_name else {
            // No cross-account role configured: the home credentials are all there is. A target
            // in another account then fails with NoSuchEntity / AccessDenied from AWS itself.
            return Ok(self.home_iam.clone());
        };
        if self.home_account().await? == account {
            return Ok(self.home_iam.clone());
        }
        let now = Utc::now();
        if let Ok(cache) = self.assumed.lock() {
            if let Some((client, expires)) = cache.get(account) {
                if *expires - now > chrono::Duration::from_std(RENEW_BEFORE).unwrap_or_default() {
                    return Ok(client.clone());
                }
            }
        }
        let role_arn = format!("arn:{partition}:iam::{account}:role/{role_name}");
        let call = Call::read("sts:AssumeRole");
        let out = self
            .sts
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("cordon-responder")
            .set_external_id(self.cfg.assume_role_external_id.clone())
            .send()
            .await
            .map_err(|e| match map_sdk_error(e, call) {
                Failure::PermissionMissing { detail, .. } => Failure::PermissionMissing {
                    permission: format!("sts:AssumeRole on {role_arn}"),
                    detail: format!(
                        "{detail} (the role must exist in account {account} and trust Cordon's principal)"
                    ),
                },
                other => other,
            })?;
        let Some(c) = out.credentials() else {
            return Err(Failure::Transient {
                detail: format!("sts:AssumeRole {role_arn}: the answer carried no credentials"),
            });
        };
        let expires = DateTime::<Utc>::from_timestamp(c.expiration().secs(), 0)
            .unwrap_or(now + chrono::Duration::minutes(15));
        let creds = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            std::time::SystemTime::try_from(*c.expiration()).ok(),
            "cordon-assume-role",
        );
        let conf = aws_sdk_iam::config::Builder::from(&self.sdk)
            .credentials_provider(creds)
            .build();
        let client = aws_sdk_iam::Client::from_conf(conf);
        if let Ok(mut cache) = self.assumed.lock() {
            cache.insert(account.to_string(), (client.clone(), expires));
        }
        Ok(client)
    }
}

/// The IAM calls, each mapping its errors with the action it needs.
pub mod iam {
    use super::*;

    pub async fn get_user(c: &aws_sdk_iam::Client, name: &str) -> Result<EntityInfo, Failure> {
        const C: Call = Call::read("iam:GetUser");
        let out = c
            .get_user()
            .user_name(name)
            .send()
            .await
            .map_err(|e| map_sdk_error(e, C))?;
        let u = out.user().ok_or_else(|| Failure::Transient {
            detail: format!("iam:GetUser {name}: the answer carried no user"),
        })?;
        Ok(EntityInfo {
            name: u.user_name().to_string(),
            path: u.path().to_string(),
            arn: u.arn().to_string(),
        })
    }

    pub async fn get_role(c: &aws_sdk_iam::Client, name: &str) -> Result<EntityInfo, Failure> {
        const C: Call = Call::read("iam:GetRole");
        let out = c
            .get_role()
            .role_name(name)
            .send()
            .await
            .map_err(|e| map_sdk_error(e, C))?;
        let r = out.role().ok_or_else(|| Failure::Transient {
            detail: format!("iam:GetRole {name}: the answer carried no role"),
        })?;
        Ok(EntityInfo {
            name: r.role_name().to_string(),
            path: r.path().to_string(),
            arn: r.arn().to_string(),
        })
    }

    /// The inline policy's document (URL-decoded), or `None` when there is no such policy.
    pub async fn get_inline_policy(
        c: &aws_sdk_iam::Client,
        role: bool,
        principal: &str,
        policy: &str,
    ) -> Result<Option<String>, Failure> {
        let res = if role {
            const C: Call = Call::read("iam:GetRolePolicy");
            c.get_role_policy()
                .role_name(principal)
                .policy_name(policy)
                .send()
                .await
                .map(|o| o.policy_document().to_string())
                .map_err(|e| map_sdk_error(e, C))
        } else {
            const C: Call = Call::read("iam:GetUserPolicy");
            c.get_user_policy()
                .user_name(principal)
                .policy_name(policy)
                .send()
                .await
                .map(|o| o.policy_document().to_string())
                .map_err(|e| map_sdk_error(e, C))
        };
        match res {
            Ok(doc) => Ok(Some(decode_policy_document(&doc))),
            // The principal itself exists (it was read first): no such policy.
            Err(Failure::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn put_inline_policy(
        c: &aws_sdk_iam::Client,
        role: bool,
        principal: &str,
        policy: &str,
        document: &str,
    ) -> Result<(), Failure> {
        if role {
            const C: Call = Call::write("iam:PutRolePolicy");
            c.put_role_policy()
                .role_name(principal)
                .policy_name(policy)
                .policy_document(document)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| map_sdk_error(e, C))
        } else {
            const C: Call = Call::write("iam:PutUserPolicy");
            c.put_user_policy()
                .user_name(principal)
                .policy_name(policy)
                .policy_document(document)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| map_sdk_error(e, C))
        }
    }

    /// Deletes the inline policy; `Ok(false)` when there was none (`NoSuchEntity`).
    pub async fn delete_inline_policy(
        c: &aws_sdk_iam::Client,
        role: bool,
        principal: &str,
        policy: &str,
    ) -> Result<bool, Failure> {
        let res = if role {
            const C: Call = Call::write("iam:DeleteRolePolicy");
            c.delete_role_policy()
                .role_name(principal)
                .policy_name(policy)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| map_sdk_error(e, C))
        } else {
            const C: Call = Call::write("iam:DeleteUserPolicy");
            c.delete_user_policy()
                .user_name(principal)
                .policy_name(policy)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| map_sdk_error(e, C))
        };
        match res {
            Ok(()) => Ok(true),
            Err(Failure::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The user owning an access key (`iam:GetAccessKeyLastUsed`); `NotFound` when AWS does not
    /// know the key.
    pub async fn key_owner(c: &aws_sdk_iam::Client, key_id: &str) -> Result<String, Failure> {
        const C: Call = Call::read("iam:GetAccessKeyLastUsed");
        let out = c
            .get_access_key_last_used()
            .access_key_id(key_id)
            .send()
            .await
            .map_err(|e| map_sdk_error(e, C))?;
        match out.user_name() {
            Some(u) if !u.is_empty() => Ok(u.to_string()),
            _ => Err(Failure::NotFound {
                detail: format!("access key {key_id}: AWS reports no owner for it"),
            }),
        }
    }

    /// The key among the user's keys; `NotFound` when the user has no such key.
    pub async fn find_key(
        c: &aws_sdk_iam::Client,
        user: &str,
        key_id: &str,
    ) -> Result<KeyInfo, Failure> {
        const C: Call = Call::read("iam:ListAccessKeys");
        let out = c
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .map_err(|e| map_sdk_error(e, C))?;
        out.access_key_metadata()
            .iter()
            .find(|k| k.access_key_id() == Some(key_id))
            .map(|k| KeyInfo {
                access_key_id: key_id.to_string(),
                user_name: user.to_string(),
                status: k
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            })
            .ok_or_else(|| Failure::NotFound {
                detail: format!("iam:ListAccessKeys: user {user} has no access key {key_id}"),
            })
    }

    pub async fn set_key_status(
        c: &aws_sdk_iam::Client,
        user: &str,
        key_id: &str,
        active: bool,
    ) -> Result<(), Failure> {
        const C: Call = Call::write("iam:UpdateAccessKey");
        c.update_access_key()
            .user_name(user)
            .access_key_id(key_id)
            .status(if active {
                StatusType::Active
            } else {
                StatusType::Inactive
            })
            .send()
            .await
            .map(|_| ())
            .map_err(|e| map_sdk_error(e, C))
    }

    /// `iam:SimulatePrincipalPolicy`: the decision for each action (`allowed`, `implicitDeny`,
    /// `explicitDeny`), as AWS evaluated it.
    pub async fn simulate(
        c: &aws_sdk_iam::Client,
        principal_arn: &str,
        actions: &[&str],
    ) -> Result<Vec<(String, String)>, Failure> {
        const C: Call = Call::read("iam:SimulatePrincipalPolicy");
        let out = c
            .simulate_principal_policy()
            .policy_source_arn(principal_arn)
            .set_action_names(Some(actions.iter().map(|a| a.to_string()).collect()))
            .send()
            .await
            .map_err(|e| map_sdk_error(e, C))?;
        Ok(out
            .evaluation_results()
            .iter()
            .map(|r| {
                (
                    r.eval_action_name().to_string(),
                    r.eval_decision().as_str().to_string(),
                )
            })
            .collect())
    }
}

/// The HTTP client the SDK uses: hyper 1 + rustls (ring) with the platform's root certificates.
/// (The SDK's default one would build aws-lc-rs, a C/cmake build.)
pub fn http_client() -> aws_sdk_iam::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// IAM returns policy documents URL-encoded (RFC 3986); an emulator may not. Decoded when it is.
pub fn decode_policy_document(doc: &str) -> String {
    let trimmed = doc.trim_start();
    if trimmed.starts_with('{') {
        return doc.to_string();
    }
    percent_encoding::percent_decode_str(doc)
        .decode_utf8()
        .map(|s| s.into_owned())
        .unwrap_or_else(|_| doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_documents_are_decoded_when_url_encoded() {
        let raw = r#"{"Version":"2012-10-17"}"#;
        assert_eq!(decode_policy_document(raw), raw);
        assert_eq!(
            decode_policy_document("%7B%22Version%22%3A%222012-10-17%22%7D"),
            raw
        );
    }
}

//! AWS IAM responder (`../shared/cases` C11–C13): deny-all inline policies on IAM users, a
//! session cut-off (`aws:TokenIssueTime`) deny policy on roles, access key deactivation, and
//! their exact reversal, through `aws-sdk-iam` / `aws-sdk-sts`. Targets in other accounts are
//! reached by assuming a role there.
//!
//! ```no_run
//! # async fn f() -> Result<(), cordon_aws_iam::ConfigError> {
//! let cfg = cordon_aws_iam::AwsIamConfig::new("us-east-1");
//! let responder = cordon_aws_iam::IamResponder::new(cfg).await?;
//! # let _ = responder; Ok(()) }
//! ```

pub mod client;
pub mod config;
pub mod error;
pub mod principal;
pub mod responder;

pub use config::{AwsIamConfig, ConfigError, StaticCredentials, Timeouts};
pub use principal::{ROLE_POLICY, USER_POLICY};
pub use responder::{required_permissions, IamResponder};

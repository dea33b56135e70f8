//! HTTP plumbing shared by the vendor clients: one `reqwest` client per vendor with explicit
//! timeouts, and the send/read step every call goes through.

pub mod crowdstrike;
pub mod mde;

use crate::config::{ConfigError, Timeouts};
use crate::error::{self, ApiError, Call};
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::time::Duration;

/// An answer, whatever its status.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

#[derive(Debug, Clone)]
pub(crate) struct Http {
    inner: reqwest::Client,
}

impl Http {
    pub fn new(t: &Timeouts) -> Result<Self, ConfigError> {
        let inner = reqwest::Client::builder()
            .connect_timeout(t.connect())
            .timeout(t.request())
            // Pooled connections die across Lambda freeze/thaw (C17): do not keep them long.
            .pool_idle_timeout(Duration::from_secs(30))
            // A redirect would carry a bearer token somewhere we did not choose.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cordon-endpoint/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::Client(e.to_string()))?;
        Ok(Self { inner })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.inner
    }

    /// Sends and reads the answer; any HTTP status is `Ok`.
    pub async fn send(&self, call: &Call, req: reqwest::RequestBuilder) -> Result<Reply, ApiError> {
        let resp = req.send().await.map_err(|e| error::transport(call, &e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(|e| error::transport(call, &e))?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                let text = String::from_utf8_lossy(&bytes);
                Value::String(text.chars().take(500).collect())
            })
        };
        tracing::debug!(vendor = call.vendor, call = %call.what, status, "vendor call");
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// Sends, and maps any status outside 2xx to a failure.
    pub async fn expect(
        &self,
        call: &Call,
        req: reqwest::RequestBuilder,
    ) -> Result<Reply, ApiError> {
        let reply = self.send(call, req).await?;
        if (200..300).contains(&reply.status) {
            Ok(reply)
        } else {
            Err(error::status(
                call,
                reply.status,
                &reply.headers,
                &reply.body,
            ))
        }
    }
}

/// Joins a base URL and a path with exactly one slash.
pub(crate) fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

//! Access tokens through `azure_identity`: `ClientSecretCredential`, `WorkloadIdentityCredential`
//! (client assertion from a federated token file) and, for certificates,
//! `ClientAssertionCredential` with an assertion this module signs (RS256) from a PEM file.
//!
//! Two things `azure_identity` does not do on its own, handled here without bypassing it:
//! - **Timeouts and retries.** Its default transport has fixed 20 s / 60 s timeouts and retries
//!   on its own. We hand it our transport ([`Transport`]: reqwest with the configured connect
//!   and request timeouts) and no retries: the executor retries with the vendor's delay.
//! - **Custom authority hosts.** It builds the token URL as `authority.join("/{tenant}/…")` and
//!   refuses non-HTTPS authorities, so neither a path prefix (`http://127.0.0.1:PORT/login`) nor
//!   plain HTTP to a local mock can be configured directly. For such an authority the SDK is
//!   given the public-cloud authority and the transport rewrites that prefix to the configured
//!   one; everything else (request form, assertion handling, response parsing, token cache) is
//!   the SDK's. An HTTPS authority without a path is given to the SDK as is.
//!
//! `ClientCertificateCredential` itself needs the `openssl` system library and a PKCS#12 file;
//! signing the assertion in pure Rust keeps the Lambda build free of native TLS and accepts the
//! PEM files operators usually have.

use crate::config::{authority_url, ConfigError, Credential, EntraConfig};
use async_trait::async_trait;
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{
    headers::{HeaderName, HeaderValue, Headers},
    AsyncRawResponse, Body, ClientMethodOptions, ClientOptions, HttpClient, Request, RetryOptions,
};
use azure_identity::{
    ClientAssertion, ClientAssertionCredential, ClientAssertionCredentialOptions,
    ClientSecretCredential, ClientSecretCredentialOptions, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use cordon_core::respond::Failure;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use secrecy::ExposeSecret;
use sha1::Digest as _;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// The authority `azure_identity` is given when the configured one cannot be given as is.
const SDK_AUTHORITY: &str = "https://login.microsoftonline.com";

/// reqwest under `azure_identity`, with our timeouts and an optional authority rewrite.
#[derive(Debug)]
pub(crate) struct Transport {
    client: reqwest::Client,
    /// `(prefix the SDK uses, prefix to send to)`.
    rewrite: Option<(String, String)>,
}

fn io_error(
    kind: azure_core::error::ErrorKind,
    e: impl std::error::Error + Send + Sync + 'static,
    what: &str,
) -> azure_core::Error {
    azure_core::Error::with_error(kind, e, what.to_string())
}

#[async_trait]
impl HttpClient for Transport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        use azure_core::error::ErrorKind;
        let mut url = request.url().to_string();
        if let Some((from, to)) = &self.rewrite {
            if let Some(rest) = url.strip_prefix(from.as_str()) {
                url = format!("{to}{rest}");
            }
        }
        let method = reqwest::Method::from_bytes(request.method().as_str().as_bytes())
            .map_err(|e| io_error(ErrorKind::Other, e, "unsupported HTTP method"))?;
        let mut req = self.client.request(method, &url);
        for (name, value) in request.headers().iter() {
            req = req.header(name.as_str(), value.as_str());
        }
        match request.body() {
            Body::Bytes(b) => req = req.body(b.to_vec()),
            #[allow(unreachable_patterns)]
            _ => {
                return Err(azure_core::Error::with_message(
                    ErrorKind::Other,
                    "streaming request bodies are not supported by this transport",
                ))
            }
        }
        let resp = req.send().await.map_err(|e| {
            let kind = if e.is_connect() {
                ErrorKind::Connection
            } else {
                ErrorKind::Io
            };
            io_error(kind, e, "token request failed")
        })?;
        let status = resp.status().as_u16();
        let headers: HashMap<HeaderName, HeaderValue> = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| {
                v.to_str().ok().map(|v| {
                    (
                        HeaderName::from(k.as_str().to_owned()),
                        HeaderValue::from(v.to_owned()),
                    )
                })
            })
            .collect();
        let body = resp
            .bytes()
            .await
            .map_err(|e| io_error(ErrorKind::Io, e, "reading the token response failed"))?;
        Ok(AsyncRawResponse::from_bytes(
            status.into(),
            Headers::from(headers),
            body,
        ))
    }
}

/// A certificate-signed client assertion (RFC 7523 / Entra "certificate credentials").
struct CertificateAssertion {
    client_id: String,
    /// The token endpoint: the assertion's audience.
    audience: String,
    /// RS256 signing with ring (constant-time RSA, unlike the `rsa` crate: RUSTSEC-2023-0071).
    key: RsaKeyPair,
    rng: SystemRandom,
    header: String,
}

impl fmt::Debug for CertificateAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAssertion")
            .field("client_id", &self.client_id)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// The PEM blocks with this label, base64-decoded.
fn pem_blocks(pem: &str, label: &str) -> Vec<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(i) = rest.find(&begin) {
        let after = &rest[i + begin.len()..];
        let Some(j) = after.find(&end) else { break };
        let b64: String = after[..j].chars().filter(|c| !c.is_whitespace()).collect();
        if let Ok(der) = STANDARD.decode(b64) {
            out.push(der);
        }
        rest = &after[j + end.len()..];
    }
    out
}

/// The first PEM block with this label, base64-decoded (`None` if there is none). A block with
/// RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`, legacy OpenSSL encryption) is refused as encrypted.
fn pem_block(pem: &str, label: &str, what: &str) -> Result<Option<Vec<u8>>, ConfigError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let Some(i) = pem.find(&begin) else {
        return Ok(None);
    };
    let after = &pem[i + begin.len()..];
    let body = after.find(&end).map(|j| &after[..j]).ok_or_else(|| {
        ConfigError::Credential(format!(
            "the {what} private key cannot be read: no END line"
        ))
    })?;
    if body.contains("Proc-Type:") && body.contains("ENCRYPTED") {
        return Err(encrypted_key());
    }
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(b64).map(Some).map_err(|e| {
        ConfigError::Credential(format!(
            "the {what} private key cannot be read: the PEM body is not base64: {e}"
        ))
    })
}

fn encrypted_key() -> ConfigError {
    ConfigError::Credential(
        "the private key is encrypted; give an unencrypted key (keep the file itself secret)"
            .into(),
    )
}

impl CertificateAssertion {
    fn from_pem(
        pem: &str,
        client_id: &str,
        audience: String,
        send_chain: bool,
    ) -> Result<Self, ConfigError> {
        let certs = pem_blocks(pem, "CERTIFICATE");
        let Some(leaf) = certs.first() else {
            return Err(ConfigError::Credential(
                "the PEM file holds no CERTIFICATE block".into(),
            ));
        };
        // ring wants DER: PKCS#8 (`PRIVATE KEY`) or PKCS#1 `RSAPrivateKey` (`RSA PRIVATE KEY`),
        // RSA of 2048 to 4096 bits.
        let unusable = |what: &str, e: ring::error::KeyRejected| {
            ConfigError::Credential(format!(
                "the {what} private key cannot be read: {e} (want an RSA key of 2048 to 4096 bits)"
            ))
        };
        let key = if let Some(der) = pem_block(pem, "PRIVATE KEY", "PKCS#8")? {
            RsaKeyPair::from_pkcs8(&der).map_err(|e| unusable("PKCS#8", e))?
        } else if let Some(der) = pem_block(pem, "RSA PRIVATE KEY", "PKCS#1")? {
            RsaKeyPair::from_der(&der).map_err(|e| unusable("PKCS#1", e))?
        } else if pem.contains("ENCRYPTED PRIVATE KEY") {
            return Err(encrypted_key());
        } else {
            return Err(ConfigError::Credential(
                "the PEM file holds no RSA private key".into(),
            ));
        };
        let thumbprint = URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(leaf));
        let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": thumbprint});
        if send_chain {
            header["x5c"] =
                serde_json::json!(certs.iter().map(|c| STANDARD.encode(c)).collect::<Vec<_>>());
        }
        Ok(Self {
            client_id: client_id.to_string(),
            audience,
            key,
            rng: SystemRandom::new(),
            header: URL_SAFE_NO_PAD.encode(header.to_string()),
        })
    }

    fn sign(&self, now: i64) -> azure_core::Result<String> {
        let jti = {
            let h = sha2::Sha256::digest(format!(
                "{}{now}{:?}",
                self.client_id,
                std::time::SystemTime::now()
            ));
            let h: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
            format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            )
        };
        let claims = serde_json::json!({
            "aud": self.audience, "iss": self.client_id, "sub": self.client_id,
            "jti": jti, "nbf": now, "iat": now, "exp": now + 600,
        });
        let signing_input = format!(
            "{}.{}",
            self.header,
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| {
                azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Credential,
                    "signing the client assertion failed",
                )
            })?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

#[async_trait]
impl ClientAssertion for CertificateAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        self.sign(chrono::Utc::now().timestamp())
    }
}

/// Tokens for one scope, from the configured credential.
pub struct TokenSource {
    credential: Arc<dyn TokenCredential>,
    scope: String,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// Builds the `azure_identity` credential the configuration names. Reads the certificate or
    /// the federated token file now, so a bad file fails at start.
    pub fn from_config(cfg: &EntraConfig) -> Result<Self, ConfigError> {
        let authority = authority_url(&cfg.authority_host)?;
        let authority_str = authority.as_str().trim_end_matches('/').to_string();
        let as_is = authority.scheme() == "https"
            && (authority.path().is_empty() || authority.path() == "/");
        let (sdk_authority, rewrite) = if as_is {
            (authority_str.clone(), None)
        } else {
            (
                SDK_AUTHORITY.to_string(),
                Some((format!("{SDK_AUTHORITY}/"), format!("{authority_str}/"))),
            )
        };
        let client = reqwest::Client::builder()
            .connect_timeout(cfg.timeouts.connect())
            .timeout(cfg.timeouts.request())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::Credential(format!("HTTP client: {e}")))?;
        let transport = Arc::new(Transport { client, rewrite });
        let mut custom = azure_core::cloud::CustomConfiguration::default();
        custom.authority_host = sdk_authority;
        let client_options = ClientOptions {
            transport: Some(azure_core::http::Transport::new(transport)),
            retry: RetryOptions::none(),
            cloud: Some(Arc::new(custom.into())),
            ..Default::default()
        };
        let sdk = |e: azure_core::Error| ConfigError::Credential(e.to_string());
        let credential: Arc<dyn TokenCredential> = match &cfg.credential {
            Credential::ClientSecret { secret } => ClientSecretCredential::new(
                &cfg.tenant_id,
                cfg.client_id.clone(),
                Secret::new(secret.expose_secret().to_string()),
                Some(ClientSecretCredentialOptions { client_options }),
            )
            .map_err(sdk)?,
            Credential::ClientCertificate {
                certificate_path,
                send_certificate_chain,
            } => {
                let pem = std::fs::read_to_string(certificate_path).map_err(|e| {
                    ConfigError::Credential(format!(
                        "cannot read {}: {e}",
                        certificate_path.display()
                    ))
                })?;
                // The audience is the token endpoint as Entra knows it: the configured authority.
                let audience = format!("{authority_str}/{}/oauth2/v2.0/token", cfg.tenant_id);
                let assertion = CertificateAssertion::from_pem(
                    &pem,
                    &cfg.client_id,
                    audience,
                    *send_certificate_chain,
                )?;
                ClientAssertionCredential::new(
                    cfg.tenant_id.clone(),
                    cfg.client_id.clone(),
                    assertion,
                    Some(ClientAssertionCredentialOptions { client_options }),
                )
                .map_err(sdk)?
            }
            Credential::ClientAssertion { token_file } => {
                let path = match token_file {
                    Some(p) => p.clone(),
                    None => std::env::var_os("AZURE_FEDERATED_TOKEN_FILE")
                        .map(Into::into)
                        .ok_or_else(|| {
                            ConfigError::Credential(
                                "client_assertion needs token_file or AZURE_FEDERATED_TOKEN_FILE"
                                    .into(),
                            )
                        })?,
                };
                WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                    credential_options: ClientAssertionCredentialOptions { client_options },
                    client_id: Some(cfg.client_id.clone()),
                    tenant_id: Some(cfg.tenant_id.clone()),
                    token_file_path: Some(path),
                }))
                .map_err(sdk)?
            }
        };
        Ok(Self {
            credential,
            scope: cfg.graph_scope.clone(),
        })
    }

    /// A token for the scope (cached by `azure_identity` until shortly before it expires).
    pub async fn token(&self) -> Result<String, Failure> {
        self.credential
            .get_token(&[self.scope.as_str()], None)
            .await
            .map(|t| t.token.secret().to_string())
            .map_err(|e| token_failure(&e))
    }
}

/// Maps a token failure: refused credentials (`invalid_client`, AADSTS codes) are
/// `Unauthenticated` with the AADSTS code in the detail; throttling and 5xx are retryable;
/// transport errors happen before any mutating call, so they are `Transient`.
fn token_failure(e: &azure_core::Error) -> Failure {
    use azure_core::error::ErrorKind;
    let detail = format!("token request: {}", one_line(&e.to_string()));
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(ae) = err.downcast_ref::<azure_core::Error>() {
            match ae.kind() {
                ErrorKind::HttpResponse {
                    status, error_code, ..
                } => {
                    let code = u16::from(*status);
                    let detail = match error_code {
                        Some(c) if !detail.contains(&format!("AADSTS{c}")) => {
                            format!("AADSTS{c}: {detail}")
                        }
                        _ => detail,
                    };
                    return match code {
                        429 => Failure::RateLimited {
                            retry_after_ms: None,
                            detail,
                        },
                        500..=599 => Failure::Transient { detail },
                        _ => Failure::Unauthenticated { detail },
                    };
                }
                ErrorKind::Connection | ErrorKind::Io => return Failure::Transient { detail },
                _ => {}
            }
        }
        cur = err.source();
    }
    Failure::Unauthenticated { detail }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub use cordon_core::respond::token_roles;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_from_a_jwt() {
        let payload =
            URL_SAFE_NO_PAD.encode(r#"{"roles":["User.Read.All","User.RevokeSessions.All"]}"#);
        assert_eq!(
            token_roles(&format!("h.{payload}.s")).unwrap(),
            vec!["User.Read.All", "User.RevokeSessions.All"]
        );
        assert_eq!(
            token_roles(&format!("h.{}.s", URL_SAFE_NO_PAD.encode("{}"))).unwrap(),
            Vec::<String>::new()
        );
        assert!(token_roles("opaque").is_err());
    }

    #[test]
    fn the_certificate_assertion_is_signed_rs256_with_the_thumbprint() {
        use ring::signature::{KeyPair, UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
        let pem = include_str!("../tests/fixtures/test-only-cert-and-key.pem");
        let a = CertificateAssertion::from_pem(
            pem,
            "client-1",
            "https://login.example/t/oauth2/v2.0/token".into(),
            true,
        )
        .unwrap();
        let jwt = a.sign(1_700_000_000).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        // SHA-1 of the certificate, as `openssl x509 -fingerprint -sha1` prints it.
        let x5t = URL_SAFE_NO_PAD
            .decode(header["x5t"].as_str().unwrap())
            .unwrap();
        let hex: String = x5t.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "175c8b6676ab3ede753be71394036039f452c373");
        assert_eq!(header["x5c"].as_array().unwrap().len(), 1);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "client-1");
        assert_eq!(claims["aud"], "https://login.example/t/oauth2/v2.0/token");
        assert_eq!(claims["exp"], 1_700_000_600);
        let der = pem_block(pem, "PRIVATE KEY", "PKCS#8").unwrap().unwrap();
        let key = RsaKeyPair::from_pkcs8(&der).unwrap();
        let verifying = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public_key());
        verifying
            .verify(
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
            )
            .unwrap();
    }

    #[test]
    fn a_pkcs1_key_signs_the_same_and_encrypted_keys_are_refused() {
        use ring::signature::{KeyPair, UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
        let pkcs8 = include_str!("../tests/fixtures/test-only-cert-and-key.pem");
        let pkcs1 = include_str!("../tests/fixtures/test-only-cert-and-pkcs1-key.pem");
        let a = CertificateAssertion::from_pem(pkcs1, "client-1", "aud".into(), false).unwrap();
        let jwt = a.sign(1_700_000_000).unwrap();
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(input.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert!(header.get("x5c").is_none());
        // The same key as the PKCS#8 fixture.
        let der = pem_block(pkcs8, "PRIVATE KEY", "PKCS#8").unwrap().unwrap();
        let key = RsaKeyPair::from_pkcs8(&der).unwrap();
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public_key())
            .verify(input.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap())
            .unwrap();

        let cert = pkcs8.split("-----BEGIN PRIVATE KEY-----").next().unwrap();
        for key in [
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n",
        ] {
            let e = CertificateAssertion::from_pem(&format!("{cert}{key}"), "c", "aud".into(), false)
                .unwrap_err();
            assert!(e.to_string().contains("the private key is encrypted"), "{e}");
        }
        let e = CertificateAssertion::from_pem(
            &format!("{cert}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            "c",
            "aud".into(),
            false,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("PKCS#8 private key cannot be read"),
            "{e}"
        );
    }

    #[test]
    fn pem_without_a_key_fails_loudly() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let e = CertificateAssertion::from_pem(pem, "c", "aud".into(), false).unwrap_err();
        assert!(e.to_string().contains("no RSA private key"), "{e}");
        let e = CertificateAssertion::from_pem("", "c", "aud".into(), false).unwrap_err();
        assert!(e.to_string().contains("no CERTIFICATE"), "{e}");
    }
}

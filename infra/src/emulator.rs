//! The AWS emulator for tests: one `moto_server` process per test (moto in server mode), on a free
//! 127.0.0.1 port, killed and reaped when dropped.
//!
//! `scripts/setup-moto.sh` installs it. The binary is found through `CORDON_MOTO_SERVER`, else
//! `${CORDON_VENV:-$HOME/.cache/cordon/venv}/bin/moto_server`; when it is missing, [`Moto::start`]
//! fails with an error that says to run the script (a test must fail then, never pass silently).
//!
//! Only `std`: the emulator is spoken to over plain HTTP/1.1 on loopback.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How to start the emulator.
#[derive(Debug, Clone, Copy, Default)]
pub struct MotoOptions {
    /// Enforce IAM (signatures and policies) after this many requests; `None`: never. Sets moto's
    /// `INITIAL_NO_AUTH_ACTION_COUNT`, so the first N calls can set up users and policies
    /// without credentials. [`Moto::enforce_iam_now`] switches it on at any time instead.
    pub enforce_iam_after: Option<u32>,
}

/// A running `moto_server`.
#[derive(Debug)]
pub struct Moto {
    endpoint: String,
    addr: SocketAddr,
    child: Child,
    log: PathBuf,
}

/// How long to wait for the server to answer after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Timeout of one control call to the server.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

impl Moto {
    /// Finds the `moto_server` binary (see the module docs).
    pub fn binary() -> Result<PathBuf, String> {
        locate(
            std::env::var_os("CORDON_MOTO_SERVER"),
            std::env::var_os("CORDON_VENV"),
            std::env::var_os("HOME"),
        )
    }

    /// Starts a new server on a free port and waits until it answers.
    pub fn start(opts: MotoOptions) -> Result<Moto, String> {
        let bin = Self::binary()?;
        // A free port: bind port 0, read it, release it. Another process could take it in
        // between; then the server fails to bind, and we try again with another port.
        let mut last_err = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            match Self::spawn(&bin, port, opts) {
                Ok(m) => return Ok(m),
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }

    fn spawn(bin: &std::path::Path, port: u16, opts: MotoOptions) -> Result<Moto, String> {
        let log =
            std::env::temp_dir().join(format!("cordon-moto-{}-{port}.log", std::process::id()));
        let log_file =
            std::fs::File::create(&log).map_err(|e| format!("create {}: {e}", log.display()))?;
        let log_err = log_file
            .try_clone()
            .map_err(|e| format!("clone log file handle: {e}"))?;
        let mut cmd = Command::new(bin);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_file))
            .stderr(Stdio::from(log_err))
            // Never talk to a real AWS or read the developer's AWS profile.
            .env_remove("AWS_PROFILE")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-1");
        match opts.enforce_iam_after {
            Some(n) => cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", n.to_string()),
            None => cmd.env_remove("INITIAL_NO_AUTH_ACTION_COUNT"),
        };
        let child = cmd
            .spawn()
            .map_err(|e| format!("start {}: {e}", bin.display()))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut moto = Moto {
            endpoint: format!("http://{addr}"),
            addr,
            child,
            log,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!(
                    "moto_server exited ({status}) before answering: {}",
                    moto.log_tail()
                ));
            }
            if let Ok((200, _)) = moto.request("GET", "/moto-api/", "") {
                return Ok(moto);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "moto_server did not answer on {} within {START_TIMEOUT:?}: {}",
                    moto.endpoint,
                    moto.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:PORT`: the endpoint URL for the AWS SDK.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Forgets every resource (users, roles, keys, …) the server holds.
    pub fn reset(&self) -> Result<(), String> {
        self.control("/moto-api/reset", "")
    }

    /// Enforces IAM from the next request on (`/moto-api/reset-auth` with a count of 0).
    pub fn enforce_iam_now(&self) -> Result<(), String> {
        self.control("/moto-api/reset-auth", "0")
    }

    /// The server's output so far (its last 4 KiB), for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(4096);
        let start = (start..text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(text.len());
        text[start..].to_string()
    }

    fn control(&self, path: &str, body: &str) -> Result<(), String> {
        match self.request("POST", path, body)? {
            (200, _) => Ok(()),
            (status, body) => Err(format!("POST {path}: HTTP {status}: {body}")),
        }
    }

    /// One HTTP/1.1 request with `Connection: close`; returns the status and the body.
    fn request(&self, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
        let mut s = TcpStream::connect_timeout(&self.addr, CALL_TIMEOUT)
            .map_err(|e| format!("connect {}: {e}", self.endpoint))?;
        s.set_read_timeout(Some(CALL_TIMEOUT))
            .and_then(|_| s.set_write_timeout(Some(CALL_TIMEOUT)))
            .map_err(|e| format!("set timeouts: {e}"))?;
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        s.write_all(req.as_bytes())
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp)
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let resp = String::from_utf8_lossy(&resp);
        let status = resp
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| format!("{method} {path}: not an HTTP response"))?;
        let body = resp
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((status, body))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn locate(
    moto_server: Option<OsString>,
    venv: Option<OsString>,
    home: Option<OsString>,
) -> Result<PathBuf, String> {
    let path = match (moto_server, venv, home) {
        (Some(p), _, _) if !p.is_empty() => PathBuf::from(p),
        (_, Some(v), _) if !v.is_empty() => PathBuf::from(v).join("bin/moto_server"),
        (_, _, Some(h)) if !h.is_empty() => {
            PathBuf::from(h).join(".cache/cordon/venv/bin/moto_server")
        }
        _ => {
            return Err(
                "HOME is not set: set CORDON_MOTO_SERVER or CORDON_VENV, after running \
                 scripts/setup-moto.sh"
                    .into(),
            )
        }
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "the AWS emulator is not installed: {} does not exist. Run scripts/setup-moto.sh \
             (or set CORDON_MOTO_SERVER to a moto_server binary)",
            path.display()
        ))
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("find a free port: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_resets_and_stops() {
        let moto = Moto::start(MotoOptions::default()).unwrap();
        assert!(moto.endpoint().starts_with("http://127.0.0.1:"));
        moto.reset().unwrap();
        moto.enforce_iam_now().unwrap();
        let addr = moto.addr;
        drop(moto);
        // The process is gone: nothing answers on its port any more.
        assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
    }

    #[test]
    fn a_missing_binary_is_an_error_that_says_what_to_run() {
        // The environment is not changed (tests run in parallel): `locate` takes it as arguments.
        let err = locate(None, Some("/nonexistent/venv".into()), None).unwrap_err();
        assert!(err.contains("/nonexistent/venv/bin/moto_server"), "{err}");
        assert!(err.contains("scripts/setup-moto.sh"), "{err}");
        let err = locate(Some("/nonexistent/moto".into()), None, Some("/root".into())).unwrap_err();
        assert!(err.contains("/nonexistent/moto "), "{err}");
        let err = locate(None, None, Some("/nonexistent-home".into())).unwrap_err();
        assert!(
            err.contains("/nonexistent-home/.cache/cordon/venv/bin/moto_server"),
            "{err}"
        );
    }

    #[test]
    fn iam_is_enforced_after_the_configured_number_of_requests() {
        let moto = Moto::start(MotoOptions {
            enforce_iam_after: Some(1),
        })
        .unwrap();
        // An unsigned IAM query: the first passes, the second is refused once IAM is enforced.
        let q = "Action=ListUsers&Version=2010-05-08";
        let post = |m: &Moto| {
            let mut s = TcpStream::connect(m.addr).unwrap();
            let req = format!(
                "POST / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIAUNKNOWN0000000000/20240101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=00\r\nContent-Length: {}\r\n\r\n{q}",
                m.addr,
                q.len()
            );
            s.write_all(req.as_bytes()).unwrap();
            let mut r = String::new();
            s.read_to_string(&mut r).unwrap();
            r
        };
        assert!(post(&moto).starts_with("HTTP/1.1 200"));
        let refused = post(&moto);
        assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
        assert!(refused.contains("InvalidClientTokenId"), "{refused}");
    }
}

//! `cordon-mockapi --seed FILE [--addr 127.0.0.1:PORT] [--port-file FILE]`: serves the mock vendor
//! APIs until stopped. `--port-file` receives the bound address (use port 0 for any free port).

use std::net::SocketAddr;
use std::path::PathBuf;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let mut seed: Option<PathBuf> = None;
    let mut addr: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut port_file: Option<PathBuf> = None;
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--seed", Some(v)) => seed = Some(PathBuf::from(v)),
            ("--addr", Some(v)) => match v.parse::<SocketAddr>() {
                Ok(x) if x.ip().is_loopback() => addr = x,
                _ => {
                    eprintln!("--addr must be a loopback address, got {v:?}");
                    return std::process::ExitCode::FAILURE;
                }
            },
            ("--port-file", Some(v)) => port_file = Some(PathBuf::from(v)),
            (other, _) => {
                eprintln!("usage: cordon-mockapi --seed FILE [--addr 127.0.0.1:PORT] [--port-file FILE] (unexpected {other:?})");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let seed = match seed.map(std::fs::read_to_string).transpose() {
        Ok(s) => s.unwrap_or_else(|| "{}".to_string()),
        Err(e) => {
            eprintln!("cannot read the seed file: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let server = match cordon_mockapi::MockServer::start_at(addr, &seed).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    eprintln!("cordon-mockapi listening on http://{}", server.addr());
    if let Some(p) = port_file {
        if let Err(e) = std::fs::write(&p, server.addr().to_string()) {
            eprintln!("cannot write {}: {e}", p.display());
            return std::process::ExitCode::FAILURE;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}

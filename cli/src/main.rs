//! `cordon`: the one-machine shape of Cordon, on an embedded store.

mod connectors;
mod enforce;
mod render;
mod replay;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "cordon",
    version,
    about = "Automatic attack disruption: alerts in, incidents and containment out"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse alert payloads (files or folders; JSON, NDJSON or JSON arrays), correlate them into
    /// incidents and show what Cordon would contain, and why.
    Replay(replay::Args),
    /// List the action ledger: every action, its state before, its outcome and its reversal.
    Actions(enforce::ActionsArgs),
    /// Undo an action: restores the state found before it, through the same connector.
    Undo(enforce::UndoArgs),
    /// Check each configured connector's credentials and the permissions its actions need.
    Doctor(enforce::DoctorArgs),
    /// Export or verify the append-only, hash-chained action ledger.
    #[command(subcommand)]
    Ledger(enforce::LedgerCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Replay(args) => replay::run(args).await,
            Command::Actions(args) => enforce::actions(args).await,
            Command::Undo(args) => enforce::undo(args).await,
            Command::Doctor(args) => enforce::doctor(args).await,
            Command::Ledger(cmd) => enforce::ledger(cmd).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Loads the policy: the file given, or the default shipped with Cordon.
pub fn load_policy(path: Option<&PathBuf>) -> Result<cordon_core::policy::Policy> {
    let text = match path {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading policy {}", p.display()))?
        }
        None => cordon_core::policy::DEFAULT_POLICY.to_string(),
    };
    cordon_core::policy::Policy::from_toml(&text).with_context(|| match path {
        Some(p) => format!("policy {}", p.display()),
        None => "built-in default policy".to_string(),
    })
}

//! `cordon replay`: payload files in, incidents and planned containment out.

use anyhow::{Context, Result};
use cordon_core::engine::{Engine, Stores};
use cordon_core::{Alert, Quarantined};
use cordon_infra::SqliteStore;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// Payload files or folders (walked recursively, in name order).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Keep state in this embedded store file between runs (default: in memory, this run only).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Machine-readable output on stdout.
    #[arg(long)]
    json: bool,
    /// Disruption policy file (default: the built-in policy/default.toml).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Execute the planned actions through the configured connectors (the policy's default
    /// mode becomes enforce; per-action `[modes]` overrides still apply). Needs `--db`, so the
    /// ledger and undo outlive the run.
    #[arg(long)]
    enforce: bool,
    /// Connector configuration (default: cordon.toml if present, else $CORDON_CONFIG).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// One quarantined payload, as reported.
#[derive(Debug, Serialize)]
pub struct QuarantineReport {
    pub file: String,
    /// Record within the file (1-based line for NDJSON, element for arrays), when not whole-file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    pub reason: String,
}

/// Everything a replay did.
#[derive(Debug, Serialize)]
pub struct Report {
    pub files: usize,
    pub records: usize,
    pub alerts_parsed: usize,
    pub alerts_stored: usize,
    pub duplicates: usize,
    pub quarantined: Vec<QuarantineReport>,
    pub incidents_created: usize,
    pub incidents_updated: usize,
    pub actions_planned: usize,
    pub mode: cordon_core::action::Mode,
    pub threshold: f64,
    pub incidents: Vec<cordon_core::decide::Incident>,
    /// In enforce mode: what happened to each action, as the ledger records it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub executed: Vec<crate::enforce::ActionLine>,
}

pub async fn run(args: Args) -> Result<()> {
    let mut policy = crate::load_policy(args.policy.as_ref())?;
    if args.enforce {
        if args.db.is_none() {
            anyhow::bail!(
                "--enforce needs --db FILE: the action ledger (and undo) must outlive the run"
            );
        }
        policy.mode = cordon_core::action::Mode::Enforce;
    }
    let config = crate::connectors::Config::load(args.config.as_deref())?;
    let store = Arc::new(match &args.db {
        Some(p) => {
            SqliteStore::open(p).with_context(|| format!("opening store {}", p.display()))?
        }
        None => SqliteStore::in_memory().context("opening in-memory store")?,
    });
    let files = collect_files(&args.paths)?;
    let mut report = replay(policy, store.clone(), &files).await?;
    if policy_enforces(&report) {
        let ex = crate::enforce::executor(store, &config).await?;
        let planned: Vec<_> = report
            .incidents
            .iter()
            .flat_map(|i| i.planned_actions.iter().cloned())
            .collect();
        let records = crate::enforce::execute_all(&ex, &planned).await?;
        report.executed = records.iter().map(crate::enforce::describe).collect();
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", crate::render::human(&report));
    }
    Ok(())
}

fn policy_enforces(r: &Report) -> bool {
    r.incidents
        .iter()
        .flat_map(|i| &i.planned_actions)
        .any(cordon_core::ledger::runnable)
}

/// Replays `files` into the store and correlates everything the store holds.
pub async fn replay(
    policy: cordon_core::policy::Policy,
    store: Arc<SqliteStore>,
    files: &[PathBuf],
) -> Result<Report> {
    let (mode, threshold) = (policy.mode, policy.threshold);
    let engine = Engine::new(
        policy,
        Stores {
            alerts: store.clone(),
            incidents: store.clone(),
            plans: store.clone(),
        },
    );
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let bar = progress(files.len(), total);
    let mut alerts: Vec<Alert> = Vec::new();
    let mut quarantined = Vec::new();
    let mut records = 0usize;
    for file in files {
        bar.set_message(file.display().to_string());
        let shown = file.display().to_string();
        match std::fs::read(file) {
            Err(e) => quarantined.push(QuarantineReport {
                file: shown,
                record: None,
                reason: format!("cannot read: {e}"),
            }),
            Ok(bytes) => {
                bar.inc(bytes.len() as u64);
                // Built once per file, however many of its records are quarantined.
                let mut payload: Option<String> = None;
                for rec in cordon_siem::parse_bytes(&bytes) {
                    records += 1;
                    match rec.result {
                        Ok(mut parsed) => alerts.append(&mut parsed),
                        Err(err) => {
                            let position = (!rec.origin.is_empty()).then_some(rec.origin);
                            let q = Quarantined {
                                origin: match &position {
                                    Some(p) => format!("{shown} {p}"),
                                    None => shown.clone(),
                                },
                                reason: err.to_string(),
                                payload: payload
                                    .get_or_insert_with(|| quarantine_payload(&bytes))
                                    .clone(),
                            };
                            engine.stores.alerts.quarantine(&q).await?;
                            quarantined.push(QuarantineReport {
                                file: shown.clone(),
                                record: position,
                                reason: q.reason,
                            });
                        }
                    }
                }
            }
        }
    }
    bar.finish_and_clear();
    let alerts_parsed = alerts.len();
    let ingested = engine.ingest(&alerts).await?;
    let correlated = engine.correlate().await?;
    Ok(Report {
        files: files.len(),
        records,
        alerts_parsed,
        alerts_stored: ingested.stored,
        duplicates: ingested.duplicates,
        quarantined,
        incidents_created: correlated.incidents_created,
        incidents_updated: correlated.incidents_updated,
        actions_planned: correlated.actions_planned,
        mode,
        threshold,
        incidents: correlated.incidents,
        executed: Vec::new(),
    })
}

/// The payload kept with a quarantine entry: the file as received, up to 1 MiB (the file itself
/// stays where it was; the entry says which it is).
fn quarantine_payload(bytes: &[u8]) -> String {
    const MAX: usize = 1 << 20;
    let cut = &bytes[..bytes.len().min(MAX)];
    let mut s = String::from_utf8_lossy(cut).into_owned();
    if bytes.len() > MAX {
        s.push_str(&format!("\n… ({} bytes more)", bytes.len() - MAX));
    }
    s
}

fn progress(files: usize, bytes: u64) -> ProgressBar {
    // Only for long inputs (many files or many megabytes), only on a terminal: indicatif draws
    // nothing when stderr is not one.
    if files < 50 && bytes < 8 << 20 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(bytes), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {wide_msg}")
    {
        bar.set_style(style);
    }
    bar
}

/// Expands folders (recursively, sorted by name) into files.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out).with_context(|| format!("reading {}", p.display()))?;
    }
    Ok(out)
}

fn walk(p: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::metadata(p)?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            walk(&e, out)?;
        }
    } else {
        out.push(p.to_path_buf());
    }
    Ok(())
}

//! Enforce mode, the ledger and undo: `cordon replay --enforce`, `cordon actions`,
//! `cordon undo`, `cordon doctor`.

use crate::connectors;
use anyhow::{bail, Context, Result};
use async_trait::async_trait;
use cordon_core::action::PlannedAction;
use cordon_core::execute::{Executor, RetryPolicy, Sleeper, SystemClock};
use cordon_core::ledger::{current, ActionLedger, ActionRecord, ActionStatus};
use cordon_core::respond::{Done, Failure, Verification};
use cordon_infra::SqliteStore;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Real waiting, for the executor's retries.
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

pub async fn executor(store: Arc<SqliteStore>, config: &connectors::Config) -> Result<Executor> {
    Ok(Executor {
        ledger: store,
        responders: connectors::build(config).await?,
        clock: Arc::new(SystemClock),
        sleeper: Arc::new(TokioSleeper),
        retry: config.retry.unwrap_or_default().into(),
    })
}

/// Runs every runnable planned action through the executor, in order. One action's failure is
/// recorded and the others still run.
pub async fn execute_all(ex: &Executor, actions: &[PlannedAction]) -> Result<Vec<ActionRecord>> {
    let mut out = Vec::with_capacity(actions.len());
    for a in actions {
        let rec = ex
            .execute(a)
            .await
            .with_context(|| format!("recording action {}", a.id))?;
        out.push(rec);
    }
    Ok(out)
}

/// One line of `cordon actions`.
#[derive(Debug, Serialize)]
pub struct ActionLine {
    pub id: String,
    pub incident_id: String,
    pub kind: String,
    pub target: String,
    pub mode: String,
    pub status: ActionStatus,
    pub attempts: u32,
    pub updated_at: String,
    pub detail: String,
    pub prior: Option<String>,
}

pub fn describe(r: &ActionRecord) -> ActionLine {
    let detail = match (
        &r.status,
        &r.last_failure,
        &r.applied,
        &r.verification,
        &r.reverted,
        &r.reason,
    ) {
        (ActionStatus::Reverted, _, _, _, Some(d), _) => done_detail(d),
        (_, _, _, _, _, Some(reason)) => reason.clone(),
        (ActionStatus::Failed | ActionStatus::Unknown, Some(f), _, _, _, _) => failure_detail(f),
        (_, _, _, Some(v), _, _) => match v {
            Verification::Effective { detail }
            | Verification::NotYet { detail }
            | Verification::NotEffective { detail } => detail.clone(),
        },
        (_, _, Some(d), _, _, _) => done_detail(d),
        (_, Some(f), _, _, _, _) => failure_detail(f),
        _ => String::new(),
    };
    ActionLine {
        id: r.action.id.clone(),
        incident_id: r.action.incident_id.clone(),
        kind: r.action.kind.to_string(),
        target: r.action.target.to_string(),
        mode: format!("{:?}", r.action.mode).to_lowercase(),
        status: r.status,
        attempts: r.attempts,
        updated_at: r.updated_at.format("%Y-%m-%d %H:%M:%SZ").to_string(),
        detail,
        prior: r.prior.as_ref().map(|p| p.summary.clone()),
    }
}

fn done_detail(d: &Done) -> String {
    match d {
        Done::Applied { detail, .. }
        | Done::AlreadyInState { detail }
        | Done::Pending { detail, .. } => detail.clone(),
    }
}

fn failure_detail(f: &Failure) -> String {
    f.to_string()
}

pub fn print_actions(lines: &[ActionLine]) {
    if lines.is_empty() {
        println!("No actions in the ledger.");
        return;
    }
    for l in lines {
        println!(
            "{}  {:<13} {:<22} {}  [{}; incident {}; {} attempt(s); {}]",
            l.id,
            format!("{:?}", l.status).to_lowercase(),
            l.kind,
            l.target,
            l.mode,
            l.incident_id,
            l.attempts,
            l.updated_at
        );
        if let Some(p) = &l.prior {
            println!("      state before: {p}");
        }
        if !l.detail.is_empty() {
            println!("      {}", l.detail);
        }
    }
}

#[derive(clap::Args)]
pub struct ActionsArgs {
    /// The store file `cordon replay --db` wrote.
    #[arg(long)]
    db: PathBuf,
    #[arg(long)]
    json: bool,
}

pub async fn actions(args: ActionsArgs) -> Result<()> {
    let store = open_existing(&args.db)?;
    let lines: Vec<ActionLine> = current(&store.entries().await?)
        .iter()
        .map(describe)
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&lines)?);
    } else {
        print_actions(&lines);
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct UndoArgs {
    /// The action to undo (as `cordon actions` lists it).
    action_id: String,
    #[arg(long)]
    db: PathBuf,
    /// Connector configuration (default: cordon.toml if present, else $CORDON_CONFIG).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Who asked, for the ledger (default: $USER).
    #[arg(long)]
    by: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn undo(args: UndoArgs) -> Result<()> {
    let store = Arc::new(open_existing(&args.db)?);
    let config = connectors::Config::load(args.config.as_deref())?;
    let ex = executor(store.clone(), &config).await?;
    let by = args
        .by
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into());
    let rec = ex
        .undo(&args.action_id, &by)
        .await
        .with_context(|| format!("undo in {}", args.db.display()))?;
    let line = describe(&rec);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&line)?);
    } else {
        print_actions(std::slice::from_ref(&line));
    }
    match rec.status {
        ActionStatus::Reverted | ActionStatus::UndoKept => Ok(()),
        ActionStatus::Reverting => {
            eprintln!(
                "undo of {} accepted by the vendor, not in effect yet; `cordon undo {}` again re-checks it",
                args.action_id, args.action_id
            );
            Ok(())
        }
        other => bail!(
            "undo of {} did not complete: it is {other:?}",
            args.action_id
        ),
    }
}

#[derive(clap::Args)]
pub struct DoctorArgs {
    /// Connector configuration (default: cordon.toml if present, else $CORDON_CONFIG).
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub async fn doctor(args: DoctorArgs) -> Result<()> {
    let config = connectors::Config::load(args.config.as_deref())?;
    let responders = connectors::build(&config).await?;
    if responders.is_empty() {
        bail!("no connector is configured: nothing to check (see cordon.example.toml)");
    }
    let mut reports = Vec::new();
    for r in &responders {
        reports.push(r.check().await);
    }
    let healthy = reports
        .iter()
        .all(|r| r.authenticated && r.checked && r.gaps.is_empty());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for r in &reports {
            let verdict = match (r.authenticated, r.checked, r.gaps.is_empty()) {
                (false, _, _) => "CANNOT AUTHENTICATE",
                (true, false, _) => "authenticated; permissions NOT CHECKED",
                (true, true, true) => "ok",
                (true, true, false) => "PERMISSIONS MISSING",
            };
            println!("{}: {verdict}", r.connector);
            if !r.detail.is_empty() {
                println!("   {}", r.detail);
            }
            if !r.granted.is_empty() {
                println!("   granted: {}", r.granted.join(", "));
            }
            for g in &r.gaps {
                println!("   {} needs: {}", g.action, g.missing.join(", "));
            }
        }
    }
    if healthy {
        Ok(())
    } else {
        bail!("some connectors cannot do (or could not be shown to do) everything their actions need; see above")
    }
}

pub fn open_existing(db: &std::path::Path) -> Result<SqliteStore> {
    if !db.exists() {
        bail!(
            "{} does not exist (run `cordon replay --db {}` first)",
            db.display(),
            db.display()
        );
    }
    SqliteStore::open(db).with_context(|| format!("opening {}", db.display()))
}

/// Retry settings in the config file.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySettings {
    pub max_attempts: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    pub verify_attempts: u32,
    pub verify_delay_ms: u64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        let d = RetryPolicy::default();
        Self {
            max_attempts: d.max_attempts,
            base_delay_ms: d.base_delay.as_millis() as u64,
            max_delay_ms: d.max_delay.as_millis() as u64,
            verify_attempts: d.verify_attempts,
            verify_delay_ms: d.verify_delay.as_millis() as u64,
        }
    }
}

impl From<RetrySettings> for RetryPolicy {
    fn from(s: RetrySettings) -> Self {
        RetryPolicy {
            max_attempts: s.max_attempts.max(1),
            base_delay: Duration::from_millis(s.base_delay_ms),
            max_delay: Duration::from_millis(s.max_delay_ms),
            verify_attempts: s.verify_attempts.max(1),
            verify_delay: Duration::from_millis(s.verify_delay_ms),
        }
    }
}

#[derive(clap::Subcommand)]
pub enum LedgerCommand {
    /// Write the whole ledger as NDJSON (seq, action, time, event, hash chain).
    Export {
        #[arg(long)]
        db: PathBuf,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Re-compute the hash chain of a store's ledger, or of an export file, and say where it
    /// breaks. Keep the printed head hash elsewhere: a later rewrite no longer passes through it.
    Verify {
        #[arg(long, conflicts_with = "file")]
        db: Option<PathBuf>,
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

pub async fn ledger(cmd: LedgerCommand) -> Result<()> {
    match cmd {
        LedgerCommand::Export { db, out } => {
            let store = open_existing(&db)?;
            let n = match out {
                Some(p) => {
                    let f = std::fs::File::create(&p)
                        .with_context(|| format!("creating {}", p.display()))?;
                    store.export_ledger(std::io::BufWriter::new(f))?
                }
                None => store.export_ledger(std::io::stdout().lock())?,
            };
            eprintln!("exported {n} ledger entries");
            Ok(())
        }
        LedgerCommand::Verify { db, file } => {
            let v = match (db, file) {
                (Some(db), None) => open_existing(&db)?.verify_ledger()?,
                (None, Some(f)) => {
                    let r = std::fs::File::open(&f)
                        .with_context(|| format!("opening {}", f.display()))?;
                    cordon_infra::sqlite::verify_export(std::io::BufReader::new(r))?
                }
                _ => bail!("give --db FILE or --file EXPORT"),
            };
            match &v.broken {
                None => {
                    println!(
                        "ledger intact: {} entries, head {}",
                        v.rows,
                        v.head.as_deref().unwrap_or("(empty)")
                    );
                    Ok(())
                }
                Some(b) => bail!(
                    "ledger chain broken at entry {}: {} ({} entries read)",
                    b.seq,
                    b.reason,
                    v.rows
                ),
            }
        }
    }
}

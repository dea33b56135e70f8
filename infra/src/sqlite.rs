//! The embedded store: one SQLite file holding alerts, quarantine, incidents, planned actions and
//! the action ledger, for the one-machine mode (`cordon replay`, `cordon serve`).
//!
//! Records are stored as their serde JSON, next to the few columns that are keys or indexes.
//! Every write that must happen once is a conditional insert (`ON CONFLICT DO NOTHING`), so two
//! deliveries of the same alert — from two tasks or two processes on the same file — store it
//! once. rusqlite is synchronous: the connection sits behind a `std::sync::Mutex` and the async
//! port methods lock it and run; statements are short, which is fine for one local process.
//!
//! The action ledger is append-only twice over: triggers refuse to change or remove its rows,
//! even to raw SQL, and each row carries a hash chained to the row before it, so a rewrite made
//! after dropping the triggers is found by [`SqliteStore::verify_ledger`], and by
//! [`verify_export`] in an export written by [`SqliteStore::export_ledger`].
//!
//! The chain: rows are numbered 1, 2, 3, … with no gaps, and row `n`'s hash is
//! `hex(sha256(ns(prev_hash) ns(seq) ns(action_id) ns(at) ns(event)))`, where `prev_hash` is
//! row `n-1`'s hash (empty for row 1), `seq` is in decimal, `at` is the stored RFC 3339 time
//! (UTC, nanoseconds, `Z`), `event` is the event's canonical JSON (compact, object keys sorted
//! by their UTF-8 bytes, numbers as serde_json writes them: `2.5e-8`, not `2.5e-08`), and
//! `ns(x)` is the netstring `<byte length of x>:<x>,`, so no two different rows hash the same
//! input. The chain proves what is on it, not that nothing was
//! cut from its end or rewritten from some row on with fresh hashes: for that, keep the head
//! hash a verification reports somewhere else (a ticket, a log) and compare.

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use cordon_core::action::{PlanStatus, PlannedAction};
use cordon_core::alert::{Alert, Quarantined};
use cordon_core::decide::Incident;
use cordon_core::ledger::{ActionLedger, LedgerEntry, LedgerEvent};
use cordon_core::store::{ActionPlanStore, AlertStore, IncidentStore, StoreError, Written};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde::de::DeserializeOwned;
use sha2::Digest;
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// How long a writer waits for another connection's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Schema migrations, in order. Migration `i` takes the file from `user_version = i` to `i + 1`.
/// Append only: a released migration is never edited, a change is a new entry.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE alerts (
         dedup_key      TEXT PRIMARY KEY NOT NULL,
         source         TEXT NOT NULL,
         source_id      TEXT NOT NULL,
         source_updated TEXT,
         stored_at      TEXT NOT NULL,
         json           TEXT NOT NULL
     );
     CREATE INDEX alerts_by_identity ON alerts (source, source_id);
     CREATE TABLE quarantine (
         key       TEXT PRIMARY KEY NOT NULL,
         origin    TEXT NOT NULL,
         reason    TEXT NOT NULL,
         payload   TEXT NOT NULL,
         stored_at TEXT NOT NULL
     );
     CREATE TABLE incidents (
         id         TEXT PRIMARY KEY NOT NULL,
         json       TEXT NOT NULL,
         updated_at TEXT NOT NULL
     );
     CREATE TABLE planned_actions (
         idempotency_key TEXT PRIMARY KEY NOT NULL,
         id              TEXT NOT NULL,
         incident_id     TEXT NOT NULL,
         kind            TEXT NOT NULL,
         status          TEXT NOT NULL,
         json            TEXT NOT NULL,
         created_at      TEXT NOT NULL
     );
     CREATE INDEX planned_actions_by_incident ON planned_actions (incident_id);",
    // 2: the action ledger. `ledger_actions` maps an idempotency key to the action recorded under
    // it; `ledger` is the append-only history, hash-chained (see `chain_hash`). Triggers refuse
    // to change or remove a row, also to raw SQL: `INSERT OR REPLACE` would remove one without
    // firing a delete trigger, so an insert over an existing row is refused (`ledger`) or
    // ignored like the conditional insert it duplicates (`ledger_actions`).
    "CREATE TABLE ledger_actions (
         idempotency_key TEXT PRIMARY KEY NOT NULL,
         action_id       TEXT UNIQUE NOT NULL,
         incident_id     TEXT NOT NULL,
         kind            TEXT NOT NULL,
         target          TEXT NOT NULL,
         recorded_at     TEXT NOT NULL
     );
     CREATE TABLE ledger (
         seq       INTEGER PRIMARY KEY AUTOINCREMENT,
         action_id TEXT NOT NULL,
         at        TEXT NOT NULL,
         event     TEXT NOT NULL,
         prev_hash TEXT,
         hash      TEXT NOT NULL
     );
     CREATE INDEX ledger_by_action ON ledger (action_id, seq);
     CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
     BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: its rows cannot be changed'); END;
     CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
     BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: its rows cannot be deleted'); END;
     CREATE TRIGGER ledger_no_replace BEFORE INSERT ON ledger
     WHEN EXISTS (SELECT 1 FROM ledger WHERE seq = NEW.seq)
     BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: its rows cannot be replaced'); END;
     CREATE TRIGGER ledger_actions_no_update BEFORE UPDATE ON ledger_actions
     BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: recorded actions cannot be changed'); END;
     CREATE TRIGGER ledger_actions_no_delete BEFORE DELETE ON ledger_actions
     BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: recorded actions cannot be deleted'); END;
     CREATE TRIGGER ledger_actions_once BEFORE INSERT ON ledger_actions
     WHEN EXISTS (SELECT 1 FROM ledger_actions WHERE idempotency_key = NEW.idempotency_key)
     BEGIN SELECT RAISE(IGNORE); END;
     CREATE TRIGGER ledger_actions_one_key_per_id BEFORE INSERT ON ledger_actions
     WHEN EXISTS (SELECT 1 FROM ledger_actions
                  WHERE action_id = NEW.action_id AND idempotency_key <> NEW.idempotency_key)
     BEGIN SELECT RAISE(ABORT, 'this action id is already recorded under another key'); END;",
];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The embedded store. Implements [`AlertStore`], [`IncidentStore`], [`ActionPlanStore`] and
/// [`ActionLedger`].
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store file at `path`, in WAL mode so readers in other
    /// processes do not block the writer, and brings its schema up to [`SCHEMA_VERSION`].
    /// Fails with `Unavailable` when the file cannot be opened or was written by a newer build.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let ctx = |what: &str| format!("{what} {}", path.display());
        let conn = Connection::open(path).map_err(unavailable(&ctx("opening")))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(unavailable(&ctx("setting busy timeout on")))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(unavailable(&ctx("enabling WAL on")))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable(format!(
                "{}: journal mode is {mode}, WAL is required",
                path.display()
            )));
        }
        // FULL: a commit is on disk before the caller acknowledges the alert, so an accepted
        // alert survives a power cut too (NORMAL would be ~5x faster per single commit).
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(unavailable(&ctx("setting synchronous on")))?;
        Self::init(conn, &path.display().to_string())
    }

    /// A store that lives in memory and ends with it: for tests and dry runs.
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(unavailable("opening in-memory store"))?;
        Self::init(conn, ":memory:")
    }

    fn init(mut conn: Connection, name: &str) -> Result<Self, StoreError> {
        migrate(&mut conn, name)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let conn = self.lock()?;
        user_version(&conn).map_err(unavailable("reading schema version"))
    }

    /// Stores many alerts in one transaction (replay of a large export). Each entry of the
    /// result says whether that alert was stored by this call, as [`AlertStore::put_alert`]
    /// would; a duplicate later in the same batch is `false`. All or nothing: on error no alert
    /// of the batch is stored.
    pub fn put_alerts_blocking(&self, alerts: &[Alert]) -> Result<Vec<bool>, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable("starting alert batch"))?;
        let now = now();
        let stored = alerts
            .iter()
            .map(|alert| insert_alert(&tx, alert, &now))
            .collect::<Result<Vec<bool>, StoreError>>()?;
        tx.commit().map_err(unavailable("committing alert batch"))?;
        Ok(stored)
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| {
            StoreError::Unavailable(
                "sqlite connection lock poisoned: a writer panicked mid-operation".into(),
            )
        })
    }
}

fn migrate(conn: &mut Connection, name: &str) -> Result<(), StoreError> {
    // IMMEDIATE: two processes opening a new file at once migrate it once, one after the other.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(unavailable(&format!("starting migration of {name}")))?;
    let found =
        user_version(&tx).map_err(unavailable(&format!("reading schema version of {name}")))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::Unavailable(format!(
            "{name} has schema version {found}, newer than this build understands ({SCHEMA_VERSION}); \
             upgrade cordon"
        )));
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        tx.execute_batch(sql).map_err(unavailable(&format!(
            "migrating {name} to schema version {}",
            i + 1
        )))?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(unavailable(&format!("setting schema version of {name}")))?;
    tx.commit()
        .map_err(unavailable(&format!("committing migration of {name}")))
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Maps a SQLite error to `Unavailable`, saying what was being done.
fn unavailable(context: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| StoreError::Unavailable(format!("sqlite: {context}: {e}"))
}

/// A sortable UTC timestamp (fixed width, so text order is time order).
fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn encode<T: serde::Serialize>(what: &str, key: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Unavailable(format!("cannot encode {what} {key}: {e}")))
}

fn insert_alert(conn: &Connection, alert: &Alert, now: &str) -> Result<bool, StoreError> {
    let key = alert.dedup_key();
    let json = encode("alert", &key, alert)?;
    let updated = alert
        .source_updated
        .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true));
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO alerts (dedup_key, source, source_id, source_updated, stored_at, json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (dedup_key) DO NOTHING",
        )
        .map_err(unavailable("preparing alert insert"))?;
    let n = stmt
        .execute(params![
            key,
            alert.source.as_str(),
            alert.source_id,
            updated,
            now,
            json
        ])
        .map_err(unavailable(&format!("storing alert {key}")))?;
    Ok(n == 1)
}

/// Reads `(key, json)` from a row and decodes the JSON; anything unreadable is `Corrupt`.
/// `key_of` gives the key the decoded record says it has, which must be the row's key.
fn decode_row<T: DeserializeOwned>(
    table: &str,
    row: &Row<'_>,
    key_of: impl Fn(&T) -> String,
) -> Result<T, StoreError> {
    let key: String = match row.get_ref(0) {
        Ok(ValueRef::Text(b)) => String::from_utf8_lossy(b).into_owned(),
        Ok(other) => format!("{other:?}"),
        Err(e) => {
            return Err(StoreError::Unavailable(format!(
                "sqlite: reading {table} key: {e}"
            )))
        }
    };
    let corrupt = |detail: String| StoreError::Corrupt {
        key: format!("{table}/{key}"),
        detail,
    };
    let json = match row.get_ref(1) {
        Ok(ValueRef::Text(b)) => {
            std::str::from_utf8(b).map_err(|e| corrupt(format!("stored JSON is not UTF-8: {e}")))?
        }
        Ok(other) => {
            return Err(corrupt(format!(
                "stored JSON is a {:?}, not text",
                other.data_type()
            )))
        }
        Err(e) => {
            return Err(StoreError::Unavailable(format!(
                "sqlite: reading {table}/{key}: {e}"
            )))
        }
    };
    let value: T = serde_json::from_str(json).map_err(|e| corrupt(e.to_string()))?;
    let claimed = key_of(&value);
    if claimed != key {
        return Err(corrupt(format!(
            "the stored record says its key is {claimed}"
        )));
    }
    Ok(value)
}

/// Runs a `SELECT key, json …` and decodes every row.
fn select_all<T: DeserializeOwned>(
    conn: &Connection,
    table: &str,
    sql: &str,
    key_of: impl Fn(&T) -> String,
) -> Result<Vec<T>, StoreError> {
    let ctx = format!("reading {table}");
    let mut stmt = conn.prepare_cached(sql).map_err(unavailable(&ctx))?;
    let mut rows = stmt.query([]).map_err(unavailable(&ctx))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(unavailable(&ctx))? {
        out.push(decode_row(table, row, &key_of)?);
    }
    Ok(out)
}

#[async_trait]
impl AlertStore for SqliteStore {
    async fn put_alert(&self, alert: &Alert) -> Result<bool, StoreError> {
        let conn = self.lock()?;
        insert_alert(&conn, alert, &now())
    }

    /// One transaction for the whole batch (see [`SqliteStore::put_alerts_blocking`]).
    async fn put_alerts(&self, alerts: &[Alert]) -> Result<Vec<bool>, StoreError> {
        self.put_alerts_blocking(alerts)
    }

    async fn alerts(&self) -> Result<Vec<Alert>, StoreError> {
        let conn = self.lock()?;
        select_all(
            &conn,
            "alerts",
            "SELECT dedup_key, json FROM alerts ORDER BY rowid",
            Alert::dedup_key,
        )
    }

    async fn quarantine(&self, item: &Quarantined) -> Result<bool, StoreError> {
        let conn = self.lock()?;
        let key = item.key();
        let n = conn
            .prepare_cached(
                "INSERT INTO quarantine (key, origin, reason, payload, stored_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (key) DO NOTHING",
            )
            .and_then(|mut s| {
                s.execute(params![key, item.origin, item.reason, item.payload, now()])
            })
            .map_err(unavailable(&format!("quarantining {key}")))?;
        Ok(n == 1)
    }

    async fn quarantined(&self) -> Result<Vec<Quarantined>, StoreError> {
        let conn = self.lock()?;
        let ctx = "reading quarantine";
        let mut stmt = conn
            .prepare_cached("SELECT key, origin, reason, payload FROM quarantine ORDER BY rowid")
            .map_err(unavailable(ctx))?;
        let mut rows = stmt.query([]).map_err(unavailable(ctx))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(unavailable(ctx))? {
            let key: String = row.get(0).map_err(unavailable(ctx))?;
            let text = |i: usize| -> Result<String, StoreError> {
                row.get(i).map_err(|e| StoreError::Corrupt {
                    key: format!("quarantine/{key}"),
                    detail: e.to_string(),
                })
            };
            out.push(Quarantined {
                origin: text(1)?,
                reason: text(2)?,
                payload: text(3)?,
            });
        }
        Ok(out)
    }
}

#[async_trait]
impl IncidentStore for SqliteStore {
    async fn put_incident(&self, incident: &Incident) -> Result<Written, StoreError> {
        let mut conn = self.lock()?;
        let id = &incident.id;
        let json = encode("incident", id, incident)?;
        let ctx = format!("storing incident {id}");
        // IMMEDIATE: the read and the write are one step, also against other processes.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable(&ctx))?;
        let stored: Option<String> = tx
            .query_row("SELECT json FROM incidents WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(unavailable(&ctx))?;
        let written = match stored {
            Some(s) if s == json => return Ok(Written::Unchanged),
            Some(_) => {
                tx.execute(
                    "UPDATE incidents SET json = ?2, updated_at = ?3 WHERE id = ?1",
                    params![id, json, now()],
                )
                .map_err(unavailable(&ctx))?;
                Written::Updated
            }
            None => {
                tx.execute(
                    "INSERT INTO incidents (id, json, updated_at) VALUES (?1, ?2, ?3)",
                    params![id, json, now()],
                )
                .map_err(unavailable(&ctx))?;
                Written::Created
            }
        };
        tx.commit().map_err(unavailable(&ctx))?;
        Ok(written)
    }

    async fn remove_incident(&self, id: &str) -> Result<bool, StoreError> {
        let conn = self.lock()?;
        let n = conn
            .execute("DELETE FROM incidents WHERE id = ?1", [id])
            .map_err(unavailable(&format!("removing incident {id}")))?;
        Ok(n > 0)
    }

    async fn incidents(&self) -> Result<Vec<Incident>, StoreError> {
        let conn = self.lock()?;
        select_all(
            &conn,
            "incidents",
            "SELECT id, json FROM incidents ORDER BY id",
            |i: &Incident| i.id.clone(),
        )
    }

    async fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let conn = self.lock()?;
        let ctx = format!("reading incident {id}");
        let mut stmt = conn
            .prepare_cached("SELECT id, json FROM incidents WHERE id = ?1")
            .map_err(unavailable(&ctx))?;
        let mut rows = stmt.query([id]).map_err(unavailable(&ctx))?;
        match rows.next().map_err(unavailable(&ctx))? {
            Some(row) => decode_row("incidents", row, |i: &Incident| i.id.clone()).map(Some),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl ActionPlanStore for SqliteStore {
    async fn put_planned(&self, action: &PlannedAction) -> Result<bool, StoreError> {
        let conn = self.lock()?;
        let key = &action.idempotency_key;
        let json = encode("planned action", key, action)?;
        let status = match &action.status {
            PlanStatus::Planned => "planned",
            PlanStatus::Skipped(_) => "skipped",
            PlanStatus::Escalate(_) => "escalate",
        };
        let n = conn
            .prepare_cached(
                "INSERT INTO planned_actions
                     (idempotency_key, id, incident_id, kind, status, json, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .and_then(|mut s| {
                s.execute(params![
                    key,
                    action.id,
                    action.incident_id,
                    action.kind.as_str(),
                    status,
                    json,
                    now()
                ])
            })
            .map_err(unavailable(&format!("storing planned action {key}")))?;
        Ok(n == 1)
    }

    async fn planned(&self) -> Result<Vec<PlannedAction>, StoreError> {
        let conn = self.lock()?;
        select_all(
            &conn,
            "planned_actions",
            "SELECT idempotency_key, json FROM planned_actions
             ORDER BY created_at, idempotency_key",
            |a: &PlannedAction| a.idempotency_key.clone(),
        )
    }
}

// ----------------------------------------------------------------------------------------------
// The action ledger
// ----------------------------------------------------------------------------------------------

/// What a ledger verification found ([`SqliteStore::verify_ledger`], [`verify_export`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerVerification {
    /// Rows checked.
    pub rows: usize,
    /// The first place the chain does not hold, if any.
    pub broken: Option<BrokenLink>,
    /// The hash of the last row checked. Kept elsewhere, it pins the whole history up to that
    /// row: a later verification whose chain no longer passes through it was rewritten.
    pub head: Option<String>,
}

impl LedgerVerification {
    /// Whether every row checked is on an unbroken chain.
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }

    /// The sequence number of the first row that does not hold (or is missing).
    pub fn first_broken(&self) -> Option<u64> {
        self.broken.as_ref().map(|b| b.seq)
    }
}

/// Where and why a ledger's hash chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// The row that was changed, or the first one missing.
    pub seq: u64,
    pub reason: String,
}

/// One ledger row as stored, the way the hash covers it. Also one line of an export.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct ExportLine {
    seq: i64,
    action_id: String,
    at: String,
    /// The event as JSON; a stored event that is not JSON is exported as a string (and then
    /// does not verify).
    event: serde_json::Value,
    prev_hash: Option<String>,
    hash: String,
}

/// A ledger row read without interpretation (for verification and export).
struct RawRow {
    seq: i64,
    action_id: String,
    at: String,
    event: String,
    prev_hash: Option<String>,
    hash: String,
}

impl SqliteStore {
    /// Re-computes the ledger's hash chain from its first row and reports the first row that
    /// does not hold: one that was changed, a gap where rows were removed, rows removed from the
    /// end (the table's high-water sequence is past its last row).
    pub fn verify_ledger(&self) -> Result<LedgerVerification, StoreError> {
        let mut conn = self.lock()?;
        // One read transaction: the rows and the high-water mark are one snapshot.
        let tx = conn
            .transaction()
            .map_err(unavailable("starting ledger verification"))?;
        let rows = raw_ledger_rows(&tx)?;
        let high: Option<i64> = tx
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'ledger'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(unavailable("reading the ledger's high-water sequence"))?;
        drop(tx);
        drop(conn);
        let mut chain = Chain::default();
        for row in &rows {
            let canonical = serde_json::from_str::<serde_json::Value>(&row.event)
                .map(|v| canonical_json(&v))
                .map_err(|e| format!("the stored event is not JSON: {e}"));
            let event = match canonical {
                Ok(c) if c == row.event => Ok(c),
                Ok(_) => Err("the stored event is not in canonical JSON form".to_string()),
                Err(e) => Err(e),
            };
            chain.check(row, event);
        }
        Ok(chain.finish(high))
    }

    /// Writes the whole ledger as NDJSON, one row a line in sequence order:
    /// `{"seq":…,"action_id":…,"at":…,"event":{…},"prev_hash":…,"hash":…}`. The export can be
    /// verified on its own with [`verify_export`]. Returns the number of rows written.
    pub fn export_ledger(&self, mut w: impl Write) -> Result<usize, StoreError> {
        let rows = {
            let conn = self.lock()?;
            raw_ledger_rows(&conn)?
        };
        let io = |e: std::io::Error| StoreError::Unavailable(format!("writing ledger export: {e}"));
        for row in &rows {
            let line = ExportLine {
                seq: row.seq,
                action_id: row.action_id.clone(),
                at: row.at.clone(),
                event: serde_json::from_str(&row.event)
                    .unwrap_or_else(|_| serde_json::Value::String(row.event.clone())),
                prev_hash: row.prev_hash.clone(),
                hash: row.hash.clone(),
            };
            serde_json::to_writer(&mut w, &line).map_err(|e| {
                StoreError::Unavailable(format!("writing ledger export row {}: {e}", row.seq))
            })?;
            w.write_all(b"\n").map_err(io)?;
        }
        w.flush().map_err(io)?;
        Ok(rows.len())
    }
}

/// Re-computes the hash chain of a ledger export ([`SqliteStore::export_ledger`]) and reports
/// the first row that does not hold: changed, missing, or a line that is not a ledger row.
/// Rows removed from the end of an export are not visible in it: compare the head hash with one
/// kept elsewhere. Fails only when the export cannot be read.
pub fn verify_export(r: impl BufRead) -> std::io::Result<LedgerVerification> {
    let mut chain = Chain::default();
    for (n, line) in r.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<ExportLine>(&line) {
            Ok(l) => {
                let row = RawRow {
                    seq: l.seq,
                    action_id: l.action_id,
                    at: l.at,
                    event: canonical_json(&l.event),
                    prev_hash: l.prev_hash,
                    hash: l.hash,
                };
                chain.check(&row, Ok(row.event.clone()));
            }
            Err(e) => chain.unreadable(format!("line {} is not a ledger row: {e}", n + 1)),
        }
    }
    Ok(chain.finish(None))
}

/// Walks a hash chain row by row, remembering the first break.
#[derive(Default)]
struct Chain {
    rows: usize,
    last_seq: i64,
    last_hash: Option<String>,
    broken: Option<BrokenLink>,
}

impl Chain {
    /// Checks one row; `event` is the canonical JSON the hash covers, or why there is none.
    fn check(&mut self, row: &RawRow, event: Result<String, String>) {
        self.rows += 1;
        let expected = self.last_seq + 1;
        let problem = if row.seq > expected {
            Some((expected, format!("row {expected} is missing")))
        } else if row.seq < expected {
            Some((
                expected,
                format!("row {} comes where row {expected} belongs", row.seq),
            ))
        } else if row.prev_hash != self.last_hash {
            Some((
                expected,
                "its previous hash is not the hash of the row before".into(),
            ))
        } else {
            match event {
                Err(why) => Some((expected, why)),
                Ok(event) => {
                    let hash = chain_hash(
                        row.prev_hash.as_deref(),
                        row.seq,
                        &row.action_id,
                        &row.at,
                        &event,
                    );
                    (hash != row.hash)
                        .then(|| (expected, "its content does not match its hash".into()))
                }
            }
        };
        if let Some((seq, reason)) = problem {
            self.note(seq, reason);
        }
        self.last_seq = row.seq.max(self.last_seq);
        self.last_hash = Some(row.hash.clone());
    }

    /// A row that could not be read at all: the chain cannot be followed past it.
    fn unreadable(&mut self, reason: String) {
        self.rows += 1;
        self.note(self.last_seq + 1, reason);
        self.last_seq += 1;
        self.last_hash = None;
    }

    fn note(&mut self, seq: i64, reason: String) {
        if self.broken.is_none() {
            self.broken = Some(BrokenLink {
                seq: u64::try_from(seq).unwrap_or(0),
                reason,
            });
        }
    }

    /// `high`: the highest sequence number ever handed out, when known.
    fn finish(mut self, high: Option<i64>) -> LedgerVerification {
        if let Some(high) = high.filter(|&h| h > self.last_seq) {
            let first = self.last_seq + 1;
            self.note(
                first,
                format!("rows {first} to {high} were removed from the end"),
            );
        }
        LedgerVerification {
            rows: self.rows,
            broken: self.broken,
            head: self.last_hash,
        }
    }
}

/// A ledger row's hash (see the module documentation).
fn chain_hash(prev_hash: Option<&str>, seq: i64, action_id: &str, at: &str, event: &str) -> String {
    let seq = seq.to_string();
    let mut input = Vec::with_capacity(event.len() + 160);
    for field in [prev_hash.unwrap_or(""), &seq, action_id, at, event] {
        input.extend_from_slice(field.len().to_string().as_bytes());
        input.push(b':');
        input.extend_from_slice(field.as_bytes());
        input.push(b',');
    }
    hex::encode(sha2::Sha256::digest(&input))
}

/// Compact JSON with object keys sorted by their UTF-8 bytes: the same value always gives the
/// same text, whatever order the fields were written in or serde_json's map features.
fn canonical_json(v: &serde_json::Value) -> String {
    fn write(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push(':');
                    write(&map[k.as_str()], out);
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// The stored form of a ledger time: RFC 3339, UTC, nanoseconds (lossless and fixed width).
fn ledger_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// A column as text, whatever SQLite holds (rows are read for verification as they are).
fn column_text(row: &Row<'_>, i: usize) -> Result<Option<String>, StoreError> {
    Ok(match row.get_ref(i) {
        Ok(ValueRef::Null) => None,
        Ok(ValueRef::Text(b)) | Ok(ValueRef::Blob(b)) => {
            Some(String::from_utf8_lossy(b).into_owned())
        }
        Ok(ValueRef::Integer(n)) => Some(n.to_string()),
        Ok(ValueRef::Real(x)) => Some(x.to_string()),
        Err(e) => {
            return Err(StoreError::Unavailable(format!(
                "sqlite: reading ledger: {e}"
            )))
        }
    })
}

const LEDGER_COLUMNS: &str = "SELECT seq, action_id, at, event, prev_hash, hash FROM ledger";

fn raw_row(row: &Row<'_>) -> Result<RawRow, StoreError> {
    let seq: i64 = row
        .get(0)
        .map_err(unavailable("reading ledger sequence number"))?;
    let text = |i| column_text(row, i).map(Option::unwrap_or_default);
    Ok(RawRow {
        seq,
        action_id: text(1)?,
        at: text(2)?,
        event: text(3)?,
        prev_hash: column_text(row, 4)?,
        hash: text(5)?,
    })
}

fn raw_ledger_rows(conn: &Connection) -> Result<Vec<RawRow>, StoreError> {
    let ctx = "reading the ledger";
    let mut stmt = conn
        .prepare_cached(&format!("{LEDGER_COLUMNS} ORDER BY seq"))
        .map_err(unavailable(ctx))?;
    let mut rows = stmt.query([]).map_err(unavailable(ctx))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(unavailable(ctx))? {
        out.push(raw_row(row)?);
    }
    Ok(out)
}

/// Reads ledger rows as entries; anything unreadable is `Corrupt`.
fn ledger_entries(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<LedgerEntry>, StoreError> {
    let ctx = "reading the ledger";
    let mut stmt = conn.prepare_cached(sql).map_err(unavailable(ctx))?;
    let mut rows = stmt.query(args).map_err(unavailable(ctx))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(unavailable(ctx))? {
        let raw = raw_row(row)?;
        let corrupt = |detail: String| StoreError::Corrupt {
            key: format!("ledger/{}", raw.seq),
            detail,
        };
        let seq = u64::try_from(raw.seq)
            .map_err(|_| corrupt(format!("sequence number {} is negative", raw.seq)))?;
        let at = DateTime::parse_from_rfc3339(&raw.at)
            .map_err(|e| corrupt(format!("stored time {:?}: {e}", raw.at)))?
            .with_timezone(&Utc);
        let event: LedgerEvent =
            serde_json::from_str(&raw.event).map_err(|e| corrupt(e.to_string()))?;
        out.push(LedgerEntry {
            seq,
            action_id: raw.action_id,
            at,
            event,
        });
    }
    Ok(out)
}

/// Appends one event in `tx`, chained to the last row. The caller holds an IMMEDIATE
/// transaction, so no other writer (task or process) takes the same sequence number.
fn append_event(
    tx: &Connection,
    action_id: &str,
    event: &LedgerEvent,
    at: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let ctx = format!("appending to the ledger of action {action_id}");
    let value = serde_json::to_value(event).map_err(|e| {
        StoreError::Unavailable(format!("cannot encode ledger event of {action_id}: {e}"))
    })?;
    let event = canonical_json(&value);
    let at = ledger_time(at);
    let last: Option<(i64, String)> = tx
        .query_row(
            "SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(unavailable(&ctx))?;
    // The high-water mark, not the last row: a row removed from the end leaves a visible gap.
    let high: Option<i64> = tx
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'ledger'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(unavailable(&ctx))?;
    let seq = last.as_ref().map_or(0, |l| l.0).max(high.unwrap_or(0)) + 1;
    let prev = last.map(|l| l.1);
    let hash = chain_hash(prev.as_deref(), seq, action_id, &at, &event);
    tx.prepare_cached(
        "INSERT INTO ledger (seq, action_id, at, event, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| s.execute(params![seq, action_id, at, event, prev, hash]))
    .map_err(unavailable(&ctx))?;
    u64::try_from(seq).map_err(|_| StoreError::Corrupt {
        key: format!("ledger/{seq}"),
        detail: "negative sequence number".into(),
    })
}

#[async_trait]
impl ActionLedger for SqliteStore {
    /// The key and the `Recorded` event are written in one transaction, or neither is.
    async fn record(&self, action: &PlannedAction, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut conn = self.lock()?;
        let key = &action.idempotency_key;
        let ctx = format!("recording action {key}");
        let target = encode("action target", key, &action.target)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable(&ctx))?;
        let n = tx
            .prepare_cached(
                "INSERT INTO ledger_actions
                     (idempotency_key, action_id, incident_id, kind, target, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .and_then(|mut s| {
                s.execute(params![
                    key,
                    action.id,
                    action.incident_id,
                    action.kind.as_str(),
                    target,
                    ledger_time(at)
                ])
            })
            .map_err(unavailable(&ctx))?;
        if n == 0 {
            return Ok(false);
        }
        append_event(
            &tx,
            &action.id,
            &LedgerEvent::Recorded {
                action: action.clone(),
            },
            at,
        )?;
        tx.commit().map_err(unavailable(&ctx))?;
        Ok(true)
    }

    async fn append(
        &self,
        action_id: &str,
        event: &LedgerEvent,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut conn = self.lock()?;
        let ctx = format!("appending to the ledger of action {action_id}");
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(unavailable(&ctx))?;
        let seq = append_event(&tx, action_id, event, at)?;
        tx.commit().map_err(unavailable(&ctx))?;
        Ok(seq)
    }

    async fn history(&self, action_id: &str) -> Result<Vec<LedgerEntry>, StoreError> {
        let conn = self.lock()?;
        ledger_entries(
            &conn,
            &format!("{LEDGER_COLUMNS} WHERE action_id = ?1 ORDER BY seq"),
            [action_id],
        )
    }

    async fn by_key(&self, idempotency_key: &str) -> Result<Option<String>, StoreError> {
        let conn = self.lock()?;
        conn.prepare_cached("SELECT action_id FROM ledger_actions WHERE idempotency_key = ?1")
            .and_then(|mut s| s.query_row([idempotency_key], |r| r.get(0)).optional())
            .map_err(unavailable(&format!(
                "reading action key {idempotency_key}"
            )))
    }

    async fn entries(&self) -> Result<Vec<LedgerEntry>, StoreError> {
        let conn = self.lock()?;
        ledger_entries(&conn, &format!("{LEDGER_COLUMNS} ORDER BY seq"), [])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_and_is_stable() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"b": [1, {"z": null, "a": 1.5}], "a": "é\u0000\"", "c": {}}"#)
                .expect("json");
        let c = canonical_json(&v);
        assert_eq!(c, r#"{"a":"é\u0000\"","b":[1,{"a":1.5,"z":null}],"c":{}}"#);
        let again: serde_json::Value = serde_json::from_str(&c).expect("json");
        assert_eq!(canonical_json(&again), c);
    }

    #[tokio::test]
    async fn a_poisoned_lock_is_unavailable_not_a_panic() {
        let store = SqliteStore::in_memory().expect("store");
        let poison = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _held = store.conn.lock();
            panic!("a writer panics while holding the connection");
        }));
        assert!(poison.is_err());
        match store.alerts().await {
            Err(StoreError::Unavailable(msg)) => assert!(msg.contains("poisoned"), "{msg}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
        assert!(matches!(
            store.put_alerts_blocking(&[]),
            Err(StoreError::Unavailable(_))
        ));
    }
}

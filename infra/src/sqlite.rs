//! The embedded store: one SQLite file holding alerts, quarantine, incidents and planned actions,
//! for the one-machine mode (`cordon replay`, `cordon serve`).
//!
//! Records are stored as their serde JSON, next to the few columns that are keys or indexes.
//! Every write that must happen once is a conditional insert (`ON CONFLICT DO NOTHING`), so two
//! deliveries of the same alert — from two tasks or two processes on the same file — store it
//! once. rusqlite is synchronous: the connection sits behind a `std::sync::Mutex` and the async
//! port methods lock it and run; statements are short, which is fine for one local process.

use async_trait::async_trait;
use chrono::{SecondsFormat, Utc};
use cordon_core::action::{PlanStatus, PlannedAction};
use cordon_core::alert::{Alert, Quarantined};
use cordon_core::decide::Incident;
use cordon_core::store::{ActionPlanStore, AlertStore, IncidentStore, StoreError, Written};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde::de::DeserializeOwned;
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
];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The embedded store. Implements [`AlertStore`], [`IncidentStore`] and [`ActionPlanStore`].
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

#[cfg(test)]
mod tests {
    use super::*;

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

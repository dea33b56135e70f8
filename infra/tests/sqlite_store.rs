//! The embedded store: the conformance suite on an in-memory and a file database, persistence
//! across opens and processes, corrupt rows, schema versions and migration, the batch insert,
//! and the action ledger's append-only triggers, hash chain and export.

use async_trait::async_trait;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use cordon_core::action::{ActionKind, Mode, PlanStatus, PlannedAction, Target};
use cordon_core::execute::{Executor, RetryPolicy, Sleeper, SystemClock};
use cordon_core::ledger::{fold, ActionLedger, ActionStatus, LedgerEvent, Step};
use cordon_core::respond::{
    ActionContext, Done, Failure, PermissionReport, Responder, TargetState, Verification,
};
use cordon_core::store::{ActionPlanStore, AlertStore, IncidentStore, StoreError, Written};
use cordon_infra::conformance::{self, alerts, incident, ledger_events, planned_actions};
use cordon_infra::sqlite::{verify_export, LedgerVerification, SCHEMA_VERSION};
use cordon_infra::SqliteStore;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tempfile::TempDir;

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path).expect("open store file")
}

fn temp_db() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("cordon.db");
    (dir, path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory_store_conforms() {
    conformance::run_all(|| SqliteStore::in_memory().expect("in-memory store")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_store_conforms() {
    let dir = tempfile::tempdir().expect("temp dir");
    let n = AtomicUsize::new(0);
    conformance::run_all(|| {
        let i = n.fetch_add(1, Ordering::Relaxed);
        open(&dir.path().join(format!("store-{i}.db")))
    })
    .await;
    assert!(
        n.load(Ordering::Relaxed) > 5,
        "the suite should use a fresh store per check"
    );
}

#[tokio::test]
async fn reopening_the_file_sees_everything_written() {
    let (_dir, path) = temp_db();
    let all = alerts();
    let inc = incident();
    let plans = planned_actions();
    let q = cordon_core::alert::Quarantined {
        origin: "replay.jsonl:3".into(),
        reason: "truncated JSON".into(),
        payload: "{\"Incident".into(),
    };
    {
        let store = open(&path);
        assert_eq!(
            store.put_alerts_blocking(&all[..3]).expect("batch"),
            vec![true; 3]
        );
        for a in &all[3..] {
            assert!(store.put_alert(a).await.expect("put_alert"));
        }
        assert!(store.quarantine(&q).await.expect("quarantine"));
        assert_eq!(
            store.put_incident(&inc).await.expect("put_incident"),
            Written::Created
        );
        for p in &plans {
            assert!(store.put_planned(p).await.expect("put_planned"));
        }
    }
    let store = open(&path);
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(store.alerts().await.expect("alerts"), all);
    assert_eq!(store.quarantined().await.expect("quarantined"), vec![q]);
    assert_eq!(
        store.incident(&inc.id).await.expect("incident"),
        Some(inc.clone())
    );
    assert_eq!(
        store.put_incident(&inc).await.expect("put_incident"),
        Written::Unchanged
    );
    let mut back = store.planned().await.expect("planned");
    back.sort_by(|a, b| a.idempotency_key.cmp(&b.idempotency_key));
    let mut want = plans.clone();
    want.sort_by(|a, b| a.idempotency_key.cmp(&b.idempotency_key));
    assert_eq!(back, want);
    // Dedup holds across opens: nothing is stored a second time.
    assert_eq!(
        store.put_alerts_blocking(&all).expect("batch"),
        vec![false; all.len()]
    );
    assert!(!store.put_planned(&plans[0]).await.expect("put_planned"));
}

/// Child half of `another_process_shares_the_file`: runs only when that test starts it.
#[tokio::test]
#[ignore = "started by another_process_shares_the_file in a child process"]
async fn child_process_writer() {
    let Ok(path) = std::env::var("CORDON_CHILD_DB") else {
        return;
    };
    let store = open(Path::new(&path));
    let all = alerts();
    // The parent stored the first alert; the child must see it and must not store it again.
    assert_eq!(store.alerts().await.expect("alerts"), vec![all[0].clone()]);
    assert!(!store.put_alert(&all[0]).await.expect("put_alert"));
    assert_eq!(
        store.put_alerts_blocking(&all[1..]).expect("batch"),
        vec![true; all.len() - 1]
    );
    assert_eq!(
        store.put_incident(&incident()).await.expect("put"),
        Written::Created
    );
}

#[tokio::test]
async fn another_process_shares_the_file() {
    let (_dir, path) = temp_db();
    let store = open(&path);
    let all = alerts();
    assert!(store.put_alert(&all[0]).await.expect("put_alert"));

    // The parent keeps its connection open while another process writes to the same file.
    let exe = std::env::current_exe().expect("test binary path");
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "child_process_writer",
            "--ignored",
            "--nocapture",
        ])
        .env("CORDON_CHILD_DB", &path)
        .output()
        .expect("start child process");
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child process failed: {log}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        log.contains("1 passed"),
        "the child test did not run: {log}"
    );

    assert_eq!(
        store.alerts().await.expect("alerts"),
        all,
        "the child's alerts are visible"
    );
    assert_eq!(
        store.put_incident(&incident()).await.expect("put"),
        Written::Unchanged
    );
    assert_eq!(
        store.put_alerts_blocking(&all).expect("batch"),
        vec![false; all.len()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn separate_connections_racing_on_one_file_store_once() {
    let (_dir, path) = temp_db();
    drop(open(&path)); // create and migrate first: the racers then only write
    let racers = 12;
    let gate = Arc::new(tokio::sync::Barrier::new(racers));
    let tasks: Vec<_> = (0..racers)
        .map(|_| {
            let path = path.clone();
            let gate = gate.clone();
            tokio::spawn(async move {
                let store = open(&path); // one connection each, as separate processes would
                let a = alerts().remove(1);
                let p = planned_actions().remove(0);
                gate.wait().await;
                let alert = store.put_alert(&a).await.expect("put_alert");
                let plan = store.put_planned(&p).await.expect("put_planned");
                let inc = store.put_incident(&incident()).await.expect("put_incident");
                (alert, plan, inc)
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("racer"));
    }
    assert_eq!(
        results.iter().filter(|r| r.0).count(),
        1,
        "alert: {results:?}"
    );
    assert_eq!(
        results.iter().filter(|r| r.1).count(),
        1,
        "plan: {results:?}"
    );
    assert_eq!(
        results.iter().filter(|r| r.2 == Written::Created).count(),
        1,
        "incident: {results:?}"
    );
    assert!(
        results.iter().all(|r| r.2 != Written::Updated),
        "incident: {results:?}"
    );
}

#[test]
fn a_new_file_has_the_current_schema_and_a_newer_one_is_refused() {
    let (_dir, path) = temp_db();
    assert_eq!(
        open(&path).schema_version().expect("version"),
        SCHEMA_VERSION
    );
    let raw = Connection::open(&path).expect("raw");
    raw.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .expect("bump");
    drop(raw);
    match SqliteStore::open(&path) {
        Err(StoreError::Unavailable(msg)) => assert!(msg.contains("newer"), "{msg}"),
        other => panic!("a file from a newer build must be refused, got {other:?}"),
    }
}

#[test]
fn put_alerts_reports_each_alert_and_dedups_within_the_batch() {
    let store = SqliteStore::in_memory().expect("store");
    let all = alerts();
    assert_eq!(
        store.put_alerts_blocking(&all[..2]).expect("batch"),
        vec![true, true]
    );
    let batch = vec![
        all[1].clone(),
        all[2].clone(),
        all[2].clone(),
        all[3].clone(),
    ];
    assert_eq!(
        store.put_alerts_blocking(&batch).expect("batch"),
        vec![false, true, false, true]
    );
    assert_eq!(
        store.put_alerts_blocking(&[]).expect("empty batch"),
        Vec::<bool>::new()
    );
}

/// Writes `value` into `column` of the rows of `table` with raw SQL, behind the store's back.
fn tamper(path: &Path, sql: &str, value: rusqlite::types::Value) {
    let raw = Connection::open(path).expect("raw connection");
    let n = raw.execute(sql, [value]).expect("tamper");
    assert!(n > 0, "tampered with nothing: {sql}");
}

fn assert_corrupt<T: std::fmt::Debug>(r: Result<T, StoreError>, key_part: &str) {
    match r {
        Err(StoreError::Corrupt { key, detail }) => {
            assert!(
                key.contains(key_part),
                "key {key:?} should name {key_part:?}"
            );
            assert!(!detail.is_empty());
        }
        other => panic!("expected Corrupt naming {key_part}, got {other:?}"),
    }
}

#[tokio::test]
async fn unreadable_rows_are_reported_corrupt_not_panics() {
    use rusqlite::types::Value;
    let (_dir, path) = temp_db();
    let store = open(&path);
    let a = alerts().remove(0);
    let inc = incident();
    let plan = planned_actions().remove(0);
    assert!(store.put_alert(&a).await.expect("put"));
    assert_eq!(
        store.put_incident(&inc).await.expect("put"),
        Written::Created
    );
    assert!(store.put_planned(&plan).await.expect("put"));

    // Garbage JSON.
    tamper(
        &path,
        "UPDATE alerts SET json = ?1",
        Value::Text("{\"source\": \"guardd".into()),
    );
    assert_corrupt(store.alerts().await, &format!("alerts/{}", a.dedup_key()));

    // Valid JSON of the wrong shape (schema drift).
    tamper(
        &path,
        "UPDATE incidents SET json = ?1",
        Value::Text("{\"id\": \"inc-0001\"}".into()),
    );
    assert_corrupt(store.incident(&inc.id).await, "incidents/inc-0001");
    assert_corrupt(store.incidents().await, "incidents/inc-0001");
    // Writing the incident again replaces the unreadable row (the write is the current
    // decision) and says so.
    assert_eq!(
        store.put_incident(&inc).await.expect("put"),
        Written::Updated
    );
    assert_eq!(
        store.incident(&inc.id).await.expect("read"),
        Some(inc.clone())
    );

    // Not text at all.
    tamper(
        &path,
        "UPDATE planned_actions SET json = ?1",
        Value::Blob(vec![0xff, 0x00, 0x9c]),
    );
    assert_corrupt(store.planned().await, &plan.idempotency_key);

    // A well-formed record under another record's key.
    let other = alerts().remove(1);
    tamper(
        &path,
        "UPDATE alerts SET json = ?1",
        Value::Text(serde_json::to_string(&other).expect("json")),
    );
    assert_corrupt(store.alerts().await, &a.dedup_key());
}

/// Replay speed: `cargo test --release -p cordon-infra --test sqlite_store -- --ignored
/// --nocapture insert_rate`.
#[tokio::test]
#[ignore = "measurement; run in release mode"]
async fn insert_rate() {
    let (_dir, path) = temp_db();
    let template = alerts().remove(1);
    let make = |prefix: &str, n: usize| -> Vec<_> {
        (0..n)
            .map(|i| {
                let mut a = template.clone();
                a.source_id = format!("{prefix}-{i:06}");
                a
            })
            .collect()
    };
    let n = 10_000;
    let store = open(&path);

    let batch = make("batch", n);
    let t = Instant::now();
    let stored = store.put_alerts_blocking(&batch).expect("batch");
    let batch_secs = t.elapsed().as_secs_f64();
    assert!(stored.iter().all(|&s| s));

    let t = Instant::now();
    let again = store.put_alerts_blocking(&batch).expect("batch");
    let dup_secs = t.elapsed().as_secs_f64();
    assert!(again.iter().all(|&s| !s));

    let single = make("single", n);
    let t = Instant::now();
    for a in &single {
        assert!(store.put_alert(a).await.expect("put_alert"));
    }
    let single_secs = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let read = store.alerts().await.expect("alerts");
    let read_secs = t.elapsed().as_secs_f64();
    assert_eq!(read.len(), 2 * n);

    let rate = |secs: f64| n as f64 / secs;
    println!(
        "put_alerts, {n} new alerts, one transaction: {:>9.0} alerts/s",
        rate(batch_secs)
    );
    println!(
        "put_alerts, {n} duplicates, one transaction: {:>9.0} alerts/s",
        rate(dup_secs)
    );
    println!(
        "put_alert,  {n} new alerts, one commit each: {:>9.0} alerts/s",
        rate(single_secs)
    );
    println!(
        "alerts(),   {} alerts read back:              {:>9.0} alerts/s",
        2 * n,
        (2 * n) as f64 / read_secs
    );
}

// ----------------------------------------------------------------------------------------------
// Migration
// ----------------------------------------------------------------------------------------------

/// Schema version 1, as the first release wrote it (migration 1, verbatim).
const V1_SCHEMA: &str = "CREATE TABLE alerts (
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
     CREATE INDEX planned_actions_by_incident ON planned_actions (incident_id);";

/// A version-1 file with one alert, one quarantined payload, the incident and its plans, written
/// row by row as the version-1 store wrote them.
fn write_v1_file(path: &Path) {
    let raw = Connection::open(path).expect("raw connection");
    let mode: String = raw
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .expect("wal");
    assert_eq!(mode, "wal");
    raw.execute_batch(V1_SCHEMA).expect("v1 schema");
    raw.pragma_update(None, "user_version", 1).expect("version");
    let a = alerts().remove(0);
    let updated = a
        .source_updated
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
    raw.execute(
        "INSERT INTO alerts VALUES (?1, ?2, ?3, ?4, '2024-05-02T09:15:00.000000Z', ?5)",
        rusqlite::params![
            a.dedup_key(),
            a.source.as_str(),
            a.source_id,
            updated,
            serde_json::to_string(&a).expect("json")
        ],
    )
    .expect("alert");
    raw.execute(
        "INSERT INTO quarantine VALUES ('q1', 'replay.jsonl:3', 'truncated JSON', '{\"Inc', \
         '2024-05-02T09:15:00.000000Z')",
        [],
    )
    .expect("quarantine");
    let inc = incident();
    raw.execute(
        "INSERT INTO incidents VALUES (?1, ?2, '2024-05-02T09:16:00.000000Z')",
        rusqlite::params![inc.id, serde_json::to_string(&inc).expect("json")],
    )
    .expect("incident");
    for (i, p) in planned_actions().iter().enumerate() {
        raw.execute(
            "INSERT INTO planned_actions VALUES (?1, ?2, ?3, ?4, 'planned', ?5, ?6)",
            rusqlite::params![
                p.idempotency_key,
                p.id,
                p.incident_id,
                p.kind.as_str(),
                serde_json::to_string(p).expect("json"),
                format!("2024-05-02T09:16:00.{i:06}Z")
            ],
        )
        .expect("plan");
    }
}

#[tokio::test]
async fn a_version_1_file_is_migrated_in_place_and_keeps_its_data() {
    let (_dir, path) = temp_db();
    write_v1_file(&path);
    let plans = planned_actions();
    {
        let store = open(&path);
        assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
        assert_eq!(SCHEMA_VERSION, 2);
        assert_eq!(
            store.alerts().await.expect("alerts"),
            vec![alerts().remove(0)]
        );
        assert!(
            !store.put_alert(&alerts()[0]).await.expect("put"),
            "dedup holds after the migration"
        );
        assert_eq!(store.quarantined().await.expect("quarantined").len(), 1);
        assert_eq!(
            store.incident(&incident().id).await.expect("incident"),
            Some(incident())
        );
        assert_eq!(store.planned().await.expect("planned"), plans);
        // The ledger is there, and empty.
        assert_eq!(store.entries().await.expect("entries"), vec![]);
        assert!(store
            .record(&plans[0], at("2024-05-03T08:00:00Z"))
            .await
            .expect("record"));
        store
            .append(
                &plans[0].id,
                &LedgerEvent::Audited,
                at("2024-05-03T08:00:01Z"),
            )
            .await
            .expect("append");
    }
    // Reopening does not migrate again, and keeps both the old data and the ledger.
    let store = open(&path);
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(store.planned().await.expect("planned"), plans);
    let history = store.history(&plans[0].id).await.expect("history");
    assert_eq!(fold(&history).expect("fold").status, ActionStatus::Audited);
    assert_intact(&store.verify_ledger().expect("verify"), 2);
}

// ----------------------------------------------------------------------------------------------
// The ledger: append-only, hash chain, export
// ----------------------------------------------------------------------------------------------

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("time")
        .with_timezone(&Utc)
}

fn assert_intact(v: &LedgerVerification, rows: usize) {
    assert!(v.is_intact(), "the chain should hold: {v:?}");
    assert_eq!(v.rows, rows, "{v:?}");
    assert_eq!(v.head.is_some(), rows > 0, "{v:?}");
}

fn assert_broken_at(v: &LedgerVerification, seq: u64) {
    assert_eq!(v.first_broken(), Some(seq), "{v:?}");
    assert!(!v.is_intact());
}

/// A file store with two actions' histories: 9 rows, seq 1 to 9. Action A's `Applied` is seq 6.
async fn ledger_file() -> (TempDir, PathBuf, SqliteStore, Vec<PlannedAction>) {
    let (dir, path) = temp_db();
    let store = open(&path);
    let plans = planned_actions();
    let (a, b) = (&plans[0], &plans[1]);
    let t = |n: i64| at("2024-05-02T09:30:00.000000001Z") + TimeDelta::seconds(n);
    assert!(store.record(a, t(0)).await.expect("record")); // 1
    assert!(store.record(b, t(1)).await.expect("record")); // 2
    let prior = TargetState {
        contained: false,
        summary: "accountEnabled=true".into(),
        data: serde_json::json!({"accountEnabled": true}),
    };
    let events = [
        (
            a,
            LedgerEvent::Attempt {
                step: Step::Capture,
                attempt: 1,
            },
        ), // 3
        (a, LedgerEvent::Captured { prior }), // 4
        (
            a,
            LedgerEvent::Attempt {
                step: Step::Apply,
                attempt: 1,
            },
        ), // 5
        (
            a,
            LedgerEvent::Applied {
                done: Done::Applied {
                    detail: "accountEnabled set to false".into(),
                    reference: serde_json::Value::Null,
                    reverify_at: None,
                },
            },
        ), // 6
        (b, LedgerEvent::Audited),            // 7
        (
            a,
            LedgerEvent::Attempt {
                step: Step::Verify,
                attempt: 1,
            },
        ), // 8
        (
            a,
            LedgerEvent::Verified {
                verification: Verification::Effective {
                    detail: "accountEnabled=false".into(),
                },
            },
        ), // 9
    ];
    for (i, (action, e)) in events.iter().enumerate() {
        let seq = store
            .append(&action.id, e, t(i as i64 + 2))
            .await
            .expect("append");
        assert_eq!(seq, i as u64 + 3);
    }
    (dir, path, store, plans)
}

fn export(store: &SqliteStore) -> String {
    let mut out = Vec::new();
    let n = store.export_ledger(&mut out).expect("export");
    let text = String::from_utf8(out).expect("utf-8");
    assert_eq!(text.lines().count(), n);
    text
}

fn verify_text(export: &str) -> LedgerVerification {
    verify_export(export.as_bytes()).expect("read export")
}

/// Raw SQL on the file, behind the store's back; returns SQLite's answer.
fn raw_sql(path: &Path, sql: &str) -> rusqlite::Result<usize> {
    let raw = Connection::open(path).expect("raw connection");
    raw.execute(sql, [])
}

#[tokio::test]
async fn an_empty_ledger_verifies_and_exports_nothing() {
    let store = SqliteStore::in_memory().expect("store");
    assert_intact(&store.verify_ledger().expect("verify"), 0);
    assert_eq!(export(&store), "");
    assert_intact(&verify_text(""), 0);
}

#[tokio::test]
async fn the_export_is_one_row_a_line_and_verifies() {
    let (_dir, _path, store, plans) = ledger_file().await;
    let v = store.verify_ledger().expect("verify");
    assert_intact(&v, 9);
    let text = export(&store);
    let from_export = verify_text(&text);
    assert_intact(&from_export, 9);
    assert_eq!(
        from_export.head, v.head,
        "the export ends on the same head hash as the store"
    );

    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let first = lines[0].as_object().expect("object");
    assert_eq!(
        first
            .keys()
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>(),
        ["action_id", "at", "event", "hash", "prev_hash", "seq"].into(),
    );
    assert_eq!(first["seq"], 1);
    assert_eq!(first["action_id"], plans[0].id.as_str());
    assert_eq!(first["at"], "2024-05-02T09:30:00.000000001Z");
    assert_eq!(first["prev_hash"], serde_json::Value::Null);
    assert_eq!(
        first["event"]["event"], "recorded",
        "the event is JSON, not a string"
    );
    assert_eq!(first["event"]["action"]["id"], plans[0].id.as_str());
    for w in lines.windows(2) {
        assert_eq!(
            w[1]["prev_hash"], w[0]["hash"],
            "each row links to the one before"
        );
        assert_eq!(w[1]["seq"], w[0]["seq"].as_u64().expect("seq") + 1);
    }
    assert!(lines.iter().all(|l| l["hash"]
        .as_str()
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))));

    // The entries agree with the export.
    let entries = store.entries().await.expect("entries");
    assert_eq!(entries.len(), 9);
    for (e, l) in entries.iter().zip(&lines) {
        assert_eq!(serde_json::json!(e.seq), l["seq"]);
        assert_eq!(serde_json::to_value(&e.event).expect("json"), l["event"]);
    }
    // Appending more extends the same chain.
    store
        .append(&plans[1].id, &LedgerEvent::Audited, Utc::now())
        .await
        .expect("append");
    let longer = export(&store);
    assert!(longer.starts_with(&text));
    assert_intact(&verify_text(&longer), 10);
}

#[tokio::test]
async fn raw_sql_cannot_change_or_remove_ledger_rows() {
    let (_dir, path, store, plans) = ledger_file().await;
    let before = store.entries().await.expect("entries");
    let refused = [
        "UPDATE ledger SET event = '{\"event\":\"audited\"}' WHERE seq = 6",
        "UPDATE ledger SET at = '2000-01-01T00:00:00.000000000Z'",
        "DELETE FROM ledger WHERE seq = 9",
        "DELETE FROM ledger",
        // REPLACE removes the old row without firing delete triggers: refused separately.
        "INSERT OR REPLACE INTO ledger (seq, action_id, at, event, prev_hash, hash)
         SELECT seq, action_id, at, '{\"event\":\"audited\"}', prev_hash, hash FROM ledger
         WHERE seq = 6",
        "REPLACE INTO ledger (seq, action_id, at, event, hash)
         VALUES (3, 'x', '2000-01-01T00:00:00.000000000Z', '{}', 'h')",
        "INSERT INTO ledger (seq, action_id, at, event, hash)
         VALUES (3, 'x', '2000-01-01T00:00:00.000000000Z', '{}', 'h')
         ON CONFLICT (seq) DO UPDATE SET event = excluded.event",
        "UPDATE ledger_actions SET action_id = 'act-forged'",
        "DELETE FROM ledger_actions",
    ];
    for sql in refused {
        match raw_sql(&path, sql) {
            Err(e) => assert!(
                e.to_string().contains("append-only"),
                "{sql}: refused for the wrong reason: {e}"
            ),
            Ok(n) => panic!("{sql}: raw SQL changed {n} ledger rows"),
        }
    }
    // Re-inserting a recorded key is ignored, like the conditional insert it duplicates.
    let key = &plans[0].idempotency_key;
    let n = raw_sql(
        &path,
        &format!(
            "INSERT OR REPLACE INTO ledger_actions VALUES \
             ('{key}', 'act-forged', 'inc-x', 'enable_user', '{{}}', '2000-01-01')"
        ),
    )
    .expect("an ignored insert is not an error");
    assert_eq!(n, 0);
    // …and a new key cannot take over a recorded action id.
    match raw_sql(
        &path,
        &format!(
            "INSERT OR REPLACE INTO ledger_actions VALUES \
             ('another-key', '{}', 'inc-x', 'enable_user', '{{}}', '2000-01-01')",
            plans[0].id
        ),
    ) {
        Err(e) => assert!(e.to_string().contains("another key"), "{e}"),
        Ok(n) => panic!("a second key took over a recorded action id ({n} rows)"),
    }
    assert_eq!(
        store.by_key(key).await.expect("by_key"),
        Some(plans[0].id.clone())
    );
    assert_eq!(store.by_key("another-key").await.expect("by_key"), None);
    assert_eq!(store.entries().await.expect("entries"), before);
    assert_intact(&store.verify_ledger().expect("verify"), 9);
    // Appending still works after all that.
    assert_eq!(
        store
            .append(&plans[0].id, &LedgerEvent::Audited, Utc::now())
            .await
            .expect("append"),
        10
    );
}

fn drop_triggers(path: &Path) {
    let raw = Connection::open(path).expect("raw connection");
    raw.execute_batch(
        "DROP TRIGGER ledger_no_update; DROP TRIGGER ledger_no_delete; \
         DROP TRIGGER ledger_no_replace;",
    )
    .expect("drop triggers");
}

#[tokio::test]
async fn an_edited_event_is_found_by_verification_and_in_the_export() {
    let (_dir, path, store, plans) = ledger_file().await;
    let clean = store.verify_ledger().expect("verify");
    assert_intact(&clean, 9);
    drop_triggers(&path);
    // Rewrite history: the apply "changed nothing". Still valid JSON of a valid event.
    let n = raw_sql(
        &path,
        "UPDATE ledger SET event = replace(event, 'accountEnabled set to false', \
         'nothing was changed') WHERE seq = 6",
    )
    .expect("tamper");
    assert_eq!(n, 1);
    let history = store.history(&plans[0].id).await.expect("still readable");
    assert!(
        matches!(&history[4].event, LedgerEvent::Applied { done: Done::Applied { detail, .. } }
            if detail == "nothing was changed"),
        "the edit took: {history:?}"
    );

    let v = store.verify_ledger().expect("verify");
    assert_broken_at(&v, 6);
    assert_eq!(v.rows, 9);
    assert_eq!(
        v.head, clean.head,
        "the row hashes themselves were not touched"
    );
    let text = export(&store);
    assert_broken_at(&verify_text(&text), 6);
}

#[tokio::test]
async fn an_unreadable_event_is_corrupt_and_breaks_the_chain() {
    let (_dir, path, store, plans) = ledger_file().await;
    drop_triggers(&path);
    raw_sql(
        &path,
        "UPDATE ledger SET event = '{\"event\": \"appl' WHERE seq = 4",
    )
    .expect("tamper");
    match store.history(&plans[0].id).await {
        Err(StoreError::Corrupt { key, detail }) => {
            assert_eq!(key, "ledger/4");
            assert!(!detail.is_empty());
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(matches!(
        store.entries().await,
        Err(StoreError::Corrupt { .. })
    ));
    // Action B's history does not include the bad row.
    assert_eq!(store.history(&plans[1].id).await.expect("history").len(), 2);
    // A bad time is corrupt too.
    raw_sql(&path, "UPDATE ledger SET at = 'yesterday' WHERE seq = 7").expect("tamper");
    assert!(matches!(
        store.history(&plans[1].id).await,
        Err(StoreError::Corrupt { key, .. }) if key == "ledger/7"
    ));
    // A row moved to another action reads fine: only the chain shows it.
    raw_sql(
        &path,
        "UPDATE ledger SET at = '2024-05-02T09:30:06.000000001Z' WHERE seq = 7",
    )
    .expect("repair");
    raw_sql(
        &path,
        &format!(
            "UPDATE ledger SET action_id = '{}' WHERE seq = 1",
            plans[1].id
        ),
    )
    .expect("tamper");
    assert_eq!(store.history(&plans[1].id).await.expect("history").len(), 3);

    let v = store
        .verify_ledger()
        .expect("verify never fails on content");
    assert_broken_at(&v, 1);
    let text = export(&store);
    assert_eq!(text.lines().count(), 9, "the export keeps unreadable rows");
    assert_broken_at(&verify_text(&text), 1);
}

#[tokio::test]
async fn removed_rows_are_found_wherever_they_were() {
    // In the middle.
    let (_dir, path, store, plans) = ledger_file().await;
    drop_triggers(&path);
    raw_sql(&path, "DELETE FROM ledger WHERE seq = 5").expect("tamper");
    let v = store.verify_ledger().expect("verify");
    assert_broken_at(&v, 5);
    assert_eq!(v.rows, 8);
    assert_broken_at(&verify_text(&export(&store)), 5);

    // At the start.
    let (_dir, path, store, _) = ledger_file().await;
    drop_triggers(&path);
    raw_sql(&path, "DELETE FROM ledger WHERE seq <= 2").expect("tamper");
    assert_broken_at(&store.verify_ledger().expect("verify"), 1);
    assert_broken_at(&verify_text(&export(&store)), 1);

    // At the end: the table's high-water mark remembers; appending after it leaves a gap.
    let (_dir, path, store, _) = ledger_file().await;
    drop_triggers(&path);
    raw_sql(&path, "DELETE FROM ledger WHERE seq >= 8").expect("tamper");
    assert_broken_at(&store.verify_ledger().expect("verify"), 8);
    let seq = store
        .append(&plans[0].id, &LedgerEvent::Audited, Utc::now())
        .await
        .expect("append");
    assert_eq!(seq, 10, "sequence numbers are never reused");
    assert_broken_at(&store.verify_ledger().expect("verify"), 8);
    assert_broken_at(&verify_text(&export(&store)), 8);
}

#[tokio::test]
async fn an_edited_export_does_not_verify() {
    let (_dir, _path, store, _) = ledger_file().await;
    let text = export(&store);
    let lines: Vec<&str> = text.lines().collect();
    assert_intact(&verify_text(&text), 9);
    let join = |ls: Vec<String>| ls.join("\n") + "\n";
    let owned = || lines.iter().map(|l| l.to_string()).collect::<Vec<_>>();

    let mut edited = owned();
    edited[5] = edited[5].replace("accountEnabled set to false", "nothing was changed");
    assert_ne!(edited[5], lines[5]);
    assert_broken_at(&verify_text(&join(edited)), 6);

    let mut at_changed = owned();
    at_changed[2] = at_changed[2].replace("2024-05-02T09:30:02", "2024-05-02T09:29:02");
    assert_broken_at(&verify_text(&join(at_changed)), 3);

    let mut dropped = owned();
    dropped.remove(3);
    assert_broken_at(&verify_text(&join(dropped)), 4);

    let mut swapped = owned();
    swapped.swap(6, 7);
    assert_broken_at(&verify_text(&join(swapped)), 7);

    let mut garbage = owned();
    garbage[1] = "{\"seq\": 2, \"this is\": \"not a row\"}".into();
    let v = verify_text(&join(garbage));
    assert_broken_at(&v, 2);
    assert!(
        v.broken
            .as_ref()
            .is_some_and(|b| b.reason.contains("line 2")),
        "{v:?}"
    );

    // Field order and spacing do not matter: the hash covers the values.
    let mut reformatted = owned();
    let line: serde_json::Value = serde_json::from_str(&reformatted[0]).expect("json");
    let event = line["event"].as_object().expect("event object");
    assert!(event.len() > 1);
    let reversed = event
        .iter()
        .rev()
        .map(|(k, v)| format!("{} :  {v}", serde_json::Value::String(k.clone())))
        .collect::<Vec<_>>()
        .join(" ,\t");
    reformatted[0] = format!(
        "{{ \"hash\": {}, \"prev_hash\": null, \"event\": {{ {reversed} }}, \"at\": {}, \
         \"action_id\": {}, \"seq\": 1 }}",
        line["hash"], line["at"], line["action_id"]
    );
    assert_ne!(reformatted[0], lines[0]);
    assert_intact(&verify_text(&join(reformatted)), 9);

    // Blank lines (a trailing newline, a hand-edited file) are not rows.
    assert_intact(&verify_text(&format!("\n{text}\n\n")), 9);
}

#[tokio::test]
async fn every_event_survives_the_chain_and_the_export() {
    let store = SqliteStore::in_memory().expect("store");
    let a = planned_actions().remove(0);
    assert!(store.record(&a, Utc::now()).await.expect("record"));
    let events = ledger_events();
    for e in &events {
        store.append(&a.id, e, Utc::now()).await.expect("append");
    }
    assert_intact(&store.verify_ledger().expect("verify"), events.len() + 1);
    assert_intact(&verify_text(&export(&store)), events.len() + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn separate_connections_appending_to_one_file_keep_one_chain() {
    let (_dir, path) = temp_db();
    drop(open(&path));
    let racers = 8;
    let per_racer = 6;
    let gate = Arc::new(tokio::sync::Barrier::new(racers));
    let tasks: Vec<_> = (0..racers)
        .map(|r| {
            let path = path.clone();
            let gate = gate.clone();
            tokio::spawn(async move {
                let store = open(&path);
                let a = planned_actions().remove(0);
                gate.wait().await;
                let recorded = store.record(&a, Utc::now()).await.expect("record");
                let mut seqs = Vec::new();
                for i in 0..per_racer {
                    let e = LedgerEvent::Attempt {
                        step: Step::Verify,
                        attempt: (r * 100 + i) as u32,
                    };
                    seqs.push(store.append(&a.id, &e, Utc::now()).await.expect("append"));
                }
                (recorded, seqs)
            })
        })
        .collect();
    let mut recorded = 0;
    let mut all = Vec::new();
    for t in tasks {
        let (r, seqs) = t.await.expect("racer");
        recorded += usize::from(r);
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        all.extend(seqs);
    }
    assert_eq!(recorded, 1, "one connection records the action");
    all.sort_unstable();
    all.dedup();
    assert_eq!(
        all.len(),
        racers * per_racer,
        "sequence numbers were handed out twice"
    );
    let store = open(&path);
    assert_intact(
        &store.verify_ledger().expect("verify"),
        racers * per_racer + 1,
    );
}

// ----------------------------------------------------------------------------------------------
// The executor on the embedded ledger
// ----------------------------------------------------------------------------------------------

/// A responder that contains on the first call and reads the state it keeps.
#[derive(Default)]
struct Switch {
    contained: std::sync::Mutex<bool>,
}

#[async_trait]
impl Responder for Switch {
    fn name(&self) -> &'static str {
        "switch"
    }
    fn kinds(&self) -> Vec<ActionKind> {
        vec![ActionKind::DisableUser, ActionKind::EnableUser]
    }
    async fn capture(&self, _: ActionKind, _: &Target) -> Result<TargetState, Failure> {
        let contained = *self.contained.lock().expect("lock");
        Ok(TargetState {
            contained,
            summary: format!("accountEnabled={}", !contained),
            data: serde_json::json!({ "accountEnabled": !contained }),
        })
    }
    async fn apply(
        &self,
        _: ActionKind,
        _: &Target,
        _: &TargetState,
        _: &ActionContext,
    ) -> Result<Done, Failure> {
        *self.contained.lock().expect("lock") = true;
        Ok(Done::Applied {
            detail: "accountEnabled set to false".into(),
            reference: serde_json::Value::Null,
            reverify_at: None,
        })
    }
    async fn verify(&self, _: ActionKind, _: &Target, _: &Done) -> Result<Verification, Failure> {
        Ok(Verification::Effective {
            detail: "read back".into(),
        })
    }
    async fn revert(
        &self,
        _: ActionKind,
        _: &Target,
        prior: &TargetState,
        _: &Done,
        _: &ActionContext,
    ) -> Result<Done, Failure> {
        *self.contained.lock().expect("lock") = prior.contained;
        Ok(Done::Applied {
            detail: "accountEnabled set back".into(),
            reference: serde_json::Value::Null,
            reverify_at: None,
        })
    }
    async fn check(&self) -> PermissionReport {
        PermissionReport {
            connector: "switch".into(),
            authenticated: true,
            checked: true,
            detail: String::new(),
            granted: vec![],
            gaps: vec![],
        }
    }
}

struct NoWait;
#[async_trait]
impl Sleeper for NoWait {
    async fn sleep(&self, _: std::time::Duration) {}
}

#[tokio::test]
async fn the_executor_runs_and_undoes_an_action_on_the_file_ledger() {
    let (_dir, path) = temp_db();
    let ledger = Arc::new(open(&path));
    let responder = Arc::new(Switch::default());
    let executor = Executor {
        ledger: ledger.clone(),
        responders: vec![responder.clone() as Arc<dyn Responder>],
        clock: Arc::new(SystemClock),
        sleeper: Arc::new(NoWait),
        retry: RetryPolicy::default(),
    };
    let action = PlannedAction::new(
        "inc-0001",
        ActionKind::DisableUser,
        Target {
            kind: cordon_core::action::TargetKind::EntraUser,
            id: "alice@contoso.com".into(),
            owner: None,
            account: None,
        },
        Mode::Enforce,
        PlanStatus::Planned,
        0.97,
        "alice@contoso.com".into(),
    );
    let rec = executor.execute(&action).await.expect("execute");
    assert_eq!(rec.status, ActionStatus::Applied, "{rec:?}");
    let n = ledger.entries().await.expect("entries").len();
    // A second delivery resumes from the ledger: nothing is called or written again.
    let again = executor.execute(&action).await.expect("execute");
    assert_eq!(again, rec);
    assert_eq!(ledger.entries().await.expect("entries").len(), n);

    let undone = executor
        .undo(&action.id, "analyst@contoso.com")
        .await
        .expect("undo");
    assert_eq!(undone.status, ActionStatus::Reverted, "{undone:?}");
    assert!(!*responder.contained.lock().expect("lock"));
    drop(executor);
    drop(ledger);

    let store = open(&path);
    let history = store.history(&action.id).await.expect("history");
    assert_eq!(fold(&history), Some(undone));
    assert_intact(&store.verify_ledger().expect("verify"), history.len());
}

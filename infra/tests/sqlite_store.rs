//! The embedded store: the conformance suite on an in-memory and a file database, persistence
//! across opens and processes, corrupt rows, schema versions, and the batch insert.

use cordon_core::store::{ActionPlanStore, AlertStore, IncidentStore, StoreError, Written};
use cordon_infra::conformance::{self, alerts, incident, planned_actions};
use cordon_infra::sqlite::SCHEMA_VERSION;
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
        assert_eq!(store.put_alerts_blocking(&all[..3]).expect("batch"), vec![true; 3]);
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

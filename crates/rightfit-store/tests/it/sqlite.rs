//! What is particular to the SQLite store: files, schema history, refusing files that are not
//! ours, and messages that name the database.

use std::path::Path;

use rightfit_store::{RunStore, SqliteStore, StoreError, TrafficStore};
use rightfit_types::{RunInfo, RunStatus, TrafficFilter};
use sqlx::{Connection, SqliteConnection};

use crate::support::{candidate, file_store, key, record, running, traffic};

/// A plain connection beside the store, to look at (or tamper with) the file directly.
async fn raw(path: &Path) -> SqliteConnection {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
    SqliteConnection::connect_with(&options).await.unwrap()
}

/// `(version, installed_on)` of every applied migration.
async fn applied(path: &Path) -> Vec<(i64, String)> {
    let mut conn = raw(path).await;
    let rows = sqlx::query_as(
        "SELECT version, CAST(installed_on AS TEXT) FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    rows
}

/// A database in `dir` as a rightfit of migrations 1 to `last` left it (those migrations applied
/// by sqlx from copies of the files), and a connection to it with foreign keys on.
async fn migrated_to(dir: &Path, last: i64) -> (std::path::PathBuf, SqliteConnection) {
    let old_migrations = dir.join("migrations");
    std::fs::create_dir(&old_migrations).unwrap();
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    for entry in std::fs::read_dir(&ours).unwrap() {
        let name = entry.unwrap().file_name();
        let version: i64 = name.to_string_lossy()[..4].parse().unwrap();
        if version <= last {
            std::fs::copy(ours.join(&name), old_migrations.join(&name)).unwrap();
        }
    }
    let path = dir.join("runs.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .foreign_keys(true);
    let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::migrate::Migrator::new(old_migrations.as_path())
        .await
        .unwrap()
        .run(&mut conn)
        .await
        .unwrap();
    (path, conn)
}

#[tokio::test]
async fn open_creates_the_file_and_its_directories_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/runs.db");
    let store = SqliteStore::open(&path).await.unwrap();
    assert!(path.is_file());
    assert_eq!(store.path(), path);
    store.close().await;

    let mut conn = raw(&path).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        tables,
        [
            "_sqlx_migrations",
            "candidates",
            "gateway_keys",
            "key_buckets",
            "records",
            "response_cache",
            "runs",
            "traffic"
        ]
    );
}

#[tokio::test]
async fn reopening_keeps_data_and_does_not_run_migrations_again() {
    let (_dir, store, path) = file_store().await;
    store
        .create_run(&running("r1", "c", "2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    store.put_candidate(&candidate("r1", "m1")).await.unwrap();
    store
        .put_records(&[record("r1", "m1", "e1", 0)])
        .await
        .unwrap();
    store.close().await;
    let before = applied(&path).await;
    assert_eq!(
        before.iter().map(|m| m.0).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6, 7]
    );

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        store.run("r1").await.unwrap(),
        Some(running("r1", "c", "2026-01-01T00:00:00Z"))
    );
    assert_eq!(
        store.records("r1", None).await.unwrap(),
        vec![record("r1", "m1", "e1", 0)]
    );
    store.close().await;
    assert_eq!(applied(&path).await, before);
}

#[tokio::test]
async fn a_file_that_is_not_sqlite_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    std::fs::write(&path, "this is a text file, not a database\n".repeat(200)).unwrap();
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{} is not a rightfit database (file is not a database); move it away or pass --store",
            path.display()
        )
    );
    // The file is left as it was.
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("this is a text file")
    );
}

#[tokio::test]
async fn another_programs_sqlite_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
    sqlx::query("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(matches!(err, StoreError::ForeignDatabase { .. }), "{err:?}");
    assert!(
        err.to_string().contains("move it away or pass --store"),
        "{err}"
    );
    // Nothing of ours was added to it.
    let mut conn = raw(&path).await;
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(tables, ["photos"]);
}

#[tokio::test]
async fn a_database_from_a_newer_rightfit_is_refused() {
    let (_dir, store, path) = file_store().await;
    store.close().await;
    let mut conn = raw(&path).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', 1, x'00', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NewerSchema { version: 9999, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{} was written by a newer rightfit (schema migration 9999 is unknown to this \
             version); upgrade rightfit or pass --store to use another database",
            path.display()
        )
    );
}

#[tokio::test]
async fn a_directory_that_cannot_be_made_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    let err = SqliteStore::open(&blocker.join("runs.db"))
        .await
        .unwrap_err();
    match &err {
        StoreError::CreateDir { dir, .. } => assert_eq!(dir, &blocker),
        other => panic!("expected CreateDir, got {other:?}"),
    }
    assert!(
        err.to_string().contains(&blocker.display().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_run_names_the_database_and_the_command_to_list_runs() {
    let (_dir, store, path) = file_store().await;
    let err = store.resolve_run("nope").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "no run 'nope' in {} — see 'rightfit runs list'",
            path.display()
        )
    );
    store.close().await;
}

#[tokio::test]
async fn in_memory_stores_are_separate_and_keep_data_while_open() {
    let one = SqliteStore::open_in_memory().await.unwrap();
    let two = SqliteStore::open_in_memory().await.unwrap();
    one.create_run(&running("r1", "c", "2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    assert!(two.run("r1").await.unwrap().is_none());
    assert!(one.run("r1").await.unwrap().is_some());
    assert_eq!(one.path(), Path::new(":memory:"));
    one.close().await;
    two.close().await;
}

#[tokio::test]
async fn a_hand_edited_bad_value_is_reported_with_its_row_and_column() {
    let (_dir, store, path) = file_store().await;
    store
        .create_run(&running("r1", "c", "2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    store.close().await;
    let mut conn = raw(&path).await;
    sqlx::query("UPDATE runs SET meta = '{not json' WHERE id = 'r1'")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    let store = SqliteStore::open(&path).await.unwrap();
    let err = store.run("r1").await.unwrap_err();
    match &err {
        StoreError::Corrupt { what, field, .. } => {
            assert_eq!(what, "run 'r1'");
            assert_eq!(field, "meta");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(
        err.to_string().starts_with(&path.display().to_string()),
        "{err}"
    );
    store.close().await;
}

#[tokio::test]
async fn records_written_without_confidence_and_steps_read_back_without_them() {
    // What a rightfit from before migration 3 wrote: no confidence, no steps column values.
    let (_dir, store, path) = file_store().await;
    store
        .create_run(&running("r1", "c", "2026-01-01T00:00:00Z"))
        .await
        .unwrap();
    store.put_candidate(&candidate("r1", "m1")).await.unwrap();
    store.close().await;
    let mut conn = raw(&path).await;
    sqlx::query(
        "INSERT INTO records (run_id, candidate, example_id, position, input, output, reference, \
         score, scores, parsed, unparseable, latency_ms, ttft_ms, tokens_in, tokens_out, cost_usd, \
         calls, cached, error) VALUES ('r1', 'm1', 'e1', 0, 'null', 'yes', '\"yes\"', 1.0, '{}', \
         NULL, 0, 5.0, NULL, 1, 1, NULL, 1, 0, NULL)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let store = SqliteStore::open(&path).await.unwrap();
    let records = store.records("r1", None).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].confidence, None);
    assert!(records[0].steps.is_empty());
    assert_eq!(records[0].output.as_deref(), Some("yes"));
    store.close().await;
}

#[tokio::test]
async fn a_database_from_before_the_gateway_upgrades_and_keeps_its_runs() {
    // A database as a rightfit of migrations 1 to 3 left it: those migrations applied by sqlx
    // from a copy of the files, and a run written with plain SQL.
    let dir = tempfile::tempdir().unwrap();
    let (path, mut conn) = migrated_to(dir.path(), 3).await;
    sqlx::query(
        "INSERT INTO runs (id, component, started_at, finished_at, status, config_hash, dataset, \
         rows_used, rows_skipped, row_limit, seed, meta) VALUES ('r1', 'c', \
         '2026-01-01T00:00:00Z', NULL, 'running', 'h', 'd', 1, 0, NULL, 7, 'null')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE name = 'traffic'")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert!(tables.is_empty(), "the old database has no traffic table");
    conn.close().await.unwrap();
    assert_eq!(
        applied(&path).await.iter().map(|m| m.0).collect::<Vec<_>>(),
        [1, 2, 3]
    );

    // Opening it applies migrations 4 to 7 only; the run is still there and traffic can be
    // written.
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.run("r1").await.unwrap().unwrap().seed, 7);
    let r = traffic("req_1", "2026-11-30T00:00:00.000Z", "intent", "qwen");
    store.put_traffic(std::slice::from_ref(&r)).await.unwrap();
    store.put_key(&key("key_a", "alpha")).await.unwrap();
    store.close().await;
    assert_eq!(
        applied(&path).await.iter().map(|m| m.0).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6, 7]
    );
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        store.traffic(&TrafficFilter::default()).await.unwrap(),
        vec![r]
    );
    assert_eq!(store.keys().await.unwrap().len(), 1);
    store.close().await;
}

#[tokio::test]
async fn a_database_from_before_failed_runs_upgrades_without_losing_a_record() {
    // Migrations 1 to 4 applied from copies of the files; a run, its candidate and two records
    // written with plain SQL. Migration 5 rebuilds `runs`: nothing below it may be lost.
    let dir = tempfile::tempdir().unwrap();
    let (path, mut conn) = migrated_to(dir.path(), 4).await;
    for sql in [
        "INSERT INTO runs (id, component, started_at, finished_at, status, config_hash, dataset, \
         rows_used, rows_skipped, row_limit, seed, meta) VALUES ('r1', 'c', \
         '2026-01-01T00:00:00Z', NULL, 'running', 'h', 'd', 2, 0, NULL, 7, '{}')",
        "INSERT INTO candidates (run_id, name, model, strategy, params) VALUES ('r1', 'm1', 'm', \
         'zero-shot', '{}')",
        "INSERT INTO records (run_id, candidate, example_id, position, input, output, reference, \
         score, scores, parsed, unparseable, latency_ms, ttft_ms, tokens_in, tokens_out, cost_usd, \
         calls, cached, error) VALUES ('r1', 'm1', 'e1', 0, 'null', 'yes', '\"yes\"', 1.0, '{}', \
         NULL, 0, 5.0, NULL, 1, 1, NULL, 1, 0, NULL), ('r1', 'm1', 'e2', 1, 'null', 'no', \
         '\"yes\"', 0.0, '{}', NULL, 0, 6.0, NULL, 1, 1, NULL, 1, 0, NULL)",
    ] {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();

    let store = SqliteStore::open(&path).await.unwrap();
    let run = store.run("r1").await.unwrap().expect("the run survives");
    assert_eq!((run.seed, run.status), (7, RunStatus::Running));
    assert_eq!(store.candidates("r1").await.unwrap().len(), 1);
    let records = store.records("r1", None).await.unwrap();
    let ids: Vec<&str> = records.iter().map(|r| r.example_id.as_str()).collect();
    assert_eq!(ids, ["e1", "e2"]);
    // The new status is accepted, and the foreign keys still hold: deleting the run deletes
    // its candidates and records.
    let failed = RunInfo {
        status: RunStatus::Failed,
        ..run
    };
    store.update_run(&failed).await.unwrap();
    assert_eq!(
        store.run("r1").await.unwrap().unwrap().status,
        RunStatus::Failed
    );
    assert!(store.delete_run("r1").await.unwrap());
    store.close().await;
    let mut conn = raw(&path).await;
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM records")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE name LIKE 'runs_before%'")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert!(tables.is_empty(), "{tables:?}");
    conn.close().await.unwrap();
}

#[tokio::test]
async fn a_traffic_record_that_does_not_read_back_is_skipped_not_fatal() {
    let (_dir, store, path) = file_store().await;
    let records = [
        traffic("req_1", "2026-11-30T00:00:01.000Z", "intent", "a"),
        traffic("req_2", "2026-11-30T00:00:02.000Z", "intent", "a"),
        traffic("req_3", "2026-11-30T00:00:03.000Z", "intent", "a"),
    ];
    store.put_traffic(&records).await.unwrap();
    // Damage one row behind the store's back: input that is not JSON, and JSON nested past what
    // serde_json reads (as an older rightfit could have written).
    let mut conn = raw(&path).await;
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    for (id, input) in [("req_2", "{not json".to_owned()), ("req_3", deep)] {
        sqlx::query("UPDATE traffic SET input = ? WHERE id = ?")
            .bind(input)
            .bind(id)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.close().await.unwrap();
    let back = store.traffic(&TrafficFilter::default()).await.unwrap();
    assert_eq!(back, vec![records[0].clone()]);
    // The count is of rows, so a listing can say that some were not shown.
    assert_eq!(
        store
            .count_traffic(&TrafficFilter::default())
            .await
            .unwrap(),
        3
    );
    store.close().await;
}

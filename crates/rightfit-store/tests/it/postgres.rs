//! What is particular to Postgres: reopening, refusing another program's database or a newer
//! schema, and errors that name the database without its password.

use rightfit_store::{PostgresStore, RunStore, StoreError};
use rightfit_testkit::postgres::TestDatabase;
use sqlx::{Connection, Executor, PgConnection};

use crate::support::run;

#[tokio::test]
async fn reopening_keeps_data_and_applies_nothing_again() {
    let db = TestDatabase::create().await;
    let store = PostgresStore::open(db.url()).await.unwrap();
    store
        .create_run(&run("r1", "intent", "2026-11-30T00:00:00Z"))
        .await
        .unwrap();
    store.close().await;
    let store = PostgresStore::open(db.url()).await.unwrap();
    assert_eq!(store.run("r1").await.unwrap().unwrap().seed, 42);
    store.close().await;
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(applied, [1]);
}

#[tokio::test]
async fn another_programs_database_is_refused_and_left_alone() {
    let db = TestDatabase::create().await;
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    conn.execute("CREATE TABLE invoices (id INT PRIMARY KEY)")
        .await
        .unwrap();
    let err = PostgresStore::open(db.url()).await.unwrap_err();
    assert!(matches!(err, StoreError::ForeignDatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("not a rightfit database"), "{err}");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(tables, ["invoices"]);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let db = TestDatabase::create().await;
    PostgresStore::open(db.url()).await.unwrap().close().await;
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    conn.execute(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (999, 'from the future', TRUE, '\\x00', 0)",
    )
    .await
    .unwrap();
    let err = PostgresStore::open(db.url()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NewerSchema { version: 999, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_named_without_the_password() {
    // Port 9 (discard) on loopback: nothing listens there.
    let url = "postgres://app:hunter2@127.0.0.1:9/rightfit?connect_timeout=2";
    let err = PostgresStore::open(url).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(
        text.contains("postgres://app:***@127.0.0.1:9/rightfit"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}

#[tokio::test]
async fn a_missing_database_says_so() {
    let admin = rightfit_testkit::postgres::admin_url();
    let (server, _) = admin.rsplit_once('/').unwrap();
    let err = PostgresStore::open(&format!("{server}/rf_no_such_database"))
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("rf_no_such_database"), "{text}");
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
}

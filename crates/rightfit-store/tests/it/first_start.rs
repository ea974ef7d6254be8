//! Several processes (here: independent connection pools) opening one new database file at the
//! same moment: each must find the schema created exactly once, none may fail with "database is
//! locked" or "table runs already exists".

use rightfit_store::{RunStore, SqliteStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_opens_of_a_new_file_all_succeed() {
    let dir = tempfile::tempdir().expect("dir");
    for round in 0..12 {
        let path = dir.path().join(format!("new-{round}.db"));
        let opens = (0..4).map(|_| {
            let path = path.clone();
            tokio::spawn(async move { SqliteStore::open(&path).await })
        });
        let stores = futures::future::join_all(opens).await;
        for (i, store) in stores.into_iter().enumerate() {
            let store = store
                .expect("task")
                .unwrap_or_else(|e| panic!("round {round}, open {i}: {e}"));
            // The schema is whole: a query over it works.
            store.runs(None, 1).await.expect("runs");
            store.close().await;
        }
    }
}

/// The same on Postgres: sqlx's advisory lock makes the four migrations take turns.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_opens_of_an_empty_postgres_database_all_succeed() {
    for round in 0..4 {
        let db = rightfit_testkit::postgres::TestDatabase::create().await;
        let opens = (0..4).map(|_| {
            let url = db.url().to_owned();
            tokio::spawn(async move { rightfit_store::PostgresStore::open(&url).await })
        });
        let stores = futures::future::join_all(opens).await;
        for (i, store) in stores.into_iter().enumerate() {
            let store = store
                .expect("task")
                .unwrap_or_else(|e| panic!("round {round}, open {i}: {e}"));
            store.runs(None, 1).await.expect("runs");
            store.close().await;
        }
    }
}

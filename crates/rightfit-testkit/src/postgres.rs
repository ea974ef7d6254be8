//! Databases of their own for tests, on the PostgreSQL server `scripts/test-postgres` starts
//! (its admin URL in `RIGHTFIT_TEST_POSTGRES`): [`TestDatabase::create`] makes a new, empty
//! database with a unique name and drops it (closing any connection left) when dropped.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Connection, Executor, PgConnection};

/// A database made for one test.
#[derive(Debug)]
pub struct TestDatabase {
    admin: String,
    name: String,
    url: String,
}

/// Tells databases made in one process apart.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// The admin URL from `RIGHTFIT_TEST_POSTGRES`.
///
/// # Panics
/// When it is unset: run `scripts/test` (or `eval "$(scripts/test-tools)"`), which starts the
/// server and sets it.
pub fn admin_url() -> String {
    std::env::var(rightfit_config::env::TEST_POSTGRES).unwrap_or_else(|_| {
        panic!(
            "{} is not set: run scripts/test, or eval \"$(scripts/test-tools)\" to start the test \
             PostgreSQL server",
            rightfit_config::env::TEST_POSTGRES
        )
    })
}

impl TestDatabase {
    /// Creates an empty database on the test server.
    ///
    /// # Panics
    /// When the server cannot be reached or refuses (the message says which URL).
    pub async fn create() -> Self {
        let admin = admin_url();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!(
            "rf_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            nanos % 1_000_000_000
        );
        let mut conn = PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL at {admin}: {e}"));
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name} at {admin}: {e}"));
        let _ = conn.close().await;
        let url = match admin.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("{admin}: expected a URL ending in /DATABASE"),
        };
        Self { admin, name, url }
    }

    /// The database's URL (`postgres://…/rf_test_…`).
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop cannot await, and may run inside a runtime: a thread with its own runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&admin).await.ok()?;
                conn.execute(sql.as_str()).await.ok()?;
                conn.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            tracing::warn!("test database {} was not dropped", self.name);
        }
    }
}

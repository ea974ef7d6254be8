//! [`SqliteStore`]: the [`RunStore`] (and the [`crate::TrafficStore`], in `traffic.rs`) kept in
//! one SQLite file (or in memory, for tests).
//!
//! Opening sets the connection up (WAL journal, `synchronous=NORMAL`, foreign keys, a busy
//! timeout) and brings the schema up to date with the migrations embedded from `migrations/`.
//! Queries are checked at run time (`sqlx::query`), so building needs no database.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use rightfit_types::{CachedResponse, CandidateInfo, ExampleRecord, RunInfo};
use sqlx::error::ErrorKind;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::backend::RunStore;
use crate::error::StoreError;
use crate::rows::{
    CANDIDATE_COLUMNS, CacheRow, CandidateRow, RUN_COLUMNS, RecordRow, RunRow, bind_candidate,
    bind_record, bind_run,
};
use crate::shared::{migrate_error, missing_parent, record_upsert, records_select};

/// Takes the exclusive lock that serialises migrations of the database at `path` (waiting for
/// another process that holds it); released when the returned file is dropped.
async fn migration_lock(path: &Path) -> Result<std::fs::File, StoreError> {
    let lock = SqliteStore::migration_lock_path(path);
    let err = |source| StoreError::MigrationLock {
        path: path.to_path_buf(),
        lock: lock.clone(),
        source,
    };
    let at = lock.clone();
    // Blocking: off the async threads, so that a holder in this process can finish.
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&at)?;
        file.lock()?;
        Ok(file)
    })
    .await
    .map_err(|e| err(std::io::Error::other(e)))?
    .map_err(err)
}

/// The schema, embedded at build time from `migrations/`.
static MIGRATOR: Migrator = sqlx::migrate!();

/// How long a statement waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections to a database file: readers run side by side under WAL, writers take turns.
const MAX_CONNECTIONS: u32 = 4;

/// SQLite's result code for "file is not a database".
const SQLITE_NOTADB: &str = "26";

/// Runs newest first. `started_at` has whole seconds, so two runs started in one second are
/// ordered by when they were created (SQLite's rowid), not by their ids' random suffixes.
const NEWEST_FIRST: &str = "ORDER BY started_at DESC, rowid DESC";

/// A [`RunStore`] in SQLite.
#[derive(Debug)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    /// The database file, or `:memory:`; every error names it.
    pub(crate) path: PathBuf,
}

impl SqliteStore {
    /// Opens the database at `path`, creating it (and its directory) if missing, and brings its
    /// schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|source| StoreError::CreateDir {
                    dir: dir.to_path_buf(),
                    source,
                })?;
        }
        // Processes opening a new store at the same moment would each apply the migrations
        // (sqlx takes no lock on SQLite): one wins and the others fail with "table runs already
        // exists" or a duplicate migration version. An exclusive lock on a file beside the
        // database makes them take turns; each then finds what the first one created. (A file
        // of its own: the database's locks are SQLite's, and mixing lock kinds on one file is
        // not portable.)
        let _migrating = migration_lock(path).await?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|source| open_error(path, source))?;
        Self::set_up(pool, path.to_path_buf()).await
    }

    /// The file whose lock serialises migrations of the database at `path`: `<path>.lock`.
    pub fn migration_lock_path(path: &Path) -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Opens a new, empty database that lives in memory until [`SqliteStore::close`] (for
    /// tests and dry runs).
    pub async fn open_in_memory() -> Result<Self, StoreError> {
        let path = PathBuf::from(":memory:");
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|source| open_error(&path, source))?
            .foreign_keys(true);
        // One connection that never closes: the database lives as long as a connection to it.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|source| open_error(&path, source))?;
        Self::set_up(pool, path).await
    }

    /// Closes every connection, finishing the write-ahead log.
    pub async fn close(self) {
        self.pool.close().await;
    }

    /// The database file (or `:memory:`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn set_up(pool: SqlitePool, path: PathBuf) -> Result<Self, StoreError> {
        let store = Self { pool, path };
        if let Err(err) = store.migrate().await {
            store.pool.close().await;
            return Err(err);
        }
        Ok(store)
    }

    /// Refuses another program's database, then applies the migrations not yet applied.
    async fn migrate(&self) -> Result<(), StoreError> {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|source| open_error(&self.path, source))?;
        if !tables.is_empty() && !tables.iter().any(|t| t == "_sqlx_migrations") {
            return Err(StoreError::ForeignDatabase {
                path: self.path.clone(),
            });
        }
        MIGRATOR.run(&self.pool).await.map_err(|err| match err {
            MigrateError::Execute(source) if is_not_a_database(&source) => {
                StoreError::NotADatabase {
                    path: self.path.clone(),
                }
            }
            err => migrate_error(&self.path, err),
        })
    }

    /// Wraps a sqlx error with what the store was doing.
    pub(crate) fn query_error(
        &self,
        action: impl Into<String>,
    ) -> impl FnOnce(sqlx::Error) -> StoreError {
        let path = self.path.clone();
        let action = action.into();
        move |source| StoreError::Query {
            path,
            action,
            source,
        }
    }

    fn run_not_found(&self, id: &str) -> StoreError {
        StoreError::RunNotFound {
            path: self.path.clone(),
            id: id.to_owned(),
        }
    }

    /// Runs of one component or all, newest first; `extra` narrows them further.
    async fn select_runs(
        &self,
        component: Option<&str>,
        extra: &str,
        limit: usize,
    ) -> Result<Vec<RunInfo>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let filter = if component.is_some() {
            "WHERE component = ?"
        } else {
            "WHERE 1"
        };
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs {filter} {extra} {NEWEST_FIRST} LIMIT ?");
        let mut query = sqlx::query_as::<_, RunRow>(&sql);
        if let Some(component) = component {
            query = query.bind(component);
        }
        let rows = query
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(self.query_error("list runs"))?;
        rows.into_iter().map(|row| row.decode(&self.path)).collect()
    }
}

#[async_trait]
impl RunStore for SqliteStore {
    fn location(&self) -> &Path {
        &self.path
    }

    async fn shut_down(&self) {
        self.pool.close().await;
    }

    async fn create_run(&self, run: &RunInfo) -> Result<(), StoreError> {
        let row = RunRow::encode(run)?;
        let sql = format!("INSERT INTO runs ({RUN_COLUMNS}) VALUES ({})", marks(12));
        let result = bind_run!(sqlx::query(&sql), bind, row)
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if kind(&err) == Some(ErrorKind::UniqueViolation) => {
                Err(StoreError::DuplicateRun {
                    path: self.path.clone(),
                    id: run.id.clone(),
                })
            }
            Err(err) => Err(self.query_error(format!("save run '{}'", run.id))(err)),
        }
    }

    async fn update_run(&self, run: &RunInfo) -> Result<(), StoreError> {
        let row = RunRow::encode(run)?;
        let result = sqlx::query(
            "UPDATE runs SET status = ?, finished_at = ?, rows_used = ?, rows_skipped = ?, \
             meta = ? WHERE id = ?",
        )
        .bind(&row.status)
        .bind(&row.finished_at)
        .bind(row.rows_used)
        .bind(row.rows_skipped)
        .bind(&row.meta)
        .bind(&row.id)
        .execute(&self.pool)
        .await
        .map_err(self.query_error(format!("update run '{}'", run.id)))?;
        if result.rows_affected() == 0 {
            return Err(self.run_not_found(&run.id));
        }
        Ok(())
    }

    async fn run(&self, id: &str) -> Result<Option<RunInfo>, StoreError> {
        let row =
            sqlx::query_as::<_, RunRow>(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(self.query_error(format!("read run '{id}'")))?;
        row.map(|row| row.decode(&self.path)).transpose()
    }

    async fn ids_starting(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        // substr() rather than LIKE: ids may hold '_' and '%', which LIKE would take as wildcards.
        sqlx::query_scalar(&format!(
            "SELECT id FROM runs WHERE substr(id, 1, length(?)) = ? {NEWEST_FIRST}"
        ))
        .bind(prefix)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await
        .map_err(self.query_error(format!("look up runs starting '{prefix}'")))
    }

    async fn runs(
        &self,
        component: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunInfo>, StoreError> {
        self.select_runs(component, "", limit).await
    }

    async fn latest_unfinished(&self, component: &str) -> Result<Option<RunInfo>, StoreError> {
        Ok(self
            .select_runs(Some(component), "AND status <> 'finished'", 1)
            .await?
            .pop())
    }

    async fn delete_run(&self, id: &str) -> Result<bool, StoreError> {
        // Candidates and records go with it: ON DELETE CASCADE, foreign keys are on.
        let result = sqlx::query("DELETE FROM runs WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(self.query_error(format!("delete run '{id}'")))?;
        Ok(result.rows_affected() > 0)
    }

    async fn put_candidate(&self, c: &CandidateInfo) -> Result<(), StoreError> {
        let row = CandidateRow::encode(c)?;
        let result = bind_candidate!(
            sqlx::query(&format!(
                "INSERT INTO candidates ({CANDIDATE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (run_id, name) DO UPDATE SET model = excluded.model, \
             strategy = excluded.strategy, params = excluded.params, \
             peak_memory_bytes = excluded.peak_memory_bytes, \
             model_memory_bytes = excluded.model_memory_bytes"
            )),
            bind,
            row
        )
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if kind(&err) == Some(ErrorKind::ForeignKeyViolation) => {
                Err(StoreError::MissingParent {
                    path: self.path.clone(),
                    what: format!("candidate '{}'", c.name),
                    run_id: c.run_id.clone(),
                    candidate: None,
                })
            }
            Err(err) => Err(self.query_error(format!(
                "save candidate '{}' of run '{}'",
                c.name, c.run_id
            ))(err)),
        }
    }

    async fn candidates(&self, run_id: &str) -> Result<Vec<CandidateInfo>, StoreError> {
        let rows = sqlx::query_as::<_, CandidateRow>(&format!(
            "SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE run_id = ? ORDER BY seq"
        ))
        .bind(run_id)
        .fetch_all(&self.pool)
        .await
        .map_err(self.query_error(format!("read the candidates of run '{run_id}'")))?;
        rows.into_iter().map(|row| row.decode(&self.path)).collect()
    }

    async fn put_records(&self, records: &[ExampleRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        // Check every value before taking the write lock.
        let rows = records
            .iter()
            .map(RecordRow::encode)
            .collect::<Result<Vec<_>, _>>()?;
        let action = || format!("save {} records", rows.len());
        // IMMEDIATE takes the write lock up front, so the busy timeout applies to it.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(self.query_error(action()))?;
        let sql = record_upsert(question);
        for row in &rows {
            let result = bind_record!(sqlx::query(&sql), bind, row)
                .execute(&mut *tx)
                .await;
            // Returning drops `tx`, which rolls the batch back.
            match result {
                Ok(_) => {}
                Err(err) if kind(&err) == Some(ErrorKind::ForeignKeyViolation) => {
                    return Err(missing_parent(&self.path, row));
                }
                Err(err) => return Err(self.query_error(action())(err)),
            }
        }
        tx.commit().await.map_err(self.query_error(action()))
    }

    async fn records(
        &self,
        run_id: &str,
        candidate: Option<&str>,
    ) -> Result<Vec<ExampleRecord>, StoreError> {
        let sql = records_select(candidate.is_some(), question);
        let mut query = sqlx::query_as::<_, RecordRow>(&sql).bind(run_id);
        if let Some(candidate) = candidate {
            query = query.bind(candidate);
        }
        let rows = query
            .fetch_all(&self.pool)
            .await
            .map_err(self.query_error(format!("read the records of run '{run_id}'")))?;
        rows.into_iter().map(|row| row.decode(&self.path)).collect()
    }

    async fn done(&self, run_id: &str) -> Result<HashSet<(String, String)>, StoreError> {
        let pairs: Vec<(String, String)> = sqlx::query_as(
            "SELECT candidate, example_id FROM records WHERE run_id = ? AND error IS NULL",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await
        .map_err(self.query_error(format!("read which examples of run '{run_id}' are done")))?;
        Ok(pairs.into_iter().collect())
    }

    async fn cache_get(&self, key: &str) -> Result<Option<CachedResponse>, StoreError> {
        let row = sqlx::query_as::<_, CacheRow>(
            "SELECT key, provider, response, created_at FROM response_cache WHERE key = ?",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(self.query_error(format!("read cached response '{key}'")))?;
        row.map(|row| row.decode(&self.path)).transpose()
    }

    async fn cache_put(&self, entry: &CachedResponse) -> Result<(), StoreError> {
        let row = CacheRow::encode(entry);
        sqlx::query(
            "INSERT INTO response_cache (key, provider, response, created_at) \
             VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET provider = excluded.provider, \
             response = excluded.response, created_at = excluded.created_at",
        )
        .bind(&row.key)
        .bind(&row.provider)
        .bind(&row.response)
        .bind(&row.created_at)
        .execute(&self.pool)
        .await
        .map_err(self.query_error(format!("save cached response '{}'", entry.key)))?;
        Ok(())
    }
}

/// SQLite's placeholder: `?` for every value.
pub(crate) fn question(_: usize) -> String {
    "?".to_owned()
}

/// `n` SQLite placeholders: `?, ?, …`.
pub(crate) fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// The kind of a database error, if it is one.
pub(crate) fn kind(err: &sqlx::Error) -> Option<ErrorKind> {
    err.as_database_error().map(|db| db.kind())
}

fn is_not_a_database(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| code == SQLITE_NOTADB)
}

/// An error while connecting: a file that is not SQLite says so, anything else says "open".
fn open_error(path: &Path, source: sqlx::Error) -> StoreError {
    if is_not_a_database(&source) {
        StoreError::NotADatabase {
            path: path.to_path_buf(),
        }
    } else {
        StoreError::Open {
            path: path.to_path_buf(),
            source,
        }
    }
}

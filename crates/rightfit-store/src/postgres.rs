//! [`PostgresStore`]: the [`RunStore`] (and the [`crate::TrafficStore`], in `postgres/traffic.rs`)
//! in a PostgreSQL database, for several processes on several machines sharing one store.
//!
//! The schema is `migrations-postgres/` (the SQLite migrations' tables, columns and meanings; see
//! its first file for the differences). sqlx takes a session-level advisory lock while it
//! migrates, so processes starting together on an empty database take turns and each finds
//! what the first created. Every error names the database by its URL without the password.

mod traffic;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use rightfit_types::{CachedResponse, CandidateInfo, ExampleRecord, RunInfo};
use sqlx::Connection;
use sqlx::error::ErrorKind;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use crate::backend::RunStore;
use crate::error::StoreError;
use crate::rows::{
    CANDIDATE_COLUMNS, CacheRow, CandidateRow, RUN_COLUMNS, RecordRow, RunRow, bind_candidate,
    bind_record, bind_run,
};
use crate::shared::{migrate_error, missing_parent, record_upsert, records_select};
use crate::sqlite::kind;

/// The schema, embedded at build time from `migrations-postgres/`.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations-postgres");

/// Connections per process: the gateway's writer, key refreshes and requests that check budgets
/// and rate limits share them. A replica set of N processes uses up to N times this many.
const MAX_CONNECTIONS: u32 = 8;

/// How long a query waits for a free connection (or a new one) before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs newest first: runs started in the same second by when they were created.
const NEWEST_FIRST: &str = "ORDER BY started_at DESC, seq DESC";

/// Whether `location` names a Postgres database (`postgres://…` or `postgresql://…`) rather than
/// a SQLite file.
pub use rightfit_config::project::is_database_url as is_postgres_url;

/// Postgres's placeholder for the `i`th value.
pub(crate) fn dollar(i: usize) -> String {
    format!("${i}")
}

/// `n` Postgres placeholders from `$from`: `$from, $from+1, …`.
fn marks(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A [`RunStore`] in PostgreSQL.
#[derive(Debug)]
pub struct PostgresStore {
    pub(crate) pool: PgPool,
    /// The URL without its password; every error names it.
    pub(crate) path: PathBuf,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`, with
    /// any of libpq's parameters such as `sslmode=require`) and brings its schema up to date.
    /// The database must exist; its tables are made on first use.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let shown = PathBuf::from(redact(url));
        let options = PgConnectOptions::from_str(url).map_err(|source| StoreError::Open {
            path: shown.clone(),
            source,
        })?;
        // One connection first: a pool that cannot connect says only that it timed out, where
        // this says why (refused, unknown host, bad password, no such database).
        let first = PgConnection::connect_with(&options)
            .await
            .map_err(|source| StoreError::Open {
                path: shown.clone(),
                source,
            })?;
        let _ = first.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: shown.clone(),
                source,
            })?;
        let store = Self { pool, path: shown };
        if let Err(err) = store.migrate().await {
            store.pool.close().await;
            return Err(err);
        }
        Ok(store)
    }

    /// Closes every connection.
    pub async fn close(self) {
        self.pool.close().await;
    }

    /// The database's URL without its password.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Refuses another program's database, then applies the migrations not yet applied (under
    /// sqlx's advisory lock).
    async fn migrate(&self) -> Result<(), StoreError> {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|source| StoreError::Open {
            path: self.path.clone(),
            source,
        })?;
        if !tables.is_empty() && !tables.iter().any(|t| t == "_sqlx_migrations") {
            return Err(StoreError::ForeignDatabase {
                path: self.path.clone(),
            });
        }
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|err| migrate_error(&self.path, err))
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
        let (filter, limit_mark) = if component.is_some() {
            ("WHERE component = $1", "$2")
        } else {
            ("WHERE TRUE", "$1")
        };
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs {filter} {extra} {NEWEST_FIRST} LIMIT {limit_mark}"
        );
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

/// `url` without its password, to name the database in messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The credentials end at the last '@' before the path.
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or_default();
            let (user, sep) = if rest[..at].contains(':') {
                (user, ":***@")
            } else {
                (user, "@")
            };
            format!("{scheme}://{user}{sep}{}", &rest[at + 1..])
        }
        None => url.to_owned(),
    }
}

#[async_trait]
impl RunStore for PostgresStore {
    fn location(&self) -> &Path {
        &self.path
    }

    async fn shut_down(&self) {
        self.pool.close().await;
    }

    async fn create_run(&self, run: &RunInfo) -> Result<(), StoreError> {
        let row = RunRow::encode(run)?;
        let sql = format!("INSERT INTO runs ({RUN_COLUMNS}) VALUES ({})", marks(1, 12));
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
            "UPDATE runs SET status = $1, finished_at = $2, rows_used = $3, rows_skipped = $4, \
             meta = $5 WHERE id = $6",
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
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1");
        let row = sqlx::query_as::<_, RunRow>(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(self.query_error(format!("read run '{id}'")))?;
        row.map(|row| row.decode(&self.path)).transpose()
    }

    async fn ids_starting(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        // substr() rather than LIKE: ids may hold '_' and '%', which LIKE would take as wildcards.
        sqlx::query_scalar(&format!(
            "SELECT id FROM runs WHERE substr(id, 1, length($1)) = $1 {NEWEST_FIRST}"
        ))
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
        // Candidates and records go with it: ON DELETE CASCADE.
        let result = sqlx::query("DELETE FROM runs WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(self.query_error(format!("delete run '{id}'")))?;
        Ok(result.rows_affected() > 0)
    }

    async fn put_candidate(&self, c: &CandidateInfo) -> Result<(), StoreError> {
        let row = CandidateRow::encode(c)?;
        let sql = format!(
            "INSERT INTO candidates ({CANDIDATE_COLUMNS}) VALUES ({}) \
             ON CONFLICT (run_id, name) DO UPDATE SET model = excluded.model, \
             strategy = excluded.strategy, params = excluded.params, \
             peak_memory_bytes = excluded.peak_memory_bytes, \
             model_memory_bytes = excluded.model_memory_bytes",
            marks(1, 7)
        );
        let result = bind_candidate!(sqlx::query(&sql), bind, row)
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
            "SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE run_id = $1 ORDER BY seq"
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
        let rows = records
            .iter()
            .map(RecordRow::encode)
            .collect::<Result<Vec<_>, _>>()?;
        let action = || format!("save {} records", rows.len());
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(self.query_error(action()))?;
        let sql = record_upsert(dollar);
        // One statement per record (a later one of the same example replaces an earlier one,
        // as on SQLite); a failure names its record, and dropping `tx` rolls the batch back.
        for row in &rows {
            let result = bind_record!(sqlx::query(&sql), bind, row)
                .execute(&mut *tx)
                .await;
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
        let sql = records_select(candidate.is_some(), dollar);
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
            "SELECT candidate, example_id FROM records WHERE run_id = $1 AND error IS NULL",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await
        .map_err(self.query_error(format!("read which examples of run '{run_id}' are done")))?;
        Ok(pairs.into_iter().collect())
    }

    async fn cache_get(&self, key: &str) -> Result<Option<CachedResponse>, StoreError> {
        let row = sqlx::query_as::<_, CacheRow>(
            "SELECT key, provider, response, created_at FROM response_cache WHERE key = $1",
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
             VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE SET \
             provider = excluded.provider, response = excluded.response, \
             created_at = excluded.created_at",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_the_password_and_nothing_else() {
        assert_eq!(
            redact("postgres://app:s3cr@t@db.example:5432/rightfit?sslmode=require"),
            "postgres://app:***@db.example:5432/rightfit?sslmode=require"
        );
        assert_eq!(
            redact("postgresql://app@localhost/rf"),
            "postgresql://app@localhost/rf"
        );
        assert_eq!(redact("postgres://localhost/rf"), "postgres://localhost/rf");
        assert!(is_postgres_url("postgresql://x/y") && !is_postgres_url(".rightfit/runs.db"));
        assert_eq!(marks(3, 3), "$3, $4, $5");
    }
}

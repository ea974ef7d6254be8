//! The store: runs, their candidates, one record per (candidate, example), and the response cache.
//!
//! This crate owns how evaluation results are kept on disk. The evaluator (`rightfit-eval`)
//! writes: it creates a run, puts its candidates, saves records in batches as examples finish,
//! asks [`RunStore::done`] what to skip when resuming, and caches model answers. The `runs`
//! commands of the CLI, the reports (`rightfit-report`) and the decision engine read runs,
//! candidates and records back. All of them talk to the [`RunStore`] trait, not to SQLite, so
//! another backend (Postgres) can come later; [`SqliteStore`] is the one there is now.
//!
//! Types come from `rightfit-types` ([`RunInfo`], [`CandidateInfo`], [`ExampleRecord`],
//! [`CachedResponse`]). Numbers must be storable: floats finite (scores, latencies and costs are
//! in practice; a NaN or infinity is refused with [`StoreError::InvalidValue`] rather than
//! silently turned into NULL), whole numbers at most `i64::MAX`, except the run's seed, which
//! keeps every `u64`.
//!
//! [`RunInfo`]: rightfit_types::RunInfo
//! [`CandidateInfo`]: rightfit_types::CandidateInfo
//! [`ExampleRecord`]: rightfit_types::ExampleRecord
//! [`CachedResponse`]: rightfit_types::CachedResponse

mod error;
mod rows;
mod sqlite;

use std::collections::HashSet;

use async_trait::async_trait;
use rightfit_types::{CachedResponse, CandidateInfo, ExampleRecord, RunInfo};

pub use error::StoreError;
pub use sqlite::SqliteStore;

/// How many matching ids [`StoreError::AmbiguousRun`] lists before saying how many more there are.
pub const MAX_LISTED_MATCHES: usize = 10;

/// What [`RunStore::resolve_run`] takes to mean the newest run.
pub const LATEST: &str = "latest";

/// Where runs, candidates, records and cached responses are kept.
///
/// Runs are listed newest first: by `started_at` (RFC 3339 UTC, so text order is time order),
/// then by id.
#[async_trait]
pub trait RunStore: Send + Sync + std::fmt::Debug {
    /// Stores a new run. Fails with [`StoreError::DuplicateRun`] if its id is taken.
    async fn create_run(&self, run: &RunInfo) -> Result<(), StoreError>;

    /// Saves what changes while a run goes on: status, `finished_at`, `rows_used`,
    /// `rows_skipped` and `meta`. The other fields are fixed when the run is created and are
    /// left as stored. Fails with [`StoreError::RunNotFound`] if the run is not stored.
    async fn update_run(&self, run: &RunInfo) -> Result<(), StoreError>;

    /// The run with exactly this id, if stored.
    async fn run(&self, id: &str) -> Result<Option<RunInfo>, StoreError>;

    /// The run a person means: [`LATEST`] (the newest run), an exact id, or a prefix of exactly
    /// one run's id. Fails with [`StoreError::NoRuns`], [`StoreError::RunNotFound`] or
    /// [`StoreError::AmbiguousRun`] (which lists the matches).
    async fn resolve_run(&self, id_or_prefix: &str) -> Result<RunInfo, StoreError>;

    /// At most `limit` runs, newest first, of one component or of all.
    async fn runs(&self, component: Option<&str>, limit: usize)
    -> Result<Vec<RunInfo>, StoreError>;

    /// The newest run of `component` that did not finish (running or interrupted), to resume.
    async fn latest_unfinished(&self, component: &str) -> Result<Option<RunInfo>, StoreError>;

    /// Deletes a run with its candidates and records; `false` if it was not stored.
    async fn delete_run(&self, id: &str) -> Result<bool, StoreError>;

    /// Stores a candidate, or replaces the one of the same run and name (which keeps its place
    /// in the order). The run must be stored ([`StoreError::MissingParent`] otherwise).
    async fn put_candidate(&self, c: &CandidateInfo) -> Result<(), StoreError>;

    /// A run's candidates, in the order they were first put.
    async fn candidates(&self, run_id: &str) -> Result<Vec<CandidateInfo>, StoreError>;

    /// Stores records in one transaction: all or none. A record replaces the stored one of the
    /// same run, candidate and example. Each record's run and candidate must be stored
    /// ([`StoreError::MissingParent`] otherwise); every number is checked before anything is
    /// written.
    async fn put_records(&self, records: &[ExampleRecord]) -> Result<(), StoreError>;

    /// A run's records, of one candidate or of all: by candidate (in the order candidates were
    /// put), then by position.
    async fn records(
        &self,
        run_id: &str,
        candidate: Option<&str>,
    ) -> Result<Vec<ExampleRecord>, StoreError>;

    /// The (candidate, example id) pairs of a run that have a record without an error: what a
    /// resume skips. Failed examples are left out so that a resume tries them again.
    async fn done(&self, run_id: &str) -> Result<HashSet<(String, String)>, StoreError>;

    /// The cached response under `key`, if any.
    async fn cache_get(&self, key: &str) -> Result<Option<CachedResponse>, StoreError>;

    /// Stores a response under its key, replacing any entry already there.
    async fn cache_put(&self, entry: &CachedResponse) -> Result<(), StoreError>;
}

//! What a storage backend implements: [`RunStore`] for evaluation runs and the response cache,
//! [`TrafficStore`] for the gateway's traffic and keys. [`crate::SqliteStore`] is the one there
//! is now.

use std::collections::HashSet;

use async_trait::async_trait;
use rightfit_types::{
    CachedResponse, CandidateInfo, ExampleRecord, GatewayKey, RunInfo, TrafficFilter, TrafficRecord,
};

use crate::error::StoreError;

/// How many matching ids [`StoreError::AmbiguousRun`] lists before saying how many more there are.
pub const MAX_LISTED_MATCHES: usize = 10;

/// What [`RunStore::resolve_run`] takes to mean the newest run.
pub const LATEST: &str = "latest";

/// The one id `prefix` means among the ids that start with it (newest first): fails with
/// [`StoreError::RunNotFound`] when there is none and [`StoreError::AmbiguousRun`] (listing them)
/// when there are several.
pub(crate) fn resolve_matches(
    path: &std::path::Path,
    prefix: &str,
    matches: Vec<String>,
) -> Result<String, StoreError> {
    match matches.len() {
        0 => Err(StoreError::RunNotFound {
            path: path.to_path_buf(),
            id: prefix.to_owned(),
        }),
        1 => Ok(matches.into_iter().next().unwrap_or_default()),
        total => Err(StoreError::AmbiguousRun {
            path: path.to_path_buf(),
            prefix: prefix.to_owned(),
            total,
            matches: matches.into_iter().take(MAX_LISTED_MATCHES).collect(),
        }),
    }
}

/// Where runs, candidates, records and cached responses are kept.
///
/// Runs are listed newest first: by `started_at` (RFC 3339 UTC, so text order is time order),
/// then, for runs started in the same second, the one created later first.
#[async_trait]
pub trait RunStore: Send + Sync + std::fmt::Debug {
    /// The database, as messages name it: a SQLite file's path (or `:memory:`), or a Postgres
    /// URL without its password.
    fn location(&self) -> &std::path::Path;

    /// Closes the store's connections, waiting for queries in flight (SQLite also finishes its
    /// write-ahead log). Queries after it fail.
    async fn shut_down(&self);

    /// Stores a new run. Fails with [`StoreError::DuplicateRun`] if its id is taken.
    async fn create_run(&self, run: &RunInfo) -> Result<(), StoreError>;

    /// Saves what changes while a run goes on: status, `finished_at`, `rows_used`,
    /// `rows_skipped` and `meta`. The other fields are fixed when the run is created and are
    /// left as stored. Fails with [`StoreError::RunNotFound`] if the run is not stored.
    async fn update_run(&self, run: &RunInfo) -> Result<(), StoreError>;

    /// The run with exactly this id, if stored.
    async fn run(&self, id: &str) -> Result<Option<RunInfo>, StoreError>;

    /// The ids of the runs whose id starts with `prefix` (literally: `_` and `%` are not
    /// patterns), newest first.
    async fn ids_starting(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// The run a person means: [`LATEST`] (the newest run), an exact id, or a prefix of exactly
    /// one run's id. Fails with [`StoreError::NoRuns`], [`StoreError::RunNotFound`] or
    /// [`StoreError::AmbiguousRun`] (which lists the matches).
    async fn resolve_run(&self, id_or_prefix: &str) -> Result<RunInfo, StoreError> {
        let path = || self.location().to_path_buf();
        let not_found = || StoreError::RunNotFound {
            path: path(),
            id: id_or_prefix.to_owned(),
        };
        if id_or_prefix == LATEST {
            return self
                .runs(None, 1)
                .await?
                .pop()
                .ok_or_else(|| StoreError::NoRuns { path: path() });
        }
        if id_or_prefix.is_empty() {
            return Err(not_found());
        }
        if let Some(run) = self.run(id_or_prefix).await? {
            return Ok(run);
        }
        let matches = self.ids_starting(id_or_prefix).await?;
        let id = resolve_matches(self.location(), id_or_prefix, matches)?;
        // None: deleted between the two queries.
        self.run(&id).await?.ok_or_else(not_found)
    }

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

/// Both stores in one: what the gateway holds (as `Arc<dyn Store>`), since it writes traffic and
/// keys and its strategies use the run store's API. Every type that is a [`RunStore`] and a
/// [`TrafficStore`] is one, so a new backend implements those two and nothing else.
pub trait Store: RunStore + TrafficStore {}

impl<T: RunStore + TrafficStore> Store for T {}

/// Where the gateway's traffic records and keys are kept.
///
/// Traffic is read in time order: by `at` (RFC 3339 UTC with milliseconds, so text order is time
/// order), then by id. [`TrafficFilter::since`] is compared as text with `at`, so it must be
/// written the same way (`2026-11-30T03:42:07.000Z`; without the milliseconds, records in that
/// very second compare wrongly).
#[async_trait]
pub trait TrafficStore: Send + Sync + std::fmt::Debug {
    /// Stores traffic records in one transaction: all or none. Every number is checked before
    /// anything is written (floats finite, counts at most `i64::MAX`, `role` `primary` or
    /// `shadow`).
    ///
    /// Ids are unique: the gateway makes them so, and a record is never replaced. A record whose
    /// id is already stored (or repeated in the batch) fails the whole batch with
    /// [`StoreError::DuplicateTraffic`], which names the id, so that a writer can drop that one
    /// record and write the rest again rather than lose them.
    async fn put_traffic(&self, records: &[TrafficRecord]) -> Result<(), StoreError>;

    /// Stores, in one transaction, the records whose ids are not stored yet and leaves the others
    /// as they are; says for each record whether it was new. For replaying the gateway's journal,
    /// which holds records the store may already have. Values are checked as in
    /// [`TrafficStore::put_traffic`].
    async fn put_traffic_missing(&self, records: &[TrafficRecord])
    -> Result<Vec<bool>, StoreError>;

    /// The records the filter selects: oldest first, or newest first with
    /// [`TrafficFilter::newest_first`]; at most [`TrafficFilter::limit`] of them (the first ones in
    /// that order).
    async fn traffic(&self, filter: &TrafficFilter) -> Result<Vec<TrafficRecord>, StoreError>;

    /// How many records the filter selects, ignoring its `limit` (so a listing can say "20 of
    /// 1,234").
    async fn count_traffic(&self, filter: &TrafficFilter) -> Result<u64, StoreError>;

    /// Stores a new key. Fails with [`StoreError::DuplicateKey`] if its name is taken (an id or
    /// hash that is taken fails too: they come from 8 and 32 random bytes, so that is a bug).
    async fn put_key(&self, key: &GatewayKey) -> Result<(), StoreError>;

    /// Every key, revoked ones included, oldest first.
    async fn keys(&self) -> Result<Vec<GatewayKey>, StoreError>;

    /// The key whose secret hashes to `hash` ([`crate::hash_secret`]), revoked or not: the caller
    /// refuses a key with `revoked_at` set.
    async fn key_by_hash(&self, hash: &str) -> Result<Option<GatewayKey>, StoreError>;

    /// Revokes the key with this id, else the one with this name: sets `revoked_at` to now,
    /// unless it was revoked already (the first time is kept). `false` if no key has that id or
    /// name.
    async fn revoke_key(&self, id_or_name: &str) -> Result<bool, StoreError>;

    /// Adds `usd` (finite, 0 or more) to what the key has spent. Fails with
    /// [`StoreError::KeyNotFound`] if no key has this id.
    async fn add_spend(&self, key_id: &str, usd: f64) -> Result<(), StoreError>;

    /// What the key with this id has spent, as stored now: every [`TrafficStore::add_spend`]
    /// of every process on this store. Fails with [`StoreError::KeyNotFound`] if no key has
    /// this id.
    async fn spent(&self, key_id: &str) -> Result<f64, StoreError>;

    /// Takes one request from the key's token bucket, shared by every process on this store:
    /// it holds at most `per_minute` requests and refills at `per_minute` a minute,
    /// continuously, by the database's clock; a key's first request finds it full. One atomic
    /// statement, so concurrent callers never take the same token twice. A refused request
    /// takes nothing and learns how long until a token is there.
    async fn take_request(&self, key_id: &str, per_minute: u32) -> Result<Admission, StoreError>;
}

/// What [`TrafficStore::take_request`] decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Admission {
    /// A token was taken: the request may go on.
    Admitted,
    /// The bucket is empty; a token will be there after this long.
    Wait(std::time::Duration),
}

impl Admission {
    /// The decision for a bucket that, after refilling, holds `tokens` (less the one taken
    /// when `taken`), refilled at `per_minute` a minute.
    pub(crate) fn of(taken: bool, tokens: f64, per_minute: u32) -> Self {
        if taken {
            return Self::Admitted;
        }
        let rate = f64::from(per_minute) / 60.0;
        let secs = if rate > 0.0 {
            ((1.0 - tokens) / rate).max(0.0)
        } else {
            // A limit of 0 a minute never refills: wait "forever", as a whole day.
            86_400.0
        };
        Self::Wait(std::time::Duration::from_secs_f64(secs.min(86_400.0)))
    }
}

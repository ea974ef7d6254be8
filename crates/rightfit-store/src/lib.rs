//! The store: runs, their candidates, one record per (candidate, example), the response cache,
//! and the gateway's traffic log and keys.
//!
//! This crate owns how evaluation results are kept on disk. The evaluator (`rightfit-eval`)
//! writes: it creates a run, puts its candidates, saves records in batches as examples finish,
//! asks [`RunStore::done`] what to skip when resuming, and caches model answers. The `runs`
//! commands of the CLI, the reports (`rightfit-report`) and the decision engine read runs,
//! candidates and records back. All of them talk to the [`RunStore`] trait, not to a database:
//! [`SqliteStore`] keeps everything in one file (one machine, the default), [`PostgresStore`] in
//! a PostgreSQL database that several processes on several machines share (gateway replicas,
//! sharded evaluations). [`open`] picks one from where the store is (a path or a
//! `postgres://` URL); the conformance suite in `tests/it/conformance` runs on both.
//!
//! The gateway (`rightfit-gateway`) holds a [`Store`] (both traits) and writes what it serves
//! through [`TrafficStore`]: traffic records in batches, keys looked up by the hash of the secret
//! a client presents ([`hash_secret`]), and what each key spends. The `traffic` and `keys`
//! commands of the CLI read and manage them; [`new_key`] makes a key the same way for both.
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

mod backend;
mod error;
mod keys;
mod open;
mod postgres;
mod rows;
mod shared;
mod sqlite;
mod traffic;

pub use backend::{Admission, LATEST, MAX_LISTED_MATCHES, RunStore, Store, TrafficStore};
pub use error::StoreError;
pub use keys::{KeyError, NewKey, Secret, hash_secret, new_key};
pub use open::open;
pub use postgres::{PostgresStore, is_postgres_url, redact};
pub use sqlite::SqliteStore;

//! What can go wrong with the store, said so that a person knows which database and what to do.
//!
//! Every variant names the database (its path, or `:memory:`). Errors from sqlx are never the
//! whole message: they sit under an error that says what the store was doing.

use std::path::PathBuf;

use thiserror::Error;

/// An error from a [`crate::RunStore`] or a [`crate::TrafficStore`].
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The directory that should hold the database could not be created.
    #[error("could not create the directory {dir} for the run store: {source}")]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The lock that serialises schema migrations between processes could not be taken.
    #[error("could not lock {lock} to bring the schema of {path} up to date: {source}")]
    MigrationLock {
        /// The database file.
        path: PathBuf,
        /// The lock file beside it.
        lock: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The file exists but is not a SQLite database at all.
    #[error(
        "{path} is not a rightfit database (file is not a database); move it away or pass --store"
    )]
    NotADatabase {
        /// The database file.
        path: PathBuf,
    },

    /// The file is a SQLite database, but some other program's: it has tables and no rightfit
    /// schema history.
    #[error(
        "{path} is not a rightfit database (a database with other tables); move it away or pass --store"
    )]
    ForeignDatabase {
        /// The database file.
        path: PathBuf,
    },

    /// The database was written by a newer rightfit: it has a schema migration this build does
    /// not know.
    #[error(
        "{path} was written by a newer rightfit (schema migration {version} is unknown to this version); upgrade rightfit or pass --store to use another database"
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The unknown migration's version.
        version: i64,
    },

    /// The database's schema history disagrees with this build's migrations in another way
    /// (an applied migration was changed, or one failed half-way).
    #[error(
        "{path}: its schema does not match this rightfit ({source}); move it away or pass --store"
    )]
    SchemaMismatch {
        /// The database file.
        path: PathBuf,
        /// What sqlx found.
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    /// Bringing the schema up to date failed for another reason (disk full, locked, ...).
    #[error("could not bring the schema of {path} up to date: {source}")]
    Migrate {
        /// The database file.
        path: PathBuf,
        /// What sqlx reported.
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    /// The database could not be opened or set up.
    #[error("could not open the run store {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// Why.
        #[source]
        source: sqlx::Error,
    },

    /// A statement failed.
    #[error("{path}: could not {action}: {source}")]
    Query {
        /// The database file.
        path: PathBuf,
        /// What the store was doing, e.g. `save run '2026…'`.
        action: String,
        /// Why.
        #[source]
        source: sqlx::Error,
    },

    /// No run has this id (or id prefix).
    #[error("no run '{id}' in {path} — see 'rightfit runs list'")]
    RunNotFound {
        /// The database file.
        path: PathBuf,
        /// The id or prefix asked for.
        id: String,
    },

    /// `latest` was asked for, and the store has no runs.
    #[error("no runs in {path} yet — start one with 'rightfit eval'")]
    NoRuns {
        /// The database file.
        path: PathBuf,
    },

    /// An id prefix matched more than one run.
    #[error(
        "run id '{prefix}' is ambiguous in {path}: it matches {total} runs: {} — give more of the id",
        list_matches(matches, *total)
    )]
    AmbiguousRun {
        /// The database file.
        path: PathBuf,
        /// The prefix asked for.
        prefix: String,
        /// Matching ids, newest first (at most [`crate::MAX_LISTED_MATCHES`]).
        matches: Vec<String>,
        /// How many runs matched in all.
        total: usize,
    },

    /// A run with this id is already stored.
    #[error("{path} already has a run '{id}'; run ids are unique (use update_run to change a run)")]
    DuplicateRun {
        /// The database file.
        path: PathBuf,
        id: String,
    },

    /// A candidate or record refers to a run, or a record to a candidate, that is not stored.
    #[error(
        "{path}: {what} refers to run '{run_id}'{} which is not stored; create the run and put its candidates first",
        candidate.as_ref().map(|c| format!(" and candidate '{c}'")).unwrap_or_default()
    )]
    MissingParent {
        /// The database file.
        path: PathBuf,
        /// What was being written, e.g. `record for example 'q7'`.
        what: String,
        /// The run it refers to.
        run_id: String,
        /// The candidate it refers to, for records.
        candidate: Option<String>,
    },

    /// A traffic record with this id is already stored (or appears twice in one batch).
    #[error(
        "{path} already has a traffic record '{id}'; record ids are unique (nothing of this batch \
         was written: drop the duplicate and write the rest again)"
    )]
    DuplicateTraffic {
        /// The database file.
        path: PathBuf,
        id: String,
    },

    /// A gateway key with this name is already stored.
    #[error(
        "{path} already has a gateway key named '{name}'; choose another name, or revoke the old \
         key with 'rightfit keys revoke {name}' (see 'rightfit keys list')"
    )]
    DuplicateKey {
        /// The database file.
        path: PathBuf,
        name: String,
    },

    /// No gateway key has this id.
    #[error("no gateway key '{key}' in {path} — see 'rightfit keys list'")]
    KeyNotFound {
        /// The database file.
        path: PathBuf,
        /// The id asked for.
        key: String,
    },

    /// A number cannot be stored as given: a non-finite float, or an integer past `i64::MAX`.
    #[error("{what}: {field} is {value}; {rule}")]
    InvalidValue {
        /// Which item, e.g. `record run 'r' candidate 'c' example 'e'`.
        what: String,
        /// The field, e.g. `scores.exact_match`.
        field: String,
        /// The value as given.
        value: String,
        /// What is allowed.
        rule: &'static str,
    },

    /// Stored data does not read back as the type it should be (edited by hand, or a bug).
    #[error("{path}: {what} holds a bad value in '{field}': {problem}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// Which row, e.g. `run '2026…'`.
        what: String,
        /// The column.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// `a, b, c (and 4 more)`.
fn list_matches(matches: &[String], total: usize) -> String {
    let mut text = matches
        .iter()
        .map(|m| format!("'{m}'"))
        .collect::<Vec<_>>()
        .join(", ");
    if total > matches.len() {
        text.push_str(&format!(" (and {} more)", total - matches.len()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguous_lists_matches_and_how_many_more() {
        let err = StoreError::AmbiguousRun {
            path: PathBuf::from("/tmp/r.db"),
            prefix: "2026".into(),
            matches: vec!["2026-b".into(), "2026-a".into()],
            total: 5,
        };
        assert_eq!(
            err.to_string(),
            "run id '2026' is ambiguous in /tmp/r.db: it matches 5 runs: \
             '2026-b', '2026-a' (and 3 more) — give more of the id"
        );
    }

    #[test]
    fn missing_parent_names_the_candidate_only_when_there_is_one() {
        let record = StoreError::MissingParent {
            path: PathBuf::from("x.db"),
            what: "record for example 'q1'".into(),
            run_id: "r1".into(),
            candidate: Some("c1".into()),
        };
        assert!(
            record
                .to_string()
                .contains("run 'r1' and candidate 'c1' which")
        );
        let candidate = StoreError::MissingParent {
            path: PathBuf::from("x.db"),
            what: "candidate 'c1'".into(),
            run_id: "r1".into(),
            candidate: None,
        };
        assert!(
            candidate
                .to_string()
                .contains("run 'r1' which is not stored")
        );
    }
}

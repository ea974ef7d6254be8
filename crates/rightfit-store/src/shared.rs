//! What both backends say the same way: SQL text that differs only in its placeholders (`mark(i)`
//! is the `i`th, from 1: `?` on SQLite, `$i` on Postgres), the errors a migration or a failed
//! write becomes, and the checks before a write.

use std::path::Path;

use rightfit_types::TrafficRecord;
use sqlx::migrate::MigrateError;

use crate::error::StoreError;
use crate::rows::{RECORD_COLUMNS, RecordRow};
use crate::traffic::rows::TrafficRow;

/// The statement that stores one record, replacing the stored one of the same run, candidate
/// and example.
pub(crate) fn record_upsert(mark: impl Fn(usize) -> String) -> String {
    let columns = RECORD_COLUMNS.join(", ");
    let values = (1..=RECORD_COLUMNS.len())
        .map(mark)
        .collect::<Vec<_>>()
        .join(", ");
    let updates = RECORD_COLUMNS[3..]
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO records ({columns}) VALUES ({values}) \
         ON CONFLICT (run_id, candidate, example_id) DO UPDATE SET {updates}"
    )
}

/// The query for a run's records (the run `mark(1)`, with `by_candidate` the candidate
/// `mark(2)`): by candidate order, then position.
pub(crate) fn records_select(by_candidate: bool, mark: impl Fn(usize) -> String) -> String {
    let columns = RECORD_COLUMNS
        .iter()
        .map(|c| format!("r.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let filter = if by_candidate {
        format!("AND r.candidate = {}", mark(2))
    } else {
        String::new()
    };
    format!(
        "SELECT {columns} FROM records r \
         JOIN candidates c ON c.run_id = r.run_id AND c.name = r.candidate \
         WHERE r.run_id = {} {filter} ORDER BY c.seq, r.position, r.example_id",
        mark(1)
    )
}

/// A record whose run or candidate is not stored.
pub(crate) fn missing_parent(path: &Path, row: &RecordRow) -> StoreError {
    StoreError::MissingParent {
        path: path.to_path_buf(),
        what: format!("record for example '{}'", row.example_id),
        run_id: row.run_id.clone(),
        candidate: Some(row.candidate.clone()),
    }
}

/// What a failed migration means to a person.
pub(crate) fn migrate_error(path: &Path, err: MigrateError) -> StoreError {
    let path = path.to_path_buf();
    match err {
        MigrateError::VersionMissing(version) => StoreError::NewerSchema { path, version },
        source @ (MigrateError::VersionMismatch(_) | MigrateError::Dirty(_)) => {
            StoreError::SchemaMismatch { path, source }
        }
        source => StoreError::Migrate { path, source },
    }
}

/// Refuses a spend that is not a finite number of dollars, 0 or more.
pub(crate) fn check_spend(key_id: &str, usd: f64) -> Result<(), StoreError> {
    if !usd.is_finite() || usd < 0.0 {
        return Err(StoreError::InvalidValue {
            what: format!("spend of gateway key '{key_id}'"),
            field: "usd".to_owned(),
            value: usd.to_string(),
            rule: "a spend is a finite number of US dollars, 0 or more",
        });
    }
    Ok(())
}

/// Traffic rows read back; a record that does not (written by hand, or by an older rightfit
/// without today's limits) is skipped and named, not allowed to fail the whole listing.
pub(crate) fn decode_traffic(rows: Vec<TrafficRow>, path: &Path) -> Vec<TrafficRecord> {
    rows.into_iter()
        .filter_map(|row| match row.decode(path) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!("{e}; skipped");
                None
            }
        })
        .collect()
}

//! [`open`]: the store a location names, SQLite or Postgres.

use std::path::Path;
use std::sync::Arc;

use crate::backend::Store;
use crate::error::StoreError;
use crate::postgres::{PostgresStore, is_postgres_url};
use crate::sqlite::SqliteStore;

/// Opens the store at `location`: a `postgres://` (or `postgresql://`) URL is a
/// [`PostgresStore`], anything else a SQLite file ([`SqliteStore`], created if missing). Either
/// way its schema is brought up to date, safely when several processes start at once.
pub async fn open(location: &Path) -> Result<Arc<dyn Store>, StoreError> {
    match location.to_str().filter(|l| is_postgres_url(l)) {
        Some(url) => Ok(Arc::new(PostgresStore::open(url).await?)),
        None => Ok(Arc::new(SqliteStore::open(location).await?)),
    }
}

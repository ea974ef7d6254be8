//! Where the store is: a SQLite file's path or a database server's URL, and what may override
//! the project file's `store`.

use std::path::{Path, PathBuf};

/// Whether a store location is a database server's URL (`postgres://…` or `postgresql://…`)
/// rather than a SQLite file's path.
pub fn is_database_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// The store named outside the project file: `flag` (`--store`), else a non-empty
/// `RIGHTFIT_DATABASE_URL` (a `postgres://` URL or a SQLite file).
pub fn store_override(flag: Option<&Path>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf).or_else(|| {
        std::env::var_os(crate::env::DATABASE_URL)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

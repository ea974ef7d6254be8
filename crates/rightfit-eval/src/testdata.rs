//! Where the shared public datasets and golden files live, for tests.

use std::path::PathBuf;

/// `$RIGHTFIT_SHARED_DATA`, or `../shared/data` beside the repository root.
///
/// Tests that need these files fail (never skip) when they are missing.
pub(crate) fn shared_data() -> PathBuf {
    if let Some(dir) = std::env::var_os(rightfit_config::env::SHARED_DATA) {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

/// A file under `golden/`.
pub(crate) fn golden(name: &str) -> PathBuf {
    shared_data().join("golden").join(name)
}

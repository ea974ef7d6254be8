//! Pulling catalogue models: a file or a directory, from its sources in order, each checked
//! against the catalogue's size and SHA-256; a copy already present is verified and kept.

use std::path::PathBuf;

use super::{ModelStore, ModelStoreError, hash_file};
use crate::catalog::{self, CatalogEntry, Source, SourceKind};
use crate::fetch::{self, Assembly, FetchError, FetchOptions};
use rightfit_types::progress::Progress;

impl ModelStore {
    /// Downloads a catalogue model, trying its sources in order (or only those of `only`).
    ///
    /// Returns the file's path. A file already present is checked against the catalogue hash
    /// and kept when it matches (unless `force`).
    pub fn pull(
        &self,
        name: &str,
        only: Option<SourceKind>,
        force: bool,
        options: &FetchOptions,
        progress: &dyn Progress,
    ) -> Result<PathBuf, ModelStoreError> {
        let entry = catalog::find(name).ok_or_else(|| ModelStoreError::Unknown {
            name: name.to_owned(),
            hint: format!(
                "'models pull' fetches catalogue models ({}); use 'models add' for your own files",
                catalog::CATALOG
                    .iter()
                    .map(|e| e.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        self.pull_entry(entry, only, force, options, progress)
    }

    /// [`ModelStore::pull`] for any entry, including ones not in the built-in catalogue.
    pub fn pull_entry(
        &self,
        entry: &CatalogEntry,
        only: Option<SourceKind>,
        force: bool,
        options: &FetchOptions,
        progress: &dyn Progress,
    ) -> Result<PathBuf, ModelStoreError> {
        if entry.directory_files().is_some() {
            return self.pull_directory(entry, only, force, options, progress);
        }
        let dest = self.path_of(entry);
        if dest.exists() && !force {
            progress.note(&format!("{} is present; verifying its SHA-256", entry.name));
            let (size, sha) = hash_file(&dest, progress)?;
            if size == entry.size && sha == entry.sha256 {
                return Ok(dest);
            }
            progress.note(&format!(
                "{}: the file on disk differs from the catalogue; fetching it again",
                dest.display()
            ));
        }
        try_sources(entry, only, progress, |source, progress| {
            let mut out = Assembly::new(&dest)?;
            fetch::fetch_into(source, &mut out, options, &self.dir, progress)?;
            out.commit(entry.size, entry.sha256)
        })
    }

    /// [`ModelStore::pull_entry`] for a model that is a directory: kept when every file is
    /// present with its pinned hash (unless `force`), else fetched whole and checked file by file.
    fn pull_directory(
        &self,
        entry: &CatalogEntry,
        only: Option<SourceKind>,
        force: bool,
        options: &FetchOptions,
        progress: &dyn Progress,
    ) -> Result<PathBuf, ModelStoreError> {
        let dest = self.path_of(entry);
        let files = entry.directory_files().unwrap_or_default();
        if self.is_present(entry) && !force {
            progress.note(&format!("{} is present; verifying its files", entry.name));
            let mut intact = true;
            for f in files {
                let (size, sha) = hash_file(&dest.join(f.path), progress)?;
                if size != f.size || sha != f.sha256 {
                    progress.note(&format!(
                        "{}: differs from the catalogue; fetching the model again",
                        dest.join(f.path).display()
                    ));
                    intact = false;
                    break;
                }
            }
            if intact {
                return Ok(dest);
            }
        }
        try_sources(entry, only, progress, |source, progress| {
            fetch::fetch_directory(source, &dest, options, &self.dir, progress)
        })
    }
}

/// Tries `entry`'s sources in order (only those of kind `only`, when given) with `fetch`
/// until one succeeds; every failure is reported and kept for the error.
fn try_sources(
    entry: &CatalogEntry,
    only: Option<SourceKind>,
    progress: &dyn Progress,
    mut fetch: impl FnMut(&Source, &dyn Progress) -> Result<PathBuf, FetchError>,
) -> Result<PathBuf, ModelStoreError> {
    let sources: Vec<_> = entry
        .sources
        .iter()
        .filter(|s| only.is_none_or(|k| s.kind() == k))
        .collect();
    if sources.is_empty() {
        return Err(ModelStoreError::NoSuchSource {
            name: entry.name.to_owned(),
            kind: only.map_or("", SourceKind::as_str),
        });
    }
    let mut failures = Vec::new();
    for source in sources {
        match fetch(source, progress) {
            Ok(path) => return Ok(path),
            Err(e) => {
                progress.note(&format!("{} failed: {e}", source.describe()));
                failures.push((source.describe(), e));
            }
        }
    }
    Err(ModelStoreError::FetchFailed {
        name: entry.name.to_owned(),
        failures,
    })
}

//! Models on disk: the catalogue's files under `$RIGHTFIT_HOME/models`, plus files users add.
//!
//! A pulled model is stored under its catalogue file name. An added model is either referenced
//! where it lies (a small `NAME.model.json` manifest records its path, size and SHA-256) or copied
//! in. `resolve` turns what a user typed — a name or a path — into a file to load.
//!
//! A catalogue model that is a directory (a sentence-transformers model) is stored as a directory
//! under its `file_name`; it counts as present only when every pinned file is there at its size,
//! and `resolve` returns the directory.
//!
//! An added LoRA adapter (`models add FILE --base NAME`, see [`adapter`]) records its base; it
//! resolves to the base's file with the adapter applied.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use rightfit_types::models::{CatalogFacts, ModelFileInfo, ModelListing};
use serde::{Deserialize, Serialize};

use crate::catalog::{self, CatalogEntry};
use crate::fetch::{Assembly, FetchError};
use crate::gguf::{self, GgufError};
use rightfit_types::progress::{Progress, Unit};

mod adapter;
mod pull;

const MANIFEST_SUFFIX: &str = ".model.json";

/// Why a model operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelStoreError {
    /// No model by that name, and no file at that path.
    #[error("no model named '{name}' and no file at that path — {hint}")]
    Unknown {
        /// What was asked for.
        name: String,
        /// What to do.
        hint: String,
    },
    /// A catalogue model that has not been pulled.
    #[error("model '{name}' is not downloaded — run 'rightfit models pull {name}'")]
    NotPulled {
        /// The model.
        name: String,
    },
    /// An added model whose file has gone.
    #[error(
        "model '{name}' points to {path}, which no longer exists — 'rightfit models rm {name}' or add it again"
    )]
    Dangling {
        /// The model.
        name: String,
        /// Where it was.
        path: PathBuf,
    },
    /// A name that is taken or not allowed.
    #[error("{0}")]
    BadName(String),
    /// The file is not a usable GGUF model.
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// Every source failed.
    #[error("could not fetch '{name}':\n{}", failures.iter().map(|(s, e)| format!("  - {s}: {e}")).collect::<Vec<_>>().join("\n"))]
    FetchFailed {
        /// The model.
        name: String,
        /// Each source tried and why it failed.
        failures: Vec<(String, FetchError)>,
    },
    /// The model has no source of the requested kind.
    #[error("model '{name}' has no {kind} source")]
    NoSuchSource {
        /// The model.
        name: String,
        /// The kind asked for.
        kind: &'static str,
    },
    /// Copying a file into the store failed.
    #[error("copying into the models directory: {0}")]
    Copy(FetchError),
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A LoRA adapter added without its base, on a base it does not fit, or a base given for a
    /// file that is not an adapter.
    #[error("{0}")]
    Adapter(String),
    /// A manifest could not be read.
    #[error("{path}: bad manifest: {detail}")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> ModelStoreError + '_ {
    move |source| ModelStoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What `models add` records for a file the user brought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The name it answers to.
    pub name: String,
    /// Where the file is.
    pub path: PathBuf,
    /// Its size when added.
    pub size: u64,
    /// Its SHA-256 when added.
    pub sha256: String,
    /// For a LoRA adapter: the model it is applied to (a catalogue or added name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
}

/// One row of `models list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedModel {
    pub name: String,
    /// Catalogue entry, for catalogue models.
    pub entry: Option<&'static CatalogEntry>,
    /// Where its file is (or would be).
    pub path: PathBuf,
    /// Whether the file is present.
    pub present: bool,
    /// Its size on disk (or expected size).
    pub size: u64,
    /// For an added LoRA adapter: the model it is applied to.
    pub base: Option<String>,
}

impl ListedModel {
    /// What `rightfit models list` shows of it.
    pub fn listing(&self) -> ModelListing {
        ModelListing {
            name: self.name.clone(),
            path: self.path.clone(),
            present: self.present,
            size: self.size,
            base: self.base.clone(),
            catalog: self.entry.map(|e| CatalogFacts {
                description: e.description.to_owned(),
                architecture: e.architecture.to_owned(),
                parameters: e.parameters.to_owned(),
                quantization: e.quantization.to_owned(),
                sha256: e.sha256.to_owned(),
                sources: e.sources.iter().map(|s| s.describe()).collect(),
            }),
        }
    }
}

/// A model ready to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedModel {
    /// Its name (the file stem for a bare path).
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// Its catalogue entry, if it is a catalogue model.
    pub entry: Option<&'static CatalogEntry>,
    /// A LoRA adapter applied on the file (an adapter added with `models add --base`: `path`
    /// and `entry` are then its base's).
    pub adapter: Option<PathBuf>,
}

/// The models directory.
#[derive(Debug, Clone)]
pub struct ModelStore {
    dir: PathBuf,
}

impl ModelStore {
    /// A store rooted at `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where a catalogue model's file lives.
    pub fn path_of(&self, entry: &CatalogEntry) -> PathBuf {
        self.dir.join(entry.file_name)
    }

    /// What the GGUF header of the model `model` names (a name or a path) says.
    pub fn info(&self, model: &str) -> Result<ModelFileInfo, ModelStoreError> {
        let resolved = self.resolve(model)?;
        let h = gguf::read_header(&resolved.path)?;
        Ok(ModelFileInfo {
            file_size: h.file_size,
            gguf_version: h.version,
            general_name: h.name().map(str::to_owned),
            architecture: h.architecture().map(str::to_owned),
            parameters: h.parameter_count(),
            quantization: h.quantization(),
            context_length: h.context_length(),
            chat_template_len: h.chat_template().map(str::len),
            chat_template_fallback: resolved
                .entry
                .and_then(|e| e.chat_template)
                .map(str::to_owned),
            tensors: h.tensors.len(),
            tensor_types: h
                .tensor_types()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            metadata_keys: h.metadata.len(),
            name: resolved.name,
            path: resolved.path,
        })
    }

    /// Whether a catalogue model's file, or every file of its directory, is on disk (sizes are
    /// compared; hashes are checked by `pull`).
    pub fn is_present(&self, entry: &CatalogEntry) -> bool {
        let path = self.path_of(entry);
        match entry.directory_files() {
            None => path.is_file(),
            Some(files) => files.iter().all(|f| {
                fs::metadata(path.join(f.path)).is_ok_and(|m| m.is_file() && m.len() == f.size)
            }),
        }
    }

    /// The catalogue (present or not) followed by added models.
    pub fn list(&self) -> Result<Vec<ListedModel>, ModelStoreError> {
        let mut out: Vec<ListedModel> = catalog::CATALOG
            .iter()
            .map(|e| {
                let path = self.path_of(e);
                if e.directory_files().is_some() {
                    return ListedModel {
                        name: e.name.to_owned(),
                        entry: Some(e),
                        present: self.is_present(e),
                        size: e.size,
                        path,
                        base: None,
                    };
                }
                let meta = fs::metadata(&path).ok();
                ListedModel {
                    name: e.name.to_owned(),
                    entry: Some(e),
                    present: meta.is_some(),
                    size: meta.map_or(e.size, |m| m.len()),
                    path,
                    base: None,
                }
            })
            .collect();
        for m in self.manifests()? {
            let meta = fs::metadata(&m.path).ok();
            out.push(ListedModel {
                name: m.name,
                entry: None,
                present: meta.is_some(),
                size: meta.map_or(m.size, |x| x.len()),
                path: m.path,
                base: m.base,
            });
        }
        Ok(out)
    }

    fn manifests(&self) -> Result<Vec<Manifest>, ModelStoreError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(ModelStoreError::Io {
                    path: self.dir.clone(),
                    source: e,
                });
            }
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_at(&self.dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(MANIFEST_SUFFIX) {
                out.push(read_manifest(&entry.path())?);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn manifest_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}{MANIFEST_SUFFIX}"))
    }

    /// Turns a name or a path into a model file that exists.
    pub fn resolve(&self, name_or_path: &str) -> Result<ResolvedModel, ModelStoreError> {
        if let Some(entry) = catalog::find(name_or_path) {
            let path = self.path_of(entry);
            if !self.is_present(entry) {
                return Err(ModelStoreError::NotPulled {
                    name: entry.name.to_owned(),
                });
            }
            return Ok(ResolvedModel {
                name: entry.name.to_owned(),
                path,
                entry: Some(entry),
                adapter: None,
            });
        }
        if is_plain_name(name_or_path) {
            let manifest = self.manifest_path(name_or_path);
            if manifest.exists() {
                let m = read_manifest(&manifest)?;
                if !m.path.exists() {
                    return Err(ModelStoreError::Dangling {
                        name: m.name,
                        path: m.path,
                    });
                }
                if let Some(base) = &m.base {
                    let on = self.adapter_base(&m.name, base)?;
                    return Ok(ResolvedModel {
                        name: m.name,
                        path: on.path,
                        entry: on.entry,
                        adapter: Some(m.path),
                    });
                }
                return Ok(ResolvedModel {
                    name: m.name,
                    path: m.path,
                    entry: None,
                    adapter: None,
                });
            }
        }
        let path = PathBuf::from(name_or_path);
        if path.exists() {
            let name = path
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
            // A catalogue file given by path still gets its catalogue defaults (chat template).
            let entry = path
                .file_name()
                .and_then(|f| catalog::CATALOG.iter().find(|e| f == e.file_name));
            return Ok(ResolvedModel {
                name,
                path,
                entry,
                adapter: None,
            });
        }
        let known: Vec<&str> = catalog::CATALOG.iter().map(|e| e.name).collect();
        Err(ModelStoreError::Unknown {
            name: name_or_path.to_owned(),
            hint: format!(
                "catalogue models are {}; see 'rightfit models list', or pass a path to a .gguf file",
                known.join(", ")
            ),
        })
    }

    /// Registers a GGUF file under a name; with `copy`, copies it into the store. A LoRA
    /// adapter is refused here: [`ModelStore::add_adapter`] adds one on its base.
    pub fn add(
        &self,
        path: &Path,
        name: Option<&str>,
        copy: bool,
        progress: &dyn Progress,
    ) -> Result<Manifest, ModelStoreError> {
        let header = gguf::read_header(path)?;
        if header.get_str("general.type") == Some("adapter") {
            return Err(ModelStoreError::Adapter(format!(
                "{} is a LoRA adapter, not a model: add it on the model it was trained from with --base NAME",
                path.display()
            )));
        }
        self.register(path, name, copy, None, progress)
    }

    /// Writes the manifest of a checked file (an adapter when `base` is given).
    fn register(
        &self,
        path: &Path,
        name: Option<&str>,
        copy: bool,
        base: Option<String>,
        progress: &dyn Progress,
    ) -> Result<Manifest, ModelStoreError> {
        let name = match name {
            Some(n) => n.to_owned(),
            None => path
                .file_stem()
                .map(|s| s.to_string_lossy().to_lowercase())
                .ok_or_else(|| {
                    ModelStoreError::BadName(format!(
                        "{}: cannot derive a name; pass --name",
                        path.display()
                    ))
                })?,
        };
        if !is_plain_name(&name) {
            return Err(ModelStoreError::BadName(format!(
                "'{name}' is not a valid model name: use letters, digits, '.', '-' and '_'"
            )));
        }
        if catalog::find(&name).is_some() {
            return Err(ModelStoreError::BadName(format!(
                "'{name}' is a catalogue model; pick another --name"
            )));
        }
        let manifest_path = self.manifest_path(&name);
        if manifest_path.exists() {
            return Err(ModelStoreError::BadName(format!(
                "a model named '{name}' exists; 'rightfit models rm {name}' first"
            )));
        }
        fs::create_dir_all(&self.dir).map_err(io_at(&self.dir))?;
        let source = fs::canonicalize(path).map_err(io_at(path))?;
        let (stored, size, sha256) = if copy {
            let dest = self.dir.join(format!("{name}.gguf"));
            let mut out = Assembly::new(&dest).map_err(ModelStoreError::Copy)?;
            let mut file = File::open(&source).map_err(io_at(&source))?;
            progress.start(
                "copying",
                Some(file.metadata().map_err(io_at(&source))?.len()),
                0,
                Unit::Bytes,
            );
            out.append(&mut file, progress)
                .map_err(ModelStoreError::Copy)?;
            progress.finish();
            let (size, sha) = (out.written(), out.sha256());
            (
                out.commit(size, &sha).map_err(ModelStoreError::Copy)?,
                size,
                sha,
            )
        } else {
            let (size, sha) = hash_file(&source, progress)?;
            (source, size, sha)
        };
        let manifest = Manifest {
            name,
            path: stored,
            size,
            sha256,
            base,
        };
        let text =
            serde_json::to_string_pretty(&manifest).map_err(|e| ModelStoreError::Manifest {
                path: manifest_path.clone(),
                detail: e.to_string(),
            })?;
        fs::write(&manifest_path, text).map_err(io_at(&manifest_path))?;
        Ok(manifest)
    }

    /// Removes a model: deletes a pulled or copied file, forgets a referenced one.
    /// Returns what was deleted.
    pub fn remove(&self, name: &str) -> Result<Vec<PathBuf>, ModelStoreError> {
        let mut removed = Vec::new();
        if let Some(entry) = catalog::find(name) {
            let path = self.path_of(entry);
            if !path.exists() {
                return Err(ModelStoreError::NotPulled {
                    name: entry.name.to_owned(),
                });
            }
            if path.is_dir() {
                fs::remove_dir_all(&path).map_err(io_at(&path))?;
            } else {
                fs::remove_file(&path).map_err(io_at(&path))?;
            }
            removed.push(path);
            return Ok(removed);
        }
        let manifest_path = self.manifest_path(name);
        if !is_plain_name(name) || !manifest_path.exists() {
            return Err(ModelStoreError::Unknown {
                name: name.to_owned(),
                hint: "see 'rightfit models list'".to_owned(),
            });
        }
        let m = read_manifest(&manifest_path)?;
        if m.path.parent() == Some(self.dir.as_path()) && m.path.exists() {
            fs::remove_file(&m.path).map_err(io_at(&m.path))?;
            removed.push(m.path);
        }
        fs::remove_file(&manifest_path).map_err(io_at(&manifest_path))?;
        removed.push(manifest_path);
        Ok(removed)
    }
}

fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

fn read_manifest(path: &Path) -> Result<Manifest, ModelStoreError> {
    let text = fs::read_to_string(path).map_err(io_at(path))?;
    serde_json::from_str(&text).map_err(|e| ModelStoreError::Manifest {
        path: path.to_owned(),
        detail: e.to_string(),
    })
}

/// Size and SHA-256 of a file.
pub fn hash_file(path: &Path, progress: &dyn Progress) -> Result<(u64, String), ModelStoreError> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = File::open(path).map_err(io_at(path))?;
    let len = file.metadata().map_err(io_at(path))?.len();
    progress.start("verifying", Some(len), 0, Unit::Bytes);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io_at(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
        progress.advance(n as u64);
    }
    progress.finish();
    Ok((total, hex::encode(hasher.finalize())))
}

//! The project file, `rightfit.toml`: models, components, candidates.
//!
//! [`Project::load`] reads it in three layers, each of which knows only the ones named before it:
//!
//! - `raw`: the file exactly as written, in serde structs that refuse unknown keys;
//! - the validated types ([`Project`], [`ModelConfig`], [`Component`], [`Candidate`],
//!   [`ServePolicy`], [`GatewayConfig`], [`ConstraintsConfig`]), with every default filled in and
//!   every name checked; they know nothing of the raw ones;
//! - `convert`: raw into validated. Every error names the file, the line and the key path, and
//!   says what was expected. Relative paths are resolved against the file's directory.
//!
//! Secrets are references (`api_key = "env:OPENAI_API_KEY"`), read only when a provider is built.

use std::collections::BTreeMap;
use std::path::PathBuf;

mod component;
mod constraints;
mod convert;
mod dataset;
mod error;
mod gateway;
mod model;
mod raw;
mod serve;
mod starter;
mod strategy;
mod student;

pub use crate::prices::Price;
pub use component::{Component, FewShot, Judge, METRICS, OutputContract, Reference, Split};
pub use constraints::{ConstraintsConfig, OBJECTIVES};
pub use convert::ADAPTER_FILE;
pub use dataset::DatasetConfig;
pub use error::ConfigError;
pub use gateway::{DEFAULT_LISTEN, GatewayAuth, GatewayConfig};
pub use model::{ModelConfig, PriceSource, ProviderConfig, SecretRef};
pub use serve::{Route, ServePolicy, Sticky};
pub use starter::{STARTER, STARTER_DATA};
pub use strategy::{
    Candidate, CascadeConfig, ConfidenceSource, DEFAULT_ANSWER_PREFIX, ShotSelect, Shots, Strategy,
};
pub use student::{Student, StudentKind, TrainingData};

/// A validated project: what [`Project::load`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    /// The file it was read from.
    pub file: PathBuf,
    /// The file's directory; relative paths in the file are relative to it.
    pub root: PathBuf,
    /// A display name (default: the directory's name).
    pub name: String,
    /// The SQLite database that keeps runs (default `.rightfit/runs.db` beside the file).
    pub store: PathBuf,
    /// Where `rightfit distill` keeps trained students (default `.rightfit/students` beside the
    /// file), one directory per component and student.
    pub students: PathBuf,
    /// Seed for sampling, few-shot selection and bootstrap (default 42).
    pub seed: u64,
    /// Models by name.
    pub models: BTreeMap<String, ModelConfig>,
    /// Components by name.
    pub components: BTreeMap<String, Component>,
    /// Project-wide constraints (`[constraints]`); each component's are already merged in.
    pub constraints: ConstraintsConfig,
    /// How `rightfit serve` runs (`[gateway]`; defaults when absent).
    pub gateway: GatewayConfig,
}

impl Project {
    /// A component by name, with a helpful error listing the others.
    pub fn component(&self, name: &str) -> Result<&Component, String> {
        self.components.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.components.keys().map(String::as_str).collect();
            format!(
                "no component '{name}' in {} (components: {})",
                self.file.display(),
                names.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_gateway;

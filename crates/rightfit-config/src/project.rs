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

mod base_url;
mod component;
mod constraints;
mod convert;
mod dataset;
mod error;
mod gateway;
pub mod limits;
mod location;
mod model;
mod raw;
mod readiness;
mod serve;
mod starter;
mod strategy;
mod student;
mod validated;

pub use crate::prices::Price;
pub use base_url::BaseUrl;
pub use component::{
    Component, FewShot, Judge, METRICS, OutputContract, Reference, Split, ToolSource,
};
pub use constraints::{ConstraintsConfig, OBJECTIVES};
pub use dataset::DatasetConfig;
pub use error::ConfigError;
pub use gateway::{DEFAULT_LISTEN, Durability, GatewayAuth, GatewayConfig};
pub use location::{is_database_url, store_override};
pub use model::{ModelConfig, PriceSource, ProviderConfig, SecretRef};
pub use readiness::Readiness;
pub use serve::{Route, ServePolicy, Sticky};
pub use starter::{STARTER, STARTER_DATA, StarterError, write_starter};
pub use strategy::{
    Candidate, CascadeConfig, ConfidenceSource, DEFAULT_ANSWER_PREFIX, ShotSelect, Shots, Strategy,
};
pub use student::{ADAPTER_FILE, Student, StudentKind, TrainingData};
pub use validated::Project;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fleet;
#[cfg(test)]
mod tests_gateway;
#[cfg(test)]
mod tests_limits;
#[cfg(test)]
mod tests_tools;

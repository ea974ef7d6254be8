//! The validated project as a whole: what [`Project::load`] returns.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::component::Component;
use super::constraints::ConstraintsConfig;
use super::gateway::GatewayConfig;
use super::model::ModelConfig;

/// A validated project: what [`Project::load`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    /// The file it was read from.
    pub file: PathBuf,
    /// The file's directory; relative paths in the file are relative to it.
    pub root: PathBuf,
    /// A display name (default: the directory's name).
    pub name: String,
    /// Where runs, traffic and keys are kept: a SQLite file (default `.rightfit/runs.db` beside
    /// the file) or, verbatim, a `postgres://` URL ([`super::is_database_url`]).
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
    /// Where this project's store is: [`super::store_override`], else `[project] store`.
    pub fn store_at(&self, flag: Option<&std::path::Path>) -> PathBuf {
        super::location::store_override(flag).unwrap_or_else(|| self.store.clone())
    }

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

    /// The components named, each checked to exist; every component, in name order, when none
    /// is named.
    pub fn components_named(&self, names: &[String]) -> Result<Vec<String>, String> {
        if names.is_empty() {
            return Ok(self.components.keys().cloned().collect());
        }
        for name in names {
            self.component(name)?;
        }
        Ok(names.to_vec())
    }

    /// The students `rightfit distill` trains, as (component, student) names: every student of
    /// the `components` named (all when none is), only those in `students` when some are named.
    /// A name in either list that matches no chosen student is the error.
    pub fn students_chosen(
        &self,
        components: &[String],
        students: &[String],
    ) -> Result<Vec<(String, String)>, String> {
        let mut chosen = Vec::new();
        for (name, c) in &self.components {
            if !components.is_empty() && !components.contains(name) {
                continue;
            }
            for s in &c.students {
                if students.is_empty() || students.contains(&s.name) {
                    chosen.push((name.clone(), s.name.clone()));
                }
            }
        }
        match components
            .iter()
            .chain(students)
            .find(|n| !chosen.iter().any(|(c, s)| c == *n || s == *n))
        {
            Some(unmatched) => Err(unmatched.clone()),
            None => Ok(chosen),
        }
    }

    /// A model by name, with an error listing the others.
    pub fn model(&self, name: &str) -> Result<&ModelConfig, String> {
        self.models.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.models.keys().map(String::as_str).collect();
            format!("no model named '{name}' (models: {})", names.join(", "))
        })
    }
}

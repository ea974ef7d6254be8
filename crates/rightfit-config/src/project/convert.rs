//! Raw project file -> validated [`Project`], with located errors.
//!
//! Each table has its own module: `model` (`[models.NAME]`), `component`
//! (`[components.NAME]`), `candidate` (its candidates and their strategies), `serve`,
//! `gateway`, `constraints`. They share `Locator`, which turns a value's place in the file into
//! the line an error names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::project::constraints::ConstraintsConfig;
use crate::project::error::ConfigError;
use crate::project::raw::RawFile;
use crate::project::validated::Project;

mod candidate;
mod component;
mod constraints;
mod gateway;
mod locate;
mod model;
mod paths;
mod serve;
mod student;

use locate::Locator;
use paths::clean;

impl Project {
    /// Reads and validates a project file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Validates project text read from `path` (used for relative paths and messages).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        project(path, text)
    }
}

fn project(path: &Path, text: &str) -> Result<Project, ConfigError> {
    let at = Locator::new(path, text);
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| at.line_col(s.start));
        ConfigError::Parse {
            path: path.to_owned(),
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })?;
    let root = path
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    let name = raw.project.name.clone().unwrap_or_else(|| {
        std::fs::canonicalize(&root)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "rightfit".to_owned())
    });
    let store = match raw.project.store.as_deref() {
        // A database server's URL is kept as written (joining it to the root would mangle it).
        Some(url) if super::location::is_database_url(url) => PathBuf::from(url),
        store => clean(&root.join(store.unwrap_or(".rightfit/runs.db"))),
    };
    let seed = raw.project.seed.unwrap_or(42);
    let default_concurrency = raw.project.concurrency.unwrap_or(4);
    if default_concurrency == 0 {
        return Err(at.invalid(0..0, "project.concurrency", "must be at least 1"));
    }

    let mut models = BTreeMap::new();
    for (name, spanned) in raw.models {
        let span = spanned.span();
        let model = model::model(
            &at,
            &root,
            &name,
            span,
            spanned.into_inner(),
            default_concurrency,
        )?;
        models.insert(name, model);
    }

    let constraints = match raw.constraints {
        Some(c) => constraints::over(&at, "constraints", &ConstraintsConfig::default(), c)?,
        None => ConstraintsConfig::default(),
    };
    let mut gateway = gateway::gateway(&at, raw.gateway)?;
    if let Some(journal) = &mut gateway.journal {
        *journal = clean(&root.join(&*journal));
    }
    let students_dir = clean(
        &root.join(
            raw.project
                .students
                .as_deref()
                .unwrap_or(".rightfit/students"),
        ),
    );
    // Students first: candidates that answer with one name its model.
    let mut raw_components = raw.components;
    let mut students = BTreeMap::new();
    for (name, spanned) in &mut raw_components {
        let span = spanned.span();
        let raw_students = std::mem::take(&mut spanned.get_mut().students);
        let converted =
            student::students(&at, (&root, &students_dir), name, raw_students, &models)?;
        let mut these = Vec::new();
        for (s, model) in converted {
            if models.contains_key(&model.name) {
                return Err(at.invalid(
                    span.clone(),
                    format!("components.{name}.students"),
                    format!(
                        "student '{}' answers as model '{}', which [models] defines too: rename one",
                        s.name, model.name
                    ),
                ));
            }
            models.insert(model.name.clone(), model);
            these.push(s);
        }
        students.insert(name.clone(), (span, these));
    }
    let mut components = BTreeMap::new();
    for (name, spanned) in raw_components {
        let span = spanned.span();
        let (_, these) = students.remove(&name).unwrap_or_default();
        let mut c = component::component(
            &at,
            &root,
            &name,
            span.clone(),
            spanned.into_inner(),
            (&models, &these),
            (seed, &constraints),
        )?;
        student::check(&at, span, &c, &these)?;
        c.students = these;
        components.insert(name, c);
    }
    if components.is_empty() {
        return Err(at.invalid(
            0..0,
            "components",
            "no components: add a [components.NAME] table (see 'rightfit init')",
        ));
    }
    Ok(Project {
        file: path.to_owned(),
        root,
        name,
        store,
        students: students_dir,
        seed,
        models,
        components,
        constraints,
        gateway,
    })
}

//! rightfit's settings: where its files live, every environment variable it reads, and secrets.
//!
//! Settings come from three layers, merged once before any command runs: built-in defaults, then
//! environment variables, then command-line flags (the CLI passes those in as [`Overrides`]). The
//! result, [`Settings`], is what every command receives. The project file (`rightfit.toml`) is read
//! and validated by [`project`]; the calibrations `bench-model` saves under the data directory by
//! [`calibration`]. [`time`] is the one clock: RFC 3339 text, run-id stamps, `--since`.

use std::fmt;
use std::path::{Path, PathBuf};

pub mod calibration;
pub mod env;
pub mod output_format;
pub mod prices;
pub mod project;
pub mod time;

/// A value that must never be printed: `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that sends it (an HTTP header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// What the command line says, before merging.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--home`.
    pub home: Option<PathBuf>,
    /// `--threads`.
    pub threads: Option<usize>,
}

/// A setting that could not be understood.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// An environment variable holds a value of the wrong shape.
    #[error("environment variable {name}={value:?}: {expected}")]
    BadEnv {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// No home directory could be found for the default location.
    #[error(
        "cannot find a home directory for the default data location: set {}",
        env::HOME
    )]
    NoHome,
    /// A setting has an impossible value.
    #[error("{0}")]
    Invalid(String),
}

/// The merged, validated settings every command receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// rightfit's data directory (`$RIGHTFIT_HOME`, default `~/.cache/rightfit`).
    pub home: PathBuf,
    /// CPU threads for the embedded engine.
    pub threads: usize,
    /// The Python interpreter used to run `pip download`.
    pub python: String,
}

impl Settings {
    /// Merges defaults, the environment and the command line.
    pub fn resolve(overrides: &Overrides) -> Result<Self, SettingsError> {
        Self::resolve_with(overrides, |name| std::env::var(name).ok())
    }

    /// Like [`Settings::resolve`], reading variables through `lookup` (for tests).
    pub fn resolve_with(
        overrides: &Overrides,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        let home = match (&overrides.home, lookup(env::HOME).filter(|v| !v.is_empty())) {
            (Some(dir), _) => dir.clone(),
            (None, Some(dir)) => PathBuf::from(dir),
            (None, None) => default_home(&lookup)?,
        };
        let threads = match (overrides.threads, lookup(env::THREADS)) {
            (Some(n), _) => n,
            (None, Some(v)) => v.trim().parse().map_err(|_| SettingsError::BadEnv {
                name: env::THREADS,
                value: v.clone(),
                expected: "a positive whole number of threads",
            })?,
            (None, None) => default_threads(),
        };
        if threads == 0 {
            return Err(SettingsError::Invalid(
                "threads must be at least 1".to_owned(),
            ));
        }
        let python = lookup(env::PYTHON)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "python3".to_owned());
        Ok(Self {
            home,
            threads,
            python,
        })
    }

    /// Where model files live.
    pub fn models_dir(&self) -> PathBuf {
        self.home.join("models")
    }

    /// The data directory.
    pub fn home(&self) -> &Path {
        &self.home
    }
}

fn default_home(lookup: &impl Fn(&str) -> Option<String>) -> Result<PathBuf, SettingsError> {
    if let Some(cache) = lookup(env::XDG_CACHE_HOME).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(cache).join("rightfit"));
    }
    let home = lookup(env::USER_HOME)
        .filter(|v| !v.is_empty())
        .ok_or(SettingsError::NoHome)?;
    Ok(PathBuf::from(home).join(".cache").join("rightfit"))
}

/// All cores: llama.cpp is fastest with one thread per physical core, and the machines rightfit
/// targets first (2-core VMs, laptops) report physical cores here.
fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn flags_beat_environment_beat_defaults() {
        let env = lookup(&[(env::HOME, "/from/env"), (env::USER_HOME, "/home/u")]);
        let s = Settings::resolve_with(&Overrides::default(), &env).expect("valid");
        assert_eq!(s.home, PathBuf::from("/from/env"));
        let flags = Overrides {
            home: Some("/from/flag".into()),
            threads: Some(3),
        };
        let s = Settings::resolve_with(&flags, &env).expect("valid");
        assert_eq!(s.home, PathBuf::from("/from/flag"));
        assert_eq!(s.threads, 3);
        let s = Settings::resolve_with(
            &Overrides::default(),
            lookup(&[(env::USER_HOME, "/home/u")]),
        )
        .expect("valid");
        assert_eq!(s.home, PathBuf::from("/home/u/.cache/rightfit"));
        assert_eq!(
            s.models_dir(),
            PathBuf::from("/home/u/.cache/rightfit/models")
        );
    }

    #[test]
    fn a_bad_thread_count_names_the_variable() {
        let env = lookup(&[(env::HOME, "/x"), (env::THREADS, "many")]);
        let err = Settings::resolve_with(&Overrides::default(), env).expect_err("bad");
        assert!(err.to_string().contains("RIGHTFIT_THREADS"), "{err}");
        let env = lookup(&[(env::HOME, "/x"), (env::THREADS, "0")]);
        assert!(Settings::resolve_with(&Overrides::default(), env).is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("sk-live-123");
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert_eq!(s.expose(), "sk-live-123");
    }
}

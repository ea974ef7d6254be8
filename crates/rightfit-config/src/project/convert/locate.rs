//! Where in the file a value is, and the errors that say so.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use crate::project::error::ConfigError;
use crate::project::model::ModelConfig;

/// Turns a byte span of the file into errors that carry a line number.
pub(super) struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
}

impl<'a> Locator<'a> {
    /// Errors in `text`, which was read from `path`.
    pub(super) fn new(path: &'a Path, text: &'a str) -> Self {
        Self { path, text }
    }

    /// 1-based line and column of a byte offset.
    pub(super) fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    /// A value at `span` that is of the right shape but not allowed.
    pub(super) fn invalid(
        &self,
        span: Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_owned(),
            line: self.line_col(span.start).0,
            key: key.into(),
            message: message.into(),
        }
    }

    /// `model` names no `[models]` table; the error lists those there are.
    pub(super) fn unknown_model(
        &self,
        key: &str,
        model: &Spanned<String>,
        models: &BTreeMap<String, ModelConfig>,
    ) -> ConfigError {
        let known: Vec<&str> = models.keys().map(String::as_str).collect();
        self.invalid(
            model.span(),
            key,
            format!(
                "no model '{}' in [models] (defined: {})",
                model.get_ref(),
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        )
    }
}

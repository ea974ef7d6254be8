//! Raw project file -> validated [`Project`], with located errors.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::component::component;
use super::raw::{self, RawFile};
use super::{
    ConfigError, ConstraintsConfig, DatasetConfig, ModelConfig, Price, PriceSource, Project,
    ProviderConfig, SecretRef,
};

/// Turns a byte span into errors that carry a line number.
pub(super) struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Locator<'_> {
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

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
}

pub(super) fn project(path: &Path, text: &str) -> Result<Project, ConfigError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let (line, column) = e
            .span()
            .map_or((1, 1), |s| Locator { path, text }.line_col(s.start));
        ConfigError::Parse {
            path: path.to_owned(),
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })?;
    let at = Locator { path, text };
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
    let store = clean(&root.join(raw.project.store.as_deref().unwrap_or(".rightfit/runs.db")));
    let seed = raw.project.seed.unwrap_or(42);
    let default_concurrency = raw.project.concurrency.unwrap_or(4);
    if default_concurrency == 0 {
        return Err(at.invalid(0..0, "project.concurrency", "must be at least 1"));
    }

    let mut models = BTreeMap::new();
    for (name, spanned) in raw.models {
        let span = spanned.span();
        let model = model(&at, &name, span, spanned.into_inner(), default_concurrency)?;
        models.insert(name, model);
    }

    let constraints = match raw.constraints {
        Some(c) => {
            let span = c.span();
            let c = c.into_inner();
            c.check()
                .map_err(|(k, m)| at.invalid(span, format!("constraints.{k}"), m))?;
            c
        }
        None => ConstraintsConfig::default(),
    };
    let gateway = super::gateway::gateway(&at, raw.gateway)?;
    let mut components = BTreeMap::new();
    for (name, spanned) in raw.components {
        let span = spanned.span();
        let c = component(
            &at,
            &root,
            &name,
            span,
            spanned.into_inner(),
            &models,
            (seed, &constraints),
        )?;
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
        seed,
        models,
        components,
        constraints,
        gateway,
    })
}

fn secret(at: &Locator<'_>, key: &str, value: &Spanned<String>) -> Result<SecretRef, ConfigError> {
    match value.get_ref().strip_prefix("env:") {
        Some(var) if !var.is_empty() => Ok(SecretRef::Env(var.to_owned())),
        _ => Err(at.invalid(
            value.span(),
            key,
            "secrets are never written in the config: use \"env:VARIABLE\" and export the key",
        )),
    }
}

fn model(
    at: &Locator<'_>,
    name: &str,
    span: Range<usize>,
    raw: raw::RawModel,
    default_concurrency: usize,
) -> Result<ModelConfig, ConfigError> {
    let key = |k: &str| format!("models.{name}.{k}");
    let need_model = || {
        raw.model.clone().ok_or_else(|| {
            at.invalid(
                span.clone(),
                key("model"),
                "missing: the model id (or catalogue name)",
            )
        })
    };
    let need_key = || {
        raw.api_key
            .as_ref()
            .ok_or_else(|| {
                at.invalid(
                    span.clone(),
                    key("api_key"),
                    "missing: e.g. api_key = \"env:OPENAI_API_KEY\"",
                )
            })
            .and_then(|k| secret(at, &key("api_key"), k))
    };
    let provider = match raw.provider.get_ref().as_str() {
        "local" => ProviderConfig::Local {
            model: need_model()?,
            context_size: raw.context_size,
            parallel: raw.parallel,
            chat_template: raw.chat_template.clone(),
            batch_invariant: raw.batch_invariant.unwrap_or(false),
            prefix_cache: raw.prefix_cache.unwrap_or(true),
        },
        "openai" => ProviderConfig::Openai {
            model: need_model()?,
            base_url: raw.base_url.clone(),
            api_key: need_key()?,
        },
        "anthropic" => ProviderConfig::Anthropic {
            model: need_model()?,
            base_url: raw.base_url.clone(),
            api_key: need_key()?,
            api_version: raw.api_version.clone(),
        },
        "gemini" => ProviderConfig::Gemini {
            model: need_model()?,
            base_url: raw.base_url.clone(),
            api_key: need_key()?,
            api_version: match raw.api_version.as_deref() {
                None | Some("v1beta") | Some("v1") => raw.api_version.clone(),
                Some(other) => {
                    return Err(at.invalid(
                        span,
                        key("api_version"),
                        format!("unknown Gemini API version '{other}': expected v1beta or v1"),
                    ));
                }
            },
        },
        "openai-compatible" => ProviderConfig::OpenaiCompatible {
            model: need_model()?,
            base_url: raw.base_url.clone().ok_or_else(|| {
                at.invalid(
                    span.clone(),
                    key("base_url"),
                    "missing: e.g. \"http://localhost:8000/v1\"",
                )
            })?,
            api_key: raw
                .api_key
                .as_ref()
                .map(|k| secret(at, &key("api_key"), k))
                .transpose()?,
        },
        other => {
            return Err(at.invalid(
                raw.provider.span(),
                key("provider"),
                format!(
                    "unknown provider '{other}': expected local, openai, anthropic, gemini or openai-compatible"
                ),
            ));
        }
    };
    if let Some(p) = &raw.price
        && !(p.input >= 0.0 && p.output >= 0.0 && p.input.is_finite() && p.output.is_finite())
    {
        return Err(at.invalid(
            span,
            key("price"),
            "prices are US dollars per million tokens, ≥ 0",
        ));
    }
    let concurrency = raw.concurrency.unwrap_or(match provider {
        ProviderConfig::Local { .. } => raw.parallel.unwrap_or(8),
        _ => default_concurrency,
    });
    if concurrency == 0 {
        return Err(at.invalid(span, key("concurrency"), "must be at least 1"));
    }
    let timeout_s = raw.timeout_s.unwrap_or(120.0);
    if !(timeout_s > 0.0 && timeout_s.is_finite()) {
        return Err(at.invalid(
            span,
            key("timeout_s"),
            "must be a positive number of seconds",
        ));
    }
    let is_local = matches!(provider, ProviderConfig::Local { .. });
    for (k, set) in [
        ("context_size", raw.context_size.is_some()),
        ("parallel", raw.parallel.is_some()),
        ("chat_template", raw.chat_template.is_some()),
        ("batch_invariant", raw.batch_invariant.is_some()),
        ("prefix_cache", raw.prefix_cache.is_some()),
        ("cost_per_hour", raw.cost_per_hour.is_some()),
    ] {
        if set && !is_local {
            return Err(at.invalid(span, key(k), format!("only local models take {k}")));
        }
    }
    for (k, set) in [
        ("base_url", raw.base_url.is_some()),
        ("api_key", raw.api_key.is_some()),
        ("api_version", raw.api_version.is_some()),
        ("connect_timeout_s", raw.connect_timeout_s.is_some()),
        ("first_byte_timeout_s", raw.first_byte_timeout_s.is_some()),
        ("retry_budget_s", raw.retry_budget_s.is_some()),
        ("requests_per_minute", raw.requests_per_minute.is_some()),
        ("tokens_per_minute", raw.tokens_per_minute.is_some()),
        ("stream", raw.stream.is_some()),
    ] {
        if set && is_local {
            return Err(at.invalid(
                span,
                key(k),
                format!("local models run in-process and take no {k}"),
            ));
        }
    }
    let seconds = |k: &str, v: Option<f64>, default: f64| {
        let v = v.unwrap_or(default);
        if v > 0.0 && v.is_finite() {
            Ok(v)
        } else {
            Err(at.invalid(span.clone(), key(k), "must be a positive number of seconds"))
        }
    };
    let connect_timeout_s = seconds("connect_timeout_s", raw.connect_timeout_s, 10.0)?;
    let first_byte_timeout_s = raw
        .first_byte_timeout_s
        .map(|v| seconds("first_byte_timeout_s", Some(v), v))
        .transpose()?;
    let max_retries = raw.max_retries.unwrap_or(3);
    let retry_budget_s = seconds(
        "retry_budget_s",
        raw.retry_budget_s,
        timeout_s * f64::from(max_retries + 1) + 60.0,
    )?;
    for (k, v) in [
        ("requests_per_minute", raw.requests_per_minute),
        ("tokens_per_minute", raw.tokens_per_minute),
    ] {
        if v == Some(0) {
            return Err(at.invalid(
                span,
                key(k),
                "must be at least 1 (leave it out for no limit)",
            ));
        }
    }
    if let Some(c) = raw.cost_per_hour
        && !(c >= 0.0 && c.is_finite())
    {
        return Err(at.invalid(span, key("cost_per_hour"), "US dollars per hour, ≥ 0"));
    }
    let configured = raw.price.map(|p| Price {
        input: p.input,
        output: p.output,
    });
    let (price, price_source) = match (&provider, configured) {
        (_, Some(p)) => (Some(p), PriceSource::Config),
        (ProviderConfig::Local { .. }, None) if raw.cost_per_hour.is_some() => {
            (None, PriceSource::Hardware)
        }
        (ProviderConfig::Local { .. }, None) => (
            Some(Price {
                input: 0.0,
                output: 0.0,
            }),
            PriceSource::Hardware,
        ),
        (
            ProviderConfig::Openai { model, .. }
            | ProviderConfig::Anthropic { model, .. }
            | ProviderConfig::Gemini { model, .. },
            None,
        ) => match crate::prices::lookup(provider.kind(), model) {
            Some(p) => (
                Some(p),
                PriceSource::Catalogue(crate::prices::CATALOGUE_DATE.to_owned()),
            ),
            None => (None, PriceSource::Unknown),
        },
        (ProviderConfig::OpenaiCompatible { .. }, None) => (None, PriceSource::Unknown),
    };
    Ok(ModelConfig {
        name: name.to_owned(),
        provider,
        price,
        concurrency,
        timeout_s,
        max_retries,
        memory_gb: raw.memory_gb,
        price_source,
        cost_per_hour: raw.cost_per_hour,
        connect_timeout_s,
        first_byte_timeout_s,
        retry_budget_s,
        requests_per_minute: raw.requests_per_minute,
        tokens_per_minute: raw.tokens_per_minute,
        stream: raw.stream.unwrap_or(true),
    })
}

pub(super) fn dataset_config(root: &Path, raw: raw::RawDataset) -> Result<DatasetConfig, String> {
    if let Some(f) = &raw.format
        && !["jsonl", "csv", "tsv", "json", "squad"].contains(&f.as_str())
    {
        return Err(format!(
            "unknown format '{f}': expected jsonl, csv, tsv, json or squad"
        ));
    }
    Ok(DatasetConfig {
        path: clean(&root.join(&raw.path)),
        format: raw.format,
        records: raw.records,
        columns: raw.columns,
        id: raw.id,
    })
}

/// `a/b/../c` -> `a/c`, without touching the file system (for display and stable ids).
fn clean(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

/// A model from a TOML table alone (no project around it): `rightfit chat --model gpt-4o`.
pub(super) fn lone_model(path: &Path, text: &str, name: &str) -> Result<ModelConfig, ConfigError> {
    let at = Locator { path, text };
    let raw: raw::RawModel = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        line: 1,
        column: 1,
        message: e.message().trim().to_owned(),
    })?;
    model(&at, name, 0..text.len(), raw, 4)
}

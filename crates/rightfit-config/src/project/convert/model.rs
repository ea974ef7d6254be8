//! `[models.NAME]` -> [`ModelConfig`], and models named on the command line.

use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use super::locate::Locator;
use super::paths::clean;
use crate::env;
use crate::prices::{self, Price};
use crate::project::base_url::BaseUrl;
use crate::project::error::ConfigError;
use crate::project::limits::{self, within};
use crate::project::model::{ModelConfig, PriceSource, ProviderConfig, SecretRef};
use crate::project::raw::{RawBaseUrl, RawModel};

impl ModelConfig {
    /// A hosted model named on the command line, or `None` for a local one.
    ///
    /// `openai:ID`, `anthropic:ID`, `gemini:ID` and `openai-compatible:ID` name the provider;
    /// a bare id in the price catalogue (`gpt-4o`, `claude-3-5-sonnet-latest`,
    /// `gemini-2.5-flash`) implies it; any other id with a `base_url` is an OpenAI-compatible
    /// server's. Keys come from `OPENAI_API_KEY`, `ANTHROPIC_API_KEY` or `GEMINI_API_KEY`
    /// (`key_env` overrides; OpenAI-compatible servers get no key unless `key_env` is given).
    pub fn from_spec(
        spec: &str,
        base_url: Option<&str>,
        key_env: Option<&str>,
    ) -> Result<Option<ModelConfig>, ConfigError> {
        let kinds = ["openai", "anthropic", "gemini", "openai-compatible"];
        let (kind, id) = match spec.split_once(':') {
            Some((k, id)) if kinds.contains(&k) => (k, id),
            _ => match ["openai", "anthropic", "gemini"]
                .into_iter()
                .find(|k| prices::lookup(k, spec).is_some())
            {
                Some(k) => (k, spec),
                None if base_url.is_some() => ("openai-compatible", spec),
                None => return Ok(None),
            },
        };
        let default_env = match kind {
            "openai" => Some(env::OPENAI_API_KEY),
            "anthropic" => Some(env::ANTHROPIC_API_KEY),
            "gemini" => Some(env::GEMINI_API_KEY),
            _ => None,
        };
        let path = Path::new("--model");
        let bad = |message: &str| ConfigError::Invalid {
            path: path.to_owned(),
            line: 1,
            key: "model".to_owned(),
            message: message.to_owned(),
        };
        let quoted = |v: &str| {
            if v.contains(['"', '\\', '\n']) {
                Err(bad("quotes, backslashes and newlines are not allowed here"))
            } else {
                Ok(format!("\"{v}\""))
            }
        };
        let mut text = format!("provider = {}\nmodel = {}\n", quoted(kind)?, quoted(id)?);
        if let Some(var) = key_env.or(default_env) {
            text.push_str(&format!("api_key = {}\n", quoted(&format!("env:{var}"))?));
        }
        if let Some(url) = base_url {
            text.push_str(&format!("base_url = {}\n", quoted(url)?));
        }
        lone_model(path, &text, spec).map(Some)
    }
}

/// `Ok` for an absolute http or https URL with a host; otherwise what is wrong with it (a
/// request to it could only fail, and would be retried as "unavailable").
fn http_url(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text).map_err(|e| format!("'{text}' is not a URL: {e}"))?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        "http" | "https" => Err(format!("'{text}' names no host")),
        other => Err(format!(
            "'{text}': the scheme is '{other}', expected http or https (e.g. http://localhost:8000/v1)"
        )),
    }
}

/// `base_url`: one URL, or a non-empty list of distinct ones (a fleet); `key` is its key path.
fn base_url(
    at: &Locator<'_>,
    key: &str,
    raw: &Spanned<RawBaseUrl>,
) -> Result<BaseUrl, ConfigError> {
    let urls = match raw.get_ref() {
        RawBaseUrl::One(url) => {
            http_url(url).map_err(|m| at.invalid(raw.span(), key, m))?;
            return Ok(BaseUrl::One(url.clone()));
        }
        RawBaseUrl::Many(urls) => urls,
    };
    if urls.is_empty() {
        return Err(at.invalid(
            raw.span(),
            key,
            "an empty list: give one URL, or several servers that serve the same model",
        ));
    }
    // The same server written twice (`/v1` and `/v1/`, `HOST` and `host`) would get twice the
    // load and count twice as healthy: each endpoint once.
    let mut seen: Vec<String> = Vec::with_capacity(urls.len());
    let mut fleet = Vec::with_capacity(urls.len());
    for (i, item) in urls.iter().enumerate() {
        let at_i = |m: String| at.invalid(item.span(), format!("{key}[{i}]"), m);
        let url = match item.get_ref() {
            toml::Value::String(url) => url,
            other => {
                return Err(at_i(format!(
                    "expected a URL in quotes, found {} {other}",
                    other.type_str()
                )));
            }
        };
        http_url(url).map_err(at_i)?;
        let same = url::Url::parse(url)
            .map(|u| u.as_str().trim_end_matches('/').to_owned())
            .unwrap_or_else(|_| url.clone());
        if let Some(first) = seen.iter().position(|s| *s == same) {
            return Err(at_i(format!(
                "'{url}' is already {key}[{first}]: list each server once"
            )));
        }
        seen.push(same);
        fleet.push(url.clone());
    }
    Ok(BaseUrl::Fleet(fleet))
}

/// `env:NAME`: secrets are never written in the file itself.
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

/// One `[models.NAME]` table; `default_concurrency` is `[project] concurrency` (hosted models).
pub(super) fn model(
    at: &Locator<'_>,
    root: &Path,
    name: &str,
    span: Range<usize>,
    raw: RawModel,
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
    let urls = || {
        raw.base_url
            .as_ref()
            .map(|b| base_url(at, &key("base_url"), b))
            .transpose()
    };
    let provider = match raw.provider.get_ref().as_str() {
        "local" => ProviderConfig::Local {
            model: need_model()?,
            context_size: raw.context_size,
            parallel: raw.parallel,
            chat_template: raw.chat_template.clone(),
            batch_invariant: raw.batch_invariant.unwrap_or(false),
            prefix_cache: raw.prefix_cache.unwrap_or(true),
            adapter: raw.adapter.as_ref().map(|a| clean(&root.join(a))),
        },
        "openai" => ProviderConfig::Openai {
            model: need_model()?,
            base_url: urls()?,
            api_key: need_key()?,
        },
        "anthropic" => ProviderConfig::Anthropic {
            model: need_model()?,
            base_url: urls()?,
            api_key: need_key()?,
            api_version: raw.api_version.clone(),
        },
        "gemini" => ProviderConfig::Gemini {
            model: need_model()?,
            base_url: urls()?,
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
            base_url: urls()?.ok_or_else(|| {
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
    let count = |k: &str, r: Result<(), String>| r.map_err(|m| at.invalid(span.clone(), key(k), m));
    if let Some(n) = raw.context_size {
        count("context_size", within(n, 1, limits::CONTEXT))?;
    }
    if let Some(n) = raw.parallel {
        count("parallel", within(n, 1, limits::PARALLEL))?;
    }
    if let Some(n) = raw.concurrency {
        count("concurrency", within(n, 1, limits::PARALLEL))?;
    }
    // A fleet takes the project's concurrency per server, so that each is kept as busy as one
    // server alone would be.
    let endpoints = provider.base_url().map_or(1, BaseUrl::len);
    let concurrency = raw.concurrency.unwrap_or(match provider {
        ProviderConfig::Local { .. } => raw.parallel.unwrap_or(8),
        _ => default_concurrency
            .saturating_mul(endpoints)
            .min(limits::PARALLEL.max(default_concurrency)),
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
        ("adapter", raw.adapter.is_some()),
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
        ) => match prices::lookup(provider.kind(), model) {
            Some(p) => (
                Some(p),
                PriceSource::Catalogue(prices::CATALOGUE_DATE.to_owned()),
            ),
            None => (None, PriceSource::Unknown),
        },
        (ProviderConfig::OpenaiCompatible { .. }, None) => (None, PriceSource::Unknown),
        // Built by the conversion of students, never from a [models] table.
        (ProviderConfig::Classifier { embedder, .. }, None) => {
            (embedder.price, embedder.price_source.clone())
        }
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

/// A model from a TOML table alone (no project around it): `rightfit chat --model gpt-4o`.
fn lone_model(path: &Path, text: &str, name: &str) -> Result<ModelConfig, ConfigError> {
    let at = Locator::new(path, text);
    let raw: RawModel = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        line: 1,
        column: 1,
        message: e.message().trim().to_owned(),
    })?;
    model(&at, Path::new("."), name, 0..text.len(), raw, 4)
}

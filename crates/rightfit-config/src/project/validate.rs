//! Raw project file -> validated [`Project`], with located errors.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::raw::{self, RawFile};
use super::{
    Candidate, Component, ConfigError, DatasetConfig, FewShot, Judge, METRICS, ModelConfig,
    OutputContract, Price, Project, ProviderConfig, Reference, SecretRef, Split, Strategy,
};

/// Turns a byte span into errors that carry a line number.
struct Locator<'a> {
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

    fn invalid(
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

    let mut components = BTreeMap::new();
    for (name, spanned) in raw.components {
        let span = spanned.span();
        let c = component(&at, &root, &name, span, spanned.into_inner(), &models, seed)?;
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
        },
        "gemini" => ProviderConfig::Gemini {
            model: need_model()?,
            base_url: raw.base_url.clone(),
            api_key: need_key()?,
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
    let price = raw.price.map(|p| Price {
        input: p.input,
        output: p.output,
    });
    let price = match (&provider, price) {
        (ProviderConfig::Local { .. }, None) => Some(Price {
            input: 0.0,
            output: 0.0,
        }),
        (_, p) => p,
    };
    Ok(ModelConfig {
        name: name.to_owned(),
        provider,
        price,
        concurrency,
        timeout_s,
        max_retries: raw.max_retries.unwrap_or(3),
        memory_gb: raw.memory_gb,
    })
}

fn dataset_config(root: &Path, raw: raw::RawDataset) -> Result<DatasetConfig, String> {
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

fn check_template(source: &str) -> Result<(), String> {
    let env = minijinja::Environment::new();
    env.template_from_str(source).map(|_| ()).map_err(|e| {
        let line = e
            .line()
            .map(|l| format!(" (template line {l})"))
            .unwrap_or_default();
        format!(
            "not a valid Jinja template{line}: {}",
            e.detail().unwrap_or("syntax error")
        )
    })
}

fn output(
    at: &Locator<'_>,
    key: &str,
    raw: Spanned<raw::RawOutput>,
) -> Result<OutputContract, ConfigError> {
    let span = raw.span();
    let raw = raw.into_inner();
    let bad = |m: &str| at.invalid(span.clone(), key, m.to_owned());
    match raw.kind.as_str() {
        "label" => {
            let map = raw.map.unwrap_or_default();
            let labels = match raw.labels {
                Some(l) => l,
                None if !map.is_empty() => {
                    let mut seen = BTreeSet::new();
                    map.values()
                        .filter(|v| seen.insert(v.as_str()))
                        .cloned()
                        .collect()
                }
                None => return Err(bad("a label contract needs labels = [...] (or a map)")),
            };
            if labels.len() < 2 {
                return Err(bad("a label contract needs at least two labels"));
            }
            if let Some(v) = map.values().find(|v| !labels.contains(v)) {
                return Err(bad(&format!("map names '{v}', which is not one of labels")));
            }
            Ok(OutputContract::Label { labels, map })
        }
        "json" => {
            let schema = raw
                .schema
                .map(|s| serde_json::to_value(s).map_err(|e| bad(&format!("schema: {e}"))))
                .transpose()?;
            if let Some(s) = &schema
                && !s.is_object()
            {
                return Err(bad("schema must be a table (a JSON Schema object)"));
            }
            Ok(OutputContract::Json { schema })
        }
        "spans" => match raw.slots {
            Some(slots) if !slots.is_empty() => Ok(OutputContract::Spans { slots }),
            _ => Err(bad(
                "a spans contract needs slots = [\"date\", \"time\", ...]",
            )),
        },
        "text" => Ok(OutputContract::Text {
            no_answer: raw.no_answer,
        }),
        other => Err(bad(&format!(
            "unknown output type '{other}': expected label, json, spans or text"
        ))),
    }
}

fn default_metrics(output: &OutputContract) -> Vec<String> {
    let names: &[&str] = match output {
        OutputContract::Label { .. } => &["accuracy", "macro_f1"],
        OutputContract::Json { schema: Some(_) } => &["json_schema", "json_valid"],
        OutputContract::Json { schema: None } => &["json_valid"],
        OutputContract::Spans { .. } => &["span_f1", "span_exact"],
        OutputContract::Text { .. } => &["normalized_match"],
    };
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[allow(clippy::too_many_arguments)]
fn component(
    at: &Locator<'_>,
    root: &Path,
    name: &str,
    span: Range<usize>,
    raw: raw::RawComponent,
    models: &BTreeMap<String, ModelConfig>,
    project_seed: u64,
) -> Result<Component, ConfigError> {
    let key = |k: &str| format!("components.{name}.{k}");
    check_template(raw.prompt.get_ref())
        .map_err(|m| at.invalid(raw.prompt.span(), key("prompt"), m))?;
    if let Some(system) = &raw.system {
        check_template(system).map_err(|m| at.invalid(span.clone(), key("system"), m))?;
    }
    let ds_span = raw.dataset.span();
    let dataset = dataset_config(root, raw.dataset.into_inner())
        .map_err(|m| at.invalid(ds_span, key("dataset"), m))?;
    let reference = match raw.reference.into_inner() {
        raw::RawReference::Field(f) => Reference::Field(f),
        raw::RawReference::Spans(s) => Reference::Spans {
            spans: s.spans,
            text: s.text,
            slot: s.slot,
            start: s.start,
            end: s.end,
        },
    };
    let output = output(at, &key("output"), raw.output)?;
    let metrics = match raw.metrics {
        Some(list) if list.is_empty() => {
            return Err(at.invalid(span, key("metrics"), "list at least one metric"));
        }
        Some(list) => {
            let mut names = Vec::new();
            for m in list {
                let base = m.get_ref().strip_suffix(":stem").unwrap_or(m.get_ref());
                let stem_ok = !m.get_ref().ends_with(":stem") || base.starts_with("rouge");
                if !METRICS.iter().any(|(n, _)| *n == base) || !stem_ok {
                    let known: Vec<&str> = METRICS.iter().map(|(n, _)| *n).collect();
                    return Err(at.invalid(
                        m.span(),
                        key("metrics"),
                        format!(
                            "unknown metric '{}': expected one of {}",
                            m.get_ref(),
                            known.join(", ")
                        ),
                    ));
                }
                let fits = match base {
                    "accuracy" | "macro_f1" => matches!(output, OutputContract::Label { .. }),
                    "span_exact" | "span_f1" => matches!(output, OutputContract::Spans { .. }),
                    "json_schema" => matches!(output, OutputContract::Json { schema: Some(_) }),
                    _ => true,
                };
                if !fits {
                    return Err(at.invalid(
                        m.span(),
                        key("metrics"),
                        format!("metric '{base}' does not fit this component's output type"),
                    ));
                }
                names.push(m.into_inner());
            }
            names
        }
        None => default_metrics(&output),
    };
    let max_tokens = raw.max_tokens.unwrap_or(match output {
        OutputContract::Label { .. } => 16,
        _ => 256,
    });
    let split = match raw.split {
        Some(sp) => {
            let sp_span = sp.span();
            let sp = sp.into_inner();
            if !(sp.test_fraction > 0.0 && sp.test_fraction < 1.0) {
                return Err(at.invalid(
                    sp_span,
                    key("split.test_fraction"),
                    "must be strictly between 0 and 1 (the share of rows evaluated)",
                ));
            }
            Some(Split {
                test_fraction: sp.test_fraction,
                stratify: sp.stratify,
            })
        }
        None => None,
    };
    let few_shot = raw
        .few_shot
        .map(|fs| {
            let fs_span = fs.span();
            let fs = fs.into_inner();
            let ds = fs
                .dataset
                .map(|d| dataset_config(root, d))
                .transpose()
                .map_err(|m| at.invalid(fs_span.clone(), key("few_shot.dataset"), m))?;
            let examples = fs
                .examples
                .unwrap_or_default()
                .into_iter()
                .map(|e| {
                    serde_json::to_value(e.input)
                        .map(|v| (v, e.output))
                        .map_err(|err| {
                            at.invalid(fs_span.clone(), key("few_shot.examples"), err.to_string())
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, ConfigError>(FewShot {
                k: fs.k.unwrap_or(4),
                dataset: ds,
                seed: fs.seed.unwrap_or(project_seed),
                stratify: fs.stratify.unwrap_or(true),
                examples,
            })
        })
        .transpose()?;
    let judge = match raw.judge {
        Some(j) => {
            let j = j.into_inner();
            if !models.contains_key(j.model.get_ref()) {
                return Err(unknown_model(at, &key("judge.model"), &j.model, models));
            }
            Some(Judge {
                model: j.model.into_inner(),
                rubric: j.rubric,
                max_tokens: j.max_tokens.unwrap_or(16),
            })
        }
        None => None,
    };
    if metrics.iter().any(|m| m == "judge") && judge.is_none() {
        return Err(at.invalid(
            span,
            key("judge"),
            "metric 'judge' needs a [components.NAME.judge] table with model and rubric",
        ));
    }
    let mut candidates = Vec::new();
    let mut names = BTreeSet::new();
    for (i, c) in raw.candidates.into_iter().enumerate() {
        let c_span = c.span();
        let c = c.into_inner();
        let ckey = |k: &str| format!("components.{name}.candidates[{i}].{k}");
        if !models.contains_key(c.model.get_ref()) {
            return Err(unknown_model(at, &ckey("model"), &c.model, models));
        }
        let strategy = match c
            .strategy
            .as_ref()
            .map(|s| s.get_ref().as_str())
            .unwrap_or("zero-shot")
        {
            "zero-shot" => Strategy::ZeroShot,
            "few-shot" => {
                let k = c.k.or(few_shot.as_ref().map(|f| f.k)).unwrap_or(4);
                if few_shot.is_none() {
                    return Err(at.invalid(c_span, ckey("strategy"), format!("few-shot needs a [components.{name}.few_shot] table saying where examples come from")));
                }
                if k == 0 {
                    return Err(at.invalid(c_span, ckey("k"), "few-shot needs k ≥ 1"));
                }
                Strategy::FewShot { k }
            }
            "loglikelihood" => {
                if !matches!(output, OutputContract::Label { .. }) {
                    return Err(at.invalid(
                        c_span,
                        ckey("strategy"),
                        "loglikelihood picks among labels: it needs output type = \"label\"",
                    ));
                }
                let local = models
                    .get(c.model.get_ref())
                    .is_some_and(|m| matches!(m.provider, ProviderConfig::Local { .. }));
                if !local {
                    return Err(at.invalid(c_span, ckey("strategy"), "loglikelihood needs a local model (hosted APIs do not return prompt log-probabilities)"));
                }
                Strategy::Loglikelihood
            }
            other => {
                let s = c.strategy.as_ref().map_or(c_span.clone(), Spanned::span);
                return Err(at.invalid(
                    s,
                    ckey("strategy"),
                    format!(
                        "unknown strategy '{other}': expected zero-shot, few-shot or loglikelihood"
                    ),
                ));
            }
        };
        let cname = c.name.clone().unwrap_or_else(|| match &strategy {
            Strategy::FewShot { k } => format!("{}/few-shot-{k}", c.model.get_ref()),
            s => format!("{}/{}", c.model.get_ref(), s.name()),
        });
        if !names.insert(cname.clone()) {
            return Err(at.invalid(
                c_span,
                ckey("name"),
                format!("candidate name '{cname}' is used twice: give one a name = \"...\""),
            ));
        }
        if c.temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
            return Err(at.invalid(
                c_span,
                ckey("temperature"),
                "temperature must be within 0..=2",
            ));
        }
        candidates.push(Candidate {
            name: cname,
            model: c.model.into_inner(),
            strategy,
            temperature: c.temperature,
            top_p: c.top_p,
            seed: c.seed,
            max_tokens: c.max_tokens.unwrap_or(max_tokens),
            constrained: c.constrained.unwrap_or(false),
        });
    }
    if candidates.is_empty() {
        return Err(at.invalid(
            span,
            key("candidates"),
            "no candidates: add [[components.NAME.candidates]] with model = \"...\"",
        ));
    }
    Ok(Component {
        name: name.to_owned(),
        description: raw.description,
        system: raw.system,
        prompt: raw.prompt.into_inner(),
        dataset,
        reference,
        output,
        metrics,
        max_tokens,
        limit: raw.limit,
        stratify: raw.stratify.map(Spanned::into_inner),
        split,
        few_shot,
        judge,
        candidates,
    })
}

fn unknown_model(
    at: &Locator<'_>,
    key: &str,
    model: &Spanned<String>,
    models: &BTreeMap<String, ModelConfig>,
) -> ConfigError {
    let known: Vec<&str> = models.keys().map(String::as_str).collect();
    at.invalid(
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

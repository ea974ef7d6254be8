//! One `[components.NAME]` table -> a validated [`Component`]: prompt templates, output
//! contract, metrics that fit it, split, few-shot examples, judge and candidates.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use super::candidate::{self, Context};
use super::locate::Locator;
use super::paths::clean;
use crate::project::component::{
    Component, FewShot, Judge, METRICS, OutputContract, Reference, Split, ToolSource,
};
use crate::project::constraints::ConstraintsConfig;
use crate::project::dataset::DatasetConfig;
use crate::project::error::ConfigError;
use crate::project::limits::{self, within};
use crate::project::model::ModelConfig;
use crate::project::raw::{RawComponent, RawDataset, RawOutput, RawReference};
use crate::project::student::Student;

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
    raw: Spanned<RawOutput>,
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
        "tool_call" => {
            let tools = match raw.tools {
                Some(toml::Value::String(field)) => ToolSource::Field(field),
                Some(toml::Value::Array(list)) => {
                    ToolSource::Inline(inline_tools(list).map_err(|m| bad(&m))?)
                }
                Some(_) | None => {
                    return Err(bad(
                        "a tool_call contract needs tools: a field path of the row's functions \
                         (tools = \"function\") or a list of {name, description, parameters} tables",
                    ));
                }
            };
            Ok(OutputContract::ToolCall {
                tools,
                messages: raw.messages,
            })
        }
        other => Err(bad(&format!(
            "unknown output type '{other}': expected label, json, spans, text or tool_call"
        ))),
    }
}

/// Inline functions of a `tool_call` contract: tables with a name, an optional description and
/// an optional `parameters` table (a JSON Schema, or BFCL's types).
fn inline_tools(list: Vec<toml::Value>) -> Result<Vec<serde_json::Value>, String> {
    if list.is_empty() {
        return Err("tools lists no function: offer at least one".into());
    }
    let mut seen = BTreeSet::new();
    list.into_iter()
        .enumerate()
        .map(|(i, t)| {
            let at = format!("tools[{i}]");
            let v = serde_json::to_value(t).map_err(|e| format!("{at}: {e}"))?;
            let name = v
                .get("name")
                .and_then(serde_json::Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| format!("{at} needs a name = \"...\""))?;
            if !seen.insert(name.to_owned()) {
                return Err(format!("{at}: function '{name}' is offered twice"));
            }
            if let Some(p) = v.get("parameters")
                && !p.is_object()
            {
                return Err(format!(
                    "{at}.parameters must be a table (a JSON Schema object)"
                ));
            }
            if let Some(k) = v.as_object().and_then(|o| {
                o.keys()
                    .find(|k| !["name", "description", "parameters"].contains(&k.as_str()))
            }) {
                return Err(format!(
                    "{at}: unknown key '{k}': expected name, description, parameters"
                ));
            }
            Ok(v)
        })
        .collect()
}

fn default_metrics(output: &OutputContract) -> Vec<String> {
    let names: &[&str] = match output {
        OutputContract::Label { .. } => &["accuracy", "macro_f1"],
        OutputContract::Json { schema: Some(_) } => &["json_schema", "json_valid"],
        OutputContract::Json { schema: None } => &["json_valid"],
        OutputContract::Spans { .. } => &["span_f1", "span_exact"],
        OutputContract::Text { .. } => &["normalized_match"],
        OutputContract::ToolCall { .. } => &["tool_exact", "tool_name", "tool_args", "tool_valid"],
    };
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// One `[components.NAME]` table, given the models it may name and the project's seed and
/// constraints (which its own override).
#[allow(clippy::too_many_arguments)]
pub(super) fn component(
    at: &Locator<'_>,
    root: &Path,
    name: &str,
    span: Range<usize>,
    raw: RawComponent,
    (models, students): (&BTreeMap<String, ModelConfig>, &[Student]),
    (project_seed, project_constraints): (u64, &ConstraintsConfig),
) -> Result<Component, ConfigError> {
    let key = |k: &str| format!("components.{name}.{k}");
    let constraints = match raw.constraints {
        Some(c) => super::constraints::over(at, &key("constraints"), project_constraints, c)?,
        None => project_constraints.clone(),
    };
    if let Some(prompt) = &raw.prompt {
        check_template(prompt.get_ref())
            .map_err(|m| at.invalid(prompt.span(), key("prompt"), m))?;
    }
    if let Some(system) = &raw.system {
        check_template(system).map_err(|m| at.invalid(span.clone(), key("system"), m))?;
    }
    let ds_span = raw.dataset.span();
    let dataset = dataset_config(root, raw.dataset.into_inner())
        .map_err(|m| at.invalid(ds_span, key("dataset"), m))?;
    let reference = match raw.reference.into_inner() {
        RawReference::Field(f) => Reference::Field(f),
        RawReference::Spans(s) => Reference::Spans {
            spans: s.spans,
            text: s.text,
            slot: s.slot,
            start: s.start,
            end: s.end,
        },
    };
    let output = output(at, &key("output"), raw.output)?;
    // A conversation read from the row needs no prompt template; anything else does.
    let from_messages = matches!(
        &output,
        OutputContract::ToolCall {
            messages: Some(_),
            ..
        }
    );
    let prompt = match raw.prompt {
        Some(p) => p.into_inner(),
        None if from_messages => String::new(),
        None => {
            return Err(at.invalid(
                span,
                key("prompt"),
                "missing prompt: a Jinja template over the row's fields (only a tool_call \
                 contract that reads the row's messages goes without one)",
            ));
        }
    };
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
                    "tool_exact" | "tool_name" | "tool_args" | "tool_valid" => {
                        matches!(output, OutputContract::ToolCall { .. })
                    }
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
    within(max_tokens, 1, limits::MAX_TOKENS)
        .map_err(|m| at.invalid(span.clone(), key("max_tokens"), m))?;
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
            let labelled_by = match &fs.labelled_by {
                Some(m) if !models.contains_key(m.get_ref()) => {
                    return Err(at.unknown_model(&key("few_shot.labelled_by"), m, models));
                }
                Some(_) if ds.is_none() => {
                    return Err(at.invalid(
                        fs_span.clone(),
                        key("few_shot.labelled_by"),
                        "labelled_by labels a separate pool: give few_shot a dataset",
                    ));
                }
                m => m.as_ref().map(|m| m.get_ref().clone()),
            };
            let k = fs.k.unwrap_or(4);
            within(k, 1, limits::SHOTS)
                .map_err(|m| at.invalid(fs_span.clone(), key("few_shot.k"), m))?;
            if let Some(pool) = fs.pool {
                within(pool, 1, limits::POOL)
                    .map_err(|m| at.invalid(fs_span.clone(), key("few_shot.pool"), m))?;
            }
            Ok::<_, ConfigError>(FewShot {
                k,
                dataset: ds,
                seed: fs.seed.unwrap_or(project_seed),
                stratify: fs.stratify.unwrap_or(true),
                examples,
                pool: fs.pool.unwrap_or(64).max(1),
                labelled_by,
            })
        })
        .transpose()?;
    let judge = match raw.judge {
        Some(j) => {
            let j_span = j.span();
            let j = j.into_inner();
            let max_tokens = j.max_tokens.unwrap_or(16);
            within(max_tokens, 1, limits::MAX_TOKENS)
                .map_err(|m| at.invalid(j_span, key("judge.max_tokens"), m))?;
            if !models.contains_key(j.model.get_ref()) {
                return Err(at.unknown_model(&key("judge.model"), &j.model, models));
            }
            Some(Judge {
                model: j.model.into_inner(),
                rubric: j.rubric,
                max_tokens,
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
    let baseline = raw.baseline.clone();
    let cx = Context {
        at,
        component: name,
        models,
        output: &output,
        few_shot: few_shot.as_ref(),
        max_tokens,
        students,
    };
    let candidates = candidate::candidates(&cx, span.clone(), raw.candidates)?;
    let baseline = match baseline {
        Some(b) if !candidates.iter().any(|c| &c.name == b.get_ref()) => {
            let names: Vec<&str> = candidates.iter().map(|c| c.name.as_str()).collect();
            return Err(at.invalid(
                b.span(),
                key("baseline"),
                format!(
                    "no candidate '{}' in this component (candidates: {})",
                    b.get_ref(),
                    names.join(", ")
                ),
            ));
        }
        b => b.map(Spanned::into_inner),
    };
    let serve = raw
        .serve
        .map(|s| super::serve::serve(at, name, s, &candidates))
        .transpose()?;
    Ok(Component {
        name: name.to_owned(),
        description: raw.description,
        system: raw.system,
        prompt,
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
        constraints,
        baseline,
        serve,
        students: Vec::new(),
    })
}

/// A `dataset = { ... }` table; its path is relative to the project file's directory.
pub(super) fn dataset_config(root: &Path, raw: RawDataset) -> Result<DatasetConfig, String> {
    if let Some(f) = &raw.format
        && !["jsonl", "csv", "tsv", "json", "squad", "bfcl"].contains(&f.as_str())
    {
        return Err(format!(
            "unknown format '{f}': expected jsonl, csv, tsv, json, squad or bfcl"
        ));
    }
    if raw.answers.is_some() && raw.format.as_deref() != Some("bfcl") {
        return Err(
            "answers (a BFCL possible_answer file) applies to format = \"bfcl\" only".into(),
        );
    }
    Ok(DatasetConfig {
        path: clean(&root.join(&raw.path)),
        format: raw.format,
        records: raw.records,
        columns: raw.columns,
        id: raw.id,
        answers: raw.answers.map(|a| clean(&root.join(a))),
    })
}

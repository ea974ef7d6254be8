//! `[[components.NAME.students]]` -> [`Student`], and the model each student answers as.
//!
//! Students are converted before their components' candidates, because a candidate with
//! `student = "NAME"` answers with the student's model (`<component>.<name>`), which is added
//! to the project's models here. What needs the whole component (a classifier only for a label
//! contract, a teacher that is one of its candidates) is checked by [`check`] afterwards.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use super::component::dataset_config;
use super::locate::Locator;
use crate::project::component::{Component, OutputContract};
use crate::project::error::ConfigError;
use crate::project::model::{ModelConfig, PriceSource, ProviderConfig};
use crate::project::raw::{RawStudent, RawTrainingData};
use crate::project::student::{ADAPTER_FILE, Student, StudentKind, TrainingData};

/// The most LoRA rank accepted: beyond it an adapter is no longer small.
const MAX_RANK: usize = 256;
/// The most hidden units of a classifier student.
const MAX_HIDDEN: usize = 4096;
/// The most epochs a student trains for.
const MAX_EPOCHS: u32 = 10_000;
/// The most rows per optimiser step of a LoRA student.
const MAX_BATCH: usize = 256;
/// The longest training row (prompt and answer) a LoRA student takes, in tokens.
const MAX_ROW_TOKENS: usize = 8192;

/// A component's students, and the models they answer as (not yet in `models`).
pub(super) fn students(
    at: &Locator<'_>,
    (root, dir): (&Path, &Path),
    component: &str,
    raw: Vec<Spanned<RawStudent>>,
    models: &BTreeMap<String, ModelConfig>,
) -> Result<Vec<(Student, ModelConfig)>, ConfigError> {
    let mut out: Vec<(Student, ModelConfig)> = Vec::new();
    for (i, spanned) in raw.into_iter().enumerate() {
        let span = spanned.span();
        let s = student(
            at,
            (root, dir),
            component,
            i,
            span.clone(),
            spanned.into_inner(),
            models,
        )?;
        if out.iter().any(|(o, _)| o.name == s.0.name) {
            return Err(at.invalid(
                span,
                format!("components.{component}.students[{i}].name"),
                format!("two students are named '{}'", s.0.name),
            ));
        }
        out.push(s);
    }
    Ok(out)
}

fn student(
    at: &Locator<'_>,
    (root, dir): (&Path, &Path),
    component: &str,
    i: usize,
    span: Range<usize>,
    raw: RawStudent,
    models: &BTreeMap<String, ModelConfig>,
) -> Result<(Student, ModelConfig), ConfigError> {
    let key = |k: &str| format!("components.{component}.students[{i}].{k}");
    let bad = |k: &str, m: String| at.invalid(span.clone(), key(k), m);
    let name = raw.name.get_ref().clone();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(at.invalid(
            raw.name.span(),
            key("name"),
            "a student's name is letters, digits, '-', '_' or '.' (it names a directory)",
        ));
    }
    let model_of = |k: &str, m: &Spanned<String>| -> Result<ModelConfig, ConfigError> {
        models
            .get(m.get_ref())
            .cloned()
            .ok_or_else(|| at.unknown_model(&key(k), m, models))
    };
    let kind_name = raw.kind.get_ref().as_str();
    let only = |present: bool, k: &str, wanted: &str| {
        if present && kind_name != wanted {
            Err(bad(
                k,
                format!("{k} applies to type = \"{wanted}\" students"),
            ))
        } else {
            Ok(())
        }
    };
    only(raw.embedder.is_some(), "embedder", "classifier")?;
    only(raw.hidden.is_some(), "hidden", "classifier")?;
    only(raw.l2.is_some(), "l2", "classifier")?;
    for (present, k) in [
        (raw.base.is_some(), "base"),
        (raw.rank.is_some(), "rank"),
        (raw.alpha.is_some(), "alpha"),
        (raw.layers.is_some(), "layers"),
        (raw.batch_size.is_some(), "batch_size"),
        (raw.max_tokens.is_some(), "max_tokens"),
    ] {
        only(present, k, "lora")?;
    }
    let artefact = dir.join(component).join(&name);
    let model_name = format!("{component}.{name}");
    let (kind, model) = match kind_name {
        "classifier" => {
            let Some(e) = &raw.embedder else {
                return Err(bad(
                    "embedder",
                    "a classifier needs embedder = \"MODEL\": the model whose embeddings it learns from"
                        .to_owned(),
                ));
            };
            let embedder = model_of("embedder", e)?;
            let hidden = raw.hidden.unwrap_or(0);
            if hidden > MAX_HIDDEN {
                return Err(bad("hidden", format!("at most {MAX_HIDDEN} hidden units")));
            }
            let l2 = raw.l2.unwrap_or(1e-4);
            if !(l2 >= 0.0 && l2.is_finite()) {
                return Err(bad("l2", "must be a number ≥ 0".to_owned()));
            }
            let model = ModelConfig {
                name: model_name.clone(),
                provider: ProviderConfig::Classifier {
                    artefact: artefact.clone(),
                    embedder: Box::new(embedder.clone()),
                },
                price: embedder.price,
                price_source: embedder.price_source.clone(),
                ..embedder.clone()
            };
            (
                StudentKind::Classifier {
                    embedder: e.get_ref().clone(),
                    hidden,
                    l2,
                },
                model,
            )
        }
        "lora" => {
            let Some(b) = &raw.base else {
                return Err(bad(
                    "base",
                    "a LoRA student needs base = \"MODEL\": the local model it adapts".to_owned(),
                ));
            };
            let base = model_of("base", b)?;
            let ProviderConfig::Local {
                model: file,
                context_size,
                parallel,
                chat_template,
                batch_invariant,
                prefix_cache,
                adapter,
            } = &base.provider
            else {
                return Err(at.invalid(
                    b.span(),
                    key("base"),
                    format!(
                        "model '{}' is {}: a LoRA student trains a local GGUF model",
                        b.get_ref(),
                        base.provider.kind()
                    ),
                ));
            };
            if adapter.is_some() {
                return Err(at.invalid(
                    b.span(),
                    key("base"),
                    format!(
                        "model '{}' already has an adapter: name the plain model",
                        b.get_ref()
                    ),
                ));
            }
            let rank = raw.rank.unwrap_or(8);
            if rank == 0 || rank > MAX_RANK {
                return Err(bad("rank", format!("must be within 1..={MAX_RANK}")));
            }
            let alpha = raw.alpha.unwrap_or(2.0 * rank as f64);
            if !(alpha > 0.0 && alpha.is_finite()) {
                return Err(bad("alpha", "must be a positive number".to_owned()));
            }
            if raw.layers == Some(0) {
                return Err(bad(
                    "layers",
                    "must be at least 1 (leave it out to adapt every layer)".to_owned(),
                ));
            }
            let batch_size = raw.batch_size.unwrap_or(8);
            if batch_size == 0 || batch_size > MAX_BATCH {
                return Err(bad("batch_size", format!("must be within 1..={MAX_BATCH}")));
            }
            let max_tokens = raw.max_tokens.unwrap_or(512);
            if !(8..=MAX_ROW_TOKENS).contains(&max_tokens) {
                return Err(bad(
                    "max_tokens",
                    format!("must be within 8..={MAX_ROW_TOKENS}"),
                ));
            }
            let model = ModelConfig {
                name: model_name.clone(),
                provider: ProviderConfig::Local {
                    model: file.clone(),
                    context_size: *context_size,
                    parallel: *parallel,
                    chat_template: chat_template.clone(),
                    batch_invariant: *batch_invariant,
                    prefix_cache: *prefix_cache,
                    adapter: Some(artefact.join(ADAPTER_FILE)),
                },
                price_source: PriceSource::Hardware,
                ..base.clone()
            };
            (
                StudentKind::Lora {
                    base: b.get_ref().clone(),
                    rank,
                    alpha,
                    layers: raw.layers,
                    batch_size,
                    max_tokens,
                },
                model,
            )
        }
        other => {
            return Err(at.invalid(
                raw.kind.span(),
                key("type"),
                format!("unknown student type '{other}': expected classifier or lora"),
            ));
        }
    };
    let data = training_data(at, root, &key("data"), raw.data)?;
    let validation = raw.validation.unwrap_or(0.1);
    if !(validation > 0.0 && validation < 1.0) {
        return Err(bad(
            "validation",
            "must be strictly between 0 and 1 (the share held out to stop early)".to_owned(),
        ));
    }
    let default_epochs = match kind {
        StudentKind::Classifier { .. } => 200,
        StudentKind::Lora { .. } => 3,
    };
    let epochs = raw.epochs.unwrap_or(default_epochs);
    if epochs == 0 || epochs > MAX_EPOCHS {
        return Err(bad("epochs", format!("must be within 1..={MAX_EPOCHS}")));
    }
    let default_rate = match kind {
        StudentKind::Classifier { .. } => 3e-3,
        StudentKind::Lora { .. } => 2e-4,
    };
    let learning_rate = raw.learning_rate.unwrap_or(default_rate);
    if !(learning_rate > 0.0 && learning_rate < 10.0) {
        return Err(bad(
            "learning_rate",
            "must be a positive number below 10".to_owned(),
        ));
    }
    if raw.limit == Some(0) {
        return Err(bad(
            "limit",
            "must be at least 1 (leave it out to train on every row)".to_owned(),
        ));
    }
    let patience = raw.patience.unwrap_or(match kind {
        StudentKind::Classifier { .. } => 8,
        StudentKind::Lora { .. } => 1,
    });
    Ok((
        Student {
            name,
            kind,
            data,
            limit: raw.limit,
            validation,
            epochs,
            patience,
            learning_rate,
            seed: raw.seed.unwrap_or(42),
            artefact,
            model: model_name,
        },
        model,
    ))
}

fn training_data(
    at: &Locator<'_>,
    root: &Path,
    key: &str,
    raw: Spanned<RawTrainingData>,
) -> Result<TrainingData, ConfigError> {
    let span = raw.span();
    let raw = raw.into_inner();
    let from = raw.from.get_ref().as_str();
    let only = |present: bool, k: &str, wanted: &str| {
        if present && from != wanted {
            Err(at.invalid(
                span.clone(),
                format!("{key}.{k}"),
                format!("{k} applies to from = \"{wanted}\""),
            ))
        } else {
            Ok(())
        }
    };
    only(raw.dataset.is_some(), "dataset", "dataset")?;
    only(raw.teacher.is_some(), "teacher", "teacher")?;
    only(raw.inputs.is_some(), "inputs", "teacher")?;
    only(raw.reference_from.is_some(), "reference_from", "traffic")?;
    let dataset = |d, k: &str| {
        dataset_config(root, d).map_err(|m| at.invalid(span.clone(), format!("{key}.{k}"), m))
    };
    Ok(match from {
        "dataset" => match raw.dataset {
            Some(d) => TrainingData::Dataset {
                dataset: dataset(d, "dataset")?,
            },
            None => {
                return Err(at.invalid(
                    span,
                    format!("{key}.dataset"),
                    "missing: from = \"dataset\" needs dataset = { path = \"...\" }",
                ));
            }
        },
        "split" => TrainingData::Split,
        "teacher" => TrainingData::Teacher {
            candidate: raw
                .teacher
                .ok_or_else(|| {
                    at.invalid(
                        span.clone(),
                        format!("{key}.teacher"),
                        "missing: the candidate whose answers the student learns",
                    )
                })?
                .into_inner(),
            inputs: raw.inputs.map(|d| dataset(d, "inputs")).transpose()?,
        },
        "traffic" => TrainingData::Traffic {
            reference_from: raw.reference_from.map(Spanned::into_inner),
        },
        other => {
            return Err(at.invalid(
                raw.from.span(),
                format!("{key}.from"),
                format!("unknown source '{other}': expected dataset, split, teacher or traffic"),
            ));
        }
    })
}

/// What needs the converted component: a classifier answers labels only; a teacher is one of
/// its candidates (not a student answering as itself); the split's train part needs a split.
pub(super) fn check(
    at: &Locator<'_>,
    span: Range<usize>,
    c: &Component,
    students: &[Student],
) -> Result<(), ConfigError> {
    for (i, s) in students.iter().enumerate() {
        let key = |k: &str| format!("components.{}.students[{i}].{k}", c.name);
        if matches!(s.kind, StudentKind::Classifier { .. })
            && !matches!(c.output, OutputContract::Label { .. })
        {
            return Err(at.invalid(
                span.clone(),
                key("type"),
                "a classifier answers one label: it needs output type = \"label\" (use type = \"lora\" for other contracts)",
            ));
        }
        let uses_split = matches!(
            &s.data,
            TrainingData::Split | TrainingData::Teacher { inputs: None, .. }
        );
        if uses_split && c.split.is_none() {
            return Err(at.invalid(
                span.clone(),
                key("data"),
                format!(
                    "the split's train part needs a [components.{}.split] (or name a dataset)",
                    c.name
                ),
            ));
        }
        if let TrainingData::Teacher { candidate, .. } = &s.data {
            match c.candidate(candidate) {
                None => {
                    let names: Vec<&str> = c.candidates.iter().map(|k| k.name.as_str()).collect();
                    return Err(at.invalid(
                        span.clone(),
                        key("data.teacher"),
                        format!(
                            "no candidate '{candidate}' in this component (candidates: {})",
                            names.join(", ")
                        ),
                    ));
                }
                Some(k) if k.student.is_some() => {
                    return Err(at.invalid(
                        span.clone(),
                        key("data.teacher"),
                        format!(
                            "candidate '{candidate}' is a student: a teacher answers by itself"
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

//! A classifier student: the training rows' user prompts embedded by the student's embedding
//! model, a classifier trained on them (`rightfit-students`), and the artefact the registry
//! serves. The text embedded is the rendered user message, exactly what a served request's last
//! user message will be.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use rightfit_config::project::{
    Component, OutputContract, Project, Student, StudentKind, TrainingData,
};
use rightfit_eval::example::Example;
use rightfit_eval::prompt::Templates;
use rightfit_providers::Provider;
use rightfit_registry::{ModelRegistry, ProviderFactory};
use rightfit_students::artefact::{self, ArtefactInfo, EmbedderRef, Provenance};
use rightfit_students::{MIN_EXAMPLES_PER_LABEL, ModelKind, TrainOptions};
use rightfit_types::{BaseModel as BaseInfo, EmbeddingRequest, TrainingDataInfo, TrainingInfo};

use crate::context::{Distill, peak_rss_bytes};
use crate::data::TrainingSet;
use crate::error::{DistillError, Result};
use crate::manifest;
use rightfit_types::progress::{TrainingFigures, Unit};

/// Texts per embedding call.
const EMBED_BATCH: usize = 64;

/// The embedding model a classifier student reads, built and probed.
pub struct Embedder {
    /// What it rests on (the manifest's `base`).
    pub info: BaseInfo,
    provider: Arc<dyn Provider>,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// Builds the student's embedding model and embeds one text with it, so that a model that
/// cannot embed is an error before any labelling.
pub async fn check_embedder(
    project: &Project,
    name: &str,
    registry: &ModelRegistry,
) -> Result<Embedder> {
    let model = project
        .models
        .get(name)
        .ok_or_else(|| DistillError::Model(format!("embedder '{name}' is not a [models] entry")))?;
    let provider = registry
        .provider(model)
        .await
        .map_err(|e| DistillError::Model(e.to_string()))?;
    let identity = registry
        .identity(model)
        .map_err(|e| DistillError::Model(e.to_string()))?;
    provider
        .embed(EmbeddingRequest {
            model: String::new(),
            inputs: vec!["probe".to_owned()],
            normalize: true,
        })
        .await
        .map_err(|e| {
            DistillError::Model(format!(
                "models.{name} cannot give embeddings, so a classifier cannot learn from it: {e}"
            ))
        })?;
    Ok(Embedder {
        info: BaseInfo {
            model: name.to_owned(),
            source: identity.source,
            sha256: identity.sha256,
        },
        provider,
    })
}

/// The text a served request's last user message will be for this row.
fn user_text(templates: &Templates, e: &Example) -> String {
    templates
        .task(e)
        .map(|(_, prompt)| prompt)
        .unwrap_or_else(|_| e.vars.to_string())
}

/// The label a reference names, as the contract spells it (case and surrounding space aside).
fn label_index(labels: &[String], reference: &serde_json::Value) -> Option<usize> {
    let text = match reference {
        serde_json::Value::String(s) => s.trim().to_owned(),
        other => other.to_string(),
    };
    labels
        .iter()
        .position(|l| l == &text)
        .or_else(|| labels.iter().position(|l| l.eq_ignore_ascii_case(&text)))
}

/// Embeds `texts` in batches, telling `progress`.
async fn embed_all(d: &Distill<'_>, e: &Embedder, texts: &[String]) -> Result<Vec<Vec<f32>>> {
    d.progress
        .start("embedding", Some(texts.len() as u64), 0, Unit::Items);
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(EMBED_BATCH) {
        if d.stop.load(std::sync::atomic::Ordering::Relaxed) {
            d.progress.finish();
            return Err(DistillError::Stopped(
                "stopped while embedding; nothing was written".to_owned(),
            ));
        }
        let answer = e
            .provider
            .embed(EmbeddingRequest {
                model: String::new(),
                inputs: chunk.to_vec(),
                normalize: true,
            })
            .await
            .map_err(|err| DistillError::Model(format!("embedding: {err}")))?;
        if answer.embeddings.len() != chunk.len() {
            return Err(DistillError::Model(format!(
                "the embedder answered {} vectors for {} texts",
                answer.embeddings.len(),
                chunk.len()
            )));
        }
        out.extend(answer.embeddings);
        d.progress.advance(chunk.len() as u64);
    }
    d.progress.finish();
    Ok(out)
}

/// Trains the classifier on the training and validation rows (the classifier draws its own
/// seeded, stratified validation part of the student's `validation` share) and writes its
/// artefact; returns the manifest's training figures and files.
#[allow(clippy::too_many_arguments)]
pub async fn train(
    d: &Distill<'_>,
    c: &Component,
    s: &Student,
    e: &Embedder,
    set: &TrainingSet,
    templates: &Templates,
    data_sha: &str,
    data: &mut TrainingDataInfo,
    seconds: &mut BTreeMap<String, f64>,
) -> Result<(TrainingInfo, BTreeMap<String, String>)> {
    let OutputContract::Label { labels, .. } = &c.output else {
        return Err(DistillError::Settings(format!(
            "components.{}.students.{}: a classifier answers labels only; use type = \"lora\"",
            c.name, s.name
        )));
    };
    let StudentKind::Classifier { hidden, l2, .. } = &s.kind else {
        return Err(DistillError::Settings("not a classifier student".into()));
    };
    let mut texts = Vec::new();
    let mut targets = Vec::new();
    for row in set.train.iter().chain(&set.validation) {
        match label_index(labels, &row.reference) {
            Some(i) => {
                texts.push(user_text(templates, row));
                targets.push(i);
            }
            None => data.dropped += 1,
        }
    }
    // Labelled data must cover every label; a teacher's or the traffic's answers need not (a
    // label they never gave is never predicted). Checked before the embedding time is spent.
    let min_examples_per_label = match &s.data {
        TrainingData::Dataset { .. } | TrainingData::Split => MIN_EXAMPLES_PER_LABEL,
        TrainingData::Teacher { .. } | TrainingData::Traffic { .. } => 0,
    };
    rightfit_students::check_label_counts(&targets, labels, min_examples_per_label).map_err(
        |err| DistillError::Data(format!("components.{}.students.{}: {err}", c.name, s.name)),
    )?;
    let started = Instant::now();
    let embeddings = embed_all(d, e, &texts).await?;
    seconds.insert("embed".to_owned(), started.elapsed().as_secs_f64());
    let options = TrainOptions {
        model: if *hidden > 0 {
            ModelKind::Mlp { hidden: *hidden }
        } else {
            ModelKind::Linear
        },
        l2: *l2 as f32,
        learning_rate: s.learning_rate as f32,
        max_epochs: s.epochs as usize,
        patience: s.patience as usize,
        validation_fraction: s.validation as f32,
        seed: s.seed,
        min_examples_per_label,
        ..TrainOptions::default()
    };
    let epochs = s.epochs;
    let progress = d.progress;
    let mut on_epoch = |r: &rightfit_students::EpochReport| {
        progress.training(&TrainingFigures {
            epoch: r.epoch as u32,
            epochs,
            step: r.epoch as u64,
            steps: u64::from(epochs),
            loss: r.train_loss,
            examples_per_s: r.examples_per_s,
            validation_loss: r.validation_loss,
            validation_accuracy: r.validation_accuracy,
        });
    };
    let (classifier, report) = tokio::task::block_in_place(|| {
        rightfit_students::train(&embeddings, &targets, labels, &options, &mut on_epoch)
    })
    .map_err(|err| {
        DistillError::Data(format!("components.{}.students.{}: {err}", c.name, s.name))
    })?;
    seconds.insert("train".to_owned(), report.seconds);
    data.train = report.train_examples as u64;
    data.validation = report.validation_examples as u64;
    let best = report.best().cloned();
    let mut validation = BTreeMap::new();
    if let Some(b) = &best {
        if let Some(l) = b.validation_loss {
            validation.insert("loss".to_owned(), l);
        }
        if let Some(a) = b.validation_accuracy {
            validation.insert("accuracy".to_owned(), a);
        }
    }
    let mut notes = BTreeMap::new();
    notes.insert("component".to_owned(), c.name.clone());
    notes.insert("student".to_owned(), s.name.clone());
    let info = ArtefactInfo {
        embedder: EmbedderRef {
            model: e.info.model.clone(),
            sha256: e.info.sha256.clone().unwrap_or_default(),
            normalize: true,
        },
        options,
        training: (&report).into(),
        metrics: validation
            .iter()
            .map(|(k, v)| (format!("validation_{k}"), *v))
            .collect(),
        provenance: Provenance {
            data_sha256: Some(data_sha.to_owned()),
            teacher: set.teacher.clone(),
            notes,
        },
    };
    artefact::save(&s.artefact, &classifier, &info)
        .map_err(|err| DistillError::Model(err.to_string()))?;
    let mut files = BTreeMap::new();
    for f in ["manifest.json", "weights.f32"] {
        files.insert(f.to_owned(), manifest::sha256_file(&s.artefact.join(f))?);
    }
    let examples_per_s = report.epochs.iter().map(|r| r.examples_per_s).sum::<f64>()
        / report.epochs.len().max(1) as f64;
    Ok((
        TrainingInfo {
            epochs: report.epochs.len() as u32,
            best_epoch: report.best_epoch as u32,
            validation,
            seconds: BTreeMap::new(),
            examples_per_s,
            peak_rss_bytes: peak_rss_bytes(),
            resumed: false,
        },
        files,
    ))
}

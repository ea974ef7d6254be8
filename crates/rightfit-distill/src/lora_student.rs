//! Training a LoRA student: its base checked first (before any labelling), its rows turned into
//! the tokens the engine will see when serving (the component's zero-shot prompt through the
//! base's chat template, then the answer and the end of its turn), then epochs of AdamW on the
//! answer tokens with a checkpoint every few steps, the adapter of the best epoch on the
//! validation rows kept, and early stopping.
//!
//! An interrupted run (Ctrl-C, a kill) resumes from its last checkpoint when the data and the
//! settings are the same; otherwise it starts afresh and says why.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use rightfit_config::project::{ADAPTER_FILE, Component, ProviderConfig, Student, StudentKind};
use rightfit_eval::example::{Example as Row, answer_text};
use rightfit_eval::prompt::Templates;
use rightfit_llama::EngineOptions;
use rightfit_registry::ModelRegistry;
use serde::{Deserialize, Serialize};

use crate::base::{BaseHeader, BaseModel};
use crate::error::{DistillError, Result, io_err};
use crate::forward::Example;
use crate::lora::{Layers, LoraConfig, Projection};
use crate::manifest::{sha256_file, write_atomic};
use crate::optim::OptimConfig;
use crate::train::Trainer;
use rightfit_types::progress::{Progress, TrainingFigures, Unit};

const CHECKPOINT: &str = "checkpoint.gguf";
const STATE: &str = "training.json";
/// Steps between checkpoints inside an epoch.
const CHECKPOINT_EVERY: u64 = 25;

/// The base model a LoRA student adapts, resolved and checked.
#[derive(Debug, Clone)]
pub struct LoraBase {
    /// Its `[models]` name.
    pub model: String,
    /// What `[models]` names as its file (catalogue name or path).
    pub spec: String,
    /// The GGUF file.
    pub path: PathBuf,
    /// The chat template it is served with, when the entry sets one.
    pub chat_template: Option<String>,
    /// Its SHA-256 (the catalogue's, else computed).
    pub sha256: String,
    /// Its shape.
    pub header: BaseHeader,
}

/// Resolves the student's base and checks that this trainer can train it. Cheap: run before
/// any labelling, so that a base the route cannot train fails in seconds.
pub fn check_base(
    project: &rightfit_config::project::Project,
    student: &Student,
    registry: &ModelRegistry,
) -> Result<LoraBase> {
    let StudentKind::Lora { base, .. } = &student.kind else {
        return Err(DistillError::Settings(format!(
            "student '{}' is not a LoRA student",
            student.name
        )));
    };
    let config = project
        .models
        .get(base)
        .ok_or_else(|| DistillError::Model(format!("model '{base}' is not defined")))?;
    let ProviderConfig::Local {
        model: spec,
        chat_template,
        ..
    } = &config.provider
    else {
        return Err(DistillError::Model(format!(
            "models.{base}: a LoRA student needs a local GGUF model"
        )));
    };
    let resolved = registry
        .files()
        .resolve(spec)
        .map_err(|e| DistillError::Model(format!("models.{base}: {e}")))?;
    let header = BaseHeader::read(&resolved.path)?;
    let sha256 = match resolved.entry {
        Some(entry) => entry.sha256.to_owned(),
        None => sha256_file(&resolved.path)?,
    };
    Ok(LoraBase {
        model: base.clone(),
        spec: spec.clone(),
        path: resolved.path,
        chat_template: chat_template.clone(),
        sha256,
        header,
    })
}

/// Rows as token sequences; rows longer than `max_tokens` are left out and counted.
pub async fn tokenise(
    registry: &ModelRegistry,
    base: &LoraBase,
    templates: &Templates,
    rows: &[Row],
    max_tokens: usize,
    progress: &dyn Progress,
) -> Result<(Vec<Example>, u64)> {
    let template = base.chat_template.clone();
    let tune = move |o: &mut EngineOptions| {
        o.parallel = 1;
        o.context_size = 512;
        if let Some(t) = &template {
            o.chat_template = Some(t.clone());
        }
    };
    let loaded = registry
        .load(&base.spec, &tune)
        .await
        .map_err(|e| DistillError::Model(format!("models.{}: {e}", base.model)))?;
    progress.start("tokenising", Some(rows.len() as u64), 0, Unit::Items);
    let mut out = Vec::with_capacity(rows.len());
    let mut too_long = 0u64;
    for row in rows {
        let messages = templates
            .messages(&[], row)
            .map_err(|e| DistillError::Data(format!("row {}: {e}", row.id)))?;
        let answer = answer_text(&row.reference);
        let t = loaded
            .engine
            .training_tokens(messages, &answer, None)
            .await
            .map_err(|e| DistillError::Model(format!("row {}: {e}", row.id)))?;
        progress.advance(1);
        if t.prompt.len() + t.answer.len() > max_tokens || t.answer.is_empty() {
            too_long += 1;
            continue;
        }
        out.push(Example::prompt_answer(&t.prompt, &t.answer));
    }
    progress.finish();
    Ok((out, too_long))
}

/// Where an interrupted run stood.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct State {
    /// What must match to resume: the data's hash and the settings.
    key: String,
    /// The epoch under way (0-based) and the next batch in it.
    epoch: u32,
    batch: usize,
    best_loss: Option<f64>,
    /// The base model's validation loss, measured before the first step.
    #[serde(default)]
    base_loss: Option<f64>,
    best_epoch: u32,
    bad_epochs: u32,
    epochs_done: u32,
    seconds: f64,
    examples: u64,
}

/// What training gave.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraOutcome {
    /// Epochs run (in all runs, when resumed).
    pub epochs: u32,
    /// The epoch whose adapter was kept (1-based).
    pub best_epoch: u32,
    /// Validation loss (nats per answer token) of the kept adapter, and before training.
    pub validation_loss: f64,
    /// Validation loss of the base alone.
    pub base_loss: f64,
    /// Seconds training took (all runs).
    pub seconds: f64,
    /// Training rows processed per second.
    pub examples_per_s: f64,
    /// Whether this run resumed a checkpoint.
    pub resumed: bool,
    /// Trainable parameters.
    pub parameters: usize,
}

/// The LoRA settings a student asks for.
pub fn lora_config(student: &Student) -> Result<(LoraConfig, usize)> {
    let StudentKind::Lora {
        rank,
        alpha,
        layers,
        batch_size,
        ..
    } = &student.kind
    else {
        return Err(DistillError::Settings("not a LoRA student".into()));
    };
    Ok((
        LoraConfig {
            rank: *rank,
            alpha: *alpha as f32,
            targets: Projection::ALL.to_vec(),
            layers: layers.map_or(Layers::All, Layers::Top),
        },
        *batch_size,
    ))
}

/// A seeded order of `n` rows for one epoch, the same however often it is asked (so a resumed
/// epoch goes on in the order it began).
fn epoch_order(seed: u64, epoch: u32, n: usize) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(
        seed ^ (u64::from(epoch) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// Trains the adapter into `dir` (blocking: run it off the async runtime). `key` identifies the
/// data and settings, for resuming.
#[allow(clippy::too_many_arguments)]
pub fn train(
    dir: &Path,
    base: &LoraBase,
    student: &Student,
    train_rows: &[Example],
    validation: &[Example],
    key: &str,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<LoraOutcome> {
    let (lora, batch_size) = lora_config(student)?;
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let model = BaseModel::load(&base.path)?;
    let steps_per_epoch = train_rows.len().div_ceil(batch_size) as u64;
    let total_steps = steps_per_epoch * u64::from(student.epochs);
    let optim = OptimConfig {
        lr: student.learning_rate,
        total_steps: total_steps as usize,
        warmup_steps: (total_steps as usize / 20).clamp(1, 50),
        ..OptimConfig::default()
    };
    let checkpoint = dir.join(CHECKPOINT);
    let state_path = dir.join(STATE);
    let saved: Option<State> = std::fs::read(&state_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let (mut trainer, mut state, resumed) = match saved {
        Some(s) if s.key == key && checkpoint.exists() => {
            let t = Trainer::resume(model, &lora, optim, &checkpoint)?;
            progress.note(&format!(
                "resuming from {} (epoch {}, {} steps done)",
                checkpoint.display(),
                s.epoch + 1,
                t.steps_done()
            ));
            (t, s, true)
        }
        Some(_) => {
            progress
                .note("the data or settings changed since the last checkpoint: training afresh");
            let t = Trainer::new(model, &lora, optim, student.seed)?;
            (t, State::default(), false)
        }
        None => {
            let t = Trainer::new(model, &lora, optim, student.seed)?;
            (t, State::default(), false)
        }
    };
    state.key = key.to_owned();
    let parameters = trainer.model.lora.parameter_count();
    if !resumed || state.base_loss.is_none() {
        progress.note("measuring the base model's validation loss");
        state.base_loss = Some(trainer.eval_loss(validation, batch_size)?);
    }
    let base_loss = state.base_loss;
    if state.best_loss.is_none() {
        state.best_loss = base_loss;
    }
    let started = Instant::now();
    let seconds_before = state.seconds;
    let mut last_saved = Instant::now();
    let mut validation_loss = None;
    let save = |trainer: &Trainer, state: &State| -> Result<()> {
        trainer.save_checkpoint(&checkpoint)?;
        let bytes = serde_json::to_vec(state)
            .map_err(|e| DistillError::Data(format!("training state: {e}")))?;
        write_atomic(&state_path, &bytes)
    };
    'epochs: while state.epoch < student.epochs {
        let order = epoch_order(student.seed, state.epoch, train_rows.len());
        let batches: Vec<&[usize]> = order.chunks(batch_size).collect();
        while state.batch < batches.len() {
            if stop.load(Ordering::Relaxed) {
                state.seconds = seconds_before + started.elapsed().as_secs_f64();
                save(&trainer, &state)?;
                return Err(DistillError::Stopped(format!(
                    "checkpoint kept at {}; run 'rightfit distill' again to resume",
                    checkpoint.display()
                )));
            }
            let refs: Vec<&Example> = batches[state.batch]
                .iter()
                .map(|&i| &train_rows[i])
                .collect();
            let batch = trainer.batch(&refs)?;
            let stats = trainer.step(&batch)?;
            state.batch += 1;
            state.examples += stats.examples as u64;
            let elapsed = seconds_before + started.elapsed().as_secs_f64();
            progress.training(&TrainingFigures {
                epoch: state.epoch + 1,
                epochs: student.epochs,
                step: stats.step as u64,
                steps: total_steps,
                loss: stats.loss,
                examples_per_s: state.examples as f64 / elapsed.max(1e-9),
                validation_loss,
                validation_accuracy: None,
            });
            if (stats.step as u64).is_multiple_of(CHECKPOINT_EVERY)
                || last_saved.elapsed().as_secs() >= 120
            {
                state.seconds = elapsed;
                save(&trainer, &state)?;
                last_saved = Instant::now();
            }
        }
        let loss = trainer.eval_loss(validation, batch_size)?;
        validation_loss = Some(loss);
        state.epochs_done = state.epoch + 1;
        let improved = state.best_loss.is_none_or(|b| loss < b - 1e-4);
        if improved {
            state.best_loss = Some(loss);
            state.best_epoch = state.epoch + 1;
            state.bad_epochs = 0;
            let adapter = dir.join(ADAPTER_FILE);
            crate::adapter::write_adapter(
                &adapter,
                &trainer.model.lora,
                base.header.hparams.arch,
                &[
                    ("rightfit.student".to_owned(), student.name.clone()),
                    ("rightfit.base.sha256".to_owned(), base.sha256.clone()),
                    ("rightfit.data".to_owned(), key.to_owned()),
                ],
            )?;
        } else {
            state.bad_epochs += 1;
        }
        progress.note(&format!(
            "epoch {}: validation loss {loss:.4}{}",
            state.epoch + 1,
            if improved { " (kept)" } else { "" }
        ));
        state.epoch += 1;
        state.batch = 0;
        state.seconds = seconds_before + started.elapsed().as_secs_f64();
        save(&trainer, &state)?;
        last_saved = Instant::now();
        if state.bad_epochs >= student.patience {
            progress.note(&format!(
                "stopping early: no better validation loss for {} epoch(s)",
                state.bad_epochs
            ));
            break 'epochs;
        }
    }
    if state.best_epoch == 0 {
        return Err(DistillError::Data(format!(
            "student '{}': no epoch lowered the validation loss below the base model's ({:.4}) — try a higher learning_rate or more rows",
            student.name,
            base_loss.or(state.best_loss).unwrap_or(f64::NAN)
        )));
    }
    let seconds = seconds_before + started.elapsed().as_secs_f64();
    // Finished: a later run starts afresh rather than resuming a finished one.
    let _ = std::fs::remove_file(&checkpoint);
    let _ = std::fs::remove_file(&state_path);
    Ok(LoraOutcome {
        epochs: state.epochs_done,
        best_epoch: state.best_epoch,
        validation_loss: state.best_loss.unwrap_or(f64::NAN),
        base_loss: base_loss.unwrap_or(f64::NAN),
        seconds,
        examples_per_s: state.examples as f64 / seconds.max(1e-9),
        resumed,
        parameters,
    })
}

/// The rows' tokens and answers, hashed with the settings: what must match to resume.
pub fn resume_key(data_sha: &str, base: &LoraBase, student: &Student, c: &Component) -> String {
    let settings = serde_json::to_string(&student.kind).unwrap_or_default();
    format!(
        "{data_sha}|{}|{settings}|epochs={}|lr={}|seed={}|{}",
        base.sha256, student.epochs, student.learning_rate, student.seed, c.name
    )
}

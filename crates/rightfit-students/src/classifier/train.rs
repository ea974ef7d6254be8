//! Training: input checks before any work, a stratified validation split, standardisation,
//! mini-batch Adam on softmax cross-entropy with an L2 penalty (candle's autograd on the CPU),
//! early stopping that keeps the best epoch's weights.

use std::time::Instant;

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

use super::model::{Classifier, Dense, ModelKind, TrainOptions};
use crate::error::StudentError;

/// Figures for one epoch, passed to the progress callback as each ends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// 1-based.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (penalty included).
    pub train_loss: f64,
    /// Loss on the validation rows (`None` without a validation split).
    pub validation_loss: Option<f64>,
    /// Accuracy on the validation rows.
    pub validation_accuracy: Option<f64>,
    /// Training rows per second this epoch.
    pub examples_per_s: f64,
    /// Seconds since training began.
    pub elapsed_s: f64,
}

/// What training did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// One entry per epoch run.
    pub epochs: Vec<EpochReport>,
    /// The epoch whose weights were kept (1-based).
    pub best_epoch: usize,
    /// Whether training stopped before `max_epochs` because validation loss stopped falling.
    pub stopped_early: bool,
    /// Rows trained on.
    pub train_examples: usize,
    /// Rows held out for early stopping.
    pub validation_examples: usize,
    /// Wall-clock seconds, standardisation included.
    pub seconds: f64,
}

impl TrainReport {
    /// The kept epoch's figures.
    pub fn best(&self) -> Option<&EpochReport> {
        self.epochs.get(self.best_epoch.wrapping_sub(1))
    }
}

fn candle(e: candle_core::Error) -> StudentError {
    StudentError::compute("classifier training", e)
}

/// Trains a classifier on `embeddings` (one row per example) with `targets` (indices into
/// `labels`), calling `on_epoch` after every epoch.
///
/// Refused before any work: no rows, fewer than two labels, a label with fewer than
/// `options.min_examples_per_label` rows, rows of unequal length, non-finite values, a target out of
/// range, options out of range.
pub fn train(
    embeddings: &[Vec<f32>],
    targets: &[usize],
    labels: &[String],
    options: &TrainOptions,
    on_epoch: &mut dyn FnMut(&EpochReport),
) -> Result<(Classifier, TrainReport), StudentError> {
    let start = Instant::now();
    let dims = check_data(embeddings, targets, labels)?;
    check_label_counts(targets, labels, options.min_examples_per_label)?;
    check_options(options)?;
    let k = labels.len();
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let (train_rows, val_rows) = split(targets, k, options.validation_fraction, &mut rng);
    let (mean, scale) = standardisation(embeddings, &train_rows, dims);
    let device = Device::Cpu;
    let matrix = |rows: &[usize]| -> Result<(Tensor, Tensor), StudentError> {
        let mut x = Vec::with_capacity(rows.len() * dims);
        for &r in rows {
            x.extend(
                embeddings[r]
                    .iter()
                    .zip(mean.iter().zip(&scale))
                    .map(|(v, (m, s))| (v - m) / s),
            );
        }
        let y: Vec<u32> = rows.iter().map(|&r| targets[r] as u32).collect();
        Ok((
            Tensor::from_vec(x, (rows.len(), dims), &device).map_err(candle)?,
            Tensor::from_vec(y, rows.len(), &device).map_err(candle)?,
        ))
    };
    let (x_train, y_train) = matrix(&train_rows)?;
    let (x_val, y_val) = matrix(&val_rows)?;
    let weights = class_weights(targets, &train_rows, k, options.class_weights);
    let weights = Tensor::from_vec(weights, k, &device).map_err(candle)?;

    let net = Net::init(options.model, dims, k, &mut rng, &device).map_err(candle)?;
    let mut adam = AdamW::new(
        net.vars.clone(),
        ParamsAdamW {
            lr: f64::from(options.learning_rate),
            weight_decay: 0.0,
            ..ParamsAdamW::default()
        },
    )
    .map_err(candle)?;

    let n = train_rows.len();
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut epochs = Vec::new();
    let mut best: Option<(f64, usize, Vec<Dense>)> = None;
    let mut stopped_early = false;
    for epoch in 1..=options.max_epochs {
        let epoch_start = Instant::now();
        shuffle(&mut order, &mut rng);
        let mut loss_sum = 0.0;
        let mut batches = 0usize;
        for chunk in order.chunks(options.batch_size) {
            let idx = Tensor::from_slice(chunk, chunk.len(), &device).map_err(candle)?;
            let x = x_train.index_select(&idx, 0).map_err(candle)?;
            let y = y_train.index_select(&idx, 0).map_err(candle)?;
            let loss = net.loss(&x, &y, &weights, options.l2).map_err(candle)?;
            adam.backward_step(&loss).map_err(candle)?;
            loss_sum += f64::from(loss.to_scalar::<f32>().map_err(candle)?);
            batches += 1;
        }
        let (validation_loss, validation_accuracy) = if val_rows.is_empty() {
            (None, None)
        } else {
            let (l, a) = net.evaluate(&x_val, &y_val, &weights).map_err(candle)?;
            (Some(l), Some(a))
        };
        let report = EpochReport {
            epoch,
            train_loss: loss_sum / batches.max(1) as f64,
            validation_loss,
            validation_accuracy,
            examples_per_s: n as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9),
            elapsed_s: start.elapsed().as_secs_f64(),
        };
        on_epoch(&report);
        epochs.push(report);
        // Without a validation split the last epoch is kept.
        let score = validation_loss.unwrap_or(-(epoch as f64));
        if best.as_ref().is_none_or(|(b, _, _)| score < *b) {
            best = Some((score, epoch, net.layers().map_err(candle)?));
        } else if validation_loss.is_some()
            && best
                .as_ref()
                .is_some_and(|(_, e, _)| epoch - e >= options.patience)
        {
            stopped_early = epoch < options.max_epochs;
            break;
        }
    }
    let (_, best_epoch, layers) = best.ok_or_else(|| StudentError::Option {
        option: "max_epochs",
        detail: "no epoch ran".to_owned(),
    })?;
    let classifier = Classifier {
        labels: labels.to_vec(),
        kind: options.model,
        mean,
        scale,
        layers,
    };
    let report = TrainReport {
        epochs,
        best_epoch,
        stopped_early,
        train_examples: n,
        validation_examples: val_rows.len(),
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok((classifier, report))
}

/// Checks the rows and returns their dimensions.
fn check_data(
    embeddings: &[Vec<f32>],
    targets: &[usize],
    labels: &[String],
) -> Result<usize, StudentError> {
    let data = |s: String| Err(StudentError::Data(s));
    if embeddings.is_empty() {
        return data("no examples".to_owned());
    }
    if embeddings.len() != targets.len() {
        return data(format!(
            "{} embeddings but {} targets",
            embeddings.len(),
            targets.len()
        ));
    }
    if labels.len() < 2 {
        return data(format!(
            "{} label{} — a classifier needs at least two",
            labels.len(),
            if labels.len() == 1 { "" } else { "s" }
        ));
    }
    let dims = embeddings[0].len();
    if dims == 0 {
        return data("row 1: an empty embedding".to_owned());
    }
    for (row, (x, &y)) in embeddings.iter().zip(targets).enumerate() {
        if x.len() != dims {
            return data(format!(
                "row {}: {} dimensions, but row 1 has {dims}",
                row + 1,
                x.len()
            ));
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return data(format!(
                "row {}: a non-finite value ({}) at dimension {i} — the embedding model failed \
                 on this input",
                row + 1,
                x[i]
            ));
        }
        if y >= labels.len() {
            return data(format!(
                "row {}: target {y}, but there are {} labels",
                row + 1,
                labels.len()
            ));
        }
    }
    Ok(dims)
}

/// Refuses targets where a label has fewer than `min` rows, naming the labels short of it;
/// cheap, so callers can check before computing embeddings.
pub fn check_label_counts(
    targets: &[usize],
    labels: &[String],
    min: usize,
) -> Result<(), StudentError> {
    let data = |s: String| Err(StudentError::Data(s));
    let mut counts = vec![0usize; labels.len()];
    targets
        .iter()
        .filter(|&&y| y < labels.len())
        .for_each(|&y| counts[y] += 1);
    let short: Vec<String> = counts
        .iter()
        .zip(labels)
        .filter(|(c, _)| **c < min)
        .map(|(c, l)| format!("'{l}' ({c})"))
        .collect();
    if !short.is_empty() {
        let shown = short
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let more = short.len().saturating_sub(10);
        return data(format!(
            "each label needs at least {min} examples; {} ha{} fewer: {shown}{}",
            short.len(),
            if short.len() == 1 { "s" } else { "ve" },
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    Ok(())
}

fn check_options(o: &TrainOptions) -> Result<(), StudentError> {
    let bad = |option, detail: &str| {
        Err(StudentError::Option {
            option,
            detail: detail.to_owned(),
        })
    };
    if o.batch_size == 0 {
        return bad("batch_size", "must be at least 1");
    }
    if o.max_epochs == 0 {
        return bad("max_epochs", "must be at least 1");
    }
    if !(o.learning_rate.is_finite() && o.learning_rate > 0.0) {
        return bad("learning_rate", "must be a positive number");
    }
    if !(o.l2.is_finite() && o.l2 >= 0.0) {
        return bad("l2", "must be zero or positive");
    }
    if !(0.0..0.5).contains(&o.validation_fraction) {
        return bad("validation_fraction", "must be in [0, 0.5)");
    }
    if let ModelKind::Mlp { hidden: 0 } = o.model {
        return bad("model.hidden", "must be at least 1");
    }
    Ok(())
}

fn shuffle<T>(v: &mut [T], rng: &mut ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// Holds out `fraction` of each label's rows (at least one when the fraction is positive).
fn split(
    targets: &[usize],
    k: usize,
    fraction: f32,
    rng: &mut ChaCha8Rng,
) -> (Vec<usize>, Vec<usize>) {
    let mut by_label = vec![Vec::new(); k];
    targets
        .iter()
        .enumerate()
        .for_each(|(row, &y)| by_label[y].push(row));
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for rows in &mut by_label {
        shuffle(rows, rng);
        // A label with fewer than two rows (allowed only with `min_examples_per_label` < 2)
        // keeps them all for training.
        let held = if fraction > 0.0 && rows.len() >= 2 {
            ((rows.len() as f32 * fraction).round() as usize).clamp(1, rows.len() - 1)
        } else {
            0
        };
        val.extend_from_slice(&rows[..held]);
        train.extend_from_slice(&rows[held..]);
    }
    train.sort_unstable();
    val.sort_unstable();
    (train, val)
}

/// Per-feature mean and standard deviation of the training rows (1 for a constant feature).
fn standardisation(x: &[Vec<f32>], rows: &[usize], dims: usize) -> (Vec<f32>, Vec<f32>) {
    let n = rows.len().max(1) as f64;
    let mut mean = vec![0f64; dims];
    for &r in rows {
        mean.iter_mut()
            .zip(&x[r])
            .for_each(|(m, v)| *m += f64::from(*v));
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0f64; dims];
    for &r in rows {
        var.iter_mut()
            .zip(x[r].iter().zip(&mean))
            .for_each(|(s, (v, m))| *s += (f64::from(*v) - m).powi(2));
    }
    let scale = var
        .iter()
        .map(|s| {
            let sd = (s / n).sqrt();
            if sd > 1e-6 { sd as f32 } else { 1.0 }
        })
        .collect();
    (mean.into_iter().map(|m| m as f32).collect(), scale)
}

fn class_weights(targets: &[usize], rows: &[usize], k: usize, on: bool) -> Vec<f32> {
    if !on {
        return vec![1.0; k];
    }
    let mut counts = vec![0usize; k];
    rows.iter().for_each(|&r| counts[targets[r]] += 1);
    let n = rows.len() as f32;
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                0.0
            } else {
                n / (k as f32 * c as f32)
            }
        })
        .collect()
}

/// The trainable network: weights `[in, out]` and biases per layer.
struct Net {
    vars: Vec<Var>,
}

impl Net {
    fn init(
        kind: ModelKind,
        dims: usize,
        k: usize,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let mut uniform = |inputs: usize, outputs: usize| -> candle_core::Result<Var> {
            // Glorot-uniform initial weights from the seeded generator.
            let bound = (6.0 / (inputs + outputs) as f64).sqrt() as f32;
            let w: Vec<f32> = (0..inputs * outputs)
                .map(|_| {
                    let u = (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32;
                    (2.0 * u - 1.0) * bound
                })
                .collect();
            Var::from_tensor(&Tensor::from_vec(w, (inputs, outputs), device)?)
        };
        let vars = match kind {
            ModelKind::Linear => vec![
                Var::zeros((dims, k), DType::F32, device)?,
                Var::zeros(k, DType::F32, device)?,
            ],
            ModelKind::Mlp { hidden } => vec![
                uniform(dims, hidden)?,
                Var::zeros(hidden, DType::F32, device)?,
                uniform(hidden, k)?,
                Var::zeros(k, DType::F32, device)?,
            ],
        };
        Ok(Self { vars })
    }

    fn logits(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        let layers = self.vars.len() / 2;
        for (i, pair) in self.vars.chunks(2).enumerate() {
            h = h
                .matmul(pair[0].as_tensor())?
                .broadcast_add(pair[1].as_tensor())?;
            if i + 1 < layers {
                h = h.relu()?;
            }
        }
        Ok(h)
    }

    /// Weighted mean cross-entropy over the rows (without the penalty).
    fn cross_entropy(
        &self,
        x: &Tensor,
        y: &Tensor,
        weights: &Tensor,
    ) -> candle_core::Result<Tensor> {
        let logp = candle_nn::ops::log_softmax(&self.logits(x)?, D::Minus1)?;
        let picked = logp.gather(&y.unsqueeze(1)?, 1)?.squeeze(1)?;
        let w = weights.index_select(y, 0)?;
        (picked * &w)?.sum_all()?.neg()? / w.sum_all()?.to_scalar::<f32>()? as f64
    }

    fn loss(
        &self,
        x: &Tensor,
        y: &Tensor,
        weights: &Tensor,
        l2: f32,
    ) -> candle_core::Result<Tensor> {
        let mut loss = self.cross_entropy(x, y, weights)?;
        if l2 > 0.0 {
            for w in self.vars.iter().step_by(2) {
                loss = (loss + (w.as_tensor().sqr()?.sum_all()? * f64::from(l2 / 2.0))?)?;
            }
        }
        Ok(loss)
    }

    /// Loss and accuracy on held-out rows.
    fn evaluate(
        &self,
        x: &Tensor,
        y: &Tensor,
        weights: &Tensor,
    ) -> candle_core::Result<(f64, f64)> {
        let loss = self.cross_entropy(x, y, weights)?.to_scalar::<f32>()?;
        let predicted = self.logits(x)?.argmax(D::Minus1)?;
        let right = predicted
            .eq(y)?
            .to_dtype(DType::F32)?
            .sum_all()?
            .to_scalar::<f32>()?;
        Ok((f64::from(loss), f64::from(right) / y.dim(0)?.max(1) as f64))
    }

    /// The current weights as plain layers.
    fn layers(&self) -> candle_core::Result<Vec<Dense>> {
        self.vars
            .chunks(2)
            .map(|pair| {
                let (inputs, outputs) = pair[0].as_tensor().dims2()?;
                Ok(Dense {
                    inputs,
                    outputs,
                    weight: pair[0].as_tensor().flatten_all()?.to_vec1()?,
                    bias: pair[1].as_tensor().to_vec1()?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_holds_out_part_of_every_label() {
        let targets: Vec<usize> = (0..40).map(|i| i % 4).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (train, val) = split(&targets, 4, 0.2, &mut rng);
        assert_eq!(train.len() + val.len(), 40);
        for label in 0..4 {
            assert_eq!(val.iter().filter(|&&r| targets[r] == label).count(), 2);
        }
    }

    #[test]
    fn standardisation_leaves_constant_features_alone() {
        let x = vec![vec![1.0, 5.0], vec![3.0, 5.0]];
        let (m, s) = standardisation(&x, &[0, 1], 2);
        assert_eq!(m, vec![2.0, 5.0]);
        assert_eq!(s, vec![1.0, 1.0]);
    }
}

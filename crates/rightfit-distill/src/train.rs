//! The training loop's pieces: a [`Trainer`] that owns the model, the optimiser and the seeded
//! random generator, takes one step per batch, evaluates held-out loss and orders each epoch.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::base::BaseModel;
use crate::error::{DistillError, Result};
use crate::forward::{Batch, Example, Model};
use crate::lora::{LoraConfig, LoraWeights};
use crate::optim::{AdamW, OptimConfig};

/// What one training step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// Steps done, this one included.
    pub step: usize,
    /// Mean cross-entropy of the batch's answer tokens, before the update.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Gradient norm before clipping.
    pub grad_norm: f64,
    /// Examples in the batch.
    pub examples: usize,
    /// Real tokens in the batch.
    pub tokens: usize,
}

/// Model, optimiser and random state of one training run.
#[derive(Debug)]
pub struct Trainer {
    /// Base and LoRA weights.
    pub model: Model,
    /// AdamW over the LoRA weights.
    pub optim: AdamW,
    /// Drives LoRA initialisation and epoch shuffles; saved in checkpoints.
    pub rng: ChaCha8Rng,
}

impl Trainer {
    /// A fresh run: LoRA weights initialised from `seed`, zero optimiser moments.
    pub fn new(
        base: BaseModel,
        lora: &LoraConfig,
        optim: OptimConfig,
        seed: u64,
    ) -> Result<Trainer> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let weights = LoraWeights::init(lora, &base.hparams, &mut rng)?;
        Self::from_parts(Model::new(base, weights)?, optim, rng)
    }

    pub(crate) fn from_parts(model: Model, optim: OptimConfig, rng: ChaCha8Rng) -> Result<Trainer> {
        let vars = model.lora.vars().into_iter().cloned().collect();
        Ok(Trainer {
            optim: AdamW::new(vars, optim)?,
            model,
            rng,
        })
    }

    /// Pads examples into a batch for this model.
    pub fn batch(&self, examples: &[&Example]) -> Result<Batch> {
        Batch::new(examples, self.model.base.hparams.vocab)
    }

    /// One optimiser step on a batch.
    pub fn step(&mut self, batch: &Batch) -> Result<StepStats> {
        let loss = self.model.loss(batch)?;
        let value = f64::from(loss.to_scalar::<f32>()?);
        if !value.is_finite() {
            return Err(DistillError::Settings(format!(
                "the loss is {value} at step {}",
                self.optim.step
            )));
        }
        let grads = loss.backward()?;
        let update = self.optim.update(&grads)?;
        Ok(StepStats {
            step: self.optim.step,
            loss: value,
            lr: update.lr,
            grad_norm: update.grad_norm,
            examples: batch.size,
            tokens: batch.tokens,
        })
    }

    /// Mean cross-entropy per answer token over `examples`, in batches of `batch_size`.
    pub fn eval_loss(&self, examples: &[Example], batch_size: usize) -> Result<f64> {
        let mut sum = 0f64;
        let mut n = 0usize;
        for chunk in examples.chunks(batch_size.max(1)) {
            let refs: Vec<&Example> = chunk.iter().collect();
            let batch = self.batch(&refs)?;
            let lps = self.model.token_log_probs(&batch)?;
            sum -= lps.iter().map(|x| f64::from(*x)).sum::<f64>();
            n += lps.len();
        }
        if n == 0 {
            return Err(DistillError::Example("no examples to evaluate".into()));
        }
        Ok(sum / n as f64)
    }

    /// A seeded permutation of `0..n` (Fisher–Yates) for the next epoch.
    pub fn epoch_order(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = (self.rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        order
    }

    /// Steps done so far.
    pub fn steps_done(&self) -> usize {
        self.optim.step
    }
}

//! What a distillation tells the person waiting: phases with counts (labelling, embedding,
//! tokenising) and training figures after every step and epoch. The CLI draws bars from it.

/// Figures of a training run so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingFigures {
    /// 1-based epoch under way.
    pub epoch: u32,
    /// Epochs at most.
    pub epochs: u32,
    /// Optimiser steps done in all.
    pub step: u64,
    /// Optimiser steps in all (every epoch run to its end).
    pub steps: u64,
    /// Loss of the last step (mean cross-entropy of its answer tokens).
    pub loss: f64,
    /// Training rows per second since this process started training.
    pub examples_per_s: f64,
    /// Loss on the validation rows after the last finished epoch.
    pub validation_loss: Option<f64>,
    /// Accuracy on the validation rows after the last finished epoch, where there is one.
    pub validation_accuracy: Option<f64>,
}

/// Hears about a distillation's progress.
pub trait Progress: Send + Sync {
    /// A phase starts: `total` items, when known.
    fn phase(&self, name: &str, total: Option<u64>);
    /// `n` more items of the phase are done.
    fn advance(&self, n: u64);
    /// The phase ended.
    fn finish_phase(&self);
    /// A training step or epoch ended.
    fn training(&self, figures: &TrainingFigures);
    /// Something worth a line (resumed from a checkpoint, stopped early).
    fn note(&self, text: &str);
}

/// Hears nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn phase(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn finish_phase(&self) {}
    fn training(&self, _: &TrainingFigures) {}
    fn note(&self, _: &str) {}
}

//! One vocabulary for long work — a download, an evaluation's candidates, a distillation's phases
//! and training — so that one renderer draws all of it (`rightfit_report::progress::Bars` in a
//! terminal) and a caller that wants nothing passes [`Quiet`].
//!
//! A bar at a time: [`Progress::start`] replaces the bar under way, [`Progress::finish`] ends it.
//! Every method does nothing unless implemented, so a test can listen to the one it cares about.

/// What a bar counts: it chooses how the figures and the closing note read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes of a file (a download, a hash); no closing note.
    Bytes,
    /// Examples of an evaluation: "NAME: 12/40 examples done (3.1 s)".
    Examples,
    /// Anything else counted (rows labelled, texts embedded): "NAME: 12 done (3.1 s)".
    Items,
}

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

/// Hears about long work.
pub trait Progress: Send + Sync {
    /// A bar named `label` starts: `total` units when known, `done` of them finished by an earlier
    /// attempt.
    fn start(&self, _label: &str, _total: Option<u64>, _done: u64, _unit: Unit) {}
    /// `n` more units are done.
    fn advance(&self, _n: u64) {}
    /// One of the units just counted failed (an evaluation's example that errored).
    fn failed(&self) {}
    /// A training step or epoch ended.
    fn training(&self, _figures: &TrainingFigures) {}
    /// The bar under way ended.
    fn finish(&self) {}
    /// Something worth a line (a stage of a download, resumed from a checkpoint).
    fn note(&self, _text: &str) {}
}

/// Hears nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Progress for Quiet {}

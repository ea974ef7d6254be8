//! What `rightfit bench-eval` measured: the runner one request at a time against batched with
//! prefix reuse (measured by `rightfit-eval`'s `bench`, laid out by `rightfit-report`).

use std::collections::HashMap;

/// One timed run of the candidate.
#[derive(Debug, Clone)]
pub struct Measured {
    pub seconds: f64,
    pub examples: usize,
    pub failures: usize,
    /// The mean score of the examples that were scored (0 when none was).
    pub accuracy: f64,
    /// Output by example id.
    pub outputs: HashMap<String, String>,
}

impl Measured {
    pub fn examples_per_s(&self) -> f64 {
        self.examples as f64 / self.seconds
    }
}

/// Baseline against batched, over `rounds` alternating rounds.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub candidate: String,
    /// Sequences in flight in the batched mode (the model's `concurrency`).
    pub concurrency: usize,
    pub rounds: usize,
    /// Medians over the rounds.
    pub baseline_eps: f64,
    pub batched_eps: f64,
    /// The last round's measurements.
    pub baseline: Measured,
    pub batched: Measured,
    /// Examples whose outputs were the same in both modes (last round).
    pub identical: usize,
}

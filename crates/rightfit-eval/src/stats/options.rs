//! How intervals are computed: confidence level, resamples, seed.

use super::error::StatsError;

/// How intervals are computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatsOptions {
    /// Confidence level of every interval, a fraction strictly between 0 and 1.
    pub confidence: f64,
    /// Bootstrap resamples per interval. The default, 2000, keeps the Monte Carlo error of a 95%
    /// interval's ends to about a tenth of its half-width, and costs milliseconds for thousands
    /// of examples.
    pub resamples: usize,
    /// Seed for resampling (the run's `--seed`).
    pub seed: u64,
}

impl Default for StatsOptions {
    /// 95% intervals, 2000 resamples, seed 0.
    fn default() -> Self {
        StatsOptions {
            confidence: 0.95,
            resamples: 2000,
            seed: 0,
        }
    }
}

impl StatsOptions {
    /// Checks that `confidence` is strictly between 0 and 1 and `resamples` is at least 1.
    pub fn validate(&self) -> Result<(), StatsError> {
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(StatsError::Confidence(self.confidence));
        }
        if self.resamples == 0 {
            return Err(StatsError::NoResamples);
        }
        Ok(())
    }
}

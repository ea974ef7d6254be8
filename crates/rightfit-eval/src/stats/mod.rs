//! Statistics over evaluation records: percentiles, bootstrap intervals, paired comparisons and
//! McNemar's test, and the per-candidate summary built from them.
//!
//! Everything here is a pure function of its inputs. Resampling uses `ChaCha8Rng` seeded from the
//! caller's seed (the run's `--seed`), so the same records and seed always give the same
//! intervals. The result types ([`Estimate`], [`Percentiles`], [`CandidateSummary`],
//! [`PairedComparison`], [`McNemar`]) live in `rightfit-types` so the store and reports can read
//! them without this crate.
//!
//! [`Estimate`]: rightfit_types::Estimate
//! [`Percentiles`]: rightfit_types::Percentiles
//! [`CandidateSummary`]: rightfit_types::CandidateSummary
//! [`PairedComparison`]: rightfit_types::PairedComparison
//! [`McNemar`]: rightfit_types::McNemar

mod bootstrap;
mod mcnemar;
mod percentile;
mod summarize;

pub use bootstrap::{PairedBootstrap, bootstrap_mean, paired_bootstrap};
pub use mcnemar::{chi2_sf_1dof, erfc, mcnemar, mcnemar_counts};
pub use percentile::{percentile, percentiles};
pub use summarize::{compare, summarize};

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

/// Why a statistic could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// There was nothing to compute over.
    #[error("no {what} to compute statistics over")]
    Empty {
        /// What was missing ("values", "records", "pairs").
        what: &'static str,
    },
    /// Paired inputs differ in length.
    #[error(
        "paired inputs differ in length: {a} values for a, {b} for b; pass one value per example to each"
    )]
    LengthMismatch {
        /// Length of the first input.
        a: usize,
        /// Length of the second input.
        b: usize,
    },
    /// The confidence level is not a fraction strictly between 0 and 1.
    #[error("confidence must be strictly between 0 and 1 (e.g. 0.95), got {0}")]
    Confidence(f64),
    /// Zero bootstrap resamples were asked for.
    #[error("bootstrap resamples must be at least 1 (e.g. 2000), got 0")]
    NoResamples,
    /// A value is NaN or infinite.
    #[error("value {index} is {value}, not a finite number")]
    NotFinite {
        /// Its position in the input.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A score in a record is NaN or infinite (a scorer bug).
    #[error(
        "candidate '{candidate}', example '{example_id}': {metric} score is {value}, not a finite number — check the scorer"
    )]
    NotFiniteScore {
        /// The candidate.
        candidate: String,
        /// The example.
        example_id: String,
        /// `score` for the primary score, else the metric's name.
        metric: String,
        /// The value.
        value: f64,
    },
    /// Records of more than one candidate were passed where one candidate's were expected.
    #[error(
        "records of several candidates ('{first}' and '{other}') passed as one candidate's; group records by candidate first"
    )]
    MixedCandidates {
        /// The first record's candidate.
        first: String,
        /// A different candidate found later.
        other: String,
    },
    /// The same example appears twice in one candidate's records.
    #[error(
        "candidate '{candidate}' has two records for example '{example_id}'; keep one record per example"
    )]
    DuplicateExample {
        /// The candidate.
        candidate: String,
        /// The example.
        example_id: String,
    },
}

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
mod error;
mod mcnemar;
mod options;
mod percentile;
mod summarize;

pub use bootstrap::{PairedBootstrap, bootstrap_mean, paired_bootstrap};
pub use error::StatsError;
pub use mcnemar::{chi2_sf_1dof, erfc, mcnemar, mcnemar_counts};
pub use options::StatsOptions;
pub use percentile::{percentile, percentiles};
pub use summarize::{compare, summarize};

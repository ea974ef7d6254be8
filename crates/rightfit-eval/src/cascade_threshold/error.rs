//! Why a calibration could not be computed.

use crate::stats::StatsError;

/// Why a calibration could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalibrateError {
    /// One side has no records at all.
    #[error("no records of the {side} candidate; evaluate it on the component first")]
    NoRecords {
        /// `small` or `large`.
        side: &'static str,
    },
    /// Records of several candidates were passed as one candidate's.
    #[error(
        "records of several candidates ('{first}' and '{other}') passed as the {side} candidate's; pass one candidate's records per side"
    )]
    MixedCandidates {
        /// `small` or `large`.
        side: &'static str,
        /// The first record's candidate.
        first: String,
        /// Another candidate found later.
        other: String,
    },
    /// The same example appears twice in one candidate's records.
    #[error(
        "candidate '{candidate}' has two records for example '{example_id}'; keep one record per example"
    )]
    DuplicateExample {
        /// The candidate's name.
        candidate: String,
        /// The example's id.
        example_id: String,
    },
    /// A score or confidence is not a finite number, or a confidence is outside 0..=1.
    #[error(
        "candidate '{candidate}', example '{example_id}': {field} is {value}, expected {expected} — check the strategy or scorer"
    )]
    BadValue {
        /// The candidate's name.
        candidate: String,
        /// The example's id.
        example_id: String,
        /// `score` or `confidence`.
        field: &'static str,
        /// What it is instead.
        value: f64,
        /// What it should have been.
        expected: &'static str,
    },
    /// No example has a record of both candidates with a usable large answer.
    #[error(
        "'{small}' and '{large}' have no usable example in common ({left_out} left out because '{large}' failed or has no score); evaluate both on the same examples"
    )]
    NoCommonExamples {
        /// The small candidate.
        small: String,
        /// The large candidate.
        large: String,
        /// Paired examples left out for the large candidate's failures.
        left_out: u64,
    },
    /// The target is not in (0, 1.5].
    #[error(
        "target must be in (0, 1.5] (a share of the large candidate's quality, e.g. 0.95), got {0}"
    )]
    Target(f64),
    /// The dev fraction is not strictly between 0 and 1.
    #[error("dev fraction must be strictly between 0 and 1 (e.g. 0.5), got {0}")]
    DevFraction(f64),
    /// The split leaves fewer than 2 examples on a side.
    #[error(
        "{paired} paired examples split into {dev} for choosing and {heldout} held out; each side needs at least 2 — evaluate more examples or change the dev fraction"
    )]
    TooFew {
        /// Usable paired examples.
        paired: u64,
        /// Dev examples the split would give.
        dev: u64,
        /// Held-out examples the split would give.
        heldout: u64,
    },
    /// A bootstrap failed (cannot happen with the checks above; kept rather than hidden).
    #[error(transparent)]
    Stats(#[from] StatsError),
}

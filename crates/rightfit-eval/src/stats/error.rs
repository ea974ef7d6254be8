//! Why a statistic could not be computed.

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
        /// What it is instead: NaN or an infinity.
        value: f64,
    },
    /// A score in a record is NaN or infinite (a scorer bug).
    #[error(
        "candidate '{candidate}', example '{example_id}': {metric} score is {value}, not a finite number — check the scorer"
    )]
    NotFiniteScore {
        /// The candidate's name.
        candidate: String,
        /// The example's id.
        example_id: String,
        /// `score` for the primary score, else the metric's name.
        metric: String,
        /// What it is instead: NaN or an infinity.
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
        /// The candidate's name.
        candidate: String,
        /// The example's id.
        example_id: String,
    },
}

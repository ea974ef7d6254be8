//! Scorers: small pure functions from (prediction, reference) to a score.
//!
//! Each metric that has a reference implementation reproduces it value for value; the tests
//! check against the golden files in `../shared/data/golden`.

pub mod bleu;
pub mod chrf;
pub mod json;
pub mod label;
pub mod matching;
pub mod porter;
pub mod rouge;
pub mod span;
pub mod squad;

//! Evaluation: datasets, scorers, strategies, the runner and its statistics.
//!
//! A component's dataset is read into [`dataset::Row`]s, each row is rendered into a request by a
//! strategy, sent to a candidate's model through `rightfit-providers`' `Provider` trait, and the
//! answer is scored by pure functions in [`scorers`]. [`stats`] turns per-example records into
//! confidence intervals and paired comparisons; [`cascade_threshold`] replays a small → large
//! cascade at every confidence threshold from stored records. Records are stored by
//! `rightfit-store` and shown by `rightfit-report`; this crate does no terminal output of its own.
//! The gateway's traffic becomes dataset rows in [`dataset::from_traffic()`], a run's records a
//! JSONL or CSV file in [`records`], and predictions a team already has are scored by
//! [`score_predictions`].
//! [`bench`] measures what batching and prefix sharing buy the runner (`rightfit bench-eval`).
//! [`shard`] splits one evaluation across machines, into one run of a shared store.

pub mod bench;
pub mod call;
pub mod cascade_threshold;
pub mod dataset;
pub mod example;
pub mod extract;
pub mod outcome;
pub mod prompt;
pub mod records;
pub mod runner;
pub mod score;
pub mod score_predictions;
pub mod scorers;
pub mod shard;
pub mod stats;
pub mod strategy;
pub mod summary;
pub mod teacher;
pub mod token_confidence;
pub mod tool_call;

#[cfg(test)]
pub(crate) mod testdata;

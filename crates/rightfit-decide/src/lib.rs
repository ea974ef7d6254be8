//! Decisions: which candidate a component should use, and where it can run.
//!
//! Pure: measured facts and constraints in, a recommendation out. The CLI gathers the facts (run
//! summaries from `rightfit-store`, model shapes from GGUF headers, calibration from
//! `rightfit bench-model`) and `rightfit-report` lays the result out. [`project`] reads the
//! project file's constraints and models (`rightfit-config`'s types) into the decision's.
//!
//! - [`candidate_facts`]: what is known about each candidate (its
//!   [`CandidateSummary`](rightfit_types::CandidateSummary), and how it is deployed: hosted, or
//!   local with its model's shape).
//! - [`constraints`]: the team's constraints and the objective.
//! - [`recommend()`]: feasibility (each rejected candidate with the constraints it broke), the
//!   choice and its runners-up, statistical-separation warnings, Pareto frontiers, the aspects table.
//! - [`device`]: a catalogue of device profiles with sourced figures, whether a local model fits
//!   on one (weights + KV cache + runtime), roofline estimates of its speed there, calibrated by
//!   figures measured on this machine, and the break-even volume against a hosted API.

pub mod candidate_facts;
pub mod constraints;
pub mod device;
mod fmt;
pub mod pareto;
pub mod project;
mod recommend;

pub use candidate_facts::{CandidateFacts, Deployment, ModelShape, Workload};
pub use constraints::{Budget, Constraints, Objective, QualityFloor};
pub use project::{ProjectError, recommend_run};
pub use recommend::{
    Aspects, BreakEvenRow, ConstraintKind, DeviceVerdict, Ranked, Recommendation, Rejection,
    Violation, recommend,
};

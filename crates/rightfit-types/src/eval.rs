//! Evaluation records: what a run is, and what happened to each example of each candidate.
//!
//! The evaluator produces these, the store keeps them, and reports and decisions read them back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started and not (yet) finished: still running, or killed; `eval --resume` continues it.
    Running,
    /// Interrupted by the user (Ctrl-C) after keeping what had finished.
    Interrupted,
    /// Every candidate saw every example.
    Finished,
    /// Ended by an error (a model that would not load, a store that failed); the reason is in
    /// the run's `meta.error`. `eval --resume` continues it once the cause is fixed.
    Failed,
}

impl RunStatus {
    /// The lowercase name used in the store and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Finished => "finished",
            RunStatus::Failed => "failed",
        }
    }

    /// Parses [`RunStatus::as_str`]'s output.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "running" => Some(RunStatus::Running),
            "interrupted" => Some(RunStatus::Interrupted),
            "finished" => Some(RunStatus::Finished),
            "failed" => Some(RunStatus::Failed),
            _ => None,
        }
    }
}

/// One evaluation of candidates on one component's dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Unique id (sortable: time first), e.g. `20261130-034207-sentiment-a1b2`.
    pub id: String,
    /// The component evaluated.
    pub component: String,
    /// When it started, RFC 3339 UTC.
    pub started_at: String,
    /// When it ended, RFC 3339 UTC; `None` while running.
    pub finished_at: Option<String>,
    /// Where it stands.
    pub status: RunStatus,
    /// SHA-256 of the resolved component and candidate settings; `--resume` refuses a changed config.
    pub config_hash: String,
    /// The dataset as given (path and split).
    pub dataset: String,
    /// Rows evaluated (after sampling).
    pub rows_used: u64,
    /// Rows skipped because they were malformed.
    pub rows_skipped: u64,
    /// `--limit`, if any.
    pub limit: Option<u64>,
    /// `--seed` for sampling and bootstrap.
    pub seed: u64,
    /// Anything else worth keeping (rightfit version, host, the resolved config as JSON).
    #[serde(default)]
    pub meta: serde_json::Value,
}

/// One candidate (model × strategy) of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateInfo {
    /// The run.
    pub run_id: String,
    /// The candidate's name, unique within the run.
    pub name: String,
    /// The model's name in the config.
    pub model: String,
    /// The strategy's name (`zero-shot`, `few-shot`, ...).
    pub strategy: String,
    /// Strategy and sampling parameters, as resolved.
    #[serde(default)]
    pub params: serde_json::Value,
    /// Peak resident memory of the process while this candidate ran (local models), bytes.
    pub peak_memory_bytes: Option<u64>,
    /// Model weights in memory (local models), bytes.
    pub model_memory_bytes: Option<u64>,
}

/// What happened to one example for one candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExampleRecord {
    /// The run.
    pub run_id: String,
    /// The candidate's name.
    pub candidate: String,
    /// The example's id in the dataset.
    pub example_id: String,
    /// Position of the example in the run's sample (0-based), so records sort as evaluated.
    pub position: u64,
    /// What was sent: the rendered prompt (messages or text) and anything else the strategy adds.
    pub input: serde_json::Value,
    /// The final answer text; `None` when the request failed.
    pub output: Option<String>,
    /// The reference answer(s), as mapped from the dataset.
    pub reference: serde_json::Value,
    /// The primary metric's score for this example (0..=1 for most metrics); `None` when failed.
    pub score: Option<f64>,
    /// Every metric's score, by metric name.
    #[serde(default)]
    pub scores: BTreeMap<String, f64>,
    /// The answer the scorer parsed out of the output (a label, a JSON value, spans), if any.
    pub parsed: Option<serde_json::Value>,
    /// The output could not be parsed into the contract (counted as wrong, reported).
    pub unparseable: bool,
    /// Wall time from sending the request to the last token, milliseconds.
    pub latency_ms: f64,
    /// Time to the first token, milliseconds, where the provider streams.
    pub ttft_ms: Option<f64>,
    /// Prompt tokens (all calls of the strategy together).
    pub tokens_in: u64,
    /// Generated tokens (all calls together).
    pub tokens_out: u64,
    /// Cost in US dollars (all calls together, judge included), `None` when no price is known.
    pub cost_usd: Option<f64>,
    /// Calls made for this example (strategies and judges may make several).
    pub calls: u32,
    /// The answer came from the response cache (a re-run of an identical request).
    pub cached: bool,
    /// Why it failed, if it did: the provider's or the scorer's error, whole.
    pub error: Option<String>,
    /// How sure the strategy was of its answer, 0..=1, where it can say: the label
    /// probability margin (log-likelihood), the vote share (self-consistency), a verifier's
    /// verdict. A cascade escalates below its threshold; `rightfit cascade calibrate` reads it.
    #[serde(default)]
    pub confidence: Option<f64>,
    /// The calls of a multi-call strategy in order (samples, drafts, critiques, escalations), so
    /// a person can see why the answer came out as it did; empty for a single call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
}

/// One call a strategy made for an example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// What the call was for: `sample`, `draft`, `critique`, `revision`, `stage`, `verify`.
    pub kind: String,
    /// The model (or, for a cascade stage, the candidate) that answered.
    pub by: String,
    /// What it answered (the raw text; for a log-likelihood call, the most likely label).
    pub output: String,
    /// The answer this step contributed, as the strategy read it (an extracted final answer,
    /// a vote), where that differs from `output`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// Confidence of this step's answer, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// Served time, milliseconds.
    pub latency_ms: f64,
    /// Prompt tokens.
    pub tokens_in: u64,
    /// Generated tokens.
    pub tokens_out: u64,
    /// Cost in US dollars, `None` when no price is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Answered from the response cache.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
    /// The call failed: its error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The answer's token log-probabilities, when the call asked for them (a cascade stage whose
    /// confidence reads them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Vec<crate::chat::TokenLogprob>>,
}

impl ExampleRecord {
    /// A record with nothing measured yet: no input, output, scores, tokens or cost.
    pub fn new(
        run_id: impl Into<String>,
        candidate: impl Into<String>,
        example_id: impl Into<String>,
        position: u64,
        reference: serde_json::Value,
    ) -> Self {
        Self {
            run_id: run_id.into(),
            candidate: candidate.into(),
            example_id: example_id.into(),
            position,
            input: serde_json::Value::Null,
            output: None,
            reference,
            score: None,
            scores: BTreeMap::new(),
            parsed: None,
            unparseable: false,
            latency_ms: 0.0,
            ttft_ms: None,
            tokens_in: 0,
            tokens_out: 0,
            cost_usd: None,
            calls: 0,
            cached: false,
            error: None,
            confidence: None,
            steps: Vec::new(),
        }
    }
}

/// A cached model answer, keyed by the content hash of the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedResponse {
    /// SHA-256 (hex) of the provider name and the request.
    pub key: String,
    /// The provider's name when it answered.
    pub provider: String,
    /// The response, as JSON (a `ChatResponse` or a `LoglikelihoodResponse`).
    pub response: serde_json::Value,
    /// When it was stored, RFC 3339 UTC.
    pub created_at: String,
}

//! What is known about a candidate before deciding.

use rightfit_types::CandidateSummary;
use rightfit_types::device::Calibration;
pub use rightfit_types::device::ModelShape;
use serde::{Deserialize, Serialize};

/// How a candidate's model is reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Deployment {
    /// A hosted API (OpenAI, Anthropic, Gemini) or a remote OpenAI-compatible server: it runs on
    /// someone else's machines, needs the network, and uses no local memory.
    Hosted {
        /// The provider kind as written in the config (`openai`, `openai-compatible`, ...).
        provider: String,
    },
    /// The embedded llama.cpp engine: runs where rightfit runs, offline.
    Local {
        /// The model's shape, when its GGUF header could be read.
        shape: Option<ModelShape>,
        /// Context size the engine was configured with, tokens (shared by parallel sequences).
        context_size: Option<u32>,
        /// Sequences decoded together.
        parallel: usize,
        /// What the hardware costs per hour, US dollars, when the config says.
        cost_per_hour: Option<f64>,
        /// Efficiencies measured on this machine with this model (or one of its quantisation),
        /// for device estimates; `None`: the recommendation's default calibration.
        calibration: Option<Calibration>,
    },
}

impl Deployment {
    /// Whether it can run with no network (local models only).
    pub fn offline(&self) -> bool {
        matches!(self, Deployment::Local { .. })
    }
}

/// The typical request of a component, from the run's token means.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// Prompt tokens per request (all calls of the strategy together).
    pub prompt_tokens: f64,
    /// Generated tokens per request.
    pub output_tokens: f64,
    /// Context the component needs per sequence, tokens (prompt + output, or as configured).
    pub context_tokens: u32,
}

impl Workload {
    /// The workload a summary measured: its mean tokens in and out, context = their sum rounded up.
    pub fn of(summary: &CandidateSummary) -> Workload {
        let context = (summary.tokens_in_mean + summary.tokens_out_mean).ceil();
        Workload {
            prompt_tokens: summary.tokens_in_mean,
            output_tokens: summary.tokens_out_mean,
            context_tokens: context.clamp(1.0, u32::MAX as f64) as u32,
        }
    }
}

/// Everything the decision knows about one candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateFacts {
    /// Measured figures of the run.
    pub summary: CandidateSummary,
    /// How its model is reached.
    pub deployment: Deployment,
}

/// SmolLM2-135M-Instruct Q4_1 as its GGUF header describes it (a fixture for tests).
#[cfg(test)]
pub(crate) fn smollm2_135m_q4_1() -> ModelShape {
    ModelShape {
        params: 134_515_008,
        weights_bytes: 96_576_768,
        layers: 30,
        heads: 9,
        kv_heads: 3,
        key_length: 64,
        value_length: 64,
        train_context: 8192,
        quantization: "Q4_1".into(),
    }
}

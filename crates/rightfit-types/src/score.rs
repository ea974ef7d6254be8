//! Embeddings and log-likelihood scoring.

use serde::{Deserialize, Serialize};

/// Texts to embed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingRequest {
    /// The model id as the provider knows it.
    #[serde(default)]
    pub model: String,
    /// One vector is returned per input, in order.
    pub inputs: Vec<String>,
    /// Scale each vector to unit length.
    #[serde(default = "yes")]
    pub normalize: bool,
}

fn yes() -> bool {
    true
}

impl EmbeddingRequest {
    /// Embeds `inputs`, each vector scaled to unit length when `normalize`.
    pub fn new(inputs: Vec<String>, normalize: bool) -> Self {
        Self {
            model: String::new(),
            inputs,
            normalize,
        }
    }
}

/// Vectors for an [`EmbeddingRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingResponse {
    /// The model that answered.
    pub model: String,
    /// One vector per input.
    pub embeddings: Vec<Vec<f32>>,
    /// Tokens read.
    pub prompt_tokens: u32,
}

/// Score fixed continuations of a context by their log-likelihood.
///
/// This is how evaluation harnesses ask a (base) model a multiple-choice question: each answer is
/// a continuation, and the most likely one is the model's choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoglikelihoodRequest {
    /// The model id as the provider knows it.
    #[serde(default)]
    pub model: String,
    /// The text every continuation follows.
    pub context: String,
    /// The candidate continuations (usually starting with a space).
    pub continuations: Vec<String>,
    /// How the caller compares the continuations to choose one ([`LabelNorm`]); the scores
    /// returned are always the raw sums, whatever it says.
    #[serde(default, skip_serializing_if = "LabelNorm::is_none")]
    pub normalize: LabelNorm,
}

impl LoglikelihoodRequest {
    /// Scores `continuations` of `context`, compared by total log-probability.
    pub fn new(context: impl Into<String>, continuations: Vec<String>) -> Self {
        Self {
            model: String::new(),
            context: context.into(),
            continuations,
            normalize: LabelNorm::None,
        }
    }
}

/// The score of one continuation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContinuationScore {
    /// Sum of the natural-log probabilities of the continuation's tokens.
    pub logprob: f64,
    /// How many tokens the continuation took.
    pub tokens: u32,
    /// Whether greedy decoding would have produced exactly this continuation.
    pub is_greedy: bool,
}

impl ContinuationScore {
    /// Log-probability per token (length-normalised score).
    pub fn mean_logprob(&self) -> f64 {
        if self.tokens == 0 {
            0.0
        } else {
            self.logprob / f64::from(self.tokens)
        }
    }
}

/// Scores for a [`LoglikelihoodRequest`], one per continuation, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoglikelihoodResponse {
    /// The model that answered.
    pub model: String,
    /// One score per continuation.
    pub scores: Vec<ContinuationScore>,
    /// Tokens in the context.
    pub context_tokens: u32,
}

impl LoglikelihoodResponse {
    /// Index of the most likely continuation (by total log-probability), if any.
    pub fn best(&self) -> Option<usize> {
        self.scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.logprob.total_cmp(&b.1.logprob))
            .map(|(i, _)| i)
    }

    /// Each continuation's score under `norm` (`continuations` as requested, for their byte
    /// lengths): the total log-probability, or per token, or per byte.
    pub fn normalised_scores(&self, continuations: &[String], norm: LabelNorm) -> Vec<f64> {
        self.scores
            .iter()
            .enumerate()
            .map(|(i, s)| match norm {
                LabelNorm::None => s.logprob,
                LabelNorm::Token => s.mean_logprob(),
                LabelNorm::Byte => match continuations.get(i).map_or(0, String::len) {
                    0 => s.logprob,
                    bytes => s.logprob / bytes as f64,
                },
            })
            .collect()
    }

    /// Index of the best continuation under `norm`; ties go as in
    /// [`LoglikelihoodResponse::best`].
    pub fn best_normalised(&self, continuations: &[String], norm: LabelNorm) -> Option<usize> {
        self.normalised_scores(continuations, norm)
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
    }
}

/// How continuations of different lengths are compared when choosing a label: as
/// lm-evaluation-harness reports `acc` (total log-probability) and `acc_norm` (per byte of the
/// continuation), plus per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabelNorm {
    /// Total log-probability: short labels are favoured, as each token costs probability.
    #[default]
    None,
    /// Log-probability per token.
    Token,
    /// Log-probability per byte of the continuation (lm-evaluation-harness's `acc_norm`).
    Byte,
}

impl LabelNorm {
    /// Whether this is [`LabelNorm::None`] (total log-probability).
    pub fn is_none(&self) -> bool {
        *self == LabelNorm::None
    }

    /// The name used in configuration files.
    pub fn name(self) -> &'static str {
        match self {
            LabelNorm::None => "none",
            LabelNorm::Token => "token",
            LabelNorm::Byte => "byte",
        }
    }
}

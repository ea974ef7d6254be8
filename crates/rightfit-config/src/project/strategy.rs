//! How a candidate uses its model: [`Candidate`] and its [`Strategy`].
//!
//! A strategy is one primary way of using the model (`strategy = "..."`) plus the parts that
//! compose with it: few-shot examples (`k`, fixed or chosen by similarity), reasoning before the
//! answer (`reason`), output constrained to the contract (`constrained`). A cascade names other
//! candidates of the same component as its stages.

use std::collections::BTreeSet;
use std::fmt;

use rightfit_types::LabelNorm;

/// What a chain-of-thought answer's last line starts with, unless a candidate says otherwise.
pub const DEFAULT_ANSWER_PREFIX: &str = "Answer:";

/// How a candidate uses its model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Strategy {
    /// The prompt alone.
    ZeroShot,
    /// Examples (question, answer turns) before the prompt.
    FewShot {
        /// How many examples.
        k: usize,
    },
    /// Reason step by step, then give the answer on a last line starting with the answer prefix.
    ChainOfThought,
    /// Several samples at a temperature; the most common answer wins; agreement is confidence.
    SelfConsistency {
        /// How many samples.
        samples: u32,
    },
    /// Draft, critique, revise, up to `rounds` times (stops when the critic accepts).
    Reflection {
        /// Critique-and-revise rounds at most.
        rounds: u32,
        /// The model that critiques (`None`: the candidate's own).
        critic: Option<String>,
    },
    /// Pick the label whose continuation is most likely (local models; label contracts).
    Loglikelihood,
    /// Cheap candidates first; escalate to the next stage when confidence is below a threshold.
    Cascade(CascadeConfig),
}

impl Strategy {
    /// The name as written in `strategy = "..."`.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::ZeroShot => "zero-shot",
            Strategy::FewShot { .. } => "few-shot",
            Strategy::ChainOfThought => "chain-of-thought",
            Strategy::SelfConsistency { .. } => "self-consistency",
            Strategy::Reflection { .. } => "reflection",
            Strategy::Loglikelihood => "loglikelihood",
            Strategy::Cascade(_) => "cascade",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::FewShot { k } => write!(f, "few-shot (k={k})"),
            Strategy::SelfConsistency { samples } => write!(f, "self-consistency (n={samples})"),
            Strategy::Reflection { rounds, critic } => match critic {
                Some(c) => write!(f, "reflection (rounds={rounds}, critic {c})"),
                None => write!(f, "reflection (rounds={rounds})"),
            },
            Strategy::Cascade(c) => write!(f, "cascade ({})", c.stages.join(" → ")),
            other => f.write_str(other.name()),
        }
    }
}

/// A cascade: stages in order, and when to go on to the next.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CascadeConfig {
    /// Candidate names of this component, cheapest first; the last one always answers.
    pub stages: Vec<String>,
    /// Stage `i` (except the last) answers when its confidence is at least `thresholds[i]`.
    pub thresholds: Vec<f64>,
    /// Where a stage's confidence comes from.
    pub confidence: ConfidenceSource,
    /// The model that checks a stage's answer (`confidence = "verifier"`).
    pub verifier: Option<String>,
}

/// Where a cascade stage's confidence comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConfidenceSource {
    /// The stage's own: the label probability margin (log-likelihood), the vote share
    /// (self-consistency); a stage that reports none is trusted only if its answer parses.
    Model,
    /// 1 when the answer parses into the contract (label set, JSON Schema, slots), else 0.
    Validator,
    /// A verifier model's judgement of the answer (the probability of "yes" where the model
    /// gives log-likelihoods, else its yes/no).
    Verifier,
    /// The geometric-mean probability of the answer's tokens, `exp(mean log p)`, from the token
    /// log-probabilities the stage's model reports (local models, OpenAI-compatible servers,
    /// OpenAI, Gemini); a stage whose model reports none is trusted only if its answer parses.
    TokenMean,
    /// The probability of the answer's least likely token, `exp(min log p)`.
    TokenMin,
    /// As `token-mean`, over the tokens of the answer's parsed values only (the values of a JSON
    /// answer: extraction fields; any other answer: its text without surrounding whitespace), so
    /// that JSON punctuation and keys, which are near-certain, do not dilute it.
    FieldMean,
    /// As `token-min`, over the tokens of the answer's parsed values only.
    FieldMin,
}

impl ConfidenceSource {
    /// Whether the stage must be asked for token log-probabilities.
    pub fn needs_logprobs(self) -> bool {
        matches!(
            self,
            Self::TokenMean | Self::TokenMin | Self::FieldMean | Self::FieldMin
        )
    }
}

/// Few-shot examples a candidate shows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Shots {
    /// How many examples.
    pub k: usize,
    /// How they are chosen.
    pub select: ShotSelect,
}

/// How few-shot examples are chosen.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "select", rename_all = "kebab-case")]
pub enum ShotSelect {
    /// The same seeded, label-spread examples for every input.
    Fixed,
    /// The `k` examples of the pool most similar to the input (cosine of embeddings).
    Similar {
        /// The model whose embeddings measure similarity.
        embedder: String,
    },
}

/// One candidate: a model and a strategy.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Candidate {
    /// Unique within the component (default `model/strategy`).
    pub name: String,
    /// The model's name (a cascade: its first stage's model).
    pub model: String,
    /// How it uses the model.
    pub strategy: Strategy,
    /// Sampling temperature (default greedy; self-consistency 0.7).
    pub temperature: Option<f32>,
    /// Nucleus sampling: draw only from the most likely tokens whose probabilities add up to this.
    pub top_p: Option<f32>,
    /// Seed for sampling at a temperature above 0.
    pub seed: Option<u64>,
    /// Token limit for the answer.
    pub max_tokens: u32,
    /// Constrain output to the contract (label set or JSON schema) with a grammar.
    pub constrained: bool,
    /// Few-shot examples shown before the prompt.
    pub shots: Option<Shots>,
    /// Reason step by step before answering (chain-of-thought; with self-consistency or
    /// reflection when `reason = true`).
    pub reason: bool,
    /// The final answer of a reasoning candidate is what follows the last line starting with this.
    pub answer_prefix: String,
    /// Where a single call's confidence comes from when it is read from the answer's token
    /// log-probabilities (`confidence = "token-mean"` …): the model is asked for them. A cascade
    /// sets it on its stages when its own confidence reads tokens. Left out of the serialisation
    /// when absent, so that runs keep their hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_confidence: Option<ConfidenceSource>,
    /// How a log-likelihood candidate compares labels of different lengths (total, per token,
    /// per byte). Left out of the serialisation when total, so that runs keep their hash.
    #[serde(skip_serializing_if = "LabelNorm::is_none")]
    pub normalize: LabelNorm,
    /// The student it answers with (`strategy = "distilled"`, or `student = "NAME"` with
    /// another strategy): `model` is then the student's model. Left out of the serialisation
    /// when absent, so that runs of other candidates keep their hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub student: Option<String>,
}

impl Candidate {
    /// The strategy as reports name it: a student's candidate is `distilled` (with the
    /// strategy on top when it is not zero-shot: `distilled+few-shot`).
    pub fn strategy_name(&self) -> String {
        match (&self.student, &self.strategy) {
            (Some(_), Strategy::ZeroShot) => "distilled".to_owned(),
            (Some(_), s) => format!("distilled+{}", s.name()),
            (None, s) => s.name().to_owned(),
        }
    }

    /// Every model this candidate calls itself (its model, critic, embedder, verifier); a
    /// cascade's stages are other candidates and are not included.
    pub fn models(&self) -> Vec<&str> {
        let mut out: Vec<&str> = vec![self.model.as_str()];
        if let Strategy::Reflection {
            critic: Some(c), ..
        } = &self.strategy
        {
            out.push(c);
        }
        if let Some(Shots {
            select: ShotSelect::Similar { embedder },
            ..
        }) = &self.shots
        {
            out.push(embedder);
        }
        if let Strategy::Cascade(CascadeConfig {
            verifier: Some(v), ..
        }) = &self.strategy
        {
            out.push(v);
        }
        let mut seen = BTreeSet::new();
        out.retain(|m| seen.insert(*m));
        out
    }
}

//! A validated `[components.NAME]` table: the prompt, the data and its reference answers, the
//! answer's contract, metrics, few-shot examples, judge, candidates and constraints.

use std::collections::BTreeMap;

use super::constraints::ConstraintsConfig;
use super::dataset::DatasetConfig;
use super::serve::ServePolicy;
use super::strategy::{Candidate, ShotSelect};
use super::student::Student;

/// Where the reference answer comes from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reference {
    /// A field path (`label`, `target`, `answers`).
    Field(String),
    /// Slot spans: `{slot: text[start..end]}` built from a list of labelled spans.
    Spans {
        /// Field path of the list of spans.
        spans: String,
        /// Field path (from the row) of the text the offsets point into.
        text: String,
        /// Field path (within a span) of the slot name.
        slot: String,
        /// Field path (within a span) of the start offset (missing means 0).
        start: String,
        /// Field path (within a span) of the end offset.
        end: String,
    },
}

/// What a component's answer must look like.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputContract {
    /// One label out of a set. `map` turns dataset values into label names.
    Label {
        /// The label names the model may answer.
        labels: Vec<String>,
        /// Dataset value -> label name (when the data holds codes such as `-1`).
        map: BTreeMap<String, String>,
    },
    /// A JSON value, optionally conforming to a JSON Schema.
    Json {
        /// The JSON Schema the value must conform to; `None`: any JSON value.
        schema: Option<serde_json::Value>,
    },
    /// A JSON object of slot -> extracted text.
    Spans {
        /// The slots the model is asked for.
        slots: Vec<String>,
    },
    /// Free text. `no_answer` is the phrase that means "no answer" (scored as empty).
    Text {
        /// e.g. `unanswerable`.
        no_answer: Option<String>,
    },
    /// Tool calls: the model is offered functions and answers with calls to them (or with text
    /// and no call). The reference is the expected calls (see `docs/config.md`).
    ToolCall {
        /// Where each row's functions come from.
        tools: ToolSource,
        /// Field path of the row's conversation (a list of messages, or a list of turns of
        /// messages as BFCL's `question`), assistant tool calls and tool results included;
        /// `None`: the prompt template renders one user message.
        messages: Option<String>,
    },
}

/// Where a `tool_call` component's functions come from.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolSource {
    /// A field path of the row holding its list of functions (`function` in BFCL).
    Field(String),
    /// The same functions for every row, written in the config: each `{name, description,
    /// parameters}` with a JSON Schema (or BFCL's `dict`/`float`/`tuple`/`any` types).
    Inline(Vec<serde_json::Value>),
}

/// `[components.NAME.few_shot]`: where few-shot examples come from and how they are drawn
/// (each candidate's `k` says how many it shows).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FewShot {
    /// Default number of examples.
    pub k: usize,
    /// Where examples come from; `None` means held out of the component's own dataset.
    pub dataset: Option<DatasetConfig>,
    /// Seed of the draw (default: the project's `seed`).
    pub seed: u64,
    /// Spread examples over labels.
    pub stratify: bool,
    /// Inline examples: template fields and the answer.
    pub examples: Vec<(serde_json::Value, String)>,
    /// How many examples similarity selection chooses from (`select = "similar"`).
    pub pool: usize,
    /// A model that answers the pool's inputs (zero-shot) to serve as their reference: a pool
    /// of unlabelled inputs (production traffic) labelled by the large model.
    pub labelled_by: Option<String>,
}

/// A seeded split of the component's dataset.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Split {
    /// Share of rows evaluated (the test part), strictly between 0 and 1.
    pub test_fraction: f64,
    /// Field path to stratify by (keeps label proportions on both sides).
    pub stratify: Option<String>,
}

/// `[components.NAME.judge]`: a model that scores answers for the `judge` metric.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Judge {
    /// The judging model's name in `[models]`.
    pub model: String,
    /// What a good answer is.
    pub rubric: String,
    /// Token limit for the verdict.
    pub max_tokens: u32,
}

/// One component of the application.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Component {
    /// The key of its `[components.NAME]` table.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// The system prompt, a Jinja template like `prompt`.
    pub system: Option<String>,
    /// The user prompt, a Jinja template over the row's fields.
    pub prompt: String,
    /// The rows it is evaluated on.
    pub dataset: DatasetConfig,
    /// Where each row's reference answer comes from.
    pub reference: Reference,
    /// The answer's contract.
    pub output: OutputContract,
    /// Metric names; the first is the primary one.
    pub metrics: Vec<String>,
    /// Default answer token limit.
    pub max_tokens: u32,
    /// Default sample size.
    pub limit: Option<u64>,
    /// Field path to stratify sampling by.
    pub stratify: Option<String>,
    /// Split one dataset into a test part (evaluated) and a train part (few-shot pool).
    pub split: Option<Split>,
    /// Where few-shot examples come from, when a candidate shows any.
    pub few_shot: Option<FewShot>,
    /// The judge; the `judge` metric needs one.
    pub judge: Option<Judge>,
    /// Candidates in file order.
    pub candidates: Vec<Candidate>,
    /// What `rightfit recommend` must respect: the project's `[constraints]` overridden key by
    /// key by the component's own.
    pub constraints: ConstraintsConfig,
    /// The candidate the lift table measures the others against (the large model); `None`:
    /// the best-quality candidate that is not a cascade.
    pub baseline: Option<String>,
    /// How the gateway serves it (`[components.NAME.serve]`); [`Component::serving`] gives
    /// the default when `None`. Not serialized: it changes nothing an evaluation measures, so it
    /// stays out of a run's configuration hash (editing it leaves runs resumable).
    #[serde(skip)]
    pub serve: Option<ServePolicy>,
    /// Small models `rightfit distill` trains for it. Left out of the serialisation when there
    /// are none, so that runs of components without students keep their hash.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub students: Vec<Student>,
}

impl Component {
    /// A student by name.
    pub fn student(&self, name: &str) -> Option<&Student> {
        self.students.iter().find(|s| s.name == name)
    }

    /// A candidate by name.
    pub fn candidate(&self, name: &str) -> Option<&Candidate> {
        self.candidates.iter().find(|c| c.name == name)
    }

    /// The component's serve policy: its `[components.NAME.serve]` table, or else pinned to
    /// `baseline` when set, otherwise to the first candidate (a validated component has at
    /// least one), with every other key at its default.
    pub fn serving(&self) -> ServePolicy {
        if let Some(policy) = &self.serve {
            return policy.clone();
        }
        let name = self
            .baseline
            .clone()
            .or_else(|| self.candidates.first().map(|c| c.name.clone()))
            .unwrap_or_default();
        ServePolicy::pinned(name)
    }

    /// How many few-shot examples a run must draw: the most any candidate shows, or the
    /// pool when a candidate chooses among examples or a model labels them (so examples it
    /// cannot label are replaced).
    pub fn shots_wanted(&self) -> usize {
        let pool = self.few_shot.as_ref().map_or(0, |f| f.pool);
        let labelled = self
            .few_shot
            .as_ref()
            .is_some_and(|f| f.labelled_by.is_some());
        let most = self
            .candidates
            .iter()
            .filter_map(|c| c.shots.as_ref())
            .map(|s| match s.select {
                ShotSelect::Fixed => s.k,
                ShotSelect::Similar { .. } => s.k.max(self.few_shot.as_ref().map_or(0, |f| f.pool)),
            })
            .max()
            .unwrap_or(0);
        if labelled && most > 0 {
            most.max(pool)
        } else {
            most
        }
    }
}

/// Metric names `rightfit` knows, with what each needs.
pub const METRICS: &[(&str, &str)] = &[
    (
        "exact_match",
        "answer equals the reference exactly (after trimming)",
    ),
    (
        "normalized_match",
        "equal after lowercasing, dropping punctuation, articles and extra spaces",
    ),
    (
        "accuracy",
        "label contracts: the parsed label equals the reference label",
    ),
    (
        "macro_f1",
        "label contracts: per-example accuracy, corpus macro-F1 in the summary",
    ),
    (
        "squad_em",
        "SQuAD 2.0 exact match against a list of gold answers",
    ),
    (
        "squad_f1",
        "SQuAD 2.0 token F1 against a list of gold answers",
    ),
    (
        "rouge1",
        "ROUGE-1 F-measure (append ':stem' for Porter stemming)",
    ),
    ("rouge2", "ROUGE-2 F-measure (':stem' too)"),
    ("rougeL", "ROUGE-L F-measure (':stem' too)"),
    ("rougeLsum", "ROUGE-Lsum F-measure (':stem' too)"),
    (
        "bleu",
        "sentence BLEU (sacrebleu 13a, exp smoothing), corpus BLEU in the summary",
    ),
    ("chrf", "sentence chrF, corpus chrF in the summary"),
    ("json_valid", "the answer parses as JSON"),
    (
        "json_schema",
        "the answer conforms to the contract's JSON Schema",
    ),
    ("span_exact", "span contracts: every slot extracted exactly"),
    ("span_f1", "span contracts: mean token F1 over slots"),
    (
        "tool_exact",
        "tool_call contracts: every call matches an expected call (BFCL's AST check)",
    ),
    (
        "tool_name",
        "tool_call contracts: the set of functions called equals the expected set",
    ),
    (
        "tool_args",
        "tool_call contracts: share of expected and given arguments that are right",
    ),
    (
        "tool_valid",
        "tool_call contracts: every call names an offered function, arguments fit its schema",
    ),
    (
        "judge",
        "an LLM judge compares the answer with the reference under the rubric",
    ),
];

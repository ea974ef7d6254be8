//! The project file, `rightfit.toml`: models, components, candidates.
//!
//! [`Project::load`] reads the file into raw structs that refuse unknown keys ([`raw`]), then
//! validates them into a [`Project`] ([`validate`]). Every error names the file, the line and the
//! key path, and says what was expected. Relative paths are resolved against the file's directory.
//! Secrets are references (`api_key = "env:OPENAI_API_KEY"`), read only when a provider is built.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod cascade;
mod component;
mod constraints;
mod gateway;
mod raw;
mod serve;
mod starter;
mod strategy;
mod validate;

pub use constraints::{ConstraintsConfig, OBJECTIVES};
pub use gateway::{DEFAULT_LISTEN, GatewayAuth, GatewayConfig};
pub use serve::{Route, ServePolicy, Sticky};
pub use starter::{STARTER, STARTER_DATA};
pub use strategy::{
    Candidate, CascadeConfig, ConfidenceSource, DEFAULT_ANSWER_PREFIX, ShotSelect, Shots, Strategy,
};

/// A validated project.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    /// The file it was read from.
    pub file: PathBuf,
    /// The file's directory; relative paths in the file are relative to it.
    pub root: PathBuf,
    /// A display name (default: the directory's name).
    pub name: String,
    /// The SQLite database that keeps runs (default `.rightfit/runs.db` beside the file).
    pub store: PathBuf,
    /// Seed for sampling, few-shot selection and bootstrap (default 42).
    pub seed: u64,
    /// Models by name.
    pub models: BTreeMap<String, ModelConfig>,
    /// Components by name.
    pub components: BTreeMap<String, Component>,
    /// Project-wide constraints (`[constraints]`); each component's are already merged in.
    pub constraints: ConstraintsConfig,
    /// How `rightfit serve` runs (`[gateway]`; defaults when absent).
    pub gateway: GatewayConfig,
}

/// Price in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Price {
    /// Per million prompt tokens.
    pub input: f64,
    /// Per million generated tokens.
    pub output: f64,
}

impl Price {
    /// Cost of one call.
    pub fn cost(&self, tokens_in: u64, tokens_out: u64) -> f64 {
        (tokens_in as f64 * self.input + tokens_out as f64 * self.output) / 1_000_000.0
    }
}

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum SecretRef {
    /// `env:NAME`: the environment variable NAME.
    Env(String),
}

impl SecretRef {
    /// Reads the secret now.
    pub fn resolve(&self) -> Result<crate::Secret, String> {
        match self {
            SecretRef::Env(name) => match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(crate::Secret::new(v)),
                _ => Err(format!("environment variable {name} is not set")),
            },
        }
    }
}

/// How a model is reached.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "provider", rename_all = "kebab-case")]
pub enum ProviderConfig {
    /// The embedded llama.cpp engine.
    Local {
        /// A catalogue name (`smollm2-135m`) or a path to a `.gguf` file.
        model: String,
        /// Context size in tokens (shared by all parallel sequences).
        context_size: Option<u32>,
        /// Sequences decoded together.
        parallel: Option<usize>,
        /// Chat template override (a built-in name).
        chat_template: Option<String>,
        /// Make each answer independent of what else is decoded with it (slower prompts; for
        /// bit-exact reproducibility across runs, e.g. resumed ones).
        batch_invariant: bool,
        /// Reuse the KV cache of shared prompt prefixes (default on).
        prefix_cache: bool,
    },
    /// OpenAI's API.
    Openai {
        /// Model id.
        model: String,
        /// API base URL.
        base_url: Option<String>,
        /// The key.
        api_key: SecretRef,
    },
    /// Anthropic's Messages API.
    Anthropic {
        /// Model id.
        model: String,
        /// API base URL.
        base_url: Option<String>,
        /// The key.
        api_key: SecretRef,
        /// The `anthropic-version` header (default `2023-06-01`).
        api_version: Option<String>,
    },
    /// Google's Gemini API.
    Gemini {
        /// Model id.
        model: String,
        /// API base URL (including the version path); overrides `api_version`.
        base_url: Option<String>,
        /// The key.
        api_key: SecretRef,
        /// `v1beta` (default) or `v1`.
        api_version: Option<String>,
    },
    /// Any OpenAI-compatible server (vLLM, Ollama, llama.cpp server, TGI).
    OpenaiCompatible {
        /// Model id as the server knows it.
        model: String,
        /// The server's base URL (`http://host:port/v1`).
        base_url: String,
        /// The key, if the server wants one.
        api_key: Option<SecretRef>,
    },
}

impl ProviderConfig {
    /// The provider's kind as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderConfig::Local { .. } => "local",
            ProviderConfig::Openai { .. } => "openai",
            ProviderConfig::Anthropic { .. } => "anthropic",
            ProviderConfig::Gemini { .. } => "gemini",
            ProviderConfig::OpenaiCompatible { .. } => "openai-compatible",
        }
    }
}

/// One model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelConfig {
    /// Its name in the file.
    pub name: String,
    /// How it is reached.
    pub provider: ProviderConfig,
    /// Price per million tokens; local models default to zero.
    pub price: Option<Price>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Per-request timeout, seconds.
    pub timeout_s: f64,
    /// Retries of transient errors.
    pub max_retries: u32,
    /// Memory the model needs, GB, when known from the user (hosted models: none).
    pub memory_gb: Option<f64>,
    /// Where `price` came from.
    pub price_source: PriceSource,
    /// Local models: what the hardware costs per hour, US dollars; requests are then priced by
    /// the share of the machine's time they took (see [`ModelConfig::request_cost`]).
    pub cost_per_hour: Option<f64>,
    /// Hosted models: seconds to wait for a TCP/TLS connection.
    pub connect_timeout_s: f64,
    /// Hosted models: seconds to wait for the first byte of the answer (headers, or the first
    /// streamed event); `None`: only `timeout_s` applies.
    pub first_byte_timeout_s: Option<f64>,
    /// Hosted models: the most seconds spent on one request including all its retries and
    /// waits; retries stop when the next wait would pass it.
    pub retry_budget_s: f64,
    /// Client-side limit on requests started per minute.
    pub requests_per_minute: Option<u32>,
    /// Client-side limit on tokens (prompt estimate + `max_tokens`) per minute.
    pub tokens_per_minute: Option<u32>,
    /// Hosted models: read answers as a stream even when the caller wants them whole, so that
    /// the time to the first token is measured (default true).
    pub stream: bool,
}

/// Where a model's price came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PriceSource {
    /// Written in the config.
    Config,
    /// rightfit's price catalogue, as of the date given.
    Catalogue(String),
    /// A local model: free unless `cost_per_hour` is set.
    Hardware,
    /// Not known (a hosted model missing from the catalogue, without `price`).
    Unknown,
}

impl ModelConfig {
    /// A hosted model named on the command line, or `None` for a local one.
    ///
    /// `openai:ID`, `anthropic:ID`, `gemini:ID` and `openai-compatible:ID` name the provider;
    /// a bare id in the price catalogue (`gpt-4o`, `claude-3-5-sonnet-latest`,
    /// `gemini-2.5-flash`) implies it; any other id with a `base_url` is an OpenAI-compatible
    /// server's. Keys come from `OPENAI_API_KEY`, `ANTHROPIC_API_KEY` or `GEMINI_API_KEY`
    /// (`key_env` overrides; OpenAI-compatible servers get no key unless `key_env` is given).
    pub fn from_spec(
        spec: &str,
        base_url: Option<&str>,
        key_env: Option<&str>,
    ) -> Result<Option<ModelConfig>, ConfigError> {
        use crate::env;
        let kinds = ["openai", "anthropic", "gemini", "openai-compatible"];
        let (kind, id) = match spec.split_once(':') {
            Some((k, id)) if kinds.contains(&k) => (k, id),
            _ => match ["openai", "anthropic", "gemini"]
                .into_iter()
                .find(|k| crate::prices::lookup(k, spec).is_some())
            {
                Some(k) => (k, spec),
                None if base_url.is_some() => ("openai-compatible", spec),
                None => return Ok(None),
            },
        };
        let default_env = match kind {
            "openai" => Some(env::OPENAI_API_KEY),
            "anthropic" => Some(env::ANTHROPIC_API_KEY),
            "gemini" => Some(env::GEMINI_API_KEY),
            _ => None,
        };
        let path = std::path::Path::new("--model");
        let bad = |message: &str| ConfigError::Invalid {
            path: path.to_owned(),
            line: 1,
            key: "model".to_owned(),
            message: message.to_owned(),
        };
        let quoted = |v: &str| {
            if v.contains(['"', '\\', '\n']) {
                Err(bad("quotes, backslashes and newlines are not allowed here"))
            } else {
                Ok(format!("\"{v}\""))
            }
        };
        let mut text = format!("provider = {}\nmodel = {}\n", quoted(kind)?, quoted(id)?);
        if let Some(var) = key_env.or(default_env) {
            text.push_str(&format!("api_key = {}\n", quoted(&format!("env:{var}"))?));
        }
        if let Some(url) = base_url {
            text.push_str(&format!("base_url = {}\n", quoted(url)?));
        }
        validate::lone_model(path, &text, spec).map(Some)
    }

    /// What one request cost, US dollars, when it can be known. Hosted models: tokens × price.
    /// Local models with `cost_per_hour`: the hardware's cost for the time the request kept it
    /// busy — its latency divided by the requests the engine decodes together (`parallel`, or
    /// `concurrency` when lower), so that cost follows measured throughput.
    pub fn request_cost(&self, tokens_in: u64, tokens_out: u64, latency_ms: f64) -> Option<f64> {
        if let (Some(per_hour), ProviderConfig::Local { parallel, .. }) =
            (self.cost_per_hour, &self.provider)
        {
            let together = parallel
                .unwrap_or(self.concurrency)
                .min(self.concurrency)
                .max(1);
            return Some(per_hour * latency_ms / 3_600_000.0 / together as f64);
        }
        self.price.map(|p| p.cost(tokens_in, tokens_out))
    }
}

/// A dataset as the config names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DatasetConfig {
    /// Resolved path.
    pub path: PathBuf,
    /// `jsonl`, `csv`, `tsv`, `json`, `squad`; `None` to infer from the extension.
    pub format: Option<String>,
    /// JSON: field path to the array of records.
    pub records: Option<String>,
    /// CSV/TSV without a header row: the column names.
    pub columns: Option<Vec<String>>,
    /// Field path of the row id.
    pub id: Option<String>,
}

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
        /// The schema, if any.
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
}

/// Few-shot examples.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FewShot {
    /// Default number of examples.
    pub k: usize,
    /// Where examples come from; `None` means held out of the component's own dataset.
    pub dataset: Option<DatasetConfig>,
    /// Selection seed.
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

/// An LLM judge.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Judge {
    /// The model that judges.
    pub model: String,
    /// What a good answer is.
    pub rubric: String,
    /// Token limit for the verdict.
    pub max_tokens: u32,
}

/// One component of the application.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Component {
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// System prompt.
    pub system: Option<String>,
    /// The user prompt, a Jinja template over the row's fields.
    pub prompt: String,
    /// Its data.
    pub dataset: DatasetConfig,
    /// The reference answer.
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
    /// Few-shot examples.
    pub few_shot: Option<FewShot>,
    /// LLM judge.
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
}

impl Component {
    /// A candidate by name.
    pub fn candidate(&self, name: &str) -> Option<&Candidate> {
        self.candidates.iter().find(|c| c.name == name)
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
        "judge",
        "an LLM judge compares the answer with the reference under the rubric",
    ),
];

/// Why a project file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source} — run 'rightfit init' to write a starter rightfit.toml")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not have the expected shape.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was wrong.
        message: String,
    },
    /// A value is of the right shape but not allowed.
    #[error("{}:{line}: {key}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line (of the key, or of its table).
        line: usize,
        /// The key path, e.g. `components.sentiment.candidates[1].model`.
        key: String,
        /// What was wrong and what to do.
        message: String,
    },
}

impl Project {
    /// Reads and validates a project file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Validates project text read from `path` (used for relative paths and messages).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        validate::project(path, text)
    }

    /// A component by name, with a helpful error listing the others.
    pub fn component(&self, name: &str) -> Result<&Component, String> {
        self.components.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.components.keys().map(String::as_str).collect();
            format!(
                "no component '{name}' in {} (components: {})",
                self.file.display(),
                names.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_gateway;

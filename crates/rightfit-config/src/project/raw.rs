//! `rightfit.toml` exactly as written: serde structs that refuse unknown keys.
//!
//! Nothing here is checked beyond its shape, and nothing here knows the validated types: the
//! `convert` module turns these into a `Project`. `Spanned` keeps a value's place in the file, so
//! that errors can name its line.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    #[serde(default)]
    pub project: RawProject,
    #[serde(default)]
    pub models: BTreeMap<String, Spanned<RawModel>>,
    #[serde(default)]
    pub components: BTreeMap<String, Spanned<RawComponent>>,
    pub constraints: Option<Spanned<RawConstraints>>,
    pub gateway: Option<Spanned<RawGateway>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProject {
    pub name: Option<String>,
    pub store: Option<String>,
    pub seed: Option<u64>,
    pub concurrency: Option<usize>,
    pub students: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawModel {
    pub provider: Spanned<String>,
    pub model: Option<String>,
    pub base_url: Option<Spanned<RawBaseUrl>>,
    pub api_key: Option<Spanned<String>>,
    pub price: Option<RawPrice>,
    pub concurrency: Option<usize>,
    pub timeout_s: Option<f64>,
    pub max_retries: Option<u32>,
    pub context_size: Option<u32>,
    pub parallel: Option<usize>,
    pub chat_template: Option<String>,
    pub batch_invariant: Option<bool>,
    pub prefix_cache: Option<bool>,
    pub memory_gb: Option<f64>,
    pub api_version: Option<String>,
    pub connect_timeout_s: Option<f64>,
    pub first_byte_timeout_s: Option<f64>,
    pub retry_budget_s: Option<f64>,
    pub requests_per_minute: Option<u32>,
    pub tokens_per_minute: Option<u32>,
    pub cost_per_hour: Option<f64>,
    pub stream: Option<bool>,
    pub adapter: Option<String>,
}

/// `base_url`: one URL, or a list of them (a fleet). The items are read as any value, so that
/// one that is not a string is refused naming its index.
#[derive(Debug)]
pub(crate) enum RawBaseUrl {
    One(String),
    Many(Vec<Spanned<toml::Value>>),
}

impl<'de> Deserialize<'de> for RawBaseUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = RawBaseUrl;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a URL, or a list of URLs (e.g. [\"http://a:8000/v1\", \"http://b:8000/v1\"])",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawBaseUrl, E> {
                Ok(RawBaseUrl::One(v.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawBaseUrl, A::Error> {
                let mut urls = Vec::new();
                while let Some(url) = seq.next_element()? {
                    urls.push(url);
                }
                Ok(RawBaseUrl::Many(urls))
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPrice {
    pub input: f64,
    pub output: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawComponent {
    pub description: Option<String>,
    pub system: Option<String>,
    pub prompt: Option<Spanned<String>>,
    pub dataset: Spanned<RawDataset>,
    pub reference: Spanned<RawReference>,
    pub output: Spanned<RawOutput>,
    pub metrics: Option<Vec<Spanned<String>>>,
    pub max_tokens: Option<u32>,
    pub limit: Option<u64>,
    pub stratify: Option<Spanned<String>>,
    pub split: Option<Spanned<RawSplit>>,
    pub few_shot: Option<Spanned<RawFewShot>>,
    pub judge: Option<Spanned<RawJudge>>,
    #[serde(default)]
    pub candidates: Vec<Spanned<RawCandidate>>,
    pub constraints: Option<Spanned<RawConstraints>>,
    pub baseline: Option<Spanned<String>>,
    pub serve: Option<Spanned<RawServe>>,
    #[serde(default)]
    pub students: Vec<Spanned<RawStudent>>,
}

/// `[[components.NAME.students]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStudent {
    pub name: Spanned<String>,
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    pub data: Spanned<RawTrainingData>,
    pub embedder: Option<Spanned<String>>,
    pub hidden: Option<usize>,
    pub l2: Option<f64>,
    pub base: Option<Spanned<String>>,
    pub rank: Option<usize>,
    pub alpha: Option<f64>,
    pub layers: Option<usize>,
    pub batch_size: Option<usize>,
    pub max_tokens: Option<usize>,
    pub limit: Option<usize>,
    pub validation: Option<f64>,
    pub epochs: Option<u32>,
    pub patience: Option<u32>,
    pub learning_rate: Option<f64>,
    pub seed: Option<u64>,
}

/// A student's `data = { from = "...", ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrainingData {
    pub from: Spanned<String>,
    pub dataset: Option<RawDataset>,
    pub teacher: Option<Spanned<String>>,
    pub inputs: Option<RawDataset>,
    pub reference_from: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDataset {
    pub path: String,
    pub format: Option<String>,
    pub records: Option<String>,
    pub columns: Option<Vec<String>>,
    pub id: Option<String>,
    pub answers: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawReference {
    Field(String),
    Spans(RawSpans),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSpans {
    pub spans: String,
    pub text: String,
    pub slot: String,
    pub start: String,
    pub end: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutput {
    #[serde(rename = "type")]
    pub kind: String,
    pub labels: Option<Vec<String>>,
    pub map: Option<BTreeMap<String, String>>,
    pub schema: Option<toml::Value>,
    pub slots: Option<Vec<String>>,
    pub no_answer: Option<String>,
    pub tools: Option<toml::Value>,
    pub messages: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFewShot {
    pub k: Option<usize>,
    pub dataset: Option<RawDataset>,
    pub seed: Option<u64>,
    pub stratify: Option<bool>,
    pub examples: Option<Vec<RawExample>>,
    pub pool: Option<usize>,
    pub labelled_by: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExample {
    pub input: toml::Table,
    pub output: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawJudge {
    pub model: Spanned<String>,
    pub rubric: String,
    pub max_tokens: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCandidate {
    pub name: Option<String>,
    pub model: Option<Spanned<String>>,
    pub strategy: Option<Spanned<String>>,
    pub k: Option<usize>,
    pub select: Option<Spanned<String>>,
    pub embedder: Option<Spanned<String>>,
    pub reason: Option<bool>,
    pub answer_prefix: Option<String>,
    pub samples: Option<u32>,
    pub rounds: Option<u32>,
    pub critic: Option<Spanned<String>>,
    pub stages: Option<Spanned<Vec<String>>>,
    pub confidence: Option<Spanned<String>>,
    pub verifier: Option<Spanned<String>>,
    pub threshold: Option<f64>,
    pub thresholds: Option<Vec<f64>>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub seed: Option<u64>,
    pub max_tokens: Option<u32>,
    pub constrained: Option<bool>,
    pub student: Option<Spanned<String>>,
    pub normalize: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSplit {
    pub test_fraction: f64,
    pub stratify: Option<String>,
}

/// `[gateway]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGateway {
    pub listen: Option<Spanned<String>>,
    pub auth: Option<Spanned<String>>,
    pub body_limit_kb: Option<Spanned<i64>>,
    pub request_timeout_s: Option<Spanned<f64>>,
    pub log_inputs: Option<bool>,
    pub redact_fields: Option<Vec<Spanned<String>>>,
    pub redact_patterns: Option<Vec<Spanned<String>>>,
    pub flush_ms: Option<Spanned<i64>>,
    pub batch: Option<Spanned<i64>>,
    pub durability: Option<Spanned<String>>,
    pub journal: Option<Spanned<String>>,
    pub header_timeout_s: Option<Spanned<f64>>,
    pub max_connections_per_client: Option<Spanned<i64>>,
}

/// `[components.NAME.serve]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServe {
    pub candidate: Option<Spanned<String>>,
    /// Candidate name -> weight; a `BTreeMap`, so the order is by name whatever the file's.
    pub split: Option<Spanned<BTreeMap<String, Spanned<i64>>>>,
    pub sticky: Option<Spanned<String>>,
    pub shadow: Option<Vec<Spanned<String>>>,
    pub shadow_rate: Option<Spanned<f64>>,
    pub fallback: Option<Vec<Spanned<String>>>,
    pub timeout_s: Option<Spanned<f64>>,
}

/// `[constraints]` and `[components.NAME.constraints]`.
///
/// Named like the validated type in serde's messages ("expected struct ConstraintsConfig"),
/// which the file's author sees.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "ConstraintsConfig")]
pub(crate) struct RawConstraints {
    pub min_quality: Option<f64>,
    pub min_quality_of_best: Option<f64>,
    pub max_p95_latency_ms: Option<f64>,
    pub max_p95_ttft_ms: Option<f64>,
    pub max_cost_per_1k_usd: Option<f64>,
    pub max_monthly_usd: Option<f64>,
    pub requests_per_month: Option<f64>,
    pub max_memory_gb: Option<f64>,
    pub device: Option<String>,
    pub offline: Option<bool>,
    pub prefer: Option<String>,
    pub context_tokens: Option<u32>,
}

//! A validated `[models.NAME]` table: how the model is reached, what it costs, and the limits a
//! client keeps to.

use std::path::PathBuf;

use crate::prices::Price;
use crate::project::base_url::BaseUrl;

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
        /// A GGUF LoRA adapter applied on the model (trained by `rightfit distill`, or
        /// elsewhere: a path here, or `rightfit models add FILE --base MODEL` and the added
        /// name as `model`). Left out of the
        /// serialisation when absent, so runs of models without one keep their hash.
        #[serde(skip_serializing_if = "Option::is_none")]
        adapter: Option<PathBuf>,
    },
    /// A classifier student (`rightfit distill`): a model's embeddings, then a trained
    /// classifier over them. Only label components use one.
    Classifier {
        /// The student's directory: its manifest and weights.
        artefact: PathBuf,
        /// The model whose embeddings it was trained on (a local model, the sentence
        /// embedder, or a hosted embedding model).
        embedder: Box<ModelConfig>,
    },
    /// OpenAI's API.
    Openai {
        /// Model id as the API knows it (`gpt-4o-mini`).
        model: String,
        /// API base URL (or a fleet of them); `None`: OpenAI's own.
        base_url: Option<BaseUrl>,
        /// Where the API key is read from.
        api_key: SecretRef,
    },
    /// Anthropic's Messages API.
    Anthropic {
        /// Model id as the API knows it (`claude-3-5-haiku-latest`).
        model: String,
        /// API base URL (or a fleet of them); `None`: Anthropic's own.
        base_url: Option<BaseUrl>,
        /// Where the API key is read from.
        api_key: SecretRef,
        /// The `anthropic-version` header (default `2023-06-01`).
        api_version: Option<String>,
    },
    /// Google's Gemini API.
    Gemini {
        /// Model id as the API knows it (`gemini-2.5-flash`).
        model: String,
        /// API base URL (including the version path), or a fleet of them; overrides
        /// `api_version`.
        base_url: Option<BaseUrl>,
        /// Where the API key is read from.
        api_key: SecretRef,
        /// `v1beta` (default) or `v1`.
        api_version: Option<String>,
    },
    /// Any OpenAI-compatible server (vLLM, Ollama, llama.cpp server, TGI).
    OpenaiCompatible {
        /// Model id as the server knows it.
        model: String,
        /// The server's base URL (`http://host:port/v1`), or several servers serving the same
        /// model (a fleet).
        base_url: BaseUrl,
        /// Where the API key is read from, if the server wants one.
        api_key: Option<SecretRef>,
    },
}

impl ProviderConfig {
    /// A hosted model's `base_url` as configured (`None`: the API's own, or not hosted).
    pub fn base_url(&self) -> Option<&BaseUrl> {
        match self {
            ProviderConfig::Openai { base_url, .. }
            | ProviderConfig::Anthropic { base_url, .. }
            | ProviderConfig::Gemini { base_url, .. } => base_url.as_ref(),
            ProviderConfig::OpenaiCompatible { base_url, .. } => Some(base_url),
            ProviderConfig::Local { .. } | ProviderConfig::Classifier { .. } => None,
        }
    }

    /// The provider's kind as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderConfig::Local { .. } => "local",
            ProviderConfig::Classifier { .. } => "classifier",
            ProviderConfig::Openai { .. } => "openai",
            ProviderConfig::Anthropic { .. } => "anthropic",
            ProviderConfig::Gemini { .. } => "gemini",
            ProviderConfig::OpenaiCompatible { .. } => "openai-compatible",
        }
    }
}

/// One model, with every default filled in.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelConfig {
    /// The key of its `[models.NAME]` table.
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
    /// What one request cost, US dollars, when it can be known. Hosted models: tokens × price.
    /// Local models with `cost_per_hour`: the hardware's cost for the time the request kept it
    /// busy — its latency divided by the requests the engine decodes together (`parallel`, or
    /// `concurrency` when lower), so that cost follows measured throughput.
    pub fn request_cost(&self, tokens_in: u64, tokens_out: u64, latency_ms: f64) -> Option<f64> {
        if let ProviderConfig::Classifier { embedder, .. } = &self.provider {
            // One embedding call; the matrix product after it costs nothing measurable.
            return embedder.request_cost(tokens_in, 0, latency_ms);
        }
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

impl ProviderConfig {
    /// Whether the model runs in this process (the embedded engine, or a classifier student
    /// over it): no network, its memory is the process's.
    pub fn is_in_process(&self) -> bool {
        match self {
            ProviderConfig::Local { .. } => true,
            ProviderConfig::Classifier { embedder, .. } => embedder.provider.is_in_process(),
            _ => false,
        }
    }
}

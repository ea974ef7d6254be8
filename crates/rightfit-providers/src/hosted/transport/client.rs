//! A model reached over HTTP, and how it is built from the model's configuration: the protocol's
//! codec, the key, the HTTP client, timeouts, the retry policy and the client-side rate limits.

use std::sync::Arc;
use std::time::Duration;

use rightfit_config::Secret;
use rightfit_config::project::{BaseUrl, ModelConfig, ProviderConfig, SecretRef};

use super::super::codec::Codec;
use super::super::pool::{Ejection, EndpointStats, Pool};
use super::super::ratelimit::Bucket;
use super::super::retry::RetryPolicy;
use super::super::{anthropic, gemini, openai};

/// A model reached over HTTP.
#[derive(Debug)]
pub struct HostedProvider {
    pub(super) name: String,
    /// `name (kind model id)`, the prefix of every error.
    pub(super) label: String,
    pub(super) model: String,
    /// The endpoints serving the model (one, or a fleet).
    pub(super) pool: Arc<Pool>,
    pub(super) key: Option<Secret>,
    /// Where the key came from, for "check the key in …" hints.
    pub(super) key_source: Option<String>,
    pub(super) codec: Box<dyn Codec>,
    pub(super) client: reqwest::Client,
    pub(super) timeout: Duration,
    pub(super) first_byte: Option<Duration>,
    pub(super) retry: RetryPolicy,
    pub(super) requests: Option<Arc<Bucket>>,
    pub(super) tokens: Option<Arc<Bucket>>,
    pub(super) stream_whole: bool,
}

impl HostedProvider {
    /// Builds the client for a hosted model, reading its key from the environment.
    pub fn from_config(model: &ModelConfig) -> Result<Self, String> {
        let key_ref = match &model.provider {
            ProviderConfig::Openai { api_key, .. }
            | ProviderConfig::Anthropic { api_key, .. }
            | ProviderConfig::Gemini { api_key, .. } => Some(api_key),
            ProviderConfig::OpenaiCompatible { api_key, .. } => api_key.as_ref(),
            ProviderConfig::Local { .. } | ProviderConfig::Classifier { .. } => None,
        };
        let key = key_ref
            .map(|k| k.resolve())
            .transpose()
            .map_err(|e| format!("models.{}.api_key: {e}", model.name))?;
        Self::with_key(model, key)
    }

    /// Builds the client with a key given directly (tests, the gateway's own keys).
    pub fn with_key(model: &ModelConfig, key: Option<Secret>) -> Result<Self, String> {
        let trim = |u: &str| u.trim_end_matches('/').to_owned();
        let listed = |given: Option<&BaseUrl>, default: &str| match given {
            Some(b) => b.urls().iter().map(|u| trim(u)).collect(),
            None => vec![trim(default)],
        };
        let (codec, model_id, urls, key_ref): (Box<dyn Codec>, _, _, _) = match &model.provider {
            ProviderConfig::Openai {
                model: id,
                base_url,
                api_key,
            } => (
                Box::new(openai::OpenAi { compatible: false }),
                id,
                listed(base_url.as_ref(), "https://api.openai.com/v1"),
                Some(api_key),
            ),
            ProviderConfig::OpenaiCompatible {
                model: id,
                base_url,
                api_key,
            } => (
                Box::new(openai::OpenAi { compatible: true }),
                id,
                listed(Some(base_url), ""),
                api_key.as_ref(),
            ),
            ProviderConfig::Anthropic {
                model: id,
                base_url,
                api_key,
                api_version,
            } => (
                Box::new(anthropic::Anthropic {
                    version: api_version
                        .clone()
                        .unwrap_or_else(|| anthropic::DEFAULT_VERSION.to_owned()),
                }),
                id,
                listed(base_url.as_ref(), "https://api.anthropic.com"),
                Some(api_key),
            ),
            ProviderConfig::Gemini {
                model: id,
                base_url,
                api_key,
                api_version,
            } => (
                Box::new(gemini::Gemini),
                id,
                listed(
                    base_url.as_ref(),
                    &format!(
                        "https://generativelanguage.googleapis.com/{}",
                        api_version.as_deref().unwrap_or("v1beta")
                    ),
                ),
                Some(api_key),
            ),
            ProviderConfig::Local { .. } | ProviderConfig::Classifier { .. } => {
                return Err(format!(
                    "models.{}: a local model is run by the embedded engine, not over HTTP",
                    model.name
                ));
            }
        };
        if urls.is_empty() {
            return Err(format!(
                "models.{}.base_url: an empty list: give one URL, or several servers that serve the same model",
                model.name
            ));
        }
        let connect = Duration::from_secs_f64(model.connect_timeout_s);
        let client = reqwest::Client::builder()
            .connect_timeout(connect)
            .user_agent(concat!("rightfit/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("models.{}: cannot build an HTTP client: {e}", model.name))?;
        Ok(Self {
            label: format!("{} ({} model {model_id})", model.name, codec.kind()),
            name: model.name.clone(),
            model: model_id.clone(),
            pool: Arc::new(Pool::new(urls, Ejection::default())),
            key,
            key_source: key_ref.map(|SecretRef::Env(var)| var.clone()),
            codec,
            client,
            timeout: Duration::from_secs_f64(model.timeout_s),
            first_byte: model.first_byte_timeout_s.map(Duration::from_secs_f64),
            retry: RetryPolicy::new(
                model.max_retries,
                Duration::from_secs_f64(model.retry_budget_s),
            ),
            requests: model
                .requests_per_minute
                .map(|n| Arc::new(Bucket::per_minute(n))),
            tokens: model
                .tokens_per_minute
                .map(|n| Arc::new(Bucket::per_minute(n))),
            stream_whole: model.stream,
        })
    }

    /// The same client with another cool-down for failing endpoints (the default is
    /// [`Ejection::default`]: 5 s doubling up to 60 s); the endpoints' counts start again.
    pub fn with_ejection(mut self, ejection: Ejection) -> Self {
        self.pool = Arc::new(self.pool.with_ejection(ejection));
        self
    }

    /// The URL requests go to — the first endpoint's, for a fleet (for messages and
    /// `config check`; [`HostedProvider::base_urls`] lists them all).
    pub fn base_url(&self) -> &str {
        self.pool.urls().first().map_or("", String::as_str)
    }

    /// Every endpoint's base URL, in the order configured (trailing `/` removed).
    pub fn base_urls(&self) -> &[String] {
        self.pool.urls()
    }

    /// Each endpoint's counts now: requests, failures, ejections, in flight, cool-down left.
    /// The same as `Provider::endpoints`.
    pub fn endpoint_stats(&self) -> Vec<EndpointStats> {
        self.pool.stats()
    }
}

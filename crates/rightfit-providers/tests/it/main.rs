//! The provider conformance suite: every hosted provider against a protocol-faithful test server
//! (`rightfit-testkit`), with the same expectations — answers whole and streamed, request shapes,
//! and every injected fault: retried when it should be, not otherwise, never a silent wrong
//! answer. Embeddings likewise (`embeddings`); tool calling and images (`tools`); a model served
//! by several endpoints (`fleet`). Plus the OpenAI-compatible provider against llama.cpp's own
//! `llama-server`.

mod conformance;
mod embeddings;
mod fleet;
mod llama_server;
mod tools;

use rightfit_config::Secret;
use rightfit_config::project::ModelConfig;
use rightfit_providers::HostedProvider;
use rightfit_testkit::{Protocol, Quirks, ServerConfig, TestServer};

/// One provider as the suite sees it.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub kind: &'static str,
    pub protocol: Protocol,
    pub quirks: Quirks,
}

pub const OPENAI: Target = Target {
    kind: "openai",
    protocol: Protocol::OpenAi,
    quirks: Quirks {
        no_usage: false,
        no_ids: false,
        no_done: false,
        crlf: false,
        keep_alives: false,
        split_writes: false,
    },
};

pub const ANTHROPIC: Target = Target {
    kind: "anthropic",
    protocol: Protocol::Anthropic,
    ..OPENAI
};

pub const GEMINI: Target = Target {
    kind: "gemini",
    protocol: Protocol::Gemini,
    ..OPENAI
};

/// An OpenAI-compatible server with the quirks real ones show.
pub const COMPATIBLE: Target = Target {
    kind: "openai-compatible",
    protocol: Protocol::OpenAi,
    quirks: Quirks {
        no_usage: true,
        no_ids: true,
        no_done: true,
        crlf: true,
        keep_alives: true,
        split_writes: true,
    },
};

pub const KEY: &str = "sk-test-0123456789abcdefXYZ";

/// A started server and a provider pointed at it, with short timeouts and quick retries.
#[derive(Debug)]
pub struct Setup {
    pub server: TestServer,
    pub provider: HostedProvider,
    pub model: ModelConfig,
}

pub fn model_config(target: Target, base: &str) -> ModelConfig {
    let url = match target.protocol {
        Protocol::OpenAi => format!("{base}/v1"),
        Protocol::Anthropic => base.to_owned(),
        Protocol::Gemini => format!("{base}/v1beta"),
    };
    let mut m = ModelConfig::from_spec(&format!("{}:test-model", target.kind), Some(&url), None)
        .expect("valid spec")
        .expect("a hosted model");
    m.timeout_s = 5.0;
    m.max_retries = 3;
    m.retry_budget_s = 30.0;
    m
}

pub async fn setup_with(
    target: Target,
    tune_server: impl FnOnce(&mut ServerConfig),
    tune: impl FnOnce(&mut ModelConfig),
) -> Setup {
    let mut config = ServerConfig::new(target.protocol);
    config.api_key = Some(KEY.to_owned());
    config.quirks = target.quirks;
    tune_server(&mut config);
    let server = TestServer::start(config).await.expect("server starts");
    let mut model = model_config(target, &server.base_url());
    tune(&mut model);
    let provider =
        HostedProvider::with_key(&model, Some(Secret::new(KEY))).expect("provider builds");
    Setup {
        server,
        provider,
        model,
    }
}

pub async fn setup(target: Target) -> Setup {
    setup_with(target, |_| {}, |_| {}).await
}

/// Rebuilds the provider with other settings (same server).
pub fn provider(s: &Setup, tune: impl FnOnce(&mut ModelConfig)) -> HostedProvider {
    let mut m = s.model.clone();
    tune(&mut m);
    HostedProvider::with_key(&m, Some(Secret::new(KEY))).expect("provider builds")
}

//! The embedded engine behind the [`Provider`] trait.

use async_trait::async_trait;
use futures::StreamExt;
use rightfit_providers::{Capabilities, EventStream, Health, MemoryUse, Provider, ProviderError};
use rightfit_types::{
    ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, LoglikelihoodRequest,
    LoglikelihoodResponse,
};

use crate::engine::{Engine, EngineError};

/// A model run in-process by llama.cpp.
#[derive(Debug, Clone)]
pub struct LocalProvider {
    name: String,
    engine: Engine,
}

impl LocalProvider {
    /// Serves `engine` under `name`.
    pub fn new(name: impl Into<String>, engine: Engine) -> Self {
        Self {
            name: name.into(),
            engine,
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn error(&self, e: EngineError) -> ProviderError {
        let provider = self.name.clone();
        match e {
            EngineError::InvalidRequest(detail)
            | EngineError::Template(detail)
            | EngineError::Grammar(detail) => ProviderError::InvalidRequest { provider, detail },
            EngineError::Stopped => ProviderError::Cancelled { provider },
            EngineError::Model(detail) => ProviderError::Unavailable { provider, detail },
            e @ (EngineError::Load { .. } | EngineError::Adapter { .. }) => {
                ProviderError::Unavailable {
                    provider,
                    detail: e.to_string(),
                }
            }
            e @ (EngineError::ContextFull(_) | EngineError::Decode(_)) => ProviderError::Engine {
                provider,
                detail: e.to_string(),
            },
        }
    }
}

#[async_trait]
impl Provider for LocalProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            completion: true,
            embeddings: true,
            loglikelihood: true,
            grammar: true,
            json_schema: true,
            tools: true,
            images: false,
        }
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream, ProviderError> {
        let generation = self.engine.generate(request).map_err(|e| self.error(e))?;
        let this = self.clone();
        Ok(generation
            .map(move |event| event.map_err(|e| this.error(e)))
            .boxed())
    }

    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let n = request.n.max(1);
        let generation = self
            .engine
            .generate_whole(request)
            .map_err(|e| self.error(e))?;
        let this = self.clone();
        let events = generation
            .map(move |event| event.map_err(|e| this.error(e)))
            .boxed();
        rightfit_providers::collect_stream(&self.name, n, events).await
    }

    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        self.engine.embed(request).await.map_err(|e| self.error(e))
    }

    async fn loglikelihood(
        &self,
        request: LoglikelihoodRequest,
    ) -> Result<LoglikelihoodResponse, ProviderError> {
        self.engine
            .loglikelihood(request)
            .await
            .map_err(|e| self.error(e))
    }

    async fn memory(&self) -> Option<MemoryUse> {
        let stats = self.engine.stats().await.ok()?;
        Some(MemoryUse {
            model_bytes: stats.model_bytes,
            peak_rss_bytes: stats.memory.peak_rss_bytes,
        })
    }

    async fn health(&self) -> Result<Health, ProviderError> {
        let stats = self.engine.stats().await.map_err(|e| self.error(e))?;
        let info = self.engine.info();
        Ok(Health {
            ready: true,
            detail: format!(
                "{} ({}, {} parameters) loaded; {} requests served; RSS {} MiB",
                info.name,
                info.architecture,
                info.parameters,
                stats.requests,
                stats.memory.rss_bytes >> 20
            ),
        })
    }
}

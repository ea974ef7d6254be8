//! Answering one request with one target: a model named directly, or a candidate of a component.
//!
//! A plain candidate (zero-shot, no examples, no reasoning, no constraint) and a direct model
//! get the client's request as sent — its sampling, limits, stop sequences, response format —
//! and stream natively. A candidate with a strategy (few-shot, chain-of-thought,
//! self-consistency, reflection, log-likelihood, constrained output, a cascade) is run by the
//! evaluator's own strategy code on the client's conversation, with the settings it was
//! evaluated with, so what is served is what was measured; its answer is complete before the
//! first byte (a stream then carries it in one piece).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rightfit_config::project::{Candidate, ModelConfig, Strategy};
use rightfit_eval::example::Example;
use rightfit_eval::strategy::Answerer;
use rightfit_providers::{Capabilities, EventStream, Provider, ProviderError};
use rightfit_registry::ProviderFactory;
use rightfit_store::RunStore;
use rightfit_types::{ChatResponse, Choice, FinishReason, Step, StreamEvent, Timings, Usage};

use crate::error::GatewayError;
use crate::state::{Served, State};
use crate::wire::GatewayRequest;
use crate::wire::tools::{uses_images, uses_tools};

/// Who answers.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// A model named by the request.
    Model(&'a ModelConfig),
    /// A component's candidate.
    Candidate(&'a Served, &'a Candidate),
}

impl Target<'_> {
    /// The name recorded for it.
    pub fn name(&self) -> &str {
        match self {
            Target::Model(m) => &m.name,
            Target::Candidate(_, c) => &c.name,
        }
    }

    /// The model the client's request goes to as sent, when it does.
    fn passthrough(&self) -> Option<&str> {
        match self {
            Target::Model(m) => Some(&m.name),
            Target::Candidate(_, c) => (c.strategy == Strategy::ZeroShot
                && c.shots.is_none()
                && !c.reason
                && !c.constrained)
                .then_some(c.model.as_str()),
        }
    }
}

/// A complete answer with what it took.
#[derive(Debug, Clone)]
pub struct Answered {
    /// The answer (first choice is what the log keeps).
    pub response: ChatResponse,
    /// US dollars, `None` when a price is unknown.
    pub cost_usd: Option<f64>,
    /// How sure the strategy was, where it can say.
    pub confidence: Option<f64>,
    /// A cascade went past its first stage.
    pub escalated: bool,
    /// A strategy's calls.
    pub steps: Vec<Step>,
}

/// The start of an answer: whole, or a stream whose first event has arrived.
pub enum Started {
    /// Complete.
    Whole(Answered),
    /// Streaming from a model; `model` prices it when it ends.
    Stream {
        /// The first event.
        first: StreamEvent,
        rest: EventStream,
        /// The model answering.
        model: ModelConfig,
    },
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Started::Whole(a) => f.debug_tuple("Whole").field(a).finish(),
            Started::Stream { first, model, .. } => f
                .debug_struct("Stream")
                .field("first", first)
                .field("model", &model.name)
                .finish_non_exhaustive(),
        }
    }
}

/// What the gateway needs to call models.
pub struct ModelAccess<'a> {
    /// The state the request started on.
    pub state: &'a State,
    /// Builds providers not built yet.
    pub factory: &'a dyn ProviderFactory,
    /// The store (the strategies' response cache API; the cache is not used when serving).
    pub store: &'a dyn RunStore,
}

impl std::fmt::Debug for ModelAccess<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelAccess").finish_non_exhaustive()
    }
}

impl ModelAccess<'_> {
    async fn provider(
        &self,
        model: &str,
    ) -> Result<(&ModelConfig, Arc<dyn Provider>), GatewayError> {
        let config = self
            .state
            .project
            .models
            .get(model)
            .ok_or_else(|| GatewayError::internal(format!("model '{model}' is not defined")))?;
        let p = self
            .state
            .providers
            .get(config, self.factory)
            .await
            .map_err(|e| {
                tracing::error!("models.{model}: {e}");
                GatewayError::unavailable(format!("model '{model}' could not be started"))
            })?;
        Ok((config, p))
    }

    /// Starts answering `request` with `target`; errors (including the first event's) come
    /// back before anything is sent to the client, so the caller can fall back.
    pub async fn start(
        &self,
        target: Target<'_>,
        request: &GatewayRequest,
        stream: bool,
        timeout: Duration,
    ) -> Result<Started, GatewayError> {
        let name = target.name().to_owned();
        let work = async {
            if let Some(model) = target.passthrough() {
                let (config, provider) = self.provider(model).await?;
                check_capabilities(request, model, provider.capabilities())?;
                let mut chat = request.chat.clone();
                chat.model = String::new();
                if stream {
                    let mut rest = provider.stream(chat).await.map_err(|e| upstream(&e))?;
                    let first = match rest.next().await {
                        Some(Ok(e)) => e,
                        Some(Err(e)) => return Err(upstream(&e)),
                        None => {
                            return Err(GatewayError::upstream(format!(
                                "'{name}' ended its stream before answering"
                            )));
                        }
                    };
                    return Ok(Started::Stream {
                        first,
                        rest,
                        model: config.clone(),
                    });
                }
                let started = std::time::Instant::now();
                let response = provider.complete(chat).await.map_err(|e| upstream(&e))?;
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                let cost = config.request_cost(
                    u64::from(response.usage.prompt_tokens),
                    u64::from(response.usage.completion_tokens),
                    ms,
                );
                return Ok(Started::Whole(Answered {
                    response,
                    cost_usd: cost,
                    confidence: None,
                    escalated: false,
                    steps: Vec::new(),
                }));
            }
            let Target::Candidate(served, candidate) = target else {
                return Err(GatewayError::internal(
                    "a direct model is always passed through",
                ));
            };
            if let Some(what) = needs(request) {
                return Err(GatewayError::invalid_request(
                    format!(
                        "The request has {what}, but candidate '{}' of component '{}' answers \
                         with a strategy ({}), which takes text conversations only; serve a \
                         zero-shot candidate, or name a model directly.",
                        candidate.name, served.component.name, candidate.strategy,
                    ),
                    None,
                )
                .with_code("unsupported_parameter"));
            }
            self.strategy(served, candidate, request)
                .await
                .map(Started::Whole)
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(GatewayError::upstream_timeout(format!(
                "'{name}' did not answer within {:.1} s",
                timeout.as_secs_f64()
            ))),
        }
    }

    /// A candidate with a strategy, run by the evaluator's strategy code.
    async fn strategy(
        &self,
        served: &Served,
        candidate: &Candidate,
        request: &GatewayRequest,
    ) -> Result<Answered, GatewayError> {
        let mut providers = BTreeMap::new();
        for model in served.models_of(candidate) {
            let (_, p) = self.provider(&model).await?;
            providers.insert(model, p);
        }
        let env = Answerer {
            component: &served.component,
            models: &self.state.project.models,
            providers: &providers,
            templates: &served.templates,
            scorer: &served.scorer,
            shots: &served.shots,
            similar: &served.similar,
            store: self.store,
            cache: false,
        };
        let example = Example::from_conversation("request", request.messages.clone());
        let outcome = env.answer(candidate, &example).await;
        if let Some(e) = outcome.error {
            tracing::warn!("candidate {}: {e}", candidate.name);
            return Err(GatewayError::upstream(format!(
                "candidate '{}' failed to answer",
                candidate.name
            )));
        }
        let stages = outcome.steps.iter().filter(|s| s.kind == "stage").count();
        let usage = Usage {
            prompt_tokens: u32::try_from(outcome.tokens_in).unwrap_or(u32::MAX),
            completion_tokens: u32::try_from(outcome.tokens_out).unwrap_or(u32::MAX),
            cached_prompt_tokens: 0,
        };
        Ok(Answered {
            response: ChatResponse {
                id: String::new(),
                model: candidate.name.clone(),
                choices: vec![Choice {
                    tool_calls: Vec::new(),
                    index: 0,
                    text: outcome.text,
                    finish_reason: FinishReason::Stop,
                    logprobs: None,
                }],
                usage,
                timings: Timings {
                    total_ms: outcome.latency_ms,
                    ..Timings::default()
                },
            },
            cost_usd: outcome.cost_usd,
            confidence: outcome.confidence,
            escalated: stages > 1,
            steps: outcome.steps,
        })
    }
}

/// What in the request needs more than text generation: tools or images (`None`: neither).
fn needs(request: &GatewayRequest) -> Option<&'static str> {
    let tools = uses_tools(&request.chat.tools, &request.messages);
    let images = uses_images(&request.messages);
    match (tools, images) {
        (true, true) => Some("tools and images"),
        (true, false) => Some("tools"),
        (false, true) => Some("images"),
        (false, false) => None,
    }
}

/// Refuses a request with tools (or tool turns) for a model that cannot call tools, and one
/// with images for a model that does not take them, with a 400 naming the model.
fn check_capabilities(
    request: &GatewayRequest,
    model: &str,
    caps: Capabilities,
) -> Result<(), GatewayError> {
    let (param, what) = if uses_tools(&request.chat.tools, &request.messages) && !caps.tools {
        ("tools", "tool calling")
    } else if uses_images(&request.messages) && !caps.images {
        ("messages", "images")
    } else {
        return Ok(());
    };
    Err(GatewayError::invalid_request(
        format!(
            "Model '{model}' does not support {what}; send the request to a model that does, or \
             leave the {what} out."
        ),
        Some(param),
    )
    .with_code("unsupported_parameter"))
}

fn upstream(e: &ProviderError) -> GatewayError {
    tracing::warn!("{e}");
    GatewayError::from_provider(e)
}

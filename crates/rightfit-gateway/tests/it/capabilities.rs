//! In-process (no sockets): a request with tools or images routed to a model whose provider
//! cannot take them is refused with a 400 that names the model, in each API's shape, and the
//! upstream is never called; the same request without them is answered.

use std::sync::Arc;

use axum::body::Body;
use http::{Request, StatusCode};
use rightfit_config::project::ModelConfig;
use rightfit_providers::{Capabilities, EventStream, Health, Provider, ProviderError};
use rightfit_registry::{BuildError, ModelRegistry, ProviderFactory};
use rightfit_types::ChatRequest;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{component, model, start_factory, upstream};

/// A hosted provider that says it takes text only.
#[derive(Debug)]
struct TextOnly(Arc<dyn Provider>);

#[async_trait::async_trait]
impl Provider for TextOnly {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream, ProviderError> {
        self.0.stream(request).await
    }

    async fn health(&self) -> Result<Health, ProviderError> {
        self.0.health().await
    }
}

struct TextOnlyFactory;

#[async_trait::async_trait]
impl ProviderFactory for TextOnlyFactory {
    async fn provider(&self, model: &ModelConfig) -> Result<Arc<dyn Provider>, BuildError> {
        Ok(Arc::new(TextOnly(Arc::new(ModelRegistry::hosted(model)?))))
    }
}

async fn post(router: &axum::Router, path: &str, body: &Value) -> (StatusCode, Value) {
    let req = Request::post(path)
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .body(Body::from(body.to_string()))
        .expect("request");
    let response = router.clone().oneshot(req).await.expect("router");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_and_images_for_a_text_only_model_are_refused_naming_it() {
    let up = upstream().await;
    let toml = format!(
        "{}{}",
        model("small", &up, ""),
        component("triage", &["small"], "")
    );
    let g = start_factory(&toml, Arc::new(TextOnlyFactory)).await;
    let weather = json!({"type": "function", "function": {"name": "get_weather"}});
    let user = json!({"role": "user", "content": "Weather?"});
    let (status, body) = post(
        &g.gateway_router,
        "/v1/chat/completions",
        &json!({"model": "small", "messages": [user], "tools": [weather]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("Model 'small' does not support tool calling"),
        "{body}"
    );
    assert_eq!(body["error"]["param"], "tools", "{body}");

    // A tool turn alone needs tools too, and an image needs images: Anthropic-shaped here.
    let (status, body) = post(
        &g.gateway_router,
        "/v1/messages",
        &json!({"model": "small", "max_tokens": 8, "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            {"type": "text", "text": "What is this?"}]}]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["type"], "error", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("Model 'small' does not support images"),
        "{body}"
    );
    assert_eq!(up.request_count(), 0, "nothing reached the upstream");

    let (status, body) = post(
        &g.gateway_router,
        "/v1/chat/completions",
        &json!({"model": "small", "messages": [user]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(up.request_count(), 1);
}

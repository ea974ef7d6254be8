//! The OpenAI-compatible provider against a real third-party server: llama.cpp's own
//! `llama-server` (built by `scripts/test-tools`) serving SmolLM2-135M, the smallest test model.

use futures::StreamExt;
use rightfit_config::project::ModelConfig;
use rightfit_providers::{HostedProvider, Provider, ProviderError};
use rightfit_testkit::llama_server::LlamaServer;
use rightfit_types::{ChatRequest, FinishReason, Message, ResponseFormat, StreamEvent};

fn question() -> ChatRequest {
    ChatRequest::chat(vec![
        Message::system("You are a helpful assistant."),
        Message::user("What is the capital of France?"),
    ])
    .with_max_tokens(24)
}

#[tokio::test]
async fn smollm2_on_llama_server_through_the_openai_compatible_provider() {
    let server = tokio::task::spawn_blocking(LlamaServer::from_env)
        .await
        .expect("server task");
    let model = ModelConfig::from_spec("openai-compatible:smollm2", Some(&server.base_url()), None)
        .expect("spec")
        .expect("hosted");
    let provider = HostedProvider::from_config(&model).expect("provider");

    let health = provider.health().await.expect("health");
    assert!(health.ready, "{}", health.detail);

    // Whole answers, read as a stream (the default) and as one body, agree: greedy decoding.
    let streamed = provider
        .complete(question())
        .await
        .expect("streamed answer");
    assert!(!streamed.text().trim().is_empty());
    assert!(streamed.usage.prompt_tokens > 10, "{:?}", streamed.usage);
    assert!(streamed.usage.completion_tokens > 0, "{:?}", streamed.usage);
    assert!(streamed.timings.ttft_ms > 0.0);
    let mut whole_model = model.clone();
    whole_model.stream = false;
    let whole = HostedProvider::from_config(&whole_model)
        .expect("provider")
        .complete(question())
        .await
        .expect("whole answer");
    assert_eq!(whole.text(), streamed.text());
    assert!(whole.text().contains("Paris"), "{}", whole.text());

    // The token limit is reported as such.
    let short = provider
        .complete(question().with_max_tokens(2))
        .await
        .expect("short answer");
    assert_eq!(short.choices[0].finish_reason, FinishReason::Length);
    assert_eq!(short.usage.completion_tokens, 2);

    // Streamed piece by piece.
    let mut stream = provider.stream(question()).await.expect("stream");
    let (mut deltas, mut text, mut done) = (0, String::new(), false);
    while let Some(event) = stream.next().await {
        match event.expect("event") {
            StreamEvent::Delta { text: t, .. } => {
                deltas += 1;
                text.push_str(&t);
            }
            StreamEvent::Done { .. } => done = true,
            _ => {}
        }
    }
    assert!(done && deltas > 1, "{deltas} deltas");
    assert_eq!(text, streamed.text());

    // JSON Schema constrained output is honoured by the server's grammar sampler.
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"capital": {"type": "string"}},
        "required": ["capital"]
    });
    let constrained =
        provider
            .complete(question().with_max_tokens(48).with_response_format(
                ResponseFormat::JsonSchema {
                    name: "answer".into(),
                    schema,
                    strict: true,
                },
            ))
            .await
            .expect("constrained answer");
    let value: serde_json::Value =
        serde_json::from_str(constrained.text()).expect("the server kept to the schema");
    assert!(value["capital"].is_string(), "{value}");

    // A wrong path is a clear 404, not retried.
    let lost = ModelConfig::from_spec(
        "openai-compatible:smollm2",
        Some(&server.base_url().replace("/v1", "/nowhere/v1")),
        None,
    )
    .expect("spec")
    .expect("hosted");
    let e = HostedProvider::from_config(&lost)
        .expect("provider")
        .complete(question())
        .await
        .expect_err("404");
    assert!(matches!(e, ProviderError::NotFound { .. }), "{e:?}");
}

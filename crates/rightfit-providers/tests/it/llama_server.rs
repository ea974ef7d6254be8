//! The OpenAI-compatible provider against a real third-party server: llama.cpp's own
//! `llama-server` (built by `scripts/test-tools`) serving SmolLM2-135M, the smallest test model.

use futures::StreamExt;
use rightfit_config::project::ModelConfig;
use rightfit_providers::{HostedProvider, Provider, ProviderError};
use rightfit_testkit::llama_server::LlamaServer;
use rightfit_types::{
    ChatRequest, EmbeddingRequest, FinishReason, Message, ResponseFormat, StreamEvent,
};

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

#[tokio::test]
async fn smollm2_embeddings_on_llama_server_through_the_openai_compatible_provider() {
    let env = |var: &str| {
        std::env::var_os(var)
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| panic!("{var} is not set: run the tests with scripts/test"))
    };
    let (binary, gguf) = (
        env(rightfit_config::env::TEST_LLAMA_SERVER),
        env(rightfit_config::env::TEST_MODEL),
    );
    // Mean pooling: SmolLM2 is a chat model and names no pooling of its own.
    let server = tokio::task::spawn_blocking(move || {
        LlamaServer::start(&binary, &gguf, &["--embeddings", "--pooling", "mean"])
            .unwrap_or_else(|e| panic!("{e}"))
    })
    .await
    .expect("server task");
    let model = ModelConfig::from_spec("openai-compatible:smollm2", Some(&server.base_url()), None)
        .expect("spec")
        .expect("hosted");
    let provider = HostedProvider::from_config(&model).expect("provider");
    let texts = [
        "The cat sat on the mat.",
        "Quarterly revenue rose four percent.",
        "The cat sat on the mat.",
    ];
    let request = |normalize| EmbeddingRequest {
        model: String::new(),
        inputs: texts.iter().map(|t| (*t).to_owned()).collect(),
        normalize,
    };
    let r = provider
        .embed(request(true))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log_tail()));
    assert_eq!(r.embeddings.len(), 3);
    let dims = r.embeddings[0].len();
    assert!(dims >= 64, "{dims} dimensions");
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    for v in &r.embeddings {
        assert_eq!(v.len(), dims);
        assert!((dot(v, v) - 1.0).abs() < 1e-4, "unit length");
    }
    // Order kept: the equal texts are the first and the last.
    assert!(dot(&r.embeddings[0], &r.embeddings[2]) > 0.999);
    assert!(dot(&r.embeddings[0], &r.embeddings[1]) < 0.99);
    assert!(r.prompt_tokens > 10, "{}", r.prompt_tokens);
    // Without normalisation the server's own vectors come back as sent.
    let raw = provider.embed(request(false)).await.expect("raw vectors");
    assert_eq!(raw.embeddings.len(), 3);
}

//! Embeddings, run against every provider whose protocol has them (see `suite!` at the bottom):
//! order, normalisation, request shapes, batching, and the same retry rules as chat. The test
//! servers' vectors are a known function of the text (`rightfit_testkit::embedding`), not unit
//! length, so both order and scaling can be checked exactly.

use rightfit_providers::{Provider, ProviderError, unit_length};
use rightfit_testkit::{Protocol, Reply, Step, embedding};
use rightfit_types::EmbeddingRequest;

use crate::{ANTHROPIC, KEY, Target, provider, setup};

fn request(texts: &[&str], normalize: bool) -> EmbeddingRequest {
    EmbeddingRequest {
        model: String::new(),
        inputs: texts.iter().map(|t| (*t).to_owned()).collect(),
        normalize,
    }
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

pub async fn vectors_come_in_input_order(t: Target) {
    let s = setup(t).await;
    assert!(s.provider.capabilities().embeddings);
    let texts = ["second text", "first", "second text", "third one here"];
    let r = s
        .provider
        .embed(request(&texts, false))
        .await
        .expect("vectors");
    let expected: Vec<Vec<f32>> = texts.iter().map(|t| embedding(t, 8)).collect();
    assert_eq!(r.embeddings, expected);
    assert_eq!(
        r.embeddings[0], r.embeddings[2],
        "equal texts, equal vectors"
    );
    assert_eq!(r.model, "test-model");
    // The test servers count words; Gemini's batch answer and quirky servers report none.
    let reported = t.protocol == Protocol::OpenAi && !t.quirks.no_usage;
    assert_eq!(r.prompt_tokens, if reported { 8 } else { 0 });

    let sent = &s.server.requests()[0];
    assert_eq!(sent.method, "POST");
    match t.protocol {
        Protocol::OpenAi => {
            assert_eq!(sent.path, "/v1/embeddings");
            let auth = format!("Bearer {KEY}");
            assert_eq!(sent.header("authorization"), Some(auth.as_str()));
            assert_eq!(sent.body["model"], "test-model");
            assert_eq!(sent.body["input"], serde_json::json!(texts));
            assert_eq!(sent.body["encoding_format"], "float");
        }
        Protocol::Gemini => {
            assert_eq!(sent.path, "/v1beta/models/test-model:batchEmbedContents");
            assert_eq!(sent.header("x-goog-api-key"), Some(KEY));
            let requests = sent.body["requests"].as_array().expect("requests");
            assert_eq!(requests.len(), 4);
            assert_eq!(requests[1]["model"], "models/test-model");
            assert_eq!(requests[1]["content"]["parts"][0]["text"], "first");
        }
        Protocol::Anthropic => unreachable!("Anthropic has no embeddings"),
    }
}

pub async fn normalized_vectors_have_unit_length(t: Target) {
    let s = setup(t).await;
    let texts = ["alpha", "beta gamma"];
    let r = s
        .provider
        .embed(request(&texts, true))
        .await
        .expect("vectors");
    for (v, text) in r.embeddings.iter().zip(texts) {
        let raw = embedding(text, 8);
        assert!(
            (norm(&raw) - 1.0).abs() > 1e-3,
            "the server's are not unit length"
        );
        assert!((norm(v) - 1.0).abs() < 1e-5, "{v:?}");
        let mut scaled = raw.clone();
        unit_length(&mut scaled);
        assert_eq!(*v, scaled, "same direction as the server's vector");
    }
}

pub async fn server_errors_and_rate_limits_are_retried(t: Target) {
    let s = setup(t).await;
    s.server.push([
        Step::Status(500),
        Step::RateLimited {
            retry_after_s: Some(1),
        },
        Step::Drop,
        Step::Truncate {
            reply: Reply::text("unused"),
            after_chunks: 1,
        },
    ]);
    let r = provider(&s, |m| m.max_retries = 4)
        .embed(request(&["x"], false))
        .await
        .expect("answer after retries");
    assert_eq!(r.embeddings, [embedding("x", 8)]);
    assert_eq!(s.server.request_count(), 5);
    assert_eq!(s.server.too_soon(), 0, "Retry-After was not honoured");
}

pub async fn client_errors_are_not_retried(t: Target) {
    for status in [400u16, 401, 404] {
        let s = setup(t).await;
        s.server
            .push([Step::Status(status), Step::Reply(Reply::text("unused"))]);
        let e = s
            .provider
            .embed(request(&["x"], true))
            .await
            .expect_err("error");
        let text = e.to_string();
        assert!(!e.is_transient(), "{status}: {text}");
        assert_eq!(s.server.request_count(), 1, "{status} was retried: {text}");
        assert!(
            text.contains("test-model") && text.contains(t.kind),
            "{text}"
        );
        assert!(!text.contains(KEY), "{text}");
        let expected = match status {
            400 => matches!(e, ProviderError::InvalidRequest { .. }),
            401 => matches!(e, ProviderError::Auth { .. }),
            _ => matches!(e, ProviderError::NotFound { .. }),
        };
        assert!(expected, "{status} became {e:?}");
    }
}

pub async fn malformed_answers_are_errors(t: Target) {
    let s = setup(t).await;
    s.server.push([Step::MalformedJson]);
    let e = s
        .provider
        .embed(request(&["x"], true))
        .await
        .expect_err("malformed");
    assert!(matches!(e, ProviderError::Protocol { .. }), "{e:?}");
    assert_eq!(s.server.request_count(), 1, "not retried");
}

pub async fn long_lists_are_sent_in_batches(t: Target) {
    let s = setup(t).await;
    // Above Gemini's 100 per batch and OpenAI's 2,048 per request.
    let texts: Vec<String> = (0..2100).map(|i| format!("text {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let r = s
        .provider
        .embed(request(&refs, false))
        .await
        .expect("vectors");
    assert_eq!(r.embeddings.len(), 2100);
    for i in [0, 99, 100, 2047, 2048, 2099] {
        assert_eq!(r.embeddings[i], embedding(&texts[i], 8), "vector {i}");
    }
    let batches = match t.protocol {
        Protocol::Gemini => 21,
        _ => 2,
    };
    assert_eq!(s.server.request_count(), batches);
    let empty = s.provider.embed(request(&[], true)).await.expect("nothing");
    assert!(empty.embeddings.is_empty());
    assert_eq!(s.server.request_count(), batches, "nothing to send");
}

macro_rules! suite {
    ($($module:ident => $target:expr),* $(,)?) => {$(
        mod $module {
            suite!(@tests $target;
                vectors_come_in_input_order, normalized_vectors_have_unit_length,
                server_errors_and_rate_limits_are_retried, client_errors_are_not_retried,
                malformed_answers_are_errors, long_lists_are_sent_in_batches);
        }
    )*};
    (@tests $target:expr; $($test:ident),*) => {$(
        #[tokio::test]
        async fn $test() {
            super::$test($target).await;
        }
    )*};
}

suite! {
    openai => crate::OPENAI,
    gemini => crate::GEMINI,
    openai_compatible => crate::COMPATIBLE,
}

#[tokio::test]
async fn anthropic_refuses_without_sending_a_request() {
    let s = setup(ANTHROPIC).await;
    assert!(!s.provider.capabilities().embeddings);
    let e = s
        .provider
        .embed(request(&["x"], true))
        .await
        .expect_err("no embeddings API");
    assert!(matches!(e, ProviderError::Unsupported { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("Anthropic has no embeddings API"), "{text}");
    assert!(
        text.contains("openai-compatible"),
        "says what to use: {text}"
    );
    assert!(text.contains("test-model"), "names the model: {text}");
    assert_eq!(s.server.request_count(), 0);
}

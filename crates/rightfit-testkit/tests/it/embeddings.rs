//! Embeddings over raw HTTP: OpenAI's `/v1/embeddings`, Gemini's `:batchEmbedContents` and
//! `:embedContent` — shapes, deterministic vectors, request checks, and script steps.

use rightfit_testkit::{Protocol, Quirks, ServerConfig, Step, TestServer, embedding};
use serde_json::{Value, json};

use crate::{http, post, server};

fn openai_key() -> Vec<(&'static str, String)> {
    vec![("authorization", "Bearer test-key".to_owned())]
}

fn gemini_key() -> Vec<(&'static str, String)> {
    vec![("x-goog-api-key", "test-key".to_owned())]
}

const BATCH: &str = "/v1beta/models/gemini-test:batchEmbedContents";

fn gemini_batch(texts: &[&str]) -> Value {
    let requests: Vec<Value> = texts
        .iter()
        .map(|t| json!({"model": "models/gemini-test", "content": {"parts": [{"text": t}]}}))
        .collect();
    json!({ "requests": requests })
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// Decodes standard base64 of little-endian `f32`s, independently of the server's encoder.
fn from_base64(text: &str) -> Vec<f32> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let mut bytes = Vec::new();
    for quad in text.as_bytes().chunks(4) {
        let data: Vec<u8> = quad.iter().copied().filter(|c| *c != b'=').collect();
        let n = data
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, c)| n | value(*c) << (18 - 6 * i));
        for k in 0..data.len() - 1 {
            bytes.push((n >> (16 - 8 * k)) as u8);
        }
    }
    bytes
        .chunks(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[tokio::test]
async fn openai_embeddings_have_openais_shape() {
    let server = server(Protocol::OpenAi).await;
    let body = json!({"model": "gpt-test", "input": ["alpha beta", "gamma", "alpha beta"], "encoding_format": "float"});
    let response = post(&server, "/v1/embeddings", &openai_key(), &body).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let v: Value = response.json().await.unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "gpt-test");
    assert_eq!(v["usage"], json!({"prompt_tokens": 5, "total_tokens": 5}));
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    for (i, item) in data.iter().enumerate() {
        assert_eq!(item["object"], "embedding");
        assert_eq!(item["index"], i);
        assert_eq!(item["embedding"].as_array().unwrap().len(), 8);
    }
    let vectors: Vec<Vec<f32>> = data.iter().map(|d| floats(&d["embedding"])).collect();
    assert_eq!(vectors[0], embedding("alpha beta", 8));
    assert_eq!(vectors[1], embedding("gamma", 8));
    assert_eq!(vectors[0], vectors[2], "equal texts, equal vectors");
    assert_ne!(vectors[0], vectors[1]);
    let norm: f32 = vectors[1].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() > 1e-3, "not unit length: clients scale");
}

#[tokio::test]
async fn openai_embeddings_in_base64_and_other_dimensions() {
    let server = server(Protocol::OpenAi).await;
    // What the official SDKs send by default: base64; one string input; fewer dimensions.
    let body = json!({"model": "gpt-test", "input": "one text", "encoding_format": "base64", "dimensions": 3});
    let v: Value = post(&server, "/v1/embeddings", &openai_key(), &body)
        .await
        .json()
        .await
        .unwrap();
    let encoded = v["data"][0]["embedding"].as_str().unwrap();
    assert_eq!(from_base64(encoded), embedding("one text", 3));

    let mut config = ServerConfig::new(Protocol::OpenAi);
    config.embedding_dimensions = 32;
    config.quirks = Quirks {
        no_usage: true,
        ..Quirks::default()
    };
    let wide = TestServer::start(config).await.unwrap();
    let body = json!({"model": "any", "input": ["x"]});
    let v: Value = post(&wide, "/v1/embeddings", &openai_key(), &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(floats(&v["data"][0]["embedding"]), embedding("x", 32));
    assert!(v.get("usage").is_none(), "no_usage quirk");
}

#[tokio::test]
async fn openai_embeddings_requests_are_checked() {
    let server = server(Protocol::OpenAi).await;
    let cases = [
        (
            json!({"model": "gpt-test"}),
            400,
            "'input' is a required property",
        ),
        (
            json!({"model": "gpt-test", "input": []}),
            400,
            "'$.input' is invalid",
        ),
        (
            json!({"model": "gpt-test", "input": [""]}),
            400,
            "'$.input' is invalid",
        ),
        (
            json!({"model": "gpt-test", "input": [1.5]}),
            400,
            "'$.input' is invalid",
        ),
        (
            json!({"model": "gpt-test", "input": "x", "encoding_format": "int8"}),
            400,
            "encoding_format",
        ),
        (
            json!({"model": "gpt-test", "input": "x", "dimensions": 0}),
            400,
            "dimensions",
        ),
        (json!({"input": "x"}), 400, "model parameter"),
        (
            json!({"model": "nope", "input": "x"}),
            404,
            "does not exist",
        ),
    ];
    for (body, status, message) in cases {
        let response = post(&server, "/v1/embeddings", &openai_key(), &body).await;
        assert_eq!(response.status(), status, "{body}");
        let v: Value = response.json().await.unwrap();
        let text = v["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "{body}: {text}");
    }
    let response = post(
        &server,
        "/v1/embeddings",
        &[],
        &json!({"model": "gpt-test", "input": "x"}),
    )
    .await;
    assert_eq!(response.status(), 401);
    // Token arrays are inputs too.
    let body = json!({"model": "gpt-test", "input": [[1, 2, 3], "x"]});
    let v: Value = post(&server, "/v1/embeddings", &openai_key(), &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["usage"]["prompt_tokens"], 4);
    assert_eq!(server.steps_left(), 0);
    assert_eq!(server.requests().len(), 10);
}

#[tokio::test]
async fn gemini_batch_embeddings_have_geminis_shape() {
    let server = server(Protocol::Gemini).await;
    let response = post(
        &server,
        BATCH,
        &gemini_key(),
        &gemini_batch(&["b", "a", "b"]),
    )
    .await;
    assert_eq!(response.status(), 200);
    let v: Value = response.json().await.unwrap();
    let items = v["embeddings"].as_array().unwrap();
    let vectors: Vec<Vec<f32>> = items.iter().map(|e| floats(&e["values"])).collect();
    assert_eq!(
        vectors,
        [embedding("b", 8), embedding("a", 8), embedding("b", 8)]
    );

    let single = json!({"content": {"parts": [{"text": "a"}]}, "outputDimensionality": 4});
    let path = "/v1beta/models/gemini-test:embedContent";
    let v: Value = post(&server, path, &gemini_key(), &single)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(floats(&v["embedding"]["values"]), embedding("a", 4));
}

#[tokio::test]
async fn gemini_embeddings_requests_are_checked() {
    let server = server(Protocol::Gemini).await;
    let mut wrong_model = gemini_batch(&["a"]);
    wrong_model["requests"][0]["model"] = json!("models/other");
    let too_many = gemini_batch(&["a"; 101]);
    let cases = [
        (BATCH, json!({}), 400, "requests is not specified"),
        (BATCH, json!({"requests": []}), 400, "at most 100"),
        (BATCH, too_many, 400, "at most 100"),
        (BATCH, wrong_model, 400, "must be the model of the URL"),
        (
            BATCH,
            json!({"requests": [{"model": "models/gemini-test"}]}),
            400,
            "content is not specified",
        ),
        (
            "/v1beta/models/nope:batchEmbedContents",
            json!({"requests": [{"model": "models/nope", "content": {"parts": [{"text": "a"}]}}]}),
            404,
            "not supported for batchEmbedContents",
        ),
    ];
    for (path, body, status, message) in cases {
        let response = post(&server, path, &gemini_key(), &body).await;
        assert_eq!(response.status(), status, "{body}");
        let v: Value = response.json().await.unwrap();
        let text = v["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "{body}: {text}");
    }
    let response = post(&server, BATCH, &[], &gemini_batch(&["a"])).await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn script_steps_apply_to_embeddings() {
    for protocol in [Protocol::OpenAi, Protocol::Gemini] {
        let server = server(protocol).await;
        server.push([
            Step::Status(500),
            Step::RateLimited {
                retry_after_s: Some(3),
            },
            Step::MalformedJson,
            Step::Drop,
            Step::Truncate {
                reply: rightfit_testkit::Reply::text("unused"),
                after_chunks: 1,
            },
        ]);
        let (path, headers, body) = match protocol {
            Protocol::OpenAi => (
                "/v1/embeddings",
                openai_key(),
                json!({"model": "gpt-test", "input": ["a"]}),
            ),
            _ => (BATCH, gemini_key(), gemini_batch(&["a"])),
        };
        let r = post(&server, path, &headers, &body).await;
        assert_eq!(r.status(), 500, "{protocol:?}");
        let error: Value = r.json().await.unwrap();
        assert!(error["error"]["message"].is_string(), "{error}");
        let r = post(&server, path, &headers, &body).await;
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "3");
        let r = post(&server, path, &headers, &body).await;
        assert_eq!(r.status(), 200);
        assert!(serde_json::from_str::<Value>(&r.text().await.unwrap()).is_err());
        let url = format!("{}{path}", server.base_url());
        let mut dropped = http().post(&url).json(&body);
        for (name, value) in &headers {
            dropped = dropped.header(*name, value);
        }
        assert!(dropped.send().await.is_err(), "{protocol:?}: dropped");
        let r = post(&server, path, &headers, &body).await;
        assert_eq!(r.status(), 200);
        assert!(r.bytes().await.is_err(), "{protocol:?}: cut body");
        assert_eq!(server.steps_left(), 0);
        // Then the default answer.
        let r = post(&server, path, &headers, &body).await;
        assert_eq!(r.status(), 200);
    }
}

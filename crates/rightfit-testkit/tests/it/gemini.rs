//! Gemini generateContent over raw HTTP.

use rightfit_testkit::{Finish, Protocol, Reply, Step};
use serde_json::{Value, json};

use crate::{post, send, server};

const P: Protocol = Protocol::Gemini;

fn key() -> Vec<(&'static str, String)> {
    vec![("x-goog-api-key", "test-key".to_owned())]
}

fn body() -> Value {
    json!({
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {"candidateCount": 2}
    })
}

#[tokio::test]
async fn non_streamed_response_has_geminis_shape() {
    let server = server(P).await;
    server.push([Step::Reply(
        Reply::text("Hi there")
            .with_tokens(7, 2)
            .with_finish(Finish::Length),
    )]);
    let response = post(
        &server,
        "/v1beta/models/gemini-test:generateContent",
        &key(),
        &body(),
    )
    .await;
    assert_eq!(response.status(), 200);
    let v: Value = response.json().await.unwrap();
    let candidates = v["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 2);
    for (i, candidate) in candidates.iter().enumerate() {
        assert_eq!(
            candidate["content"],
            json!({"parts": [{"text": "Hi there"}], "role": "model"})
        );
        assert_eq!(candidate["finishReason"], "MAX_TOKENS");
        assert_eq!(candidate["index"], i);
    }
    assert_eq!(v["usageMetadata"]["promptTokenCount"], 7);
    assert_eq!(v["usageMetadata"]["candidatesTokenCount"], 4);
    assert_eq!(v["usageMetadata"]["totalTokenCount"], 11);
    assert_eq!(v["modelVersion"], "gemini-test");
    assert!(v["responseId"].is_string());
}

#[tokio::test]
async fn stream_uses_crlf_separators_and_no_end_marker() {
    let server = server(P).await;
    server.push([Step::Reply(Reply::text("one two three").with_tokens(5, 3))]);
    let mut request = body();
    request["generationConfig"] = json!({});
    let response = post(
        &server,
        "/v1beta/models/gemini-test:streamGenerateContent?alt=sse",
        &key(),
        &request,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = response.text().await.unwrap();
    let blocks: Vec<&str> = text.split("\r\n\r\n").collect();
    assert_eq!(blocks.len(), 4, "{text:?}");
    assert_eq!(blocks[3], "");
    let chunks: Vec<Value> = blocks[..3]
        .iter()
        .map(|b| serde_json::from_str(b.strip_prefix("data: ").unwrap()).unwrap())
        .collect();
    let pieces: Vec<&str> = chunks
        .iter()
        .map(|c| {
            c["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(pieces, ["one ", "two ", "three"]);
    assert!(
        chunks[..2]
            .iter()
            .all(|c| c["candidates"][0].get("finishReason").is_none())
    );
    assert_eq!(chunks[2]["candidates"][0]["finishReason"], "STOP");
    assert_eq!(chunks[2]["usageMetadata"]["candidatesTokenCount"], 3);
    assert_eq!(chunks[2]["usageMetadata"]["totalTokenCount"], 8);
}

#[tokio::test]
async fn stream_without_alt_sse_is_a_json_array() {
    let server = server(P).await;
    let mut request = body();
    request["generationConfig"] = json!({});
    let response = post(
        &server,
        "/v1/models/gemini-test:streamGenerateContent",
        &key(),
        &request,
    )
    .await;
    assert_eq!(response.status(), 200);
    let v: Value = response.json().await.unwrap();
    let chunks = v.as_array().unwrap();
    let text: String = chunks
        .iter()
        .map(|c| {
            c["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(text, "Hello from the test server.");
    assert_eq!(
        chunks.last().unwrap()["candidates"][0]["finishReason"],
        "STOP"
    );
}

#[tokio::test]
async fn keys_and_models_are_checked_like_gemini_does() {
    let server = server(P).await;
    // The key may come as `?key=`.
    let response = post(
        &server,
        "/v1beta/models/gemini-test:generateContent?key=test-key",
        &[],
        &body(),
    )
    .await;
    assert_eq!(response.status(), 200);
    let cases = [
        (
            "/v1beta/models/gemini-test:generateContent?key=wrong",
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
        ),
        (
            "/v1beta/models/gemini-test:generateContent",
            403,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers",
        ),
    ];
    for (path, status, name, message) in cases {
        let response = post(&server, path, &[], &body()).await;
        assert_eq!(response.status(), status);
        let v: Value = response.json().await.unwrap();
        assert_eq!(v["error"]["code"], status);
        assert_eq!(v["error"]["status"], name);
        assert!(
            v["error"]["message"].as_str().unwrap().starts_with(message),
            "{v}"
        );
    }
    let response = post(
        &server,
        "/v1beta/models/gemini-nope:generateContent",
        &key(),
        &body(),
    )
    .await;
    assert_eq!(response.status(), 404);
    let v: Value = response.json().await.unwrap();
    assert_eq!(v["error"]["status"], "NOT_FOUND");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("models/gemini-nope is not found for API version v1beta")
    );

    let response = post(
        &server,
        "/v1beta/models/gemini-test:generateContent",
        &key(),
        &json!({}),
    )
    .await;
    assert_eq!(response.status(), 400);

    server.push([
        Step::RateLimited {
            retry_after_s: Some(9),
        },
        Step::Status(500),
        Step::Status(503),
    ]);
    for (status, name) in [
        (429, "RESOURCE_EXHAUSTED"),
        (500, "INTERNAL"),
        (503, "UNAVAILABLE"),
    ] {
        let response = send(&server, P, false).await;
        assert_eq!(response.status(), status);
        let v: Value = response.json().await.unwrap();
        assert_eq!(v["error"]["status"], name);
    }
}

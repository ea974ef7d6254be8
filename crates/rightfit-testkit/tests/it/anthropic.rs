//! Anthropic Messages over raw HTTP.

use rightfit_testkit::{Finish, Protocol, Reply, Step};
use serde_json::{Value, json};

use crate::{events, post, send, server};

const P: Protocol = Protocol::Anthropic;

fn headers() -> Vec<(&'static str, String)> {
    vec![
        ("x-api-key", "test-key".to_owned()),
        ("anthropic-version", "2023-06-01".to_owned()),
    ]
}

fn body(stream: bool) -> Value {
    json!({
        "model": "claude-test", "max_tokens": 50, "system": "Be brief.",
        "messages": [{"role": "user", "content": "hi"}], "stream": stream
    })
}

#[tokio::test]
async fn non_streamed_message_has_anthropics_shape() {
    let server = server(P).await;
    server.push([Step::Reply(
        Reply::text("Hi there")
            .with_tokens(9, 2)
            .with_finish(Finish::Length),
    )]);
    let response = post(&server, "/v1/messages", &headers(), &body(false)).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("request-id"));
    let v: Value = response.json().await.unwrap();
    assert!(v["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "claude-test");
    assert_eq!(v["content"], json!([{"type": "text", "text": "Hi there"}]));
    assert_eq!(v["stop_reason"], "max_tokens");
    assert_eq!(v["stop_sequence"], Value::Null);
    assert_eq!(v["usage"]["input_tokens"], 9);
    assert_eq!(v["usage"]["output_tokens"], 2);
    // The request, system prompt included, was recorded as sent.
    assert_eq!(server.requests()[0].body["system"], "Be brief.");
}

#[tokio::test]
async fn stream_events_are_named_like_their_type() {
    let server = server(P).await;
    server.push([Step::Reply(Reply::text("a b c").with_tokens(4, 3))]);
    let response = post(&server, "/v1/messages", &headers(), &body(true)).await;
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = response.text().await.unwrap();
    let events = events(&text);
    let names: Vec<&str> = events.iter().map(|e| e.name.as_deref().unwrap()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    for event in &events {
        assert_eq!(event.json()["type"], event.name.as_deref().unwrap());
    }
    let start = events[0].json();
    assert_eq!(start["message"]["content"], json!([]));
    assert_eq!(start["message"]["usage"]["input_tokens"], 4);
    assert_eq!(start["message"]["usage"]["output_tokens"], 1);
    assert_eq!(
        events[1].json()["content_block"],
        json!({"type": "text", "text": ""})
    );
    let text: String = events[3..6]
        .iter()
        .map(|e| {
            let delta = e.json()["delta"].clone();
            assert_eq!(delta["type"], "text_delta");
            delta["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(text, "a b c");
    assert_eq!(
        events[7].json(),
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 3}})
    );
}

#[tokio::test]
async fn forced_tool_is_answered_with_tool_use() {
    let server = server(P).await;
    let input = r#"{"city": "Paris", "days": 2}"#;
    server.push([
        Step::Reply(Reply::text(input).with_chunks(4)),
        Step::Reply(Reply::text(input).with_chunks(4)),
    ]);
    let mut request = body(false);
    request["tools"] = json!([{"name": "get_weather", "input_schema": {"type": "object"}}]);
    request["tool_choice"] = json!({"type": "tool", "name": "get_weather"});
    let v: Value = post(&server, "/v1/messages", &headers(), &request)
        .await
        .json()
        .await
        .unwrap();
    let block = &v["content"][0];
    assert_eq!(block["type"], "tool_use");
    assert!(block["id"].as_str().unwrap().starts_with("toolu_"));
    assert_eq!(block["name"], "get_weather");
    assert_eq!(block["input"], json!({"city": "Paris", "days": 2}));
    assert_eq!(v["stop_reason"], "tool_use");

    request["stream"] = json!(true);
    let text = post(&server, "/v1/messages", &headers(), &request)
        .await
        .text()
        .await
        .unwrap();
    let events = events(&text);
    assert_eq!(events[1].json()["content_block"]["type"], "tool_use");
    let json_text: String = events
        .iter()
        .filter(|e| e.name.as_deref() == Some("content_block_delta"))
        .map(|e| {
            let delta = e.json()["delta"].clone();
            assert_eq!(delta["type"], "input_json_delta");
            delta["partial_json"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(json_text, input);
    let delta = events
        .iter()
        .find(|e| e.name.as_deref() == Some("message_delta"))
        .unwrap();
    assert_eq!(delta.json()["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn refusals_have_anthropics_error_shape() {
    let server = server(P).await;
    let no_version = vec![("x-api-key", "test-key".to_owned())];
    let wrong_key = vec![
        ("x-api-key", "nope".to_owned()),
        ("anthropic-version", "2023-06-01".to_owned()),
    ];
    let mut no_max = body(false);
    no_max.as_object_mut().unwrap().remove("max_tokens");
    let mut unknown = body(false);
    unknown["model"] = json!("claude-nope");
    let cases = [
        (
            no_version,
            body(false),
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
        ),
        (
            wrong_key,
            body(false),
            401,
            "authentication_error",
            "invalid x-api-key",
        ),
        (
            headers(),
            no_max,
            400,
            "invalid_request_error",
            "max_tokens: Field required",
        ),
        (
            headers(),
            unknown,
            404,
            "not_found_error",
            "model: claude-nope",
        ),
    ];
    for (headers, body, status, kind, message) in cases {
        let response = post(&server, "/v1/messages", &headers, &body).await;
        assert_eq!(response.status(), status);
        let v: Value = response.json().await.unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], kind);
        assert_eq!(v["error"]["message"], message);
    }
    // A bearer key is taken too (the 2.x Python SDK sends one).
    let bearer = vec![
        ("authorization", "Bearer test-key".to_owned()),
        ("anthropic-version", "2023-06-01".to_owned()),
    ];
    assert_eq!(
        post(&server, "/v1/messages", &bearer, &body(false))
            .await
            .status(),
        200
    );

    server.push([
        Step::Status(529),
        Step::Status(500),
        Step::RateLimited {
            retry_after_s: None,
        },
    ]);
    let expected = [
        (529, "overloaded_error"),
        (500, "api_error"),
        (429, "rate_limit_error"),
    ];
    for (status, kind) in expected {
        let response = send(&server, P, false).await;
        assert_eq!(response.status(), status);
        assert!(!response.headers().contains_key("retry-after"));
        let v: Value = response.json().await.unwrap();
        assert_eq!(v["error"]["type"], kind);
    }
}

#[tokio::test]
async fn mid_stream_error_is_an_error_event() {
    let server = server(P).await;
    server.push([Step::StreamError {
        reply: Reply::text("a b c"),
        after_chunks: 1,
    }]);
    let text = send(&server, P, true).await.text().await.unwrap();
    let events = events(&text);
    let last = events.last().unwrap();
    assert_eq!(last.name.as_deref(), Some("error"));
    assert_eq!(
        last.json(),
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    );
    let deltas = events
        .iter()
        .filter(|e| e.name.as_deref() == Some("content_block_delta"))
        .count();
    assert_eq!(deltas, 1);
    assert!(!text.contains("message_stop"));
}

//! OpenAI Chat Completions over raw HTTP.

use rightfit_testkit::{Finish, Protocol, Quirks, Reply, ServerConfig, Step, TestServer};
use serde_json::{Value, json};

use crate::{Event, dechunk, events, post, raw, send, server};

const P: Protocol = Protocol::OpenAi;

fn key() -> Vec<(&'static str, String)> {
    vec![("authorization", "Bearer test-key".to_owned())]
}

async fn quirky(quirks: Quirks) -> TestServer {
    let mut config = ServerConfig::new(P);
    config.quirks = quirks;
    TestServer::start(config).await.unwrap()
}

async fn stream_events(server: &TestServer, body: Value) -> (reqwest::header::HeaderMap, String) {
    let response = post(server, "/v1/chat/completions", &key(), &body).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    (headers, response.text().await.unwrap())
}

#[tokio::test]
async fn non_streamed_completion_has_openais_shape() {
    let server = server(P).await;
    let reply = Reply::text("Two words")
        .with_tokens(12, 2)
        .with_finish(Finish::Length);
    server.push([Step::Reply(reply)]);
    let body =
        json!({"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}], "n": 2});
    let response = post(&server, "/v1/chat/completions", &key(), &body).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert!(response.headers().contains_key("x-request-id"));
    let v: Value = response.json().await.unwrap();
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(v["object"], "chat.completion");
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(v["model"], "gpt-test");
    assert!(v["system_fingerprint"].is_string());
    let choices = v["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 2);
    for (i, choice) in choices.iter().enumerate() {
        assert_eq!(choice["index"], i);
        assert_eq!(choice["message"]["role"], "assistant");
        assert_eq!(choice["message"]["content"], "Two words");
        assert_eq!(choice["message"]["refusal"], Value::Null);
        assert_eq!(choice["logprobs"], Value::Null);
        assert_eq!(choice["finish_reason"], "length");
    }
    // Completion tokens are summed over the choices, as OpenAI does.
    assert_eq!(v["usage"]["prompt_tokens"], 12);
    assert_eq!(v["usage"]["completion_tokens"], 4);
    assert_eq!(v["usage"]["total_tokens"], 16);
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
}

#[tokio::test]
async fn stream_sends_role_pieces_finish_usage_and_done() {
    let server = server(P).await;
    server.push([Step::Reply(Reply::text("one two three"))]);
    let body = json!({
        "model": "gpt-test", "messages": [], "stream": true,
        "stream_options": {"include_usage": true}
    });
    let (headers, text) = stream_events(&server, body).await;
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert!(!text.contains('\r'));
    let events = events(&text);
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(Event::json).collect();
    // role chunk, 3 pieces, finish chunk, usage chunk
    assert_eq!(chunks.len(), 6, "{text}");
    let id = chunks[0]["id"].clone();
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["id"], id);
        assert_eq!(chunk["model"], "gpt-test");
        assert!(chunk.as_object().unwrap().contains_key("usage"));
    }
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "", "refusal": null})
    );
    let pieces: Vec<&str> = chunks[1..4]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(pieces, ["one ", "two ", "three"]);
    for chunk in &chunks[..4] {
        assert_eq!(chunk["choices"][0]["finish_reason"], Value::Null);
        assert_eq!(chunk["usage"], Value::Null);
    }
    assert_eq!(chunks[4]["choices"][0]["delta"], json!({}));
    assert_eq!(chunks[4]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[5]["choices"], json!([]));
    assert_eq!(chunks[5]["usage"]["completion_tokens"], 3);
    assert_eq!(chunks[5]["usage"]["total_tokens"], 13);
}

#[tokio::test]
async fn stream_without_include_usage_has_no_usage_field() {
    let server = server(P).await;
    let body = json!({"model": "gpt-test", "messages": [], "stream": true});
    let (_, text) = stream_events(&server, body).await;
    assert!(!text.contains("usage"), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn logprobs_are_reported_only_when_asked() {
    let server = server(P).await;
    let reply = Reply::text("")
        .with_logprobs([("Hel", -0.5), ("lo", -0.25), ("!", -1.0)])
        .with_chunks(2);
    server.push([
        Step::Reply(reply.clone()),
        Step::Reply(reply.clone()),
        Step::Reply(reply),
    ]);
    let asked = json!({"model": "gpt-test", "messages": [], "logprobs": true, "top_logprobs": 3});
    let v: Value = post(&server, "/v1/chat/completions", &key(), &asked)
        .await
        .json()
        .await
        .unwrap();
    let choice = &v["choices"][0];
    assert_eq!(choice["message"]["content"], "Hello!");
    let tokens = choice["logprobs"]["content"].as_array().unwrap();
    assert_eq!(tokens.len(), 3);
    assert_eq!(tokens[0]["token"], "Hel");
    assert_eq!(tokens[0]["logprob"], -0.5);
    assert_eq!(tokens[0]["bytes"], json!([72, 101, 108]));
    assert_eq!(tokens[0]["top_logprobs"].as_array().unwrap().len(), 3);
    assert_eq!(tokens[0]["top_logprobs"][0]["token"], "Hel");

    let not_asked = json!({"model": "gpt-test", "messages": []});
    let v: Value = post(&server, "/v1/chat/completions", &key(), &not_asked)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["logprobs"], Value::Null);

    let streamed = json!({"model": "gpt-test", "messages": [], "logprobs": true, "stream": true});
    let (_, text) = stream_events(&server, streamed).await;
    let events = events(&text);
    let mut seen = Vec::new();
    let mut pieces = Vec::new();
    for event in &events[..events.len() - 1] {
        let chunk = event.json();
        let choice = &chunk["choices"][0];
        if let Some(content) = choice["logprobs"]["content"].as_array() {
            seen.extend(content.iter().map(|t| {
                (
                    t["token"].as_str().unwrap().to_owned(),
                    t["logprob"].as_f64().unwrap(),
                )
            }));
            pieces.push(choice["delta"]["content"].as_str().unwrap().to_owned());
        }
    }
    // Two deltas (chunks = 2), each carrying the tokens it holds.
    assert_eq!(pieces, ["Hel", "lo!"]);
    assert_eq!(
        seen,
        [
            ("Hel".to_owned(), -0.5),
            ("lo".to_owned(), -0.25),
            ("!".to_owned(), -1.0)
        ]
    );
}

#[tokio::test]
async fn auth_errors_echo_a_masked_key_and_take_no_step() {
    let server = server(P).await;
    server.push([Step::Reply(Reply::text("scripted"))]);
    let body = json!({"model": "gpt-test", "messages": []});
    let wrong = vec![("authorization", "Bearer sk-abcdefgh12345678wxyz".to_owned())];
    let response = post(&server, "/v1/chat/completions", &wrong, &body).await;
    assert_eq!(response.status(), 401);
    let v: Value = response.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["code"], "invalid_api_key");
    assert_eq!(v["error"]["param"], Value::Null);
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Incorrect API key provided: sk-abcde***********wxyz."),
        "{message}"
    );

    let response = post(&server, "/v1/chat/completions", &[], &body).await;
    assert_eq!(response.status(), 401);
    let v: Value = response.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("You didn't provide an API key")
    );

    assert_eq!(server.steps_left(), 1);
    let v: Value = post(&server, "/v1/chat/completions", &key(), &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "scripted");
}

#[tokio::test]
async fn invalid_bodies_and_unknown_models_are_refused_in_shape() {
    let server = server(P).await;
    let cases = [
        (
            json!({"messages": []}),
            400,
            "you must provide a model parameter",
            Value::Null,
        ),
        (
            json!({"model": "gpt-test"}),
            400,
            "Missing required parameter: 'messages'.",
            json!("missing_required_parameter"),
        ),
        (
            json!({"model": "gpt-test", "messages": "hi"}),
            400,
            "Invalid type for 'messages'",
            json!("invalid_type"),
        ),
        (
            json!({"model": "gpt-x", "messages": []}),
            404,
            "The model `gpt-x` does not exist",
            json!("model_not_found"),
        ),
    ];
    for (body, status, message, code) in cases {
        let response = post(&server, "/v1/chat/completions", &key(), &body).await;
        assert_eq!(response.status(), status, "{body}");
        let v: Value = response.json().await.unwrap();
        assert!(
            v["error"]["message"].as_str().unwrap().starts_with(message),
            "{v}"
        );
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["code"], code);
        assert!(v["error"].as_object().unwrap().contains_key("param"));
    }
    let response = crate::http()
        .post(format!("{}/v1/chat/completions", server.base_url()))
        .header("authorization", "Bearer test-key")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let v: Value = response.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("could not parse the JSON body")
    );

    let response = post(&server, "/v1/completions/nope", &key(), &json!({})).await;
    assert_eq!(response.status(), 404);
    let v: Value = response.json().await.unwrap();
    assert_eq!(
        v["error"]["message"],
        "Invalid URL (POST /v1/completions/nope)"
    );
}

#[tokio::test]
async fn models_are_listed() {
    let server = server(P).await;
    let v: Value = crate::http()
        .get(format!("{}/v1/models", server.base_url()))
        .bearer_auth("test-key")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"][0]["id"], "gpt-test");
    assert_eq!(v["data"][0]["object"], "model");
}

#[tokio::test]
async fn scripted_errors_have_openais_types() {
    let server = server(P).await;
    server.push([
        Step::Status(500),
        Step::Status(404),
        Step::RateLimited {
            retry_after_s: Some(3),
        },
    ]);
    let response = send(&server, P, false).await;
    assert_eq!(response.status(), 500);
    let v: Value = response.json().await.unwrap();
    assert_eq!(v["error"]["type"], "server_error");
    let v: Value = send(&server, P, false).await.json().await.unwrap();
    assert_eq!(v["error"]["code"], "model_not_found");
    let response = send(&server, P, false).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "3");
    let v: Value = response.json().await.unwrap();
    assert_eq!(v["error"]["type"], "requests");
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
}

#[tokio::test]
async fn quirks_no_usage_no_ids_no_done() {
    let server = quirky(Quirks {
        no_usage: true,
        no_ids: true,
        no_done: true,
        ..Quirks::default()
    })
    .await;
    let body = json!({"model": "m", "messages": [], "stream": true, "stream_options": {"include_usage": true}});
    let (_, text) = stream_events(&server, body).await;
    assert!(!text.contains("usage"), "{text}");
    assert!(!text.contains("[DONE]"), "{text}");
    let events = events(&text);
    assert!(events.iter().all(|e| e.json().get("id").is_none()));
    assert_eq!(
        events.last().unwrap().json()["choices"][0]["finish_reason"],
        "stop"
    );
    let v: Value = send(&server, P, false).await.json().await.unwrap();
    assert!(v.get("id").is_none() && v.get("usage").is_none(), "{v}");
}

#[tokio::test]
async fn quirk_crlf_and_keep_alives() {
    let server = quirky(Quirks {
        crlf: true,
        keep_alives: true,
        ..Quirks::default()
    })
    .await;
    let body = json!({"model": "m", "messages": [], "stream": true});
    let (_, text) = stream_events(&server, body).await;
    assert!(
        text.starts_with(": ping\r\n\r\n: keep-alive\r\n\r\ndata: {"),
        "{text}"
    );
    assert!(
        text.ends_with(": keep-alive\r\n\r\ndata: [DONE]\r\n\r\n"),
        "{text}"
    );
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "a bare \\n in {text:?}"
    );
    let data_events = events(&text).len();
    assert_eq!(text.matches(": keep-alive").count(), data_events);
}

#[tokio::test]
async fn quirk_split_writes_sends_small_frames() {
    let server = quirky(Quirks {
        split_writes: true,
        ..Quirks::default()
    })
    .await;
    server.push([Step::Reply(Reply::text("alpha beta"))]);
    let raw = raw(&server, P, true).await;
    let (body, complete) = dechunk(&raw.body());
    assert!(complete);
    let events = events(&body);
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let text: String = events[..events.len() - 1]
        .iter()
        .filter_map(|e| {
            e.json()["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "alpha beta");
    // Every HTTP chunk holds at most 3 bytes of the stream.
    let raw_body = raw.body();
    let mut rest = raw_body.as_str();
    let mut chunks = 0;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size, 16).unwrap();
        if size == 0 {
            break;
        }
        assert!(size <= 3, "a {size}-byte chunk");
        chunks += 1;
        rest = &after[size + 2..];
    }
    assert!(chunks > body.len() / 3 - 1);
    // Separate frames are flushed separately: the client needs many reads, not one.
    assert!(raw.reads.len() > 10, "{} reads", raw.reads.len());
}

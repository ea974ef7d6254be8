//! Conformance: the official Python SDKs (`openai`, `anthropic`, `google-genai`) talk to the test
//! servers and must read exactly what was scripted. `RIGHTFIT_TEST_PYTHON` names a Python with
//! them installed (`scripts/test` makes one from `python/requirements.txt`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use rightfit_testkit::{
    Finish, Protocol, Quirks, Reply, ServerConfig, Step, TestServer, embedding,
};
use serde_json::{Value, json};

use crate::server;

fn python() -> String {
    std::env::var(rightfit_config::env::TEST_PYTHON).unwrap_or_else(|_| {
        panic!(
            "RIGHTFIT_TEST_PYTHON is not set: run scripts/test (it creates a venv with the openai and anthropic SDKs)"
        )
    })
}

/// Runs `python/<script> <base_url> <mode>` and returns its JSON lines by call name.
async fn run_sdk(script: &str, server: &TestServer, mode: &str) -> BTreeMap<String, Value> {
    let python = python();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(script);
    let base = server.base_url();
    let mode = mode.to_owned();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&python)
            // Keep the source tree free of __pycache__.
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .arg(&path)
            .arg(&base)
            .arg(&mode)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {python} {}: {e}", path.display()))
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{stderr}"
    );
    let mut calls = BTreeMap::new();
    for line in stdout.lines() {
        let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            value.get("unexpected").is_none(),
            "{script}: the SDK failed unexpectedly: {value}"
        );
        calls.insert(value["call"].as_str().unwrap().to_owned(), value);
    }
    calls
}

fn text_reply(text: &str, prompt: u32, completion: u32, finish: Finish) -> Reply {
    Reply::text(text)
        .with_tokens(prompt, completion)
        .with_finish(finish)
}

#[tokio::test]
async fn openai_sdk_reads_what_was_scripted() {
    let server = server(Protocol::OpenAi).await;
    let tokens = [("Hi", -0.1), (" there", -0.2), ("!", -0.3)];
    server.push([
        Step::Reply(text_reply("Hello, SDK world!", 11, 4, Finish::Length)),
        Step::Reply(text_reply("streamed reply here", 8, 3, Finish::Stop)),
        Step::Reply(text_reply("twin", 5, 1, Finish::Stop)),
        Step::Reply(Reply::text("").with_logprobs(tokens)),
        Step::Reply(Reply::text("").with_logprobs(tokens).with_chunks(2)),
        Step::RateLimited {
            retry_after_s: Some(2),
        },
        Step::Status(500),
        Step::StreamError {
            reply: Reply::text("part one two"),
            after_chunks: 1,
        },
        Step::Truncate {
            reply: Reply::text("cut here now"),
            after_chunks: 2,
        },
    ]);
    let calls = run_sdk("openai_sdk.py", &server, "full").await;
    assert_eq!(server.steps_left(), 0);

    let plain = &calls["plain"];
    assert_eq!(plain["object"], "chat.completion");
    assert_eq!(plain["texts"], json!(["Hello, SDK world!"]));
    assert_eq!(plain["finish"], json!(["length"]));
    assert_eq!(
        plain["usage"],
        json!({"prompt": 11, "completion": 4, "total": 15})
    );

    let stream = &calls["stream"];
    assert_eq!(stream["text"], "streamed reply here");
    assert_eq!(stream["chunks"], 3);
    assert_eq!(stream["finish"], "stop");
    assert_eq!(
        stream["usage"],
        json!({"prompt": 8, "completion": 3, "total": 11})
    );
    assert_eq!(stream["ids"].as_array().unwrap().len(), 1);

    assert_eq!(calls["n2"]["texts"], json!(["twin", "twin"]));
    assert_eq!(calls["n2"]["usage"]["completion"], 2);

    let expected_tokens = json!([["Hi", -0.1, 2], [" there", -0.2, 2], ["!", -0.3, 2]]);
    assert_eq!(calls["logprobs"]["texts"], json!(["Hi there!"]));
    assert_eq!(calls["logprobs"]["logprobs"], json!([expected_tokens]));
    assert_eq!(calls["logprobs_stream"]["text"], "Hi there!");
    assert_eq!(calls["logprobs_stream"]["chunks"], 2);
    assert_eq!(calls["logprobs_stream"]["tokens"], expected_tokens);

    let bad_key = &calls["bad_key"];
    assert_eq!(bad_key["error"], "AuthenticationError");
    assert_eq!(bad_key["status"], 401);
    assert!(
        bad_key["message"]
            .as_str()
            .unwrap()
            .contains("Incorrect API key provided: sk-wrong*"),
        "{bad_key}"
    );
    assert_eq!(calls["unknown_model"]["error"], "NotFoundError");
    assert_eq!(calls["rate_limited"]["error"], "RateLimitError");
    assert_eq!(calls["rate_limited"]["headers"]["retry-after"], "2");
    assert_eq!(calls["server_error"]["error"], "InternalServerError");
    assert_eq!(calls["stream_error"]["error"], "APIError");
    assert_eq!(calls["stream_error"]["partial"], "part ");
    assert_eq!(calls["truncated"]["error"], "APIConnectionError");
    assert_eq!(calls["truncated"]["partial"], "cut here ");
    assert_eq!(calls["models"]["ids"], json!(["gpt-test"]));

    // Embeddings, decoded by the SDK from base64 (its default) and from floats.
    let expected = [
        embedding("alpha beta", 8),
        embedding("gamma", 8),
        embedding("alpha beta", 8),
    ];
    for call in ["embeddings", "embeddings_float"] {
        let e = &calls[call];
        assert_eq!(e["object"], "list", "{e}");
        assert_eq!(e["indexes"], json!([0, 1, 2]));
        assert_eq!(e["usage"], json!({"prompt": 5, "total": 5}));
        let vectors: Vec<Vec<f32>> = e["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect()
            })
            .collect();
        assert_eq!(vectors, expected, "{call}");
    }
    let formats: Vec<Value> = server
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/embeddings")
        .map(|r| r.body["encoding_format"].clone())
        .collect();
    assert_eq!(formats, [json!("base64"), json!("float")]);
}

#[tokio::test]
async fn openai_sdk_reads_quirky_streams() {
    let variants = [
        Quirks {
            crlf: true,
            ..Quirks::default()
        },
        Quirks {
            keep_alives: true,
            ..Quirks::default()
        },
        Quirks {
            split_writes: true,
            ..Quirks::default()
        },
        Quirks {
            crlf: true,
            keep_alives: true,
            split_writes: true,
            no_done: true,
            ..Quirks::default()
        },
        Quirks {
            no_usage: true,
            no_ids: true,
            ..Quirks::default()
        },
    ];
    for quirks in variants {
        let mut config = ServerConfig::new(Protocol::OpenAi);
        config.quirks = quirks;
        let server = TestServer::start(config).await.unwrap();
        server.push([
            Step::Reply(text_reply("plain answer", 3, 2, Finish::Stop)),
            Step::Reply(text_reply("a quirky streamed answer", 6, 4, Finish::Length)),
        ]);
        let calls = run_sdk("openai_sdk.py", &server, "stream").await;
        let usage = |prompt: u32, completion: u32| {
            if quirks.no_usage {
                Value::Null
            } else {
                json!({"prompt": prompt, "completion": completion, "total": prompt + completion})
            }
        };
        assert_eq!(
            calls["plain"]["texts"],
            json!(["plain answer"]),
            "{quirks:?}"
        );
        assert_eq!(calls["plain"]["usage"], usage(3, 2), "{quirks:?}");
        let stream = &calls["stream"];
        assert_eq!(stream["text"], "a quirky streamed answer", "{quirks:?}");
        assert_eq!(stream["chunks"], 4, "{quirks:?}");
        assert_eq!(stream["finish"], "length", "{quirks:?}");
        assert_eq!(stream["usage"], usage(6, 4), "{quirks:?}");
    }
}

#[tokio::test]
async fn anthropic_sdk_reads_what_was_scripted() {
    let server = server(Protocol::Anthropic).await;
    let input = r#"{"city": "Paris", "days": 3}"#;
    server.push([
        Step::Reply(text_reply("Hello from Claude", 9, 3, Finish::Stop)),
        Step::Reply(text_reply("streamed claude text", 7, 3, Finish::Length)),
        Step::Reply(Reply::text("a b")),
        Step::Reply(Reply::text(input)),
        Step::Reply(Reply::text(input).with_chunks(5)),
        Step::RateLimited {
            retry_after_s: Some(4),
        },
        Step::Status(529),
        Step::StreamError {
            reply: Reply::text("part one two"),
            after_chunks: 1,
        },
        Step::Truncate {
            reply: Reply::text("cut here now"),
            after_chunks: 2,
        },
    ]);
    let calls = run_sdk("anthropic_sdk.py", &server, "full").await;
    assert_eq!(server.steps_left(), 0);

    let plain = &calls["plain"];
    assert_eq!(plain["type"], "message");
    assert_eq!(plain["role"], "assistant");
    assert_eq!(plain["blocks"][0]["type"], "text");
    assert_eq!(plain["blocks"][0]["text"], "Hello from Claude");
    assert_eq!(plain["stop_reason"], "end_turn");
    assert_eq!(plain["usage"], json!({"input": 9, "output": 3}));
    let sent = &server.requests()[0];
    assert_eq!(sent.body["system"], "Be brief.");
    assert!(sent.header("anthropic-version").is_some());

    let stream = &calls["stream"];
    assert_eq!(stream["text"], "streamed claude text");
    assert_eq!(stream["blocks"][0]["text"], "streamed claude text");
    assert_eq!(stream["stop_reason"], "max_tokens");
    assert_eq!(stream["usage"], json!({"input": 7, "output": 3}));

    assert_eq!(
        calls["events"]["events"],
        json!([
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ])
    );
    for call in ["tool", "tool_stream"] {
        let block = &calls[call]["blocks"][0];
        assert_eq!(block["type"], "tool_use", "{call}");
        assert_eq!(block["name"], "get_weather", "{call}");
        assert_eq!(
            block["input"],
            json!({"city": "Paris", "days": 3}),
            "{call}"
        );
        assert_eq!(calls[call]["stop_reason"], "tool_use", "{call}");
    }

    assert_eq!(calls["bad_key"]["error"], "AuthenticationError");
    assert_eq!(calls["unknown_model"]["error"], "NotFoundError");
    assert_eq!(calls["rate_limited"]["error"], "RateLimitError");
    assert_eq!(calls["rate_limited"]["headers"]["retry-after"], "4");
    assert_eq!(calls["overloaded"]["error"], "OverloadedError");
    assert_eq!(calls["overloaded"]["status"], 529);
    assert!(
        calls["stream_error"]["message"]
            .as_str()
            .unwrap()
            .contains("overloaded_error")
    );
    assert_eq!(calls["stream_error"]["partial"], "part ");
    assert_eq!(calls["truncated"]["partial"], "cut here ");
    // anthropic 2.x lets httpx's error through for a cut stream.
    let cut = calls["truncated"]["error"].as_str().unwrap();
    assert!(
        ["RemoteProtocolError", "APIConnectionError"].contains(&cut),
        "{cut}"
    );
}

#[tokio::test]
async fn gemini_sdk_reads_what_was_scripted() {
    let server = server(Protocol::Gemini).await;
    server.push([
        Step::Reply(text_reply("Hello Gemini", 6, 2, Finish::Length)),
        Step::Reply(text_reply("gemini streamed text", 5, 3, Finish::Stop)),
        Step::Reply(text_reply("both", 4, 1, Finish::Stop)),
        Step::RateLimited {
            retry_after_s: None,
        },
        Step::StreamError {
            reply: Reply::text("part one two"),
            after_chunks: 1,
        },
    ]);
    let calls = run_sdk("gemini_sdk.py", &server, "full").await;
    assert_eq!(server.steps_left(), 0);

    let plain = &calls["plain"];
    assert_eq!(plain["texts"], json!(["Hello Gemini"]));
    assert_eq!(plain["finish"], json!(["MAX_TOKENS"]));
    assert_eq!(
        plain["usage"],
        json!({"prompt": 6, "candidates": 2, "total": 8})
    );
    assert_eq!(plain["model_version"], "gemini-test");
    let stream = &calls["stream"];
    assert_eq!(stream["text"], "gemini streamed text");
    assert_eq!(stream["chunks"], 3);
    assert_eq!(stream["finish"], "STOP");
    assert_eq!(
        stream["usage"],
        json!({"prompt": 5, "candidates": 3, "total": 8})
    );
    assert_eq!(calls["candidates2"]["texts"], json!(["both", "both"]));

    assert_eq!(calls["bad_key"]["status"], 400);
    assert_eq!(calls["unknown_model"]["status"], 404);
    assert_eq!(calls["rate_limited"]["status"], 429);
    assert_eq!(calls["stream_error"]["partial"], "part ");
    // google-genai spots a chunk starting with `{"error":` and raises by its code.
    assert_eq!(calls["stream_error"]["error"], "ServerError");
    assert_eq!(calls["stream_error"]["status"], 500);
    assert_eq!(calls["bad_key"]["error"], "ClientError");
}

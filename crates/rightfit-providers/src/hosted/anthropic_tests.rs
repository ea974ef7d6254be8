//! Tests of the Anthropic codec against the shapes the Messages API documents.

use rightfit_types::{Message, Sampling};

use super::*;

pub(super) fn codec() -> Anthropic {
    Anthropic::default()
}

fn chat() -> ChatRequest {
    ChatRequest::chat(vec![
        Message::system("Be brief."),
        Message::user("Hi"),
        Message::assistant("Hello."),
        Message::system("Answer in French."),
        Message::user("How are you?"),
    ])
}

fn body(request: &ChatRequest) -> Value {
    codec()
        .chat_body("claude-sonnet-4-5", request, false)
        .unwrap()
}

fn body_err(request: &ChatRequest) -> String {
    codec()
        .chat_body("claude-sonnet-4-5", request, false)
        .unwrap_err()
}

#[test]
fn kind_url_and_headers() {
    let c = codec();
    assert_eq!(c.kind(), "anthropic");
    for (base, url) in [
        (
            "https://api.anthropic.com",
            "https://api.anthropic.com/v1/messages",
        ),
        (
            "https://api.anthropic.com/",
            "https://api.anthropic.com/v1/messages",
        ),
        (
            "https://api.anthropic.com/v1",
            "https://api.anthropic.com/v1/messages",
        ),
        (
            "http://proxy:8080/anthropic",
            "http://proxy:8080/anthropic/v1/messages",
        ),
    ] {
        assert_eq!(c.chat_url(base, "claude-x", false), url, "{base}");
        assert_eq!(c.chat_url(base, "claude-x", true), url, "{base}, streamed");
    }
    let key = Secret::new("sk-ant-123");
    assert_eq!(
        c.headers(Some(&key)),
        vec![
            ("x-api-key", "sk-ant-123".to_owned()),
            ("anthropic-version", DEFAULT_VERSION.to_owned()),
        ]
    );
    let pinned = Anthropic {
        version: "2099-01-01".into(),
    };
    assert_eq!(
        pinned.headers(None),
        vec![("anthropic-version", "2099-01-01".to_owned())]
    );
}

#[test]
fn body_of_a_plain_conversation() {
    assert_eq!(
        body(&chat()),
        json!({
            "model": "claude-sonnet-4-5",
            "system": "Be brief.\n\nAnswer in French.",
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "How are you?"},
            ],
            "max_tokens": DEFAULT_MAX_TOKENS,
            "temperature": 0.0,
        })
    );
}

#[test]
fn body_without_system_has_no_system_key() {
    let b = body(&ChatRequest::chat(vec![Message::user("Hi")]));
    assert!(b.get("system").is_none(), "{b}");
}

#[test]
fn body_with_every_sampling_option() {
    let mut request = chat()
        .with_max_tokens(100)
        .with_stop(["\n\n", "END"])
        .with_sampling(Sampling {
            temperature: Some(0.7),
            top_p: Some(0.9),
            top_k: Some(40),
            seed: Some(42),
        });
    request.ignore_eos = true;
    request.chat_template = Some("chatml".into());
    let b = codec()
        .chat_body("claude-sonnet-4-5", &request, true)
        .unwrap();
    assert_eq!(b["max_tokens"], json!(100));
    // Written as a person would, not as a widened f32.
    assert_eq!(b["temperature"].to_string(), "0.7");
    assert_eq!(b["top_p"].to_string(), "0.9");
    assert_eq!(b["top_k"], json!(40));
    assert_eq!(b["stop_sequences"], json!(["\n\n", "END"]));
    assert_eq!(b["stream"], json!(true));
    for absent in [
        "seed",
        "n",
        "ignore_eos",
        "chat_template",
        "tools",
        "logprobs",
    ] {
        assert!(b.get(absent).is_none(), "{absent} in {b}");
    }
}

#[test]
fn greedy_sampling_sends_temperature_zero() {
    for temperature in [None, Some(0.0), Some(-1.0)] {
        let request = chat().with_sampling(Sampling {
            temperature,
            ..Sampling::default()
        });
        assert_eq!(body(&request)["temperature"], json!(0.0), "{temperature:?}");
    }
    assert!(body(&chat()).get("stream").is_none());
    let greedy_with_nucleus = chat().with_sampling(Sampling {
        top_p: Some(0.9),
        top_k: Some(5),
        ..Sampling::default()
    });
    let b = body(&greedy_with_nucleus);
    assert_eq!(b["temperature"], json!(0.0));
    assert!(b.get("top_p").is_none() && b.get("top_k").is_none(), "{b}");
}

#[test]
fn requests_the_api_cannot_answer_are_refused() {
    let err = body_err(&chat().with_n(3));
    assert!(err.contains("n = 3") && err.contains("no `n`"), "{err}");
    assert!(body_err(&chat().with_n(0)).contains("n = 0"));

    let mut request = chat();
    request.logprobs = Some(0);
    assert!(body_err(&request).contains("log-probabilities"));

    let err = body_err(&ChatRequest::completion("Once upon a time"));
    assert!(err.contains("raw text completion"), "{err}");

    let err = body_err(&ChatRequest::chat(vec![Message::system("Only rules.")]));
    assert!(err.contains("no user or assistant message"), "{err}");
    assert!(body_err(&ChatRequest::chat(Vec::new())).contains("no user or assistant"));

    let err = body_err(&chat().with_response_format(ResponseFormat::Grammar {
        gbnf: "root ::= \"a\"".into(),
    }));
    assert!(err.contains("GBNF"), "{err}");
}

#[test]
fn json_schema_is_a_forced_tool() {
    let schema = json!({
        "type": "object",
        "properties": {"answer": {"type": "integer"}},
        "required": ["answer"],
    });
    let b = body(&chat().with_response_format(ResponseFormat::JsonSchema {
        name: "math_answer".into(),
        schema: schema.clone(),
        strict: true,
    }));
    assert_eq!(
        b["tools"],
        json!([{
            "name": "math_answer",
            "description": "Respond with the answer as this tool's input.",
            "input_schema": schema,
        }])
    );
    assert_eq!(
        b["tool_choice"],
        json!({"type": "tool", "name": "math_answer"})
    );
}

#[test]
fn unnamed_schema_and_json_object_use_the_respond_tool() {
    let b = body(&chat().with_response_format(ResponseFormat::JsonSchema {
        name: String::new(),
        schema: json!({"properties": {"a": {"type": "string"}}}),
        strict: false,
    }));
    assert_eq!(b["tools"][0]["name"], json!("respond"));
    assert_eq!(b["tool_choice"]["name"], json!("respond"));

    let b = body(&chat().with_response_format(ResponseFormat::JsonObject));
    assert_eq!(b["tools"][0]["name"], json!("respond"));
    assert_eq!(b["tools"][0]["input_schema"], json!({"type": "object"}));
    assert_eq!(b["tool_choice"], json!({"type": "tool", "name": "respond"}));

    assert!(body(&chat()).get("tools").is_none());
    assert!(body(&chat()).get("tool_choice").is_none());
}

#[test]
fn schemas_a_tool_cannot_carry_are_refused() {
    let bad_name = ResponseFormat::JsonSchema {
        name: "my schema".into(),
        schema: json!({"type": "object"}),
        strict: false,
    };
    assert!(body_err(&chat().with_response_format(bad_name)).contains("rename the schema"));
    let array = ResponseFormat::JsonSchema {
        name: "list".into(),
        schema: json!({"type": "array", "items": {"type": "string"}}),
        strict: false,
    };
    assert!(body_err(&chat().with_response_format(array)).contains("must be an object"));
    let not_object = ResponseFormat::JsonSchema {
        name: "x".into(),
        schema: json!(true),
        strict: false,
    };
    assert!(body_err(&chat().with_response_format(not_object)).contains("JSON object"));
}

fn message(content: Value, stop_reason: &str, usage: Value) -> Value {
    json!({
        "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": usage,
    })
}

#[test]
fn parses_a_text_message() {
    let parsed = codec()
        .parse_chat(message(
            json!([{"type": "text", "text": "Bonjour !"}]),
            "end_turn",
            json!({"input_tokens": 2095, "output_tokens": 503}),
        ))
        .unwrap();
    assert_eq!(
        parsed,
        Parsed {
            id: Some("msg_013Zva2CMHLNnXjNJJKqJ2EF".into()),
            choices: vec![Choice {
                tool_calls: Vec::new(),
                index: 0,
                text: "Bonjour !".into(),
                finish_reason: FinishReason::Stop,
                logprobs: None,
            }],
            usage: Some(Usage {
                prompt_tokens: 2095,
                completion_tokens: 503,
                cached_prompt_tokens: 0,
            }),
        }
    );
}

#[test]
fn text_blocks_join_and_thinking_is_skipped() {
    let parsed = codec()
        .parse_chat(message(
            json!([
                {"type": "thinking", "thinking": "Let me think.", "signature": "EqQB"},
                {"type": "redacted_thinking", "data": "EmwK"},
                {"type": "text", "text": "Part one, "},
                {"type": "a_block_type_from_the_future", "x": 1},
                {"type": "text", "text": "part two."},
            ]),
            "end_turn",
            json!({"input_tokens": 1, "output_tokens": 2}),
        ))
        .unwrap();
    assert_eq!(parsed.choices[0].text, "Part one, part two.");
}

#[test]
fn tool_use_input_becomes_compact_json_text() {
    let parsed = codec()
        .parse_chat(message(
            json!([{
                "type": "tool_use",
                "id": "toolu_01A09q90qw90lq917835lq9",
                "name": "respond",
                "input": {"answer": 4, "unit": "apples"},
            }]),
            "tool_use",
            json!({"input_tokens": 10, "output_tokens": 20}),
        ))
        .unwrap();
    let choice = &parsed.choices[0];
    assert_eq!(choice.text, r#"{"answer":4,"unit":"apples"}"#);
    assert_eq!(choice.finish_reason, FinishReason::Stop);
}

#[test]
fn stop_reasons() {
    for (reason, expected) in [
        ("end_turn", FinishReason::Stop),
        ("stop_sequence", FinishReason::Stop),
        ("tool_use", FinishReason::Stop),
        ("pause_turn", FinishReason::Stop),
        ("max_tokens", FinishReason::Length),
        ("model_context_window_exceeded", FinishReason::Length),
        ("refusal", FinishReason::ContentFilter),
        ("something_new", FinishReason::Stop),
    ] {
        let parsed = codec()
            .parse_chat(message(json!([]), reason, json!({})))
            .unwrap();
        assert_eq!(parsed.choices[0].finish_reason, expected, "{reason}");
        assert_eq!(parsed.choices[0].text, "");
    }
}

#[test]
fn cached_tokens_count_as_prompt_tokens() {
    let parsed = codec()
        .parse_chat(message(
            json!([{"type": "text", "text": "ok"}]),
            "end_turn",
            json!({
                "input_tokens": 10,
                "cache_creation_input_tokens": 100,
                "cache_read_input_tokens": 1000,
                "output_tokens": 5,
                "service_tier": "standard",
            }),
        ))
        .unwrap();
    assert_eq!(
        parsed.usage,
        Some(Usage {
            prompt_tokens: 1110,
            completion_tokens: 5,
            cached_prompt_tokens: 1000,
        })
    );
    let nulls = codec()
        .parse_chat(message(
            json!([]),
            "end_turn",
            json!({"input_tokens": 3, "output_tokens": 4,
                   "cache_creation_input_tokens": null, "cache_read_input_tokens": null}),
        ))
        .unwrap();
    assert_eq!(
        nulls.usage,
        Some(Usage {
            prompt_tokens: 3,
            completion_tokens: 4,
            cached_prompt_tokens: 0,
        })
    );
    let mut no_usage = message(json!([]), "end_turn", json!({}));
    no_usage.as_object_mut().unwrap().remove("usage");
    assert_eq!(codec().parse_chat(no_usage).unwrap().usage, None);
}

#[test]
fn malformed_messages_are_errors() {
    let c = codec();
    let err = c.parse_chat(json!({"id": "msg_1"})).unwrap_err();
    assert!(err.contains("content"), "{err}");
    let err = c
        .parse_chat(json!({"content": "text", "stop_reason": "end_turn"}))
        .unwrap_err();
    assert!(err.contains("not an Anthropic message"), "{err}");
    let err = c
        .parse_chat(message(json!([{"type": "text"}]), "end_turn", json!({})))
        .unwrap_err();
    assert!(err.contains("content[0]") && err.contains("text"), "{err}");
    let err = c
        .parse_chat(message(
            json!([{"type": "text", "text": "a"}, {"type": "tool_use", "name": "respond"}]),
            "tool_use",
            json!({}),
        ))
        .unwrap_err();
    assert!(err.contains("content[1]") && err.contains("input"), "{err}");
    let err = c
        .parse_chat(json!({"type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded"}}))
        .unwrap_err();
    assert!(err.contains("Overloaded"), "{err}");
    assert!(c.parse_chat(json!([1, 2])).is_err());
}

#[test]
fn error_bodies() {
    let c = codec();
    assert_eq!(
        c.error_body(
            br#"{"type":"error","error":{"type":"not_found_error","message":"model: claude-x"},"request_id":"req_011"}"#
        ),
        Some(ErrorBody {
            message: "model: claude-x".into(),
            kind: Some("not_found_error".into()),
        })
    );
    assert_eq!(
        c.error_body(br#"{"error":{"message":"no type"}}"#),
        Some(ErrorBody {
            message: "no type".into(),
            kind: None,
        })
    );
    assert_eq!(c.error_body(b"<html>502 Bad Gateway</html>"), None);
    assert_eq!(c.error_body(br#"{"error":"flat string"}"#), None);
    assert_eq!(c.error_body(br#"{"message":"no error object"}"#), None);
    assert_eq!(c.error_body(b""), None);
}

//! Tests of the OpenAI codec's requests, whole responses and error bodies, against bodies shaped like the OpenAI API reference's examples
//! and what OpenAI-compatible servers (vLLM, llama.cpp, Ollama) send.

use rightfit_config::Secret;
use rightfit_types::{
    ChatRequest, FinishReason, Message, ResponseFormat, Sampling, TokenLogprob, TopLogprob, Usage,
};
use serde_json::{Value, json};

use super::OpenAi;
use crate::hosted::codec::{Codec, ErrorBody};

const OPENAI: OpenAi = OpenAi { compatible: false };
const COMPAT: OpenAi = OpenAi { compatible: true };

fn chat() -> ChatRequest {
    ChatRequest::chat(vec![Message::system("Be brief."), Message::user("Hi")])
}

fn body(codec: OpenAi, request: &ChatRequest) -> Value {
    codec.chat_body("gpt-4o-mini", request, false).unwrap()
}

// ---- request ----

#[test]
fn kind_url_and_headers() {
    assert_eq!(OPENAI.kind(), "openai");
    assert_eq!(COMPAT.kind(), "openai-compatible");
    assert_eq!(
        OPENAI.chat_url("https://api.openai.com/v1", "gpt-4o", true),
        "https://api.openai.com/v1/chat/completions"
    );
    assert_eq!(
        COMPAT.chat_url("http://localhost:8080/v1", "m", false),
        "http://localhost:8080/v1/chat/completions"
    );
    let key = Secret::new("sk-test");
    assert_eq!(
        OPENAI.headers(Some(&key)),
        vec![("Authorization", "Bearer sk-test".to_owned())]
    );
    assert!(COMPAT.headers(None).is_empty());
    assert!(COMPAT.headers(Some(&Secret::new(""))).is_empty());
}

#[test]
fn minimal_body_is_greedy() {
    let expected = json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        ],
        "temperature": 0,
    });
    assert_eq!(body(OPENAI, &chat()), expected);
    assert_eq!(body(COMPAT, &chat()), expected);
    let zero = chat().with_sampling(Sampling {
        temperature: Some(0.0),
        ..Sampling::default()
    });
    assert_eq!(body(OPENAI, &zero)["temperature"], json!(0));
}

#[test]
fn text_prompt_is_refused() {
    let err = OPENAI
        .chat_body("m", &ChatRequest::completion("Once upon"), false)
        .unwrap_err();
    assert!(err.contains("needs messages"), "{err}");
    assert!(
        COMPAT
            .chat_body("m", &ChatRequest::completion("x"), false)
            .is_err()
    );
}

#[test]
fn sampling_fields() {
    let request = chat().with_sampling(Sampling {
        temperature: Some(0.7),
        top_p: Some(0.9),
        top_k: Some(40),
        seed: Some(42),
    });
    let openai = body(OPENAI, &request);
    // Floats as written, not as f32 widened to f64.
    assert_eq!(openai["temperature"], json!(0.7));
    assert_eq!(openai["top_p"], json!(0.9));
    assert_eq!(openai["seed"], json!(42));
    assert!(openai.get("top_k").is_none(), "OpenAI rejects top_k");
    assert_eq!(body(COMPAT, &request)["top_k"], json!(40));
}

#[test]
fn token_limit_field_differs() {
    let request = chat().with_max_tokens(64);
    let openai = body(OPENAI, &request);
    assert_eq!(openai["max_completion_tokens"], json!(64));
    assert!(openai.get("max_tokens").is_none());
    let compat = body(COMPAT, &request);
    assert_eq!(compat["max_tokens"], json!(64));
    assert!(compat.get("max_completion_tokens").is_none());
}

#[test]
fn stop_sequences_and_limit() {
    let four = chat().with_stop(["a", "b", "c", "d"]);
    assert_eq!(body(OPENAI, &four)["stop"], json!(["a", "b", "c", "d"]));
    let five = chat().with_stop(["a", "b", "c", "d", "e"]);
    let err = OPENAI.chat_body("m", &five, false).unwrap_err();
    assert!(err.contains("at most 4"), "{err}");
    assert_eq!(body(COMPAT, &five)["stop"].as_array().unwrap().len(), 5);
}

#[test]
fn n_only_when_several() {
    assert!(body(OPENAI, &chat().with_n(1)).get("n").is_none());
    assert_eq!(body(OPENAI, &chat().with_n(3))["n"], json!(3));
}

#[test]
fn response_formats() {
    assert!(body(OPENAI, &chat()).get("response_format").is_none());
    let json_object = chat().with_response_format(ResponseFormat::JsonObject);
    assert_eq!(
        body(OPENAI, &json_object)["response_format"],
        json!({"type": "json_object"})
    );
    let schema = json!({"type": "object", "properties": {"x": {"type": "integer"}}});
    let named = chat().with_response_format(ResponseFormat::JsonSchema {
        name: "point".into(),
        schema: schema.clone(),
        strict: true,
    });
    assert_eq!(
        body(OPENAI, &named)["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "point", "schema": schema, "strict": true}})
    );
    let unnamed = chat().with_response_format(ResponseFormat::JsonSchema {
        name: String::new(),
        schema,
        strict: false,
    });
    let format = &body(COMPAT, &unnamed)["response_format"]["json_schema"];
    assert_eq!(format["name"], json!("response"));
    assert_eq!(format["strict"], json!(false));
}

#[test]
fn grammar_only_for_compatible_servers() {
    let request = chat().with_response_format(ResponseFormat::Grammar {
        gbnf: "root ::= \"yes\" | \"no\"".into(),
    });
    let compat = body(COMPAT, &request);
    assert_eq!(compat["grammar"], json!("root ::= \"yes\" | \"no\""));
    assert!(compat.get("response_format").is_none());
    let err = OPENAI.chat_body("m", &request, false).unwrap_err();
    assert!(err.contains("GBNF"), "{err}");
}

#[test]
fn logprobs_request() {
    let mut request = chat();
    request.logprobs = Some(0);
    let b = body(OPENAI, &request);
    assert_eq!(b["logprobs"], json!(true));
    assert!(b.get("top_logprobs").is_none());
    request.logprobs = Some(5);
    let b = body(OPENAI, &request);
    assert_eq!(
        (&b["logprobs"], &b["top_logprobs"]),
        (&json!(true), &json!(5))
    );
    request.logprobs = Some(21);
    assert!(OPENAI.chat_body("m", &request, false).is_err());
    assert_eq!(body(COMPAT, &request)["top_logprobs"], json!(21));
}

#[test]
fn ignore_eos_only_for_compatible_servers() {
    let mut request = chat();
    request.ignore_eos = true;
    assert_eq!(body(COMPAT, &request)["ignore_eos"], json!(true));
    assert!(body(OPENAI, &request).get("ignore_eos").is_none());
}

#[test]
fn streaming_asks_for_usage() {
    for codec in [OPENAI, COMPAT] {
        let b = codec.chat_body("m", &chat(), true).unwrap();
        assert_eq!(b["stream"], json!(true));
        assert_eq!(b["stream_options"], json!({"include_usage": true}));
    }
    assert!(body(OPENAI, &chat()).get("stream").is_none());
}

// ---- whole responses ----

/// The shape of the API reference's chat completion object.
fn reference_response() -> Value {
    json!({
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4.1-2025-04-14",
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello! How can I assist you today?",
                "refusal": null,
                "annotations": []
            },
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": 19,
            "completion_tokens": 10,
            "total_tokens": 29,
            "prompt_tokens_details": {"cached_tokens": 3, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0
            }
        },
        "service_tier": "default",
        "system_fingerprint": "fp_44709d6fcb"
    })
}

#[test]
fn parses_reference_response() {
    let parsed = OPENAI.parse_chat(reference_response()).unwrap();
    assert_eq!(
        parsed.id.as_deref(),
        Some("chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT")
    );
    assert_eq!(parsed.choices.len(), 1);
    let choice = &parsed.choices[0];
    assert_eq!(choice.index, 0);
    assert_eq!(choice.text, "Hello! How can I assist you today?");
    assert_eq!(choice.finish_reason, FinishReason::Stop);
    assert_eq!(choice.logprobs, None);
    assert_eq!(
        parsed.usage,
        Some(Usage {
            prompt_tokens: 19,
            completion_tokens: 10,
            cached_prompt_tokens: 3,
        })
    );
}

#[test]
fn parses_logprobs_and_sorts_choices() {
    let body = json!({
        "id": "chatcmpl-1",
        "choices": [
            {"index": 1, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "length",
             "logprobs": {"content": [
                {"token": "Hi", "logprob": -0.5, "bytes": [72, 105],
                 "top_logprobs": [{"token": "Hi", "logprob": -0.5, "bytes": [72, 105]},
                                  {"token": "Hello", "logprob": -1.25, "bytes": null}]}
             ], "refusal": null}},
            {"index": 0, "message": {"role": "assistant", "content": "Yo"}, "finish_reason": "content_filter",
             "logprobs": {"content": [{"token": "Yo", "logprob": 0}]}}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    });
    let parsed = OPENAI.parse_chat(body).unwrap();
    assert_eq!(
        parsed.choices.iter().map(|c| c.index).collect::<Vec<_>>(),
        [0, 1]
    );
    assert_eq!(parsed.choices[0].finish_reason, FinishReason::ContentFilter);
    assert_eq!(
        parsed.choices[0].logprobs,
        Some(vec![TokenLogprob {
            token: "Yo".into(),
            logprob: 0.0,
            top: vec![],
        }])
    );
    assert_eq!(parsed.choices[1].finish_reason, FinishReason::Length);
    assert_eq!(
        parsed.choices[1].logprobs,
        Some(vec![TokenLogprob {
            token: "Hi".into(),
            logprob: -0.5,
            top: vec![
                TopLogprob {
                    token: "Hi".into(),
                    logprob: -0.5
                },
                TopLogprob {
                    token: "Hello".into(),
                    logprob: -1.25
                },
            ],
        }])
    );
    assert_eq!(parsed.usage.unwrap().cached_prompt_tokens, 0);
}

#[test]
fn refusal_is_a_content_filter() {
    let body = json!({
        "id": "chatcmpl-2",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": null,
                     "message": {"role": "assistant", "content": null,
                                 "refusal": "I'm sorry, I can't help with that."}}]
    });
    let choice = &OPENAI.parse_chat(body).unwrap().choices[0];
    assert_eq!(choice.text, "");
    assert_eq!(choice.finish_reason, FinishReason::ContentFilter);
}

#[test]
fn finish_reasons() {
    let reason = |r: Value| {
        let body = json!({"id": "x", "choices": [
            {"index": 0, "message": {"content": "t"}, "finish_reason": r}]});
        OPENAI.parse_chat(body).unwrap().choices[0].finish_reason
    };
    assert_eq!(reason(json!("stop")), FinishReason::Stop);
    assert_eq!(reason(json!("length")), FinishReason::Length);
    assert_eq!(reason(json!("content_filter")), FinishReason::ContentFilter);
    assert_eq!(reason(json!("tool_calls")), FinishReason::ToolCalls);
    assert_eq!(reason(json!("function_call")), FinishReason::ToolCalls);
    assert_eq!(reason(json!("eos")), FinishReason::Stop);
    assert_eq!(reason(Value::Null), FinishReason::Stop);
}

#[test]
fn ids_and_usage_compatible_servers_leave_out() {
    // llama.cpp-like: no id, no usage, extra fields.
    let body = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                                   "finish_reason": "stop"}], "timings": {"predicted_n": 1}});
    let parsed = COMPAT.parse_chat(body.clone()).unwrap();
    assert_eq!(parsed.id, None);
    assert_eq!(parsed.usage, None);
    assert_eq!(parsed.choices[0].text, "ok");
    let err = OPENAI.parse_chat(body).unwrap_err();
    assert!(err.contains("`id`"), "{err}");
    // Usage absent is None for OpenAI too: the transport decides.
    let mut reference = reference_response();
    reference.as_object_mut().unwrap().remove("usage");
    assert_eq!(OPENAI.parse_chat(reference).unwrap().usage, None);
}

#[test]
fn malformed_responses_say_what_is_wrong() {
    let err = |codec: OpenAi, body: Value| codec.parse_chat(body).unwrap_err();
    assert!(err(OPENAI, json!({"id": "x"})).contains("no `choices`"));
    assert!(err(OPENAI, json!({"id": "x", "choices": {}})).contains("expected an array"));
    assert!(err(OPENAI, json!([1])).contains("not a JSON object"));
    assert!(err(COMPAT, json!({"choices": []})).contains("empty"));
    let e = err(
        COMPAT,
        json!({"choices": [{"index": 0, "message": {"content": 5}}]}),
    );
    assert!(e.contains("choices[0].message.content"), "{e}");
    let e = err(
        COMPAT,
        json!({"choices": [{"index": "0", "message": {"content": ""}}]}),
    );
    assert!(e.contains("choices[0].index"), "{e}");
    let e = err(COMPAT, json!({"choices": [{"index": 0}]}));
    assert!(e.contains("no `message`"), "{e}");
    let e = err(
        COMPAT,
        json!({"choices": [{"index": 0, "message": {"content": ""},
                            "logprobs": {"content": [{"token": "a"}]}}]}),
    );
    assert!(e.contains("logprobs.content[0]"), "{e}");
    let e = err(
        COMPAT,
        json!({"choices": [{"index": 0, "message": {"content": ""}}],
               "usage": {"prompt_tokens": -1}}),
    );
    assert!(e.contains("usage.prompt_tokens"), "{e}");
    let twice = json!({"choices": [{"index": 0, "message": {"content": ""}},
                                   {"index": 0, "message": {"content": ""}}]});
    assert!(err(COMPAT, twice).contains("twice"));
    let e = err(
        COMPAT,
        json!({"error": {"message": "model not loaded", "code": 503}}),
    );
    assert!(e.contains("model not loaded"), "{e}");
}

// ---- error bodies ----

#[test]
fn error_body_shapes() {
    let parse = |s: &str| OPENAI.error_body(s.as_bytes());
    let body = |message: &str, kind: Option<&str>| {
        Some(ErrorBody {
            message: message.into(),
            kind: kind.map(Into::into),
        })
    };
    assert_eq!(
        parse(
            r#"{"error": {"message": "Incorrect API key provided: sk-****.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}"#
        ),
        body(
            "Incorrect API key provided: sk-****.",
            Some("invalid_api_key")
        )
    );
    assert_eq!(
        parse(
            r#"{"error": {"message": "Rate limit reached", "type": "requests", "param": null, "code": null}}"#
        ),
        body("Rate limit reached", Some("requests"))
    );
    assert_eq!(
        parse(
            r#"{"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}}"#
        ),
        body("File Not Found", Some("not_found_error"))
    );
    assert_eq!(
        parse(r#"{"error": {"code": 503, "message": "Loading model"}}"#),
        body("Loading model", Some("503"))
    );
    assert_eq!(
        parse(r#"{"error": "model 'x' not found"}"#),
        body("model 'x' not found", None)
    );
    assert_eq!(parse(r#"{"detail": "Not Found"}"#), body("Not Found", None));
    assert_eq!(
        parse(
            r#"{"detail": [{"type": "missing", "loc": ["body", "messages"], "msg": "Field required", "input": {}}]}"#
        ),
        body("body.messages: Field required", None)
    );
    assert_eq!(
        parse(r#"{"message": "Internal server error"}"#),
        body("Internal server error", None)
    );
    assert_eq!(parse("<html><body>502 Bad Gateway</body></html>"), None);
    assert_eq!(parse(r#"{"status": "fail"}"#), None);
    assert_eq!(parse(r#"{"error": {"type": "no message"}}"#), None);
}

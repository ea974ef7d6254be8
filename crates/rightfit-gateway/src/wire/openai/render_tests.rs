use rightfit_types::{
    ChatResponse, Choice, FinishReason, Timings, TokenLogprob, TopLogprob, Usage,
};
use serde_json::{Value, json};

use super::{Stream, models, response};
use crate::error::GatewayError;

fn usage() -> Usage {
    Usage {
        prompt_tokens: 12,
        completion_tokens: 3,
        cached_prompt_tokens: 8,
    }
}

fn tokens() -> Vec<TokenLogprob> {
    vec![TokenLogprob {
        token: "hé".into(),
        logprob: -0.5,
        top: vec![TopLogprob {
            token: "hi".into(),
            logprob: -1.5,
        }],
    }]
}

fn answer() -> ChatResponse {
    ChatResponse {
        id: "upstream-id".into(),
        model: "qwen2.5-1.5b".into(),
        choices: vec![
            Choice {
                tool_calls: Vec::new(),
                index: 0,
                text: "hé".into(),
                finish_reason: FinishReason::Stop,
                logprobs: Some(tokens()),
            },
            Choice {
                tool_calls: Vec::new(),
                index: 1,
                text: "ho".into(),
                finish_reason: FinishReason::Length,
                logprobs: None,
            },
        ],
        usage: usage(),
        timings: Timings::default(),
    }
}

/// The data of one `data: ...\n\n` frame.
fn data(frame: &[u8]) -> Value {
    let text = std::str::from_utf8(frame).expect("UTF-8");
    let json = text
        .strip_prefix("data: ")
        .and_then(|t| t.strip_suffix("\n\n"))
        .unwrap_or_else(|| panic!("not one data frame: {text:?}"));
    serde_json::from_str(json).expect("JSON")
}

#[test]
fn a_whole_answer_has_openais_shape() {
    let body = response("chatcmpl-1", "intent", 1_700_000_000, &answer());
    let expected = json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "intent",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hé", "refusal": null},
                "logprobs": {"content": [{"token": "hé", "logprob": -0.5, "bytes": [104, 195, 169],
                    "top_logprobs": [{"token": "hi", "logprob": -1.5, "bytes": [104, 105]}]}], "refusal": null},
                "finish_reason": "stop"
            },
            {
                "index": 1,
                "message": {"role": "assistant", "content": "ho", "refusal": null},
                "logprobs": null,
                "finish_reason": "length"
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 8}}
    });
    assert_eq!(body, expected);
}

#[test]
fn stream_frames_are_exact() {
    let s = Stream::new("chatcmpl-1", "intent", 7, false);
    let head = r#"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"intent","choices":"#;
    let cases = [
        (
            s.first(0),
            r#"[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#,
        ),
        (
            s.delta(1, "a\"b"),
            r#"[{"index":1,"delta":{"content":"a\"b"},"logprobs":null,"finish_reason":null}]}"#,
        ),
        (
            s.finish(0, FinishReason::Length),
            r#"[{"index":0,"delta":{},"logprobs":null,"finish_reason":"length"}]}"#,
        ),
        (
            s.logprobs(0, &tokens()),
            r#"[{"index":0,"delta":{},"logprobs":{"content":[{"token":"hé","logprob":-0.5,"bytes":[104,195,169],"top_logprobs":[{"token":"hi","logprob":-1.5,"bytes":[104,105]}]}],"refusal":null},"finish_reason":null}]}"#,
        ),
    ];
    for (frame, choices) in cases {
        assert_eq!(
            std::str::from_utf8(&frame).expect("UTF-8"),
            format!("{head}{choices}\n\n")
        );
    }
    assert_eq!(s.usage(&usage()), None);
    assert_eq!(&s.done()[..], b"data: [DONE]\n\n");
}

#[test]
fn with_include_usage_every_chunk_has_usage_null_and_the_last_the_totals() {
    let s = Stream::new("chatcmpl-1", "intent", 7, true);
    let chunk = data(&s.delta(0, "x"));
    assert_eq!(chunk["usage"], Value::Null);
    assert!(chunk.as_object().is_some_and(|c| c.contains_key("usage")));
    let last = data(&s.usage(&usage()).expect("asked for"));
    assert_eq!(
        last,
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 7, "model": "intent",
            "choices": [],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15,
                "prompt_tokens_details": {"cached_tokens": 8}}})
    );
    let without = data(&Stream::new("c", "m", 7, false).delta(0, "x"));
    assert!(without.get("usage").is_none(), "{without}");
}

#[test]
fn text_and_logprobs_can_share_a_chunk() {
    let s = Stream::new("c", "m", 1, false);
    let chunk = data(&s.delta_with_logprobs(0, "hé", &tokens()));
    assert_eq!(chunk["choices"][0]["delta"], json!({"content": "hé"}));
    assert_eq!(chunk["choices"][0]["logprobs"]["content"][0]["token"], "hé");
}

#[test]
fn a_stream_error_is_a_data_line_with_the_error_object() {
    let s = Stream::new("c", "m", 1, true);
    let frame = s.error(&GatewayError::upstream_timeout("gpt4o timed out."));
    assert_eq!(
        data(&frame),
        json!({"error": {"message": "gpt4o timed out.", "type": "server_error", "param": null, "code": "upstream_timeout"}})
    );
}

#[test]
fn models_are_listed() {
    let list = vec![
        ("intent".to_owned(), "rightfit".to_owned()),
        ("qwen".to_owned(), "rightfit".to_owned()),
    ];
    assert_eq!(
        models(&list),
        json!({"object": "list", "data": [
            {"id": "intent", "object": "model", "created": 0, "owned_by": "rightfit"},
            {"id": "qwen", "object": "model", "created": 0, "owned_by": "rightfit"}
        ]})
    );
}

#[test]
fn tool_calls_render_as_functions_with_null_content() {
    let mut answer = ChatResponse {
        id: "u".into(),
        model: "m".into(),
        choices: vec![Choice {
            index: 0,
            text: String::new(),
            tool_calls: vec![rightfit_types::ToolCall {
                id: "call_1".into(),
                name: "get_weather".into(),
                arguments: r#"{"city":"Paris"}"#.into(),
            }],
            finish_reason: FinishReason::ToolCalls,
            logprobs: None,
        }],
        usage: Usage::default(),
        timings: rightfit_types::Timings::default(),
    };
    let body = response("chatcmpl-1", "m", 7, &answer);
    assert_eq!(
        body["choices"][0]["message"],
        json!({
            "role": "assistant",
            "content": null,
            "refusal": null,
            "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}],
        })
    );
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    // With text, the text stays.
    answer.choices[0].text = "Checking.".into();
    let body = response("chatcmpl-1", "m", 7, &answer);
    assert_eq!(body["choices"][0]["message"]["content"], "Checking.");
}

#[test]
fn a_tool_call_streams_its_name_first_then_argument_fragments() {
    let s = Stream::new("chatcmpl-1", "m", 7, false);
    let data = |b: bytes::Bytes| -> Value {
        let text = std::str::from_utf8(&b).expect("UTF-8").to_owned();
        serde_json::from_str(
            text.strip_prefix("data: ")
                .and_then(|t| t.strip_suffix("\n\n"))
                .expect("one data frame"),
        )
        .expect("JSON")
    };
    let first = data(s.tool_call(0, 0, Some("call_1"), Some("get_weather"), ""));
    assert_eq!(
        first["choices"][0]["delta"],
        json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": ""}}]})
    );
    let more = data(s.tool_call(0, 1, None, None, "{\"ci"));
    assert_eq!(
        more["choices"][0]["delta"],
        json!({"tool_calls": [{"index": 1, "function": {"arguments": "{\"ci"}}]})
    );
    assert_eq!(more["choices"][0]["finish_reason"], Value::Null);
}

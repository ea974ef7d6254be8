use rightfit_types::{ChatResponse, Choice, FinishReason, Timings, Usage};
use serde_json::{Value, json};

use super::{Stream, response};
use crate::error::GatewayError;

fn usage() -> Usage {
    Usage {
        prompt_tokens: 12,
        completion_tokens: 3,
        cached_prompt_tokens: 8,
    }
}

fn answer(reason: FinishReason) -> ChatResponse {
    ChatResponse {
        id: "upstream-id".into(),
        model: "qwen2.5-1.5b".into(),
        choices: vec![Choice {
            tool_calls: Vec::new(),
            index: 0,
            text: "cancel".into(),
            finish_reason: reason,
            logprobs: None,
        }],
        usage: usage(),
        timings: Timings::default(),
    }
}

/// The (event name, data) of each `event: NAME\ndata: ...\n\n` frame.
fn events(bytes: &[u8]) -> Vec<(String, Value)> {
    let text = std::str::from_utf8(bytes).expect("UTF-8");
    let body = text
        .strip_suffix("\n\n")
        .unwrap_or_else(|| panic!("frames end with a blank line: {text:?}"));
    body.split("\n\n")
        .map(|frame| {
            let (event, data) = frame
                .split_once('\n')
                .unwrap_or_else(|| panic!("two lines: {frame:?}"));
            let name = event.strip_prefix("event: ").expect("event line");
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").expect("data line"))
                .expect("JSON");
            // Anthropic's rule: the JSON `type` equals the event name.
            assert_eq!(data["type"], name, "{frame}");
            (name.to_owned(), data)
        })
        .collect()
}

#[test]
fn a_whole_answer_has_anthropics_shape() {
    assert_eq!(
        response("msg_1", "intent", &answer(FinishReason::Stop)),
        json!({
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "intent",
            "content": [{"type": "text", "text": "cancel"}],
            "stop_reason": "end_turn",
            "stop_sequence": null,
            "usage": {"input_tokens": 4, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 8, "output_tokens": 3}
        })
    );
    let stop = |r| response("m", "m", &answer(r))["stop_reason"].clone();
    assert_eq!(stop(FinishReason::Length), "max_tokens");
    assert_eq!(stop(FinishReason::ContentFilter), "refusal");
}

#[test]
fn a_stream_has_anthropics_events_in_order() {
    let s = Stream::new("msg_1", "intent");
    let mut bytes = s.start(12).to_vec();
    bytes.extend_from_slice(&s.open_text(0));
    bytes.extend_from_slice(&s.delta(0, "can"));
    bytes.extend_from_slice(&s.delta(0, "cel"));
    bytes.extend_from_slice(&s.close(0));
    bytes.extend_from_slice(&s.finish(FinishReason::Length, &usage()));
    let got = events(&bytes);
    let expected = vec![
        (
            "message_start",
            json!({"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": "intent",
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 0}}}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": "can"}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": "cel"}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta",
            "delta": {"stop_reason": "max_tokens", "stop_sequence": null},
            "usage": {"input_tokens": 4, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 8, "output_tokens": 3}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ];
    let expected: Vec<(String, Value)> = expected
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn a_delta_frame_is_exact() {
    let frame = Stream::new("msg_1", "intent").delta(0, "a\"\n");
    assert_eq!(
        std::str::from_utf8(&frame).expect("UTF-8"),
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"a\\\"\\n\"}}\n\n"
    );
}

#[test]
fn a_stream_error_is_an_error_event() {
    let frame = Stream::new("msg_1", "intent").error(&GatewayError::unavailable("Overloaded"));
    assert_eq!(
        events(&frame),
        vec![(
            "error".to_owned(),
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
        )]
    );
}

fn with_calls(text: &str, calls: Vec<rightfit_types::ToolCall>) -> ChatResponse {
    let mut a = answer(FinishReason::ToolCalls);
    a.choices[0].text = text.into();
    a.choices[0].tool_calls = calls;
    a
}

#[test]
fn tool_calls_are_tool_use_blocks_after_the_text() {
    let call = |id: &str, args: &str| rightfit_types::ToolCall {
        id: id.into(),
        name: "get_weather".into(),
        arguments: args.into(),
    };
    let body = response(
        "msg_1",
        "m",
        &with_calls(
            "Checking.",
            vec![
                call("toolu_1", r#"{"city":"Paris"}"#),
                call("toolu_2", "{}"),
            ],
        ),
    );
    assert_eq!(
        body["content"],
        json!([
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}},
        ])
    );
    assert_eq!(body["stop_reason"], "tool_use");
    // No text: no text block. Arguments that are not a JSON object become {}.
    let body = response("msg_1", "m", &with_calls("", vec![call("t", "[1, 2")]));
    assert_eq!(
        body["content"],
        json!([{"type": "tool_use", "id": "t", "name": "get_weather", "input": {}}])
    );
}

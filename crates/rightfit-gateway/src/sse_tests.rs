use rightfit_types::{FinishReason, StreamEvent, Timings, Usage};
use serde_json::{Value, json};

use super::Sse;
use crate::api::Api;

/// (event name or "", data) of every frame, in order.
fn frames(api: Api, events: &[StreamEvent]) -> Vec<(String, Value)> {
    let mut sse = Sse::new(api, "id_1", "m", 7, false, 1);
    let mut out = Vec::new();
    for e in events {
        for frame in sse.frames(e) {
            let text = std::str::from_utf8(&frame).expect("UTF-8").to_owned();
            for block in text.split("\n\n").filter(|b| !b.is_empty()) {
                let mut name = String::new();
                let mut data = Value::Null;
                for line in block.lines() {
                    if let Some(n) = line.strip_prefix("event: ") {
                        name = n.to_owned();
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(d).unwrap_or(Value::String(d.to_owned()));
                    }
                }
                out.push((name, data));
            }
        }
    }
    out
}

fn delta(text: &str) -> StreamEvent {
    StreamEvent::Delta {
        index: 0,
        text: text.into(),
    }
}

fn call(call: u32, id: Option<&str>, arguments: &str) -> StreamEvent {
    StreamEvent::ToolCall {
        index: 0,
        call,
        id: id.map(str::to_owned),
        name: id.map(|_| "get_weather".to_owned()),
        arguments: arguments.into(),
    }
}

fn end(reason: FinishReason) -> [StreamEvent; 2] {
    [
        StreamEvent::Finish { index: 0, reason },
        StreamEvent::Done {
            usage: Usage::default(),
            timings: Timings::default(),
        },
    ]
}

/// The Anthropic events without `message_start`, `ping` and `message_stop`, each as its name and
/// the fields that matter.
fn anthropic_blocks(events: &[StreamEvent]) -> Vec<Value> {
    frames(Api::Anthropic, events)
        .into_iter()
        .filter(|(n, _)| n.starts_with("content_block") || n == "message_delta")
        .map(|(n, d)| match n.as_str() {
            "content_block_start" => json!([n, d["index"], d["content_block"]]),
            "content_block_delta" => json!([n, d["index"], d["delta"]]),
            "content_block_stop" => json!([n, d["index"]]),
            _ => json!([n, d["delta"]["stop_reason"]]),
        })
        .collect()
}

#[test]
fn anthropic_tool_use_blocks_follow_the_text_block() {
    let mut events = vec![
        delta("Let me check."),
        call(0, Some("toolu_1"), ""),
        call(0, None, "{\"city\":"),
        call(0, None, "\"Paris\"}"),
        call(1, Some("toolu_2"), "{}"),
    ];
    events.extend(end(FinishReason::ToolCalls));
    assert_eq!(
        anthropic_blocks(&events),
        vec![
            json!(["content_block_start", 0, {"type": "text", "text": ""}]),
            json!(["content_block_delta", 0, {"type": "text_delta", "text": "Let me check."}]),
            json!(["content_block_stop", 0]),
            json!(["content_block_start", 1, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}]),
            json!(["content_block_delta", 1, {"type": "input_json_delta", "partial_json": "{\"city\":"}]),
            json!(["content_block_delta", 1, {"type": "input_json_delta", "partial_json": "\"Paris\"}"}]),
            json!(["content_block_stop", 1]),
            json!(["content_block_start", 2, {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}}]),
            json!(["content_block_delta", 2, {"type": "input_json_delta", "partial_json": "{}"}]),
            json!(["content_block_stop", 2]),
            json!(["message_delta", "tool_use"]),
        ]
    );
}

#[test]
fn anthropic_calls_without_text_start_at_block_0_and_an_empty_answer_has_a_text_block() {
    let mut events = vec![delta(""), call(0, Some("toolu_1"), "{}")];
    events.extend(end(FinishReason::ToolCalls));
    let blocks = anthropic_blocks(&events);
    assert_eq!(blocks[0][0], "content_block_start");
    assert_eq!(blocks[0][1], 0);
    assert_eq!(blocks[0][2]["type"], "tool_use");

    let blocks = anthropic_blocks(&end(FinishReason::Stop));
    assert_eq!(
        blocks,
        vec![
            json!(["content_block_start", 0, {"type": "text", "text": ""}]),
            json!(["content_block_stop", 0]),
            json!(["message_delta", "end_turn"]),
        ]
    );
}

#[test]
fn openai_tool_call_chunks_carry_the_call_then_its_arguments() {
    let mut events = vec![
        call(0, Some("call_1"), ""),
        call(0, None, "{\"city\":\"Paris\"}"),
    ];
    events.extend(end(FinishReason::ToolCalls));
    let got = frames(Api::OpenAi, &events);
    let deltas: Vec<&Value> = got
        .iter()
        .filter_map(|(_, d)| d.get("choices").and_then(|c| c.get(0)))
        .collect();
    assert_eq!(deltas[0]["delta"]["role"], "assistant");
    assert_eq!(
        deltas[1]["delta"]["tool_calls"],
        json!([{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}])
    );
    assert_eq!(
        deltas[2]["delta"]["tool_calls"],
        json!([{"index": 0, "function": {"arguments": "{\"city\":\"Paris\"}"}}])
    );
    assert_eq!(deltas[3]["finish_reason"], "tool_calls");
    assert_eq!(got.last().map(|(_, d)| d.clone()), Some(json!("[DONE]")));
}

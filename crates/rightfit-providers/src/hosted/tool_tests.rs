//! Tool calls a provider gets wrong, in each protocol: a call without a name, arguments for a
//! call that never began, calls out of order, a call after its choice finished. Each is a
//! protocol error with a detail that says what was wrong, never a panic or a silent answer.

use rightfit_types::{ChatRequest, FinishReason, Message, StreamEvent, Tool, ToolChoice};
use serde_json::{Value, json};

use super::anthropic::Anthropic;
use super::codec::{Codec, Decoder, StreamFault};
use super::gemini::Gemini;
use super::openai::OpenAi;
use super::sse::SseEvent;

const OPENAI: OpenAi = OpenAi { compatible: false };
const COMPAT: OpenAi = OpenAi { compatible: true };

fn event(name: Option<&str>, data: &Value) -> SseEvent {
    SseEvent {
        event: name.map(str::to_owned),
        data: data.to_string(),
        id: None,
    }
}

/// Feeds the events; everything they produce, or the first fault.
fn run(decoder: &mut dyn Decoder, events: &[SseEvent]) -> Result<Vec<StreamEvent>, StreamFault> {
    let mut out = Vec::new();
    for e in events {
        out.extend(decoder.event(e)?);
    }
    Ok(out)
}

fn protocol_detail(result: Result<Vec<StreamEvent>, StreamFault>) -> String {
    match result {
        Err(StreamFault::Protocol(detail)) => detail,
        other => panic!("expected a protocol fault, got {other:?}"),
    }
}

fn openai_delta(calls: Value) -> SseEvent {
    event(
        None,
        &json!({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": calls},
            "finish_reason": null}]}),
    )
}

fn with_tools() -> ChatRequest {
    ChatRequest::chat(vec![Message::user("hi")]).with_tools(
        vec![Tool::function("f", "", json!({"type": "object"}))],
        ToolChoice::Auto,
    )
}

#[test]
fn openai_streams_calls_in_fragments() {
    let mut d = OPENAI.decoder(1);
    let events = run(
        d.as_mut(),
        &[
            openai_delta(json!([{"index": 0, "id": "call_1", "type": "function",
                "function": {"name": "f", "arguments": ""}}])),
            openai_delta(json!([{"index": 0, "function": {"arguments": "{\"a\":"}}])),
            openai_delta(json!([{"index": 0, "function": {"arguments": "1}"}}])),
            event(
                None,
                &json!({"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            ),
        ],
    )
    .unwrap();
    assert_eq!(
        events[0],
        StreamEvent::ToolCall {
            index: 0,
            call: 0,
            id: Some("call_1".into()),
            name: Some("f".into()),
            arguments: String::new()
        }
    );
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(
        events[3],
        StreamEvent::Finish {
            index: 0,
            reason: FinishReason::ToolCalls
        }
    );
}

#[test]
fn openai_lies_are_protocol_errors() {
    let start = |k: u32, id: &str| {
        openai_delta(json!([{"index": k, "id": id, "function": {"name": "f", "arguments": ""}}]))
    };
    let nameless =
        openai_delta(json!([{"index": 0, "id": "call_1", "function": {"arguments": "{}"}}]));
    let detail = protocol_detail(run(OPENAI.decoder(1).as_mut(), &[nameless]));
    assert!(detail.contains("without a function name"), "{detail}");

    let orphan = openai_delta(json!([{"index": 1, "function": {"arguments": "{}"}}]));
    let detail = protocol_detail(run(OPENAI.decoder(1).as_mut(), &[orphan]));
    assert!(detail.contains("never began"), "{detail}");

    let late = openai_delta(json!([{"index": 0, "function": {"arguments": "x"}}]));
    let detail = protocol_detail(run(
        OPENAI.decoder(1).as_mut(),
        &[start(0, "a"), start(1, "b"), late],
    ));
    assert!(detail.contains("out of order"), "{detail}");

    // OpenAI always gives ids; a compatible server that does not gets one made up.
    let idless = openai_delta(json!([{"index": 0, "function": {"name": "f"}}]));
    let detail = protocol_detail(run(
        OPENAI.decoder(1).as_mut(),
        std::slice::from_ref(&idless),
    ));
    assert!(detail.contains("without an `id`"), "{detail}");
    let events = run(COMPAT.decoder(1).as_mut(), &[idless]).unwrap();
    assert!(matches!(&events[0], StreamEvent::ToolCall { id: Some(id), .. } if id == "call_0_0"));

    let whole = json!({"id": "c", "choices": [{"index": 0, "finish_reason": "tool_calls",
        "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"arguments": "{}"}}]}}]});
    let err = OPENAI.parse_chat(whole).unwrap_err();
    assert!(
        err.contains("tool_calls[0]") && err.contains("name"),
        "{err}"
    );
}

fn anthropic_events(blocks: &[Value]) -> Vec<SseEvent> {
    let mut events = vec![event(
        Some("message_start"),
        &json!({"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 1}}}),
    )];
    events.extend(blocks.iter().map(|b| {
        let kind = b["type"].as_str().unwrap_or_default().to_owned();
        event(Some(&kind), b)
    }));
    events
}

#[test]
fn anthropic_lies_are_protocol_errors() {
    let codec = Anthropic::default();
    let nameless = anthropic_events(&[json!({"type": "content_block_start", "index": 0,
        "content_block": {"type": "tool_use", "id": "toolu_1", "input": {}}})]);
    let detail = protocol_detail(run(codec.stream_decoder(&with_tools()).as_mut(), &nameless));
    assert!(detail.contains("without a `name`"), "{detail}");

    let into_text = anthropic_events(&[
        json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": "{}"}}),
    ]);
    let detail = protocol_detail(run(
        codec.stream_decoder(&with_tools()).as_mut(),
        &into_text,
    ));
    assert!(
        detail.contains("tool arguments for content block 0"),
        "{detail}"
    );

    let whole = json!({"id": "m", "type": "message", "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_1", "input": {}}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 1, "output_tokens": 1}});
    let err = codec.parse_reply(whole, &with_tools()).unwrap_err();
    assert!(err.contains("content[0]") && err.contains("name"), "{err}");
}

#[test]
fn anthropic_call_without_input_deltas_has_its_start_input() {
    let codec = Anthropic::default();
    let events = anthropic_events(&[
        json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}}),
        json!({"type": "content_block_stop", "index": 0}),
    ]);
    let out = run(codec.stream_decoder(&with_tools()).as_mut(), &events).unwrap();
    let arguments: String = out
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCall { arguments, .. } => Some(arguments.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(arguments, "{}");
}

#[test]
fn gemini_lies_are_protocol_errors() {
    let nameless = json!({"candidates": [{"index": 0, "finishReason": "STOP",
        "content": {"role": "model", "parts": [{"functionCall": {"args": {}}}]}}]});
    let err = Gemini.parse_chat(nameless.clone()).unwrap_err();
    assert!(err.contains("functionCall 0 without a `name`"), "{err}");
    let detail = protocol_detail(run(Gemini.decoder(1).as_mut(), &[event(None, &nameless)]));
    assert!(detail.contains("without a `name`"), "{detail}");

    let finished = json!({"candidates": [{"index": 0, "finishReason": "STOP",
        "content": {"role": "model", "parts": [{"text": "done"}]}}]});
    let late = json!({"candidates": [{"index": 0,
        "content": {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]}}]});
    let detail = protocol_detail(run(
        Gemini.decoder(1).as_mut(),
        &[event(None, &finished), event(None, &late)],
    ));
    assert!(detail.contains("after its finishReason"), "{detail}");

    let bad_args = json!({"candidates": [{"index": 0, "finishReason": "STOP",
        "content": {"role": "model", "parts": [{"functionCall": {"name": "f", "args": [1]}}]}}]});
    let err = Gemini.parse_chat(bad_args).unwrap_err();
    assert!(err.contains("not an object"), "{err}");
}

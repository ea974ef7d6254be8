//! Tests of the Anthropic stream decoder against the event sequences the API documents.

use super::tests::codec;
use super::*;
use crate::hosted::codec::StreamFault;
use crate::hosted::sse::SseParser;
#[allow(unused_imports)]
use rightfit_types::{StreamEvent, Timings};

/// Feeds a whole SSE text to a fresh decoder: the events of every SSE event, then those of
/// `end()`, or the first fault.
fn decode(sse: &str) -> Result<Vec<StreamEvent>, StreamFault> {
    let mut decoder = codec().decoder(1);
    let mut out = Vec::new();
    for event in SseParser::new().feed(sse.as_bytes()) {
        out.extend(decoder.event(&event)?);
    }
    out.extend(decoder.end()?);
    Ok(out)
}

fn sse(events: &[(&str, Value)]) -> String {
    events
        .iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect()
}

fn delta(text: &str) -> StreamEvent {
    StreamEvent::Delta {
        index: 0,
        text: text.into(),
    }
}

fn done(prompt: u32, completion: u32, cached: u32) -> StreamEvent {
    StreamEvent::Done {
        usage: Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            cached_prompt_tokens: cached,
        },
        timings: Timings::default(),
    }
}

fn message_start(usage: Value) -> (&'static str, Value) {
    (
        "message_start",
        json!({"type": "message_start", "message": {
            "id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "type": "message",
            "role": "assistant", "content": [], "model": "claude-sonnet-4-5",
            "stop_reason": null, "stop_sequence": null, "usage": usage}}),
    )
}

fn text_stream() -> Vec<(&'static str, Value)> {
    vec![
        message_start(json!({"input_tokens": 25, "output_tokens": 1})),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
                   "content_block": {"type": "text", "text": ""}}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "text_delta", "text": "Hello"}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "text_delta", "text": "! 👋"}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta",
                   "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                   "usage": {"output_tokens": 15}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]
}

#[test]
fn streams_text() {
    assert_eq!(
        decode(&sse(&text_stream())).unwrap(),
        vec![
            delta("Hello"),
            delta("! 👋"),
            StreamEvent::Finish {
                index: 0,
                reason: FinishReason::Stop,
            },
            done(25, 15, 0),
        ]
    );
}

#[test]
fn done_comes_with_message_stop_not_with_end() {
    let mut decoder = codec().decoder(1);
    let events = SseParser::new().feed(sse(&text_stream()).as_bytes());
    let (last, rest) = events.split_last().unwrap();
    for event in rest {
        let out = decoder.event(event).unwrap();
        assert!(!out.iter().any(|e| matches!(e, StreamEvent::Done { .. })));
    }
    let out = decoder.event(last).unwrap();
    assert!(matches!(out.last(), Some(StreamEvent::Done { .. })));
    assert_eq!(decoder.end().unwrap(), Vec::new());
    let fault = decoder.event(last).unwrap_err();
    assert!(matches!(fault, StreamFault::Protocol(m) if m.contains("after message_stop")));
}

#[test]
fn streams_forced_tool_json_as_text_with_cumulative_usage() {
    let stream = sse(&[
        message_start(json!({"input_tokens": 472, "output_tokens": 2,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2048})),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block":
                {"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                 "name": "respond", "input": {}}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "input_json_delta", "partial_json": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "input_json_delta", "partial_json": "{\"answer\": "}}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "input_json_delta", "partial_json": "4}"}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta",
                   "delta": {"stop_reason": "tool_use", "stop_sequence": null},
                   "usage": {"output_tokens": 89}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]);
    let events = decode(&stream).unwrap();
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Delta { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, r#"{"answer": 4}"#);
    assert_eq!(
        events[events.len() - 2..],
        [
            StreamEvent::Finish {
                index: 0,
                reason: FinishReason::Stop,
            },
            done(472 + 2048, 89, 2048),
        ]
    );
}

#[test]
fn thinking_and_unknown_events_are_skipped() {
    let stream = sse(&[
        message_start(json!({"input_tokens": 10, "output_tokens": 1})),
        ("a_new_event", json!({"type": "a_new_event", "stuff": [1]})),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
                   "content_block": {"type": "thinking", "thinking": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "thinking_delta", "thinking": "Hmm, 2 + 2..."}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM"}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 1,
                   "content_block": {"type": "text", "text": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1,
                   "delta": {"type": "text_delta", "text": "4"}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 1}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "max_tokens"},
                   "usage": {"output_tokens": 30}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]);
    assert_eq!(
        decode(&stream).unwrap(),
        vec![
            delta("4"),
            StreamEvent::Finish {
                index: 0,
                reason: FinishReason::Length,
            },
            done(10, 30, 0),
        ]
    );
}

#[test]
fn message_delta_usage_replaces_what_it_restates() {
    let mut events = text_stream();
    events[6].1["usage"] = json!({"input_tokens": 30, "cache_read_input_tokens": 7,
                                  "output_tokens": 16});
    let out = decode(&sse(&events)).unwrap();
    assert_eq!(out.last(), Some(&done(37, 16, 7)));
}

#[test]
fn type_from_data_when_there_is_no_event_line() {
    let stream: String = text_stream()
        .iter()
        .map(|(_, data)| format!("data: {data}\n\n"))
        .collect();
    assert_eq!(
        decode(&stream).unwrap(),
        decode(&sse(&text_stream())).unwrap()
    );
}

#[test]
fn truncation_at_every_stage_is_reported() {
    let events = text_stream();
    for cut in 0..events.len() {
        let fault = decode(&sse(&events[..cut])).unwrap_err();
        let StreamFault::Truncated(message) = &fault else {
            panic!("cut after {cut} events: {fault:?}");
        };
        let expected = match cut {
            0 => "before message_start",
            1 => "before message_delta (no stop reason) and message_stop",
            2..=5 => "inside content block 0 (text)",
            6 => "before message_delta",
            _ => "after message_delta, before message_stop",
        };
        assert!(message.contains(expected), "cut {cut}: {message}");
    }
}

#[test]
fn error_event_is_an_upstream_fault() {
    let mut events = text_stream();
    events.truncate(4);
    events.push((
        "error",
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ));
    assert_eq!(
        decode(&sse(&events)).unwrap_err(),
        StreamFault::Upstream {
            message: "Overloaded".into(),
            kind: Some("overloaded_error".into()),
        }
    );
    let odd = "event: error\ndata: {\"type\":\"error\",\"detail\":\"boom\"}\n\n";
    assert_eq!(
        decode(odd).unwrap_err(),
        StreamFault::Upstream {
            message: r#"{"type":"error","detail":"boom"}"#.into(),
            kind: None,
        }
    );
}

#[test]
fn malformed_streams_are_protocol_faults() {
    let protocol = |sse: &str| match decode(sse) {
        Err(StreamFault::Protocol(m)) => m,
        other => panic!("{sse}: {other:?}"),
    };
    let m = protocol("event: message_start\ndata: {\"type\": \"message_start\", \"mess\n\n");
    assert!(m.contains("not JSON"), "{m}");
    assert!(protocol("event: ping\ndata: ping\n\n").contains("not JSON"));

    let events = text_stream();
    // A delta before message_start.
    let m = protocol(&sse(&events[3..4]));
    assert!(m.contains("before message_start"), "{m}");
    // Two message_starts.
    let m = protocol(&sse(&[events[0].clone(), events[0].clone()]));
    assert!(m.contains("message_start event after message_start"), "{m}");
    // A delta for a block that was never started.
    let mut wrong = events.clone();
    wrong[3].1["index"] = json!(5);
    assert!(protocol(&sse(&wrong)).contains("content block 5"));
    // A block that starts while another is open.
    let mut twice = events[..2].to_vec();
    twice.push(events[1].clone());
    assert!(protocol(&sse(&twice)).contains("still open"));
    // message_stop with a block open.
    let mut early = events[..4].to_vec();
    early.push(events[7].clone());
    assert!(protocol(&sse(&early)).contains("still open"));
    // Wrong shapes inside an event.
    let mut bad = events.clone();
    bad[3].1["delta"] = json!({"type": "text_delta", "text": 5});
    assert!(protocol(&sse(&bad)).contains("content_block_delta"));
    let mut untyped = events.clone();
    untyped[3].1["delta"] = json!({"text": "x"});
    assert!(protocol(&sse(&untyped)).contains("without `type`"));
    let mut no_message = events.clone();
    no_message[0].1 = json!({"type": "message_start"});
    assert!(protocol(&sse(&no_message)).contains("message_start"));
}

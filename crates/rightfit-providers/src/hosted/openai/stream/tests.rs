//! Tests of the OpenAI stream decoder, against chunks shaped like the OpenAI API reference's
//! streaming example and what OpenAI-compatible servers (vLLM, llama.cpp, Ollama) send.

use rightfit_types::{FinishReason, StreamEvent, TokenLogprob, TopLogprob, Usage};
use serde_json::{Value, json};

use crate::hosted::codec::{Codec, Decoder, StreamFault};
use crate::hosted::openai::OpenAi;
use crate::hosted::sse::SseEvent;

const OPENAI: OpenAi = OpenAi { compatible: false };
const COMPAT: OpenAi = OpenAi { compatible: true };

fn data(text: &str) -> SseEvent {
    SseEvent {
        event: None,
        data: text.to_owned(),
        id: None,
    }
}

fn chunk(v: Value) -> SseEvent {
    data(&v.to_string())
}

/// Feeds events; returns everything they produce, or the first fault.
fn run(decoder: &mut dyn Decoder, events: &[SseEvent]) -> Result<Vec<StreamEvent>, StreamFault> {
    let mut out = Vec::new();
    for event in events {
        out.extend(decoder.event(event)?);
    }
    Ok(out)
}

fn delta(index: u32, text: &str) -> StreamEvent {
    StreamEvent::Delta {
        index,
        text: text.into(),
    }
}

fn finish(index: u32, reason: FinishReason) -> StreamEvent {
    StreamEvent::Finish { index, reason }
}

fn done(prompt: u32, completion: u32) -> StreamEvent {
    StreamEvent::Done {
        usage: Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            cached_prompt_tokens: 0,
        },
        timings: Default::default(),
    }
}

/// The chunks of the API reference's streaming example, with `include_usage`.
fn reference_stream() -> Vec<SseEvent> {
    let c = |choices: Value, usage: Value| {
        chunk(
            json!({"id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1694268190,
                     "model": "gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb",
                     "choices": choices, "usage": usage}),
        )
    };
    vec![
        c(
            json!([{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": null},
                    "logprobs": null, "finish_reason": null}]),
            Value::Null,
        ),
        c(
            json!([{"index": 0, "delta": {"content": "Hello"}, "logprobs": null, "finish_reason": null}]),
            Value::Null,
        ),
        c(
            json!([{"index": 0, "delta": {"content": "!"}, "logprobs": null, "finish_reason": null}]),
            Value::Null,
        ),
        c(
            json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"}]),
            Value::Null,
        ),
        c(
            json!([]),
            json!({"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11,
                   "prompt_tokens_details": {"cached_tokens": 0}}),
        ),
        data("[DONE]"),
    ]
}

#[test]
fn reference_stream_decodes() {
    for codec in [OPENAI, COMPAT] {
        let mut d = codec.decoder(1);
        assert_eq!(
            run(d.as_mut(), &reference_stream()).unwrap(),
            vec![
                delta(0, "Hello"),
                delta(0, "!"),
                finish(0, FinishReason::Stop),
                done(9, 2)
            ]
        );
        // After Done, more events and the end of the connection are ignored.
        assert!(d.event(&data("{\"choices\": 7}")).unwrap().is_empty());
        assert!(d.end().unwrap().is_empty());
    }
}

#[test]
fn stream_logprobs_and_several_choices() {
    let mut d = OPENAI.decoder(2);
    let events = [
        chunk(json!({"id": "c", "choices": [
            {"index": 1, "delta": {"content": "B"},
             "logprobs": {"content": [{"token": "B", "logprob": -0.1, "bytes": [66],
                                       "top_logprobs": [{"token": "B", "logprob": -0.1, "bytes": [66]}]}],
                          "refusal": null},
             "finish_reason": "length"},
            {"index": 0, "delta": {"content": "A"},
             "logprobs": {"content": [{"token": "A", "logprob": -2.0, "top_logprobs": []}]},
             "finish_reason": null}]})),
        chunk(json!({"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})),
        data("[DONE]"),
    ];
    assert_eq!(
        run(d.as_mut(), &events).unwrap(),
        vec![
            delta(1, "B"),
            StreamEvent::Logprobs {
                index: 1,
                tokens: vec![TokenLogprob {
                    token: "B".into(),
                    logprob: -0.1,
                    top: vec![TopLogprob {
                        token: "B".into(),
                        logprob: -0.1
                    }],
                }],
            },
            finish(1, FinishReason::Length),
            delta(0, "A"),
            StreamEvent::Logprobs {
                index: 0,
                tokens: vec![TokenLogprob {
                    token: "A".into(),
                    logprob: -2.0,
                    top: vec![],
                }],
            },
            finish(0, FinishReason::Stop),
            done(0, 0),
        ]
    );
}

#[test]
fn stream_refusal_finishes_as_content_filter() {
    let mut d = OPENAI.decoder(1);
    let events = [
        chunk(json!({"id": "c", "choices": [{"index": 0, "delta": {"refusal": "I can't."}}]})),
        chunk(json!({"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})),
    ];
    assert_eq!(
        run(d.as_mut(), &events).unwrap(),
        vec![finish(0, FinishReason::ContentFilter)]
    );
}

#[test]
fn missing_done_in_each_mode() {
    let without_done = &reference_stream()[..5];
    let mut d = COMPAT.decoder(1);
    run(d.as_mut(), without_done).unwrap();
    assert_eq!(d.end().unwrap(), vec![done(9, 2)]);

    let mut d = OPENAI.decoder(1);
    run(d.as_mut(), without_done).unwrap();
    assert_eq!(
        d.end().unwrap_err(),
        StreamFault::Truncated("the stream ended without [DONE]".into())
    );

    // A compatible server that stops before every choice finished was cut.
    let mut d = COMPAT.decoder(2);
    run(d.as_mut(), &reference_stream()[..2]).unwrap();
    let StreamFault::Truncated(message) = d.end().unwrap_err() else {
        panic!("expected Truncated")
    };
    assert!(message.contains("choices 0, 1 never finished"), "{message}");
}

#[test]
fn compatible_stream_without_ids_or_usage() {
    // Ollama / llama.cpp style: no id, usage-less chunks, finish and text in one chunk.
    let mut d = COMPAT.decoder(1);
    let events = [
        chunk(json!({"object": "chat.completion.chunk", "choices": [
            {"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]})),
        data("[DONE]"),
    ];
    assert_eq!(
        run(d.as_mut(), &events).unwrap(),
        vec![delta(0, "ok"), finish(0, FinishReason::Stop), done(0, 0)]
    );
}

#[test]
fn usage_without_choices_and_repeated_finish() {
    let mut d = COMPAT.decoder(1);
    let events = [
        chunk(
            json!({"choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": "stop"}]}),
        ),
        // vLLM may repeat the finish reason next to the usage; the usage chunk may lack choices.
        chunk(
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 1, "completion_tokens": 1}}),
        ),
        chunk(json!({"usage": {"prompt_tokens": 4, "completion_tokens": 1}})),
    ];
    assert_eq!(
        run(d.as_mut(), &events).unwrap(),
        vec![delta(0, "x"), finish(0, FinishReason::Stop)]
    );
    assert_eq!(d.end().unwrap(), vec![done(4, 1)]);
}

#[test]
fn error_payload_mid_stream() {
    let mut d = OPENAI.decoder(1);
    let events = [
        reference_stream()[1].clone(),
        chunk(
            json!({"error": {"message": "The server had an error", "type": "server_error",
                              "param": null, "code": null}}),
        ),
    ];
    assert_eq!(
        run(d.as_mut(), &events).unwrap_err(),
        StreamFault::Upstream {
            message: "The server had an error".into(),
            kind: Some("server_error".into()),
        }
    );
    let mut d = COMPAT.decoder(1);
    assert_eq!(
        d.event(&data(r#"{"error": "out of memory"}"#)).unwrap_err(),
        StreamFault::Upstream {
            message: "out of memory".into(),
            kind: None,
        }
    );
    // vLLM's older error object.
    let vllm = json!({"object": "error", "message": "too long", "type": "BadRequestError",
                      "param": null, "code": 400});
    assert_eq!(
        COMPAT.decoder(1).event(&chunk(vllm)).unwrap_err(),
        StreamFault::Upstream {
            message: "too long".into(),
            kind: Some("BadRequestError".into()),
        }
    );
}

#[test]
fn error_event_type() {
    let event = |name: &str, data: &str| SseEvent {
        event: Some(name.into()),
        data: data.into(),
        id: None,
    };
    let mut d = COMPAT.decoder(1);
    assert_eq!(
        d.event(&event(
            "error",
            r#"{"error": {"code": 500, "message": "slot unavailable", "type": "server_error"}}"#
        ))
        .unwrap_err(),
        StreamFault::Upstream {
            message: "slot unavailable".into(),
            kind: Some("server_error".into()),
        }
    );
    assert_eq!(
        d.event(&event("error", "upstream went away")).unwrap_err(),
        StreamFault::Upstream {
            message: "upstream went away".into(),
            kind: None,
        }
    );
    // Unknown types are skipped; `message` is the default type.
    assert!(d.event(&event("ping", "{}")).unwrap().is_empty());
    assert_eq!(
        d.event(&event(
            "message",
            r#"{"choices": [{"index": 0, "delta": {"content": "a"}}]}"#
        ))
        .unwrap(),
        vec![delta(0, "a")]
    );
}

#[test]
fn malformed_stream_events() {
    let mut d = OPENAI.decoder(1);
    let long = format!("{{\"choices\": [{}", "x".repeat(500));
    let StreamFault::Protocol(message) = d.event(&data(&long)).unwrap_err() else {
        panic!("expected Protocol")
    };
    assert!(message.contains("not JSON"), "{message}");
    assert!(message.len() < 300, "quotes an excerpt: {message}");

    let bad = [
        (
            json!({"choices": [{"index": 1, "delta": {"content": "x"}}]}),
            "choice 1",
        ),
        (
            json!({"choices": [{"index": 0, "delta": {"content": 1}}]}),
            "delta.content",
        ),
        (json!({"choices": [{"delta": {}}]}), "no `index`"),
        (json!({"choices": "x"}), "`choices`"),
        (
            json!({"choices": [], "usage": {"prompt_tokens": "9"}}),
            "usage.prompt_tokens",
        ),
        (json!([1, 2]), "not an object"),
    ];
    for (chunk_value, expected) in bad {
        let mut d = COMPAT.decoder(1);
        match d.event(&chunk(chunk_value.clone())) {
            Err(StreamFault::Protocol(m)) => assert!(m.contains(expected), "{m} / {chunk_value}"),
            other => panic!("{chunk_value}: {other:?}"),
        }
    }
}

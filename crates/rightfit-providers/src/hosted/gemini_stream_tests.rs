//! Tests of the Gemini stream decoder against the event sequences the API documents.

use super::tests::{expected_logprobs, logprobs_result};
use super::*;
use crate::hosted::codec::StreamFault;
use crate::hosted::sse::{SseEvent, SseParser};
#[allow(unused_imports)]
use rightfit_types::{StreamEvent, Timings};

/// Feeds each chunk as one SSE `data:` event (as `alt=sse` sends them) to a fresh decoder for
/// `n` candidates: the events of every chunk, then those of `end()`, or the first fault.
fn decode(n: u32, chunks: &[Value]) -> Result<Vec<StreamEvent>, StreamFault> {
    let sse: String = chunks
        .iter()
        .map(|c| format!("data: {c}\r\n\r\n"))
        .collect();
    decode_sse(n, &sse)
}

fn decode_sse(n: u32, sse: &str) -> Result<Vec<StreamEvent>, StreamFault> {
    let mut decoder = Gemini.decoder(n);
    let mut out = Vec::new();
    for event in SseParser::new().feed(sse.as_bytes()) {
        out.extend(decoder.event(&event)?);
    }
    out.extend(decoder.end()?);
    Ok(out)
}

fn chunk(text: &str, finish: Option<&str>, prompt: u32, candidates: u32) -> Value {
    let mut c = json!({"content": {"parts": [{"text": text}], "role": "model"}, "index": 0});
    if let Some(finish) = finish {
        c["finishReason"] = json!(finish);
    }
    json!({
        "candidates": [c],
        "usageMetadata": {"promptTokenCount": prompt, "candidatesTokenCount": candidates,
                          "totalTokenCount": prompt + candidates},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-1",
    })
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
        timings: Timings::default(),
    }
}

#[test]
fn streams_one_candidate() {
    let chunks = [
        chunk("Bon", None, 7, 1),
        chunk("jour", None, 7, 2),
        chunk(" !", Some("STOP"), 7, 3),
    ];
    assert_eq!(
        decode(1, &chunks).unwrap(),
        vec![
            delta(0, "Bon"),
            delta(0, "jour"),
            delta(0, " !"),
            finish(0, FinishReason::Stop),
            done(7, 3),
        ]
    );
}

#[test]
fn done_waits_for_the_end_of_the_stream() {
    let mut decoder = Gemini.decoder(1);
    let last = SseEvent {
        data: chunk("x", Some("MAX_TOKENS"), 3, 4).to_string(),
        ..SseEvent::default()
    };
    assert_eq!(
        decoder.event(&last).unwrap(),
        vec![delta(0, "x"), finish(0, FinishReason::Length)]
    );
    // Usage that arrives after the finish still counts.
    let usage_only = SseEvent {
        data: json!({"usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 5,
                                       "thoughtsTokenCount": 2}})
        .to_string(),
        ..SseEvent::default()
    };
    assert_eq!(decoder.event(&usage_only).unwrap(), Vec::new());
    assert_eq!(decoder.end().unwrap(), vec![done(3, 7)]);
}

#[test]
fn streams_several_candidates_with_thoughts_and_logprobs() {
    let first = json!({"candidates": [
        {"content": {"parts": [{"text": "thinking...", "thought": true}]}, "index": 0},
        {"content": {"parts": [{"text": "B1"}]}, "index": 1},
    ]});
    let mut with_logprobs = json!({"content": {"parts": [{"text": "A"}]}});
    with_logprobs["logprobsResult"] = logprobs_result();
    let second = json!({"candidates": [
        with_logprobs,
        {"content": {"parts": [{"text": "B2"}]}, "index": 1, "finishReason": "SAFETY"},
    ]});
    let third = json!({
        "candidates": [
            {"content": {"parts": [{"text": ""}]}, "finishReason": "STOP"},
            {"finishReason": "SAFETY", "index": 1},
        ],
        "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 6,
                          "thoughtsTokenCount": 3, "cachedContentTokenCount": 2},
    });
    assert_eq!(
        decode(2, &[first, second, third]).unwrap(),
        vec![
            delta(1, "B1"),
            delta(0, "A"),
            StreamEvent::Logprobs {
                index: 0,
                tokens: expected_logprobs(),
            },
            delta(1, "B2"),
            finish(1, FinishReason::ContentFilter),
            finish(0, FinishReason::Stop),
            StreamEvent::Done {
                usage: Usage {
                    prompt_tokens: 4,
                    completion_tokens: 9,
                    cached_prompt_tokens: 2,
                },
                timings: Timings::default(),
            },
        ]
    );
}

#[test]
fn blocked_prompt_finishes_every_candidate() {
    let blocked = json!({
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
    });
    assert_eq!(
        decode(2, &[blocked]).unwrap(),
        vec![
            finish(0, FinishReason::ContentFilter),
            finish(1, FinishReason::ContentFilter),
            done(9, 0),
        ]
    );
}

#[test]
fn truncation_at_every_stage_is_reported() {
    let fault = decode(1, &[]).unwrap_err();
    assert_eq!(
        fault,
        StreamFault::Truncated("the Gemini stream ended before its first chunk".into())
    );
    let fault = decode(1, &[chunk("Bon", None, 7, 1), chunk("jour", None, 7, 2)]).unwrap_err();
    assert_eq!(
        fault,
        StreamFault::Truncated(
            "the Gemini stream ended before candidate 0 finished (no finishReason)".into()
        )
    );
    // Candidate 1 finished, candidate 0 did not.
    let mut one = chunk("x", Some("STOP"), 1, 1);
    one["candidates"][0]["index"] = json!(1);
    let fault = decode(2, &[chunk("y", None, 1, 1), one.clone()]).unwrap_err();
    assert!(matches!(fault, StreamFault::Truncated(m) if m.contains("candidate 0")));
    let fault = decode(3, &[chunk("y", Some("STOP"), 1, 1), one]).unwrap_err();
    assert!(matches!(fault, StreamFault::Truncated(m) if m.contains("candidate 2")));
}

#[test]
fn error_chunk_is_an_upstream_fault() {
    let error = json!({"error": {"code": 503, "message": "The model is overloaded.",
                                 "status": "UNAVAILABLE"}});
    assert_eq!(
        decode(1, &[chunk("Bon", None, 7, 1), error]).unwrap_err(),
        StreamFault::Upstream {
            message: "The model is overloaded.".into(),
            kind: Some("UNAVAILABLE".into()),
        }
    );
}

#[test]
fn malformed_streams_are_protocol_faults() {
    let protocol = |result: Result<Vec<StreamEvent>, StreamFault>| match result {
        Err(StreamFault::Protocol(m)) => m,
        other => panic!("{other:?}"),
    };
    let m = protocol(decode_sse(1, "data: {\"candidates\": [\n\n"));
    assert!(m.contains("not JSON"), "{m}");
    assert!(protocol(decode_sse(1, "data: [DONE]\n\n")).contains("not JSON"));
    let m = protocol(decode(1, &[json!([chunk("a", None, 1, 1)])]));
    assert!(m.contains("GenerateContentResponse"), "{m}");
    let m = protocol(decode(1, &[json!({"candidates": "x"})]));
    assert!(m.contains("GenerateContentResponse"), "{m}");

    let mut far = chunk("a", None, 1, 1);
    far["candidates"][0]["index"] = json!(2);
    let m = protocol(decode(2, &[far]));
    assert!(m.contains("index 2") && m.contains("2 candidate"), "{m}");
    // Without an index the position counts: a second candidate is index 1.
    let two = json!({"candidates": [
        {"content": {"parts": [{"text": "a"}]}},
        {"content": {"parts": [{"text": "b"}]}},
    ]});
    assert!(protocol(decode(1, &[two])).contains("index 1"));

    let m = protocol(decode(
        1,
        &[chunk("a", Some("STOP"), 1, 1), chunk("b", None, 1, 2)],
    ));
    assert!(m.contains("after its finishReason"), "{m}");
}

#[test]
fn a_repeated_finish_reason_finishes_once() {
    let chunks = [
        chunk("a", Some("STOP"), 1, 1),
        chunk("", Some("STOP"), 1, 1),
    ];
    assert_eq!(
        decode(1, &chunks).unwrap(),
        vec![delta(0, "a"), finish(0, FinishReason::Stop), done(1, 1)]
    );
}

//! Fuzz tests of everything the providers read from a server: SSE framing, and each protocol's
//! whole responses, stream events and error bodies (`rightfit_testkit::fuzz`: mutated valid
//! seeds, `RIGHTFIT_FUZZ_CASES` cases). A server that lies gets an error, never a panic; SSE
//! gives the same events however the bytes are split.

use proptest::prelude::*;
use rightfit_testkit::fuzz;
use serde_json::json;

use super::anthropic::Anthropic;
use super::codec::Codec;
use super::gemini::Gemini;
use super::openai::OpenAi;
use super::sse::SseParser;

fn codecs() -> Vec<Box<dyn Codec>> {
    vec![
        Box::new(OpenAi { compatible: false }),
        Box::new(OpenAi { compatible: true }),
        Box::new(Anthropic::default()),
        Box::new(Gemini),
    ]
}

/// Valid whole responses of each protocol, and an error body of each.
fn bodies() -> Vec<Vec<u8>> {
    [
        json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
                "finish_reason": "stop", "logprobs": {"content": [{"token": "Hi", "logprob": -0.1,
                "bytes": [72, 105], "top_logprobs": [{"token": "Hi", "logprob": -0.1, "bytes": null}]}]}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}),
        json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
            "content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 3, "output_tokens": 1}}),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]},
            "finishReason": "STOP", "index": 0, "avgLogprobs": -0.1}],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4}}),
        json!({"error": {"message": "bad", "type": "invalid_request_error", "code": null}}),
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}),
        json!({"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}),
    ]
    .iter()
    .map(|v| v.to_string().into_bytes())
    .collect()
}

/// Valid streams of each protocol, as the bytes on the wire.
fn streams() -> Vec<Vec<u8>> {
    let openai = [
        json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0,
            "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}),
        json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0,
            "delta": {"content": "Hel"}, "finish_reason": null}]}),
        json!({"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0,
            "delta": {}, "finish_reason": "stop"}]}),
        json!({"id": "c", "object": "chat.completion.chunk", "choices": [],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}),
    ];
    let mut o: String = openai.iter().map(|c| format!("data: {c}\n\n")).collect();
    o.push_str("data: [DONE]\n\n");
    let anthropic = [
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "m", "type": "message",
            "role": "assistant", "content": [], "model": "c", "usage": {"input_tokens": 3, "output_tokens": 0}}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": "Hel"}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 1}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ];
    let a: String = anthropic
        .iter()
        .map(|(e, d)| format!("event: {e}\r\ndata: {d}\r\n\r\n"))
        .collect();
    let g = [
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}, "index": 0}]}),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]},
            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2}}),
    ];
    let g: String = g
        .iter()
        .map(|c| format!(": keep-alive\ndata: {c}\r\r"))
        .collect();
    vec![o.into_bytes(), a.into_bytes(), g.into_bytes()]
}

/// The events of `bytes`, fed whole.
fn events_of(bytes: &[u8]) -> Vec<super::sse::SseEvent> {
    SseParser::new().feed(bytes)
}

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn sse_events_do_not_depend_on_how_the_bytes_are_split(
        bytes in fuzz::bytes(streams()),
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let whole = events_of(&bytes);
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut parser = SseParser::new();
        let mut pieces = Vec::new();
        let mut from = 0;
        for c in cuts.into_iter().chain([bytes.len()]) {
            pieces.extend(parser.feed(&bytes[from..c]));
            from = c;
        }
        prop_assert_eq!(pieces, whole);
    }

    #[test]
    fn streams_from_a_lying_server_are_read_or_refused(bytes in fuzz::bytes(streams())) {
        let events = events_of(&bytes);
        for codec in codecs() {
            for n in [1, 2] {
                let mut decoder = codec.decoder(n);
                let mut failed = false;
                for e in &events {
                    if decoder.event(e).is_err() {
                        failed = true;
                        break;
                    }
                }
                if !failed {
                    let _ = decoder.end();
                }
            }
        }
    }

    #[test]
    fn whole_answers_and_error_bodies_from_a_lying_server_are_read_or_refused(
        bytes in fuzz::bytes(bodies()),
    ) {
        for codec in codecs() {
            let _ = codec.error_body(&bytes);
            if let Ok(value) = serde_json::from_slice(&bytes) {
                let _ = codec.parse_chat(value);
            }
            if let Ok(embeddings) = codec.embeddings()
                && let Ok(value) = serde_json::from_slice(&bytes)
            {
                let _ = embeddings.parse_embeddings(value);
            }
        }
    }
}

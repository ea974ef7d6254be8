//! Fuzz tests of request parsing, both APIs (`rightfit_testkit::fuzz`: mutated valid bodies,
//! `RIGHTFIT_FUZZ_CASES` cases): any body is a request or a 4xx, never a panic, and what is
//! accepted is within the limits the traffic log relies on.

use proptest::prelude::*;
use rightfit_gateway::wire::{anthropic, openai};
use rightfit_testkit::fuzz;
use rightfit_types::{MAX_REQUEST_DEPTH, json_depth};
use serde_json::json;

fn bodies() -> Vec<Vec<u8>> {
    [
        json!({"model": "triage", "messages": [{"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
            {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Again"}],
            "temperature": 0.2, "top_p": 0.9, "max_tokens": 16, "stop": ["\n"], "n": 2, "seed": 7,
            "stream": true, "stream_options": {"include_usage": true}, "user": "u",
            "logprobs": true, "top_logprobs": 3,
            "response_format": {"type": "json_schema", "json_schema": {"name": "x",
                "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}},
            "metadata": {"k": [1, {"v": null}]}}),
        json!({"model": "triage", "max_tokens": 16, "system": [{"type": "text", "text": "Be brief."}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                {"role": "assistant", "content": "Hello"}],
            "temperature": 0.5, "top_k": 40, "stop_sequences": ["END"], "stream": false,
            "metadata": {"user_id": "u"}}),
    ]
    .iter()
    .map(|v| v.to_string().into_bytes())
    .collect()
}

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn any_body_is_a_request_or_a_client_error(bytes in fuzz::bytes(bodies())) {
        for parsed in [openai::parse(&bytes), anthropic::parse(&bytes)] {
            match parsed {
                Ok(r) => {
                    prop_assert!(!r.messages.is_empty());
                    prop_assert!(json_depth(&r.params) <= MAX_REQUEST_DEPTH);
                }
                Err(e) => prop_assert!(e.status().is_client_error(), "{:?}", e.status()),
            }
        }
    }
}

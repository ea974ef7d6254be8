use rightfit_types::{Message, Prompt, ResponseFormat, Sampling};
use serde_json::{Value, json};

use super::parse;
use crate::api::Api;
use crate::wire::{GatewayRequest, parse_tests_support};

fn ok(body: &Value) -> GatewayRequest {
    parse_tests_support::accepted(parse, body)
}

/// What the anthropic Python SDK sends for a streamed request with most options set.
#[test]
fn a_full_sdk_request_is_parsed() {
    let body = json!({
        "max_tokens": 64,
        "messages": [
            {"role": "user", "content": "cancel my order"},
            {"role": "assistant", "content": [{"type": "text", "text": "cancel"}]},
            {"role": "user", "content": [{"type": "text", "text": "and"}, {"type": "text", "text": "refund", "cache_control": {"type": "ephemeral"}}]}
        ],
        "model": "intent",
        "metadata": {"user_id": "user-42"},
        "stop_sequences": ["\n\n"],
        "stream": true,
        "system": [{"type": "text", "text": "Classify the intent."}],
        "temperature": 0.3,
        "top_k": 40,
        "top_p": 0.9,
        "service_tier": "auto"
    });
    let request = ok(&body);
    let messages = vec![
        Message::system("Classify the intent."),
        Message::user("cancel my order"),
        Message::assistant("cancel"),
        Message::user("and\nrefund"),
    ];
    assert_eq!(request.api, Api::Anthropic);
    assert_eq!(request.model, "intent");
    assert_eq!(request.messages, messages);
    assert_eq!(request.chat.prompt, Prompt::Messages(messages));
    assert_eq!(request.chat.model, "intent");
    assert_eq!(request.chat.max_tokens, Some(64));
    assert_eq!(
        request.chat.sampling,
        Sampling {
            temperature: Some(0.3),
            top_p: Some(0.9),
            top_k: Some(40),
            seed: None
        }
    );
    assert_eq!(request.chat.stop, ["\n\n"]);
    assert_eq!(request.chat.n, 1);
    assert_eq!(request.chat.logprobs, None);
    assert_eq!(request.chat.response_format, ResponseFormat::Text);
    assert!(request.stream);
    assert!(request.include_usage);
    assert_eq!(request.user.as_deref(), Some("user-42"));
    let mut params = body.clone();
    if let Value::Object(map) = &mut params {
        map.remove("messages");
        map.remove("system");
    }
    assert_eq!(request.params, params);
}

#[test]
fn a_minimal_request_has_the_defaults() {
    let request = ok(
        &json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}], "system": ""}),
    );
    assert_eq!(request.messages, [Message::user("hi")]);
    assert_eq!(request.chat.sampling, Sampling::greedy());
    assert!(!request.stream);
    assert!(
        request.include_usage,
        "Anthropic streams always report usage"
    );
    assert_eq!(request.user, None);
    assert_eq!(request.params, json!({"model": "m", "max_tokens": 1}));
}

#[test]
fn harmless_tool_and_thinking_settings_are_accepted() {
    ok(
        &json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}],
        "tools": [], "tool_choice": {"type": "auto"}, "thinking": {"type": "disabled"}}),
    );
}

#[test]
fn each_refusal_names_its_param() {
    let m = || json!([{"role": "user", "content": "hi"}]);
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"max_tokens": 1, "messages": m()}),
            "model",
            "Missing required parameter: 'model'",
        ),
        (
            json!({"model": "m", "messages": m()}),
            "max_tokens",
            "Missing required parameter: 'max_tokens'",
        ),
        (
            json!({"model": "m", "max_tokens": 0, "messages": m()}),
            "max_tokens",
            "integer from 1",
        ),
        (
            json!({"model": "m", "max_tokens": "9", "messages": m()}),
            "max_tokens",
            "expected an integer",
        ),
        (
            json!({"model": "m", "max_tokens": 1}),
            "messages",
            "Missing",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": []}),
            "messages",
            "at least one message",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": [{"role": "system", "content": "x"}]}),
            "messages[0].role",
            "top-level 'system'",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user"}]}),
            "messages[0].content",
            "Missing",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]}),
            "messages[0].content[0].source.type",
            "Missing",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}]}),
            "messages[0].content[0].tool_use_id",
            "does not answer any tool call",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": m(), "system": 5}),
            "system",
            "expected a string or an array of text parts",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": m(), "system": [{"type": "image"}]}),
            "system[0].type",
            "'image'",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": m(), "tools": [{"name": "f"}]}),
            "tools[0].input_schema",
            "Missing",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": m(), "tool_choice": {"type": "any"}}),
            "tool_choice.type",
            "needs 'tools'",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": m(), "thinking": {"type": "enabled", "budget_tokens": 1024}}),
            "thinking",
            "extended thinking",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": m(), "temperature": 1.5}),
            "temperature",
            "from 0 to 1",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": m(), "top_p": -0.1}),
            "top_p",
            "from 0 to 1",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": m(), "top_k": "many"}),
            "top_k",
            "expected an integer",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": m(), "stop_sequences": "END"}),
            "stop_sequences",
            "expected an array of strings",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": m(), "stop_sequences": ["a", ""]}),
            "stop_sequences[1]",
            "must not be empty",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": m(), "metadata": {"user_id": 7}}),
            "metadata.user_id",
            "expected a string",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": m(), "metadata": "u"}),
            "metadata",
            "expected an object",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": m(), "stream": 1}),
            "stream",
            "expected a boolean",
        ),
    ];
    for (body, param, message) in cases {
        let error = match parse(body.to_string().as_bytes()) {
            Ok(request) => panic!("{body} was accepted: {request:?}"),
            Err(e) => e,
        };
        assert_eq!(error.status().as_u16(), 400, "{body}");
        assert_eq!(error.param(), Some(param), "{body}: {}", error.message());
        assert!(
            error.message().contains(message),
            "{body}: {:?} lacks {message:?}",
            error.message()
        );
        // Anthropic's error body has no `param`: the message itself must name the field.
        let shown = error.anthropic_body()["error"]["message"].to_string();
        assert!(
            shown.contains(param),
            "{body}: {shown} does not name {param}"
        );
    }
}

#[test]
fn a_body_that_is_not_json_is_refused() {
    let error = parse(b"model=m").expect_err("refused");
    assert_eq!(error.status().as_u16(), 400);
    assert_eq!(
        error.anthropic_body()["error"]["type"],
        "invalid_request_error"
    );
}

#[test]
fn max_tokens_is_bounded_as_in_config_files() {
    let max = rightfit_config::project::limits::MAX_TOKENS;
    let body = |n: u64| json!({"model": "m", "max_tokens": n, "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(ok(&body(u64::from(max))).chat.max_tokens, Some(max));
    let e = parse(body(u64::from(max) + 1).to_string().as_bytes()).expect_err("over the bound");
    assert!(e.message().contains("max_tokens"), "{}", e.message());
    assert!(e.status().is_client_error());
}

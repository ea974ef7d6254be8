use rightfit_types::{ImagePart, Message, Tool, ToolCall, ToolChoice};
use serde_json::{Value, json};

use super::parse;
use crate::wire::{GatewayRequest, parse_tests_support};

fn ok(body: &Value) -> GatewayRequest {
    parse_tests_support::accepted(parse, body)
}

fn refused(body: &Value) -> (Option<String>, String) {
    parse_tests_support::refused(parse, body)
}

fn weather() -> Value {
    json!({"name": "get_weather", "description": "Weather in a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}})
}

/// A second turn as the anthropic SDK sends it: the call, then its result with more text.
#[test]
fn tool_use_and_tool_result_blocks_become_calls_and_tool_turns() {
    let body = json!({
        "model": "m", "max_tokens": 64, "system": "Use tools.",
        "messages": [
            {"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
                {"type": "text", "text": "Weather here?"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18 C"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": true,
                 "content": [{"type": "text", "text": "no station"}]},
                {"type": "text", "text": "And tomorrow?"}]}
        ],
        "tools": [weather()],
        "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true}
    });
    let r = ok(&body);
    assert_eq!(
        r.chat.tools,
        vec![Tool::function(
            "get_weather",
            "Weather in a city.",
            json!({"type": "object", "properties": {"city": {"type": "string"}}})
        )]
    );
    assert_eq!(
        r.chat.tool_choice,
        ToolChoice::Function("get_weather".into())
    );
    assert_eq!(r.chat.parallel_tool_calls, Some(false));
    let mut user = Message::user("Weather here?");
    user.images = vec![
        ImagePart {
            url: "data:image/png;base64,iVBORw0KGgo=".into(),
            detail: None,
        },
        ImagePart {
            url: "https://example.com/a.jpg".into(),
            detail: None,
        },
    ];
    let call = |id: &str, city: &str| ToolCall::new(id, "get_weather", &json!({"city": city}));
    assert_eq!(
        r.messages,
        vec![
            Message::system("Use tools."),
            user,
            Message::assistant_calls(
                "Checking.",
                vec![call("toolu_1", "Paris"), call("toolu_2", "Rome")]
            ),
            Message::tool_result("toolu_1", "18 C"),
            Message::tool_result("toolu_2", "Error: no station"),
            Message::user("And tomorrow?"),
        ]
    );
    assert_eq!(
        r.chat.prompt,
        rightfit_types::Prompt::Messages(r.messages.clone())
    );
}

#[test]
fn tool_choices_map_to_the_common_choice() {
    let m = json!([{"role": "user", "content": "x"}]);
    for (choice, expected, parallel) in [
        (json!({"type": "auto"}), ToolChoice::Auto, None),
        (json!({"type": "none"}), ToolChoice::None, None),
        (
            json!({"type": "any", "disable_parallel_tool_use": false}),
            ToolChoice::Required,
            Some(true),
        ),
    ] {
        let r = ok(&json!({"model": "m", "max_tokens": 1, "messages": m,
            "tools": [weather()], "tool_choice": choice}));
        assert_eq!(r.chat.tool_choice, expected, "{choice}");
        assert_eq!(r.chat.parallel_tool_calls, parallel, "{choice}");
    }
    // A user turn of tool results only adds no empty user turn.
    let r = ok(&json!({"model": "m", "max_tokens": 1, "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}]}));
    assert_eq!(r.messages.last(), Some(&Message::tool_result("t", "")));
    assert_eq!(r.messages.len(), 3);
}

#[test]
fn bad_tool_requests_are_refused_by_field() {
    let m = || json!([{"role": "user", "content": "x"}]);
    let cases = [
        (
            json!({"model": "m", "max_tokens": 1, "messages": m(),
                "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
            "tools[0].type",
            "one of Anthropic's own tools",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": m(),
                "tools": [{"type": "computer_20241022", "name": "computer"}]}),
            "tools[0].type",
            "only custom tools",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": m(), "tools": [{"name": "f"}]}),
            "tools[0].input_schema",
            "Missing",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": m(), "tools": [weather()],
                "tool_choice": {"type": "tool", "name": "get_time"}}),
            "tool_choice.name",
            "not among the tools",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": m(),
                "tool_choice": {"type": "any"}}),
            "tool_choice.type",
            "needs 'tools'",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_9", "content": "1"}]}]}),
            "messages[0].content[0].tool_use_id",
            "'toolu_9' does not answer any tool call",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": [{"role": "assistant", "content": [
                {"type": "tool_use", "id": "t", "name": "f", "input": "{}"}]}]}),
            "messages[0].content[0].input",
            "expected an object",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/tiff", "data": "AA=="}}]}]}),
            "messages[0].content[0].source.media_type",
            "'image/tiff'",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [
                {"type": "document", "source": {"type": "text", "data": "x"}}]}]}),
            "messages[0].content[0].type",
            "'document' content is not supported",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": [
                {"role": "user", "content": "x"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t",
                    "content": [{"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}]}]}]}),
            "messages[2].content[0].content[0].type",
            "'image' content is not supported here",
        ),
    ];
    for (body, param, message) in cases {
        let (p, msg) = refused(&body);
        assert_eq!(p.as_deref(), Some(param), "{body}: {msg}");
        assert!(msg.contains(message), "{body}: {msg}");
    }
}

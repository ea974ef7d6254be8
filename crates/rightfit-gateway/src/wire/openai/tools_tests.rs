use rightfit_types::{ImagePart, Message, Role, Tool, ToolCall, ToolChoice};
use serde_json::{Value, json};

use super::parse;
use crate::wire::tools::MAX_TOOLS;
use crate::wire::{GatewayRequest, parse_tests_support};

fn ok(body: &Value) -> GatewayRequest {
    parse_tests_support::accepted(parse, body)
}

fn refused(body: &Value) -> (Option<String>, String) {
    parse_tests_support::refused(parse, body)
}

fn weather() -> Value {
    json!({"type": "function", "function": {
        "name": "get_weather", "description": "Weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
            "required": ["city"]},
        "strict": true}})
}

/// A whole tool-calling conversation as the openai SDKs send its second turn.
#[test]
fn tools_calls_and_results_are_parsed() {
    let body = json!({
        "model": "m",
        "messages": [
            {"role": "system", "content": "Use tools."},
            {"role": "user", "content": [
                {"type": "text", "text": "Weather here?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "18 C"}]}
        ],
        "tools": [weather()],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": false
    });
    let r = ok(&body);
    assert_eq!(
        r.chat.tools,
        vec![Tool {
            name: "get_weather".into(),
            description: "Weather in a city.".into(),
            parameters: json!({"type": "object", "properties": {"city": {"type": "string"}},
                "required": ["city"]}),
            strict: true,
        }]
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
            detail: Some("low".into()),
        },
        ImagePart {
            url: "https://example.com/a.jpg".into(),
            detail: None,
        },
    ];
    assert_eq!(
        r.messages,
        vec![
            Message::system("Use tools."),
            user,
            Message::assistant_calls(
                "",
                vec![ToolCall {
                    id: "call_1".into(),
                    name: "get_weather".into(),
                    // Kept exactly as the client sent it.
                    arguments: "{\"city\": \"Paris\"}".into(),
                }]
            ),
            Message::tool_result("call_1", "18 C"),
        ]
    );
    assert_eq!(r.messages[3].role, Role::Tool);
    // The tools stay in the logged parameters, in the client's shape.
    assert_eq!(r.params["tools"][0]["function"]["name"], "get_weather");
}

#[test]
fn tool_choice_strings_map_to_the_common_choice() {
    for (choice, expected) in [
        ("auto", ToolChoice::Auto),
        ("none", ToolChoice::None),
        ("required", ToolChoice::Required),
    ] {
        let r = ok(
            &json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "tools": [weather()], "tool_choice": choice}),
        );
        assert_eq!(r.chat.tool_choice, expected, "{choice}");
    }
    // A function without parameters gets an empty object schema.
    let r = ok(
        &json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "function", "function": {"name": "now"}}]}),
    );
    assert_eq!(
        r.chat.tools[0].parameters,
        json!({"type": "object", "properties": {}})
    );
}

#[test]
fn bad_tool_requests_are_refused_by_field() {
    let m = || json!([{"role": "user", "content": "x"}]);
    let many: Vec<Value> = (0..=MAX_TOOLS)
        .map(|i| json!({"type": "function", "function": {"name": format!("f{i}")}}))
        .collect();
    let cases = [
        (
            json!({"model": "m", "messages": m(), "tools": [weather()],
                "tool_choice": {"type": "function", "function": {"name": "get_time"}}}),
            "tool_choice.function.name",
            "'get_time' is not among the tools (get_weather)",
        ),
        (
            json!({"model": "m", "messages": m(), "tool_choice": "required"}),
            "tool_choice",
            "needs 'tools'",
        ),
        (
            json!({"model": "m", "messages": m(), "tool_choice": "sometimes"}),
            "tool_choice",
            "'sometimes'",
        ),
        (
            json!({"model": "m", "messages": m(), "tools": many}),
            "tools",
            "at most 128",
        ),
        (
            json!({"model": "m", "messages": m(), "tools": [weather(), weather()]}),
            "tools[1]",
            "used twice",
        ),
        (
            json!({"model": "m", "messages": m(), "tools": [{"type": "function", "function": {"name": "get weather"}}]}),
            "tools[0].function.name",
            "1 to 64 characters",
        ),
        (
            json!({"model": "m", "messages": m(), "tools": [{"type": "code_interpreter"}]}),
            "tools[0].type",
            "only \"function\" tools",
        ),
        (
            json!({"model": "m", "messages": m(), "tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}]}),
            "tools[0].function.parameters",
            "JSON Schema object",
        ),
        (
            json!({"model": "m", "messages": m(), "functions": [{"name": "f"}]}),
            "functions",
            "send 'tools'",
        ),
        (
            json!({"model": "m", "messages": m(), "function_call": "auto"}),
            "function_call",
            "send 'tools'",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "x"},
                {"role": "tool", "tool_call_id": "call_9", "content": "18 C"}]}),
            "messages[1].tool_call_id",
            "'call_9' does not answer any tool call made earlier",
        ),
        (
            json!({"model": "m", "messages": [{"role": "tool", "content": "18 C"}]}),
            "messages[0].tool_call_id",
            "Missing",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "x"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function",
                    "function": {"name": "f", "arguments": "{\"city\": "}}]}]}),
            "messages[1].tool_calls[0].function.arguments",
            "not valid JSON",
        ),
        (
            json!({"model": "m", "messages": [{"role": "assistant", "content": null, "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]}),
            "messages[0].tool_calls",
            "used twice",
        ),
        (
            json!({"model": "m", "messages": [{"role": "assistant", "content": null}]}),
            "messages[0].content",
            "Missing",
        ),
        (
            json!({"model": "m", "messages": [{"role": "function", "name": "f", "content": "1"}]}),
            "messages[0].role",
            "send 'tools'",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]}]}),
            "messages[0].content[0].image_url.url",
            "not an image URL",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "https://x/a.png", "detail": "max"}}]}]}),
            "messages[0].content[0].image_url.detail",
            "'auto', 'low' and 'high'",
        ),
        (
            json!({"model": "m", "messages": [{"role": "system", "content": [
                {"type": "image_url", "image_url": {"url": "https://x/a.png"}}]}]}),
            "messages[0].content[0].type",
            "'image_url' content is not supported here",
        ),
    ];
    for (body, param, message) in cases {
        let (p, msg) = refused(&body);
        assert_eq!(p.as_deref(), Some(param), "{body}: {msg}");
        assert!(msg.contains(message), "{body}: {msg}");
    }
}

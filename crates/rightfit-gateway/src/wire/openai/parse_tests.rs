use rightfit_types::{Message, Prompt, ResponseFormat, Sampling};
use serde_json::{Value, json};

use super::parse;
use crate::api::Api;
use crate::wire::{GatewayRequest, parse_tests_support};

fn ok(body: &Value) -> GatewayRequest {
    parse_tests_support::accepted(parse, body)
}

/// The refusal's param and message.
fn refused(body: &Value) -> (Option<String>, String) {
    parse_tests_support::refused(parse, body)
}

fn user(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

/// What the openai Python SDK sends for a streamed request with most options set.
#[test]
fn a_full_sdk_request_is_parsed() {
    let body = json!({
        "messages": [
            {"role": "system", "content": "Classify the intent."},
            {"role": "user", "content": "cancel my order", "name": "ann"},
            {"role": "assistant", "content": "cancel"},
            {"role": "user", "content": "and refund it"}
        ],
        "model": "intent",
        "frequency_penalty": 0,
        "logprobs": true,
        "max_completion_tokens": 50,
        "n": 2,
        "response_format": {"type": "json_schema", "json_schema": {"name": "intent", "schema": {"type": "object"}, "strict": true}},
        "seed": 7,
        "stop": ["\n"],
        "stream": true,
        "stream_options": {"include_usage": true},
        "temperature": 0.5,
        "top_logprobs": 2,
        "top_p": 0.9,
        "user": "user-42",
        "a_field_from_the_future": {"x": 1}
    });
    let request = ok(&body);
    let messages = vec![
        Message::system("Classify the intent."),
        Message::user("cancel my order"),
        Message::assistant("cancel"),
        Message::user("and refund it"),
    ];
    assert_eq!(request.api, Api::OpenAi);
    assert_eq!(request.model, "intent");
    assert_eq!(request.messages, messages);
    assert_eq!(request.chat.prompt, Prompt::Messages(messages));
    assert_eq!(request.chat.model, "intent");
    assert_eq!(
        request.chat.sampling,
        Sampling {
            temperature: Some(0.5),
            top_p: Some(0.9),
            top_k: None,
            seed: Some(7)
        }
    );
    assert_eq!(request.chat.max_tokens, Some(50));
    assert_eq!(request.chat.n, 2);
    assert_eq!(request.chat.stop, ["\n"]);
    assert_eq!(request.chat.logprobs, Some(2));
    assert_eq!(
        request.chat.response_format,
        ResponseFormat::JsonSchema {
            name: "intent".into(),
            schema: json!({"type": "object"}),
            strict: true
        }
    );
    assert!(request.stream);
    assert!(request.include_usage);
    assert_eq!(request.user.as_deref(), Some("user-42"));
    let mut params = body.clone();
    if let Value::Object(map) = &mut params {
        map.remove("messages");
    }
    assert_eq!(request.params, params);
}

#[test]
fn a_minimal_request_has_the_defaults() {
    let request = ok(&json!({"model": "m", "messages": user("hi")}));
    assert_eq!(request.messages, [Message::user("hi")]);
    assert_eq!(request.chat.sampling, Sampling::greedy());
    assert_eq!(request.chat.max_tokens, None);
    assert_eq!(request.chat.n, 1);
    assert_eq!(request.chat.logprobs, None);
    assert_eq!(request.chat.response_format, ResponseFormat::Text);
    assert!(!request.stream && !request.include_usage);
    assert_eq!(request.user, None);
    assert_eq!(request.params, json!({"model": "m"}));
}

#[test]
fn nulls_read_as_absent() {
    let request = ok(&json!({
        "model": "m", "messages": user("hi"), "temperature": null, "stop": null,
        "n": null, "tools": null, "response_format": null, "user": null
    }));
    assert_eq!(request.chat.sampling.temperature, None);
    assert_eq!(request.chat.n, 1);
}

#[test]
fn system_and_developer_messages_are_joined_first() {
    let request = ok(&json!({"model": "m", "messages": [
        {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
        {"role": "system", "content": "Answer in French."}
    ]}));
    assert_eq!(
        request.messages,
        [
            Message::system("Be brief.\n\nAnswer in French."),
            Message::user("one\ntwo"),
        ]
    );
}

#[test]
fn options_have_their_other_spellings() {
    let request = ok(&json!({
        "model": "m", "messages": user("hi"), "max_tokens": 9, "stop": "END", "seed": -1,
        "stream": false, "stream_options": {"include_usage": true},
        "response_format": {"type": "json_object"}, "tool_choice": "none", "tools": [],
        "top_k": 40, "modalities": ["text"]
    }));
    assert_eq!(request.chat.max_tokens, Some(9));
    assert_eq!(request.chat.stop, ["END"]);
    assert_eq!(request.chat.sampling.seed, Some(u64::MAX));
    assert_eq!(request.chat.sampling.top_k, Some(40));
    assert_eq!(request.chat.response_format, ResponseFormat::JsonObject);
    // A whole answer always has usage; include_usage is about the stream's last chunk.
    assert!(!request.include_usage);
    let both = ok(
        &json!({"model": "m", "messages": user("hi"), "max_tokens": 9, "max_completion_tokens": 5}),
    );
    assert_eq!(both.chat.max_tokens, Some(5));
    let zero = ok(&json!({"model": "m", "messages": user("hi"), "logprobs": true}));
    assert_eq!(zero.chat.logprobs, Some(0));
}

#[test]
fn bad_bodies_are_refused_without_a_param() {
    for body in [&b"{not json"[..], b"[1, 2]", b""] {
        let error = parse(body).expect_err("refused");
        assert_eq!(error.status().as_u16(), 400);
        assert_eq!(error.param(), None);
    }
    let error = parse(b"{\"model\": ").expect_err("refused");
    assert!(
        error.message().contains("could not parse the JSON body"),
        "{}",
        error.message()
    );
}

#[test]
fn each_refusal_names_its_param() {
    let m = || user("hi");
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"messages": m()}),
            "model",
            "Missing required parameter: 'model'",
        ),
        (
            json!({"model": 3, "messages": m()}),
            "model",
            "expected a string, but got a number",
        ),
        (
            json!({"model": "", "messages": m()}),
            "model",
            "must not be empty",
        ),
        (
            json!({"model": "m"}),
            "messages",
            "Missing required parameter: 'messages'",
        ),
        (
            json!({"model": "m", "messages": []}),
            "messages",
            "at least one message",
        ),
        (
            json!({"model": "m", "messages": "hi"}),
            "messages",
            "expected an array of objects",
        ),
        (
            json!({"model": "m", "messages": ["hi"]}),
            "messages[0]",
            "expected an object",
        ),
        (
            json!({"model": "m", "messages": [{"content": "x"}]}),
            "messages[0].role",
            "Missing",
        ),
        (
            json!({"model": "m", "messages": [{"role": "bot", "content": "x"}]}),
            "messages[0].role",
            "'bot'",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}, {"role": "user", "content": 5}]}),
            "messages[1].content",
            "expected a string or an array of text parts",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user"}]}),
            "messages[0].content",
            "Missing",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:"}}]}]}),
            "messages[0].content[0].image_url.url",
            "not an image URL",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "input_audio"}]}]}),
            "messages[0].content[1].type",
            "'input_audio'",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text"}]}]}),
            "messages[0].content[0].text",
            "Missing",
        ),
        (
            json!({"model": "m", "messages": [{"role": "tool", "content": "42", "tool_call_id": "c"}]}),
            "messages[0].tool_call_id",
            "does not answer any tool call",
        ),
        (
            json!({"model": "m", "messages": [{"role": "assistant", "content": null, "tool_calls": [{"id": "c"}]}]}),
            "messages[0].tool_calls[0].function",
            "Missing",
        ),
        (
            json!({"model": "m", "messages": m(), "tools": [{"type": "function"}]}),
            "tools[0].function",
            "Missing",
        ),
        (
            json!({"model": "m", "messages": m(), "functions": [{"name": "f"}]}),
            "functions",
            "legacy function-calling fields are not supported",
        ),
        (
            json!({"model": "m", "messages": m(), "tool_choice": "required"}),
            "tool_choice",
            "needs 'tools'",
        ),
        (
            json!({"model": "m", "messages": m(), "audio": {"voice": "alloy"}}),
            "audio",
            "audio output",
        ),
        (
            json!({"model": "m", "messages": m(), "modalities": ["text", "audio"]}),
            "modalities",
            "only [\"text\"]",
        ),
        (
            json!({"model": "m", "messages": m(), "n": 0}),
            "n",
            "from 1 to 8",
        ),
        (
            json!({"model": "m", "messages": m(), "n": 9}),
            "n",
            "from 1 to 8",
        ),
        (
            json!({"model": "m", "messages": m(), "n": 1.5}),
            "n",
            "from 1 to 8",
        ),
        (
            json!({"model": "m", "messages": m(), "temperature": 2.5}),
            "temperature",
            "from 0 to 2",
        ),
        (
            json!({"model": "m", "messages": m(), "temperature": "hot"}),
            "temperature",
            "expected a number",
        ),
        (
            json!({"model": "m", "messages": m(), "top_p": 1.1}),
            "top_p",
            "from 0 to 1",
        ),
        (
            json!({"model": "m", "messages": m(), "seed": "7"}),
            "seed",
            "expected an integer",
        ),
        (
            json!({"model": "m", "messages": m(), "max_tokens": 0}),
            "max_tokens",
            "integer from 1",
        ),
        (
            json!({"model": "m", "messages": m(), "max_completion_tokens": -5}),
            "max_completion_tokens",
            "integer from 1",
        ),
        (
            json!({"model": "m", "messages": m(), "stop": ["a", "b", "c", "d", "e"]}),
            "stop",
            "at most 4",
        ),
        (
            json!({"model": "m", "messages": m(), "stop": ["a", 1]}),
            "stop[1]",
            "expected a string",
        ),
        (
            json!({"model": "m", "messages": m(), "stop": [""]}),
            "stop",
            "must not be empty",
        ),
        (
            json!({"model": "m", "messages": m(), "logprobs": "yes"}),
            "logprobs",
            "expected a boolean",
        ),
        (
            json!({"model": "m", "messages": m(), "top_logprobs": 3}),
            "top_logprobs",
            "needs 'logprobs'",
        ),
        (
            json!({"model": "m", "messages": m(), "logprobs": true, "top_logprobs": 21}),
            "top_logprobs",
            "from 0 to 20",
        ),
        (
            json!({"model": "m", "messages": m(), "response_format": "json"}),
            "response_format",
            "expected an object",
        ),
        (
            json!({"model": "m", "messages": m(), "response_format": {"type": "yaml"}}),
            "response_format.type",
            "'yaml'",
        ),
        (
            json!({"model": "m", "messages": m(), "response_format": {"type": "json_schema"}}),
            "response_format.json_schema",
            "Missing",
        ),
        (
            json!({"model": "m", "messages": m(), "response_format": {"type": "json_schema", "json_schema": {"schema": {}}}}),
            "response_format.json_schema.name",
            "Missing",
        ),
        (
            json!({"model": "m", "messages": m(), "response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}),
            "response_format.json_schema.schema",
            "Missing",
        ),
        (
            json!({"model": "m", "messages": m(), "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}, "strict": "yes"}}}),
            "response_format.json_schema.strict",
            "expected a boolean",
        ),
        (
            json!({"model": "m", "messages": m(), "stream": "true"}),
            "stream",
            "expected a boolean",
        ),
        (
            json!({"model": "m", "messages": m(), "stream": true, "stream_options": true}),
            "stream_options",
            "expected an object",
        ),
        (
            json!({"model": "m", "messages": m(), "stream": true, "stream_options": {"include_usage": 1}}),
            "stream_options.include_usage",
            "expected a boolean",
        ),
        (
            json!({"model": "m", "messages": m(), "user": 42}),
            "user",
            "expected a string",
        ),
    ];
    for (body, param, message) in cases {
        let (got_param, got_message) = refused(&body);
        assert_eq!(got_param.as_deref(), Some(param), "{body}: {got_message}");
        assert!(
            got_message.contains(message),
            "{body}: {got_message:?} lacks {message:?}"
        );
        assert!(
            got_message.contains(param.split('[').next().unwrap_or(param)),
            "{body}: {got_message:?} does not name {param}"
        );
    }
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

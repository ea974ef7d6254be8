//! Tool calling and images through every hosted protocol, against the testkit servers: the
//! request's tools, earlier calls, tool results and images go out in the protocol's wire shape
//! (and the server, which checks them as the real API does, accepts them); scripted calls come
//! back as the same `ToolCall`s whole and streamed.

use futures::StreamExt;
use rightfit_providers::{Provider, ProviderError, collect_stream};
use rightfit_testkit::{Protocol, Reply, Step};
use rightfit_types::{
    ChatRequest, FinishReason, ImagePart, Message, StreamEvent, Tool, ToolCall, ToolChoice,
};
use serde_json::json;

use crate::{Target, provider, setup};

/// A 1×1 PNG as a data URL.
const PIXEL: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

/// The base64 data of [`PIXEL`].
fn pixel_data() -> &'static str {
    PIXEL.split_once(',').map_or("", |(_, data)| data)
}

fn weather_tool() -> Tool {
    Tool::function(
        "get_weather",
        "The weather in a city now.",
        json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
            "additionalProperties": false,
        }),
    )
}

fn time_tool() -> Tool {
    Tool::function(
        "get_time",
        "",
        json!({"type": "object", "properties": {"zone": {"type": ["string", "null"]}}}),
    )
}

/// A conversation with an image, an earlier call and its result, offering two tools.
fn tool_conversation() -> ChatRequest {
    let mut user = Message::user("What is the weather where this photo was taken?");
    user.images.push(ImagePart {
        url: PIXEL.into(),
        detail: Some("low".into()),
    });
    let call = ToolCall::new("call_1", "get_weather", &json!({"city": "Paris"}));
    let mut request = ChatRequest::chat(vec![
        Message::system("Use the tools."),
        user,
        Message::assistant_calls("", vec![call]),
        Message::tool_result("call_1", r#"{"temp_c":21}"#),
    ])
    .with_tools(vec![weather_tool(), time_tool()], ToolChoice::Required)
    .with_max_tokens(64);
    request.parallel_tool_calls = Some(false);
    request
}

pub async fn sends_tools_calls_results_and_images(t: Target) {
    let s = setup(t).await;
    s.server
        .push([Step::Reply(Reply::text("It is 21 degrees."))]);
    let answer = provider(&s, |m| m.stream = false)
        .complete(tool_conversation())
        .await
        .expect("the server accepts the request");
    if t.protocol == Protocol::Anthropic {
        // `tool_choice: any` makes the (test) model call the first tool, as Claude must.
        assert_eq!(answer.choices[0].tool_calls[0].name, "get_weather");
        assert_eq!(answer.choices[0].finish_reason, FinishReason::ToolCalls);
    } else {
        assert_eq!(answer.text(), "It is 21 degrees.");
    }
    let body = &s.server.requests()[0].body;
    match t.protocol {
        Protocol::OpenAi => {
            let m = &body["messages"];
            assert_eq!(
                m[1]["content"],
                json!([
                    {"type": "image_url", "image_url": {"url": PIXEL, "detail": "low"}},
                    {"type": "text", "text": "What is the weather where this photo was taken?"},
                ])
            );
            assert_eq!(
                m[2],
                json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]})
            );
            assert_eq!(
                m[3],
                json!({"role": "tool", "tool_call_id": "call_1", "content": "{\"temp_c\":21}"})
            );
            assert_eq!(body["tools"][0]["type"], "function");
            assert_eq!(body["tools"][0]["function"]["name"], "get_weather");
            assert_eq!(
                body["tools"][0]["function"]["parameters"],
                weather_tool().parameters
            );
            assert_eq!(body["tools"][1]["function"].get("description"), None);
            assert_eq!(body["tool_choice"], "required");
            assert_eq!(body["parallel_tool_calls"], false);
        }
        Protocol::Anthropic => {
            let m = &body["messages"];
            assert_eq!(m[0]["role"], "user");
            assert_eq!(
                m[0]["content"][0],
                json!({"type": "image", "source": {"type": "base64", "media_type": "image/png",
                    "data": pixel_data()}})
            );
            assert_eq!(m[0]["content"][1]["type"], "text");
            assert_eq!(
                m[1],
                json!({"role": "assistant", "content": [{"type": "tool_use", "id": "call_1",
                    "name": "get_weather", "input": {"city": "Paris"}}]})
            );
            assert_eq!(
                m[2],
                json!({"role": "user", "content": [{"type": "tool_result",
                    "tool_use_id": "call_1", "content": "{\"temp_c\":21}"}]})
            );
            assert_eq!(
                body["tools"][0],
                json!({"name": "get_weather", "description": "The weather in a city now.",
                    "input_schema": weather_tool().parameters})
            );
            assert_eq!(
                body["tool_choice"],
                json!({"type": "any", "disable_parallel_tool_use": true})
            );
        }
        Protocol::Gemini => {
            let c = &body["contents"];
            assert_eq!(
                c[0]["parts"][0],
                json!({"inlineData": {"mimeType": "image/png",
                    "data": pixel_data()}})
            );
            assert_eq!(
                c[1],
                json!({"role": "model", "parts": [{"functionCall": {"name": "get_weather",
                    "args": {"city": "Paris"}}}]})
            );
            assert_eq!(
                c[2],
                json!({"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
                    "response": {"temp_c": 21}}}]})
            );
            let declarations = &body["tools"][0]["functionDeclarations"];
            // `$schema` and `additionalProperties` are outside Gemini's schema subset.
            assert_eq!(
                declarations[0]["parameters"],
                json!({"type": "object", "required": ["city"], "properties":
                    {"city": {"type": "string", "description": "City name"}}})
            );
            assert_eq!(
                declarations[1]["parameters"]["properties"]["zone"],
                json!({"type": "string", "nullable": true})
            );
            assert_eq!(
                body["toolConfig"],
                json!({"functionCallingConfig": {"mode": "ANY"}})
            );
        }
    }
}

/// Two parallel calls (arguments with keys in sorted order, so that Anthropic's and Gemini's
/// object form reads back as the same text).
fn two_calls(text: &str) -> Reply {
    Reply::text(text)
        .with_tool_call("call_a", "get_weather", r#"{"city":"Paris"}"#)
        .with_tool_call("call_b", "get_time", r#"{"zone":"CET"}"#)
        .with_chunks(3)
}

/// The calls a protocol returns for [`two_calls`]: Gemini sends no ids.
fn expected_calls(t: Target) -> Vec<ToolCall> {
    let (a, b) = match t.protocol {
        Protocol::Gemini => ("call_0_0", "call_0_1"),
        _ => ("call_a", "call_b"),
    };
    vec![
        ToolCall::new(a, "get_weather", &json!({"city": "Paris"})),
        ToolCall::new(b, "get_time", &json!({"zone": "CET"})),
    ]
}

fn ask() -> ChatRequest {
    ChatRequest::chat(vec![Message::user("Weather and time in Paris?")])
        .with_tools(vec![weather_tool(), time_tool()], ToolChoice::Auto)
        .with_max_tokens(64)
}

pub async fn tool_calls_come_back_whole_and_streamed(t: Target) {
    let s = setup(t).await;
    for text in ["", "Let me check."] {
        s.server
            .push([Step::Reply(two_calls(text)), Step::Reply(two_calls(text))]);
        let whole = provider(&s, |m| m.stream = false)
            .complete(ask())
            .await
            .expect("whole answer");
        let choice = &whole.choices[0];
        assert_eq!(choice.tool_calls, expected_calls(t), "{text:?}");
        assert_eq!(choice.text, text);
        assert_eq!(choice.finish_reason, FinishReason::ToolCalls);

        let stream = s.provider.stream(ask()).await.expect("stream opens");
        let events: Vec<StreamEvent> = stream.map(|e| e.expect("no stream error")).collect().await;
        let fragments = events
            .iter()
            .filter(|e| matches!(e, StreamEvent::ToolCall { .. }))
            .count();
        if t.protocol != Protocol::Gemini {
            // Arguments arrive in pieces: more events than calls.
            assert!(fragments > 2, "{events:?}");
        }
        let stream = futures::stream::iter(events.into_iter().map(Ok)).boxed();
        let streamed = collect_stream("test", 1, stream).await.expect("collects");
        assert_eq!(streamed.choices, whole.choices, "{text:?}");
    }
}

pub async fn results_that_answer_no_call_are_refused(t: Target) {
    let s = setup(t).await;
    let request = ChatRequest::chat(vec![
        Message::user("Hi"),
        Message::assistant("Hello."),
        Message::tool_result("call_9", "42"),
    ])
    .with_tools(vec![weather_tool()], ToolChoice::Auto);
    let err = provider(&s, |m| m.stream = false)
        .complete(request)
        .await
        .expect_err("a result without its call is refused");
    assert!(matches!(err, ProviderError::InvalidRequest { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("call_9") || text.contains("tool"), "{text}");
}

pub async fn call_arguments_must_be_objects_where_sent_parsed(t: Target) {
    let s = setup(t).await;
    let call = ToolCall {
        id: "call_1".into(),
        name: "get_weather".into(),
        arguments: "[1, 2]".into(),
    };
    let request = ChatRequest::chat(vec![
        Message::user("Hi"),
        Message::assistant_calls("", vec![call]),
        Message::tool_result("call_1", "ok"),
    ])
    .with_tools(vec![weather_tool()], ToolChoice::Auto);
    let result = s.provider.complete(request).await;
    match t.protocol {
        // OpenAI carries arguments as text, whatever they hold.
        Protocol::OpenAi => assert!(result.is_ok(), "{result:?}"),
        _ => {
            let err = result.expect_err("refused before sending");
            assert!(err.to_string().contains("not a JSON object"), "{err}");
            assert_eq!(s.server.request_count(), 0);
        }
    }
}

macro_rules! tool_suite {
    ($($module:ident => $target:expr),* $(,)?) => {$(
        mod $module {
            tool_suite!(@tests $target;
                sends_tools_calls_results_and_images, tool_calls_come_back_whole_and_streamed,
                results_that_answer_no_call_are_refused,
                call_arguments_must_be_objects_where_sent_parsed);
        }
    )*};
    (@tests $target:expr; $($test:ident),*) => {$(
        #[tokio::test]
        async fn $test() {
            super::$test($target).await;
        }
    )*};
}

tool_suite! {
    openai => crate::OPENAI,
    anthropic => crate::ANTHROPIC,
    gemini => crate::GEMINI,
    openai_compatible => crate::COMPATIBLE,
}

//! Tool calling on SmolLM2-135M: calls constrained by the tools' schemas, read back into
//! `tool_calls`, the same whole and streamed; and how tools, calls and results are rendered.

use std::path::PathBuf;

use futures::executor::block_on;
use rightfit_llama::Vocabulary;
use rightfit_providers::Provider;
use rightfit_types::{
    ChatRequest, ChatResponse, FinishReason, Message, Sampling, Tool, ToolCall, ToolChoice,
};
use serde_json::json;

use crate::support::{complete, load, options, provider, smollm2};

/// An engine whose greedy answers do not depend on what ran before (no reused prefix, batch
/// invariant), so that a whole and a streamed answer can be compared token for token.
fn reproducible() -> rightfit_llama::Engine {
    load(rightfit_llama::EngineOptions {
        batch_invariant: true,
        prefix_cache: false,
        ..options(1)
    })
}

fn weather() -> Tool {
    Tool::function(
        "get_weather",
        "Get the current weather in a city",
        json!({
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
            },
            "required": ["city", "unit"]
        }),
    )
}

fn calculator() -> Tool {
    // BFCL-style types, normalised by the engine.
    Tool::function(
        "calculate",
        "Evaluate an arithmetic expression",
        json!({
            "type": "dict",
            "properties": {
                "expression": {"type": "string"},
                "precision": {"type": "integer"}
            },
            "required": ["expression", "precision"]
        }),
    )
}

fn request(choice: ToolChoice) -> ChatRequest {
    ChatRequest::chat(vec![Message::user(
        "What is the weather like in Paris today?",
    )])
    .with_tools(vec![weather(), calculator()], choice)
    .with_max_tokens(96)
}

/// Checks a call against the test tools' schemas: a declared function, arguments an object
/// with every required key of the right type.
fn assert_valid(call: &ToolCall) {
    assert!(call.id.starts_with("call_"), "{call:?}");
    let args = call
        .arguments_json()
        .unwrap_or_else(|| panic!("arguments are not JSON: {call:?}"));
    let obj = args
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {call:?}"));
    match call.name.as_str() {
        "get_weather" => {
            assert!(obj["city"].is_string(), "{call:?}");
            let unit = obj["unit"].as_str().unwrap_or_default();
            assert!(["celsius", "fahrenheit"].contains(&unit), "{call:?}");
        }
        "calculate" => {
            assert!(obj["expression"].is_string(), "{call:?}");
            assert!(
                obj["precision"].is_i64() || obj["precision"].is_u64(),
                "{call:?}"
            );
        }
        other => panic!("undeclared function {other}: {call:?}"),
    }
}

fn streamed(engine: &rightfit_llama::Engine, request: ChatRequest) -> ChatResponse {
    let p = provider(engine);
    block_on(async {
        let events = p.stream(request).await.expect("stream starts");
        rightfit_providers::collect_stream("smollm2", 1, events)
            .await
            .expect("stream completes")
    })
}

/// The calls without their ids (which are unique per response).
fn calls_of(r: &ChatResponse) -> Vec<(String, String)> {
    r.choices[0]
        .tool_calls
        .iter()
        .map(|c| (c.name.clone(), c.arguments.clone()))
        .collect()
}

#[test]
fn required_calls_a_declared_function_with_valid_arguments_whole_and_streamed_smollm2() {
    let engine = reproducible();
    let mut one_call = request(ToolChoice::Required);
    one_call.parallel_tool_calls = Some(false);
    let whole = complete(&engine, one_call.clone());
    let choice = &whole.choices[0];
    assert!(!choice.tool_calls.is_empty(), "{whole:?}");
    assert_eq!(choice.finish_reason, FinishReason::ToolCalls, "{whole:?}");
    assert!(!choice.text.contains("<tool_call>"), "{whole:?}");
    choice.tool_calls.iter().for_each(assert_valid);
    let ids: std::collections::HashSet<_> = choice.tool_calls.iter().map(|c| &c.id).collect();
    assert_eq!(
        ids.len(),
        choice.tool_calls.len(),
        "ids are unique: {whole:?}"
    );

    assert_eq!(choice.tool_calls.len(), 1, "{whole:?}");
    let stream = streamed(&engine, one_call);
    assert_eq!(calls_of(&stream), calls_of(&whole));
    assert_eq!(stream.text(), whole.text());
    assert_eq!(stream.choices[0].finish_reason, FinishReason::ToolCalls);
}

#[test]
fn a_named_function_is_the_one_called_smollm2() {
    let engine = load(options(1));
    let r = complete(&engine, request(ToolChoice::Function("calculate".into())));
    let calls = &r.choices[0].tool_calls;
    assert!(!calls.is_empty(), "{r:?}");
    assert!(calls.iter().all(|c| c.name == "calculate"), "{r:?}");
    calls.iter().for_each(assert_valid);
}

#[test]
fn tool_choice_none_answers_in_plain_text_smollm2() {
    let engine = load(options(1));
    let r = complete(&engine, request(ToolChoice::None).with_max_tokens(24));
    assert!(r.choices[0].tool_calls.is_empty(), "{r:?}");
    assert_ne!(r.choices[0].finish_reason, FinishReason::ToolCalls);
    assert!(!r.text().trim().is_empty(), "{r:?}");
}

#[test]
fn auto_answers_in_text_or_with_valid_calls_smollm2() {
    let engine = reproducible();
    for question in [
        "What is the weather like in Paris today?",
        "What is 17 times 23?",
        "Say hello.",
    ] {
        let req = ChatRequest::chat(vec![Message::user(question)])
            .with_tools(vec![weather(), calculator()], ToolChoice::Auto)
            .with_max_tokens(64);
        let whole = complete(&engine, req.clone());
        let choice = &whole.choices[0];
        choice.tool_calls.iter().for_each(assert_valid);
        assert_eq!(
            choice.finish_reason == FinishReason::ToolCalls,
            !choice.tool_calls.is_empty(),
            "{whole:?}"
        );
        let stream = streamed(&engine, req);
        assert_eq!(calls_of(&stream), calls_of(&whole), "{question}");
        assert_eq!(stream.text(), whole.text(), "{question}");
    }
}

#[test]
fn sampled_choices_and_log_probabilities_work_with_tools_smollm2() {
    let engine = load(options(2));
    let mut req = request(ToolChoice::Required)
        .with_n(2)
        .with_sampling(Sampling {
            temperature: Some(0.8),
            seed: Some(7),
            ..Sampling::default()
        });
    req.logprobs = Some(0);
    let r = complete(&engine, req);
    assert_eq!(r.choices.len(), 2);
    for choice in &r.choices {
        assert!(!choice.tool_calls.is_empty(), "{choice:?}");
        choice.tool_calls.iter().for_each(assert_valid);
        let logprobs = choice.logprobs.as_ref().expect("log-probabilities");
        assert!(!logprobs.is_empty() && logprobs.iter().all(|t| t.logprob <= 0.0));
    }
}

fn conversation() -> Vec<Message> {
    vec![
        Message::user("What is the weather in Paris?"),
        Message::assistant_calls(
            "",
            vec![ToolCall::new(
                "call_1",
                "get_weather",
                &json!({"city": "Paris", "unit": "celsius"}),
            )],
        ),
        Message::tool_result("call_1", "18 degrees, sunny"),
    ]
}

#[test]
fn a_conversation_with_a_call_and_its_result_renders_in_the_hermes_format_smollm2() {
    let vocab = Vocabulary::load(&smollm2()).expect("vocabulary");
    let prompt = vocab
        .render_chat_with_tools(&conversation(), &[weather()], None)
        .expect("renders");
    assert!(
        prompt
            .contains("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\""),
        "{prompt}"
    );
    assert!(
        prompt.contains("<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}\n</tool_call><|im_end|>"),
        "{prompt}"
    );
    assert!(
        prompt.contains(
            "<|im_start|>user\n<tool_response>\n18 degrees, sunny\n</tool_response><|im_end|>"
        ),
        "{prompt}"
    );
    assert!(prompt.ends_with("<|im_start|>assistant\n"), "{prompt}");

    // And the engine answers after the result.
    let engine = load(options(1));
    let req = ChatRequest::chat(conversation())
        .with_tools(vec![weather()], ToolChoice::Auto)
        .with_max_tokens(24);
    let r = complete(&engine, req);
    assert!(
        r.usage.prompt_tokens > 100,
        "the tools block is in the prompt: {r:?}"
    );
    r.choices[0].tool_calls.iter().for_each(assert_valid);
}

#[test]
fn plain_conversations_render_exactly_as_before_smollm2() {
    let vocab = Vocabulary::load(&smollm2()).expect("vocabulary");
    let messages = vec![Message::system("Be brief."), Message::user("Hello")];
    let plain = vocab.render_chat(&messages, None).expect("renders");
    let with_no_tools = vocab
        .render_chat_with_tools(&messages, &[], None)
        .expect("renders");
    assert_eq!(plain, with_no_tools);
    let with_tools = vocab
        .render_chat_with_tools(&messages, &[weather()], None)
        .expect("renders");
    assert_ne!(plain, with_tools);
    assert!(
        with_tools.starts_with("<|im_start|>system\nBe brief.\n\n# Tools"),
        "{with_tools}"
    );
}

/// Qwen2.5's own template (which renders tools itself), when its model file is present in the
/// models directory; skipped otherwise.
#[test]
fn qwen_templates_render_tools_calls_and_results_themselves() {
    let home = std::env::var(rightfit_config::env::HOME).map_or_else(
        |_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/rightfit"),
        PathBuf::from,
    );
    let path = home.join("models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf");
    if !path.exists() {
        eprintln!("skipped: {} is not present", path.display());
        return;
    }
    let vocab = Vocabulary::load(&path).expect("vocabulary");
    assert!(vocab.chat_template().is_some_and(|t| t.contains("tools")));
    let prompt = vocab
        .render_chat_with_tools(&conversation(), &[weather()], None)
        .expect("renders");
    assert!(prompt.contains("<tools>\n{\"function\": {\"description\": \"Get the current weather in a city\", \"name\": \"get_weather\""), "{prompt}");
    assert!(
        prompt.contains("<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}\n</tool_call><|im_end|>"),
        "{prompt}"
    );
    assert!(
        prompt.contains(
            "<|im_start|>user\n<tool_response>\n18 degrees, sunny\n</tool_response><|im_end|>"
        ),
        "{prompt}"
    );
}

/// Qwen2.5-Coder-0.5B under `auto` writes some calls inside a markdown fence (```` ```json ````);
/// they are read as calls, the same whole and streamed. Skipped when the model file is absent.
#[test]
fn fenced_calls_are_read_whole_and_streamed_qwen_coder_0_5b() {
    let home = std::env::var(rightfit_config::env::HOME).map_or_else(
        |_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/rightfit"),
        PathBuf::from,
    );
    let path = home.join("models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf");
    if !path.exists() {
        eprintln!("skipped: {} is not present", path.display());
        return;
    }
    let engine = rightfit_llama::Engine::load(
        &path,
        rightfit_llama::EngineOptions {
            batch_invariant: true,
            prefix_cache: false,
            ..options(1)
        },
    )
    .expect("Qwen loads");
    let speed = Tool::function(
        "calculate_speed",
        "Calculate the speed of an object given the distance travelled and the time taken.",
        json!({
            "type": "dict",
            "properties": {
                "distance": {"type": "integer", "description": "The distance in km."},
                "time": {"type": "integer", "description": "The time in hours."}
            },
            "required": ["distance", "time"]
        }),
    );
    let req = ChatRequest::chat(vec![Message::user(
        "Calculate the speed of a car that travels 450 km in 20 hours.",
    )])
    .with_tools(vec![speed, weather(), calculator()], ToolChoice::Auto)
    .with_max_tokens(96);
    let whole = complete(&engine, req.clone());
    let calls = &whole.choices[0].tool_calls;
    assert_eq!(calls.len(), 1, "{whole:?}");
    assert_eq!(calls[0].name, "calculate_speed", "{whole:?}");
    assert_eq!(
        calls[0].arguments_json(),
        Some(json!({"distance": 450, "time": 20})),
        "{whole:?}"
    );
    assert_eq!(whole.text(), "", "{whole:?}");
    assert_eq!(whole.choices[0].finish_reason, FinishReason::ToolCalls);
    let stream = streamed(&engine, req);
    assert_eq!(calls_of(&stream), calls_of(&whole));
    assert_eq!(stream.text(), whole.text());
}

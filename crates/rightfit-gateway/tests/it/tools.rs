//! Tool calling through the gateway with the official SDKs (the `openai` Python and npm
//! packages, the `anthropic` Python package), whole and streamed, and a second turn sending the
//! tool's result back: an OpenAI-shaped upstream served to both APIs, and an Anthropic-shaped
//! upstream served to OpenAI clients (cross-API both ways). The SDKs' own objects are checked
//! (names, parsed arguments, ids, finish and stop reasons), and so is what the upstream received
//! in its own protocol's shape, and what the traffic log kept. Also, in-process: a model that
//! cannot call tools is refused with a 400 naming it.

use std::collections::BTreeMap;

use rightfit_testkit::clients::{self, Client};
use rightfit_testkit::{Protocol, Recorded, Reply, ServerConfig, Step, TestServer};
use serde_json::{Value, json};

use crate::support::{component, model, start};

const ANSWER: &str = "It is 18 C and sunny in Paris.";

async fn run_tools(client: Client, base: String, name: &str) -> BTreeMap<String, Value> {
    let name = name.to_owned();
    tokio::task::spawn_blocking(move || {
        clients::run_tools(client, &base, "unused", &name).unwrap_or_else(|e| panic!("{e}"))
    })
    .await
    .expect("client task")
}

/// The three answers a client's tool calls get, in order: a call (whole), a call (streamed, its
/// arguments in 3 pieces), and the text answer to the tool's result.
fn script(up: &TestServer, id: &str) {
    let call = Reply::text("")
        .with_tool_call(id, "get_weather", r#"{"city":"Paris"}"#)
        .with_chunks(3)
        .with_tokens(20, 6);
    up.push([
        Step::Reply(call.clone()),
        Step::Reply(call),
        Step::Reply(Reply::text(ANSWER)),
    ]);
}

/// The generation requests the upstream received, from `from` on.
fn received(up: &TestServer, from: usize) -> Vec<Recorded> {
    up.requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .skip(from)
        .collect()
}

fn check_openai_client(who: &str, calls: &BTreeMap<String, Value>, id: &str) {
    let expected = json!([{"id": id, "type": "function", "name": "get_weather",
        "arguments": {"city": "Paris"}}]);
    for call in ["tools", "tools_stream"] {
        let c = &calls[call];
        assert_eq!(c["tool_calls"], expected, "{who} {call}: {c}");
        assert_eq!(c["finish_reason"], "tool_calls", "{who} {call}: {c}");
    }
    assert_eq!(
        calls["tools"]["text"],
        Value::Null,
        "{who}: {}",
        calls["tools"]
    );
    assert!(
        calls["tools_stream"]["argument_deltas"].as_u64() >= Some(2),
        "{who}: the arguments arrive in pieces: {}",
        calls["tools_stream"]
    );
    let c = &calls["tool_result"];
    assert_eq!(c["text"], ANSWER, "{who}: {c}");
    assert_eq!(c["finish_reason"], "stop", "{who}: {c}");
    assert_eq!(c["tool_calls"], json!([]), "{who}: {c}");
}

/// The OpenAI-shaped requests of one client's three calls.
fn check_openai_upstream(who: &str, got: &[Recorded], id: &str) {
    assert_eq!(got.len(), 3, "{who}: {got:#?}");
    for r in got {
        assert_eq!(r.path, "/v1/chat/completions");
        let tools = &r.body["tools"];
        assert_eq!(tools[0]["type"], "function", "{who}: {}", r.body);
        assert_eq!(
            tools[0]["function"]["name"], "get_weather",
            "{who}: {}",
            r.body
        );
        assert_eq!(
            tools[0]["function"]["parameters"]["properties"]["city"]["type"], "string",
            "{who}: {}",
            r.body
        );
    }
    let messages = got[2].body["messages"].as_array().expect("messages");
    let call = messages
        .iter()
        .find(|m| m["role"] == "assistant")
        .unwrap_or_else(|| panic!("{who}: no assistant turn: {messages:?}"));
    assert_eq!(call["tool_calls"][0]["id"], id, "{who}: {call}");
    assert_eq!(call["tool_calls"][0]["type"], "function", "{who}: {call}");
    assert_eq!(call["tool_calls"][0]["function"]["name"], "get_weather");
    let arguments: Value = serde_json::from_str(
        call["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .expect("arguments are JSON text"),
    )
    .expect("JSON arguments");
    assert_eq!(arguments, json!({"city": "Paris"}), "{who}");
    let result = messages.last().expect("a last turn");
    assert_eq!(result["role"], "tool", "{who}: {messages:?}");
    assert_eq!(result["tool_call_id"], id, "{who}: {result}");
    assert!(
        result["content"].to_string().contains("18 C and sunny"),
        "{who}: {result}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sdks_call_tools_through_an_openai_upstream_in_both_apis() {
    let mut config = ServerConfig::new(Protocol::OpenAi);
    config.api_key = None;
    let up = TestServer::start(config).await.expect("upstream");
    let toml = format!(
        "{}{}",
        model("gpt", &up, ""),
        component("triage", &["gpt"], "")
    );
    let mut g = start(&toml).await;
    for client in [Client::OpenAiPython, Client::OpenAiNode] {
        let from = received(&up, 0).len();
        script(&up, "call_1");
        let calls = run_tools(client, g.url(""), "gpt").await;
        let who = format!("{client:?}");
        check_openai_client(&who, &calls, "call_1");
        check_openai_upstream(&who, &received(&up, from), "call_1");
    }

    // Cross-API: the anthropic SDK served by the OpenAI-shaped upstream.
    let from = received(&up, 0).len();
    script(&up, "call_1");
    let calls = run_tools(Client::AnthropicPython, g.url(""), "gpt").await;
    let expected = json!([{"id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}]);
    for call in ["tools", "tools_stream"] {
        let c = &calls[call];
        assert_eq!(c["tool_calls"], expected, "anthropic {call}: {c}");
        assert_eq!(c["finish_reason"], "tool_use", "anthropic {call}: {c}");
        assert_eq!(
            c["block_types"],
            json!(["tool_use"]),
            "anthropic {call}: {c}"
        );
    }
    assert!(
        calls["tools_stream"]["input_deltas"].as_u64() >= Some(2),
        "{}",
        calls["tools_stream"]
    );
    assert_eq!(calls["tool_result"]["text"], ANSWER);
    assert_eq!(calls["tool_result"]["finish_reason"], "end_turn");
    check_openai_upstream("anthropic", &received(&up, from), "call_1");

    // The traffic log kept the tools offered, the calls made and the results sent back.
    g.stop().await;
    let records = g.records().await;
    assert_eq!(records.len(), 9, "{records:#?}");
    let calling: Vec<_> = records
        .iter()
        .filter(|r| r.finish_reason.as_deref() == Some("tool_calls"))
        .collect();
    assert_eq!(calling.len(), 6, "{records:#?}");
    for r in &calling {
        assert_eq!(r.tool_calls.len(), 1, "{r:#?}");
        assert_eq!(r.tool_calls[0].name, "get_weather");
        assert_eq!(
            r.tool_calls[0].arguments_json(),
            Some(json!({"city": "Paris"}))
        );
        assert_eq!(r.input["tools"][0]["name"], "get_weather", "{r:#?}");
    }
    let answered: Vec<_> = records
        .iter()
        .filter(|r| r.output.as_deref() == Some(ANSWER))
        .collect();
    assert_eq!(answered.len(), 3, "{records:#?}");
    for r in answered {
        let messages = r.input["messages"].as_array().expect("messages");
        let result = messages.last().expect("a last turn");
        assert_eq!(result["role"], "tool", "{r:#?}");
        assert_eq!(result["tool_call_id"], "call_1", "{r:#?}");
        assert_eq!(result["content"], "18 C and sunny", "{r:#?}");
        let call = &messages[messages.len() - 2];
        assert_eq!(call["tool_calls"][0]["name"], "get_weather", "{r:#?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_sdks_call_tools_through_an_anthropic_upstream() {
    let mut config = ServerConfig::new(Protocol::Anthropic);
    config.api_key = None;
    let up = TestServer::start(config).await.expect("upstream");
    let block = format!(
        r#"
[models.claude]
provider = "anthropic"
base_url = "{}"
model = "claude-3-5-haiku-latest"
max_retries = 0
# Any variable that is set: this upstream takes any key.
api_key = "env:PATH"
{}"#,
        up.base_url(),
        component("triage", &["claude"], "")
    );
    let mut g = start(&block).await;
    for client in [Client::OpenAiPython, Client::OpenAiNode] {
        let from = received(&up, 0).len();
        script(&up, "toolu_1");
        let calls = run_tools(client, g.url(""), "claude").await;
        let who = format!("{client:?}");
        check_openai_client(&who, &calls, "toolu_1");
        let got = received(&up, from);
        assert_eq!(got.len(), 3, "{who}: {got:#?}");
        for r in &got {
            assert_eq!(r.path, "/v1/messages");
            assert_eq!(
                r.body["tools"][0]["name"], "get_weather",
                "{who}: {}",
                r.body
            );
            assert_eq!(
                r.body["tools"][0]["input_schema"]["properties"]["city"]["type"], "string",
                "{who}: {}",
                r.body
            );
        }
        let messages = got[2].body["messages"].as_array().expect("messages");
        assert_eq!(messages.len(), 3, "{who}: {messages:?}");
        assert_eq!(messages[1]["role"], "assistant");
        let uses: Vec<&Value> = messages[1]["content"]
            .as_array()
            .expect("assistant blocks")
            .iter()
            .filter(|b| b["type"] == "tool_use")
            .collect();
        assert_eq!(
            uses,
            [
                &json!({"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                "input": {"city": "Paris"}})
            ],
            "{who}: {messages:?}"
        );
        assert_eq!(messages[2]["role"], "user");
        let result = &messages[2]["content"][0];
        assert_eq!(result["type"], "tool_result", "{who}: {result}");
        assert_eq!(result["tool_use_id"], "toolu_1", "{who}: {result}");
        assert!(
            result["content"].to_string().contains("18 C and sunny"),
            "{who}: {result}"
        );
    }
    g.stop().await;
}

/// In-process (no sockets): an Anthropic-shaped request with tools, answered whole by an
/// OpenAI-shaped upstream that calls one, comes back as a `tool_use` block.
#[tokio::test(flavor = "multi_thread")]
async fn the_router_answers_an_anthropic_request_with_a_tool_use_block() {
    use tower::ServiceExt;

    let mut config = ServerConfig::new(Protocol::OpenAi);
    config.api_key = None;
    config.default_reply =
        Reply::text("Checking.").with_tool_call("call_7", "get_weather", r#"{"city":"Rome"}"#);
    let up = TestServer::start(config).await.expect("upstream");
    let toml = format!(
        "{}{}",
        model("gpt", &up, ""),
        component("triage", &["gpt"], "")
    );
    let g = start(&toml).await;
    let body = json!({"model": "gpt", "max_tokens": 64,
        "messages": [{"role": "user", "content": "Weather in Rome?"}],
        "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "any"}});
    let req = http::Request::post("/v1/messages")
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .body(axum::body::Body::from(body.to_string()))
        .expect("request");
    let response = g.gateway_router.clone().oneshot(req).await.expect("router");
    assert_eq!(response.status(), http::StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let got: Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(
        got["content"],
        json!([{"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_7", "name": "get_weather", "input": {"city": "Rome"}}])
    );
    assert_eq!(got["stop_reason"], "tool_use");
    let sent = &received(&up, 0)[0].body;
    assert_eq!(sent["tool_choice"], "required", "{sent}");
    assert_eq!(
        sent["tools"][0]["function"]["name"], "get_weather",
        "{sent}"
    );
}

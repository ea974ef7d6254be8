//! Tool calling through `rightfit serve` with a real local model (SmolLM2-135M): the official
//! `openai` (Python and npm) and `anthropic` SDKs offer `get_weather(city)` with the call forced
//! (a model this small only calls reliably when the grammar makes it), whole and streamed, then
//! send the tool's result back. Each call names the declared function with arguments valid
//! against its schema; the SDK's streamed call equals the whole one (greedy); both APIs get the
//! same call for the same conversation; the traffic log, drained on SIGTERM, keeps the calls.

use std::collections::BTreeMap;

use rightfit_testkit::clients::{self, Client, Forced};
use serde_json::{Value, json};

use crate::gateway::{create_key, free_port, project, serve, stop, traffic_list};
use crate::{home_with_model, rightfit, stderr};

/// Each run: a name, the client, how its first turn forces the call.
const RUNS: [(&str, Client, Forced); 4] = [
    (
        "openai-python required",
        Client::OpenAiPython,
        Forced::Required,
    ),
    ("openai-node named", Client::OpenAiNode, Forced::Named),
    (
        "anthropic-python any",
        Client::AnthropicPython,
        Forced::Required,
    ),
    (
        "anthropic-python named",
        Client::AnthropicPython,
        Forced::Named,
    ),
];

/// The schema the client script declares for `get_weather` (the Python `openai` script's tool
/// is strict, so it closes the object).
fn schema(client: Client) -> Value {
    let mut s = json!({"type": "object", "properties": {"city": {"type": "string"}},
        "required": ["city"]});
    if client == Client::OpenAiPython {
        s["additionalProperties"] = json!(false);
    }
    s
}

/// Where `value` breaks the few JSON Schema keywords these tools use (`type`, `properties`,
/// `required`, `additionalProperties: false`); `None` when it holds.
fn violation(schema: &Value, value: &Value) -> Option<String> {
    let fits = match schema["type"].as_str() {
        Some("object") => value.is_object(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some("array") => value.is_array(),
        _ => true,
    };
    if !fits {
        return Some(format!("{value} is not of type {}", schema["type"]));
    }
    // A scalar of the right type holds; an object is checked key by key.
    let object = value.as_object()?;
    for key in schema["required"].as_array().into_iter().flatten() {
        let key = key.as_str().unwrap_or_default();
        if !object.contains_key(key) {
            return Some(format!("required key {key:?} missing from {value}"));
        }
    }
    for (key, v) in object {
        match schema["properties"].get(key) {
            Some(property) => {
                if let Some(why) = violation(property, v) {
                    return Some(format!("{key}: {why}"));
                }
            }
            None if schema["additionalProperties"] == json!(false) => {
                return Some(format!("undeclared key {key:?} in {value}"));
            }
            None => {}
        }
    }
    None
}

/// A client line's calls as (function name, parsed arguments), in order.
fn calls(client: Client, line: &Value) -> Vec<(String, Value)> {
    let arguments = if client == Client::AnthropicPython {
        "input"
    } else {
        "arguments"
    };
    line["tool_calls"]
        .as_array()
        .unwrap_or_else(|| panic!("no tool_calls: {line}"))
        .iter()
        .map(|c| {
            let name = c["name"].as_str().expect("a name").to_owned();
            (name, c[arguments].clone())
        })
        .collect()
}

/// The first turn (whole or streamed): a call to `get_weather` valid against its schema, and
/// the finish reason of a call.
fn check_call(who: &str, client: Client, line: &Value) -> Vec<(String, Value)> {
    let got = calls(client, line);
    assert!(!got.is_empty(), "{who}: no call: {line}");
    for (name, arguments) in &got {
        assert_eq!(name, "get_weather", "{who}: {line}");
        assert!(arguments.is_object(), "{who}: {line}");
        if let Some(why) = violation(&schema(client), arguments) {
            panic!("{who}: arguments break the schema: {why}: {line}");
        }
    }
    let finish = if client == Client::AnthropicPython {
        "tool_use"
    } else {
        "tool_calls"
    };
    assert_eq!(line["finish_reason"], finish, "{who}: {line}");
    got
}

#[test]
fn the_sdks_call_tools_of_the_local_model_through_the_gateway_smollm2() {
    let home = home_with_model();
    let dir = tempfile::tempdir().expect("project");
    let port = free_port();
    let config = project(dir.path(), port);
    let secret = create_key(home.path(), &config);
    let mut server = serve(home.path(), &config, port);
    let base = format!("http://127.0.0.1:{port}");
    let mut runs: BTreeMap<&str, BTreeMap<String, Value>> = BTreeMap::new();
    for (name, client, forced) in RUNS {
        match clients::run_tools_forced(client, &base, &secret, "greeter", forced) {
            Ok(c) => {
                runs.insert(name, c);
            }
            Err(e) => {
                let _ = server.kill();
                panic!("{name}: {e}");
            }
        }
    }
    let log = stop(server);
    // Three answered calls per run, all logged.
    assert!(log.contains("stopped: 12 traffic records written"), "{log}");

    let mut first_calls = BTreeMap::new();
    for (name, client, _) in RUNS {
        let run = &runs[name];
        eprintln!("{name}:");
        for call in ["tools", "tools_stream", "tool_result"] {
            eprintln!("  {call}: {}", run[call]);
        }
        let whole = check_call(name, client, &run["tools"]);
        let streamed = check_call(&format!("{name} streamed"), client, &run["tools_stream"]);
        // Greedy: the call the SDK assembled from the stream's deltas is the whole call.
        assert_eq!(streamed, whole, "{name}: streamed vs whole");
        let deltas = if client == Client::AnthropicPython {
            "input_deltas"
        } else {
            "argument_deltas"
        };
        assert!(
            run["tools_stream"][deltas].as_u64() >= Some(1),
            "{name}: the arguments arrive as deltas: {}",
            run["tools_stream"]
        );
        // The second turn, the tool's result sent back under `auto`, is answered: with text, or
        // (the model's choice) another valid call.
        let answer = &run["tool_result"];
        let text = answer["text"].as_str().unwrap_or_default();
        let finish = answer["finish_reason"].as_str().unwrap_or_default();
        if ["tool_calls", "tool_use"].contains(&finish) {
            check_call(&format!("{name} second turn"), client, answer);
        } else {
            assert!(!text.trim().is_empty(), "{name}: no answer: {answer}");
            assert!(
                ["stop", "length", "end_turn", "max_tokens"].contains(&finish),
                "{name}: {answer}"
            );
        }
        first_calls.insert(name, whole);
    }
    // The same conversation, tool and forced choice through either API: the same call.
    assert_eq!(
        first_calls["anthropic-python named"], first_calls["openai-node named"],
        "Anthropic and OpenAI APIs, get_weather named"
    );
    assert_eq!(
        first_calls["anthropic-python any"], first_calls["openai-node named"],
        "Anthropic's any and OpenAI's named choice of the one tool"
    );

    // The log as `rightfit traffic` shows it: the first turns' calls, the second turns'
    // conversations carrying the call and its result.
    let (records, listing) = traffic_list(home.path(), &config);
    let answered: Vec<&Value> = records.iter().filter(|r| r["status"] == 200).collect();
    assert_eq!(answered.len(), 12, "{listing}");
    let (second_turns, first_turns): (Vec<&Value>, Vec<&Value>) = answered.iter().partition(|r| {
        r["input"]["messages"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["role"] == "tool"))
    });
    assert_eq!(second_turns.len(), 4, "{listing}");
    assert_eq!(
        first_turns.iter().filter(|r| r["stream"] == true).count(),
        4,
        "{listing}"
    );
    for r in &second_turns {
        let messages = r["input"]["messages"].as_array().expect("messages");
        assert!(
            messages
                .iter()
                .any(|m| m["role"] == "assistant" && m["tool_calls"][0]["name"] == "get_weather"),
            "{r}"
        );
    }
    let sdk_arguments: Vec<&Value> = first_calls.values().flatten().map(|(_, a)| a).collect();
    for r in &first_turns {
        assert_eq!(r["finish_reason"], "tool_calls", "{r}");
        let logged = r["tool_calls"].as_array().expect("tool_calls");
        assert!(!logged.is_empty(), "{r}");
        for c in logged {
            assert_eq!(c["name"], "get_weather", "{r}");
            let arguments: Value =
                serde_json::from_str(c["arguments"].as_str().expect("arguments text"))
                    .expect("JSON arguments");
            assert!(sdk_arguments.contains(&&arguments), "{r}");
        }
    }

    // The same traffic exported as a dataset the `tool_call` contract reads: each row keeps the
    // offered tools and the conversation, and its reference is the model's calls.
    let exported = dir.path().join("tool-traffic.jsonl");
    let exported_arg = exported.to_string_lossy().into_owned();
    let o = rightfit(
        home.path(),
        &[
            "traffic",
            "export",
            "-c",
            &config,
            "--component",
            "greeter",
            "-o",
            &exported_arg,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: Vec<Value> = std::fs::read_to_string(&exported)
        .expect("exported dataset")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON row"))
        .collect();
    assert_eq!(rows.len(), 12, "{}", stderr(&o));
    let mut first_turn_rows = 0;
    for row in &rows {
        let tools = row["tools"].as_array().expect("tools");
        assert!(tools.iter().any(|t| t["name"] == "get_weather"), "{row}");
        let messages = row["messages"].as_array().expect("messages");
        let reference = row["reference"].as_array().expect("reference calls");
        for call in reference {
            assert_eq!(call["name"], "get_weather", "{row}");
            assert!(call["arguments"].is_object(), "{row}");
        }
        if !messages.iter().any(|m| m["role"] == "tool") {
            // A first turn: its reference is the call the SDKs received.
            first_turn_rows += 1;
            assert!(!reference.is_empty(), "{row}");
            for call in reference {
                assert!(sdk_arguments.contains(&&call["arguments"]), "{row}");
            }
        }
    }
    assert_eq!(first_turn_rows, 8, "{rows:?}");
}

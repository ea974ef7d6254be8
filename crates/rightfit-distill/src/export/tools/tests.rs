//! A `tool_call` component's rows in OpenAI's function-calling fine-tuning format.

use rightfit_config::project::Project;
use rightfit_eval::example::Example;
use rightfit_eval::prompt::{NO_FITTING_TOOL, Templates};
use rightfit_eval::tool_call;
use rightfit_types::{Message, ToolCall};
use serde_json::{Value, json};

use crate::data::TrainingSet;
use crate::export::{ExportFormat, write};

fn templates(dir: &std::path::Path) -> Templates {
    std::fs::write(dir.join("d.jsonl"), "").expect("write");
    let text = r#"
[models.m]
provider = "local"
model = "x.gguf"
[components.weather]
prompt = "{{ input }}"
dataset = { path = "d.jsonl", id = "id" }
reference = "reference"
output = { type = "tool_call", tools = "tools", messages = "messages" }
[[components.weather.candidates]]
model = "m"
"#;
    let p = Project::parse(&dir.join("rightfit.toml"), text).expect("valid");
    Templates::new(&p.components["weather"]).expect("templates")
}

fn weather() -> Value {
    json!({"name": "weather.get", "description": "Weather in a city.", "parameters": {
        "type": "dict", "properties": {"city": {"type": "string"}}, "required": ["city"]
    }})
}

/// A conversation with an earlier call and its result, expecting `expected`.
fn row(id: &str, expected: Value) -> Example {
    let messages = vec![
        Message::system("You help with the weather."),
        Message::user("Weather in Oslo?"),
        Message::assistant_calls(
            "",
            vec![ToolCall::new(
                "call_a",
                "weather_get",
                &json!({"city": "Oslo"}),
            )],
        ),
        Message::tool_result("call_a", "{\"temp\": 3}"),
        Message::user("And in Paris?"),
    ];
    let mut e = Example::from_conversation(id, messages);
    e.reference = tool_call::reference(vec![weather()], &expected).expect("reference");
    e
}

fn set(rows: Vec<Example>) -> TrainingSet {
    TrainingSet {
        train: rows,
        validation: Vec::new(),
        read: 0,
        dropped: Vec::new(),
        refused_overlap: 0,
        skipped: 0,
        teacher: None,
        labelling_cost_usd: None,
    }
}

fn lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

#[test]
fn a_call_row_is_openai_function_calling_fine_tuning_data() {
    let dir = tempfile::tempdir().expect("dir");
    let t = templates(dir.path());
    let expected = json!([{"name": "weather.get", "arguments": {"city": "Paris"}}]);
    let mut out = Vec::new();
    let n = write(
        &mut out,
        &t,
        &set(vec![row("r1", expected)]),
        ExportFormat::OpenAi,
        Some("weather"),
    )
    .expect("write");
    assert_eq!(n, 1);
    let want = json!({
        "messages": [
            {"role": "system", "content": "You help with the weather."},
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "tool_calls": [{"id": "call_a", "type": "function",
                "function": {"name": "weather_get", "arguments": "{\"city\":\"Oslo\"}"}}]},
            {"role": "tool", "content": "{\"temp\": 3}", "tool_call_id": "call_a"},
            {"role": "user", "content": "And in Paris?"},
            {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "weather_get", "arguments": "{\"city\":\"Paris\"}"}}]},
        ],
        "tools": [{"type": "function", "function": {
            "name": "weather_get",
            "description": "Weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                           "required": ["city"]},
        }}],
    });
    assert_eq!(lines(&out), [want]);
}

#[test]
fn no_expected_call_answers_in_words_and_pairs_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let t = templates(dir.path());
    let mut out = Vec::new();
    write(
        &mut out,
        &t,
        &set(vec![row("r1", json!([]))]),
        ExportFormat::OpenAi,
        Some("weather"),
    )
    .expect("write");
    let line = &lines(&out)[0];
    let messages = line["messages"].as_array().expect("messages");
    assert_eq!(
        messages.last(),
        Some(&json!({"role": "assistant", "content": NO_FITTING_TOOL}))
    );
    assert_eq!(line["tools"][0]["function"]["name"], "weather_get");
    let e = write(
        &mut Vec::new(),
        &t,
        &set(vec![row("r1", json!([]))]),
        ExportFormat::PromptCompletion,
        Some("weather"),
    )
    .expect_err("refused");
    let text = e.to_string();
    assert!(
        text.contains("component 'weather'") && text.contains("OpenAI format"),
        "{text}"
    );
}

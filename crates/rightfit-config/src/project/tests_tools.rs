//! `output = { type = "tool_call", ... }`: where the functions come from, the conversation, BFCL
//! datasets and the tool metrics, with errors that name the line and key.

use std::path::Path;

use serde_json::json;

use super::*;

fn parse(component: &str) -> Result<Project, ConfigError> {
    let text = format!(
        r#"
[models.small]
provider = "local"
model = "smollm2-135m"

[components.c]
{component}

[[components.c.candidates]]
model = "small"
"#
    );
    Project::parse(Path::new("proj/rightfit.toml"), &text)
}

#[test]
fn a_bfcl_component_reads_the_rows_functions_and_conversation_without_a_prompt() {
    let p = parse(
        r#"dataset = { path = "bfcl/q.json", format = "bfcl", answers = "bfcl/a.json" }
reference = "ground_truth"
output = { type = "tool_call", tools = "function", messages = "question" }"#,
    )
    .expect("valid");
    let c = &p.components["c"];
    assert_eq!(
        c.output,
        OutputContract::ToolCall {
            tools: ToolSource::Field("function".into()),
            messages: Some("question".into()),
        }
    );
    assert_eq!(c.prompt, "");
    assert_eq!(
        c.metrics,
        ["tool_exact", "tool_name", "tool_args", "tool_valid"]
    );
    assert_eq!(c.dataset.format.as_deref(), Some("bfcl"));
    assert_eq!(
        c.dataset.answers,
        Some(Path::new("proj/bfcl/a.json").to_path_buf())
    );
}

#[test]
fn inline_tools_are_checked() {
    let p = parse(
        r#"prompt = "{{ q }}"
dataset = { path = "d.jsonl" }
reference = "call"
output = { type = "tool_call", tools = [
  { name = "get_weather", description = "Weather now", parameters = { type = "object", properties = { city = { type = "string" } } } },
] }
metrics = ["tool_args", "tool_exact"]"#,
    )
    .expect("valid");
    let OutputContract::ToolCall { tools, messages } = &p.components["c"].output else {
        panic!("a tool_call contract")
    };
    assert_eq!(messages, &None);
    assert_eq!(
        tools,
        &ToolSource::Inline(vec![json!({
            "name": "get_weather", "description": "Weather now",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}
        })])
    );
    let bad = |output: &str, said: &str| {
        let e = parse(&format!(
            "prompt = \"{{{{ q }}}}\"\ndataset = {{ path = \"d.jsonl\" }}\nreference = \"call\"\noutput = {output}"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("components.c.output") && e.contains(said), "{e}");
    };
    bad(
        r#"{ type = "tool_call" }"#,
        "a tool_call contract needs tools",
    );
    bad(r#"{ type = "tool_call", tools = [] }"#, "lists no function");
    bad(
        r#"{ type = "tool_call", tools = [{ description = "x" }] }"#,
        "tools[0] needs a name",
    );
    bad(
        r#"{ type = "tool_call", tools = [{ name = "f" }, { name = "f" }] }"#,
        "offered twice",
    );
    bad(
        r#"{ type = "tool_call", tools = [{ name = "f", parameters = 3 }] }"#,
        "must be a table",
    );
    bad(
        r#"{ type = "tool_call", tools = [{ name = "f", args = {} }] }"#,
        "unknown key 'args'",
    );
}

#[test]
fn tool_metrics_need_the_contract_and_a_prompt_needs_messages_to_go() {
    let e = parse(
        "prompt = \"{{ q }}\"\ndataset = { path = \"d.jsonl\" }\nreference = \"a\"\noutput = { type = \"text\" }\nmetrics = [\"tool_exact\"]",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("metric 'tool_exact' does not fit"), "{e}");
    let e = parse(
        "dataset = { path = \"d.jsonl\" }\nreference = \"a\"\noutput = { type = \"tool_call\", tools = \"f\" }",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("components.c.prompt: missing prompt"), "{e}");
    let e = parse(
        "prompt = \"{{ q }}\"\ndataset = { path = \"d.jsonl\", answers = \"a.json\" }\nreference = \"a\"\noutput = { type = \"text\" }",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("applies to format = \"bfcl\" only"), "{e}");
}

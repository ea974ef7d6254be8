//! Tool-using traffic exported, written, and read back by a `tool_call` component.

use rightfit_config::project::Project;
use rightfit_types::{Role, ToolCall, TrafficRecord};
use serde_json::{Value, json};

use crate::dataset::{export_rows, write_rows};
use crate::example::{Example, load_labelled};
use crate::tool_call;

fn weather() -> Value {
    json!({"name": "get_weather", "description": "Weather in a city.", "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
        "required": ["city"]
    }})
}

/// A conversation with an earlier call and its result, then a new question.
fn conversation() -> Value {
    json!([
        {"role": "system", "content": "You help with the weather."},
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}
        ]},
        {"role": "tool", "content": "{\"temp\": 3}", "tool_call_id": "call_1"},
        {"role": "assistant", "content": "3 degrees."},
        {"role": "user", "content": "And in Paris, in fahrenheit?"},
    ])
}

fn record(id: &str, candidate: &str, tools: Option<Value>, calls: Vec<ToolCall>) -> TrafficRecord {
    let mut input = json!({"messages": conversation(), "params": {}});
    if let Some(t) = tools {
        input["tools"] = t;
    }
    let text = if calls.is_empty() {
        "I cannot tell."
    } else {
        ""
    };
    TrafficRecord {
        id: id.to_owned(),
        at: "2026-11-30T03:42:07.123Z".to_owned(),
        api: "openai".to_owned(),
        key_id: None,
        component: Some("weather".to_owned()),
        requested: "weather".to_owned(),
        route: "split".to_owned(),
        candidate: candidate.to_owned(),
        role: "primary".to_owned(),
        parent: None,
        input,
        output: Some(text.to_owned()),
        finish_reason: Some(
            if calls.is_empty() {
                "stop"
            } else {
                "tool_calls"
            }
            .to_owned(),
        ),
        tool_calls: calls,
        stream: false,
        status: 200,
        error: None,
        latency_ms: 10.0,
        ttft_ms: None,
        tokens_in: 1,
        tokens_out: 1,
        cost_usd: None,
        escalated: false,
        confidence: None,
        score: None,
        steps: Vec::new(),
    }
}

fn paris() -> ToolCall {
    ToolCall::new(
        "call_9",
        "get_weather",
        &json!({"city": "Paris", "unit": "F"}),
    )
}

/// Writes rows as JSON lines and reads them back with a `tool_call` component's mapping.
fn read_back(rows: &[crate::dataset::ExportRow]) -> (Vec<Example>, Vec<String>) {
    let dir = tempfile::tempdir().expect("dir");
    let mut out = Vec::new();
    write_rows(&mut out, rows, false).expect("write");
    std::fs::write(dir.path().join("traffic.jsonl"), &out).expect("write file");
    let text = r#"
[models.m]
provider = "local"
model = "x.gguf"
[components.weather]
prompt = "{{ input }}"
dataset = { path = "traffic.jsonl", id = "id" }
reference = "reference"
output = { type = "tool_call", tools = "tools", messages = "messages" }
[[components.weather.candidates]]
model = "m"
"#;
    let p = Project::parse(&dir.path().join("rightfit.toml"), text).expect("valid");
    let c = &p.components["weather"];
    let (examples, skipped, _) = load_labelled(c, &c.dataset).expect("load");
    (examples, skipped.into_iter().map(|s| s.reason).collect())
}

#[test]
fn a_call_answer_exports_tools_and_plain_calls_that_the_contract_reads() {
    let p = record("req_1", "big", Some(json!([weather()])), vec![paris()]);
    let (rows, _) = export_rows(std::slice::from_ref(&p), &[], None);
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.tools, Some(json!([weather()])));
    let plain = json!([{"name": "get_weather", "arguments": {"city": "Paris", "unit": "F"}}]);
    assert_eq!(row.reference_calls, Some(plain.clone()));
    assert_eq!(row.output, tool_call::calls_text(&[paris()]));
    assert_eq!(row.input, "And in Paris, in fahrenheit?");
    // As written: the calls are the reference, the tools beside the conversation.
    let written = serde_json::to_value(row).expect("serialise");
    assert_eq!(written["reference"], plain);
    assert_eq!(written["tools"], json!([weather()]));
    assert_eq!(written["messages"], conversation());
    // The eval's own reading: the functions offered and the call expected, the conversation
    // with its earlier call and tool result.
    let (examples, skipped) = read_back(&rows);
    assert!(skipped.is_empty(), "{skipped:?}");
    let e = &examples[0];
    assert_eq!(
        e.reference,
        tool_call::reference(vec![weather()], &plain).expect("reference")
    );
    assert_eq!(
        tool_call::expected(&e.reference),
        [(
            "get_weather",
            json!({"city": ["Paris"], "unit": ["F"]})
                .as_object()
                .expect("object")
        )]
    );
    let turns = e.conversation.as_ref().expect("conversation");
    assert_eq!(turns.len(), 6);
    assert_eq!(turns[2].tool_calls[0].name, "get_weather");
    assert_eq!(turns[3].role, Role::Tool);
    assert_eq!(turns[3].tool_call_id.as_deref(), Some("call_1"));
}

#[test]
fn a_text_answer_to_offered_tools_expects_no_call() {
    let p = record("req_1", "big", Some(json!([weather()])), Vec::new());
    let (rows, _) = export_rows(&[p], &[], None);
    assert_eq!(rows[0].reference_calls, Some(json!([])));
    assert_eq!(rows[0].output, "I cannot tell.");
    let (examples, skipped) = read_back(&rows);
    assert!(skipped.is_empty(), "{skipped:?}");
    assert!(tool_call::expected(&examples[0].reference).is_empty());
    assert_eq!(tool_call::offered(&examples[0].reference), [weather()]);
}

#[test]
fn the_reference_calls_are_the_chosen_candidates_and_plain_requests_stay_plain() {
    // The client got text from "small"; "big" shadowed it with a call.
    let p = record("req_1", "small", Some(json!([weather()])), Vec::new());
    let shadow = TrafficRecord {
        id: "req_1-shadow-1".into(),
        role: "shadow".into(),
        parent: Some("req_1".into()),
        ..record("x", "big", None, vec![paris()])
    };
    // Neither tools nor tool turns nor calls: exported as before.
    let plain = TrafficRecord {
        input: json!({"messages": [{"role": "user", "content": "hi"}]}),
        ..record("req_2", "big", None, Vec::new())
    };
    let (rows, skipped) = export_rows(&[p, plain], &[shadow], Some("big"));
    assert_eq!(skipped.total(), 0);
    assert_eq!(rows[0].output, "I cannot tell.");
    assert_eq!(rows[0].reference, tool_call::calls_text(&[paris()]));
    assert_eq!(
        rows[0].reference_calls,
        Some(json!([{"name": "get_weather", "arguments": {"city": "Paris", "unit": "F"}}]))
    );
    assert_eq!((&rows[1].tools, &rows[1].reference_calls), (&None, &None));
    let written = serde_json::to_value(&rows[1]).expect("serialise");
    assert_eq!(written.get("tools"), None);
    assert_eq!(written["reference"], json!("I cannot tell."));
}

#[test]
fn tool_turns_alone_make_a_tool_row_and_csv_gains_a_tools_column() {
    // No tools offered on this request, but the conversation has calls and results.
    let p = record("req_1", "big", None, Vec::new());
    let (rows, _) = export_rows(&[p], &[], None);
    assert_eq!(rows[0].tools, Some(json!([])));
    let mut out = Vec::new();
    write_rows(&mut out, &rows, true).expect("csv");
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header.last().map(String::as_str), Some("tools"));
    let line = reader.records().next().expect("row").expect("csv row");
    assert_eq!(&line[8], "[]");
    assert_eq!(&line[9], "[]");
    // A plain export keeps its nine columns.
    let plain = TrafficRecord {
        input: json!({"messages": [{"role": "user", "content": "hi"}]}),
        ..record("req_2", "big", None, Vec::new())
    };
    let (rows, _) = export_rows(&[plain], &[], None);
    let mut out = Vec::new();
    write_rows(&mut out, &rows, true).expect("csv");
    let first = String::from_utf8(out).expect("utf-8");
    assert_eq!(
        first.lines().next(),
        Some("id,at,component,candidate,system,input,messages,output,reference")
    );
}

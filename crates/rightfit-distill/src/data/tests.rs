//! Traffic rows of a `tool_call` component as training examples.

use rightfit_eval::dataset::export_rows;
use rightfit_types::{Role, ToolCall, TrafficRecord};
use serde_json::{Value, json};

use super::tool_row;
use rightfit_eval::tool_call;

fn lookup() -> Value {
    json!({"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}})
}

fn record(calls: Vec<ToolCall>) -> TrafficRecord {
    TrafficRecord {
        id: "req_1".into(),
        at: "2026-11-30T03:42:07.123Z".into(),
        api: "openai".into(),
        key_id: None,
        component: Some("search".into()),
        requested: "search".into(),
        route: "split".into(),
        candidate: "big".into(),
        role: "primary".into(),
        parent: None,
        input: json!({
            "messages": [
                {"role": "user", "content": "find rust"},
                {"role": "assistant", "content": "", "tool_calls": [{"id": "c0", "name": "lookup", "arguments": "{\"q\":\"rust\"}"}]},
                {"role": "tool", "content": "nothing", "tool_call_id": "c0"},
                {"role": "user", "content": "try rustlang"},
            ],
            "tools": [lookup()],
        }),
        output: Some(String::new()),
        tool_calls: calls,
        finish_reason: Some("tool_calls".into()),
        stream: false,
        status: 200,
        error: None,
        latency_ms: 1.0,
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

#[test]
fn a_served_call_becomes_a_reference_with_the_functions_offered() {
    let call = ToolCall::new("c1", "lookup", &json!({"q": "rustlang"}));
    let (rows, _) = export_rows(&[record(vec![call])], &[], None);
    let e = tool_row(rows[0].clone()).expect("usable");
    assert_eq!(e.id, "req_1");
    assert_eq!(tool_call::offered(&e.reference), [lookup()]);
    assert_eq!(
        tool_call::expected(&e.reference),
        [(
            "lookup",
            json!({"q": ["rustlang"]}).as_object().expect("object")
        )]
    );
    let turns = e.conversation.expect("conversation");
    assert_eq!(turns.len(), 4);
    assert_eq!(turns[2].role, Role::Tool);
}

#[test]
fn a_call_to_a_function_not_offered_is_dropped_naming_the_row() {
    let call = ToolCall::new("c1", "delete_all", &json!({}));
    let (rows, _) = export_rows(&[record(vec![call])], &[], None);
    let (id, why) = tool_row(rows[0].clone()).expect_err("unusable");
    assert_eq!(id, "req_1");
    assert!(why.contains("'delete_all', which is not offered"), "{why}");
}

//! Tool-using traffic as `tool_call` rows: a request that offered functions, carried tool turns
//! or assistant calls, or was answered with calls exports its offered functions (`tools`) and
//! the reference candidate's calls as plain `{name, arguments}` objects, which the `tool_call`
//! contract reads as they are (`output = { type = "tool_call", tools = "tools", messages =
//! "messages" }`, `reference = "reference"`).

use rightfit_types::TrafficRecord;
use serde_json::Value;

use crate::tool_call;

/// A record's answer as evaluation records carry it: its calls as canonical JSON text when it
/// made any, else its text; `None` when no answer was logged.
pub(super) fn answer_text(r: &TrafficRecord) -> Option<String> {
    let text = r.output.as_ref()?;
    if r.tool_calls.is_empty() {
        return Some(text.clone());
    }
    Some(tool_call::calls_text(&r.tool_calls))
}

/// What a tool-using request adds to its row.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ToolRow {
    /// The functions offered (`[]` when none were).
    pub tools: Value,
    /// The reference answer's calls, `[]` when it answered in text.
    pub calls: Value,
}

impl ToolRow {
    /// The tool part of `primary`'s row, with `reference` the record whose answer is the
    /// reference; `None` when the request used no tools (neither record called one, none were
    /// offered, and the conversation has no calls or tool turns).
    pub(super) fn of(primary: &TrafficRecord, reference: &TrafficRecord) -> Option<Self> {
        let offered = primary
            .input
            .get("tools")
            .and_then(Value::as_array)
            .filter(|list| !list.is_empty());
        let turns = primary
            .input
            .get("messages")
            .and_then(Value::as_array)
            .is_some_and(|list| list.iter().any(is_tool_turn));
        let called = !primary.tool_calls.is_empty() || !reference.tool_calls.is_empty();
        if offered.is_none() && !turns && !called {
            return None;
        }
        Some(Self {
            tools: Value::Array(offered.cloned().unwrap_or_default()),
            calls: plain_calls(reference),
        })
    }
}

/// A tool turn, or an assistant turn with calls.
fn is_tool_turn(m: &Value) -> bool {
    m.get("role").and_then(Value::as_str) == Some("tool")
        || m.get("tool_calls")
            .and_then(Value::as_array)
            .is_some_and(|calls| !calls.is_empty())
}

/// The record's calls as `[{name, arguments}]`, arguments parsed (text when not JSON): the
/// canonical call text's own value.
fn plain_calls(r: &TrafficRecord) -> Value {
    if r.tool_calls.is_empty() {
        return Value::Array(Vec::new());
    }
    let text = tool_call::calls_text(&r.tool_calls);
    // calls_text writes a JSON array, which reads back; the fallback is never taken.
    serde_json::from_str(&text).unwrap_or(Value::Array(Vec::new()))
}

#[cfg(test)]
mod tests;

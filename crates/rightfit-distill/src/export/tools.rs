//! A `tool_call` component's training row in OpenAI's function-calling fine-tuning format:
//!
//! ```json
//! {"messages": [{"role": "user", "content": "..."},
//!               {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
//!                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}],
//!  "tools": [{"type": "function", "function": {"name": "get_weather", "description": "...",
//!             "parameters": {...}}}]}
//! ```
//!
//! The conversation is the row's own (earlier calls and tool results kept, in OpenAI's shape);
//! the functions are those the row offered, as a request offers them (BFCL's types and dotted
//! names made API-safe); the answer is the expected calls with each argument's first allowed
//! value, as few-shot examples show them, or, when no call is expected, the text few-shot
//! examples answer then.

use rightfit_eval::example::Example;
use rightfit_eval::prompt::{NO_FITTING_TOOL, Templates};
use rightfit_eval::tool_call;
use rightfit_types::{ImagePart, Message, Role, Tool, ToolCall};
use serde_json::{Map, Value, json};

use crate::error::{DistillError, Result};

/// The row as one OpenAI fine-tuning line with `tools` and the assistant's `tool_calls`.
pub(super) fn line(templates: &Templates, row: &Example) -> Result<Value> {
    let mut messages: Vec<Value> = templates
        .messages(&[], row)
        .map_err(|e| DistillError::Data(format!("row {}: {e}", row.id)))?
        .iter()
        .map(openai_message)
        .collect();
    let calls = tool_call::shot_calls(&row.reference);
    let answer = if calls.is_empty() {
        Message::assistant(NO_FITTING_TOOL)
    } else {
        Message::assistant_calls("", calls)
    };
    messages.push(openai_message(&answer));
    let tools: Vec<Value> = tool_call::schema::request_tools(tool_call::offered(&row.reference))
        .iter()
        .map(Tool::openai_json)
        .collect();
    Ok(json!({ "messages": messages, "tools": tools }))
}

/// A message in OpenAI's chat shape: calls as `tool_calls` of `{id, type, function: {name,
/// arguments}}` (arguments as JSON text), a tool turn's `tool_call_id`, a user turn's images as
/// `image_url` parts before its text.
fn openai_message(m: &Message) -> Value {
    let mut out = Map::new();
    out.insert("role".into(), json!(m.role.as_str()));
    if m.images.is_empty() {
        // An assistant turn that only calls says nothing.
        if !m.content.is_empty() || m.tool_calls.is_empty() {
            out.insert("content".into(), json!(m.content));
        }
    } else {
        let mut parts: Vec<Value> = m.images.iter().map(ImagePart::openai_json).collect();
        if !m.content.is_empty() {
            parts.push(json!({ "type": "text", "text": m.content }));
        }
        out.insert("content".into(), Value::Array(parts));
    }
    if !m.tool_calls.is_empty() {
        let calls: Vec<Value> = m.tool_calls.iter().map(ToolCall::openai_json).collect();
        out.insert("tool_calls".into(), Value::Array(calls));
    }
    if m.role == Role::Tool
        && let Some(id) = &m.tool_call_id
    {
        out.insert("tool_call_id".into(), json!(id));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests;

//! Tool calling and images as OpenAI Chat Completions checks them: `tools`, `tool_choice`,
//! assistant `tool_calls`, `tool` messages (each must answer a call of the assistant message
//! before it) and content parts (`text`, `image_url`). Errors are worded as OpenAI's.

use std::collections::BTreeSet;

use axum::body::Body;
use http::Response;
use serde_json::{Value, json};

use crate::error_bodies::openai::error;
use crate::script::ScriptedCall;

fn invalid(message: &str, param: &str, code: Option<&str>) -> Response<Body> {
    error(400, message, "invalid_request_error", Some(param), code)
}

/// Checks the tool and image parts of a chat completion body.
pub(super) fn check(body: &Value) -> Result<(), Response<Body>> {
    let tools = match body.get("tools") {
        None | Some(Value::Null) => None,
        Some(Value::Array(tools)) => Some(tools),
        Some(_) => {
            return Err(invalid(
                "Invalid type for 'tools': expected an array of objects.",
                "tools",
                Some("invalid_type"),
            ));
        }
    };
    let mut names = BTreeSet::new();
    for (i, tool) in tools.into_iter().flatten().enumerate() {
        if tool.get("type").and_then(Value::as_str) != Some("function") {
            return Err(invalid(
                &format!("Missing required parameter: 'tools[{i}].type'."),
                &format!("tools[{i}].type"),
                Some("missing_required_parameter"),
            ));
        }
        let Some(name) = tool.pointer("/function/name").and_then(Value::as_str) else {
            return Err(invalid(
                &format!("Missing required parameter: 'tools[{i}].function.name'."),
                &format!("tools[{i}].function.name"),
                Some("missing_required_parameter"),
            ));
        };
        names.insert(name);
    }
    let has_tools = tools.is_some_and(|t| !t.is_empty());
    for key in ["tool_choice", "parallel_tool_calls"] {
        if body.get(key).is_some_and(|v| !v.is_null()) && !has_tools {
            return Err(invalid(
                &format!(
                    "Invalid value for '{key}': '{key}' is only allowed when 'tools' are specified."
                ),
                key,
                None,
            ));
        }
    }
    match body.get("tool_choice") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if matches!(s.as_str(), "auto" | "none" | "required") => {}
        Some(choice @ Value::Object(_)) => {
            let name = choice.pointer("/function/name").and_then(Value::as_str);
            if !name.is_some_and(|n| names.contains(n)) {
                return Err(invalid(
                    &format!(
                        "Invalid value for 'tool_choice': function {:?} is not among the tools.",
                        name.unwrap_or_default()
                    ),
                    "tool_choice",
                    None,
                ));
            }
        }
        Some(_) => {
            return Err(invalid(
                "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or a named function.",
                "tool_choice",
                None,
            ));
        }
    }
    let messages = body.get("messages").and_then(Value::as_array);
    check_messages(messages.map_or(&[][..], Vec::as_slice))
}

/// Each `tool` message answers a call of the assistant message before it (with only tool
/// messages between), and each such call is answered before the next other message.
fn check_messages(messages: &[Value]) -> Result<(), Response<Body>> {
    // The calls of the last assistant message that are not answered yet.
    let mut pending: Vec<String> = Vec::new();
    // Whether a tool message may come now (right after an assistant message with calls).
    let mut in_results = false;
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
        if role != "tool" && !pending.is_empty() {
            return Err(unanswered(&pending, i));
        }
        match role {
            "tool" => {
                let id = m.get("tool_call_id").and_then(Value::as_str);
                let Some(id) = id else {
                    return Err(invalid(
                        &format!("Missing required parameter: 'messages.[{i}].tool_call_id'."),
                        &format!("messages.[{i}].tool_call_id"),
                        Some("missing_required_parameter"),
                    ));
                };
                let Some(at) = pending.iter().position(|p| p == id).filter(|_| in_results) else {
                    return Err(invalid(
                        "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                        &format!("messages.[{i}].role"),
                        None,
                    ));
                };
                pending.remove(at);
            }
            "assistant" => {
                pending = assistant_calls(m, i)?;
                in_results = !pending.is_empty();
            }
            _ => {
                in_results = false;
                check_parts(m, i)?;
            }
        }
    }
    if !pending.is_empty() {
        return Err(unanswered(&pending, messages.len()));
    }
    Ok(())
}

fn unanswered(pending: &[String], at: usize) -> Response<Body> {
    invalid(
        &format!(
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
            pending.join(", ")
        ),
        &format!("messages.[{at}].role"),
        None,
    )
}

/// The call ids of an assistant message, each call checked.
fn assistant_calls(m: &Value, i: usize) -> Result<Vec<String>, Response<Body>> {
    let Some(calls) = m.get("tool_calls").filter(|c| !c.is_null()) else {
        return Ok(Vec::new());
    };
    let Some(calls) = calls.as_array() else {
        return Err(invalid(
            &format!("Invalid type for 'messages[{i}].tool_calls': expected an array."),
            &format!("messages.[{i}].tool_calls"),
            Some("invalid_type"),
        ));
    };
    let mut ids = Vec::with_capacity(calls.len());
    for (k, call) in calls.iter().enumerate() {
        let id = call.get("id").and_then(Value::as_str);
        let name = call.pointer("/function/name").and_then(Value::as_str);
        let arguments = call.pointer("/function/arguments").and_then(Value::as_str);
        let (Some(id), Some(_), Some(_)) = (id, name, arguments) else {
            return Err(invalid(
                &format!(
                    "Missing required parameter: 'messages.[{i}].tool_calls.[{k}]' needs 'id', 'function.name' and 'function.arguments' (a string)."
                ),
                &format!("messages.[{i}].tool_calls.[{k}]"),
                Some("missing_required_parameter"),
            ));
        };
        ids.push(id.to_owned());
    }
    Ok(ids)
}

/// A content array holds `text` and (in user messages) `image_url` parts.
fn check_parts(m: &Value, i: usize) -> Result<(), Response<Body>> {
    let Some(parts) = m.get("content").and_then(Value::as_array) else {
        return Ok(());
    };
    let user = m.get("role").and_then(Value::as_str) == Some("user");
    for (k, part) in parts.iter().enumerate() {
        let ok = match part.get("type").and_then(Value::as_str) {
            Some("text") => part.get("text").is_some_and(Value::is_string),
            Some("image_url") => {
                user && part
                    .pointer("/image_url/url")
                    .and_then(Value::as_str)
                    .is_some_and(|u| u.starts_with("data:image/") || u.starts_with("http"))
            }
            _ => false,
        };
        if !ok {
            return Err(invalid(
                &format!(
                    "Invalid value for 'messages[{i}].content[{k}]': expected a text part, or an image_url part with a data:image/ or http(s) url in a user message."
                ),
                &format!("messages.[{i}].content.[{k}]"),
                Some("invalid_value"),
            ));
        }
    }
    Ok(())
}

/// `message.tool_calls` of a whole answer.
pub(super) fn message_calls(calls: &[ScriptedCall]) -> Value {
    calls
        .iter()
        .map(|c| {
            json!({
                "id": c.id, "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            })
        })
        .collect()
}

/// The `delta` objects that stream the calls: per call, one that begins it (id, name, empty
/// arguments), then one per argument piece.
pub(super) fn call_deltas(calls: &[ScriptedCall], chunks: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for (k, call) in calls.iter().enumerate() {
        out.push(json!({"tool_calls": [{
            "index": k, "id": call.id, "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }]}));
        for piece in call.pieces(chunks) {
            if !piece.is_empty() {
                out.push(json!({"tool_calls": [{"index": k, "function": {"arguments": piece}}]}));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(body: Value) -> u16 {
        check(&body).map_or_else(|r| r.status().as_u16(), |()| 200)
    }

    #[test]
    fn tool_messages_must_answer_the_assistant_s_calls() {
        let call = json!({"role": "assistant", "content": null, "tool_calls": [{"id": "c1",
            "type": "function", "function": {"name": "f", "arguments": "{}"}}]});
        let result = |id: &str| json!({"role": "tool", "tool_call_id": id, "content": "ok"});
        let user = json!({"role": "user", "content": "hi"});
        assert_eq!(status(json!({"messages": [user, call, result("c1")]})), 200);
        assert_eq!(status(json!({"messages": [user, call, result("c2")]})), 400);
        assert_eq!(status(json!({"messages": [user, result("c1")]})), 400);
        assert_eq!(status(json!({"messages": [user, call, user]})), 400);
        assert_eq!(
            status(json!({"messages": [user], "tool_choice": "auto"})),
            400
        );
    }
}

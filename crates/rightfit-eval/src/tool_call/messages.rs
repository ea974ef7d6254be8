//! A row's conversation as messages: a list of messages, or a list of turns of messages (BFCL's
//! `question`), with assistant tool calls and tool results in OpenAI's shape or rightfit's own.

use rightfit_types::{Message, Role, ToolCall};
use serde_json::Value;

/// The messages of `value`, turns flattened in order.
///
/// A message is `{role, content}` with role `system`, `user`, `assistant` or `tool`; content a
/// string, `null`, or a list of `{type: "text", text}` parts. An assistant message may carry
/// `tool_calls`, each `{id, function: {name, arguments}}` (OpenAI) or `{id, name, arguments}`,
/// arguments a JSON object or its text; a tool message carries `tool_call_id`.
pub fn conversation(value: &Value) -> Result<Vec<Message>, String> {
    let Value::Array(items) = value else {
        return Err(format!("the messages must be a list, not {}", kind(value)));
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::Array(turn) => {
                for (j, m) in turn.iter().enumerate() {
                    out.push(message(m).map_err(|e| format!("messages[{i}][{j}]: {e}"))?);
                }
            }
            m => out.push(message(m).map_err(|e| format!("messages[{i}]: {e}"))?),
        }
    }
    if !out.iter().any(|m| m.role == Role::User) {
        return Err("the conversation has no user message".into());
    }
    Ok(out)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn message(m: &Value) -> Result<Message, String> {
    let role = match m.get("role").and_then(Value::as_str) {
        Some("system" | "developer") => Role::System,
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        Some("tool") => Role::Tool,
        Some(other) => {
            return Err(format!(
                "unknown role '{other}': expected system, user, assistant or tool"
            ));
        }
        None => return Err("a message needs a role".into()),
    };
    let content = match m.get("content") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        Some(other) => return Err(format!("content must be text, not {}", kind(other))),
    };
    let mut out = Message::new(role, content);
    if let Some(calls) = m.get("tool_calls") {
        let Value::Array(calls) = calls else {
            return Err("tool_calls must be a list".into());
        };
        out.tool_calls = calls
            .iter()
            .enumerate()
            .map(|(i, c)| call(c, i).map_err(|e| format!("tool_calls[{i}]: {e}")))
            .collect::<Result<_, _>>()?;
    }
    if let Some(id) = m.get("tool_call_id") {
        out.tool_call_id = Some(
            id.as_str()
                .ok_or("tool_call_id must be a string")?
                .to_owned(),
        );
    }
    if role == Role::Tool && out.tool_call_id.is_none() {
        return Err("a tool message needs the tool_call_id of the call it answers".into());
    }
    Ok(out)
}

fn call(c: &Value, index: usize) -> Result<ToolCall, String> {
    let f = c.get("function").unwrap_or(c);
    let name = f
        .get("name")
        .and_then(Value::as_str)
        .ok_or("a call needs a function name")?;
    let arguments = match f.get("arguments") {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(Value::String(text)) => text.clone(),
        Some(v) => v.to_string(),
    };
    let id = c
        .get("id")
        .and_then(Value::as_str)
        .map_or_else(|| format!("call_{index}"), str::to_owned);
    Ok(ToolCall {
        id,
        name: name.to_owned(),
        arguments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn turns_flatten_and_calls_and_results_are_read_in_either_shape() {
        let v = json!([
            [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"}],
            [
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"name": "get_time", "arguments": {"tz": "CET"}}
                ]},
                {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "18C"}]},
                {"role": "user", "content": "And tomorrow?"}
            ]
        ]);
        let m = conversation(&v).expect("conversation");
        assert_eq!(m.len(), 5);
        assert_eq!(m[0], Message::system("Be brief."));
        assert_eq!(m[2].tool_calls[0].name, "get_weather");
        assert_eq!(m[2].tool_calls[0].arguments, "{\"city\":\"Paris\"}");
        assert_eq!(m[2].tool_calls[1].id, "call_1");
        assert_eq!(m[2].tool_calls[1].arguments, "{\"tz\":\"CET\"}");
        assert_eq!(m[3], Message::tool_result("c1", "18C"));
        assert_eq!(m[4], Message::user("And tomorrow?"));
    }

    #[test]
    fn bad_messages_say_where() {
        let e = conversation(&json!([[{"role": "user", "content": "q"}, {"role": "robot"}]]))
            .unwrap_err();
        assert!(e.starts_with("messages[0][1]: unknown role 'robot'"), "{e}");
        let e = conversation(&json!([{"role": "tool", "content": "x"}])).unwrap_err();
        assert!(e.contains("tool_call_id"), "{e}");
        let e = conversation(&json!([{"role": "assistant", "content": "x"}])).unwrap_err();
        assert!(e.contains("no user message"), "{e}");
        assert!(
            conversation(&json!("hi"))
                .unwrap_err()
                .contains("not a string")
        );
    }
}

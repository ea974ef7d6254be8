//! Tool calling and images as the Anthropic Messages API checks them: `tools`, `tool_choice`,
//! `tool_use` blocks (input an object), `tool_result` blocks (each answering a `tool_use` of the
//! message just before, every call answered) and `image` blocks. Errors are worded as
//! Anthropic's, which name the offending path (`messages.2.content.0: ...`).

use serde_json::{Value, json};

use crate::script::ScriptedCall;

/// Media types Anthropic takes for base64 images.
const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

/// Checks the tool and image parts of a messages body; `Err` is the message of a 400
/// `invalid_request_error`.
pub(super) fn check(body: &Value) -> Result<(), String> {
    let mut names = Vec::new();
    if let Some(tools) = body.get("tools") {
        let Some(tools) = tools.as_array() else {
            return Err("tools: Input should be a valid list".into());
        };
        for (i, tool) in tools.iter().enumerate() {
            let Some(name) = tool.get("name").and_then(Value::as_str) else {
                return Err(format!("tools.{i}.name: Field required"));
            };
            // Server tools (`type`: web_search_…, …) need no schema; custom tools do.
            let custom = tool
                .get("type")
                .and_then(Value::as_str)
                .is_none_or(|t| t == "custom");
            if custom && !tool.get("input_schema").is_some_and(Value::is_object) {
                return Err(format!("tools.{i}.custom.input_schema: Field required"));
            }
            names.push(name);
        }
    }
    if let Some(choice) = body.get("tool_choice") {
        match choice.get("type").and_then(Value::as_str) {
            Some("auto" | "any" | "none") => {}
            Some("tool") => {
                let name = choice
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !names.contains(&name) {
                    return Err(format!(
                        "tool_choice.tool.name: Tool '{name}' not found in provided tools"
                    ));
                }
            }
            _ => {
                return Err(
                    "tool_choice: Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'"
                        .into(),
                );
            }
        }
    }
    let messages = body.get("messages").and_then(Value::as_array);
    check_messages(messages.map_or(&[][..], Vec::as_slice))
}

fn blocks(message: &Value) -> &[Value] {
    message
        .get("content")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
}

fn kind(block: &Value) -> &str {
    block
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn check_messages(messages: &[Value]) -> Result<(), String> {
    // The `tool_use` ids of the previous message (when it was the assistant's).
    let mut calls: Vec<String> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
        let mut answered = Vec::new();
        for (j, block) in blocks(m).iter().enumerate() {
            let path = format!("messages.{i}.content.{j}");
            match (role, kind(block)) {
                ("user", "tool_result") => {
                    let id = block
                        .get("tool_use_id")
                        .and_then(Value::as_str)
                        .ok_or_else(|| format!("{path}.tool_result.tool_use_id: Field required"))?;
                    if !calls.iter().any(|c| c == id) {
                        return Err(format!(
                            "{path}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                        ));
                    }
                    answered.push(id.to_owned());
                }
                ("user", "image") => check_image(block, &path)?,
                ("assistant", "tool_use") => {
                    for key in ["id", "name"] {
                        if !block.get(key).is_some_and(Value::is_string) {
                            return Err(format!("{path}.tool_use.{key}: Field required"));
                        }
                    }
                    if !block.get("input").is_some_and(Value::is_object) {
                        return Err(format!(
                            "{path}.tool_use.input: Input should be a valid dictionary"
                        ));
                    }
                }
                ("assistant", "tool_result" | "image") => {
                    return Err(format!(
                        "{path}: {} blocks are only allowed in user messages",
                        kind(block)
                    ));
                }
                _ => {}
            }
        }
        let missing: Vec<&str> = calls
            .iter()
            .filter(|c| !answered.contains(c))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "messages.{}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
                i.saturating_sub(1),
                missing.join(", ")
            ));
        }
        calls = if role == "assistant" {
            blocks(m)
                .iter()
                .filter(|b| kind(b) == "tool_use")
                .filter_map(|b| b.get("id").and_then(Value::as_str).map(str::to_owned))
                .collect()
        } else {
            Vec::new()
        };
    }
    Ok(())
}

fn check_image(block: &Value, path: &str) -> Result<(), String> {
    let source = block.get("source");
    match source.and_then(|s| s.get("type")).and_then(Value::as_str) {
        Some("base64") => {
            let media = source
                .and_then(|s| s.get("media_type"))
                .and_then(Value::as_str);
            if !media.is_some_and(|m| IMAGE_TYPES.contains(&m)) {
                return Err(format!(
                    "{path}.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
                ));
            }
            if !source
                .and_then(|s| s.get("data"))
                .is_some_and(Value::is_string)
            {
                return Err(format!("{path}.image.source.base64.data: Field required"));
            }
            Ok(())
        }
        Some("url") => match source.and_then(|s| s.get("url")).and_then(Value::as_str) {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => Ok(()),
            _ => Err(format!("{path}.image.source.url.url: Field required")),
        },
        _ => Err(format!(
            "{path}.image.source: Input tag does not match any of the expected tags: 'base64', 'url'"
        )),
    }
}

/// A `tool_use` block for a scripted call (the arguments as its `input` object).
pub(super) fn tool_use(call: &ScriptedCall) -> Value {
    json!({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments_object()})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(messages: Value) -> Value {
        json!({"model": "m", "max_tokens": 5, "messages": messages,
            "tools": [{"name": "f", "input_schema": {"type": "object"}}]})
    }

    fn call() -> Value {
        json!({"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]})
    }

    fn result(id: &str) -> Value {
        json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": id, "content": "ok"}]})
    }

    #[test]
    fn results_must_answer_the_previous_calls() {
        let ask = json!({"role": "user", "content": "hi"});
        assert_eq!(
            check(&body(json!([ask, call(), result("toolu_1")]))),
            Ok(())
        );
        let err = check(&body(json!([ask, call(), result("toolu_2")]))).unwrap_err();
        assert!(
            err.starts_with("messages.2.content.0: unexpected `tool_use_id`"),
            "{err}"
        );
        let err = check(&body(json!([ask, call(), ask]))).unwrap_err();
        assert!(err.contains("without `tool_result` blocks"), "{err}");
        let err = check(&body(json!([ask, result("toolu_1")]))).unwrap_err();
        assert!(err.contains("unexpected `tool_use_id`"), "{err}");
    }

    #[test]
    fn tool_use_input_and_images_are_checked() {
        let bad_input = json!({"role": "assistant", "content": [
            {"type": "tool_use", "id": "t", "name": "f", "input": "x"}]});
        let err = check(&body(json!([bad_input]))).unwrap_err();
        assert!(err.contains("valid dictionary"), "{err}");
        let image = json!({"role": "user", "content": [{"type": "image",
            "source": {"type": "base64", "media_type": "image/bmp", "data": "AA=="}}]});
        let err = check(&body(json!([image]))).unwrap_err();
        assert!(err.contains("media_type"), "{err}");
    }
}

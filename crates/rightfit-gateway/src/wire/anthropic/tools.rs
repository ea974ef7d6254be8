//! The conversation and the tools of a Messages request: turns of content blocks (`text`,
//! `image`, assistant `tool_use`, user `tool_result`), custom `tools` and `tool_choice`.
//!
//! A user turn's `tool_result` blocks become tool turns ([`Message::tool_result`]), in order,
//! followed by a user turn with the rest of its blocks when it has any. A result with
//! `is_error: true` keeps that as a note: its text is prefixed with `Error: ` (the common types
//! carry no error flag, and every upstream reads the text).

use rightfit_types::{ImagePart, Message, Tool, ToolCall, ToolChoice};
use serde_json::{Map, Value};

use crate::error::GatewayError;
use crate::wire::tools::{
    Calls, chosen, description, image_url, message_list, message_role, required_str, schema,
    tool_list, tool_name,
};
use crate::wire::{
    Fields, invalid_type, invalid_value, missing, text_content, text_part, unsupported,
};

/// `tools`, `tool_choice` and whether parallel calls are allowed (`disable_parallel_tool_use`).
pub(super) fn tools(f: &Fields<'_>) -> Result<(Vec<Tool>, ToolChoice, Option<bool>), GatewayError> {
    let tools = match f.get("tools") {
        None => Vec::new(),
        Some(value) => tool_list(value, "tools", tool)?,
    };
    let Some(choice) = f.get("tool_choice") else {
        return Ok((tools, ToolChoice::Auto, None));
    };
    const P: &str = "tool_choice";
    let Value::Object(choice) = choice else {
        return Err(invalid_type(P, "an object", choice));
    };
    let kind = match choice.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(other) => return Err(invalid_type("tool_choice.type", "a string", other)),
        None => return Err(missing("tool_choice.type")),
    };
    let choice_out = match kind {
        "auto" => ToolChoice::Auto,
        "none" => ToolChoice::None,
        "any" => ToolChoice::Required,
        "tool" => {
            let name = tool_name(choice.get("name"), "tool_choice.name")?;
            ToolChoice::Function(chosen(name, &tools, "tool_choice.name")?)
        }
        other => {
            return Err(invalid_value(
                "tool_choice.type",
                &format!(
                    "Invalid value for 'tool_choice.type': '{other}'. Supported values are: \
                     'auto', 'any', 'tool' and 'none'."
                ),
            ));
        }
    };
    if tools.is_empty() && choice_out == ToolChoice::Required {
        return Err(invalid_value(
            "tool_choice.type",
            "Invalid value for 'tool_choice.type': 'any' needs 'tools'.",
        ));
    }
    let parallel = match choice.get("disable_parallel_tool_use") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(disable)) => Some(!disable),
        Some(other) => {
            return Err(invalid_type(
                "tool_choice.disable_parallel_tool_use",
                "a boolean",
                other,
            ));
        }
    };
    Ok((tools, choice_out, parallel))
}

/// A custom tool: `{"name", "description", "input_schema"}` (`type` absent or `"custom"`).
/// Anthropic's server and client tools with a versioned `type` (`web_search_…`, `computer_…`,
/// `bash_…`, `text_editor_…`, …) run on Anthropic's side or need Anthropic's own models; they
/// are refused.
fn tool(value: &Value, param: &str) -> Result<Tool, GatewayError> {
    let Value::Object(item) = value else {
        return Err(invalid_type(param, "an object", value));
    };
    match item.get("type") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t == "custom" => {}
        Some(Value::String(t)) => {
            return Err(unsupported(
                &format!("{param}.type"),
                &format!(
                    "'{t}' is one of Anthropic's own tools, which this gateway cannot pass to \
                     other models; only custom tools (name, description, input_schema) are \
                     supported."
                ),
            ));
        }
        Some(other) => return Err(invalid_type(&format!("{param}.type"), "a string", other)),
    }
    let schema_param = format!("{param}.input_schema");
    if item.get("input_schema").is_none_or(Value::is_null) {
        return Err(missing(&schema_param));
    }
    let description = description(item, param)?;
    Ok(Tool {
        name: tool_name(item.get("name"), &format!("{param}.name"))?,
        description,
        parameters: schema(item.get("input_schema"), &schema_param)?,
        strict: false,
    })
}

/// The `messages` list: user and assistant turns, appended to `out`.
pub(super) fn turns(value: Option<&Value>, out: &mut Vec<Message>) -> Result<(), GatewayError> {
    let list = message_list(value)?;
    out.reserve(list.len());
    let mut calls = Calls::default();
    for (i, message) in list.iter().enumerate() {
        let param = format!("messages[{i}]");
        let (message, role) = message_role(message, &param)?;
        match role {
            "user" => user(message, &param, &calls, out)?,
            "assistant" => {
                let turn = assistant(message, &param)?;
                calls.made(&turn, &format!("{param}.content"))?;
                out.push(turn);
            }
            other => {
                return Err(invalid_value(
                    &format!("{param}.role"),
                    &format!(
                        "Invalid value for '{param}.role': '{other}'. Supported values are \
                         'user' and 'assistant'; put a system prompt in the top-level \
                         'system' field."
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The blocks of a turn's `content` (a string is one text block).
fn blocks<'a>(
    message: &'a Map<String, Value>,
    param: &str,
) -> Result<Option<&'a Vec<Value>>, GatewayError> {
    match message.get("content") {
        None | Some(Value::Null) => Err(missing(&format!("{param}.content"))),
        Some(Value::Array(blocks)) => Ok(Some(blocks)),
        Some(Value::String(_)) => Ok(None),
        Some(other) => Err(invalid_type(
            &format!("{param}.content"),
            "a string or an array of content blocks",
            other,
        )),
    }
}

fn kind_of(block: &Value) -> Option<&str> {
    block.get("type").and_then(Value::as_str)
}

/// A user turn: its tool results first (as tool turns), then its text and images.
fn user(
    message: &Map<String, Value>,
    param: &str,
    calls: &Calls,
    out: &mut Vec<Message>,
) -> Result<(), GatewayError> {
    let cparam = format!("{param}.content");
    let Some(blocks) = blocks(message, param)? else {
        out.push(Message::user(text_content(&message["content"], &cparam)?));
        return Ok(());
    };
    let mut texts = Vec::new();
    let mut images = Vec::new();
    let mut results = 0;
    for (j, block) in blocks.iter().enumerate() {
        let bparam = format!("{cparam}[{j}]");
        match kind_of(block) {
            Some("tool_result") => {
                out.push(tool_result(block, &bparam, calls)?);
                results += 1;
            }
            Some("image") => images.push(image(block, &bparam)?),
            _ => texts.push(text_part(block, &bparam)?),
        }
    }
    if results == 0 || !texts.is_empty() || !images.is_empty() {
        let mut turn = Message::user(texts.join("\n"));
        turn.images = images;
        out.push(turn);
    }
    Ok(())
}

/// `{"type": "tool_result", "tool_use_id", "content", "is_error"}`.
fn tool_result(block: &Value, param: &str, calls: &Calls) -> Result<Message, GatewayError> {
    let Value::Object(block) = block else {
        return Err(invalid_type(param, "an object", block));
    };
    let id = required_str(block, "tool_use_id", param)?;
    calls.answers(id, &format!("{param}.tool_use_id"))?;
    let text = match block.get("content") {
        None | Some(Value::Null) => String::new(),
        Some(value) => text_content(value, &format!("{param}.content"))?,
    };
    let text = match block.get("is_error") {
        None | Some(Value::Null | Value::Bool(false)) => text,
        Some(Value::Bool(true)) => format!("Error: {text}"),
        Some(other) => {
            return Err(invalid_type(
                &format!("{param}.is_error"),
                "a boolean",
                other,
            ));
        }
    };
    Ok(Message::tool_result(id, text))
}

/// `{"type": "image", "source": {"type": "base64", "media_type", "data"} | {"type": "url", "url"}}`.
fn image(block: &Value, param: &str) -> Result<ImagePart, GatewayError> {
    let sparam = format!("{param}.source");
    let source = match block.get("source") {
        Some(Value::Object(source)) => source,
        Some(other) => return Err(invalid_type(&sparam, "an object", other)),
        None => return Err(missing(&sparam)),
    };
    match required_str(source, "type", &sparam)? {
        "base64" => {
            let media = required_str(source, "media_type", &sparam)?;
            if !matches!(
                media,
                "image/jpeg" | "image/png" | "image/gif" | "image/webp"
            ) {
                return Err(invalid_value(
                    &format!("{sparam}.media_type"),
                    &format!(
                        "Invalid value for '{sparam}.media_type': '{media}'. Supported values \
                         are: 'image/jpeg', 'image/png', 'image/gif' and 'image/webp'."
                    ),
                ));
            }
            let data = required_str(source, "data", &sparam)?;
            image_url(
                &format!("data:{media};base64,{data}"),
                None,
                &format!("{sparam}.data"),
            )
        }
        "url" => image_url(
            required_str(source, "url", &sparam)?,
            None,
            &format!("{sparam}.url"),
        ),
        other => Err(invalid_value(
            &format!("{sparam}.type"),
            &format!(
                "Invalid value for '{sparam}.type': '{other}'. Supported values are: 'base64' \
                 and 'url'."
            ),
        )),
    }
}

/// An assistant turn: its text blocks joined, and its `tool_use` blocks as calls.
fn assistant(message: &Map<String, Value>, param: &str) -> Result<Message, GatewayError> {
    let cparam = format!("{param}.content");
    let Some(blocks) = blocks(message, param)? else {
        return Ok(Message::assistant(text_content(
            &message["content"],
            &cparam,
        )?));
    };
    let mut texts = Vec::new();
    let mut calls = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let bparam = format!("{cparam}[{j}]");
        if kind_of(block) == Some("tool_use") {
            calls.push(tool_use(block, &bparam)?);
        } else {
            texts.push(text_part(block, &bparam)?);
        }
    }
    Ok(Message::assistant_calls(texts.join("\n"), calls))
}

/// `{"type": "tool_use", "id", "name", "input"}`; `input` must be an object.
fn tool_use(block: &Value, param: &str) -> Result<ToolCall, GatewayError> {
    let Value::Object(block) = block else {
        return Err(invalid_type(param, "an object", block));
    };
    let id = required_str(block, "id", param)?.to_owned();
    let name = tool_name(block.get("name"), &format!("{param}.name"))?;
    let input = match block.get("input") {
        Some(input @ Value::Object(_)) => input,
        Some(other) => return Err(invalid_type(&format!("{param}.input"), "an object", other)),
        None => return Err(missing(&format!("{param}.input"))),
    };
    Ok(ToolCall::new(id, name, input))
}

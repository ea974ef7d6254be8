//! The conversation and the tools of a Chat Completions request: `messages` (with assistant
//! `tool_calls`, `tool` results and user images), `tools`, `tool_choice` and
//! `parallel_tool_calls`. The legacy `functions`/`function_call` pair is refused with a message
//! pointing at `tools`/`tool_choice` (OpenAI deprecated it; its answers have another shape).

use rightfit_types::{ImagePart, Message, Tool, ToolCall, ToolChoice};
use serde_json::{Map, Value};

use crate::error::GatewayError;
use crate::wire::tools::{
    Calls, arguments_text, chosen, description, image_url, message_list, message_role,
    required_str, schema, tool_list, tool_name,
};
use crate::wire::{
    Fields, invalid_type, invalid_value, missing, text_content, text_part, unsupported,
};

const LEGACY: &str = "the legacy function-calling fields are not supported: send 'tools' \
                      (type \"function\") and 'tool_choice' instead.";

/// `tools`, `tool_choice` and `parallel_tool_calls`.
pub(super) fn tools(f: &Fields<'_>) -> Result<(Vec<Tool>, ToolChoice, Option<bool>), GatewayError> {
    f.refuse("functions", LEGACY)?;
    if f.get("function_call")
        .is_some_and(|v| v.as_str() != Some("none"))
    {
        return Err(unsupported("function_call", LEGACY));
    }
    let tools = match f.get("tools") {
        None => Vec::new(),
        Some(value) => tool_list(value, "tools", tool)?,
    };
    let choice = match f.get("tool_choice") {
        None => ToolChoice::Auto,
        Some(value) => tool_choice(value, &tools)?,
    };
    let parallel = f.bool("parallel_tool_calls")?;
    Ok((tools, choice, parallel))
}

/// `{"type": "function", "function": {"name", "description", "parameters", "strict"}}`.
fn tool(value: &Value, param: &str) -> Result<Tool, GatewayError> {
    let Value::Object(item) = value else {
        return Err(invalid_type(param, "an object", value));
    };
    match item.get("type") {
        Some(Value::String(t)) if t == "function" => {}
        Some(Value::String(t)) => {
            return Err(unsupported(
                &format!("{param}.type"),
                &format!("'{t}' tools are not supported; only \"function\" tools are."),
            ));
        }
        Some(other) => return Err(invalid_type(&format!("{param}.type"), "a string", other)),
        None => return Err(missing(&format!("{param}.type"))),
    }
    let param = format!("{param}.function");
    let function = match item.get("function") {
        Some(Value::Object(function)) => function,
        Some(other) => return Err(invalid_type(&param, "an object", other)),
        None => return Err(missing(&param)),
    };
    let description = description(function, &param)?;
    let strict = match function.get("strict") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(invalid_type(&format!("{param}.strict"), "a boolean", other)),
    };
    Ok(Tool {
        name: tool_name(function.get("name"), &format!("{param}.name"))?,
        description,
        parameters: schema(function.get("parameters"), &format!("{param}.parameters"))?,
        strict,
    })
}

/// `"auto"`, `"none"`, `"required"` or `{"type": "function", "function": {"name"}}`; all but
/// `"none"` and `"auto"` need tools.
fn tool_choice(value: &Value, tools: &[Tool]) -> Result<ToolChoice, GatewayError> {
    const P: &str = "tool_choice";
    let choice = match value {
        Value::String(s) => match s.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            other => {
                return Err(invalid_value(
                    P,
                    &format!(
                        "Invalid value for '{P}': '{other}'. Supported values are: 'none', \
                         'auto', 'required', or an object naming a function."
                    ),
                ));
            }
        },
        Value::Object(object) => {
            match object.get("type") {
                Some(Value::String(t)) if t == "function" => {}
                Some(other) => {
                    return Err(invalid_value(
                        "tool_choice.type",
                        &format!(
                            "Invalid value for 'tool_choice.type': {other}; it must be \"function\"."
                        ),
                    ));
                }
                None => return Err(missing("tool_choice.type")),
            }
            let function = match object.get("function") {
                Some(Value::Object(function)) => function,
                Some(other) => {
                    return Err(invalid_type("tool_choice.function", "an object", other));
                }
                None => return Err(missing("tool_choice.function")),
            };
            let name = tool_name(function.get("name"), "tool_choice.function.name")?;
            ToolChoice::Function(chosen(name, tools, "tool_choice.function.name")?)
        }
        other => return Err(invalid_type(P, "a string or an object", other)),
    };
    if tools.is_empty() && choice == ToolChoice::Required {
        return Err(invalid_value(
            P,
            "Invalid value for 'tool_choice': 'required' needs 'tools'.",
        ));
    }
    Ok(choice)
}

/// The conversation, one system message first (system and developer messages, wherever they
/// stand, joined in order with a blank line).
pub(super) fn messages(value: Option<&Value>) -> Result<Vec<Message>, GatewayError> {
    let list = message_list(value)?;
    let mut system = Vec::new();
    let mut turns = Vec::with_capacity(list.len());
    let mut calls = Calls::default();
    for (i, message) in list.iter().enumerate() {
        let param = format!("messages[{i}]");
        let (message, role) = message_role(message, &param)?;
        match role {
            "system" | "developer" => system.push(content(message, &param)?),
            "user" => turns.push(user(message, &param)?),
            "assistant" => {
                let turn = assistant(message, &param)?;
                calls.made(&turn, &format!("{param}.tool_calls"))?;
                turns.push(turn);
            }
            "tool" => {
                let id = required_str(message, "tool_call_id", &param)?;
                calls.answers(id, &format!("{param}.tool_call_id"))?;
                turns.push(Message::tool_result(id, content(message, &param)?));
            }
            "function" => return Err(unsupported(&format!("{param}.role"), LEGACY)),
            other => {
                return Err(invalid_value(
                    &format!("{param}.role"),
                    &format!(
                        "Invalid value for '{param}.role': '{other}'. Supported values are: \
                         'system', 'developer', 'user', 'assistant' and 'tool'."
                    ),
                ));
            }
        }
    }
    let mut out = Vec::with_capacity(turns.len() + 1);
    if !system.is_empty() {
        out.push(Message::system(system.join("\n\n")));
    }
    out.extend(turns);
    Ok(out)
}

fn content(message: &Map<String, Value>, param: &str) -> Result<String, GatewayError> {
    let param = format!("{param}.content");
    match message.get("content") {
        None | Some(Value::Null) => Err(missing(&param)),
        Some(value) => text_content(value, &param),
    }
}

/// A user turn: a string, or text and `image_url` parts (images kept in order, texts joined
/// with "\n").
fn user(message: &Map<String, Value>, param: &str) -> Result<Message, GatewayError> {
    let param = format!("{param}.content");
    let parts = match message.get("content") {
        None | Some(Value::Null) => return Err(missing(&param)),
        Some(Value::Array(parts)) => parts,
        Some(value) => return Ok(Message::user(text_content(value, &param)?)),
    };
    let mut texts = Vec::new();
    let mut images = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        let param = format!("{param}[{j}]");
        if part.get("type").and_then(Value::as_str) == Some("image_url") {
            images.push(image(part, &param)?);
        } else {
            // Text parts, and the refusal of any other kind, as for every other role.
            texts.push(text_part(part, &param)?);
        }
    }
    let mut turn = Message::user(texts.join("\n"));
    turn.images = images;
    Ok(turn)
}

/// `{"type": "image_url", "image_url": {"url", "detail"}}`.
fn image(part: &Value, param: &str) -> Result<ImagePart, GatewayError> {
    let param = format!("{param}.image_url");
    let spec = match part.get("image_url") {
        Some(Value::Object(spec)) => spec,
        Some(other) => return Err(invalid_type(&param, "an object", other)),
        None => return Err(missing(&param)),
    };
    let url = required_str(spec, "url", &param)?;
    let detail = match spec.get("detail") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) if matches!(d.as_str(), "auto" | "low" | "high") => Some(d.clone()),
        Some(other) => {
            return Err(invalid_value(
                &format!("{param}.detail"),
                &format!(
                    "Invalid value for '{param}.detail': {other}. Supported values are: 'auto', \
                     'low' and 'high'."
                ),
            ));
        }
    };
    image_url(url, detail, &format!("{param}.url"))
}

/// An assistant turn: its text (which may be null or absent when it calls tools) and calls.
fn assistant(message: &Map<String, Value>, param: &str) -> Result<Message, GatewayError> {
    if message.get("function_call").is_some_and(|v| !v.is_null()) {
        return Err(unsupported(&format!("{param}.function_call"), LEGACY));
    }
    let calls = match message.get("tool_calls") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut calls = Vec::with_capacity(items.len());
            for (k, item) in items.iter().enumerate() {
                calls.push(call(item, &format!("{param}.tool_calls[{k}]"))?);
            }
            calls
        }
        Some(other) => {
            return Err(invalid_type(
                &format!("{param}.tool_calls"),
                "an array of tool calls",
                other,
            ));
        }
    };
    let text = match message.get("content") {
        None | Some(Value::Null) if !calls.is_empty() => String::new(),
        _ => content(message, param)?,
    };
    Ok(Message::assistant_calls(text, calls))
}

/// `{"id", "type": "function", "function": {"name", "arguments"}}`.
fn call(value: &Value, param: &str) -> Result<ToolCall, GatewayError> {
    let Value::Object(item) = value else {
        return Err(invalid_type(param, "an object", value));
    };
    if let Some(t) = item.get("type").filter(|t| !t.is_null())
        && t.as_str() != Some("function")
    {
        return Err(invalid_value(
            &format!("{param}.type"),
            &format!("Invalid value for '{param}.type': {t}; it must be \"function\"."),
        ));
    }
    let id = required_str(item, "id", param)?.to_owned();
    let fparam = format!("{param}.function");
    let function = match item.get("function") {
        Some(Value::Object(function)) => function,
        Some(other) => return Err(invalid_type(&fparam, "an object", other)),
        None => return Err(missing(&fparam)),
    };
    Ok(ToolCall {
        id,
        name: tool_name(function.get("name"), &format!("{fparam}.name"))?,
        arguments: arguments_text(function.get("arguments"), &format!("{fparam}.arguments"))?,
    })
}

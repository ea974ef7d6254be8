//! What both APIs' tool calling shares: the limits, the checks on function names, arguments and
//! image URLs, and the bookkeeping that makes every tool result answer a call made earlier in
//! the conversation.

use std::collections::HashSet;

use rightfit_types::{ImagePart, Message, Tool};
use serde_json::Value;

use super::{invalid_type, invalid_value, missing};
use crate::error::GatewayError;

/// Most functions one request may offer (OpenAI's limit).
pub const MAX_TOOLS: usize = 128;
/// Longest function name (OpenAI's and Anthropic's limit).
pub const MAX_TOOL_NAME: usize = 64;

/// A function name: 1 to [`MAX_TOOL_NAME`] characters from `a-z A-Z 0-9 _ -` (what both APIs
/// accept), checked at `param`.
pub(crate) fn tool_name(value: Option<&Value>, param: &str) -> Result<String, GatewayError> {
    let name = match value {
        None | Some(Value::Null) => return Err(missing(param)),
        Some(Value::String(s)) => s,
        Some(other) => return Err(invalid_type(param, "a string", other)),
    };
    let valid = !name.is_empty()
        && name.chars().count() <= MAX_TOOL_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(invalid_value(
            param,
            &format!(
                "Invalid '{param}': '{name}'. A function name is 1 to {MAX_TOOL_NAME} characters \
                 from a-z, A-Z, 0-9, underscores and dashes."
            ),
        ));
    }
    Ok(name.clone())
}

/// The list of tools at `param`, checked for its length; each item goes through `one`, and no
/// name may repeat.
pub(crate) fn tool_list(
    value: &Value,
    param: &str,
    mut one: impl FnMut(&Value, &str) -> Result<Tool, GatewayError>,
) -> Result<Vec<Tool>, GatewayError> {
    let Value::Array(items) = value else {
        return Err(invalid_type(param, "an array of tools", value));
    };
    if items.len() > MAX_TOOLS {
        return Err(invalid_value(
            param,
            &format!(
                "'{param}' offers {} tools; this gateway takes at most {MAX_TOOLS}.",
                items.len()
            ),
        ));
    }
    let mut tools: Vec<Tool> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let param = format!("{param}[{i}]");
        let tool = one(item, &param)?;
        if tools.iter().any(|t| t.name == tool.name) {
            return Err(invalid_value(
                &param,
                &format!(
                    "Invalid '{param}': the function name '{}' is used twice; tool names must be \
                     unique.",
                    tool.name
                ),
            ));
        }
        tools.push(tool);
    }
    Ok(tools)
}

/// A JSON Schema of a function's arguments at `param`: an object (absent: any object).
pub(crate) fn schema(value: Option<&Value>, param: &str) -> Result<Value, GatewayError> {
    match value {
        None | Some(Value::Null) => Ok(serde_json::json!({"type": "object", "properties": {}})),
        Some(schema @ Value::Object(_)) => Ok(schema.clone()),
        Some(other) => Err(invalid_type(param, "a JSON Schema object", other)),
    }
}

/// The named function of a tool choice, which must be among the tools.
pub(crate) fn chosen(name: String, tools: &[Tool], param: &str) -> Result<String, GatewayError> {
    if tools.iter().any(|t| t.name == name) {
        return Ok(name);
    }
    let offered: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    Err(invalid_value(
        param,
        &format!(
            "Invalid '{param}': the function '{name}' is not among the tools ({}).",
            if offered.is_empty() {
                "none were given".to_owned()
            } else {
                offered.join(", ")
            }
        ),
    ))
}

/// An image URL at `param`: `http(s)://…`, or a `data:<media type>;base64,<data>` URL.
pub(crate) fn image_url(
    url: &str,
    detail: Option<String>,
    param: &str,
) -> Result<ImagePart, GatewayError> {
    let image = ImagePart {
        url: url.to_owned(),
        detail,
    };
    let remote = url.starts_with("https://") || url.starts_with("http://");
    let inline = image
        .data()
        .is_some_and(|(media, data)| media.starts_with("image/") && !data.is_empty());
    if remote || inline {
        return Ok(image);
    }
    let shown: String = url.chars().take(40).collect();
    Err(invalid_value(
        param,
        &format!(
            "Invalid '{param}': '{shown}' is not an image URL. Send an http(s) URL or a \
             data:image/<type>;base64,<data> URL."
        ),
    ))
}

/// The calls made so far in a conversation, so that each tool result can be checked to answer
/// one of them.
#[derive(Debug, Default)]
pub(crate) struct Calls {
    ids: HashSet<String>,
}

impl Calls {
    /// Notes the calls of an assistant turn; an id used twice is refused at `param`.
    pub(crate) fn made(&mut self, message: &Message, param: &str) -> Result<(), GatewayError> {
        for call in &message.tool_calls {
            if !self.ids.insert(call.id.clone()) {
                return Err(invalid_value(
                    param,
                    &format!(
                        "Invalid '{param}': the tool call id '{}' is used twice in the \
                         conversation; call ids must be unique.",
                        call.id
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks that `id`, a tool result's, answers a call made earlier (named at `param`).
    pub(crate) fn answers(&self, id: &str, param: &str) -> Result<(), GatewayError> {
        if self.ids.contains(id) {
            return Ok(());
        }
        Err(invalid_value(
            param,
            &format!(
                "Invalid '{param}': '{id}' does not answer any tool call made earlier in the \
                 conversation; a tool result must follow the assistant turn that made the call \
                 with that id."
            ),
        ))
    }
}

/// JSON text of a call's arguments, checked to be JSON (kept as given) at `param`.
pub(crate) fn arguments_text(value: Option<&Value>, param: &str) -> Result<String, GatewayError> {
    let text = match value {
        None | Some(Value::Null) => return Err(missing(param)),
        Some(Value::String(s)) => s,
        Some(other) => return Err(invalid_type(param, "a string of JSON", other)),
    };
    if let Err(e) = serde_json::from_str::<Value>(text) {
        return Err(invalid_value(
            param,
            &format!("Invalid '{param}': the arguments are not valid JSON ({e})."),
        ));
    }
    Ok(text.clone())
}

/// A string field of an object at `param.key`, required and not empty.
pub(crate) fn required_str<'a>(
    object: &'a serde_json::Map<String, Value>,
    key: &str,
    param: &str,
) -> Result<&'a str, GatewayError> {
    let param = format!("{param}.{key}");
    match object.get(key) {
        None | Some(Value::Null) => Err(missing(&param)),
        Some(Value::String(s)) if s.is_empty() => Err(invalid_value(
            &param,
            &format!("'{param}' must not be empty."),
        )),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(invalid_type(&param, "a string", other)),
    }
}

/// A function's optional `description` at `param.description` (empty when absent or null).
pub(crate) fn description(
    function: &serde_json::Map<String, Value>,
    param: &str,
) -> Result<String, GatewayError> {
    match function.get("description") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(d)) => Ok(d.clone()),
        Some(other) => Err(invalid_type(
            &format!("{param}.description"),
            "a string",
            other,
        )),
    }
}

/// The `messages` list: present, an array, and not empty.
pub(crate) fn message_list(value: Option<&Value>) -> Result<&[Value], GatewayError> {
    match value {
        None => Err(missing("messages")),
        Some(Value::Array(list)) if list.is_empty() => Err(invalid_value(
            "messages",
            "'messages' must contain at least one message.",
        )),
        Some(Value::Array(list)) => Ok(list),
        Some(other) => Err(invalid_type("messages", "an array of objects", other)),
    }
}

/// A message at `param`: an object, and its `role` string.
pub(crate) fn message_role<'a>(
    message: &'a Value,
    param: &str,
) -> Result<(&'a serde_json::Map<String, Value>, &'a str), GatewayError> {
    let Value::Object(message) = message else {
        return Err(invalid_type(param, "an object", message));
    };
    match message.get("role") {
        Some(Value::String(role)) => Ok((message, role.as_str())),
        Some(other) => Err(invalid_type(&format!("{param}.role"), "a string", other)),
        None => Err(missing(&format!("{param}.role"))),
    }
}

/// Whether a request uses tool calling anywhere: tools offered, assistant calls or tool results.
pub fn uses_tools(tools: &[Tool], messages: &[Message]) -> bool {
    !tools.is_empty()
        || messages
            .iter()
            .any(|m| !m.tool_calls.is_empty() || m.tool_call_id.is_some())
}

/// Whether a request carries images.
pub fn uses_images(messages: &[Message]) -> bool {
    messages.iter().any(|m| !m.images.is_empty())
}

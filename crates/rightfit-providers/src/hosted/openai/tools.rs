//! Tool calling and images on the Chat Completions wire: `tools`, `tool_choice`,
//! `parallel_tool_calls`, assistant `tool_calls`, `tool` messages and `image_url` parts going
//! out; `message.tool_calls` and streamed `delta.tool_calls` coming back.

use rightfit_types::{
    ChatRequest, ImagePart, Message, Role, StreamEvent, Tool, ToolCall, ToolChoice,
};
use serde_json::{Map, Value, json};

use crate::hosted::tool_request::{check_chosen, offers_tools};

use super::kind::type_name;

/// One message as Chat Completions takes it. `at` is its position, for messages.
pub(super) fn message(m: &Message, at: usize) -> Result<Value, String> {
    if !m.images.is_empty() && m.role != Role::User {
        return Err(format!(
            "messages[{at}]: a {} message carries images; only user messages may",
            m.role.as_str()
        ));
    }
    match m.role {
        Role::Tool => {
            let Some(id) = &m.tool_call_id else {
                return Err(format!(
                    "messages[{at}]: a tool result without `tool_call_id`: say which call it answers"
                ));
            };
            Ok(json!({"role": "tool", "tool_call_id": id, "content": m.content}))
        }
        Role::Assistant if !m.tool_calls.is_empty() => {
            let calls: Vec<Value> = m.tool_calls.iter().map(ToolCall::openai_json).collect();
            // OpenAI writes `content: null` for a turn that only calls tools.
            let content = if m.content.is_empty() {
                Value::Null
            } else {
                json!(m.content)
            };
            Ok(json!({"role": "assistant", "content": content, "tool_calls": calls}))
        }
        Role::User if !m.images.is_empty() => {
            let mut parts: Vec<Value> = m.images.iter().map(ImagePart::openai_json).collect();
            if !m.content.is_empty() {
                parts.push(json!({"type": "text", "text": m.content}));
            }
            Ok(json!({"role": "user", "content": parts}))
        }
        _ => Ok(json!({"role": m.role.as_str(), "content": m.content})),
    }
}

/// Adds `tools`, `tool_choice` and `parallel_tool_calls`. Without tools, a choice that asks for
/// a call is refused (there is nothing to call) and the rest is left out, as OpenAI rejects
/// `tool_choice`/`parallel_tool_calls` without `tools`.
pub(super) fn insert_tools(
    body: &mut Map<String, Value>,
    request: &ChatRequest,
) -> Result<(), String> {
    if !offers_tools(request)? {
        return Ok(());
    }
    let tools: Vec<Value> = request.tools.iter().map(Tool::openai_json).collect();
    body.insert("tools".into(), Value::Array(tools));
    let choice = match &request.tool_choice {
        // The default with tools; left out.
        ToolChoice::Auto => None,
        ToolChoice::None => Some(json!("none")),
        ToolChoice::Required => Some(json!("required")),
        ToolChoice::Function(name) => {
            check_chosen(request, name)?;
            Some(json!({"type": "function", "function": {"name": name}}))
        }
    };
    if let Some(choice) = choice {
        body.insert("tool_choice".into(), choice);
    }
    if let Some(parallel) = request.parallel_tool_calls {
        body.insert("parallel_tool_calls".into(), json!(parallel));
    }
    Ok(())
}

/// A string field of a call (`id`, `function.name`); `None` when absent or null. `Err` is a
/// suffix for a path.
fn string_field(obj: &Value, key: &str, path: &str) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!(
            "{path}.{key}: expected a string, got {}",
            type_name(other)
        )),
    }
}

/// `function.arguments`: JSON text. Some compatible servers send the object itself; it is
/// written back as text. `Err` is a suffix for a path.
fn arguments(function: &Value, path: &str) -> Result<String, String> {
    match function.get("arguments") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v @ Value::Object(_)) => Ok(v.to_string()),
        Some(other) => Err(format!(
            "{path}.function.arguments: expected JSON text, got {}",
            type_name(other)
        )),
    }
}

/// The `function` object of a call. `Err` is a suffix for a path.
fn function<'a>(call: &'a Value, path: &str) -> Result<Option<&'a Value>, String> {
    match call.get("function") {
        None | Some(Value::Null) => Ok(None),
        Some(f @ Value::Object(_)) => Ok(Some(f)),
        Some(other) => Err(format!(
            "{path}.function: expected an object, got {}",
            type_name(other)
        )),
    }
}

/// `message.tool_calls` of a whole choice. A call without an id gets `call_<choice>_<n>` on a
/// compatible server and is an error from OpenAI; a call without a name is always an error.
/// `Err` is a suffix for a path.
pub(super) fn parse_calls(
    message: &Map<String, Value>,
    choice: u32,
    compatible: bool,
) -> Result<Vec<ToolCall>, String> {
    let calls = match message.get("tool_calls") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(calls)) => calls,
        Some(other) => {
            return Err(format!(
                ".message.tool_calls: expected an array, got {}",
                type_name(other)
            ));
        }
    };
    let mut out = Vec::with_capacity(calls.len());
    for (n, call) in calls.iter().enumerate() {
        let path = format!(".message.tool_calls[{n}]");
        if !call.is_object() {
            return Err(format!(
                "{path}: expected an object, got {}",
                type_name(call)
            ));
        }
        let Some(function) = function(call, &path)? else {
            return Err(format!("{path}: no `function`"));
        };
        let name = string_field(function, "name", &format!("{path}.function"))?
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("{path}: a tool call without a function name"))?;
        let id = match string_field(call, "id", &path)?.filter(|id| !id.is_empty()) {
            Some(id) => id,
            None if compatible => format!("call_{choice}_{n}"),
            None => return Err(format!("{path}: a tool call without an `id`")),
        };
        out.push(ToolCall {
            id,
            name,
            arguments: arguments(function, &path)?,
        });
    }
    Ok(out)
}

/// The tool calls of one streamed choice so far.
#[derive(Debug, Clone, Default)]
pub(super) struct StreamedCalls {
    /// Calls begun.
    started: u32,
}

impl StreamedCalls {
    /// Whether any call was begun.
    pub(super) fn any(&self) -> bool {
        self.started > 0
    }

    /// Reads `delta.tool_calls` of choice `index`. A call begins with the entry whose `index`
    /// is the next one, carrying the function's name (and its id); later entries of the same
    /// call carry more arguments. Fragments for a call never begun, or for an earlier call once
    /// a later one began, break the protocol. `Err` is a suffix for a path.
    pub(super) fn delta(
        &mut self,
        calls: &Value,
        index: u32,
        compatible: bool,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), String> {
        let calls = match calls {
            Value::Null => return Ok(()),
            Value::Array(calls) => calls,
            other => {
                return Err(format!(
                    ".delta.tool_calls: expected an array, got {}",
                    type_name(other)
                ));
            }
        };
        for (k, entry) in calls.iter().enumerate() {
            let path = format!(".delta.tool_calls[{k}]");
            if !entry.is_object() {
                return Err(format!(
                    "{path}: expected an object, got {}",
                    type_name(entry)
                ));
            }
            let call = match entry.get("index") {
                Some(v) => v
                    .as_u64()
                    .and_then(|x| u32::try_from(x).ok())
                    .ok_or_else(|| format!("{path}.index: expected a call number, got {v}"))?,
                None => return Err(format!("{path}: no `index`")),
            };
            let function = function(entry, &path)?;
            let name = match function {
                Some(f) => string_field(f, "name", &format!("{path}.function"))?,
                None => None,
            };
            let arguments = match function {
                Some(f) => arguments(f, &path)?,
                None => String::new(),
            };
            if call == self.started {
                let name = name.filter(|n| !n.is_empty()).ok_or_else(|| {
                    format!("{path}: tool call {call} begins without a function name")
                })?;
                let id = match string_field(entry, "id", &path)?.filter(|id| !id.is_empty()) {
                    Some(id) => id,
                    None if compatible => format!("call_{index}_{call}"),
                    None => return Err(format!("{path}: tool call {call} begins without an `id`")),
                };
                self.started += 1;
                out.push(StreamEvent::ToolCall {
                    index,
                    call,
                    id: Some(id),
                    name: Some(name),
                    arguments,
                });
            } else if call + 1 == self.started {
                if !arguments.is_empty() {
                    out.push(StreamEvent::ToolCall {
                        index,
                        call,
                        id: None,
                        name: None,
                        arguments,
                    });
                }
            } else if call > self.started {
                return Err(format!(
                    "{path}: arguments for tool call {call}, which never began ({} call(s) so far)",
                    self.started
                ));
            } else {
                return Err(format!(
                    "{path}: more of tool call {call} after call {} began (calls out of order)",
                    self.started - 1
                ));
            }
        }
        Ok(())
    }
}

//! The checks and shapes every protocol's request side of tool calling shares: a choice that
//! asks for a call needs tools to call, a named choice must name one of them, and Anthropic's
//! tools and Gemini's function declarations are the same object under another schema key.

use rightfit_types::{ChatRequest, Tool, ToolCall, ToolChoice};
use serde_json::{Map, Value, json};

/// Whether the request offers tools. Without tools, a choice that asks for a call is refused:
/// there is nothing to call.
pub(crate) fn offers_tools(request: &ChatRequest) -> Result<bool, String> {
    if !request.tools.is_empty() {
        return Ok(true);
    }
    match &request.tool_choice {
        ToolChoice::Required | ToolChoice::Function(_) => Err(format!(
            "tool_choice {:?} asks for a tool call, but the request offers no tools",
            request.tool_choice
        )),
        ToolChoice::Auto | ToolChoice::None => Ok(false),
    }
}

/// Refuses a `tool_choice` that names a function the request does not offer.
pub(crate) fn check_chosen(request: &ChatRequest, name: &str) -> Result<(), String> {
    if request.tools.iter().any(|t| t.name == name) {
        Ok(())
    } else {
        Err(format!(
            "tool_choice names {name:?}, which is not among the request's tools"
        ))
    }
}

/// `{"name", "description", <schema_key>: schema}`, `description` left out when empty: an
/// Anthropic tool (`input_schema`) or a Gemini function declaration (`parameters`).
pub(crate) fn declaration(tool: &Tool, schema_key: &str, schema: Value) -> Value {
    let mut declaration = Map::new();
    declaration.insert("name".into(), json!(tool.name));
    if !tool.description.is_empty() {
        declaration.insert("description".into(), json!(tool.description));
    }
    declaration.insert(schema_key.into(), schema);
    Value::Object(declaration)
}

/// A call's arguments as the JSON object Anthropic (`input`) and Gemini (`args`) take; `Err`
/// names turn `at`, call `k` and `why` (what the protocol takes) when they are not an object.
pub(crate) fn arguments_object(
    call: &ToolCall,
    at: usize,
    k: usize,
    why: &str,
) -> Result<Value, String> {
    serde_json::from_str::<Value>(&call.arguments)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            format!(
                "turn {at}, tool call {k} ({} {:?}): its arguments are not a JSON object ({:?}); \
                 {why}",
                call.id, call.name, call.arguments
            )
        })
}

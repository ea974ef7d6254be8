//! Anthropic Messages: the request (`POST /v1/messages`), the answer (a `message`) and the
//! stream (named events `message_start` … `message_stop`).
//!
//! Shapes follow api.anthropic.com as `rightfit-testkit`'s Anthropic server reproduces them (the
//! official SDKs are tested against it). Anthropic has no `n`: one choice, index 0.

use rightfit_config::project::limits::MAX_TOKENS;
use rightfit_types::{ChatRequest, Message, Sampling};
use serde_json::Value;

use super::{
    Fields, GatewayRequest, invalid_type, invalid_value, missing, object, text_content, unsupported,
};
use crate::api::Api;
use crate::error::GatewayError;

mod render;
mod tools;

pub use render::{Stream, response, stop_reason};

/// Parses a Messages request body.
///
/// `system` (a string or text blocks) becomes one system message first. Unknown fields are
/// accepted and kept in `params`. Custom tools, `tool_use`/`tool_result` blocks and images are
/// parsed into the common types; Anthropic's own (server) tools, documents and extended
/// thinking are refused with a 400 naming the field.
pub fn parse(body: &[u8]) -> Result<GatewayRequest, GatewayError> {
    let map = object(body)?;
    let f = Fields::new(&map);
    let model = f.required_string("model")?.to_owned();
    let max_tokens = f
        .integer("max_tokens", 1, MAX_TOKENS)?
        .ok_or_else(|| missing("max_tokens"))?;
    let mut messages = Vec::new();
    if let Some(value) = f.get("system") {
        let system = text_content(value, "system")?;
        if !system.is_empty() {
            messages.push(Message::system(system));
        }
    }
    tools::turns(f.get("messages"), &mut messages)?;
    let (tool_list, tool_choice, parallel_tool_calls) = tools::tools(&f)?;
    if let Some(thinking) = f.get("thinking")
        && thinking.get("type").and_then(Value::as_str) != Some("disabled")
    {
        return Err(unsupported(
            "thinking",
            "extended thinking is not supported by this gateway; leave 'thinking' out.",
        ));
    }

    let sampling = Sampling {
        temperature: f.number("temperature", 0.0, 1.0)?,
        top_p: f.number("top_p", 0.0, 1.0)?,
        top_k: f.integer("top_k", 0, u32::MAX)?.filter(|&k| k > 0),
        seed: None,
    };
    let stop = stop_sequences(f.get("stop_sequences"))?;
    let stream = f.bool("stream")?.unwrap_or(false);
    let user = match f.get("metadata") {
        None => None,
        Some(Value::Object(metadata)) => match metadata.get("user_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(user)) => Some(user.clone()),
            Some(other) => return Err(invalid_type("metadata.user_id", "a string", other)),
        },
        Some(other) => return Err(invalid_type("metadata", "an object", other)),
    };

    let mut chat = ChatRequest::chat(messages.clone())
        .with_sampling(sampling)
        .with_stop(stop)
        .with_max_tokens(max_tokens);
    chat.model.clone_from(&model);
    chat.tools = tool_list;
    chat.tool_choice = tool_choice;
    chat.parallel_tool_calls = parallel_tool_calls;

    let mut params = map;
    params.remove("messages");
    params.remove("system");
    Ok(GatewayRequest {
        api: Api::Anthropic,
        model,
        chat,
        stream,
        include_usage: true,
        user,
        params: Value::Object(params),
        messages,
    })
}

fn stop_sequences(value: Option<&Value>) -> Result<Vec<String>, GatewayError> {
    let items = match value {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(invalid_type("stop_sequences", "an array of strings", other)),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::String(s) if !s.is_empty() => out.push(s.clone()),
            Value::String(_) => {
                let param = format!("stop_sequences[{i}]");
                return Err(invalid_value(
                    &param,
                    &format!("Invalid value for '{param}': stop sequences must not be empty."),
                ));
            }
            other => {
                return Err(invalid_type(
                    &format!("stop_sequences[{i}]"),
                    "a string",
                    other,
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "anthropic/parse_tests.rs"]
mod parse_tests;

#[cfg(test)]
#[path = "anthropic/tools_tests.rs"]
mod tools_tests;

//! Tool calling and images on the Anthropic Messages wire: `tools`, `tool_choice` (with
//! `disable_parallel_tool_use`), assistant `tool_use` blocks, `tool_result` blocks in user
//! turns and `image` blocks going out.
//!
//! Anthropic takes tool results as a user message and wants user and assistant turns to
//! alternate, so consecutive tool results (and a user turn right after them) are merged into
//! one user message, results first.

use rightfit_types::{ChatRequest, ImagePart, Message, Role, ToolChoice};
use serde_json::{Map, Value, json};

use crate::hosted::tool_request::{arguments_object, check_chosen, declaration, offers_tools};

/// The conversation (system messages already taken out) as Anthropic `messages`.
pub(super) fn turns(turns: &[&Message]) -> Result<Vec<Value>, String> {
    let mut out: Vec<Value> = Vec::with_capacity(turns.len());
    // Whether the last message in `out` is a user message holding tool results, to which more
    // results (and a following user turn) are appended.
    let mut open_results = false;
    for (at, m) in turns.iter().enumerate() {
        if !m.images.is_empty() && m.role != Role::User {
            return Err(format!(
                "turn {at}: a {} turn carries images; Anthropic takes images in user turns only",
                m.role.as_str()
            ));
        }
        match m.role {
            Role::Tool => {
                let Some(id) = &m.tool_call_id else {
                    return Err(format!(
                        "turn {at}: a tool result without `tool_call_id`: say which call it answers"
                    ));
                };
                let block = json!({"type": "tool_result", "tool_use_id": id, "content": m.content});
                match out.last_mut().and_then(|last| last.get_mut("content")) {
                    Some(Value::Array(blocks)) if open_results => blocks.push(block),
                    _ => out.push(json!({"role": "user", "content": [block]})),
                }
                open_results = true;
            }
            Role::User if open_results => {
                // Text (and images) after the results, in the same user message.
                if let Some(Value::Array(blocks)) =
                    out.last_mut().and_then(|last| last.get_mut("content"))
                {
                    blocks.extend(user_blocks(m, at)?);
                }
                open_results = false;
            }
            Role::User if !m.images.is_empty() => {
                out.push(json!({"role": "user", "content": user_blocks(m, at)?}));
            }
            Role::Assistant if !m.tool_calls.is_empty() => {
                open_results = false;
                let mut blocks = Vec::with_capacity(m.tool_calls.len() + 1);
                if !m.content.is_empty() {
                    blocks.push(json!({"type": "text", "text": m.content}));
                }
                for (k, call) in m.tool_calls.iter().enumerate() {
                    let input = arguments_object(
                        call,
                        at,
                        k,
                        "Anthropic takes a call's input as an object",
                    )?;
                    blocks.push(json!({
                        "type": "tool_use", "id": call.id, "name": call.name, "input": input,
                    }));
                }
                out.push(json!({"role": "assistant", "content": blocks}));
            }
            _ => {
                open_results = false;
                out.push(json!({"role": m.role.as_str(), "content": m.content}));
            }
        }
    }
    Ok(out)
}

/// A user turn's images, then its text (when there is any).
fn user_blocks(m: &Message, at: usize) -> Result<Vec<Value>, String> {
    let mut blocks = m
        .images
        .iter()
        .enumerate()
        .map(|(k, image)| image_block(image).map_err(|e| format!("turn {at}, image {k}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if !m.content.is_empty() {
        blocks.push(json!({"type": "text", "text": m.content}));
    }
    Ok(blocks)
}

/// An `image` block: base64 data from a `data:` URL, or an `http(s)` URL.
fn image_block(image: &ImagePart) -> Result<Value, String> {
    if let Some((media_type, data)) = image.data() {
        return Ok(json!({
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }));
    }
    if image.url.starts_with("https://") || image.url.starts_with("http://") {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": image.url}}));
    }
    let start: String = image.url.chars().take(40).collect();
    Err(format!(
        "{start:?} is neither a data:<media type>;base64,… URL nor an http(s) URL"
    ))
}

/// Adds `tools` and `tool_choice`. `parallel_tool_calls: false` becomes
/// `disable_parallel_tool_use` in the choice.
pub(super) fn insert_tools(
    body: &mut Map<String, Value>,
    request: &ChatRequest,
) -> Result<(), String> {
    if !offers_tools(request)? {
        return Ok(());
    }
    let tools: Vec<Value> = request
        .tools
        .iter()
        .map(|t| declaration(t, "input_schema", t.parameters.clone()))
        .collect();
    body.insert("tools".into(), Value::Array(tools));
    let mut choice = match &request.tool_choice {
        ToolChoice::Auto => json!({"type": "auto"}),
        ToolChoice::None => json!({"type": "none"}),
        ToolChoice::Required => json!({"type": "any"}),
        ToolChoice::Function(name) => {
            check_chosen(request, name)?;
            json!({"type": "tool", "name": name})
        }
    };
    let serial = request.parallel_tool_calls == Some(false);
    if serial
        && !matches!(request.tool_choice, ToolChoice::None)
        && let Value::Object(map) = &mut choice
    {
        map.insert("disable_parallel_tool_use".into(), json!(true));
    }
    // `auto` is the API's default: sent only when it carries `disable_parallel_tool_use`.
    if !request.tool_choice.is_auto() || serial {
        body.insert("tool_choice".into(), choice);
    }
    Ok(())
}

//! Tool calling and images on the Gemini wire: `functionDeclarations`, `toolConfig`,
//! `functionCall`/`functionResponse` parts and `inlineData`/`fileData` image parts going out;
//! `functionCall` parts coming back.
//!
//! Gemini's `parameters` take an OpenAPI subset of JSON Schema and reject keys outside it
//! (`additionalProperties`, `$schema`, `$ref`, ...), so a tool's schema is reduced to that subset
//! ([`gemini_schema`]). Gemini calls carry no id; a result is matched to its call by the
//! function's name, which is looked up from the call with the result's `tool_call_id`.

use rightfit_types::{ChatRequest, ImagePart, Message, Role, ToolCall, ToolChoice};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::hosted::tool_request::{arguments_object, check_chosen, declaration, offers_tools};

/// The conversation (system messages already taken out) as Gemini `contents`. Consecutive tool
/// results go in one `user` content, as Gemini wants one response part per call of the turn.
pub(super) fn contents(turns: &[&Message]) -> Result<Vec<Value>, String> {
    let mut out: Vec<Value> = Vec::with_capacity(turns.len());
    let mut open_results = false;
    for (at, m) in turns.iter().enumerate() {
        if !m.images.is_empty() && m.role != Role::User {
            return Err(format!(
                "turn {at}: a {} turn carries images; only user turns may",
                m.role.as_str()
            ));
        }
        let was_open = std::mem::replace(&mut open_results, m.role == Role::Tool);
        match m.role {
            Role::Tool => {
                let part = function_response(m, &turns[..at], at)?;
                match out.last_mut().and_then(|last| last.get_mut("parts")) {
                    Some(Value::Array(parts)) if was_open => parts.push(part),
                    _ => out.push(json!({"role": "user", "parts": [part]})),
                }
            }
            Role::Assistant => {
                let mut parts = Vec::with_capacity(m.tool_calls.len() + 1);
                if !m.content.is_empty() || m.tool_calls.is_empty() {
                    parts.push(json!({"text": m.content}));
                }
                for (k, call) in m.tool_calls.iter().enumerate() {
                    let args =
                        arguments_object(call, at, k, "Gemini takes a call's args as an object")?;
                    parts.push(json!({"functionCall": {"name": call.name, "args": args}}));
                }
                out.push(json!({"role": "model", "parts": parts}));
            }
            Role::User | Role::System => {
                let mut parts = m
                    .images
                    .iter()
                    .enumerate()
                    .map(|(k, image)| {
                        image_part(image).map_err(|e| format!("turn {at}, image {k}: {e}"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if !m.content.is_empty() || parts.is_empty() {
                    parts.push(json!({"text": m.content}));
                }
                out.push(json!({"role": "user", "parts": parts}));
            }
        }
    }
    Ok(out)
}

/// A `functionResponse` part for a tool turn: the name from the earlier call with that id, the
/// result as an object (`{"content": text}` when it is not a JSON object).
fn function_response(m: &Message, before: &[&Message], at: usize) -> Result<Value, String> {
    let Some(id) = &m.tool_call_id else {
        return Err(format!(
            "turn {at}: a tool result without `tool_call_id`: say which call it answers"
        ));
    };
    let name = before
        .iter()
        .rev()
        .flat_map(|earlier| earlier.tool_calls.iter())
        .find(|call| &call.id == id)
        .map(|call| call.name.clone())
        .ok_or_else(|| {
            format!(
                "turn {at}: the result of tool call {id:?} answers no earlier call with that id; \
                 Gemini names the function of a result, so the call must be in the conversation"
            )
        })?;
    let response = serde_json::from_str::<Value>(&m.content)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({"content": m.content}));
    Ok(json!({"functionResponse": {"name": name, "response": response}}))
}

/// An image part: `inlineData` from a `data:` URL, `fileData` for a Gemini Files API or
/// Cloud Storage URI. Other URLs are refused: Gemini does not fetch arbitrary web addresses.
fn image_part(image: &ImagePart) -> Result<Value, String> {
    if let Some((media_type, data)) = image.data() {
        return Ok(json!({"inlineData": {"mimeType": media_type, "data": data}}));
    }
    let url = image.url.as_str();
    if url.starts_with("gs://") || url.starts_with("https://generativelanguage.googleapis.com/") {
        let mut file = Map::new();
        if let Some(mime) = guess_mime(url) {
            file.insert("mimeType".into(), json!(mime));
        }
        file.insert("fileUri".into(), json!(url));
        return Ok(json!({ "fileData": file }));
    }
    let start: String = url.chars().take(60).collect();
    Err(format!(
        "{start:?}: Gemini takes images inline (a data:<media type>;base64,… URL) or as Files API \
         / gs:// URIs, not arbitrary web URLs; download the image and send it as a data: URL"
    ))
}

/// The image media type a file name suggests.
fn guess_mime(url: &str) -> Option<&'static str> {
    let ext = url.rsplit('.').next()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        _ => return None,
    })
}

/// Adds `tools` (one `functionDeclarations` entry) and `toolConfig`. Gemini has no switch for
/// parallel calls, so `parallel_tool_calls` is not sent.
pub(super) fn insert_tools(
    body: &mut Map<String, Value>,
    request: &ChatRequest,
) -> Result<(), String> {
    if !offers_tools(request)? {
        return Ok(());
    }
    let declarations: Vec<Value> = request
        .tools
        .iter()
        .map(|t| declaration(t, "parameters", gemini_schema(&t.parameters)))
        .collect();
    body.insert(
        "tools".into(),
        json!([{ "functionDeclarations": declarations }]),
    );
    let config = match &request.tool_choice {
        ToolChoice::Auto => None,
        ToolChoice::None => Some(json!({"mode": "NONE"})),
        ToolChoice::Required => Some(json!({"mode": "ANY"})),
        ToolChoice::Function(name) => {
            check_chosen(request, name)?;
            Some(json!({"mode": "ANY", "allowedFunctionNames": [name]}))
        }
    };
    if let Some(config) = config {
        body.insert(
            "toolConfig".into(),
            json!({ "functionCallingConfig": config }),
        );
    }
    Ok(())
}

/// Schema keys Gemini's OpenAPI subset takes.
const SCHEMA_KEYS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
];

/// A JSON Schema reduced to Gemini's OpenAPI subset: keys outside [`SCHEMA_KEYS`] are dropped
/// (`additionalProperties`, `$schema`, `$ref`, `$defs`, `oneOf`, ...), a type list with `null`
/// becomes `nullable`, and `const` becomes a one-value `enum`.
pub(super) fn gemini_schema(schema: &Value) -> Value {
    let Value::Object(obj) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in obj {
        match key.as_str() {
            "properties" => {
                if let Value::Object(props) = value {
                    let props: Map<String, Value> = props
                        .iter()
                        .map(|(name, s)| (name.clone(), gemini_schema(s)))
                        .collect();
                    out.insert(key.clone(), Value::Object(props));
                }
            }
            "items" => {
                out.insert(key.clone(), gemini_schema(value));
            }
            "anyOf" => {
                if let Value::Array(options) = value {
                    out.insert(
                        key.clone(),
                        Value::Array(options.iter().map(gemini_schema).collect()),
                    );
                }
            }
            "type" => match value {
                Value::Array(types) => {
                    let named: Vec<&Value> = types.iter().filter(|t| *t != "null").collect();
                    if named.len() < types.len() {
                        out.insert("nullable".into(), json!(true));
                    }
                    if let Some(first) = named.first() {
                        out.insert(key.clone(), (*first).clone());
                    }
                }
                other => {
                    out.insert(key.clone(), other.clone());
                }
            },
            "const" => {
                out.insert("enum".into(), json!([value]));
            }
            k if SCHEMA_KEYS.contains(&k) => {
                out.insert(key.clone(), value.clone());
            }
            _ => {}
        }
    }
    Value::Object(out)
}

/// A `functionCall` part of a response.
#[derive(Debug, Deserialize)]
pub(super) struct WireFunctionCall {
    /// Newer models give calls an id; older ones do not.
    id: Option<String>,
    name: Option<String>,
    args: Option<Value>,
}

impl WireFunctionCall {
    /// The call, numbered `n` in candidate `choice` (the id when Gemini gave none:
    /// `call_<choice>_<n>`). `Err` says what is missing.
    pub(super) fn to_call(&self, choice: u32, n: usize) -> Result<ToolCall, String> {
        let name = self
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("candidate {choice}: functionCall {n} without a `name`"))?;
        let arguments = match &self.args {
            None | Some(Value::Null) => "{}".to_owned(),
            Some(args @ Value::Object(_)) => args.to_string(),
            Some(other) => {
                return Err(format!(
                    "candidate {choice}: functionCall {n} ({name}) has args {other}, not an object"
                ));
            }
        };
        let id = self
            .id
            .clone()
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| format!("call_{choice}_{n}"));
        Ok(ToolCall {
            id,
            name,
            arguments,
        })
    }
}

//! Tool calling: the functions a request offers the model, the calls the model makes, and the
//! images a user message carries.
//!
//! These shapes are the meeting point of every API rightfit speaks: OpenAI's `tools`/`tool_calls`/
//! `tool` messages, Anthropic's `tools`/`tool_use`/`tool_result` blocks and Gemini's function
//! declarations all convert to and from them, so a client of one API can be served by an upstream
//! of another, and a local model can answer through its chat template's tool format.

use serde::{Deserialize, Serialize};

/// A function the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// The function's name (`get_weather`); what a call names.
    pub name: String,
    /// What the function does, for the model.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// A JSON Schema of the arguments object (`{"type": "object", "properties": …}`).
    #[serde(default = "empty_object_schema")]
    pub parameters: serde_json::Value,
    /// Whether the provider must follow the schema exactly (OpenAI `strict`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub strict: bool,
}

fn empty_object_schema() -> serde_json::Value {
    serde_json::json!({"type": "object", "properties": {}})
}

impl Tool {
    /// A function with a description and an arguments schema.
    pub fn function(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: serde_json::Value,
    ) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            parameters,
            strict: false,
        }
    }

    /// The function as OpenAI's Chat Completions takes it: `{"type": "function", "function":
    /// {"name", "description", "parameters", "strict"}}`, `description` left out when empty and
    /// `strict` when false.
    pub fn openai_json(&self) -> serde_json::Value {
        let mut function = serde_json::Map::new();
        function.insert("name".into(), self.name.clone().into());
        if !self.description.is_empty() {
            function.insert("description".into(), self.description.clone().into());
        }
        function.insert("parameters".into(), self.parameters.clone());
        if self.strict {
            function.insert("strict".into(), true.into());
        }
        serde_json::json!({"type": "function", "function": function})
    }
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "type", content = "name", rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides between answering and calling tools (the default when tools are given).
    #[default]
    Auto,
    /// The model must not call a tool.
    None,
    /// The model must call at least one tool (OpenAI `required`, Anthropic `any`, Gemini `ANY`).
    Required,
    /// The model must call this function.
    Function(String),
}

impl ToolChoice {
    /// Whether this is the default, [`ToolChoice::Auto`].
    pub fn is_auto(&self) -> bool {
        matches!(self, ToolChoice::Auto)
    }
}

/// A call the model made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call's identifier, which the tool's result refers to (`call_…`, `toolu_…`).
    pub id: String,
    /// The function called.
    pub name: String,
    /// The arguments as JSON text, exactly as the model wrote them (usually an object; it may be
    /// invalid JSON when the model or provider got it wrong, which evaluation scores).
    pub arguments: String,
}

impl ToolCall {
    /// A call with arguments given as a JSON value.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: &serde_json::Value,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            arguments: arguments.to_string(),
        }
    }

    /// The arguments parsed as JSON, if they are valid JSON.
    pub fn arguments_json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.arguments).ok()
    }

    /// The call as OpenAI writes it in an assistant message's `tool_calls`: `{"id", "type":
    /// "function", "function": {"name", "arguments"}}`, the arguments as the model wrote them.
    pub fn openai_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        })
    }
}

/// Adds one streamed piece of a tool call ([`crate::StreamEvent::ToolCall`]) to `calls`, the
/// calls of one choice so far: call number `calls.len()` starts a new call, an earlier number adds
/// to its call (the id replaced, the name and arguments extended). A number beyond the next one is
/// an error that says so: calls begin in order.
pub fn add_streamed_call(
    calls: &mut Vec<ToolCall>,
    call: u32,
    id: Option<&str>,
    name: Option<&str>,
    arguments: &str,
) -> Result<(), String> {
    let position = call as usize;
    if position == calls.len() {
        calls.push(ToolCall {
            id: String::new(),
            name: String::new(),
            arguments: String::new(),
        });
    }
    let began = calls.len();
    let Some(slot) = calls.get_mut(position) else {
        return Err(format!("tool call {call} began before call {began}"));
    };
    if let Some(id) = id {
        id.clone_into(&mut slot.id);
    }
    if let Some(name) = name {
        slot.name.push_str(name);
    }
    slot.arguments.push_str(arguments);
    Ok(())
}

/// An image in a user message, passed to models that take images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImagePart {
    /// An `http(s)://` URL or a `data:<media type>;base64,<data>` URL.
    pub url: String,
    /// OpenAI's `detail` hint (`auto`, `low`, `high`), when the client gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl ImagePart {
    /// The media type and base64 data of a `data:` URL; `None` for a remote URL.
    pub fn data(&self) -> Option<(&str, &str)> {
        let rest = self.url.strip_prefix("data:")?;
        let (media_type, data) = rest.split_once(";base64,")?;
        Some((media_type, data))
    }

    /// The image as an OpenAI `image_url` content part: `{"type": "image_url", "image_url":
    /// {"url", "detail"}}`, `detail` left out when the client gave none.
    pub fn openai_json(&self) -> serde_json::Value {
        let mut url = serde_json::Map::new();
        url.insert("url".into(), self.url.clone().into());
        if let Some(detail) = &self.detail {
            url.insert("detail".into(), detail.clone().into());
        }
        serde_json::json!({"type": "image_url", "image_url": url})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_choice_serialises_by_name() {
        let named = ToolChoice::Function("f".into());
        let text = serde_json::to_string(&named).unwrap_or_default();
        assert_eq!(text, r#"{"type":"function","name":"f"}"#);
        let back: ToolChoice = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(back, named);
        assert!(ToolChoice::Auto.is_auto() && !ToolChoice::Required.is_auto());
    }

    #[test]
    fn data_urls_split_into_media_type_and_data() {
        let image = ImagePart {
            url: "data:image/png;base64,iVBORw0KGgo=".into(),
            detail: None,
        };
        assert_eq!(image.data(), Some(("image/png", "iVBORw0KGgo=")));
        let remote = ImagePart {
            url: "https://example.com/a.png".into(),
            detail: Some("low".into()),
        };
        assert_eq!(remote.data(), None);
    }

    #[test]
    fn openai_shapes_leave_out_what_is_unset() {
        let bare = Tool::function("f", "", serde_json::json!({"type": "object"}));
        assert_eq!(
            bare.openai_json(),
            serde_json::json!({"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}})
        );
        let strict = Tool {
            strict: true,
            ..Tool::function("g", "d", serde_json::json!({}))
        };
        assert_eq!(
            strict.openai_json(),
            serde_json::json!({"type": "function", "function": {"name": "g", "description": "d", "parameters": {}, "strict": true}})
        );
        assert_eq!(
            ToolCall::new("c1", "f", &serde_json::json!({"a": 1})).openai_json(),
            serde_json::json!({"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}})
        );
        let image = ImagePart {
            url: "u".into(),
            detail: None,
        };
        assert_eq!(
            image.openai_json(),
            serde_json::json!({"type": "image_url", "image_url": {"url": "u"}})
        );
    }

    #[test]
    fn streamed_pieces_rebuild_the_calls_in_order() {
        let mut calls = Vec::new();
        for (call, id, arguments) in [
            (0, Some("a"), ""),
            (1, Some("b"), "{}"),
            (0, None, "{\"x\":"),
            (0, None, "1}"),
        ] {
            let name = id.map(|_| "f");
            assert_eq!(
                add_streamed_call(&mut calls, call, id, name, arguments),
                Ok(())
            );
        }
        assert_eq!(
            calls,
            vec![
                ToolCall::new("a", "f", &serde_json::json!({"x": 1})),
                ToolCall::new("b", "f", &serde_json::json!({})),
            ]
        );
        assert_eq!(
            add_streamed_call(&mut calls, 3, Some("d"), Some("f"), "{}"),
            Err("tool call 3 began before call 2".to_owned())
        );
        assert_eq!(calls.len(), 2);
    }

    #[test]
    fn arguments_parse_when_they_are_json() {
        let call = ToolCall::new("c1", "f", &serde_json::json!({"a": 1}));
        assert_eq!(call.arguments_json(), Some(serde_json::json!({"a": 1})));
        let broken = ToolCall {
            arguments: "{\"a\":".into(),
            ..call
        };
        assert_eq!(broken.arguments_json(), None);
    }
}

//! Putting tools, calls and tool results into the prompt.
//!
//! A chat template that knows tools (its Jinja source uses `tools`, as Qwen2.5's and Llama
//! 3.1's do) is given them as Hugging Face transformers passes them: `tools` as OpenAI function
//! objects, assistant messages with `tool_calls` (arguments as objects), and `tool` messages.
//! Other templates (SmolLM2's ChatML, llama.cpp's built-ins) get the Hermes format written into
//! plain messages ([`hermes_messages`]): the tools and the call format in the system turn, calls
//! as `<tool_call>` blocks in the assistant's turn, results as `<tool_response>` blocks in a user
//! turn — the format Qwen2.5 and many other open models were trained on.

use rightfit_types::{Message, Role, Tool, ToolCall};
use serde::Serialize;
use serde_json::Value;

use super::grammar::{CALL_CLOSE, CALL_OPEN};

/// Whether a Jinja chat template renders tools itself.
pub(crate) fn template_supports_tools(source: &str) -> bool {
    source.contains("{%") && source.contains("tools")
}

/// JSON as Python's `json.dumps` writes it (`", "` and `": "` separators, non-ASCII kept), which
/// is what chat templates' `tojson` gives under transformers; `indent` as `json.dumps(indent=)`.
pub(crate) fn python_json(value: &Value, indent: Option<usize>) -> String {
    let mut out = Vec::new();
    let written = match indent {
        Some(n) => {
            let spaces = vec![b' '; n];
            let formatter = serde_json::ser::PrettyFormatter::with_indent(&spaces);
            value.serialize(&mut serde_json::Serializer::with_formatter(
                &mut out, formatter,
            ))
        }
        None => value.serialize(&mut serde_json::Serializer::with_formatter(
            &mut out,
            PythonFormatter,
        )),
    };
    match written.map(|()| String::from_utf8(out)) {
        Ok(Ok(text)) => text,
        // Serialising a `Value` into memory cannot fail, and serde_json writes UTF-8.
        _ => value.to_string(),
    }
}

struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        python_separator(writer, first)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        python_separator(writer, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

/// `", "` before every item of an array or object but the first, as `json.dumps` writes it.
fn python_separator<W: ?Sized + std::io::Write>(
    writer: &mut W,
    first: bool,
) -> std::io::Result<()> {
    if first {
        Ok(())
    } else {
        writer.write_all(b", ")
    }
}

/// A call's arguments as a JSON value (an object when they parse; the raw text otherwise).
fn arguments_value(call: &ToolCall) -> Value {
    call.arguments_json()
        .unwrap_or_else(|| Value::String(call.arguments.clone()))
}

/// The tools as transformers passes them to a template (OpenAI function objects).
pub(crate) fn tools_value(tools: &[Tool]) -> Value {
    Value::Array(
        tools
            .iter()
            .map(|t| {
                serde_json::json!({
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    }
                })
            })
            .collect(),
    )
}

/// The messages as transformers passes them to a template.
pub(crate) fn messages_value(messages: &[Message]) -> Value {
    Value::Array(
        messages
            .iter()
            .map(|m| {
                let mut v = serde_json::json!({"role": m.role.as_str(), "content": m.content});
                if !m.tool_calls.is_empty() {
                    v["tool_calls"] = Value::Array(
                        m.tool_calls
                            .iter()
                            .map(|c| {
                                serde_json::json!({
                                    "id": c.id,
                                    "type": "function",
                                    "function": {"name": c.name, "arguments": arguments_value(c)},
                                })
                            })
                            .collect(),
                    );
                }
                if let Some(id) = &m.tool_call_id {
                    v["tool_call_id"] = Value::String(id.clone());
                    if let Some(name) = called_name(messages, id) {
                        v["name"] = Value::String(name.to_owned());
                    }
                }
                v
            })
            .collect(),
    )
}

/// The function that the call `id` (made earlier in the conversation) named.
fn called_name<'a>(messages: &'a [Message], id: &str) -> Option<&'a str> {
    messages
        .iter()
        .flat_map(|m| &m.tool_calls)
        .find(|c| c.id == id)
        .map(|c| c.name.as_str())
}

/// The system-turn block that offers `tools` in the Hermes format.
pub(crate) fn tools_block(tools: &[Tool]) -> String {
    let mut block = String::from(
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n\
         You are provided with function signatures within <tools></tools> XML tags:\n<tools>",
    );
    for t in tools {
        block.push('\n');
        block.push_str(&format!(
            r#"{{"type": "function", "function": {{"name": {}, "description": {}, "parameters": {}}}}}"#,
            python_json(&Value::String(t.name.clone()), None),
            python_json(&Value::String(t.description.clone()), None),
            python_json(&t.parameters, None),
        ));
    }
    block.push_str(
        "\n</tools>\n\nFor each function call, return a json object with function name and \
         arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n\
         {\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>",
    );
    block
}

/// A call as the assistant writes it in the Hermes format.
pub(crate) fn call_text(call: &ToolCall) -> String {
    format!(
        "{CALL_OPEN}\n{{\"name\": {}, \"arguments\": {}}}\n{CALL_CLOSE}",
        python_json(&Value::String(call.name.clone()), None),
        python_json(&arguments_value(call), None)
    )
}

/// The conversation as plain messages in the Hermes format, for templates without tools: the
/// tools block joins the first system message (or becomes one), calls follow the assistant's
/// text, and each run of tool results becomes one user turn of `<tool_response>` blocks.
pub(crate) fn hermes_messages(messages: &[Message], tools: &[Tool]) -> Vec<Message> {
    let mut out = Vec::with_capacity(messages.len() + 1);
    let mut rest = messages;
    if !tools.is_empty() {
        let block = tools_block(tools);
        match messages.first() {
            Some(first) if first.role == Role::System => {
                out.push(Message::system(format!("{}\n\n{block}", first.content)));
                rest = &messages[1..];
            }
            _ => out.push(Message::system(block)),
        }
    }
    for m in rest {
        match m.role {
            Role::Tool => {
                let response = format!("<tool_response>\n{}\n</tool_response>", m.content);
                match out.last_mut() {
                    Some(last) if last.role == Role::User && ends_with_response(&last.content) => {
                        last.content.push('\n');
                        last.content.push_str(&response);
                    }
                    _ => out.push(Message::user(response)),
                }
            }
            Role::Assistant if !m.tool_calls.is_empty() => {
                let mut text = m.content.clone();
                for call in &m.tool_calls {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(&call_text(call));
                }
                out.push(Message::assistant(text));
            }
            role => out.push(Message::new(role, m.content.clone())),
        }
    }
    out
}

fn ends_with_response(text: &str) -> bool {
    text.ends_with("</tool_response>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn weather() -> Tool {
        Tool::function(
            "get_weather",
            "Current weather in a city",
            json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
        )
    }

    #[test]
    fn python_json_matches_json_dumps() {
        let v = json!({"a": [1, 2], "b": {"c": "é"}});
        assert_eq!(python_json(&v, None), r#"{"a": [1, 2], "b": {"c": "é"}}"#);
        assert_eq!(python_json(&json!({"a": 1}), Some(2)), "{\n  \"a\": 1\n}");
    }

    #[test]
    fn templates_that_mention_tools_render_them() {
        assert!(template_supports_tools(
            "{%- if tools %}{{ tools }}{% endif %}"
        ));
        assert!(!template_supports_tools(
            "{% for message in messages %}<|im_start|>{{ message.role }}{% endfor %}"
        ));
        assert!(!template_supports_tools("chatml"));
    }

    #[test]
    fn the_hermes_fallback_writes_tools_calls_and_results_into_plain_turns() {
        let call = ToolCall::new("call_1", "get_weather", &json!({"city": "Paris"}));
        let conversation = vec![
            Message::system("Be brief."),
            Message::user("Weather in Paris?"),
            Message::assistant_calls("", vec![call.clone(), call]),
            Message::tool_result("call_1", "18C, sunny"),
            Message::tool_result("call_1", "19C"),
        ];
        let plain = hermes_messages(&conversation, &[weather()]);
        assert!(plain.iter().all(Message::is_plain));
        assert_eq!(plain.len(), 4);
        assert!(plain[0].content.starts_with("Be brief.\n\n# Tools"));
        assert!(plain[0].content.contains(
            r#"{"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city", "parameters": {"properties": {"city": {"type": "string"}}, "required": ["city"], "type": "object"}}}"#
        ));
        assert_eq!(
            plain[2].content,
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n\
             <tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"
        );
        assert_eq!(plain[3].role, Role::User);
        assert_eq!(
            plain[3].content,
            "<tool_response>\n18C, sunny\n</tool_response>\n<tool_response>\n19C\n</tool_response>"
        );
    }

    #[test]
    fn without_tools_only_the_history_is_rewritten() {
        let conversation = vec![Message::user("hi"), Message::tool_result("c", "42")];
        let plain = hermes_messages(&conversation, &[]);
        assert_eq!(plain.len(), 2);
        assert_eq!(plain[0], Message::user("hi"));
        assert_eq!(plain[1].content, "<tool_response>\n42\n</tool_response>");
    }

    #[test]
    fn template_messages_carry_calls_as_objects_and_results_with_the_function_name() {
        let call = ToolCall::new("call_1", "get_weather", &json!({"city": "Paris"}));
        let v = messages_value(&[
            Message::assistant_calls("", vec![call]),
            Message::tool_result("call_1", "sunny"),
        ]);
        assert_eq!(
            v[0]["tool_calls"][0]["function"]["arguments"]["city"],
            "Paris"
        );
        assert_eq!(v[0]["tool_calls"][0]["type"], "function");
        assert_eq!(v[1]["role"], "tool");
        assert_eq!(v[1]["name"], "get_weather");
        assert_eq!(
            tools_value(&[weather()])[0]["function"]["name"],
            "get_weather"
        );
    }
}

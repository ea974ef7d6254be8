//! The grammar a tool call must follow, built from the tools' JSON Schemas.
//!
//! A call is the Hermes-style block `<tool_call>\n{"name": …, "arguments": …}\n</tool_call>`.
//! Its JSON is constrained by one JSON Schema, `{"oneOf": [one object per tool]}`, where each
//! object fixes `name` to the tool's name (`const`) and `arguments` to the tool's parameters
//! schema; llama.cpp's converter turns it into GBNF, and a wrapper rule adds the markup around
//! it (and the repetition, when several calls are allowed).
//!
//! Schemas written for Python (the Berkeley Function Calling Leaderboard uses `"type": "dict"`,
//! `"float"`, `"tuple"`, `"any"`) are normalised to JSON Schema first. A tool whose parameters
//! still cannot be converted is constrained to "any JSON object" instead (and a warning is
//! logged), so one odd schema does not make the whole request fail.

use rightfit_types::Tool;
use serde_json::Value;

use crate::engine::error::EngineError;

/// The text that opens a call; also the lazy grammar's trigger.
pub(crate) const CALL_OPEN: &str = "<tool_call>";
/// The text that closes a call.
pub(crate) const CALL_CLOSE: &str = "</tool_call>";
/// The grammar's start rule (the converter's own start rule is `root`).
pub(crate) const CALLS_ROOT: &str = "rf-tool-calls";
/// Most calls after the first in one turn when parallel calls are allowed: a bound, so that a
/// small model repeating itself stops at the end-of-turn token rather than at `max_tokens`.
const MAX_EXTRA_CALLS: usize = 7;

/// The tokens that are `<tool_call>` or `</tool_call>` on their own (special tokens in
/// Qwen2.5's vocabulary; none in most others).
pub(crate) fn markup_tokens(
    model: &llama_cpp_2::model::LlamaModel,
) -> Vec<llama_cpp_2::token::LlamaToken> {
    [CALL_OPEN, CALL_CLOSE]
        .iter()
        .filter_map(
            |markup| match model.vocab().tokenize(markup.as_bytes(), false, true)[..] {
                [one] => Some(one),
                _ => None,
            },
        )
        .collect()
}

/// Python-ish type names some function-calling data sets use, and their JSON Schema names.
fn json_type(name: &str) -> Option<&'static str> {
    Some(match name {
        "dict" | "object" => "object",
        "float" | "number" | "double" => "number",
        "int" | "integer" => "integer",
        "tuple" | "list" | "array" => "array",
        "str" | "string" => "string",
        "bool" | "boolean" => "boolean",
        "null" | "none" | "None" => "null",
        _ => return None,
    })
}

/// Rewrites Python-style type names to JSON Schema (`dict` → `object`, `float` → `number`,
/// `tuple` → `array`; `any` and unknown names drop the `type`, allowing any value), at every
/// depth where a schema can appear.
pub(crate) fn normalise_schema(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let mut out = serde_json::Map::new();
    for (key, value) in map {
        match key.as_str() {
            "type" => match value {
                Value::String(t) => {
                    if let Some(t) = json_type(t) {
                        out.insert(key.clone(), Value::String(t.to_owned()));
                    }
                }
                Value::Array(types) => {
                    let types: Vec<Value> = types
                        .iter()
                        .filter_map(|t| t.as_str().and_then(json_type))
                        .map(|t| Value::String(t.to_owned()))
                        .collect();
                    // An empty list (or one naming `any`) constrains nothing.
                    if !types.is_empty() && types.len() == types_len(value) {
                        out.insert(key.clone(), Value::Array(types));
                    }
                }
                other => {
                    out.insert(key.clone(), other.clone());
                }
            },
            "properties" | "$defs" | "definitions" | "patternProperties" => {
                let inner = match value {
                    Value::Object(props) => Value::Object(
                        props
                            .iter()
                            .map(|(k, v)| (k.clone(), normalise_schema(v)))
                            .collect(),
                    ),
                    other => other.clone(),
                };
                out.insert(key.clone(), inner);
            }
            "items" | "additionalProperties" | "not" | "contains" | "additionalItems" => {
                let inner = match value {
                    Value::Array(list) => Value::Array(list.iter().map(normalise_schema).collect()),
                    other => normalise_schema(other),
                };
                out.insert(key.clone(), inner);
            }
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                let inner = match value {
                    Value::Array(list) => Value::Array(list.iter().map(normalise_schema).collect()),
                    other => other.clone(),
                };
                out.insert(key.clone(), inner);
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

fn types_len(value: &Value) -> usize {
    value.as_array().map_or(0, Vec::len)
}

/// A tool's arguments schema as JSON text that llama.cpp's converter accepts: the normalised
/// parameters, or `{"type": "object"}` when they cannot be converted.
fn arguments_schema(tool: &Tool) -> String {
    let normalised = normalise_schema(&tool.parameters);
    let text = normalised.to_string();
    match llama_cpp_2::json_schema_to_grammar(&text) {
        Ok(_) => text,
        Err(e) => {
            tracing::warn!(
                tool = %tool.name,
                "the parameters schema cannot be turned into a grammar ({e}); \
                 the call's arguments are constrained to any JSON object instead"
            );
            r#"{"type":"object"}"#.to_owned()
        }
    }
}

/// The JSON Schema of one call to any of `tools`: `{"name": <one of them>, "arguments": …}`.
///
/// Written as text rather than through `serde_json::Value`, whose maps sort their keys: the
/// converter keeps the order it reads, and `name` must come before `arguments` (as the Hermes
/// format has it, and so that a streamed call names its function first).
pub(crate) fn call_schema(tools: &[&Tool]) -> String {
    let one = |tool: &Tool| {
        format!(
            r#"{{"type":"object","properties":{{"name":{{"const":{}}},"arguments":{}}},"required":["name","arguments"]}}"#,
            Value::String(tool.name.clone()),
            arguments_schema(tool)
        )
    };
    match tools {
        [tool] => one(tool),
        _ => format!(
            r#"{{"oneOf":[{}]}}"#,
            tools.iter().map(|t| one(t)).collect::<Vec<_>>().join(",")
        ),
    }
}

/// The GBNF grammar of a turn of calls to `tools` (start rule [`CALLS_ROOT`]): one call, or up
/// to [`MAX_EXTRA_CALLS`] more on new lines when `parallel`.
pub(crate) fn calls_grammar(tools: &[&Tool], parallel: bool) -> Result<String, EngineError> {
    if tools.is_empty() {
        return Err(EngineError::InvalidRequest(
            "no tools to call: tool_choice asks for a call but the request declares no tools"
                .to_owned(),
        ));
    }
    let schema = call_schema(tools);
    let gbnf = llama_cpp_2::json_schema_to_grammar(&schema).map_err(|e| {
        EngineError::Grammar(format!(
            "the tools' schemas cannot be turned into a grammar: {e}"
        ))
    })?;
    let repeat = if parallel {
        format!(r#" ( "\n" rf-tool-call ){{0,{MAX_EXTRA_CALLS}}}"#)
    } else {
        String::new()
    };
    Ok(format!(
        "{gbnf}\nrf-tool-call ::= \"{CALL_OPEN}\\n\" root \"\\n{CALL_CLOSE}\"\n{CALLS_ROOT} ::= rf-tool-call{repeat}\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_types_become_json_schema_types_at_every_depth() {
        let bfcl = json!({
            "type": "dict",
            "properties": {
                "ratio": {"type": "float"},
                "point": {"type": "tuple", "items": {"type": "integer"}},
                "anything": {"type": "any", "description": "whatever"},
                "nested": {"type": "dict", "properties": {"x": {"type": "float"}}},
                "either": {"anyOf": [{"type": "dict"}, {"type": "str"}]}
            },
            "required": ["ratio"]
        });
        let n = normalise_schema(&bfcl);
        assert_eq!(n["type"], "object");
        assert_eq!(n["properties"]["ratio"]["type"], "number");
        assert_eq!(n["properties"]["point"]["type"], "array");
        assert_eq!(n["properties"]["point"]["items"]["type"], "integer");
        assert!(n["properties"]["anything"].get("type").is_none());
        assert_eq!(n["properties"]["anything"]["description"], "whatever");
        assert_eq!(
            n["properties"]["nested"]["properties"]["x"]["type"],
            "number"
        );
        assert_eq!(n["properties"]["either"]["anyOf"][0]["type"], "object");
        assert_eq!(n["properties"]["either"]["anyOf"][1]["type"], "string");
        assert_eq!(n["required"], json!(["ratio"]));
    }

    #[test]
    fn a_property_named_type_is_not_mistaken_for_a_type_keyword() {
        let schema = json!({"type": "object", "properties": {"type": {"type": "string"}}});
        let n = normalise_schema(&schema);
        assert_eq!(n["properties"]["type"]["type"], "string");
    }

    fn weather() -> Tool {
        Tool::function(
            "get_weather",
            "Weather in a city",
            json!({"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]}),
        )
    }

    #[test]
    fn the_call_schema_names_the_function_before_its_arguments() {
        let w = weather();
        let schema = call_schema(&[&w]);
        let parsed: Value = serde_json::from_str(&schema).expect("valid JSON");
        assert_eq!(parsed["properties"]["name"]["const"], "get_weather");
        assert_eq!(
            parsed["properties"]["arguments"]["required"],
            json!(["city"])
        );
        let name_at = schema.find(r#""name""#).expect("name");
        let args_at = schema.find(r#""arguments""#).expect("arguments");
        assert!(name_at < args_at, "{schema}");
        let two = call_schema(&[&w, &Tool::function("add", "", json!({"type": "dict"}))]);
        let parsed: Value = serde_json::from_str(&two).expect("valid JSON");
        assert_eq!(parsed["oneOf"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            parsed["oneOf"][1]["properties"]["arguments"]["type"],
            "object"
        );
    }

    #[test]
    fn the_grammar_wraps_calls_in_markup_and_repeats_only_when_parallel() {
        let w = weather();
        let single = calls_grammar(&[&w], false).expect("grammar");
        assert!(single.contains(r#"rf-tool-call ::= "<tool_call>\n" root "\n</tool_call>""#));
        assert!(
            single.contains("rf-tool-calls ::= rf-tool-call\n"),
            "{single}"
        );
        assert!(single.contains("get_weather"));
        let parallel = calls_grammar(&[&w], true).expect("grammar");
        assert!(
            parallel.contains(r#"( "\n" rf-tool-call ){0,7}"#),
            "{parallel}"
        );
        assert!(matches!(
            calls_grammar(&[], false),
            Err(EngineError::InvalidRequest(_))
        ));
    }

    #[test]
    fn an_unconvertible_parameters_schema_falls_back_to_any_object() {
        let odd = Tool::function("odd", "", json!({"$ref": "#/nowhere"}));
        let schema = arguments_schema(&odd);
        // Either the converter accepted it as is, or the fallback was used; both are objects
        // a grammar can be built from.
        assert!(
            llama_cpp_2::json_schema_to_grammar(&schema).is_ok(),
            "{schema}"
        );
        assert!(calls_grammar(&[&odd], false).is_ok());
    }
}

//! The grammar a tool call must follow, built from the tools' JSON Schemas.
//!
//! A call is the Hermes-style block `<tool_call>\n{"name": …, "arguments": …}\n</tool_call>`.
//! Its JSON is constrained by one JSON Schema, `{"oneOf": [one object per tool]}`, where each
//! object fixes `name` to the tool's name (`const`) and `arguments` to the tool's parameters
//! schema; llama.cpp's converter turns it into GBNF, and a wrapper rule adds the markup around
//! it (and the repetition, when several calls are allowed).
//!
//! Under `tool_choice = auto` the grammar is lazy: the model writes freely until it opens a
//! call, and is held to the grammar from there ([`lazy_triggers`]). It opens one either with
//! `<tool_call>` or, at the very start of its answer, with a bare `{"name": "<a declared
//! function>",` (as Qwen2.5-Coder does, sometimes inside a markdown fence ```` ```json ````,
//! which the grammar is not shown); the lazy start rule [`LAZY_ROOT`] accepts both.
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
/// The start rule of the lazy grammar: tagged calls, or bare calls opening the answer.
pub(crate) const LAZY_ROOT: &str = "rf-tool-calls-lazy";
/// The converter's `space` rule as a regular expression (`| " " | "\n"{1,2} [ \t]{0,20}`).
const SPACE: &str = r"(?: |\n\n?[ \t]{0,20})?";
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
///
/// The lazy grammar's bare calls may end with a closing markdown fence: bare calls written in
/// a fence are handed to the grammar from their first `{` (the fence is not), and a model that
/// may not close its fence writes more calls instead (Qwen2.5-Coder-0.5B repeats its call
/// until `max_tokens`).
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
    let repeat = |rule: &str| {
        if parallel {
            format!(r#"{rule} ( "\n" {rule} ){{0,{MAX_EXTRA_CALLS}}}"#)
        } else {
            rule.to_owned()
        }
    };
    Ok(format!(
        "{gbnf}\nrf-tool-call ::= \"{CALL_OPEN}\\n\" root \"\\n{CALL_CLOSE}\"\n\
         {CALLS_ROOT} ::= {}\n\
         rf-bare-calls ::= {} ( \"\\n\"? \"```\" )?\n\
         {LAZY_ROOT} ::= {CALLS_ROOT} | rf-bare-calls\n",
        repeat("rf-tool-call"),
        repeat("root"),
    ))
}

/// The patterns that switch the lazy grammar on (llama.cpp's regex triggers, matched against
/// all the text generated so far; the grammar is then fed the text from the first group on).
///
/// llama.cpp aborts the process when the text it feeds the grammar at that moment is rejected,
/// so each pattern must end the text (`$`) and match only a prefix the grammar accepts:
/// `<tool_call>`, or an answer that is (after leading whitespace, and optionally a markdown
/// fence ```` ```json ```` and whitespace) `{"name": "f"`, `f` a declared function, optionally
/// followed by `,`, a space and `"` — written with exactly the
/// whitespace the converter's `space` rule allows, and no space between the name and the
/// comma (the converter allows none there). A call whose tokens run past these points (a token
/// `", "` after the name, say) is not constrained, only read back. Functions whose names are
/// not plain (`[A-Za-z0-9_.-]`) are left out of the bare pattern, so that the name needs no
/// escaping in JSON or in the regex.
///
/// llama.cpp hands the grammar the text from the first non-empty capture group on (replaying
/// the part of a token that overlaps it), so the fence is never fed to the grammar: the bare
/// pattern's only group starts at `{`. The grammar then ends with the calls, so a fenced
/// answer ends without its closing fence; the reader accepts that.
pub(crate) fn lazy_triggers(tools: &[&Tool]) -> Vec<String> {
    let mut triggers = vec![format!("({CALL_OPEN})$")];
    let names: Vec<String> = tools
        .iter()
        .map(|t| t.name.as_str())
        .filter(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        })
        .map(|n| n.replace('.', r"\."))
        .collect();
    if !names.is_empty() {
        triggers.push(format!(
            r#"^\s*(?:```(?:json)?\s*)?(\{{{SPACE}"name"{SPACE}:{SPACE}"(?:{})"(?:,{SPACE}"?)?)$"#,
            names.join("|")
        ));
    }
    triggers
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
        assert!(
            single.contains(r#"rf-bare-calls ::= root ( "\n"? "```" )?"#),
            "{single}"
        );
        assert!(
            single.contains("rf-tool-calls-lazy ::= rf-tool-calls | rf-bare-calls\n"),
            "{single}"
        );
        assert!(single.contains("get_weather"));
        let parallel = calls_grammar(&[&w], true).expect("grammar");
        assert!(
            parallel.contains(r#"( "\n" rf-tool-call ){0,7}"#),
            "{parallel}"
        );
        assert!(
            parallel.contains(r#"rf-bare-calls ::= root ( "\n" root ){0,7}"#),
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

    #[test]
    fn the_bare_trigger_names_only_declared_plain_functions() {
        let (w, dotted) = (weather(), Tool::function("math.add", "", json!({})));
        let odd = Tool::function("say \"hi\"", "", json!({}));
        let triggers = lazy_triggers(&[&w, &dotted, &odd]);
        assert_eq!(triggers[0], "(<tool_call>)$");
        assert!(
            triggers[1].contains(r#""(?:get_weather|math\.add)""#),
            "{triggers:?}"
        );
        assert_eq!(lazy_triggers(&[&odd]), vec!["(<tool_call>)$".to_owned()]);
    }

    /// The lazy grammar on SmolLM2-135M's vocabulary, driven token by token as the engine
    /// drives it: the triggers switch it on only where they should, and never feed it text it
    /// rejects (which would abort the process in the engine; here `try_accept` reports it).
    #[test]
    fn lazy_triggers_switch_the_grammar_on_safely_smollm2() {
        use llama_cpp_2::model::LlamaModel;
        use llama_cpp_2::model::params::LlamaModelParams;
        use llama_cpp_2::sampling::LlamaSampler;
        use llama_cpp_2::token::data::LlamaTokenData;
        use llama_cpp_2::token::data_array::LlamaTokenDataArray;

        // As the integration tests find it; fails (does not skip) when it is missing.
        let path = std::env::var(rightfit_config::env::TEST_MODEL).map_or_else(
            |_| {
                let home = std::env::var(rightfit_config::env::HOME).map_or_else(
                    |_| {
                        std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default())
                            .join(".cache/rightfit")
                    },
                    std::path::PathBuf::from,
                );
                home.join("models/SmolLM2-135M-Instruct.Q4_1.gguf")
            },
            std::path::PathBuf::from,
        );
        assert!(
            path.exists(),
            "{} is missing: run scripts/test (it pulls the model) or set RIGHTFIT_TEST_MODEL",
            path.display()
        );
        let backend = crate::engine::backend::backend().expect("backend");
        let params = LlamaModelParams::default().with_vocab_only(true);
        let model = LlamaModel::load_from_file(backend, path, &params).expect("vocabulary loads");
        let vocab = model.vocab();
        let calc = Tool::function(
            "calculate",
            "",
            json!({"type": "dict", "properties": {"expression": {"type": "string"}}}),
        );
        let w = weather();
        let tools = [&w, &calc];
        let gbnf = calls_grammar(&tools, true).expect("grammar");
        let triggers = lazy_triggers(&tools);

        // Feeds `text` as the model's tokens, or one token per character; returns how many
        // tokens the grammar then rejects (0: still waiting for a trigger), and whether an
        // end-of-generation token is allowed.
        let run = |text: &str, per_char: bool| -> (usize, bool) {
            let mut grammar =
                LlamaSampler::grammar_lazy_patterns(&model, &gbnf, LAZY_ROOT, &triggers, &[])
                    .expect("lazy grammar");
            let tokens: Vec<_> = if per_char {
                let mut buf = [0u8; 4];
                text.chars()
                    .flat_map(|c| vocab.tokenize(c.encode_utf8(&mut buf).as_bytes(), false, false))
                    .collect()
            } else {
                vocab.tokenize(text.as_bytes(), false, false)
            };
            for token in tokens {
                grammar
                    .try_accept(token)
                    .unwrap_or_else(|e| panic!("{text:?} (per character: {per_char}): {e:?}"));
            }
            let n = vocab.n_tokens();
            let mut all = LlamaTokenDataArray::from_iter(
                (0..n).map(|t| LlamaTokenData::new(llama_cpp_2::token::LlamaToken(t), 0.0, 0.0)),
                false,
            );
            grammar.apply(&mut all);
            let eos = vocab.eos();
            let rejected = all.data.iter().filter(|d| d.logit() == f32::NEG_INFINITY);
            let eos_allowed = all
                .data
                .iter()
                .any(|d| d.id() == eos && d.logit() != f32::NEG_INFINITY);
            (rejected.count(), eos_allowed)
        };

        let bare = r#"{"name": "get_weather", "arguments": {"city": "Paris", "days": "#;
        for text in [
            bare,
            "\n  {\"name\":\"calculate\",\"arguments\":",
            "{\n  \"name\": \"calculate\", ",
            "<tool_call>\n{\"name\": \"calculate\", \"arguments\": {",
            "Let me check.\n<tool_call>\n{\"name",
            // Bare calls in a markdown fence, as Qwen2.5-Coder writes them.
            &format!("```json\n{bare}"),
            "```json\n{\n  \"name\": \"calculate\",\n  \"arguments\": {\n    \"expression\": ",
            "\n```\n\n{\"name\":\"calculate\",\"arguments\":",
            "```{\"name\": \"calculate\", ",
            "```json {\"name\": \"get_weather\"",
        ] {
            for per_char in [false, true] {
                let (rejected, eos) = run(text, per_char);
                assert!(
                    rejected > 1000,
                    "{text:?} (per character: {per_char}): not constrained"
                );
                assert!(!eos, "{text:?}: an unfinished call may not end the answer");
            }
        }
        // A whole bare call (fenced or not): now only the end, another call or (after the
        // calls) a closing fence may follow.
        let whole = r#"{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}"#;
        for text in [
            whole.to_owned(),
            format!("```json\n{whole}"),
            format!("```json\n{whole}\n```"),
        ] {
            let (rejected, eos) = run(&text, false);
            assert!(rejected > 1000 && eos, "{text:?}: {rejected} {eos}");
        }
        for free in [
            "Hello",
            r#"{"name": "Alice", "age": 3}"#,
            r#"{"city": "Paris"}"#,
            r#"Sure: {"name": "get_weather", "arguments": {}}"#,
            r#"{"name": "get_weather_now", "arguments": {}}"#,
            // More whitespace than the grammar allows: switching on here would abort.
            r#"{"name":   "get_weather", "arguments": {}}"#,
            // Fences around other code, or other JSON, or after text.
            "```python\n{\"name\": \"get_weather\", \"arguments\": {}}",
            "```json\n{\"name\": \"Alice\", \"age\": 3}",
            "```json\n{\"city\": \"Paris\"}\n```",
            "Sure:\n```json\n{\"name\": \"get_weather\", \"arguments\": {}}",
            "``` json\n{\"name\": \"get_weather\", \"arguments\": {}}",
            "```json\n{\"name\":   \"get_weather\", \"arguments\": {}}",
        ] {
            assert_eq!(run(free, false).0, 0, "{free:?} switched the grammar on");
            assert_eq!(run(free, true).0, 0, "{free:?} switched the grammar on");
        }
    }
}

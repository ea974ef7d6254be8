//! Tool-call components: the reference an example carries, the tools a request offers, and the
//! answer's calls as text.
//!
//! An example of a `tool_call` component carries its reference as `{"tools": [...], "expected":
//! [...]}`: the functions offered (as declared: BFCL's schema types and dotted names kept, which
//! the checks need) and the expected calls in BFCL's `ground_truth` form, `[{name: {argument:
//! [allowed values]}}]` (`""` among the allowed values: the argument may be left out; an empty
//! list: no call is expected). A plain expected call `{name, arguments}` becomes that form with
//! each argument's one value allowed.
//!
//! A model's answer is carried as text through the response cache, records and reports: its
//! calls as canonical JSON, `[{"name": ..., "arguments": {...}}]` (arguments that are not valid
//! JSON kept as their text), or, when it made none, the text it said. [`parse_answer`] reads that
//! back; the scorers in [`crate::scorers::tool_call`] check it.

pub mod messages;
pub mod schema;

use rightfit_types::{Choice, ToolCall};
use serde_json::{Map, Value, json};

/// The reference of a `tool_call` example: the functions offered and the expected calls.
///
/// # Errors
/// The expected calls are in neither accepted form, or name a function not offered.
pub fn reference(functions: Vec<Value>, expected: &Value) -> Result<Value, String> {
    let expected = expected_calls(expected)?;
    for call in &expected {
        let name = call
            .as_object()
            .and_then(|c| c.keys().next())
            .map_or("", String::as_str);
        if !functions
            .iter()
            .any(|f| f.get("name").and_then(Value::as_str) == Some(name))
        {
            let offered: Vec<&str> = functions
                .iter()
                .filter_map(|f| f.get("name").and_then(Value::as_str))
                .collect();
            return Err(format!(
                "the reference calls '{name}', which is not offered (functions: {})",
                offered.join(", ")
            ));
        }
    }
    Ok(json!({ "tools": functions, "expected": expected }))
}

/// A list of function declarations from a row's field.
///
/// # Errors
/// It is not a list of objects with a name.
pub fn functions(value: &Value) -> Result<Vec<Value>, String> {
    let value = match value {
        Value::String(text) => serde_json::from_str(text)
            .map_err(|e| format!("the functions are text that is not JSON: {e}"))?,
        other => other.clone(),
    };
    let list = match value {
        Value::Array(list) => list,
        one @ Value::Object(_) => vec![one],
        other => return Err(format!("the functions must be a list, not {other}")),
    };
    for (i, f) in list.iter().enumerate() {
        if f.get("name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(format!("functions[{i}] has no name"));
        }
    }
    Ok(list)
}

/// Expected calls in BFCL's form from either accepted form (see the module's documentation);
/// `null` and `[]` expect no call, and text holding JSON is read as that JSON.
///
/// # Errors
/// A value that is neither form.
pub fn expected_calls(value: &Value) -> Result<Vec<Value>, String> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(v @ (Value::Array(_) | Value::Object(_) | Value::Null)) => expected_calls(&v),
            _ => Err(format!("expected calls, found the text {text:?}")),
        },
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, c)| expected_call(c).map_err(|e| format!("call {}: {e}", i + 1)))
            .collect(),
        Value::Object(_) => Ok(vec![expected_call(value)?]),
        other => Err(format!("expected calls, found {other}")),
    }
}

fn expected_call(call: &Value) -> Result<Value, String> {
    let Value::Object(fields) = call else {
        return Err(format!("a call must be an object, not {call}"));
    };
    if let Some(Value::String(name)) = fields.get("name") {
        // Plain: {name, arguments}.
        let arguments = match fields.get("arguments") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(a)) => a.clone(),
            Some(Value::String(text)) => match serde_json::from_str(text) {
                Ok(Value::Object(a)) => a,
                _ => return Err(format!("the arguments of '{name}' are not a JSON object")),
            },
            Some(other) => return Err(format!("the arguments of '{name}' are {other}")),
        };
        let allowed: Map<String, Value> = arguments
            .into_iter()
            .map(|(k, v)| (k, Value::Array(vec![v])))
            .collect();
        return Ok(json!({ name.clone(): allowed }));
    }
    // BFCL: {name: {argument: [allowed]}}.
    match fields.iter().next() {
        Some((name, Value::Object(arguments))) if fields.len() == 1 => {
            let allowed: Map<String, Value> = arguments
                .iter()
                .map(|(k, v)| match v {
                    Value::Array(_) => (k.clone(), v.clone()),
                    one => (k.clone(), Value::Array(vec![one.clone()])),
                })
                .collect();
            Ok(json!({ name.clone(): allowed }))
        }
        _ => Err(format!(
            "a call is {{\"name\": ..., \"arguments\": {{...}}}} or BFCL's {{name: {{argument: [allowed values]}}}}, not {call}"
        )),
    }
}

/// The functions a reference offers.
pub fn offered(reference: &Value) -> &[Value] {
    reference
        .get("tools")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The expected calls of a reference: name and allowed values per argument.
pub fn expected(reference: &Value) -> Vec<(&str, &Map<String, Value>)> {
    reference
        .get("expected")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(|c| c.as_object()?.iter().next())
        .filter_map(|(name, args)| Some((name.as_str(), args.as_object()?)))
        .collect()
}

/// The answer text of a choice: its calls as canonical JSON, or its text when it made none.
pub fn answer_text(choice: &Choice) -> String {
    if choice.tool_calls.is_empty() {
        return choice.text.clone();
    }
    calls_text(&choice.tool_calls)
}

/// Calls as canonical JSON text: `[{"name": ..., "arguments": ...}]`, arguments parsed when they
/// are JSON and kept as text when not.
pub fn calls_text(calls: &[ToolCall]) -> String {
    let list: Vec<Value> = calls
        .iter()
        .map(|c| {
            let arguments = c
                .arguments_json()
                .unwrap_or_else(|| Value::String(c.arguments.clone()));
            json!({ "name": c.name, "arguments": arguments })
        })
        .collect();
    Value::Array(list).to_string()
}

/// One call read from an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerCall {
    /// The function as called.
    pub name: String,
    /// The arguments, `None` when they are not a JSON object.
    pub arguments: Option<Map<String, Value>>,
}

/// The calls an answer holds: canonical JSON calls (or one call object); none for any other
/// text (an answer in words).
pub fn parse_answer(answer: &str) -> Vec<AnswerCall> {
    let Ok(value) = serde_json::from_str::<Value>(answer.trim()) else {
        return Vec::new();
    };
    let items = match &value {
        Value::Array(items) => items.as_slice(),
        Value::Object(_) => std::slice::from_ref(&value),
        _ => return Vec::new(),
    };
    let calls: Option<Vec<AnswerCall>> = items
        .iter()
        .map(|item| {
            let name = item.get("name")?.as_str()?.to_owned();
            let arguments = match item.get("arguments") {
                Some(Value::Object(a)) => Some(a.clone()),
                Some(Value::String(text)) => match serde_json::from_str(text) {
                    Ok(Value::Object(a)) => Some(a),
                    _ => None,
                },
                None => Some(Map::new()),
                Some(_) => None,
            };
            Some(AnswerCall { name, arguments })
        })
        .collect();
    calls.unwrap_or_default()
}

/// The calls a few-shot example shows for a reference: each expected call with the first
/// allowed value of each argument (arguments allowing only `""` left out), under the name the
/// request offers the function by.
pub fn shot_calls(reference: &Value) -> Vec<ToolCall> {
    expected(reference)
        .into_iter()
        .enumerate()
        .map(|(i, (name, allowed))| {
            let arguments: Map<String, Value> = allowed
                .iter()
                .filter_map(|(k, options)| {
                    let first = options
                        .as_array()?
                        .iter()
                        .find(|o| o.as_str() != Some(""))?;
                    Some((k.clone(), first.clone()))
                })
                .collect();
            ToolCall::new(
                format!("call_{}", i + 1),
                schema::api_name(name),
                &Value::Object(arguments),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rightfit_types::FinishReason;

    use super::*;

    #[test]
    fn both_reference_forms_become_bfcl_ground_truth() {
        let plain = json!([{"name": "f", "arguments": {"a": 1, "b": "x"}}]);
        assert_eq!(
            expected_calls(&plain).expect("plain"),
            [json!({"f": {"a": [1], "b": ["x"]}})]
        );
        let one = json!({"name": "f", "arguments": "{\"a\": 2}"});
        assert_eq!(
            expected_calls(&one).expect("one"),
            [json!({"f": {"a": [2]}})]
        );
        let bfcl = json!([{"f": {"a": [1, 2], "c": ["", 3]}}]);
        assert_eq!(
            expected_calls(&bfcl).expect("bfcl"),
            bfcl.as_array().cloned().unwrap_or_default()
        );
        assert!(expected_calls(&json!([])).expect("none").is_empty());
        assert!(expected_calls(&Value::Null).expect("none").is_empty());
        assert_eq!(
            expected_calls(&json!("[{\"name\": \"g\"}]")).expect("text"),
            [json!({"g": {}})]
        );
        let e = expected_calls(&json!([{"f": 1, "g": 2}])).unwrap_err();
        assert!(e.starts_with("call 1: a call is"), "{e}");
        let e = reference(vec![json!({"name": "g"})], &json!({"name": "f"})).unwrap_err();
        assert!(
            e.contains("'f', which is not offered (functions: g)"),
            "{e}"
        );
    }

    #[test]
    fn calls_round_trip_through_answer_text() {
        let choice = Choice {
            index: 0,
            text: String::new(),
            tool_calls: vec![
                ToolCall::new("c1", "math_factorial", &json!({"number": 5})),
                ToolCall {
                    id: "c2".into(),
                    name: "g".into(),
                    arguments: "{broken".into(),
                },
            ],
            finish_reason: FinishReason::ToolCalls,
            logprobs: None,
        };
        let text = answer_text(&choice);
        assert_eq!(
            text,
            r#"[{"arguments":{"number":5},"name":"math_factorial"},{"arguments":"{broken","name":"g"}]"#
        );
        let calls = parse_answer(&text);
        assert_eq!(calls.len(), 2);
        assert_eq!(
            calls[0].arguments,
            json!({"number": 5}).as_object().cloned()
        );
        assert_eq!(calls[1].arguments, None);
        assert!(parse_answer("I cannot help with that.").is_empty());
        assert!(parse_answer("[1, 2]").is_empty());
        let words = Choice {
            text: "No function fits.".into(),
            tool_calls: Vec::new(),
            ..choice
        };
        assert_eq!(answer_text(&words), "No function fits.");
    }

    #[test]
    fn shots_show_the_first_allowed_values_under_the_api_name() {
        let r = reference(
            vec![json!({"name": "math.hypot"})],
            &json!([{"math.hypot": {"x": [4], "y": [5.0, 5], "z": ["", 0]}}]),
        )
        .expect("reference");
        let calls = shot_calls(&r);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].name, "math_hypot");
        assert_eq!(
            calls[0].arguments_json(),
            Some(json!({"x": 4, "y": 5.0, "z": 0}))
        );
    }
}

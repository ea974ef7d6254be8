//! Function calling and images as the Gemini API checks them: `functionDeclarations` whose
//! `parameters` use only the OpenAPI schema subset Gemini takes, `toolConfig`,
//! `functionCall`/`functionResponse` parts (a response turn comes right after a call turn, one
//! response per call) and `inlineData`/`fileData` parts. Errors are worded as Gemini's.

use serde_json::{Value, json};

use crate::script::ScriptedCall;

/// The schema keys Gemini's `Schema` message has; any other key is an unknown field.
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

/// Checks the tool and image parts of a generateContent body; `Err` is the message of a 400
/// `INVALID_ARGUMENT`.
pub(super) fn check(body: &Value) -> Result<(), String> {
    for (i, tool) in array(body.get("tools")).iter().enumerate() {
        for (j, declaration) in array(tool.get("functionDeclarations")).iter().enumerate() {
            let at = format!("tools[{i}].function_declarations[{j}]");
            if !declaration.get("name").is_some_and(Value::is_string) {
                return Err(format!(
                    "* GenerateContentRequest.{at}.name: [FIELD_INVALID] Invalid function name."
                ));
            }
            if let Some(parameters) = declaration.get("parameters") {
                check_schema(parameters, &format!("{at}.parameters"))?;
            }
        }
    }
    if let Some(mode) = body.pointer("/toolConfig/functionCallingConfig/mode")
        && !matches!(mode.as_str(), Some("AUTO" | "ANY" | "NONE" | "VALIDATED"))
    {
        return Err(format!(
            "Invalid value at 'tool_config.function_calling_config.mode' ({}), {mode}",
            "type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode"
        ));
    }
    // Function calls of the previous `model` turn.
    let mut calls = 0;
    for (i, content) in array(body.get("contents")).iter().enumerate() {
        let parts = array(content.get("parts"));
        let mut responses = 0;
        for (j, part) in parts.iter().enumerate() {
            if let Some(response) = part.get("functionResponse") {
                if !response.get("name").is_some_and(Value::is_string)
                    || !response.get("response").is_some_and(Value::is_object)
                {
                    return Err(format!(
                        "* GenerateContentRequest.contents[{i}].parts[{j}].function_response: a functionResponse needs a name and a response object"
                    ));
                }
                responses += 1;
            }
            if let Some(data) = part.get("inlineData") {
                let mime = data.get("mimeType").and_then(Value::as_str);
                if mime.is_none() || !data.get("data").is_some_and(Value::is_string) {
                    return Err(format!(
                        "* GenerateContentRequest.contents[{i}].parts[{j}].inline_data: mimeType and data are required"
                    ));
                }
            }
            if let Some(file) = part.get("fileData")
                && !file.get("fileUri").is_some_and(Value::is_string)
            {
                return Err(format!(
                    "* GenerateContentRequest.contents[{i}].parts[{j}].file_data.file_uri: fileUri is required"
                ));
            }
        }
        if responses > 0 && calls == 0 {
            return Err("Please ensure that function response turn comes immediately after a function call turn.".into());
        }
        if responses > 0 && responses != calls {
            return Err("Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.".into());
        }
        calls = parts
            .iter()
            .filter(|p| p.get("functionCall").is_some())
            .count();
    }
    Ok(())
}

fn array(value: Option<&Value>) -> &[Value] {
    value
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
}

/// Every key of the schema (and its nested schemas) is one Gemini's `Schema` has.
fn check_schema(schema: &Value, at: &str) -> Result<(), String> {
    let Value::Object(obj) = schema else {
        return Ok(());
    };
    for (key, value) in obj {
        if !SCHEMA_KEYS.contains(&key.as_str()) {
            return Err(format!(
                "Invalid JSON payload received. Unknown name \"{key}\" at '{at}': Cannot find field."
            ));
        }
        match key.as_str() {
            "properties" => {
                for (name, property) in value.as_object().into_iter().flatten() {
                    check_schema(property, &format!("{at}.properties[{name}].value"))?;
                }
            }
            "items" => check_schema(value, &format!("{at}.items"))?,
            "anyOf" => {
                for (k, option) in array(Some(value)).iter().enumerate() {
                    check_schema(option, &format!("{at}.any_of[{k}]"))?;
                }
            }
            "type" if !value.is_string() => {
                return Err(format!(
                    "Invalid JSON payload received. Invalid value at '{at}.type' ({value}): expected one Type name."
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The `functionCall` parts of scripted calls (Gemini sends no ids).
pub(super) fn call_parts(calls: &[ScriptedCall]) -> Vec<Value> {
    calls
        .iter()
        .map(|c| json!({"functionCall": {"name": c.name, "args": c.arguments_object()}}))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_outside_gemini_s_subset_are_refused() {
        let body = |parameters: Value| {
            json!({"contents": [], "tools": [{"functionDeclarations": [
                {"name": "f", "parameters": parameters}]}]})
        };
        let ok = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        assert_eq!(check(&body(ok)), Ok(()));
        let nested = json!({"type": "object", "properties": {"a": {"type": "object",
            "additionalProperties": false}}});
        let err = check(&body(nested)).unwrap_err();
        assert!(
            err.contains("Unknown name \"additionalProperties\""),
            "{err}"
        );
        assert!(err.contains("properties[a]"), "{err}");
    }

    #[test]
    fn responses_follow_calls_one_for_one() {
        let call = json!({"role": "model", "parts": [
            {"functionCall": {"name": "f", "args": {}}}, {"functionCall": {"name": "g", "args": {}}}]});
        let one = json!({"role": "user", "parts": [
            {"functionResponse": {"name": "f", "response": {}}}]});
        let err = check(&json!({"contents": [call, one]})).unwrap_err();
        assert!(err.contains("number of function response parts"), "{err}");
        let err = check(&json!({"contents": [one]})).unwrap_err();
        assert!(
            err.contains("immediately after a function call turn"),
            "{err}"
        );
    }
}

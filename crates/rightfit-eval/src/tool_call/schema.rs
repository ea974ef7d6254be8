//! Function declarations as APIs take them: BFCL's Python-flavoured schema types turned into
//! JSON Schema, and function names APIs refuse made acceptable.

use rightfit_types::Tool;
use serde_json::{Map, Value};

/// A schema with BFCL's types replaced by JSON Schema's, recursively: `dict` → `object`,
/// `float` → `number`, `tuple` → `array`, `any` → no constraint (the `type` key dropped).
/// JSON Schema types pass unchanged.
pub fn json_schema(schema: &Value) -> Value {
    let Value::Object(fields) = schema else {
        return schema.clone();
    };
    let mut out = Map::with_capacity(fields.len());
    for (key, value) in fields {
        let value = match key.as_str() {
            "type" => match value.as_str() {
                Some("dict") => Value::from("object"),
                Some("float") => Value::from("number"),
                Some("tuple") => Value::from("array"),
                Some("any") => continue,
                _ => value.clone(),
            },
            "properties" => match value {
                Value::Object(props) => Value::Object(
                    props
                        .iter()
                        .map(|(name, s)| (name.clone(), json_schema(s)))
                        .collect(),
                ),
                other => other.clone(),
            },
            "items" | "additionalProperties" => json_schema(value),
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

/// A function name as APIs accept it (`^[a-zA-Z0-9_-]+$`): every other character, such as the
/// dots of BFCL's `math.factorial`, becomes `_` (BFCL's own mapping for such APIs).
pub fn api_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The name a call gave, back as the function was declared: unchanged when it is a declared
/// name, else the one declared name whose [`api_name`] it is (unchanged when none or several).
pub fn declared_name<'a>(called: &'a str, functions: &'a [Value]) -> &'a str {
    let names = functions
        .iter()
        .filter_map(|f| f.get("name").and_then(Value::as_str));
    if names.clone().any(|n| n == called) {
        return called;
    }
    let mut matches = names.filter(|n| api_name(n) == called);
    match (matches.next(), matches.next()) {
        (Some(one), None) => one,
        _ => called,
    }
}

/// The tools a request offers for these declarations (`{name, description, parameters}`):
/// API-safe names, JSON Schema parameters (an empty object schema when there are none).
pub fn request_tools(functions: &[Value]) -> Vec<Tool> {
    functions
        .iter()
        .map(|f| {
            let name = f.get("name").and_then(Value::as_str).unwrap_or_default();
            let description = f
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let parameters = f.get("parameters").map_or_else(
                || serde_json::json!({"type": "object", "properties": {}}),
                json_schema,
            );
            Tool::function(api_name(name), description, parameters)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bfcl_types_become_json_schema_types() {
        let bfcl = json!({
            "type": "dict",
            "properties": {
                "x": {"type": "float"},
                "pair": {"type": "tuple", "items": {"type": "integer"}},
                "anything": {"type": "any", "description": "d"},
                "opts": {"type": "dict", "properties": {"k": {"type": "float"}}},
                "list": {"type": "array", "items": {"type": "dict", "properties": {}}}
            },
            "required": ["x"]
        });
        assert_eq!(
            json_schema(&bfcl),
            json!({
                "type": "object",
                "properties": {
                    "x": {"type": "number"},
                    "pair": {"type": "array", "items": {"type": "integer"}},
                    "anything": {"description": "d"},
                    "opts": {"type": "object", "properties": {"k": {"type": "number"}}},
                    "list": {"type": "array", "items": {"type": "object", "properties": {}}}
                },
                "required": ["x"]
            })
        );
    }

    #[test]
    fn dotted_names_are_sent_with_underscores_and_read_back() {
        assert_eq!(api_name("math.factorial"), "math_factorial");
        assert_eq!(api_name("get_weather-v2"), "get_weather-v2");
        let functions = vec![
            json!({"name": "math.factorial"}),
            json!({"name": "math_hypot"}),
        ];
        assert_eq!(
            declared_name("math_factorial", &functions),
            "math.factorial"
        );
        assert_eq!(declared_name("math_hypot", &functions), "math_hypot");
        assert_eq!(declared_name("other", &functions), "other");
        // Two declarations that send the same name: left as called.
        let clash = vec![
            json!({"name": "a.b"}),
            json!({"name": "a-b"}),
            json!({"name": "a/b"}),
        ];
        assert_eq!(declared_name("a_b", &clash), "a_b");
        let tools = request_tools(&functions);
        assert_eq!(tools[0].name, "math_factorial");
        assert_eq!(
            tools[0].parameters,
            json!({"type": "object", "properties": {}})
        );
    }
}

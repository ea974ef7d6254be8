//! JSON answers: finding the JSON in an answer, validity and JSON-Schema conformance.

use serde_json::Value;

/// The JSON value in an answer: the whole answer, the inside of a ```json fence, or the first
/// balanced `{...}` / `[...]` that parses.
pub fn extract(answer: &str) -> Option<Value> {
    let trimmed = answer.trim();
    if let Ok(v) = serde_json::from_str::<Value>(trimmed) {
        return Some(v);
    }
    if let Some(start) = trimmed.find("```") {
        let after = &trimmed[start + 3..];
        let body = after.strip_prefix("json").unwrap_or(after);
        if let Some(end) = body.find("```")
            && let Ok(v) = serde_json::from_str::<Value>(body[..end].trim())
        {
            return Some(v);
        }
    }
    for (i, c) in trimmed.char_indices() {
        if c == '{' || c == '[' {
            let mut stream = serde_json::Deserializer::from_str(&trimmed[i..]).into_iter::<Value>();
            if let Some(Ok(v)) = stream.next() {
                return Some(v);
            }
        }
    }
    None
}

/// 1.0 when the answer holds JSON ([`extract`]), else 0.0.
pub fn json_valid(answer: &str) -> f64 {
    if extract(answer).is_some() { 1.0 } else { 0.0 }
}

/// A compiled JSON Schema.
#[derive(Debug)]
pub struct SchemaScorer {
    validator: jsonschema::Validator,
}

impl SchemaScorer {
    /// Compiles a schema; the error says what is wrong with it.
    pub fn new(schema: &Value) -> Result<Self, String> {
        jsonschema::validator_for(schema)
            .map(|validator| Self { validator })
            .map_err(|e| format!("invalid JSON Schema: {e}"))
    }

    /// 1.0 when the answer holds JSON that conforms, else 0.0, with the first violations.
    pub fn score(&self, answer: &str) -> (f64, Vec<String>) {
        let Some(value) = extract(answer) else {
            return (0.0, vec!["no JSON found in the answer".to_owned()]);
        };
        let errors: Vec<String> = self
            .validator
            .iter_errors(&value)
            .take(3)
            .map(|e| format!("{}: {e}", e.instance_path))
            .collect();
        (if errors.is_empty() { 1.0 } else { 0.0 }, errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_json_however_it_is_wrapped() {
        assert_eq!(extract(r#"{"a": 1}"#), Some(json!({"a": 1})));
        assert_eq!(extract("```json\n{\"a\": 2}\n```"), Some(json!({"a": 2})));
        assert_eq!(
            extract("Sure! Here it is: {\"a\": [1, 2]} Hope it helps."),
            Some(json!({"a": [1, 2]}))
        );
        assert_eq!(extract("no json {here"), None);
        assert_eq!(json_valid("[1, 2]"), 1.0);
        assert_eq!(json_valid("nope"), 0.0);
    }

    #[test]
    fn schema_conformance() {
        let s = SchemaScorer::new(&json!({
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            "required": ["name"]
        }))
        .expect("valid schema");
        assert_eq!(s.score(r#"{"name": "Ada", "age": 36}"#).0, 1.0);
        let (score, errors) = s.score(r#"{"age": "old"}"#);
        assert_eq!(score, 0.0);
        assert!(!errors.is_empty());
        assert_eq!(s.score("not json").0, 0.0);
        assert!(SchemaScorer::new(&json!({"type": 12})).is_err());
    }
}

//! Redaction of what the traffic log keeps: configured request fields are blanked, and text
//! matching configured patterns (card numbers, e-mail addresses, ...) becomes `[redacted]` in
//! logged messages and answers. Clients always get the real answer; only the log is redacted.

use regex::Regex;
use serde_json::Value;

/// What replaces a redacted value.
pub const MASK: &str = "[redacted]";

/// The gateway's redaction rules.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    fields: Vec<String>,
    patterns: Vec<Regex>,
    keep_text: bool,
}

impl Redactor {
    /// Rules from the `[gateway]` table. `keep_text = false` (`log_inputs = false`) drops
    /// messages and answers from the log altogether.
    pub fn new(fields: &[String], patterns: &[String], keep_text: bool) -> Result<Self, String> {
        let patterns = patterns
            .iter()
            .map(|p| Regex::new(p).map_err(|e| format!("redact_patterns: {p}: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            fields: fields.to_vec(),
            patterns,
            keep_text,
        })
    }

    /// Text as logged.
    pub fn text(&self, text: &str) -> String {
        if !self.keep_text {
            return MASK.to_owned();
        }
        let mut out = std::borrow::Cow::Borrowed(text);
        for p in &self.patterns {
            if let std::borrow::Cow::Owned(s) = p.replace_all(&out, MASK) {
                out = std::borrow::Cow::Owned(s);
            }
        }
        out.into_owned()
    }

    /// Request parameters as logged: configured top-level fields replaced by the mask.
    pub fn params(&self, params: &Value) -> Value {
        let mut params = params.clone();
        if let Value::Object(map) = &mut params {
            for f in &self.fields {
                if let Some(v) = map.get_mut(f) {
                    *v = Value::String(MASK.to_owned());
                }
            }
        }
        params
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patterns_and_fields_are_masked() {
        let r = Redactor::new(
            &["user".into(), "metadata".into()],
            &[r"\b\d{13,19}\b".into(), r"[\w.+-]+@[\w-]+\.[\w.]+".into()],
            true,
        )
        .expect("valid patterns");
        assert_eq!(
            r.text("card 4111111111111111, mail ann@example.com, order 12345"),
            "card [redacted], mail [redacted], order 12345"
        );
        assert_eq!(
            r.params(&json!({"user": "ann", "metadata": {"a": 1}, "temperature": 0})),
            json!({"user": MASK, "metadata": MASK, "temperature": 0})
        );
    }

    #[test]
    fn without_inputs_every_text_is_masked() {
        let r = Redactor::new(&[], &[], false).expect("no patterns");
        assert_eq!(r.text("anything"), MASK);
    }

    #[test]
    fn a_bad_pattern_is_named() {
        let e = Redactor::new(&[], &["(".into()], true).expect_err("unclosed group");
        assert!(e.contains("redact_patterns: ("), "{e}");
    }
}

//! Field paths: how a setting names one value inside a record (`userInput.text`,
//! `labels[0].slot`).
//!
//! The grammar is deliberately small: keys joined by `.`, each key optionally followed by `[N]`
//! array indices; a path may also start with an index (`[0].text`). A key is any run of characters
//! other than `.`, `[` and `]`, so a key that itself contains a dot cannot be named. There are no
//! wildcards (`answers[]`) and no quoting.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

/// A parsed field path such as `labels[0].slot`. See the module docs for the grammar.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath {
    segments: Vec<Segment>,
}

/// One step of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Segment {
    /// An object key.
    Key(String),
    /// An array index (0-based).
    Index(usize),
}

/// A string that is not a valid [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{path}` is not a field path: {reason} — write keys joined by dots with [N] indices, \
     e.g. `labels[0].slot`"
)]
pub struct FieldPathError {
    /// The text that was given.
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FieldPath {
    /// Parses `text` (`text`, `userInput.text`, `labels[0].slot`, `[2].id`).
    ///
    /// # Errors
    /// An empty path, an empty key (`a..b`, `a.`), an index that is not a non-negative integer
    /// (`a[x]`, `a[-1]`), an unclosed `[` or a stray `]`.
    pub fn parse(text: &str) -> Result<FieldPath, FieldPathError> {
        let fail = |reason: &str| FieldPathError {
            path: text.to_owned(),
            reason: reason.to_owned(),
        };
        if text.is_empty() {
            return Err(fail("it is empty"));
        }
        let mut segments = Vec::new();
        let mut rest = text;
        let mut first = true;
        loop {
            // One component: a key (optional only at the very start) then any indices.
            let key_end = rest.find(['.', '[', ']']).unwrap_or(rest.len());
            let key = &rest[..key_end];
            if !key.is_empty() {
                segments.push(Segment::Key(key.to_owned()));
            } else if !(first && rest.starts_with('[')) {
                return Err(fail("a key is empty"));
            }
            rest = &rest[key_end..];
            while let Some(after) = rest.strip_prefix('[') {
                let close = after.find(']').ok_or_else(|| fail("a `[` is not closed"))?;
                let digits = &after[..close];
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(fail(&format!("`[{digits}]` is not an index like [0]")));
                }
                let index = digits
                    .parse::<usize>()
                    .map_err(|_| fail(&format!("index {digits} is too large")))?;
                segments.push(Segment::Index(index));
                rest = &after[close + 1..];
            }
            if rest.is_empty() {
                break;
            }
            match rest.strip_prefix('.') {
                Some(after) => rest = after,
                None => return Err(fail("a `]` has no matching `[`")),
            }
            if rest.is_empty() {
                return Err(fail("it ends with a dot"));
            }
            first = false;
        }
        Ok(FieldPath { segments })
    }

    /// The value this path names inside `value`, if every step exists.
    pub fn get<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        self.segments
            .iter()
            .try_fold(value, |current, segment| match segment {
                Segment::Key(key) => current.as_object()?.get(key),
                Segment::Index(index) => current.as_array()?.get(*index),
            })
    }

    /// Applies `step` to each segment in order: `Ok(key)` for a key, `Err(index)` for an index.
    /// Used by readers that walk raw JSON rather than a parsed [`Value`].
    pub(crate) fn steps(&self) -> impl Iterator<Item = Result<&str, usize>> {
        self.segments.iter().map(|segment| match segment {
            Segment::Key(key) => Ok(key.as_str()),
            Segment::Index(index) => Err(*index),
        })
    }
}

impl FromStr for FieldPath {
    type Err = FieldPathError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        FieldPath::parse(text)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_keys_and_indices_and_displays_them_back() {
        for text in [
            "text",
            "userInput.text",
            "labels[0].slot",
            "a[1][2].b",
            "[3].id",
            "a b.c",
        ] {
            let path = FieldPath::parse(text).unwrap();
            assert_eq!(path.to_string(), text);
        }
        let path = FieldPath::parse("labels[10].valueSpan").unwrap();
        assert_eq!(
            path.segments,
            vec![
                Segment::Key("labels".into()),
                Segment::Index(10),
                Segment::Key("valueSpan".into())
            ]
        );
    }

    #[test]
    fn rejects_malformed_paths_with_a_reason() {
        for (text, reason) in [
            ("", "it is empty"),
            ("a..b", "a key is empty"),
            (".a", "a key is empty"),
            ("a.", "it ends with a dot"),
            ("a[x]", "`[x]` is not an index like [0]"),
            ("a[-1]", "`[-1]` is not an index like [0]"),
            ("a[]", "`[]` is not an index like [0]"),
            ("a[1", "a `[` is not closed"),
            ("a]", "a `]` has no matching `[`"),
            ("a[0]b", "a `]` has no matching `[`"),
            ("a.[0]", "a key is empty"),
        ] {
            let err = FieldPath::parse(text).unwrap_err();
            assert_eq!(err.reason, reason, "for {text:?}");
            assert_eq!(err.path, text);
        }
        let message = FieldPath::parse("a..b").unwrap_err().to_string();
        assert!(message.starts_with("`a..b` is not a field path: a key is empty"));
    }

    #[test]
    fn get_walks_objects_and_arrays() {
        let value = json!({
            "userInput": {"text": "13"},
            "labels": [{"slot": "time"}, {"slot": "people"}],
        });
        let get = |text: &str| FieldPath::parse(text).unwrap().get(&value).cloned();
        assert_eq!(get("userInput.text"), Some(json!("13")));
        assert_eq!(get("labels[1].slot"), Some(json!("people")));
        assert_eq!(get("labels[2].slot"), None);
        assert_eq!(get("labels.slot"), None, "a key does not index an array");
        assert_eq!(
            get("userInput[0]"),
            None,
            "an index does not select an object key"
        );
        assert_eq!(get("missing"), None);
        assert_eq!(
            FieldPath::parse("[1]").unwrap().get(&json!([5, 6])),
            Some(&json!(6))
        );
    }
}

//! Calls written as bare JSON, without the `<tool_call>` tags.
//!
//! Small Hermes-style models (Qwen2.5-Coder-0.5B among them) often answer a request they should
//! call a tool for with the call's JSON alone: `{"name": "get_weather", "arguments": {…}}`.
//! llama.cpp's server accepts such untagged calls for these formats, and so does the engine, but
//! only strictly: the answer must *start* with the object (leading whitespace aside), the object
//! must name a declared function and carry an `arguments` (or `parameters`) object, and nothing
//! else. Qwen2.5-Coder also writes such calls inside a markdown fence (```` ```json ````, the
//! objects, ```` ``` ````): a fence around nothing but bare calls is read the same way, its
//! closing fence optional (the lazy grammar, once on, lets the model end its turn but not write
//! the fence). This module has the pieces [`super::output::CallReader`] uses to recognise them:
//! what the held text at the start of an answer (or after bare calls) opens ([`start`]), whether
//! it may still open a call ([`opening`]), where a JSON object ends ([`ObjectEnd`]) and the
//! strict reading of the object ([`parse_bare_call`]).

use rightfit_types::ToolCall;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::grammar::CALL_OPEN;

/// What the key that opens a bare call must be.
const NAME_KEY: &str = "\"name\"";
/// A markdown fence.
pub(crate) const FENCE: &str = "```";
/// The language a fence around bare calls may name.
const FENCE_LANGUAGE: &str = "json";

/// Where bare calls stand with respect to a markdown fence.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fence {
    /// No fence was opened: the calls (if any) are bare.
    #[default]
    None,
    /// The answer opened a fence: calls, then its closing fence (or the end), may follow.
    Open,
    /// The fence closed: only whitespace may follow.
    Closed,
}

/// What the held text at the start of an answer, or after bare calls, opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// More text is needed to tell.
    Wait,
    /// A bare call (if the whole object turns out to be one).
    Object,
    /// A fence, opening or closing, of this many bytes: kept with the calls' text.
    Fence(usize),
    /// `<tool_call>` after bare calls: they are calls.
    Tagged,
    /// Text: the calls read so far, if any, are text too.
    Text,
}

/// What `body` (held text, leading whitespace skipped, not empty) opens, when `pending` bare
/// calls have been read before it and the fence stands at `fence`.
pub(crate) fn start(body: &str, pending: bool, fence: Fence) -> Start {
    if body.starts_with('{') && fence != Fence::Closed {
        return match opening(body) {
            Opening::Yes => Start::Object,
            Opening::Maybe => Start::Wait,
            Opening::No => Start::Text,
        };
    }
    match (fence, pending) {
        // The answer's first text: a fence may open it.
        (Fence::None, false) => fence_opening(body),
        (Fence::None, true) if body.starts_with(CALL_OPEN) => Start::Tagged,
        (Fence::None, true) if CALL_OPEN.starts_with(body) => Start::Wait,
        (Fence::Open, true) if body.starts_with(FENCE) => Start::Fence(FENCE.len()),
        (Fence::Open, true) if FENCE.starts_with(body) => Start::Wait,
        _ => Start::Text,
    }
}

/// Whether `body` opens a fence that may hold bare calls: ```` ``` ````, optionally `json`, then
/// whitespace or `{`.
fn fence_opening(body: &str) -> Start {
    let Some(rest) = body.strip_prefix(FENCE) else {
        return if FENCE.starts_with(body) {
            Start::Wait
        } else {
            Start::Text
        };
    };
    let (len, rest) = match rest.strip_prefix(FENCE_LANGUAGE) {
        Some(after) => (FENCE.len() + FENCE_LANGUAGE.len(), after),
        None if FENCE_LANGUAGE.starts_with(rest) => return Start::Wait,
        None => (FENCE.len(), rest),
    };
    match rest.chars().next() {
        None => Start::Wait,
        Some(c) if c == '{' || c.is_whitespace() => Start::Fence(len),
        Some(_) => Start::Text,
    }
}

/// Whether text may open a bare call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opening {
    /// `{`, JSON whitespace and `"name"`: a bare call, if the whole object turns out to be one.
    Yes,
    /// A proper prefix of that: more text is needed to tell.
    Maybe,
    /// Not a bare call.
    No,
}

/// Whether `text` (which starts with `{`, leading whitespace already skipped) opens a bare call.
pub(crate) fn opening(text: &str) -> Opening {
    let Some(rest) = text.strip_prefix('{') else {
        return Opening::No;
    };
    let rest = rest.trim_start_matches(is_json_space);
    if rest.starts_with(NAME_KEY) {
        Opening::Yes
    } else if NAME_KEY.starts_with(rest) {
        Opening::Maybe
    } else {
        Opening::No
    }
}

fn is_json_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Finds where a JSON object ends, reading its text in pieces: counts braces and brackets
/// outside strings. It only finds the end; whether the object is valid JSON is for the parser.
#[derive(Debug, Default, Clone)]
pub(crate) struct ObjectEnd {
    /// Bytes of the object read so far.
    read: usize,
    depth: u32,
    in_string: bool,
    escaped: bool,
}

impl ObjectEnd {
    /// Reads on in `text`, the object's text from its `{` (the same text as before, grown);
    /// returns the object's length in bytes once it has closed.
    ///
    /// Works on bytes: every byte that matters (`{`, `}`, `[`, `]`, `"`, `\`) is ASCII, and no
    /// byte of a multi-byte UTF-8 character is, so the end found is a character boundary.
    pub(crate) fn scan(&mut self, text: &str) -> Option<usize> {
        let bytes = text.as_bytes();
        while self.read < bytes.len() {
            let b = bytes[self.read];
            self.read += 1;
            if self.in_string {
                match b {
                    _ if self.escaped => self.escaped = false,
                    b'\\' => self.escaped = true,
                    b'"' => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Some(self.read);
                    }
                }
                _ => {}
            }
        }
        None
    }
}

/// A bare call's object: exactly a name and an arguments object.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BareBody<'a> {
    name: String,
    #[serde(borrow, alias = "parameters")]
    arguments: &'a RawValue,
}

/// Reads `object` as a bare call to one of `names`: a JSON object with exactly the keys `name`
/// (a declared function) and `arguments` (or `parameters`, which small models write), whose
/// value is an object. The arguments are kept as written; the id is left empty. Anything else
/// (an undeclared name, another key, arguments that are a string or missing) is not a call.
pub(crate) fn parse_bare_call(object: &str, names: &[String]) -> Option<ToolCall> {
    let body: BareBody<'_> = serde_json::from_str(object).ok()?;
    if !names.contains(&body.name) || !body.arguments.get().starts_with('{') {
        return None;
    }
    Some(ToolCall {
        id: String::new(),
        name: body.name,
        arguments: body.arguments.get().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_opening_is_recognised_as_soon_as_it_can_be_told() {
        assert_eq!(opening("{"), Opening::Maybe);
        assert_eq!(opening("{ \n\t"), Opening::Maybe);
        assert_eq!(opening("{\"na"), Opening::Maybe);
        assert_eq!(opening("{\"name"), Opening::Maybe);
        assert_eq!(opening("{\"name\""), Opening::Yes);
        assert_eq!(opening("{\n  \"name\": 1"), Opening::Yes);
        assert_eq!(opening("{\"names\""), Opening::No);
        assert_eq!(
            opening("{\"arguments\": {}, \"name\": \"add\"}"),
            Opening::No
        );
        assert_eq!(opening("{}"), Opening::No);
        assert_eq!(opening("[1]"), Opening::No);
    }

    #[test]
    fn an_object_ends_at_its_closing_brace_whatever_the_strings_hold() {
        let text = r#"{"a": "}{\"]", "b": [{"c": "\\"}], "d": "é"} tail"#;
        let end = text.find(" tail").expect("tail");
        assert_eq!(ObjectEnd::default().scan(text), Some(end));
        // Read a byte at a time (as a stream would), the end is the same.
        let mut scan = ObjectEnd::default();
        let found = (1..=text.len())
            .filter(|&n| text.is_char_boundary(n))
            .find_map(|n| scan.scan(&text[..n]));
        assert_eq!(found, Some(end));
        assert_eq!(ObjectEnd::default().scan(r#"{"a": {"b": 1}"#), None);
    }

    #[test]
    fn only_an_object_with_a_declared_name_and_arguments_is_a_bare_call() {
        let names = ["get_weather".to_owned()];
        let call = parse_bare_call(
            r#"{"name": "get_weather", "arguments": {"city": "Paris"}}"#,
            &names,
        )
        .expect("call");
        assert_eq!(call.name, "get_weather");
        assert_eq!(call.arguments, r#"{"city": "Paris"}"#);
        let synonym = parse_bare_call(r#"{"name": "get_weather", "parameters": {}}"#, &names);
        assert_eq!(synonym.map(|c| c.arguments).as_deref(), Some("{}"));
        for not_a_call in [
            r#"{"name": "launch", "arguments": {}}"#,
            r#"{"name": "get_weather"}"#,
            r#"{"name": "get_weather", "arguments": "{}"}"#,
            r#"{"name": "get_weather", "arguments": [1]}"#,
            r#"{"name": "get_weather", "arguments": {}, "id": 1}"#,
            r#"{"name": "get_weather", "arguments": {}, "parameters": {}}"#,
            r#"{"name": "get_weather", "name": "get_weather", "arguments": {}}"#,
            r#"{"name": "get_weather", "arguments": {"city": }}"#,
            r#"{"name": 7, "arguments": {}}"#,
        ] {
            assert!(
                parse_bare_call(not_a_call, &names).is_none(),
                "{not_a_call}"
            );
        }
    }
}

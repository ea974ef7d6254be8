//! Reading tool calls out of generated text.
//!
//! [`CallReader`] takes released text in pieces of any size and splits it into plain text and
//! calls (`<tool_call>{"name": …, "arguments": …}</tool_call>`). It holds back text that may be
//! the start of `<tool_call>` and a call until it closes, so the same text split differently
//! gives the same result: a streamed answer and a whole one agree. A call is parsed when it
//! closes (or when generation ends inside it); one that is not valid JSON naming a declared tool
//! is given back as text, markup included, never dropped. Whitespace right after a call is
//! dropped (models put a newline between calls).
//!
//! An answer may also open with calls written as bare JSON objects, without the tags
//! ([`super::bare`]). Such an answer is held back from its `{` until it can be told: the leading
//! objects are calls only if each is exactly a call to a declared function and they are followed
//! by nothing but whitespace or tagged calls; otherwise all of it is released as text, unchanged.
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use rightfit_types::{StreamEvent, ToolCall};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::bare::{ObjectEnd, Opening, opening, parse_bare_call};
use super::grammar::{CALL_CLOSE, CALL_OPEN};

/// A piece of a choice's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Plain text.
    Text(String),
    /// A complete call.
    Call(ToolCall),
}

/// Where a [`CallReader`] is in the answer.
#[derive(Debug)]
enum Phase {
    /// At the start of the answer, or right after leading bare calls: only whitespace is held,
    /// and a bare call (or, after bare calls, a tagged one) may come next.
    Start,
    /// In a bare object, held from its `{` (at `at` in the buffer) until it closes.
    Bare { at: usize, end: ObjectEnd },
    /// Text and tagged calls.
    Text,
}

/// Splits generated text into text and calls; see the module documentation.
#[derive(Debug)]
pub(crate) struct CallReader {
    names: std::sync::Arc<[String]>,
    /// Text not yet released (in a call: the call's body so far).
    buf: String,
    phase: Phase,
    /// Bare calls read at the start of the answer, not yet known to be followed only by calls.
    pending: Vec<ToolCall>,
    /// The text of the pending calls as written, whitespace included: released unchanged if
    /// they turn out not to be calls after all.
    pending_text: String,
    in_call: bool,
    /// A call just closed: leading whitespace is dropped.
    after_call: bool,
    calls: u32,
    /// Calls turned into events so far.
    emitted: u32,
}

impl CallReader {
    /// A reader that accepts calls to the functions `names`.
    pub(crate) fn new(names: std::sync::Arc<[String]>) -> Self {
        Self {
            names,
            buf: String::new(),
            phase: Phase::Start,
            pending: Vec::new(),
            pending_text: String::new(),
            in_call: false,
            after_call: false,
            calls: 0,
            emitted: 0,
        }
    }

    /// [`CallReader::push`] as the events of choice `index`.
    pub(crate) fn push_events(&mut self, index: u32, text: &str) -> Vec<StreamEvent> {
        let pieces = self.push(text);
        self.events(index, pieces)
    }

    /// [`CallReader::finish`] as the events of choice `index`.
    pub(crate) fn finish_events(&mut self, index: u32) -> Vec<StreamEvent> {
        let pieces = self.finish();
        self.events(index, pieces)
    }

    /// Text as deltas; each call as one event with its id, name and whole arguments.
    fn events(&mut self, index: u32, pieces: Vec<Piece>) -> Vec<StreamEvent> {
        pieces
            .into_iter()
            .map(|piece| match piece {
                Piece::Text(text) => StreamEvent::Delta { index, text },
                Piece::Call(call) => {
                    self.emitted += 1;
                    StreamEvent::ToolCall {
                        index,
                        call: self.emitted - 1,
                        id: Some(call.id),
                        name: Some(call.name),
                        arguments: call.arguments,
                    }
                }
            })
            .collect()
    }

    /// Whether a call was read.
    pub(crate) fn made_calls(&self) -> bool {
        self.calls > 0
    }

    /// Adds released text; returns what is now certain.
    pub(crate) fn push(&mut self, text: &str) -> Vec<Piece> {
        self.buf.push_str(text);
        let mut out = Vec::new();
        loop {
            match &mut self.phase {
                Phase::Start => {
                    if !self.read_start(&mut out) {
                        break;
                    }
                }
                Phase::Bare { at, end } => {
                    let at = *at;
                    let Some(len) = end.scan(&self.buf[at..]) else {
                        break;
                    };
                    let object = &self.buf[at..at + len];
                    match parse_bare_call(object, &self.names) {
                        Some(call) => {
                            self.pending.push(call);
                            let read: String = self.buf.drain(..at + len).collect();
                            self.pending_text.push_str(&read);
                            self.phase = Phase::Start;
                        }
                        None => self.release_as_text(&mut out),
                    }
                }
                Phase::Text => {
                    self.read_text(&mut out);
                    break;
                }
            }
        }
        out
    }

    /// At the start (or after bare calls): decides what the held text opens, if it can yet.
    /// Returns whether to read on.
    fn read_start(&mut self, out: &mut Vec<Piece>) -> bool {
        let body = self.buf.trim_start();
        let at = self.buf.len() - body.len();
        if body.is_empty() {
            return false;
        }
        if body.starts_with('{') {
            match opening(body) {
                Opening::Yes => {
                    self.phase = Phase::Bare {
                        at,
                        end: ObjectEnd::default(),
                    };
                    return true;
                }
                Opening::Maybe => return false,
                Opening::No => {}
            }
        } else if !self.pending.is_empty() {
            // After bare calls, a tagged call confirms them; anything else makes them text.
            if body.starts_with(CALL_OPEN) {
                self.confirm_pending(out);
                self.buf.drain(..at);
                self.after_call = true;
                self.phase = Phase::Text;
                return true;
            }
            if CALL_OPEN.starts_with(body) {
                return false;
            }
        }
        self.release_as_text(out);
        true
    }

    /// The held text is not (or no longer) bare calls: releases the pending calls' text and
    /// reads what is held as text.
    fn release_as_text(&mut self, out: &mut Vec<Piece>) {
        let pending = std::mem::take(&mut self.pending_text);
        push_text(out, &pending);
        self.pending.clear();
        self.phase = Phase::Text;
    }

    /// Emits the pending bare calls: they are followed only by calls or whitespace.
    fn confirm_pending(&mut self, out: &mut Vec<Piece>) {
        self.pending_text.clear();
        for mut call in self.pending.drain(..) {
            call.id = new_call_id();
            self.calls += 1;
            out.push(Piece::Call(call));
        }
    }

    /// Text and tagged calls.
    fn read_text(&mut self, out: &mut Vec<Piece>) {
        loop {
            if self.in_call {
                let Some(end) = self.buf.find(CALL_CLOSE) else {
                    break;
                };
                let body: String = self.buf.drain(..end + CALL_CLOSE.len()).collect();
                let body = &body[..end];
                let piece = self
                    .parse(body)
                    .unwrap_or_else(|| Piece::Text(format!("{CALL_OPEN}{body}{CALL_CLOSE}")));
                self.after_call = matches!(piece, Piece::Call(_));
                out.push(piece);
                self.in_call = false;
                continue;
            }
            if self.after_call {
                let trimmed = self.buf.trim_start().len();
                self.buf.drain(..self.buf.len() - trimmed);
                if self.buf.is_empty() {
                    break;
                }
                self.after_call = false;
            }
            if let Some(start) = self.buf.find(CALL_OPEN) {
                let before: String = self.buf.drain(..start + CALL_OPEN.len()).collect();
                push_text(out, &before[..start]);
                self.in_call = true;
                continue;
            }
            let keep = open_prefix_len(&self.buf);
            let release: String = self.buf.drain(..self.buf.len() - keep).collect();
            push_text(out, &release);
            break;
        }
    }

    /// Releases everything held (generation ended). A call still open is read if its body is
    /// already a complete call (the model ended its turn without the closing tag). Bare calls
    /// followed by nothing but whitespace are calls; a bare object still open is text.
    pub(crate) fn finish(&mut self) -> Vec<Piece> {
        let mut out = Vec::new();
        if matches!(self.phase, Phase::Start)
            && !self.pending.is_empty()
            && self.buf.trim().is_empty()
        {
            self.confirm_pending(&mut out);
            self.buf.clear();
            return out;
        }
        if !matches!(self.phase, Phase::Text) {
            self.release_as_text(&mut out);
        }
        let rest = std::mem::take(&mut self.buf);
        if self.in_call {
            self.in_call = false;
            out.push(
                self.parse(&rest)
                    .unwrap_or_else(|| Piece::Text(format!("{CALL_OPEN}{rest}"))),
            );
        } else if !(self.after_call && rest.trim().is_empty()) {
            push_text(&mut out, &rest);
        }
        out
    }

    fn parse(&mut self, body: &str) -> Option<Piece> {
        let mut call = parse_call(body)?;
        if !self.names.contains(&call.name) {
            return None;
        }
        self.calls += 1;
        call.id = new_call_id();
        Some(Piece::Call(call))
    }
}

fn push_text(out: &mut Vec<Piece>, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some(Piece::Text(last)) = out.last_mut() {
        last.push_str(text);
    } else {
        out.push(Piece::Text(text.to_owned()));
    }
}

/// Length of the longest suffix of `text` that is a proper prefix of [`CALL_OPEN`].
fn open_prefix_len(text: &str) -> usize {
    let max = (CALL_OPEN.len() - 1).min(text.len());
    (1..=max)
        .rev()
        .find(|&len| {
            let start = text.len() - len;
            text.is_char_boundary(start) && CALL_OPEN.starts_with(&text[start..])
        })
        .unwrap_or(0)
}

#[derive(Deserialize)]
struct Body<'a> {
    name: String,
    #[serde(borrow, alias = "parameters", default)]
    arguments: Option<&'a RawValue>,
}

/// Reads a call's JSON body: `{"name": "f", "arguments": {…}}` (`parameters` is accepted for
/// `arguments`; arguments written as a JSON string are unwrapped). The id is left empty.
pub(crate) fn parse_call(body: &str) -> Option<ToolCall> {
    let parsed: Body<'_> = serde_json::from_str(body.trim()).ok()?;
    let arguments = match parsed.arguments {
        None => "{}".to_owned(),
        Some(raw) => match serde_json::from_str::<String>(raw.get()) {
            Ok(inner) => inner,
            Err(_) => raw.get().to_owned(),
        },
    };
    Some(ToolCall {
        id: String::new(),
        name: parsed.name,
        arguments,
    })
}

/// A call id unique within this process (`call_` and 16 hex digits): a counter hashed with a
/// key chosen at random when the process starts, so ids do not repeat across restarts either.
pub(crate) fn new_call_id() -> String {
    static KEY: OnceLock<RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "call_{:016x}",
        KEY.get_or_init(RandomState::new).hash_one(n)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader() -> CallReader {
        CallReader::new(vec!["get_weather".to_owned(), "add".to_owned()].into())
    }

    /// Feeds `pieces`, then finishes; returns the pieces with call ids blanked.
    fn read(pieces: &[&str]) -> Vec<Piece> {
        let mut r = reader();
        let mut out = Vec::new();
        for p in pieces {
            out.extend(r.push(p));
        }
        out.extend(r.finish());
        let mut merged: Vec<Piece> = Vec::new();
        for p in out {
            match p {
                Piece::Text(t) => push_text(&mut merged, &t),
                Piece::Call(mut c) => {
                    assert!(c.id.starts_with("call_"), "{c:?}");
                    c.id.clear();
                    merged.push(Piece::Call(c));
                }
            }
        }
        merged
    }

    fn call(name: &str, arguments: &str) -> Piece {
        Piece::Call(ToolCall {
            id: String::new(),
            name: name.to_owned(),
            arguments: arguments.to_owned(),
        })
    }

    const ANSWER: &str = "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}\n</tool_call>";

    #[test]
    fn calls_are_split_from_text_with_their_arguments_as_written() {
        assert_eq!(
            read(&[ANSWER]),
            vec![
                Piece::Text("Let me check.\n".into()),
                call("get_weather", r#"{"city": "Paris"}"#),
                call("add", r#"{"a": 1, "b": 2}"#),
            ]
        );
    }

    #[test]
    fn any_split_of_the_text_reads_the_same() {
        let whole = read(&[ANSWER]);
        let chars: Vec<String> = ANSWER.chars().map(String::from).collect();
        let refs: Vec<&str> = chars.iter().map(String::as_str).collect();
        assert_eq!(read(&refs), whole);
        for size in [2, 3, 5, 7, 11] {
            let chunks: Vec<String> = chars.chunks(size).map(|c| c.concat()).collect();
            let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
            assert_eq!(read(&refs), whole, "chunks of {size}");
        }
    }

    #[test]
    fn text_that_may_open_a_call_is_held_back_until_it_cannot() {
        let mut r = reader();
        assert_eq!(r.push("It is <tool"), vec![Piece::Text("It is ".into())]);
        assert_eq!(r.push("s> here"), vec![Piece::Text("<tools> here".into())]);
        assert!(!r.made_calls());
    }

    #[test]
    fn malformed_and_unterminated_calls_come_back_as_text() {
        let broken =
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": }\n</tool_call>";
        assert_eq!(read(&[broken]), vec![Piece::Text(broken.into())]);
        let unknown = "<tool_call>{\"name\": \"launch\", \"arguments\": {}}</tool_call>";
        assert_eq!(read(&[unknown]), vec![Piece::Text(unknown.into())]);
        let cut = "Sure <tool_call>\n{\"name\": \"get_weather\", \"argu";
        assert_eq!(read(&[cut]), vec![Piece::Text(cut.into())]);
        assert_eq!(
            read(&["<tool_call>"]),
            vec![Piece::Text("<tool_call>".into())]
        );
        assert_eq!(
            read(&["a </tool_call> b"]),
            vec![Piece::Text("a </tool_call> b".into())]
        );
    }

    #[test]
    fn a_complete_call_without_its_closing_tag_is_still_read() {
        let open = "<tool_call>\n{\"name\": \"add\", \"parameters\": {\"a\": 1}}\n";
        assert_eq!(read(&[open]), vec![call("add", r#"{"a": 1}"#)]);
    }

    #[test]
    fn string_encoded_arguments_are_unwrapped_and_missing_ones_are_empty() {
        let c = parse_call(r#"{"name": "f", "arguments": "{\"x\": 1}"}"#).expect("call");
        assert_eq!(c.arguments, r#"{"x": 1}"#);
        let c = parse_call(r#"{"name": "f"}"#).expect("call");
        assert_eq!(c.arguments, "{}");
        assert!(parse_call("[1, 2]").is_none());
        assert!(parse_call("").is_none());
    }

    #[test]
    fn text_after_a_call_is_kept_without_its_leading_whitespace() {
        let text = "<tool_call>{\"name\": \"add\", \"arguments\": {}}</tool_call>\n\n  Done.";
        assert_eq!(
            read(&[text]),
            vec![call("add", "{}"), Piece::Text("Done.".into())]
        );
    }

    /// Reads `text` whole, a character at a time, and cut in two at every character boundary;
    /// asserts all agree and returns the reading.
    fn read_every_split(text: &str) -> Vec<Piece> {
        let whole = read(&[text]);
        let chars: Vec<String> = text.chars().map(String::from).collect();
        let refs: Vec<&str> = chars.iter().map(String::as_str).collect();
        assert_eq!(read(&refs), whole, "a character at a time: {text:?}");
        for cut in (1..text.len()).filter(|&i| text.is_char_boundary(i)) {
            let (a, b) = text.split_at(cut);
            assert_eq!(read(&[a, b]), whole, "cut at {cut}: {text:?}");
        }
        whole
    }

    const BARE: &str =
        r#"{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}"#;

    #[test]
    fn a_bare_call_is_read_whole_and_split_anywhere() {
        let weather = || call("get_weather", r#"{"city": "Paris", "unit": "celsius"}"#);
        assert_eq!(read_every_split(BARE), vec![weather()]);
        assert_eq!(read_every_split(&format!("\n {BARE}\n")), vec![weather()]);
        let synonym = r#"{"name": "add", "parameters": {"a": 1}}"#;
        assert_eq!(read_every_split(synonym), vec![call("add", r#"{"a": 1}"#)]);
        let two = format!("{BARE}\n{{\"name\": \"add\", \"arguments\": {{}}}}");
        assert_eq!(read_every_split(&two), vec![weather(), call("add", "{}")]);
        let then_tagged = format!(
            "{BARE}\n<tool_call>\n{{\"name\": \"add\", \"arguments\": {{}}}}\n</tool_call>\n"
        );
        assert_eq!(
            read_every_split(&then_tagged),
            vec![weather(), call("add", "{}")]
        );
    }

    #[test]
    fn what_is_not_exactly_bare_calls_comes_back_as_text_unchanged() {
        for text in [
            // Undeclared, malformed, not an object, extra keys, string arguments.
            r#"{"name": "launch", "arguments": {}}"#,
            r#"{"name": "get_weather", "arguments": {"city": }}"#,
            r#"{"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}"#,
            r#"{"name": "get_weather", "arguments": {}, "id": 3}"#,
            r#"{"name": "get_weather"}"#,
            r#"{"names": ["a", "b"]}"#,
            r#"{"city": "Paris"}"#,
            "{",
            "{\"na",
            "[1, 2]",
            // Cut off before the object closes.
            r#"{"name": "get_weather", "arguments": {"city": "Par"#,
            // Text before the object: a bare call only opens an answer.
            &format!("Here it is: {BARE}"),
            // Text after it, or after a second object that is not a call.
            &format!("{BARE}\nThis gets the weather."),
            &format!("{BARE}\n{{\"city\": \"Paris\"}}"),
            &format!("{BARE} <tools>"),
            // A tagged call first: later bare objects are text.
            &format!("<tool_call>\n{BARE}\n</tool_call>\n{BARE}"),
        ] {
            let pieces = read_every_split(text);
            let text_back: String = pieces
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => t.as_str(),
                    Piece::Call(_) => "",
                })
                .collect();
            if text.starts_with("<tool_call>") {
                assert_eq!(pieces.len(), 2, "{text}: {pieces:?}");
                assert_eq!(text_back, BARE, "{text}");
            } else {
                assert_eq!(pieces, vec![Piece::Text(text.to_owned())], "{text}");
            }
        }
    }

    #[test]
    fn a_bare_call_is_held_until_it_is_known_and_other_json_is_not() {
        let mut r = reader();
        assert_eq!(r.push("  {\"na"), vec![]);
        assert_eq!(r.push("me\": \"add\", \"arguments\": {}}"), vec![]);
        assert!(!r.made_calls(), "not yet known to be a call");
        assert_eq!(r.push("\n"), vec![]);
        let done = r.finish();
        assert!(
            matches!(&done[..], [Piece::Call(c)] if c.name == "add"),
            "{done:?}"
        );
        assert!(r.made_calls());

        let mut r = reader();
        assert_eq!(r.push("{\"na"), vec![]);
        assert_eq!(
            r.push("mes\": [1"),
            vec![Piece::Text("{\"names\": [1".into())]
        );
        assert_eq!(r.push("]}"), vec![Piece::Text("]}".into())]);
        let mut r = reader();
        assert_eq!(r.push("{\"c"), vec![Piece::Text("{\"c".into())]);
        let mut r = reader();
        assert_eq!(r.push("\nHi"), vec![Piece::Text("\nHi".into())]);
    }

    #[test]
    fn call_ids_are_unique() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_call_id()).collect();
        assert_eq!(ids.len(), 1000);
    }
}

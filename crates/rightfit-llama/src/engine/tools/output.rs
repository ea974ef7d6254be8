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
//! Bare calls inside a markdown fence that opens the answer are read the same way (the closing
//! fence is optional, and only whitespace may follow it).
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use rightfit_types::{StreamEvent, ToolCall};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::bare::{Fence, ObjectEnd, Start, parse_bare_call, start};
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
    /// Whether the pending calls are inside a markdown fence.
    fence: Fence,
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
            fence: Fence::None,
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
        match start(body, !self.pending.is_empty(), self.fence) {
            Start::Wait => return false,
            Start::Object => {
                self.phase = Phase::Bare {
                    at,
                    end: ObjectEnd::default(),
                };
            }
            Start::Fence(len) => {
                let read: String = self.buf.drain(..at + len).collect();
                self.pending_text.push_str(&read);
                self.fence = match self.fence {
                    Fence::None => Fence::Open,
                    Fence::Open | Fence::Closed => Fence::Closed,
                };
            }
            Start::Tagged => {
                self.confirm_pending(out);
                self.buf.drain(..at);
                self.after_call = true;
                self.phase = Phase::Text;
            }
            Start::Text => self.release_as_text(out),
        }
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
mod tests;

//! A component's traffic as a dataset `rightfit eval` reads: one row per answered primary
//! request, with the reference taken from the answer of a chosen candidate. A request that used
//! tools (offered functions, tool turns, or calls in an answer) becomes a row the `tool_call`
//! contract reads directly ([`tools`]).

mod tools;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use rightfit_store::{StoreError, TrafficStore};
use rightfit_types::{TrafficFilter, TrafficRecord};
use serde::Serialize;
use serde_json::Value;

use self::tools::ToolRow;

/// Which traffic to export.
#[derive(Debug, Clone, Default)]
pub struct TrafficQuery {
    pub component: String,
    /// The candidate whose answers are the references (default: each request's own answer).
    pub reference_from: Option<String>,
    /// Only requests at or after this RFC 3339 time.
    pub since: Option<String>,
    /// At most this many rows (the oldest).
    pub limit: Option<usize>,
}

/// The rows of the component's answered primary requests (oldest first), with the shadows of
/// `reference_from` read too when it is given.
pub async fn from_traffic(
    store: &dyn TrafficStore,
    query: &TrafficQuery,
) -> Result<(Vec<ExportRow>, Skipped), StoreError> {
    let reference_from = query.reference_from.as_deref();
    let selected = |role: &str| TrafficFilter {
        component: Some(query.component.clone()),
        role: Some(role.to_owned()),
        since: query.since.clone(),
        ok_only: true,
        ..TrafficFilter::default()
    };
    let primaries = store
        .traffic(&TrafficFilter {
            // With every row kept, the limit can go to the store.
            limit: query.limit.filter(|_| reference_from.is_none()),
            ..selected("primary")
        })
        .await?;
    let shadows = match reference_from {
        Some(candidate) => {
            store
                .traffic(&TrafficFilter {
                    candidate: Some(candidate.to_owned()),
                    ..selected("shadow")
                })
                .await?
        }
        None => Vec::new(),
    };
    let (mut rows, skipped) = export_rows(&primaries, &shadows, reference_from);
    if let Some(limit) = query.limit {
        rows.truncate(limit);
    }
    Ok((rows, skipped))
}

/// Writes rows as JSON lines, or as CSV with a header (`messages` as JSON text).
pub fn write_rows(out: &mut dyn Write, rows: &[ExportRow], csv: bool) -> std::io::Result<()> {
    if !csv {
        for r in rows {
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        }
        return out.flush();
    }
    // A `tools` column only when a row used tools, so plain exports keep their columns.
    let with_tools = rows.iter().any(|r| r.tools.is_some());
    let mut w = csv::Writer::from_writer(&mut *out);
    let mut header = vec![
        "id",
        "at",
        "component",
        "candidate",
        "system",
        "input",
        "messages",
        "output",
        "reference",
    ];
    if with_tools {
        header.push("tools");
    }
    w.write_record(&header)?;
    for r in rows {
        let reference = r.reference_calls.as_ref().map(Value::to_string);
        let mut record = vec![
            r.id.clone(),
            r.at.clone(),
            r.component.clone(),
            r.candidate.clone(),
            r.system.clone(),
            r.input.clone(),
            r.messages.to_string(),
            r.output.clone(),
            reference.unwrap_or_else(|| r.reference.clone()),
        ];
        if with_tools {
            record.push(r.tools.as_ref().map(Value::to_string).unwrap_or_default());
        }
        w.write_record(&record)?;
    }
    w.flush()?;
    drop(w);
    out.flush()
}

/// What an export wrote and what it left out, in a line.
pub fn describe_export(
    query: &TrafficQuery,
    written: usize,
    skipped: Skipped,
    output: Option<&Path>,
) -> String {
    let component = &query.component;
    let mut message = format!("exported {written} requests of component '{component}'");
    if let Some(path) = output {
        message.push_str(&format!(" to {}", path.display()));
    }
    if skipped.total() > 0 {
        let mut reasons = Vec::new();
        if skipped.no_reference > 0 {
            reasons.push(format!(
                "{} without an answer by {}",
                skipped.no_reference,
                query
                    .reference_from
                    .as_deref()
                    .unwrap_or("the reference candidate")
            ));
        }
        if skipped.no_input > 0 {
            reasons.push(format!("{} without a user message", skipped.no_input));
        }
        if skipped.no_output > 0 {
            reasons.push(format!("{} without a logged answer", skipped.no_output));
        }
        message.push_str(&format!(
            "; skipped {}: {}",
            skipped.total(),
            reasons.join(", ")
        ));
    }
    message
}

/// One row of the exported dataset.
///
/// Serialised as `{"id", "at", "component", "candidate", "system", "input", "messages",
/// "output", "reference"}`; a row of a request that used tools adds `"tools"` and its
/// `"reference"` is [`ExportRow::reference_calls`] (a list), not the text.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRow {
    /// The primary record's id.
    pub id: String,
    /// When the request arrived.
    pub at: String,
    pub component: String,
    /// The candidate that answered the client.
    pub candidate: String,
    /// The system messages' text, joined by a blank line; `""` when there were none (so that
    /// `system = "{{ system }}"` renders under strict undefined).
    pub system: String,
    /// The last user message's text.
    pub input: String,
    /// The conversation as sent: `[{"role", "content"}, ...]`, with `tool_calls` on assistant
    /// turns and `tool_call_id` on tool turns (rightfit's message shape).
    pub messages: Value,
    /// The answer the client got: its text, or its calls as canonical JSON text (as evaluation
    /// records carry answers: [`crate::tool_call::calls_text`]).
    pub output: String,
    /// The reference candidate's answer to the same request (text or canonical calls, as
    /// `output`).
    pub reference: String,
    /// For a request that used tools: the functions offered (`{name, description, parameters}`;
    /// `[]` when none were offered); `None` for a plain request.
    pub tools: Option<Value>,
    /// For a request that used tools: the reference candidate's calls as plain `{name,
    /// arguments}` objects (arguments parsed; kept as text when not JSON), `[]` when it answered
    /// in text; `None` for a plain request.
    pub reference_calls: Option<Value>,
}

/// The row as written: the calls replace the text reference when the request used tools.
#[derive(Serialize)]
struct WireRow<'a> {
    id: &'a str,
    at: &'a str,
    component: &'a str,
    candidate: &'a str,
    system: &'a str,
    input: &'a str,
    messages: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<&'a Value>,
    output: &'a str,
    reference: WireReference<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum WireReference<'a> {
    Text(&'a str),
    Calls(&'a Value),
}

impl Serialize for ExportRow {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireRow {
            id: &self.id,
            at: &self.at,
            component: &self.component,
            candidate: &self.candidate,
            system: &self.system,
            input: &self.input,
            messages: &self.messages,
            tools: self.tools.as_ref(),
            output: &self.output,
            reference: match &self.reference_calls {
                Some(calls) => WireReference::Calls(calls),
                None => WireReference::Text(&self.reference),
            },
        }
        .serialize(serializer)
    }
}

/// Why primary requests were left out of an export.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    /// No answer by the reference candidate (neither it served the request nor a shadow of it
    /// answered).
    pub no_reference: u64,
    /// No user message with text in the logged input (or inputs were not logged).
    pub no_input: u64,
    /// Answered without an error but with no text logged.
    pub no_output: u64,
}

impl Skipped {
    /// How many in all.
    pub fn total(&self) -> u64 {
        self.no_reference + self.no_input + self.no_output
    }
}

/// The rows for `primaries` (answered primary records, in the order to write them), with each
/// reference from `reference_from`'s answer (the primary's own when it is `None` or it served
/// the request, else one of `shadows` with the primary as parent; the first one that answered).
pub fn export_rows(
    primaries: &[TrafficRecord],
    shadows: &[TrafficRecord],
    reference_from: Option<&str>,
) -> (Vec<ExportRow>, Skipped) {
    let mut by_parent: HashMap<&str, &TrafficRecord> = HashMap::new();
    for s in shadows {
        let answered = s.error.is_none() && s.role == "shadow";
        if let (true, Some(parent), Some(_)) = (answered, &s.parent, &s.output)
            && reference_from.is_none_or(|c| c == s.candidate)
        {
            by_parent.entry(parent.as_str()).or_insert(s);
        }
    }
    let mut rows = Vec::new();
    let mut skipped = Skipped::default();
    for p in primaries {
        let Some(output) = tools::answer_text(p) else {
            skipped.no_output += 1;
            continue;
        };
        let answered_by = match reference_from {
            Some(c) if c != p.candidate => match by_parent.get(p.id.as_str()) {
                Some(shadow) => *shadow,
                None => {
                    skipped.no_reference += 1;
                    continue;
                }
            },
            _ => p,
        };
        let reference = tools::answer_text(answered_by).unwrap_or_default();
        let messages = p.input.get("messages").cloned().unwrap_or(Value::Null);
        let list = messages.as_array().map(Vec::as_slice).unwrap_or_default();
        let Some(input) = list
            .iter()
            .rev()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
            .and_then(|m| text_of(m.get("content")?))
        else {
            skipped.no_input += 1;
            continue;
        };
        let system = list
            .iter()
            .filter(|m| {
                matches!(
                    m.get("role").and_then(Value::as_str),
                    Some("system" | "developer")
                )
            })
            .filter_map(|m| text_of(m.get("content")?))
            .collect::<Vec<_>>()
            .join("\n\n");
        let tool_row = ToolRow::of(p, answered_by);
        rows.push(ExportRow {
            id: p.id.clone(),
            at: p.at.clone(),
            component: p.component.clone().unwrap_or_default(),
            candidate: p.candidate.clone(),
            system,
            input,
            messages,
            output,
            reference,
            tools: tool_row.as_ref().map(|t| t.tools.clone()),
            reference_calls: tool_row.map(|t| t.calls),
        });
    }
    (rows, skipped)
}

/// A message's text: a string, or the text parts of a list of parts (OpenAI's and Anthropic's
/// `[{"type": "text", "text": ...}]`) joined by newlines; `None` when it has no text.
fn text_of(content: &Value) -> Option<String> {
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            (!texts.is_empty()).then(|| texts.join("\n"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn primary(id: &str, candidate: &str, messages: Value, output: &str) -> TrafficRecord {
        TrafficRecord {
            id: id.to_owned(),
            at: "2026-11-30T03:42:07.123Z".to_owned(),
            api: "openai".to_owned(),
            key_id: None,
            component: Some("intent".to_owned()),
            requested: "intent".to_owned(),
            route: "split".to_owned(),
            candidate: candidate.to_owned(),
            role: "primary".to_owned(),
            parent: None,
            input: json!({"messages": messages, "params": {"temperature": 0}}),
            output: Some(output.to_owned()),
            tool_calls: Vec::new(),
            finish_reason: Some("stop".to_owned()),
            stream: false,
            status: 200,
            error: None,
            latency_ms: 10.0,
            ttft_ms: None,
            tokens_in: 1,
            tokens_out: 1,
            cost_usd: None,
            escalated: false,
            confidence: None,
            score: None,
            steps: Vec::new(),
        }
    }

    fn shadow_of(p: &TrafficRecord, candidate: &str, output: &str) -> TrafficRecord {
        TrafficRecord {
            id: format!("{}-shadow-1", p.id),
            role: "shadow".to_owned(),
            route: "shadow".to_owned(),
            parent: Some(p.id.clone()),
            candidate: candidate.to_owned(),
            output: Some(output.to_owned()),
            ..p.clone()
        }
    }

    fn chat() -> Value {
        json!([
            {"role": "system", "content": "Classify."},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "x"},
            {"role": "user", "content": [{"type": "text", "text": "wake me"}, {"type": "text", "text": "at 7"}]},
        ])
    }

    #[test]
    fn a_row_has_the_system_the_last_user_text_and_the_whole_conversation() {
        let p = primary("req_1", "big", chat(), "set_alarm");
        let (rows, skipped) = export_rows(std::slice::from_ref(&p), &[], None);
        assert_eq!(skipped, Skipped::default());
        assert_eq!(
            rows,
            [ExportRow {
                id: "req_1".into(),
                at: "2026-11-30T03:42:07.123Z".into(),
                component: "intent".into(),
                candidate: "big".into(),
                system: "Classify.".into(),
                input: "wake me\nat 7".into(),
                messages: chat(),
                output: "set_alarm".into(),
                reference: "set_alarm".into(),
                tools: None,
                reference_calls: None,
            }]
        );
    }

    #[test]
    fn without_a_system_message_the_system_is_empty_text() {
        let p = primary(
            "req_1",
            "big",
            json!([{"role": "user", "content": "hi"}]),
            "yo",
        );
        let (rows, _) = export_rows(&[p], &[], None);
        assert_eq!(rows[0].system, "");
        assert_eq!(rows[0].input, "hi");
    }

    #[test]
    fn references_come_from_the_chosen_candidate_or_the_row_is_skipped() {
        let served_by_big = primary("req_1", "big", chat(), "set_alarm");
        let served_by_small = primary("req_2", "small", chat(), "set_timer");
        let not_shadowed = primary("req_3", "small", chat(), "play_music");
        let shadow_failed = primary("req_4", "small", chat(), "weather");
        let mut failed = shadow_of(&shadow_failed, "big", "ignored");
        failed.error = Some("timeout".into());
        failed.output = None;
        let shadows = [
            shadow_of(&served_by_small, "other", "not this one"),
            shadow_of(&served_by_small, "big", "set_alarm"),
            failed,
        ];
        let primaries = [served_by_big, served_by_small, not_shadowed, shadow_failed];
        let (rows, skipped) = export_rows(&primaries, &shadows, Some("big"));
        let got: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r.id.as_str(), r.output.as_str(), r.reference.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("req_1", "set_alarm", "set_alarm"),
                ("req_2", "set_timer", "set_alarm")
            ]
        );
        assert_eq!(
            skipped,
            Skipped {
                no_reference: 2,
                ..Skipped::default()
            }
        );
        assert_eq!(skipped.total(), 2);
    }

    #[test]
    fn inputs_without_user_text_or_answers_without_text_are_skipped() {
        let no_user = primary("a", "big", json!([{"role": "system", "content": "s"}]), "x");
        let not_logged = TrafficRecord {
            input: Value::Null,
            ..primary("b", "big", chat(), "x")
        };
        let image_only = primary(
            "c",
            "big",
            json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u"}}]}]),
            "x",
        );
        let no_output = TrafficRecord {
            output: None,
            ..primary("d", "big", chat(), "x")
        };
        let (rows, skipped) = export_rows(&[no_user, not_logged, image_only, no_output], &[], None);
        assert!(rows.is_empty());
        assert_eq!(
            skipped,
            Skipped {
                no_reference: 0,
                no_input: 3,
                no_output: 1
            }
        );
    }
}

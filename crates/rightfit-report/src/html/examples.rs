//! The per-example table: one row per example (id, input, reference), one column per candidate
//! (its output, score and outcome, coloured), and the filters above it.
//!
//! Each row carries what `report.js` filters on, so the script only toggles `hidden`:
//! `data-s` is the outcome of each candidate column in order ([`Outcome::code`]), `data-d` is
//! `1` when the candidates do not all score the same ([`disagree`]). Filters: a text search, a
//! candidate, and what to show — every example, those where the candidate (any candidate, with
//! none selected) is not right (wrong, partial, unparseable or failed), those where it failed,
//! or those where the candidates score differently.

use std::collections::{BTreeSet, HashMap};

use rightfit_types::ExampleRecord;
use serde_json::Value;

use super::escape::{cap, esc, esc_capped};
use crate::fmt::{ms, usd};
use crate::table::RunReport;

/// Characters of an output, input, reference or error shown before the rest is cut.
pub(super) const MAX_TEXT: usize = 2000;
/// Characters of the input shown in a row before it is expanded.
const PREVIEW: usize = 160;

/// What happened to one example for one candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Scored 1 (or more).
    Right,
    /// Scored between 0 and 1.
    Partial,
    /// Scored 0 (or less).
    Wrong,
    /// The output could not be parsed (scored 0).
    Unparseable,
    /// The request or the scorer failed.
    Failed,
    /// Neither failed nor scored.
    Unscored,
    /// The candidate has no record for the example.
    Missing,
}

impl Outcome {
    /// The outcome of a record: a failure first, then unparseable, then by score.
    pub(crate) fn of(e: Option<&ExampleRecord>) -> Self {
        let Some(e) = e else {
            return Outcome::Missing;
        };
        if e.error.is_some() {
            Outcome::Failed
        } else if e.unparseable {
            Outcome::Unparseable
        } else {
            match e.score {
                Some(s) if s >= 1.0 => Outcome::Right,
                Some(s) if s > 0.0 => Outcome::Partial,
                Some(_) => Outcome::Wrong,
                None => Outcome::Unscored,
            }
        }
    }

    /// The one-letter code in `data-s`.
    pub(crate) fn code(self) -> char {
        match self {
            Outcome::Right => 'r',
            Outcome::Partial => 'p',
            Outcome::Wrong => 'w',
            Outcome::Unparseable => 'u',
            Outcome::Failed => 'f',
            Outcome::Unscored => 'n',
            Outcome::Missing => '-',
        }
    }

    fn word(self) -> &'static str {
        match self {
            Outcome::Right => "right",
            Outcome::Partial => "partial",
            Outcome::Wrong => "wrong",
            Outcome::Unparseable => "unparseable",
            Outcome::Failed => "failed",
            Outcome::Unscored => "not scored",
            Outcome::Missing => "no record",
        }
    }
}

/// Whether the candidates that have a record for an example do not all score the same: a
/// failure, an unparseable output and each score (to 4 decimals) are different outcomes.
pub(crate) fn disagree(cells: &[Option<&ExampleRecord>]) -> bool {
    let keys: BTreeSet<String> = cells
        .iter()
        .flatten()
        .map(|e| match Outcome::of(Some(e)) {
            Outcome::Failed => "f".to_owned(),
            Outcome::Unparseable => "u".to_owned(),
            _ => e.score.map_or("n".to_owned(), |s| format!("{s:.4}")),
        })
        .collect();
    keys.len() > 1
}

/// The candidates in report order, then any that only the records name, by name.
pub(super) fn candidate_order(r: &RunReport, records: &[ExampleRecord]) -> Vec<String> {
    let mut names: Vec<String> = r.candidates.iter().map(|s| s.candidate.clone()).collect();
    let extra: BTreeSet<&str> = records
        .iter()
        .map(|e| e.candidate.as_str())
        .filter(|c| !names.iter().any(|n| n == c))
        .collect();
    names.extend(extra.into_iter().map(str::to_owned));
    names
}

/// One example: its id, where it came in the run, and each candidate's record.
struct Row<'a> {
    id: &'a str,
    position: u64,
    cells: Vec<Option<&'a ExampleRecord>>,
}

/// The examples in run order (position, then id), each with one cell per candidate.
fn group<'a>(names: &[String], records: &'a [ExampleRecord]) -> Vec<Row<'a>> {
    let column: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut rows: Vec<Row<'a>> = Vec::new();
    for e in records {
        let Some(&c) = column.get(e.candidate.as_str()) else {
            continue;
        };
        let i = *index.entry(e.example_id.as_str()).or_insert_with(|| {
            rows.push(Row {
                id: &e.example_id,
                position: e.position,
                cells: vec![None; names.len()],
            });
            rows.len() - 1
        });
        let row = &mut rows[i];
        row.position = row.position.min(e.position);
        // A repeated record (should not happen) keeps the first.
        if row.cells[c].is_none() {
            row.cells[c] = Some(e);
        }
    }
    rows.sort_by(|a, b| a.position.cmp(&b.position).then(a.id.cmp(b.id)));
    rows
}

/// The filters and the table for one section.
pub(super) fn table(out: &mut String, section: usize, r: &RunReport, records: &[ExampleRecord]) {
    if records.is_empty() {
        out.push_str(
            "<p class=\"note\">No example records were kept for this run, so there is no \
             per-example table.</p>\n",
        );
        return;
    }
    let names = candidate_order(r, records);
    let rows = group(&names, records);

    out.push_str(&format!(
        "<div class=\"filters\" id=\"filters-{section}\">\n\
         <label>Search <input type=\"search\" class=\"f-q\" placeholder=\"id, input, reference \
         or output\"></label>\n<label>Candidate <select class=\"f-cand\">\
         <option value=\"\">all candidates</option>"
    ));
    for n in &names {
        out.push_str(&format!("<option value=\"{0}\">{0}</option>", esc(n)));
    }
    out.push_str(
        "</select></label>\n<label>Show <select class=\"f-only\">\
         <option value=\"all\">every example</option>\
         <option value=\"wrong\">where it is not right</option>\
         <option value=\"failed\">where it failed</option>\
         <option value=\"disagree\">where candidates score differently</option>\
         </select></label>\n",
    );
    out.push_str(&format!(
        "<output class=\"f-count\" data-shown=\"{0}\">{0} of {0} examples shown</output>\n</div>\n",
        rows.len()
    ));
    out.push_str(
        "<p class=\"legend\"><span class=\"st-r\">right</span> <span class=\"st-p\">partial\
         </span> <span class=\"st-w\">wrong</span> <span class=\"st-u\">unparseable</span> \
         <span class=\"st-f\">failed</span> — “not right” is any of the last four; with no \
         candidate selected, a filter matches when any candidate matches.</p>\n",
    );

    out.push_str("<div class=\"scroll\"><table class=\"examples\">\n<thead><tr>");
    out.push_str("<th>example</th><th>input</th><th>reference</th>");
    for (c, n) in names.iter().enumerate() {
        out.push_str(&format!(
            "<th class=\"cand\">{}<br><small>{}</small></th>",
            esc(n),
            tally(rows.iter().map(|row| Outcome::of(row.cells[c])))
        ));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &rows {
        let codes: Vec<String> = row
            .cells
            .iter()
            .map(|e| Outcome::of(*e).code().to_string())
            .collect();
        out.push_str(&format!(
            "<tr class=\"ex\" data-id=\"{}\" data-s=\"{}\" data-d=\"{}\">",
            esc(row.id),
            codes.join(" "),
            u8::from(disagree(&row.cells))
        ));
        out.push_str(&format!("<td class=\"id\">{}</td>", esc(row.id)));
        let input = row
            .cells
            .iter()
            .flatten()
            .map(|e| &e.input)
            .find(|v| !v.is_null());
        out.push_str(&format!("<td class=\"input\">{}</td>", input_cell(input)));
        let reference = row.cells.iter().flatten().map(|e| &e.reference).next();
        out.push_str(&format!(
            "<td class=\"ref\">{}</td>",
            reference.map_or(String::new(), |v| esc_capped(&plain(v), MAX_TEXT))
        ));
        for cell in &row.cells {
            candidate_cell(out, *cell);
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

/// "38 right · 8 wrong · …" for a candidate's column head.
fn tally(outcomes: impl Iterator<Item = Outcome>) -> String {
    let order = [
        Outcome::Right,
        Outcome::Partial,
        Outcome::Wrong,
        Outcome::Unparseable,
        Outcome::Failed,
        Outcome::Unscored,
        Outcome::Missing,
    ];
    let all: Vec<Outcome> = outcomes.collect();
    order
        .iter()
        .filter_map(|&o| {
            let n = all.iter().filter(|&&x| x == o).count();
            (n > 0).then(|| format!("{n} {}", o.word()))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

fn candidate_cell(out: &mut String, e: Option<&ExampleRecord>) {
    let outcome = Outcome::of(e);
    out.push_str(&format!(
        "<td class=\"cell st-{}\" title=\"{}\">",
        outcome.code(),
        outcome.word()
    ));
    if let Some(e) = e {
        let score = e.score.map_or(String::new(), |s| format!("{} · ", num(s)));
        out.push_str(&format!(
            "<div class=\"sc\">{score}{}</div>",
            outcome.word()
        ));
        if let Some(text) = &e.output {
            out.push_str(&format!(
                "<div class=\"out\">{}</div>",
                esc_capped(text, MAX_TEXT)
            ));
        }
        if let Some(parsed) = &e.parsed {
            let p = plain(parsed);
            if e.output.as_deref().map(str::trim) != Some(p.trim()) {
                out.push_str(&format!(
                    "<div class=\"parsed\">parsed: {}</div>",
                    esc_capped(&p, 300)
                ));
            }
        }
        if let Some(err) = &e.error {
            out.push_str(&format!(
                "<div class=\"err\">{}</div>",
                esc_capped(err, MAX_TEXT)
            ));
        }
        let mut meta = Vec::new();
        if e.error.is_none() {
            meta.push(format!("{} ms", ms(e.latency_ms)));
        }
        if let Some(c) = e.cost_usd {
            meta.push(usd(c));
        }
        if e.cached {
            meta.push("cached".to_owned());
        }
        if e.calls > 1 {
            meta.push(format!("{} calls", e.calls));
        }
        if let Some(c) = e.confidence {
            meta.push(format!("confidence {c:.2}"));
        }
        out.push_str(&format!("<div class=\"meta\">{}</div>", meta.join(" · ")));
        steps(out, &e.steps);
    }
    out.push_str("</td>");
}

/// The calls of a multi-call strategy, folded: what each returned and what was read from it.
fn steps(out: &mut String, steps: &[rightfit_types::Step]) {
    if steps.is_empty() {
        return;
    }
    out.push_str(&format!(
        "<details class=\"steps\"><summary>{} step{}</summary><ol>",
        steps.len(),
        if steps.len() == 1 { "" } else { "s" }
    ));
    for s in steps {
        let mut line = format!("<b>{}</b> {}: ", esc(&s.kind), esc(&s.by));
        match &s.error {
            Some(err) => line.push_str(&format!(
                "<span class=\"err\">{}</span>",
                esc_capped(err, 300)
            )),
            None => line.push_str(&esc_capped(&s.output, MAX_TEXT)),
        }
        if let Some(a) = &s.answer {
            line.push_str(&format!(" → <i>{}</i>", esc_capped(a, 300)));
        }
        let mut meta = vec![format!("{} ms", ms(s.latency_ms))];
        if let Some(c) = s.confidence {
            meta.push(format!("confidence {c:.2}"));
        }
        if s.cached {
            meta.push("cached".to_owned());
        }
        line.push_str(&format!(
            " <span class=\"meta\">({})</span>",
            meta.join(" · ")
        ));
        out.push_str(&format!("<li>{line}</li>"));
    }
    out.push_str("</ol></details>");
}

/// A score for a cell: whole numbers bare, others to 3 decimals.
fn num(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.3}")
    }
}

/// A JSON value as a person reads it: a string bare, a list of strings joined, anything else
/// compact JSON.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | "),
        other => other.to_string(),
    }
}

/// The text of a chat message's content (a string, or a list of parts with `text`).
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

/// What the example asked (the last user message, the text, or the context) and the whole
/// input as sent.
fn input_texts(v: &Value) -> (String, String) {
    if let Some(messages) = v.get("messages").and_then(Value::as_array) {
        let last_user = messages
            .iter()
            .rev()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
            .or_else(|| messages.last())
            .and_then(|m| m.get("content"))
            .map(content_text)
            .unwrap_or_default();
        let whole = messages
            .iter()
            .map(|m| {
                format!(
                    "[{}]\n{}",
                    m.get("role").and_then(Value::as_str).unwrap_or("?"),
                    m.get("content").map(content_text).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n\n");
        return (last_user, whole);
    }
    for key in ["text", "context"] {
        if let Some(t) = v.get(key).and_then(Value::as_str) {
            let whole = serde_json::to_string_pretty(v).unwrap_or_else(|_| t.to_owned());
            return (t.to_owned(), whole);
        }
    }
    let text = plain(v);
    (text.clone(), text)
}

fn input_cell(input: Option<&Value>) -> String {
    let Some(v) = input else {
        return String::new();
    };
    let (ask, whole) = input_texts(v);
    let (preview, rest) = cap(&ask, PREVIEW);
    if rest == 0 && ask == whole {
        return format!("<div class=\"ask\">{}</div>", esc(&ask));
    }
    let ellipsis = if rest > 0 { "…" } else { "" };
    format!(
        "<details><summary>{}{ellipsis}</summary><pre>{}</pre></details>",
        esc(preview),
        esc_capped(&whole, MAX_TEXT)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(candidate: &str, id: &str, score: Option<f64>) -> ExampleRecord {
        let mut e = ExampleRecord::new("run", candidate, id, 0, json!("x"));
        e.score = score;
        e
    }

    #[test]
    fn outcomes_put_failures_and_unparseable_before_scores() {
        let mut e = record("a", "1", Some(1.0));
        assert_eq!(Outcome::of(Some(&e)), Outcome::Right);
        e.score = Some(0.5);
        assert_eq!(Outcome::of(Some(&e)), Outcome::Partial);
        e.score = Some(0.0);
        assert_eq!(Outcome::of(Some(&e)), Outcome::Wrong);
        e.unparseable = true;
        assert_eq!(Outcome::of(Some(&e)), Outcome::Unparseable);
        e.error = Some("boom".into());
        assert_eq!(Outcome::of(Some(&e)), Outcome::Failed);
        assert_eq!(Outcome::of(None), Outcome::Missing);
    }

    #[test]
    fn disagreement_is_a_difference_in_outcome() {
        let a = record("a", "1", Some(1.0));
        let b = record("b", "1", Some(1.0));
        let c = record("c", "1", Some(0.0));
        let mut d = record("d", "1", Some(0.0));
        d.unparseable = true;
        assert!(!disagree(&[Some(&a), Some(&b), None]));
        assert!(disagree(&[Some(&a), Some(&c)]));
        assert!(disagree(&[Some(&c), Some(&d)]));
        assert!(!disagree(&[Some(&c)]));
    }

    #[test]
    fn the_input_shows_the_last_user_message_and_expands_to_all() {
        let v = json!({"messages": [
            {"role": "system", "content": "Classify."},
            {"role": "user", "content": "example one"},
            {"role": "assistant", "content": "a"},
            {"role": "user", "content": "I lost my card"},
        ]});
        let (ask, whole) = input_texts(&v);
        assert_eq!(ask, "I lost my card");
        assert!(
            whole.starts_with("[system]\nClassify.") && whole.ends_with("[user]\nI lost my card")
        );
        let cell = input_cell(Some(&v));
        assert!(
            cell.starts_with("<details><summary>I lost my card</summary><pre>[system]"),
            "{cell}"
        );
        assert_eq!(
            input_cell(Some(&json!({"text": "plain"})))
                .matches("plain")
                .count(),
            2
        );
        assert_eq!(
            input_cell(Some(&json!("just text"))),
            "<div class=\"ask\">just text</div>"
        );
    }

    #[test]
    fn rows_follow_the_run_order_with_one_cell_per_candidate() {
        let names = vec!["a".to_owned(), "b".to_owned()];
        let mut r1 = record("a", "x", Some(1.0));
        r1.position = 1;
        let mut r0 = record("b", "y", Some(0.0));
        r0.position = 0;
        let mut r2 = record("b", "x", None);
        r2.position = 1;
        let stray = record("zzz", "x", None);
        let records = [r1, r0, r2, stray];
        let rows = group(&names, &records);
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), ["y", "x"]);
        assert_eq!(
            rows[0]
                .cells
                .iter()
                .map(Option::is_some)
                .collect::<Vec<_>>(),
            [false, true]
        );
        assert_eq!(
            rows[1]
                .cells
                .iter()
                .map(Option::is_some)
                .collect::<Vec<_>>(),
            [true, true]
        );
    }

    #[test]
    fn a_multi_call_answer_shows_its_steps_escaped() {
        let mut e = record("sc", "1", Some(1.0));
        e.output = Some("yes".into());
        e.calls = 2;
        e.confidence = Some(0.5);
        let step = |output: &str, answer: Option<&str>, error: Option<&str>| rightfit_types::Step {
            kind: "sample".into(),
            by: "small".into(),
            output: output.into(),
            answer: answer.map(str::to_owned),
            confidence: None,
            latency_ms: 12.0,
            tokens_in: 1,
            tokens_out: 1,
            cost_usd: None,
            cached: false,
            error: error.map(str::to_owned),
            logprobs: None,
        };
        e.steps = vec![
            step("<script>alert(1)</script> yes", Some("yes"), None),
            step("", None, Some("timeout <b>")),
        ];
        let mut out = String::new();
        candidate_cell(&mut out, Some(&e));
        assert!(out.contains("2 calls · confidence 0.50"), "{out}");
        assert!(
            out.contains("<details class=\"steps\"><summary>2 steps</summary><ol>"),
            "{out}"
        );
        assert!(
            out.contains("&lt;script&gt;alert(1)&lt;/script&gt; yes → <i>yes</i>"),
            "{out}"
        );
        assert!(
            out.contains("<span class=\"err\">timeout &lt;b&gt;</span>"),
            "{out}"
        );
        assert!(!out.contains("<script>"), "{out}");
        // A single call shows no steps.
        let mut out = String::new();
        candidate_cell(&mut out, Some(&record("z", "1", Some(0.0))));
        assert!(!out.contains("steps"), "{out}");
    }
}

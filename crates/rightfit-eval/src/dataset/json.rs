//! Whole-file JSON: an array of objects (at the top level or at a field path), and the SQuAD
//! layout `data[].paragraphs[].qas[]`.
//!
//! Elements are borrowed as serde_json `RawValue`s, which are slices of the file's text, so each
//! record's line comes from its byte offset in the file.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::path::FieldPath;
use super::records::{DatasetError, Record, kind};
use super::text::{LineIndex, offset_in};

/// Reads the array of records at `records` (the top level when `None`).
pub(super) fn read(
    path: &Path,
    text: &str,
    records: Option<&FieldPath>,
) -> Result<Vec<Record>, DatasetError> {
    let lines = LineIndex::new(text);
    let top = parse_document(path, text)?;
    let array = match records {
        Some(records) => locate(path, top, records)?,
        None => {
            if raw_kind(top) == "an object" {
                return Err(top_level_object(path, top));
            }
            top
        }
    };
    let elements = raw_array(array).ok_or_else(|| {
        let place = records.map_or("the top level".to_owned(), |r| format!("`records` ({r})"));
        layout(
            path,
            format!(
                "{place} holds {}, expected an array of objects — point `records` at the array",
                raw_kind(array)
            ),
        )
    })?;
    Ok(elements
        .into_iter()
        .enumerate()
        .map(|(index, element)| Record {
            line: line_of(text, &lines, element),
            fields: match serde_json::from_str::<Value>(element.get()) {
                Ok(Value::Object(fields)) => Ok(fields),
                Ok(other) => Err(format!(
                    "element {} holds {}, not an object",
                    index + 1,
                    kind(&other)
                )),
                Err(err) => Err(format!("element {} cannot be read: {err}", index + 1)),
            },
        })
        .collect())
}

/// Whether `text` is a JSON object whose `data[0].paragraphs[0].qas` is an array: the SQuAD
/// layout. Anything else, including invalid JSON, is not.
pub(super) fn looks_like_squad(text: &str) -> bool {
    #[derive(Deserialize)]
    struct Top<'a> {
        #[serde(borrow)]
        data: Vec<&'a RawValue>,
    }
    #[derive(Deserialize)]
    struct Article<'a> {
        #[serde(borrow)]
        paragraphs: Vec<&'a RawValue>,
    }
    #[derive(Deserialize)]
    struct Paragraph<'a> {
        #[serde(borrow)]
        qas: Vec<&'a RawValue>,
    }
    // The number of questions in the first paragraph, when the layout is there.
    let probe = || -> Option<usize> {
        let top: Top<'_> = serde_json::from_str(text).ok()?;
        let article: Article<'_> = serde_json::from_str(top.data.first()?.get()).ok()?;
        let paragraph: Paragraph<'_> =
            serde_json::from_str(article.paragraphs.first()?.get()).ok()?;
        Some(paragraph.qas.len())
    };
    text.trim_start().starts_with('{') && probe().is_some()
}

#[derive(Deserialize)]
struct SquadFile<'a> {
    #[serde(borrow)]
    data: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct SquadArticle<'a> {
    #[serde(default)]
    title: Option<String>,
    #[serde(borrow)]
    paragraphs: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct SquadParagraph<'a> {
    context: String,
    #[serde(borrow)]
    qas: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct SquadQuestion {
    id: Value,
    question: String,
    #[serde(default)]
    answers: Vec<SquadAnswer>,
    #[serde(default)]
    is_impossible: bool,
}

#[derive(Deserialize)]
struct SquadAnswer {
    text: String,
}

/// Reads a SQuAD file: one record per question, `{id, title, context, question, answers,
/// is_impossible}` with `answers` the answer texts as given (duplicates and order kept; `[]` for an
/// unanswerable question). An article, paragraph or question that does not fit the layout
/// becomes one record carrying the reason, at its line.
pub(super) fn read_squad(path: &Path, text: &str) -> Result<Vec<Record>, DatasetError> {
    let lines = LineIndex::new(text);
    parse_document(path, text)?;
    let file: SquadFile<'_> = serde_json::from_str(text).map_err(|err| {
        layout(
            path,
            format!(
                "not in the SQuAD layout (an object with `data`: [articles]): {err} — \
                 set format = \"json\" to read it as plain JSON"
            ),
        )
    })?;
    let mut out = Vec::new();
    let bad = |raw: &RawValue, what: &str, err: serde_json::Error| Record {
        line: line_of(text, &lines, raw),
        fields: Err(format!("{what} is not in the SQuAD layout: {err}")),
    };
    for article_raw in file.data {
        let article: SquadArticle<'_> = match serde_json::from_str(article_raw.get()) {
            Ok(article) => article,
            Err(err) => {
                out.push(bad(article_raw, "the article", err));
                continue;
            }
        };
        let title = article.title.map_or(Value::Null, Value::String);
        for paragraph_raw in article.paragraphs {
            let paragraph: SquadParagraph<'_> = match serde_json::from_str(paragraph_raw.get()) {
                Ok(paragraph) => paragraph,
                Err(err) => {
                    out.push(bad(paragraph_raw, "the paragraph", err));
                    continue;
                }
            };
            for question_raw in paragraph.qas {
                let question: SquadQuestion = match serde_json::from_str(question_raw.get()) {
                    Ok(question) => question,
                    Err(err) => {
                        out.push(bad(question_raw, "the question", err));
                        continue;
                    }
                };
                let mut fields = Map::new();
                fields.insert("id".into(), question.id);
                fields.insert("title".into(), title.clone());
                fields.insert("context".into(), Value::String(paragraph.context.clone()));
                fields.insert("question".into(), Value::String(question.question));
                let answers = question.answers.into_iter().map(|a| Value::String(a.text));
                fields.insert("answers".into(), Value::Array(answers.collect()));
                fields.insert("is_impossible".into(), Value::Bool(question.is_impossible));
                out.push(Record {
                    line: line_of(text, &lines, question_raw),
                    fields: Ok(fields),
                });
            }
        }
    }
    Ok(out)
}

/// Parses the whole document, which checks its syntax; the error carries line and column.
fn parse_document<'t>(path: &Path, text: &'t str) -> Result<&'t RawValue, DatasetError> {
    serde_json::from_str::<&RawValue>(text).map_err(|err| {
        let message = err.to_string();
        let suffix = format!(" at line {} column {}", err.line(), err.column());
        DatasetError::JsonSyntax {
            path: path.to_owned(),
            line: err.line() as u64,
            column: err.column() as u64,
            message: message.strip_suffix(&suffix).unwrap_or(&message).to_owned(),
        }
    })
}

/// Follows `records` from the top of the document.
fn locate<'t>(
    path: &Path,
    top: &'t RawValue,
    records: &FieldPath,
) -> Result<&'t RawValue, DatasetError> {
    let mut current = top;
    let mut walked = String::new();
    for step in records.steps() {
        let next = match step {
            Ok(key) => raw_object(current).and_then(|mut object| object.remove(key)),
            Err(index) => raw_array(current).and_then(|array| array.get(index).copied()),
        };
        let name = match step {
            Ok(key) if walked.is_empty() => key.to_owned(),
            Ok(key) => format!("{walked}.{key}"),
            Err(index) => format!("{walked}[{index}]"),
        };
        current = next.ok_or_else(|| {
            let holder = if walked.is_empty() {
                "the top level".to_owned()
            } else {
                format!("`{walked}`")
            };
            let found = raw_kind(current);
            let missing = match step {
                Ok(_) if found == "an object" => format!("{holder} has no key `{name}`"),
                Err(_) if found == "an array" => format!("{holder} has no element `{name}`"),
                _ => format!("{holder} holds {found}, so `{name}` does not exist"),
            };
            layout(
                path,
                format!(
                    "`records` ({records}): {missing} — point `records` at the array of records"
                ),
            )
        })?;
        walked = name;
    }
    Ok(current)
}

fn raw_object(raw: &RawValue) -> Option<BTreeMap<String, &RawValue>> {
    serde_json::from_str(raw.get()).ok()
}

fn raw_array(raw: &RawValue) -> Option<Vec<&RawValue>> {
    serde_json::from_str(raw.get()).ok()
}

/// The JSON kind of a raw value, from its first character ("an object", "an array", ...).
fn raw_kind(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

fn top_level_object(path: &Path, top: &RawValue) -> DatasetError {
    let keys = raw_object(top)
        .map(|object| {
            let names: Vec<String> = object.keys().map(|k| format!("`{k}`")).collect();
            names.join(", ")
        })
        .unwrap_or_default();
    let squad = if looks_like_squad(top.get()) {
        "; it looks like SQuAD: set format = \"squad\""
    } else {
        ""
    };
    layout(
        path,
        format!(
            "the top level is an object, not an array of records — set `records` to the key that \
             holds the array (keys here: {keys}){squad}"
        ),
    )
}

fn line_of(text: &str, lines: &LineIndex, raw: &RawValue) -> u64 {
    offset_in(text, raw.get()).map_or(0, |offset| lines.line_of(offset))
}

fn layout(path: &Path, message: String) -> DatasetError {
    DatasetError::Layout {
        path: path.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{lines_and_ids, load_text};
    use super::super::{DatasetError, Format, Skipped};
    use serde_json::json;

    const ARRAY: &str = r#"[
  {"q": "a", "n": 1},
  42,

  {
    "q": "b"
  },
  [1],
  {"q": "c"}
]
"#;

    #[test]
    fn top_level_array_lines_come_from_byte_offsets() {
        let loaded = load_text("d.json", ARRAY.as_bytes(), |_| ()).unwrap();
        assert_eq!(loaded.format, Format::Json);
        assert_eq!(lines_and_ids(&loaded), vec![(2, "1"), (5, "3"), (9, "5")]);
        assert_eq!(loaded.rows[1].fields, json!({"q": "b"}));
        assert_eq!(
            loaded.skipped,
            vec![
                Skipped {
                    line: 3,
                    reason: "element 2 holds a number, not an object".into()
                },
                Skipped {
                    line: 8,
                    reason: "element 4 holds an array, not an object".into()
                },
            ]
        );
    }

    #[test]
    fn records_path_selects_a_nested_array() {
        let content = "{\"meta\": {\"n\": 2},\n \"sets\": [\n  {\"rows\": []},\n  {\"rows\": [\n    {\"id\": \"x\"},\n    {\"id\": \"y\"}\n  ]}\n ]\n}\n";
        let loaded = load_text("d.json", content.as_bytes(), |s| {
            s.records = Some("sets[1].rows".into());
            s.id_field = Some("id".into());
        })
        .unwrap();
        assert_eq!(lines_and_ids(&loaded), vec![(5, "x"), (6, "y")]);
    }

    #[test]
    fn records_path_that_does_not_lead_to_an_array_is_an_error() {
        let content = br#"{"data": {"items": "nope"}, "list": [1]}"#;
        for (records, expected) in [
            ("rows", "`records` (rows): the top level has no key `rows`"),
            (
                "data.items",
                "`records` (data.items) holds a string, expected an array",
            ),
            (
                "data.items.x",
                "`data.items` holds a string, so `data.items.x` does not exist",
            ),
            ("list[3]", "`list` has no element `list[3]`"),
            (
                "data[0]",
                "`data` holds an object, so `data[0]` does not exist",
            ),
        ] {
            let err =
                load_text("d.json", content, |s| s.records = Some(records.into())).unwrap_err();
            assert!(matches!(err, DatasetError::Layout { .. }), "{err:?}");
            assert!(err.to_string().contains(expected), "{records}: {err}");
        }
    }

    #[test]
    fn top_level_object_without_records_says_which_keys_exist() {
        let err = load_text("d.json", br#"{"data": [], "version": 1}"#, |_| ()).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("the top level is an object, not an array of records"),
            "{message}"
        );
        assert!(
            message.contains("(keys here: `data`, `version`)"),
            "{message}"
        );
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let err = load_text("d.json", b"[\n  {\"a\": 1},\n  {\"a\" 2}\n]\n", |_| ()).unwrap_err();
        match &err {
            DatasetError::JsonSyntax { line, column, .. } => assert_eq!((*line, *column), (3, 8)),
            other => panic!("unexpected {other:?}"),
        }
        let message = err.to_string();
        assert!(
            message.contains("d.json:3:8: not valid JSON: expected `:`"),
            "{message}"
        );
        let err = load_text("d.json", b"{\"a\": 1}\n{\"a\": 2}\n", |_| ()).unwrap_err();
        assert!(err.to_string().contains("trailing characters"), "{err}");
        assert!(err.to_string().contains("name it .jsonl"), "{err}");
    }

    const SQUAD: &str = r#"{"version": "v2.0", "data": [
 {"title": "T1", "paragraphs": [
  {"context": "C1", "qas": [
   {"id": "q1", "question": "Q1?", "answers": [{"text": "a", "answer_start": 0},
     {"text": "a", "answer_start": 0}, {"text": "b", "answer_start": 3}], "is_impossible": false},
   {"id": "q2", "question": "Q2?", "answers": [], "plausible_answers": [{"text": "z"}],
    "is_impossible": true},
   {"id": "q1", "question": "dup?", "answers": []},
   {"question": "no id"}
  ]},
  {"qas": []}
 ]},
 {"title": "T2", "paragraphs": [{"context": "C2", "qas": [
   {"id": 5, "question": "Q3?", "answers": [{"text": "c"}]}]}]}
]}
"#;

    #[test]
    fn squad_is_detected_and_flattened_one_row_per_question() {
        let loaded = load_text("dev.json", SQUAD.as_bytes(), |_| ()).unwrap();
        assert_eq!(loaded.format, Format::Squad);
        assert_eq!(
            lines_and_ids(&loaded),
            vec![(4, "q1"), (6, "q2"), (14, "5")]
        );
        assert_eq!(
            loaded.rows[0].fields,
            json!({"id": "q1", "title": "T1", "context": "C1", "question": "Q1?",
                   "answers": ["a", "a", "b"], "is_impossible": false})
        );
        assert_eq!(loaded.rows[1].fields["answers"], json!([]));
        assert_eq!(loaded.rows[1].fields["is_impossible"], json!(true));
        assert_eq!(loaded.rows[2].fields["title"], json!("T2"));
        assert_eq!(loaded.rows[2].fields["is_impossible"], json!(false));
        let skipped: Vec<_> = loaded
            .skipped
            .iter()
            .map(|s| (s.line, s.reason.as_str()))
            .collect();
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert_eq!(skipped[0], (8, "duplicate id `q1`: first used on line 4"));
        assert_eq!(skipped[1].0, 9);
        assert!(
            skipped[1]
                .1
                .starts_with("the question is not in the SQuAD layout: missing field `id`")
        );
        assert_eq!(skipped[2].0, 11);
        assert!(
            skipped[2]
                .1
                .starts_with("the paragraph is not in the SQuAD layout: missing field `context`")
        );
    }

    #[test]
    fn squad_shaped_json_is_plain_json_when_asked() {
        let loaded = load_text("dev.json", SQUAD.as_bytes(), |s| {
            s.records = Some("data".into())
        })
        .unwrap();
        assert_eq!(loaded.format, Format::Json);
        assert_eq!(lines_and_ids(&loaded), vec![(2, "1"), (13, "2")]);
        let err = load_text("dev.json", SQUAD.as_bytes(), |s| {
            s.format = Some(Format::Json)
        })
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("it looks like SQuAD: set format = \"squad\""),
            "{err}"
        );
        let err = load_text("d.json", b"[1]", |s| s.format = Some(Format::Squad)).unwrap_err();
        assert!(err.to_string().contains("not in the SQuAD layout"), "{err}");
    }
}

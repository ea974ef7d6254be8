//! The Berkeley Function Calling Leaderboard's layout: a JSONL question file (`id`, `question`,
//! `function`) and, beside it, a JSONL `possible_answer` file (`id`, `ground_truth`) joined to it
//! by `id`. Each row gets the answer's `ground_truth`; without an answers file (BFCL's
//! irrelevance sets) every row gets `ground_truth = []`, no call expected.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::records::{DatasetError, MAX_DATASET_BYTES, Record};
use super::{jsonl, text};

/// Reads the answers file into id -> ground truth.
fn answers(path: &Path) -> Result<HashMap<String, Value>, DatasetError> {
    let read_error = |source| DatasetError::Read {
        path: path.to_owned(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_DATASET_BYTES {
        return Err(DatasetError::TooLarge {
            path: path.to_owned(),
            bytes: size,
        });
    }
    let bytes = std::fs::read(path).map_err(read_error)?;
    let text = text::decode(path, &bytes)?;
    let mut out = HashMap::new();
    for record in jsonl::read(text) {
        let layout = |message: String| DatasetError::Layout {
            path: path.to_owned(),
            message: format!("line {}: {message}", record.line),
        };
        let fields = record.fields.as_ref().map_err(|e| layout(e.clone()))?;
        let id = match fields.get("id") {
            Some(Value::String(id)) => id.clone(),
            _ => return Err(layout("an answer needs a string `id`".into())),
        };
        let truth = fields
            .get("ground_truth")
            .cloned()
            .ok_or_else(|| layout(format!("answer `{id}` has no `ground_truth`")))?;
        if out.insert(id.clone(), truth).is_some() {
            return Err(layout(format!("answer `{id}` is given twice")));
        }
    }
    Ok(out)
}

/// The question file's records with their `ground_truth` joined from `answers` (or `[]`). A
/// question without an answer becomes a record carrying the reason (skipped, with its line).
pub(super) fn join(
    records: Vec<Record>,
    answers_path: Option<&Path>,
) -> Result<Vec<Record>, DatasetError> {
    let Some(answers_path) = answers_path else {
        return Ok(records
            .into_iter()
            .map(|mut r| {
                if let Ok(fields) = &mut r.fields {
                    fields
                        .entry("ground_truth")
                        .or_insert_with(|| Value::Array(Vec::new()));
                }
                r
            })
            .collect());
    };
    let mut truths = answers(answers_path)?;
    Ok(records
        .into_iter()
        .map(|r| {
            let fields = r.fields.and_then(|mut fields| {
                let id = fields
                    .get("id")
                    .and_then(Value::as_str)
                    .ok_or("a BFCL question needs a string `id`")?
                    .to_owned();
                let truth = truths
                    .remove(&id)
                    .ok_or_else(|| format!("no answer for `{id}` in {}", answers_path.display()))?;
                fields.insert("ground_truth".into(), truth);
                Ok(fields)
            });
            Record {
                line: r.line,
                fields,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use serde_json::json;

    use super::super::tests::load_text;
    use super::super::{Format, Skipped};

    #[test]
    fn questions_are_joined_to_their_answers_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let answers = dir.path().join("answers.json");
        std::fs::File::create(&answers)
            .unwrap()
            .write_all(b"{\"id\": \"b\", \"ground_truth\": [{\"f\": {\"x\": [2]}}]}\n{\"id\": \"a\", \"ground_truth\": []}\n")
            .unwrap();
        let questions = b"{\"id\": \"a\", \"function\": []}\n{\"id\": \"b\"}\n{\"id\": \"c\"}\n";
        let loaded = load_text("q.json", questions, |s| {
            s.format = Some(Format::Bfcl);
            s.answers = Some(answers.clone());
        })
        .unwrap();
        let ids: Vec<&str> = loaded.rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(
            loaded.rows[1].fields["ground_truth"],
            json!([{"f": {"x": [2]}}])
        );
        assert_eq!(
            loaded.skipped,
            [Skipped {
                line: 3,
                reason: format!("no answer for `c` in {}", answers.display())
            }]
        );
        // Without answers: no call expected anywhere.
        let loaded = load_text("q.json", questions, |s| s.format = Some(Format::Bfcl)).unwrap();
        assert_eq!(loaded.rows.len(), 3);
        assert!(
            loaded
                .rows
                .iter()
                .all(|r| r.fields["ground_truth"] == json!([]))
        );
    }

    #[test]
    fn a_broken_answers_file_is_an_error_naming_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let answers = dir.path().join("answers.json");
        std::fs::write(
            &answers,
            "{\"id\": \"a\", \"ground_truth\": []}\n{\"id\": \"a\"}\n",
        )
        .unwrap();
        let err = load_text("q.json", b"{\"id\": \"a\"}\n", |s| {
            s.format = Some(Format::Bfcl);
            s.answers = Some(answers.clone());
        })
        .unwrap_err();
        let said = err.to_string();
        assert!(
            said.ends_with("answers.json: line 2: answer `a` has no `ground_truth`"),
            "{said}"
        );
    }
}

//! JSON Lines: one JSON object per line; blank lines are ignored.

use serde_json::Value;

use super::records::{Record, kind};

/// Reads every non-blank line of `text` as one record. A line that is not JSON, or is JSON but
/// not an object, becomes a record carrying the reason.
pub(super) fn read(text: &str) -> Vec<Record> {
    text.split('\n')
        .enumerate()
        .filter_map(|(index, line)| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                return None;
            }
            let fields = match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(fields)) => Ok(fields),
                Ok(other) => Err(format!(
                    "the line holds {}, not a JSON object",
                    kind(&other)
                )),
                Err(err) => Err(format!("not valid JSON: {}", describe(&err))),
            };
            Some(Record {
                line: index as u64 + 1,
                fields,
            })
        })
        .collect()
}

/// serde_json's message with its "at line 1 column C" replaced by "at column C": the line is
/// always 1 within a single line, and the record already carries the file's line.
fn describe(err: &serde_json::Error) -> String {
    let message = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    match message.strip_suffix(&suffix) {
        Some(bare) => format!("{bare} at column {}", err.column()),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{lines_and_ids, load_text};
    use super::super::{Format, Skipped};
    use serde_json::json;

    #[test]
    fn reads_objects_ignoring_blank_lines_and_crlf() {
        let content = b"{\"q\":\"a\"}\r\n\r\n   \n{\"q\":\"b\",\"n\":[1,2]}\n\n";
        let loaded = load_text("d.jsonl", content, |_| ()).unwrap();
        assert_eq!(loaded.format, Format::Jsonl);
        assert_eq!(lines_and_ids(&loaded), vec![(1, "1"), (4, "2")]);
        assert_eq!(loaded.rows[1].fields, json!({"q": "b", "n": [1, 2]}));
        assert!(loaded.skipped.is_empty());
    }

    #[test]
    fn malformed_lines_are_skipped_with_their_line_and_the_reason() {
        let content = b"{\"q\":1}\n{\"q\":\n[1,2]\n\"text\"\n\n{\"q\":2} trailing\n{\"q\":3}";
        let loaded = load_text("d.ndjson", content, |_| ()).unwrap();
        assert_eq!(lines_and_ids(&loaded), vec![(1, "1"), (7, "6")]);
        assert_eq!(
            loaded.skipped,
            vec![
                Skipped {
                    line: 2,
                    reason: "not valid JSON: EOF while parsing a value at column 5".into()
                },
                Skipped {
                    line: 3,
                    reason: "the line holds an array, not a JSON object".into()
                },
                Skipped {
                    line: 4,
                    reason: "the line holds a string, not a JSON object".into()
                },
                Skipped {
                    line: 6,
                    reason: "not valid JSON: trailing characters at column 9".into()
                },
            ]
        );
    }

    #[test]
    fn an_empty_file_has_no_rows() {
        let loaded = load_text("d.jsonl", b"", |_| ()).unwrap();
        assert!(loaded.rows.is_empty() && loaded.skipped.is_empty());
    }
}

//! CSV and TSV through the `csv` crate.
//!
//! CSV follows RFC 4180 quoting, so a quoted field may span lines; a record's line is the line
//! where it starts. TSV is read with quoting OFF: `id<TAB>text<TAB>label` files put `"` in texts
//! as an ordinary character, and a tab or newline cannot occur inside a field. Values are strings.
//! Empty lines are ignored (by the `csv` crate).

use std::collections::HashSet;
use std::path::Path;

use serde_json::{Map, Value};

use super::records::{DatasetError, Record};
use super::text::LineIndex;

/// Reads `text` as delimited records. Without `columns` the first record is the header.
pub(super) fn read(
    path: &Path,
    text: &str,
    delimiter: u8,
    quoting: bool,
    columns: Option<&[String]>,
) -> Result<Vec<Record>, DatasetError> {
    let lines = LineIndex::new(text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .quoting(quoting)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();

    let (names, header_line) = match columns {
        Some(columns) => (columns.to_vec(), None),
        None => match records.next() {
            None => return Ok(Vec::new()),
            Some(Ok(header)) => {
                let line = start_line(text, &lines, header.position());
                (header.iter().map(str::to_owned).collect(), Some(line))
            }
            Some(Err(err)) => return Err(unreadable(path, &err)),
        },
    };
    check_names(path, &names, header_line)?;

    let mut out = Vec::new();
    for result in records {
        match result {
            Ok(record) => {
                let line = start_line(text, &lines, record.position());
                let fields = if record.len() == names.len() {
                    let map: Map<String, Value> = names
                        .iter()
                        .zip(record.iter())
                        .map(|(name, value)| (name.clone(), Value::String(value.to_owned())))
                        .collect();
                    Ok(map)
                } else {
                    Err(format!(
                        "has {} fields, expected {} ({})",
                        record.len(),
                        names.len(),
                        names.join(", ")
                    ))
                };
                out.push(Record { line, fields });
            }
            // Reading from memory, only malformed input fails here; keep going past it.
            Err(err) => match err.position() {
                Some(position) => out.push(Record {
                    line: start_line(text, &lines, Some(position)),
                    fields: Err(err.to_string()),
                }),
                None => return Err(unreadable(path, &err)),
            },
        }
    }
    Ok(out)
}

/// The line where a record starts. The `csv` crate's position is where the reader stood before
/// the record, which can be a blank line or the `\n` of a `\r\n` ending the previous record;
/// skipping line breaks from there finds the record's first character.
fn start_line(text: &str, lines: &LineIndex, position: Option<&csv::Position>) -> u64 {
    let Some(position) = position else {
        return 0;
    };
    let byte = usize::try_from(position.byte()).unwrap_or(usize::MAX);
    let skipped = text.as_bytes().get(byte..).map_or(0, |rest| {
        rest.iter()
            .take_while(|&&b| matches!(b, b'\r' | b'\n'))
            .count()
    });
    lines.line_of(byte.saturating_add(skipped))
}

fn check_names(
    path: &Path,
    names: &[String],
    header_line: Option<u64>,
) -> Result<(), DatasetError> {
    let origin = match header_line {
        Some(line) => format!("the header on line {line}"),
        None => "`columns`".to_owned(),
    };
    let fix = match header_line {
        Some(_) => "rename it, or give `columns` if the file has no header row",
        None => "rename it",
    };
    let mut seen = HashSet::new();
    for name in names {
        if name.is_empty() {
            return Err(DatasetError::Layout {
                path: path.to_owned(),
                message: format!("{origin} has an empty column name — {fix}"),
            });
        }
        if !seen.insert(name.as_str()) {
            return Err(DatasetError::Layout {
                path: path.to_owned(),
                message: format!("{origin} names column `{name}` twice — {fix}"),
            });
        }
    }
    Ok(())
}

fn unreadable(path: &Path, err: &csv::Error) -> DatasetError {
    DatasetError::Layout {
        path: path.to_owned(),
        message: format!("cannot read it as delimited text: {err} — check the file's format"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{lines_and_ids, load_text};
    use super::super::{DatasetError, Format, Skipped};
    use serde_json::json;

    #[test]
    fn csv_header_names_fields_and_quoted_fields_span_lines() {
        let content = b"text,category\nplain,a\n\"two\nlines, quoted\",b\n\n\"say \"\"hi\"\"\",c\n";
        let loaded = load_text("d.csv", content, |_| ()).unwrap();
        assert_eq!(loaded.format, Format::Csv);
        assert_eq!(lines_and_ids(&loaded), vec![(2, "1"), (3, "2"), (6, "3")]);
        assert_eq!(
            loaded.rows[1].fields,
            json!({"text": "two\nlines, quoted", "category": "b"})
        );
        assert_eq!(loaded.rows[2].fields["text"], json!("say \"hi\""));
        assert!(loaded.skipped.is_empty());
    }

    #[test]
    fn crlf_line_endings_keep_line_numbers() {
        let content = b"a,b\r\n1,2\r\n\r\n3,4\r\n";
        let loaded = load_text("d.csv", content, |_| ()).unwrap();
        assert_eq!(lines_and_ids(&loaded), vec![(2, "1"), (4, "2")]);
        assert_eq!(loaded.rows[1].fields, json!({"a": "3", "b": "4"}));
    }

    #[test]
    fn rows_with_the_wrong_number_of_fields_are_skipped_at_their_start_line() {
        let content = b"text,category\nok,a\ntoo,many,fields\n\"multi\nline\"\nlast,b\n";
        let loaded = load_text("d.csv", content, |_| ()).unwrap();
        assert_eq!(lines_and_ids(&loaded), vec![(2, "1"), (6, "4")]);
        assert_eq!(
            loaded.skipped,
            vec![
                Skipped {
                    line: 3,
                    reason: "has 3 fields, expected 2 (text, category)".into()
                },
                Skipped {
                    line: 4,
                    reason: "has 1 fields, expected 2 (text, category)".into()
                },
            ]
        );
    }

    #[test]
    fn columns_replace_the_header_row() {
        let content = b"7\tfirst\t1\n8\tsecond\t0\n";
        let loaded = load_text("d.tsv", content, |s| {
            s.columns = Some(vec!["id".into(), "text".into(), "label".into()]);
            s.id_field = Some("id".into());
        })
        .unwrap();
        assert_eq!(lines_and_ids(&loaded), vec![(1, "7"), (2, "8")]);
        assert_eq!(
            loaded.rows[0].fields,
            json!({"id": "7", "text": "first", "label": "1"})
        );
    }

    #[test]
    fn tsv_reads_quotes_as_ordinary_characters() {
        // With CSV quoting this would open a quoted field running to the end of the file.
        let content = b"id\ttext\tlabel\n1\t\"who's there?\t0\n2\tsay \"no\" twice\t1\n3\tx\"\t2\n";
        let loaded = load_text("d.tsv", content, |s| s.id_field = Some("id".into())).unwrap();
        assert_eq!(lines_and_ids(&loaded), vec![(2, "1"), (3, "2"), (4, "3")]);
        assert_eq!(loaded.rows[0].fields["text"], json!("\"who's there?"));
        assert_eq!(loaded.rows[1].fields["text"], json!("say \"no\" twice"));
        assert_eq!(loaded.rows[2].fields["text"], json!("x\""));
    }

    #[test]
    fn tsv_rows_with_a_stray_tab_are_skipped() {
        let content = b"1\ta\tb\t0\n2\tfine\t1\n3\tshort\n";
        let loaded = load_text("d.tsv", content, |s| {
            s.columns = Some(vec!["id".into(), "text".into(), "label".into()]);
        })
        .unwrap();
        assert_eq!(lines_and_ids(&loaded), vec![(2, "2")]);
        let lines: Vec<u64> = loaded.skipped.iter().map(|s| s.line).collect();
        assert_eq!(lines, vec![1, 3]);
        assert_eq!(
            loaded.skipped[0].reason,
            "has 4 fields, expected 3 (id, text, label)"
        );
    }

    #[test]
    fn duplicate_or_empty_column_names_are_errors() {
        let err = load_text("d.csv", b"a,b,a\n1,2,3\n", |_| ()).unwrap_err();
        assert!(matches!(err, DatasetError::Layout { .. }));
        assert!(
            err.to_string()
                .contains("the header on line 1 names column `a` twice"),
            "{err}"
        );
        let err = load_text("d.csv", b"a,,c\n", |_| ()).unwrap_err();
        assert!(
            err.to_string().contains("has an empty column name"),
            "{err}"
        );
        let err = load_text("d.csv", b"1,2\n", |s| {
            s.columns = Some(vec!["x".into(), "x".into()]);
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("`columns` names column `x` twice"),
            "{err}"
        );
    }

    #[test]
    fn header_only_and_empty_files_have_no_rows() {
        for content in [&b""[..], b"text,category\n"] {
            let loaded = load_text("d.csv", content, |_| ()).unwrap();
            assert!(loaded.rows.is_empty() && loaded.skipped.is_empty());
        }
    }
}

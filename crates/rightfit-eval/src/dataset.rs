//! Reading evaluation datasets into [`Row`]s, and choosing which rows to run.
//!
//! [`load`] reads one file — JSONL, CSV, TSV, JSON or SQuAD — into rows whose `fields` is always
//! a JSON object, each with a stable id and the 1-based line where its record starts. A record
//! that cannot become a row (bad JSON on one line, a CSV row with the wrong number of fields, a
//! duplicate id) is never dropped silently: it is listed in [`Loaded::skipped`] with its line and
//! the reason. A file that cannot be read at all is a [`DatasetError`].
//!
//! [`FieldPath`] names a value inside a row (`labels[0].slot`). [`sample`],
//! [`stratified_sample`] and [`split`] choose rows deterministically for a seed and keep them in
//! file order. Everything here is pure apart from reading the one file in [`load`].

mod bfcl;
mod delimited;
mod from_traffic;
mod json;
mod jsonl;
mod path;
mod records;
mod sample;
mod text;

#[cfg(test)]
mod real_data_tests;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub use from_traffic::{
    ExportRow, Skipped as TrafficSkipped, TrafficQuery, describe_export, export_rows, from_traffic,
    write_rows,
};
pub use path::{FieldPath, FieldPathError};
pub use records::{DatasetError, MAX_DATASET_BYTES, Row, Skipped};
use records::{Record, kind};
pub use sample::{Split, sample, split, stratified_sample};

/// The layout of a dataset file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One JSON object per line (`.jsonl`, `.ndjson`).
    Jsonl,
    /// Comma-separated values with RFC 4180 quoting (`.csv`).
    Csv,
    /// Tab-separated values without any quoting (`.tsv`): a `"` is an ordinary character.
    Tsv,
    /// A JSON array of objects, at the top level or at [`DatasetSpec::records`] (`.json`).
    Json,
    /// The SQuAD layout `data[].paragraphs[].qas[]`, one row per question.
    Squad,
    /// The Berkeley Function Calling Leaderboard's JSONL questions, joined by `id` to the
    /// `ground_truth` of [`DatasetSpec::answers`] (no call expected without it).
    Bfcl,
}

impl Format {
    /// The format a file name's extension implies (case-insensitive). `.json` gives
    /// [`Format::Json`]; [`load`] then looks inside to tell SQuAD apart.
    pub fn from_extension(path: &Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            "tsv" => Some(Format::Tsv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    /// The lowercase name used in configuration (`jsonl`, `csv`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Json => "json",
            Format::Squad => "squad",
            Format::Bfcl => "bfcl",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which file to read and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatasetSpec {
    /// The dataset file.
    pub path: PathBuf,
    /// The layout; inferred from the extension when `None`.
    pub format: Option<Format>,
    /// JSON only: field path to the array of records, e.g. `data`. The top level when `None`.
    pub records: Option<String>,
    /// CSV/TSV without a header row: the names of the columns, in order. When `None` the first
    /// row is the header.
    pub columns: Option<Vec<String>>,
    /// Field path whose value (a string or a number) is the row id. When `None`, a row's id is
    /// its record's 1-based position in the file; SQuAD rows default to the question id.
    pub id_field: Option<String>,
    /// BFCL only: the `possible_answer` file joined to the questions by `id`.
    pub answers: Option<PathBuf>,
}

impl DatasetSpec {
    /// A spec that reads `path` with everything inferred.
    pub fn new(path: impl Into<PathBuf>) -> DatasetSpec {
        DatasetSpec {
            path: path.into(),
            ..DatasetSpec::default()
        }
    }
}

/// The result of [`load`].
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The file that was read.
    pub path: PathBuf,
    /// The format it was read as (after inference).
    pub format: Format,
    /// The rows, in file order.
    pub rows: Vec<Row>,
    /// Records that were not turned into rows, in file order.
    pub skipped: Vec<Skipped>,
}

/// Reads the dataset `spec` describes.
///
/// # Errors
/// The file is missing or unreadable, not UTF-8, of an unknown format, (for JSON and SQuAD) not
/// valid JSON or not laid out as expected, or `spec` has a setting that does not apply to the
/// format or a field path that does not parse. Bad individual records are not errors: see
/// [`Loaded::skipped`].
pub fn load(spec: &DatasetSpec) -> Result<Loaded, DatasetError> {
    let path = spec.path.as_path();
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
    let spec_error = |message: String| DatasetError::Spec {
        path: path.to_owned(),
        message,
    };
    let parse_path = |key: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(FieldPath::parse)
            .transpose()
            .map_err(|err| spec_error(format!("dataset `{key}`: {err}")))
    };
    let records_path = parse_path("records", &spec.records)?;
    let id_field = parse_path("id_field", &spec.id_field)?;

    let format = match spec.format {
        Some(format) => format,
        None => match Format::from_extension(path) {
            Some(Format::Json) if records_path.is_none() && json::looks_like_squad(text) => {
                Format::Squad
            }
            Some(format) => format,
            None => {
                return Err(DatasetError::UnknownFormat {
                    path: path.to_owned(),
                });
            }
        },
    };
    if spec.records.is_some() && format != Format::Json {
        return Err(spec_error(format!(
            "`records` applies to the json format only, this file is read as {format} — remove it"
        )));
    }
    if spec.answers.is_some() && format != Format::Bfcl {
        return Err(spec_error(format!(
            "`answers` applies to the bfcl format only, this file is read as {format} — remove it"
        )));
    }
    if spec.columns.is_some() && !matches!(format, Format::Csv | Format::Tsv) {
        return Err(spec_error(format!(
            "`columns` applies to csv and tsv only, this file is read as {format} — remove it"
        )));
    }

    let records = match format {
        Format::Jsonl => jsonl::read(text),
        Format::Csv => delimited::read(path, text, b',', true, spec.columns.as_deref())?,
        Format::Tsv => delimited::read(path, text, b'\t', false, spec.columns.as_deref())?,
        Format::Json => json::read(path, text, records_path.as_ref())?,
        Format::Squad => json::read_squad(path, text)?,
        Format::Bfcl => bfcl::join(jsonl::read(text), spec.answers.as_deref())?,
    };
    let default_id = match format {
        Format::Squad | Format::Bfcl => {
            Some(FieldPath::parse("id").map_err(|err| spec_error(err.to_string()))?)
        }
        _ => None,
    };
    let (rows, skipped) = assign_ids(records, id_field.as_ref().or(default_id.as_ref()));
    Ok(Loaded {
        path: path.to_owned(),
        format,
        rows,
        skipped,
    })
}

/// Gives every record an id and turns it into a [`Row`], or into a [`Skipped`] when it carries an
/// error, lacks a usable id or repeats an earlier id.
fn assign_ids(records: Vec<Record>, id_field: Option<&FieldPath>) -> (Vec<Row>, Vec<Skipped>) {
    let mut rows = Vec::with_capacity(records.len());
    let mut skipped = Vec::new();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    for (position, record) in records.into_iter().enumerate() {
        let line = record.line;
        let outcome = record.fields.and_then(|fields| {
            let fields = Value::Object(fields);
            let id = match id_field {
                None => (position + 1).to_string(),
                Some(id_path) => row_id(&fields, id_path)?,
            };
            if let Some(first) = first_line.get(&id) {
                return Err(format!("duplicate id `{id}`: first used on line {first}"));
            }
            first_line.insert(id.clone(), line);
            Ok(Row { id, line, fields })
        });
        match outcome {
            Ok(row) => rows.push(row),
            Err(reason) => skipped.push(Skipped { line, reason }),
        }
    }
    (rows, skipped)
}

fn row_id(fields: &Value, id_path: &FieldPath) -> Result<String, String> {
    let id = match id_path.get(fields) {
        None => return Err(format!("has no id field `{id_path}`")),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        Some(other) => {
            return Err(format!(
                "id field `{id_path}` holds {}, expected a string or a number",
                kind(other)
            ));
        }
    };
    if id.is_empty() {
        return Err(format!("id field `{id_path}` is empty"));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Write;

    /// Writes `content` to a temp file named `name` and loads it with `spec` adjusted by `adjust`.
    pub(super) fn load_text(
        name: &str,
        content: &[u8],
        adjust: impl FnOnce(&mut DatasetSpec),
    ) -> Result<Loaded, DatasetError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(content)
            .unwrap();
        let mut spec = DatasetSpec::new(&path);
        adjust(&mut spec);
        load(&spec)
    }

    pub(super) fn lines_and_ids(loaded: &Loaded) -> Vec<(u64, &str)> {
        loaded
            .rows
            .iter()
            .map(|row| (row.line, row.id.as_str()))
            .collect()
    }

    #[test]
    fn a_dataset_over_the_size_limit_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.jsonl");
        let file = std::fs::File::create(&path).unwrap();
        // Sparse: one byte past the limit, no disk used.
        file.set_len(MAX_DATASET_BYTES + 1).unwrap();
        let err = load(&DatasetSpec::new(&path)).unwrap_err();
        assert!(matches!(err, DatasetError::TooLarge { .. }), "{err:?}");
        let said = err.to_string();
        assert!(said.starts_with(&path.display().to_string()), "{said}");
        assert!(said.contains("sample or split"), "{said}");
        // (At the limit the file would be read: 2 GiB, too much for a test to allocate.)
    }

    #[test]
    fn format_is_inferred_from_the_extension() {
        for (name, format) in [
            ("a.jsonl", Some(Format::Jsonl)),
            ("a.NDJSON", Some(Format::Jsonl)),
            ("a.csv", Some(Format::Csv)),
            ("a.tsv", Some(Format::Tsv)),
            ("dir.v2/a.json", Some(Format::Json)),
            ("a.txt", None),
            ("a", None),
        ] {
            assert_eq!(Format::from_extension(Path::new(name)), format, "{name}");
        }
        let err = load_text("data.txt", b"x", |_| ()).unwrap_err();
        assert!(matches!(err, DatasetError::UnknownFormat { .. }), "{err:?}");
        let loaded = load_text("data.txt", b"{\"a\":1}\n", |s| {
            s.format = Some(Format::Jsonl)
        })
        .unwrap();
        assert_eq!(loaded.format, Format::Jsonl);
        assert_eq!(loaded.rows[0].fields, json!({"a": 1}));
    }

    #[test]
    fn missing_file_is_an_error_naming_the_path() {
        let err = load(&DatasetSpec::new("/nonexistent/rightfit/data.jsonl")).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("/nonexistent/rightfit/data.jsonl: cannot read the dataset"),
            "{message}"
        );
    }

    #[test]
    fn non_utf8_file_is_an_error_with_line_and_column() {
        let err = load_text("d.jsonl", b"{\"a\":1}\n{\"a\":\"\xC3\x28\"}\n", |_| ()).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("d.jsonl:2:7: not UTF-8 text"), "{message}");
    }

    #[test]
    fn ids_come_from_id_field_or_position_and_duplicates_are_skipped() {
        let content =
            b"{\"k\":\"a\"}\n{\"k\":7}\n{\"k\":\"a\"}\n{\"x\":1}\n{\"k\":[1]}\n{\"k\":\"\"}\n";
        let loaded = load_text("d.jsonl", content, |s| s.id_field = Some("k".into())).unwrap();
        assert_eq!(lines_and_ids(&loaded), vec![(1, "a"), (2, "7")]);
        let skipped: Vec<_> = loaded
            .skipped
            .iter()
            .map(|s| (s.line, s.reason.as_str()))
            .collect();
        assert_eq!(
            skipped,
            vec![
                (3, "duplicate id `a`: first used on line 1"),
                (4, "has no id field `k`"),
                (
                    5,
                    "id field `k` holds an array, expected a string or a number"
                ),
                (6, "id field `k` is empty"),
            ]
        );
        let positional = load_text("d.jsonl", content, |_| ()).unwrap();
        let ids: Vec<_> = positional.rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["1", "2", "3", "4", "5", "6"]);
    }

    #[test]
    fn positional_ids_count_skipped_records_so_fixing_one_keeps_the_others() {
        let loaded = load_text("d.jsonl", b"{\"a\":1}\nnot json\n{\"a\":3}\n", |_| ()).unwrap();
        assert_eq!(lines_and_ids(&loaded), vec![(1, "1"), (3, "3")]);
    }

    #[test]
    fn settings_that_do_not_apply_are_errors() {
        let err = load_text("d.jsonl", b"{}\n", |s| s.records = Some("data".into())).unwrap_err();
        assert!(
            err.to_string()
                .contains("`records` applies to the json format only")
        );
        let err = load_text("d.json", b"[]", |s| s.columns = Some(vec!["a".into()])).unwrap_err();
        assert!(
            err.to_string()
                .contains("`columns` applies to csv and tsv only")
        );
        let err = load_text("d.jsonl", b"{}\n", |s| s.id_field = Some("a..b".into())).unwrap_err();
        assert!(
            err.to_string()
                .contains("dataset `id_field`: `a..b` is not a field path"),
            "{err}"
        );
    }

    #[test]
    fn row_text_stringifies_scalars_only() {
        let row = Row {
            id: "1".into(),
            line: 1,
            fields: json!({"s": "x", "n": 2.5, "i": -3, "b": true, "z": null, "a": [1], "o": {}}),
        };
        let text = |p: &str| row.text(&FieldPath::parse(p).unwrap());
        assert_eq!(text("s").as_deref(), Some("x"));
        assert_eq!(text("n").as_deref(), Some("2.5"));
        assert_eq!(text("i").as_deref(), Some("-3"));
        assert_eq!(text("b").as_deref(), Some("true"));
        assert_eq!(text("z"), None);
        assert_eq!(text("a"), None);
        assert_eq!(text("o"), None);
        assert_eq!(text("missing"), None);
    }

    #[test]
    fn format_serializes_in_lowercase() {
        assert_eq!(serde_json::to_string(&Format::Squad).unwrap(), "\"squad\"");
        let parsed: Format = serde_json::from_str("\"tsv\"").unwrap();
        assert_eq!(parsed, Format::Tsv);
        assert_eq!(Format::Jsonl.to_string(), "jsonl");
    }
}

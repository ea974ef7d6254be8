//! [`load`] on the real public datasets in `../shared/data` (see its SOURCES.md). These fail,
//! never skip, when the files are missing. Expected counts and lines were worked out
//! independently of this code (Python's `json`, and a hand count of the CSV's quoted records).

use serde_json::json;

use super::{DatasetSpec, FieldPath, Format, Loaded, load};
use crate::testdata::shared_data;

fn load_shared(relative: &str, adjust: impl FnOnce(&mut DatasetSpec)) -> Loaded {
    let path = shared_data().join(relative);
    assert!(
        path.is_file(),
        "missing shared data file {}",
        path.display()
    );
    let mut spec = DatasetSpec::new(path);
    adjust(&mut spec);
    load(&spec).unwrap()
}

fn row<'a>(loaded: &'a Loaded, id: &str) -> &'a super::Row {
    loaded
        .rows
        .iter()
        .find(|row| row.id == id)
        .unwrap_or_else(|| panic!("no row {id}"))
}

#[test]
fn poem_sentiment_dev_tsv_reads_quotes_literally() {
    let loaded = load_shared("poem_sentiment/dev.tsv", |spec| {
        spec.columns = Some(vec!["id".into(), "text".into(), "label".into()]);
        spec.id_field = Some("id".into());
    });
    assert_eq!(loaded.format, Format::Tsv);
    assert_eq!(loaded.rows.len(), 105);
    assert!(loaded.skipped.is_empty(), "{:?}", loaded.skipped);
    // Every line is one row whose id is its 0-based line index.
    for (index, row) in loaded.rows.iter().enumerate() {
        assert_eq!(
            (row.id.as_str(), row.line),
            (index.to_string().as_str(), index as u64 + 1)
        );
    }
    let quoted = row(&loaded, "89");
    assert_eq!(quoted.line, 90);
    assert_eq!(
        quoted.fields,
        json!({"id": "89", "text": "\"who's we?--some stockholders in boston?", "label": "0"})
    );
    let last = row(&loaded, "104");
    assert_eq!(
        last.fields["label"],
        json!("-1"),
        "last line has no newline"
    );
}

#[test]
fn banking77_test_csv_has_3080_rows_and_multiline_records_start_lines() {
    let loaded = load_shared("banking77/test.csv", |_| ());
    assert_eq!(loaded.format, Format::Csv);
    assert_eq!(loaded.rows.len(), 3080);
    assert!(loaded.skipped.is_empty(), "{:?}", loaded.skipped);
    assert_eq!(
        loaded.rows[0].fields,
        json!({"text": "How do I locate my card?", "category": "card_arrival"})
    );
    assert_eq!(loaded.rows[0].line, 2);
    // Quoted texts that begin with line breaks; the file ends lines with \r\n but these
    // embedded breaks are bare \n, and a blank line follows the second one.
    for (id, line, text) in [
        ("560", 561, "\nWhere can I get my PIN unblocked?"),
        ("977", 979, "\n\nWhat businesses accept this card?"),
        ("1462", 1466, "\nWhich ATMs accept this card?"),
    ] {
        let found = row(&loaded, id);
        assert_eq!(found.line, line, "row {id}");
        assert_eq!(found.fields["text"], json!(text), "row {id}");
    }
    assert_eq!(row(&loaded, "1463").line, 1468);
    assert_eq!(loaded.rows[3079].id, "3080");
    assert_eq!(loaded.rows[3079].line, 3085);
}

#[test]
fn restaurant8k_test_json_has_3731_elements_with_lines() {
    let loaded = load_shared("restaurant8k/test.json", |_| ());
    assert_eq!(loaded.format, Format::Json);
    assert_eq!(loaded.rows.len(), 3731);
    assert!(loaded.skipped.is_empty());
    assert_eq!(loaded.rows[0].line, 2);
    let second = &loaded.rows[1];
    assert_eq!((second.id.as_str(), second.line), ("2", 20));
    assert_eq!(
        second.fields,
        json!({
            "userInput": {"text": "13"},
            "context": {"requestedSlots": ["people"]},
            "labels": [{"slot": "people", "valueSpan": {"endIndex": 2}}]
        })
    );
    let slot = FieldPath::parse("labels[0].slot").unwrap();
    assert_eq!(second.text(&slot).as_deref(), Some("people"));
}

#[test]
fn scitldr_dev_jsonl_has_619_papers() {
    let loaded = load_shared("scitldr/dev.jsonl", |spec| {
        spec.id_field = Some("paper_id".into());
    });
    assert_eq!(loaded.format, Format::Jsonl);
    assert_eq!(loaded.rows.len(), 619);
    assert!(loaded.skipped.is_empty(), "{:?}", loaded.skipped);
    let lines: Vec<u64> = loaded.rows.iter().map(|row| row.line).collect();
    assert_eq!(lines, (1..=619).collect::<Vec<u64>>());
    assert!(loaded.rows[0].fields["source"].is_array());
    assert!(loaded.rows[0].fields["target"].is_array());
}

#[test]
fn squad_v2_subset_has_1407_questions_702_unanswerable() {
    let loaded = load_shared("squad_v2_subset/squad_v2_dev_first5articles.json", |_| ());
    assert_eq!(loaded.format, Format::Squad);
    assert_eq!(loaded.rows.len(), 1407);
    assert!(loaded.skipped.is_empty(), "{:?}", loaded.skipped);
    // The file is a single line.
    assert!(loaded.rows.iter().all(|row| row.line == 1));
    let impossible: Vec<_> = loaded
        .rows
        .iter()
        .filter(|row| row.fields["is_impossible"] == json!(true))
        .collect();
    assert_eq!(impossible.len(), 702);
    assert!(
        impossible
            .iter()
            .all(|row| row.fields["answers"] == json!([]))
    );
    let answerable = loaded.rows.len() - impossible.len();
    let with_answers = loaded
        .rows
        .iter()
        .filter(|row| {
            row.fields["answers"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        })
        .count();
    assert_eq!(with_answers, answerable);

    let first = row(&loaded, "56ddde6b9a695914005b9628");
    assert_eq!(
        first.fields["question"],
        json!("In what country is Normandy located?")
    );
    assert_eq!(first.fields["title"], json!("Normans"));
    assert_eq!(
        first.fields["answers"],
        json!(["France", "France", "France", "France"])
    );
    assert!(
        first.fields["context"]
            .as_str()
            .is_some_and(|c| c.starts_with("The Normans"))
    );
    assert_eq!(
        row(&loaded, "56ddde6b9a695914005b9629").fields["answers"],
        json!([
            "10th and 11th centuries",
            "in the 10th and 11th centuries",
            "10th and 11th centuries",
            "10th and 11th centuries"
        ]),
        "answers keep duplicates and order"
    );
}

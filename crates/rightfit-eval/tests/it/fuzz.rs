//! Fuzz tests of the dataset readers (JSONL, JSON, CSV, TSV, SQuAD) and `rightfit score`'s input
//! files (`rightfit_testkit::fuzz`: mutated valid files, `RIGHTFIT_FUZZ_CASES` cases): any file is
//! rows (with bad records skipped and counted) or an error naming the file — never a panic.

use std::path::Path;

use proptest::prelude::*;
use rightfit_eval::dataset::{DatasetSpec, Format, load};
use rightfit_eval::score_predictions::{OfflineOptions, ScoreFiles, score_files};
use rightfit_testkit::fuzz;

fn seeds(format: Format) -> Vec<String> {
    let rows = match format {
        Format::Jsonl => vec![
            "{\"id\": \"a\", \"text\": \"wake me at 7\", \"label\": \"alarm\"}\n{\"id\": 2, \"text\": \"\u{e9}t\u{e9}\", \"label\": [\"x\", {\"y\": null}]}\n\n",
        ],
        Format::Json => vec![
            "[{\"id\": \"a\", \"text\": \"hi\", \"label\": \"x\"}, {\"id\": \"b\", \"text\": 1.5e3, \"label\": true}]",
            "{\"data\": [{\"id\": \"a\", \"text\": \"hi\"}]}",
        ],
        Format::Csv => {
            vec!["id,text,label\na,\"wake me, at 7\",alarm\nb,\"say \"\"hi\"\"\",greet\r\nc,,\n"]
        }
        Format::Tsv => vec!["id\ttext\tlabel\na\twake me\talarm\nb\t\"q\"\tx\n"],
        Format::Squad => vec![
            "{\"version\": \"v2.0\", \"data\": [{\"title\": \"T\", \"paragraphs\": [{\"context\": \"Paris is in France.\", \"qas\": [{\"id\": \"q1\", \"question\": \"Where is Paris?\", \"answers\": [{\"text\": \"France\", \"answer_start\": 12}], \"is_impossible\": false}, {\"id\": \"q2\", \"question\": \"?\", \"answers\": [], \"is_impossible\": true}]}]}]}",
        ],
        Format::Bfcl => vec![
            "{\"id\": \"simple_0\", \"question\": [[{\"role\": \"user\", \"content\": \"5!\"}]], \"function\": [{\"name\": \"math.factorial\", \"parameters\": {\"type\": \"dict\", \"properties\": {\"number\": {\"type\": \"integer\"}}}}]}\n",
        ],
    };
    rows.into_iter().map(str::to_owned).collect()
}

fn read(format: Format, text: &str) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("dir");
    let ext = if format == Format::Squad {
        "json"
    } else {
        format.name()
    };
    let path = dir.path().join(format!("data.{ext}"));
    std::fs::write(&path, text).expect("write");
    let spec = DatasetSpec {
        format: Some(format),
        ..DatasetSpec::new(&path)
    };
    if let Err(e) = load(&spec) {
        let named = e.to_string().contains(&path.display().to_string());
        prop_assert!(named, "{}", e);
    }
    Ok(())
}

fn score(predictions: &str, references: &str) {
    let dir = tempfile::tempdir().expect("dir");
    let (p, r) = (dir.path().join("p.jsonl"), dir.path().join("r.jsonl"));
    std::fs::write(&p, predictions).expect("write");
    std::fs::write(&r, references).expect("write");
    for metric in [
        "exact_match",
        "normalized_match",
        "accuracy",
        "squad_f1",
        "rouge1",
        "bleu",
        "chrf",
        "json_valid",
    ] {
        let files = ScoreFiles {
            predictions: &p,
            references: &r,
            id_field: "id",
            prediction_field: "prediction",
            reference_field: "reference",
            schema: None::<&Path>,
        };
        let options = OfflineOptions {
            labels: Vec::new(),
            schema: None,
            slots: Vec::new(),
            seed: 7,
        };
        let _ = score_files(metric, &files, options);
    }
}

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn jsonl_is_rows_or_a_located_error(text in fuzz::text(seeds(Format::Jsonl))) {
        read(Format::Jsonl, &text)?;
    }

    #[test]
    fn json_is_rows_or_a_located_error(text in fuzz::text(seeds(Format::Json))) {
        read(Format::Json, &text)?;
    }

    #[test]
    fn csv_and_tsv_are_rows_or_a_located_error(
        csv in fuzz::text(seeds(Format::Csv)),
        tsv in fuzz::text(seeds(Format::Tsv)),
    ) {
        read(Format::Csv, &csv)?;
        read(Format::Tsv, &tsv)?;
    }

    #[test]
    fn bfcl_is_rows_or_a_located_error(text in fuzz::text(seeds(Format::Bfcl))) {
        read(Format::Bfcl, &text)?;
    }

    #[test]
    fn squad_is_rows_or_a_located_error(text in fuzz::text(seeds(Format::Squad))) {
        read(Format::Squad, &text)?;
    }

    #[test]
    fn score_inputs_are_scored_or_refused(
        predictions in fuzz::text(vec![
            "{\"id\": \"1\", \"prediction\": \"Paris\"}\n{\"id\": 2, \"prediction\": {\"a\": [1]}}\n".to_owned(),
        ]),
        references in fuzz::text(vec![
            "{\"id\": \"1\", \"reference\": [\"Paris\", \"paris\"]}\n{\"id\": 2, \"reference\": \"{\\\"a\\\": [1]}\"}\n".to_owned(),
        ]),
    ) {
        score(&predictions, &references);
    }
}

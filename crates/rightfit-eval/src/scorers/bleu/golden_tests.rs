//! BLEU against sacrebleu 2.6.0's figures on the first 100 SciTLDR-A test papers
//! (`golden/golden_sacrebleu_scitldr100.json`); also the loader the chrF golden test shares.

use serde_json::Value;

use super::{BleuStats, corpus_bleu, pystr, sentence_bleu};
use crate::testdata;

/// The golden pairs: for each of the first 100 papers of `scitldr/test.jsonl`, in file order,
/// (first `source` sentence as the prediction, first `target` summary as the reference).
pub(crate) fn scitldr100_pairs() -> Vec<(String, String)> {
    let path = testdata::shared_data().join("scitldr/test.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (set RIGHTFIT_SHARED_DATA)", path.display()));
    let pairs: Vec<(String, String)> = text
        .lines()
        .take(100)
        .map(|line| {
            let paper: Value = serde_json::from_str(line).unwrap();
            let first = |key: &str| paper[key][0].as_str().unwrap().to_owned();
            (first("source"), first("target"))
        })
        .collect();
    assert_eq!(
        pairs.len(),
        100,
        "{}: fewer than 100 papers",
        path.display()
    );
    pairs
}

/// `golden_sacrebleu_scitldr100.json`, parsed.
pub(crate) fn sacrebleu_golden() -> Value {
    let path = testdata::golden("golden_sacrebleu_scitldr100.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (set RIGHTFIT_SHARED_DATA)", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn assert_close(what: &str, actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-9,
        "{what}: actual {actual}, sacrebleu {expected}"
    );
}

#[test]
fn golden_pairs_are_the_rouge_golden_pairs() {
    // The same pairs are listed in the ROUGE golden file, predictions with surrounding white
    // space stripped (which neither BLEU nor chrF sees); checks the loader reads what the
    // golden figures were computed on.
    let text = std::fs::read_to_string(testdata::golden("golden_rouge_scitldr100.jsonl")).unwrap();
    let rouge_pairs: Vec<(String, String)> = text
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|row| row["use_stemmer"] == Value::Bool(false))
        .map(|row| {
            let field = |key: &str| row[key].as_str().unwrap().to_owned();
            (field("prediction"), field("target"))
        })
        .collect();
    let stripped: Vec<(String, String)> = scitldr100_pairs()
        .into_iter()
        .map(|(h, r)| (h.trim_matches(pystr::is_space).to_owned(), r))
        .collect();
    assert_eq!(stripped, rouge_pairs);
}

#[test]
fn corpus_bleu_matches_sacrebleu() {
    let golden = sacrebleu_golden();
    let pairs = scitldr100_pairs();
    let hyps: Vec<&str> = pairs.iter().map(|(h, _)| h.as_str()).collect();
    let refs: Vec<Vec<&str>> = pairs.iter().map(|(_, r)| vec![r.as_str()]).collect();
    let score = corpus_bleu(&hyps, &refs).unwrap();
    assert_close(
        "corpus BLEU",
        score.score,
        golden["corpus_bleu"].as_f64().unwrap(),
    );
    assert_eq!(score.to_string(), golden["bleu_str"].as_str().unwrap());
}

#[test]
fn incremental_statistics_give_the_corpus_score() {
    let golden = sacrebleu_golden();
    let mut stats = BleuStats::default();
    for (hyp, reference) in scitldr100_pairs() {
        stats += BleuStats::new(&hyp, &[reference]);
    }
    assert_close(
        "summed BLEU",
        stats.score().score,
        golden["corpus_bleu"].as_f64().unwrap(),
    );
}

#[test]
fn sentence_bleu_matches_sacrebleu() {
    let golden = sacrebleu_golden();
    let expected = golden["sentence_bleu"].as_array().unwrap();
    let pairs = scitldr100_pairs();
    assert_eq!(expected.len(), pairs.len());
    for (i, ((hyp, reference), want)) in pairs.iter().zip(expected).enumerate() {
        let got = sentence_bleu(hyp, &[reference]).score;
        assert_close(&format!("sentence {i}"), got, want.as_f64().unwrap());
    }
}

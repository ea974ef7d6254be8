//! Tests of dataset preparation.

use std::collections::HashSet;

use rightfit_config::project::Project;

use super::*;

fn project(dir: &std::path::Path, extra: &str) -> Project {
    let mut data = String::new();
    for i in 1..=20 {
        let label = if i % 4 == 0 { "b" } else { "a" };
        data.push_str(&format!(
            "{{\"id\": \"r{i}\", \"text\": \"t{i}\", \"label\": \"{label}\"}}\n"
        ));
    }
    data.push_str("{\"id\": \"bad\", \"text\": \"t\", \"label\": \"c\"}\n");
    std::fs::write(dir.join("d.jsonl"), data).expect("write");
    let text = format!(
        r#"
[models.m]
provider = "local"
model = "x.gguf"
[components.c]
prompt = "{{{{ text }}}}"
dataset = {{ path = "d.jsonl", id = "id" }}
reference = "label"
output = {{ type = "label", labels = ["a", "b"] }}
{extra}
[[components.c.candidates]]
model = "m"
strategy = "few-shot"
k = 2
"#
    );
    Project::parse(&dir.join("rightfit.toml"), &text).expect("valid")
}

fn ids(examples: &[Example]) -> HashSet<String> {
    examples.iter().map(|e| e.id.clone()).collect()
}

#[test]
fn few_shot_examples_are_held_out_and_spread_over_labels() {
    let dir = tempfile::tempdir().expect("dir");
    let p = project(dir.path(), "few_shot = { k = 2 }");
    let prepared = prepare(&p.components["c"], None, 7).expect("prepare");
    assert_eq!(prepared.rows_read, 21);
    assert_eq!(prepared.skipped.len(), 1);
    assert!(
        prepared.skipped[0].reason.contains("not one of the labels"),
        "{:?}",
        prepared.skipped
    );
    assert_eq!(prepared.skipped[0].line, 21);
    assert_eq!(prepared.shots.len(), 2);
    let labels: HashSet<String> = prepared
        .shots
        .iter()
        .map(|s| answer_text(&s.reference))
        .collect();
    assert_eq!(labels.len(), 2, "one of each label");
    assert_eq!(prepared.examples.len(), 18);
    assert!(ids(&prepared.examples).is_disjoint(&ids(&prepared.shots)));
    // The same seed draws the same examples.
    let again = prepare(&p.components["c"], None, 7).expect("prepare");
    assert_eq!(ids(&again.shots), ids(&prepared.shots));
}

#[test]
fn a_split_evaluates_the_test_part_and_draws_shots_from_the_rest() {
    let dir = tempfile::tempdir().expect("dir");
    let p = project(
        dir.path(),
        "few_shot = { k = 2 }\nsplit = { test_fraction = 0.5, stratify = \"label\" }",
    );
    let prepared = prepare(&p.components["c"], None, 7).expect("prepare");
    assert_eq!(prepared.examples.len(), 10);
    let b = prepared
        .examples
        .iter()
        .filter(|e| e.reference == "b")
        .count();
    assert!(
        (2..=3).contains(&b),
        "stratified: about half of the 5 b rows, got {b}"
    );
    assert!(ids(&prepared.examples).is_disjoint(&ids(&prepared.shots)));
    // A limit samples within the test part.
    let limited = prepare(&p.components["c"], Some(4), 7).expect("prepare");
    assert_eq!(limited.examples.len(), 4);
    assert!(ids(&limited.examples).is_subset(&ids(&prepared.examples)));
}

#[test]
fn a_split_fraction_outside_zero_one_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("d.jsonl"), "").expect("write");
    let bad = r#"
[models.m]
provider = "local"
model = "x.gguf"
[components.c]
prompt = "{{ text }}"
dataset = { path = "d.jsonl" }
reference = "label"
output = { type = "text" }
split = { test_fraction = 1.5 }
[[components.c.candidates]]
model = "m"
"#;
    let e = Project::parse(&dir.path().join("rightfit.toml"), bad).expect_err("refused");
    assert!(e.to_string().contains("split.test_fraction"), "{e}");
}

#[test]
fn describe_names_the_first_skipped_row() {
    let example = Example {
        id: "1".into(),
        line: 1,
        vars: Value::Null,
        reference: Value::Null,
        conversation: None,
    };
    let mut prepared = Prepared {
        examples: vec![example.clone(), example],
        shots: Vec::new(),
        rows_read: 4,
        skipped: Vec::new(),
        dataset: "data/t.jsonl".into(),
        shard: None,
    };
    assert_eq!(
        prepared.describe(),
        "2 examples from data/t.jsonl (4 rows read, 0 skipped)"
    );
    for line in [3, 4] {
        prepared.skipped.push(SkippedRow {
            path: "data/t.jsonl".into(),
            line,
            reason: "no text".into(),
        });
    }
    assert_eq!(
        prepared.describe(),
        "2 examples from data/t.jsonl (4 rows read, 2 skipped; first: data/t.jsonl:3: no text)"
    );
    prepared.shard = Some(crate::shard::Shard::new(2, 3).expect("valid"));
    prepared.skipped.clear();
    assert_eq!(
        prepared.describe(),
        "shard 2/3: 1 of 2 examples from data/t.jsonl (4 rows read, 0 skipped)"
    );
}

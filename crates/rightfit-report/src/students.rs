//! Students as `rightfit students` and `rightfit distill` print them.

use std::path::Path;

use rightfit_config::project::{Component, Project};
use rightfit_types::StudentManifest;

use crate::fmt::{bytes, table, usd};
use crate::lift::{Lift, LiftRow, lift, lift_markdown, lift_terminal};
use crate::table::RunReport;

/// One configured student, trained or not.
#[derive(Debug, Clone)]
pub struct StudentListing {
    /// `COMPONENT.STUDENT`, the model candidates name.
    pub model: String,
    /// `classifier` or `lora`.
    pub kind: String,
    /// Where its rows come from, in words.
    pub source: String,
    /// Its manifest, when trained and intact.
    pub manifest: Option<StudentManifest>,
    /// Why it is not usable (not trained yet, damaged).
    pub problem: Option<String>,
}

/// The list of students.
pub fn students_terminal(students: &[StudentListing]) -> String {
    if students.is_empty() {
        return "no students: add a [[components.NAME.students]] table to the project\n".into();
    }
    let mut t = table(&[
        "model",
        "kind",
        "on",
        "data",
        "rows (train/val)",
        "validation",
        "trained",
    ]);
    for s in students {
        let (on, rows, validation, trained) = match &s.manifest {
            Some(m) => (
                m.base.model.clone(),
                format!("{}/{}", m.data.train, m.data.validation),
                figures(m),
                m.trained_at.clone(),
            ),
            None => (
                "-".into(),
                "-".into(),
                "-".into(),
                s.problem.clone().unwrap_or_default(),
            ),
        };
        t.add_row(vec![
            s.model.clone(),
            s.kind.clone(),
            on,
            s.source.clone(),
            rows,
            validation,
            trained,
        ]);
    }
    format!("{t}\n")
}

/// The validation figures of the kept epoch, short.
pub(crate) fn figures(m: &StudentManifest) -> String {
    let v = &m.training.validation;
    let mut parts = Vec::new();
    if let Some(a) = v.get("accuracy") {
        parts.push(format!("acc {:.1}%", a * 100.0));
    }
    if let Some(l) = v.get("loss") {
        parts.push(format!("loss {l:.3}"));
    }
    if let Some(b) = v.get("base_loss") {
        parts.push(format!("(base {b:.3})"));
    }
    parts.join(" ")
}

/// One student's manifest in words: what it is, what it learned from, how training went.
pub fn student_terminal(m: &StudentManifest) -> String {
    let d = &m.data;
    let t = &m.training;
    let mut out = format!(
        "{}.{} — {} on {} ({})\n",
        m.component, m.student, m.kind, m.base.model, m.base.source
    );
    if let Some(sha) = &m.base.sha256 {
        out.push_str(&format!("  base sha256     {sha}\n"));
    }
    out.push_str(&format!("  data            {}\n", d.source));
    if let Some(teacher) = &d.teacher {
        out.push_str(&format!(
            "  teacher         {teacher}{}\n",
            d.labelling_cost_usd
                .map(|c| format!(" (labelling cost {})", usd(c)))
                .unwrap_or_default()
        ));
    }
    out.push_str(&format!(
        "  rows            {} read, {} trained on, {} validation; {} refused (also evaluated), {} dropped (unparseable), {} skipped\n",
        d.read, d.train, d.validation, d.refused_overlap, d.dropped, d.skipped
    ));
    out.push_str(&format!("  data sha256     {}\n", d.sha256));
    out.push_str(&format!(
        "  training        {} epochs (kept {}), {:.1} examples/s{}{}\n",
        t.epochs,
        t.best_epoch,
        t.examples_per_s,
        t.peak_rss_bytes
            .map(|b| format!(", peak memory {}", bytes(b)))
            .unwrap_or_default(),
        if t.resumed { ", resumed" } else { "" }
    ));
    if !t.seconds.is_empty() {
        let phases: Vec<String> = t
            .seconds
            .iter()
            .map(|(k, v)| format!("{k} {v:.1}s"))
            .collect();
        out.push_str(&format!("  time            {}\n", phases.join(", ")));
    }
    let f = figures(m);
    if !f.is_empty() {
        out.push_str(&format!("  validation      {f}\n"));
    }
    out.push_str(&format!(
        "  trained         {} by rightfit {}\n",
        m.trained_at, m.rightfit
    ));
    out
}

/// The columns of the students' table: each student beside the baseline it is to replace
/// (usually the teacher).
pub(crate) fn student_headers(baseline: &str) -> Vec<String> {
    [
        "student candidate",
        &format!("retained of {baseline}"),
        "cost ×",
        "latency ×",
        "trained on",
        "data",
        "training time",
        "peak memory",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// One student's cells under [`student_headers`]: quality retained, cost and latency ×, and
/// what training took.
pub(crate) fn student_cells(candidate: &str, row: &LiftRow, m: &StudentManifest) -> Vec<String> {
    let ratio = |x: Option<f64>| x.map_or("-".to_owned(), |v| format!("{v:.3}"));
    let seconds: f64 = m.training.seconds.values().sum();
    vec![
        candidate.to_owned(),
        row.retained
            .map_or("-".to_owned(), |r| format!("{:.1}%", r * 100.0)),
        ratio(row.cost_ratio),
        ratio(row.latency_ratio),
        format!("{} rows", m.data.train + m.data.validation),
        m.data.source.clone(),
        format!("{seconds:.0} s"),
        m.training.peak_rss_bytes.map_or("-".to_owned(), bytes),
    ]
}

/// The students that have a row in `lift`, with that row.
pub(crate) fn students_in<'a>(
    lift: &'a Lift,
    students: &'a [(String, StudentManifest)],
) -> impl Iterator<Item = (&'a str, &'a LiftRow, &'a StudentManifest)> {
    students.iter().filter_map(|(candidate, m)| {
        let row = lift.rows.iter().find(|r| &r.candidate == candidate)?;
        Some((candidate.as_str(), row, m))
    })
}

/// Students beside the baseline they are to replace (usually the teacher): quality retained,
/// cost and latency ×, and what training took. `students` pairs candidate names with their
/// student's manifest; candidates without a row in the lift are left out. Empty without any.
pub fn students_lift_terminal(lift: &Lift, students: &[(String, StudentManifest)]) -> String {
    let headers = student_headers(&lift.baseline);
    let mut t = table(&headers.iter().map(String::as_str).collect::<Vec<_>>());
    let mut any = false;
    for (candidate, row, m) in students_in(lift, students) {
        any = true;
        t.add_row(student_cells(candidate, row, m));
    }
    if any { format!("{t}\n") } else { String::new() }
}

/// Every student of `project`, trained or not; `read` reads a trained student's manifest from
/// its artefact directory (`rightfit-distill` owns the format).
pub fn students_listing(
    project: &Project,
    read: impl Fn(&Path) -> Result<StudentManifest, String>,
) -> Vec<StudentListing> {
    let mut out = Vec::new();
    for c in project.components.values() {
        for s in &c.students {
            let read = if s.artefact.exists() {
                read(&s.artefact)
            } else {
                Err("not trained: run 'rightfit distill'".to_owned())
            };
            out.push(StudentListing {
                model: s.model.clone(),
                kind: s.kind.name().to_owned(),
                source: s.data.describe(),
                problem: read.as_ref().err().cloned(),
                manifest: read.ok(),
            });
        }
    }
    out
}

/// The component's candidates that answer with a trained student, with its manifest (`read`
/// as for [`students_listing`]; an unreadable one is left out).
pub fn trained_students(
    c: &Component,
    read: impl Fn(&Path) -> Result<StudentManifest, String>,
) -> Vec<(String, StudentManifest)> {
    c.candidates
        .iter()
        .filter_map(|cand| {
            let s = c.student(cand.student.as_deref()?)?;
            Some((cand.name.clone(), read(&s.artefact).ok()?))
        })
        .collect()
}

/// What follows a run's report in the table and Markdown formats: the lift table (every
/// candidate against its model's zero-shot and the baseline, `baseline` or else the best
/// candidate that is not a cascade), and in the table format the students' own table; `None`
/// when there is nothing to compare. JSON readers compute it from the summaries.
pub fn lift_section(
    r: &RunReport,
    baseline: Option<&str>,
    students: &[(String, StudentManifest)],
    markdown: bool,
) -> Option<String> {
    let lift = lift(&r.candidates, baseline)?;
    if markdown {
        return Some(format!(
            "\n{}",
            lift_markdown(&lift, &r.primary_metric).trim_end()
        ));
    }
    let mut out = format!("\n{}", lift_terminal(&lift, &r.primary_metric).trim_end());
    let table = students_lift_terminal(&lift, students);
    if !table.is_empty() {
        out.push_str("\n\n");
        out.push_str(table.trim_end());
    }
    Some(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rightfit_types::{BaseModel, TrainingDataInfo, TrainingInfo};
    use std::collections::BTreeMap;

    /// A classifier student's manifest: 85 + 9 rows, 2 s of training, 91.7% on validation.
    pub(crate) fn manifest() -> StudentManifest {
        StudentManifest {
            format: 1,
            component: "intent".into(),
            student: "clf".into(),
            kind: "classifier".into(),
            trained_at: "2026-12-03T10:00:00Z".into(),
            rightfit: "0.1.0".into(),
            base: BaseModel {
                model: "minilm".into(),
                source: "/m".into(),
                sha256: Some("ab".into()),
            },
            data: TrainingDataInfo {
                source: "dataset train.csv".into(),
                teacher: None,
                read: 100,
                dropped: 1,
                refused_overlap: 2,
                skipped: 3,
                train: 85,
                validation: 9,
                sha256: "cd".into(),
                labelling_cost_usd: None,
            },
            settings: serde_json::Value::Null,
            training: TrainingInfo {
                epochs: 12,
                best_epoch: 4,
                validation: BTreeMap::from([("accuracy".to_owned(), 0.917)]),
                seconds: BTreeMap::from([("train".to_owned(), 2.0)]),
                examples_per_s: 5000.0,
                peak_rss_bytes: None,
                resumed: false,
            },
            files: BTreeMap::new(),
        }
    }

    #[test]
    fn a_student_shows_its_rows_and_figures() {
        let text = student_terminal(&manifest());
        assert!(text.contains("intent.clf — classifier on minilm"), "{text}");
        assert!(
            text.contains("100 read, 85 trained on, 9 validation; 2 refused"),
            "{text}"
        );
        assert!(text.contains("acc 91.7%"), "{text}");
        assert!(text.contains("12 epochs (kept 4)"), "{text}");
    }

    #[test]
    fn the_list_says_what_is_not_trained() {
        let rows = [
            StudentListing {
                model: "intent.clf".into(),
                kind: "classifier".into(),
                source: "dataset".into(),
                manifest: Some(manifest()),
                problem: None,
            },
            StudentListing {
                model: "intent.lora".into(),
                kind: "lora".into(),
                source: "split".into(),
                manifest: None,
                problem: Some("not trained".into()),
            },
        ];
        let text = students_terminal(&rows);
        assert!(text.contains("85/9"), "{text}");
        assert!(text.contains("not trained"), "{text}");
        assert!(students_terminal(&[]).contains("no students"));
    }

    #[test]
    fn students_sit_beside_the_baseline_they_replace() {
        use rightfit_types::{CandidateSummary, Estimate, Percentiles};
        let summary = |name: &str, q: f64, p50: f64| CandidateSummary {
            candidate: name.to_owned(),
            model: name.to_owned(),
            strategy: "zero-shot".to_owned(),
            examples: 100,
            scored: 100,
            failures: 0,
            unparseable: 0,
            cached: 0,
            quality: Some(Estimate {
                mean: q,
                low: q - 0.01,
                high: q + 0.01,
                n: 100,
                confidence: 0.95,
            }),
            latency_ms: Some(Percentiles {
                p50,
                p95: p50,
                p99: p50,
            }),
            ttft_ms: None,
            output_tokens_per_s: None,
            tokens_in_mean: 100.0,
            tokens_out_mean: 3.0,
            tokens_in_total: 10_000,
            tokens_out_total: 300,
            cost_per_request_usd: None,
            cost_per_1k_usd: None,
            cost_total_usd: 0.0,
            peak_memory_bytes: None,
            metrics: Default::default(),
        };
        let candidates = [
            summary("qwen/zero-shot", 0.4, 100.0),
            summary("clf/distilled", 0.9, 5.0),
        ];
        let lift = crate::lift(&candidates, Some("qwen/zero-shot")).expect("lift");
        let text = students_lift_terminal(&lift, &[("clf/distilled".into(), manifest())]);
        assert!(text.contains("retained of qwen/zero-shot"), "{text}");
        assert!(text.contains("225.0%"), "{text}");
        assert!(text.contains("94 rows"), "{text}");
        assert!(students_lift_terminal(&lift, &[]).is_empty());
    }
}

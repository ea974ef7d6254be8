//! The lift table (the terminal's figures: every candidate against its model's zero-shot and
//! the baseline) with a bar for the share of the baseline's quality each keeps, then the
//! trained students: what each keeps, at what cost and latency, and what training took.

use rightfit_types::StudentManifest;

use super::escape::esc;
use crate::lift::{answer, cells, headers, lift};
use crate::students::{figures, student_cells, student_headers, students_in};
use crate::table::RunReport;

/// Width in pixels of the bar of a candidate that keeps all of the baseline's quality; a bar
/// stops at 1.5 times it.
const FULL_PX: f64 = 120.0;

/// The lift table and the students' table; nothing with fewer than two candidates.
pub(super) fn lift_tables(
    out: &mut String,
    r: &RunReport,
    baseline: Option<&str>,
    students: &[(String, StudentManifest)],
) {
    let Some(l) = lift(&r.candidates, baseline) else {
        return;
    };
    let trained: Vec<_> = students_in(&l, students).collect();
    out.push_str(&format!(
        "<h3>Lift against <span class=\"name\">{}</span></h3>\n",
        esc(&l.baseline)
    ));
    out.push_str("<div class=\"scroll\"><table class=\"lift\">\n<thead><tr>");
    for (i, h) in headers(&r.primary_metric).iter().enumerate() {
        let class = if i == 0 { "" } else { " class=\"num\"" };
        out.push_str(&format!("<th{class}>{}</th>", esc(h)));
    }
    out.push_str("<th>kept of the baseline</th></tr></thead>\n<tbody>\n");
    for row in &l.rows {
        out.push_str(if row.is_baseline {
            "<tr class=\"baseline\">"
        } else {
            "<tr>"
        });
        for (i, cell) in cells(row).iter().enumerate() {
            if i > 0 {
                out.push_str(&format!("<td class=\"num\">{}</td>", esc(cell)));
                continue;
            }
            let badge = if trained.iter().any(|(c, _, _)| *c == row.candidate) {
                " <span class=\"badge student\">student</span>"
            } else {
                ""
            };
            out.push_str(&format!("<th scope=\"row\">{}{badge}</th>", esc(cell)));
        }
        out.push_str(&bar(row.retained));
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
    out.push_str(&format!("<p class=\"answer\">{}.</p>\n", esc(&answer(&l))));

    if trained.is_empty() {
        return;
    }
    out.push_str("<h4>Trained students</h4>\n<div class=\"scroll\"><table class=\"students\">\n");
    out.push_str("<thead><tr>");
    let mut h = student_headers(&l.baseline);
    h.extend(["student".to_owned(), "validation".to_owned()]);
    for (i, name) in h.iter().enumerate() {
        let class = if numeric(i) { " class=\"num\"" } else { "" };
        out.push_str(&format!("<th{class}>{}</th>", esc(name)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (candidate, row, m) in trained {
        let mut c = student_cells(candidate, row, m);
        c.push(format!("{} on {}", m.kind, m.base.model));
        let t = &m.training;
        c.push(format!(
            "{} (epoch {} of {})",
            figures(m),
            t.best_epoch,
            t.epochs
        ));
        out.push_str("<tr>");
        for (i, cell) in c.iter().enumerate() {
            if i == 0 {
                out.push_str(&format!("<th scope=\"row\">{}</th>", esc(cell)));
            } else if numeric(i) {
                out.push_str(&format!("<td class=\"num\">{}</td>", esc(cell)));
            } else {
                out.push_str(&format!("<td>{}</td>", esc(cell)));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

/// Whether the students' table's column `i` holds a figure (retained, cost ×, latency ×,
/// training time, peak memory), right-aligned.
fn numeric(i: usize) -> bool {
    matches!(i, 1..=3 | 6 | 7)
}

/// A bar as long as the share kept of the baseline's quality, with the baseline's length
/// marked; an empty cell when the share is unknown.
fn bar(retained: Option<f64>) -> String {
    let Some(x) = retained else {
        return "<td class=\"bar\"></td>".to_owned();
    };
    let px = (x.clamp(0.0, 1.5) * FULL_PX).round();
    format!(
        "<td class=\"bar\"><span class=\"track\"><span class=\"fill\" style=\"width:{px}px\" \
         title=\"{:.0}% of the baseline\"></span></span></td>",
        x * 100.0
    )
}

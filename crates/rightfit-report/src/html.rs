//! The self-contained HTML report: charts (SVG drawn with `plotters`), the recommendation, the
//! aspects table, and a filterable per-example table. One file, no network: the CSS, the script
//! and the charts are inline, and nothing links outside the page.
//!
//! - [`axes`]: a chart's points, linear and log scales, time labels, the quality range.
//! - [`charts`]: quality against cost and against p95 latency, with their Pareto frontiers.
//! - [`distribution`]: latency and time-to-first-token distributions per candidate.
//! - [`decision`]: the recommendation block and the aspects table.
//! - [`lift`]: the lift table with bars, and the trained students beside the baseline.
//! - [`examples`]: the per-example table and its filters (`report.js` runs them).
//! - [`escape`]: user text made safe for the page.
//!
//! Every piece of user text (names, inputs, outputs, errors) goes through `escape::esc`. The
//! output is a function of the input alone: no clock, no randomness.

mod axes;
mod charts;
mod decision;
mod distribution;
mod escape;
mod examples;
mod lift;
#[cfg(test)]
mod tests;

use rightfit_decide::Recommendation;
use rightfit_types::{ExampleRecord, StudentManifest};

use crate::table::{RunReport, comparison_line, extra_columns, headers, rows};
use escape::esc;

/// The page's style sheet.
const CSS: &str = include_str!("html/report.css");
/// The page's only script: the per-example filters.
const JS: &str = include_str!("html/report.js");

/// One component's part of the HTML report.
#[derive(Debug, Clone)]
pub struct HtmlSection {
    /// The run's summaries and comparisons.
    pub report: RunReport,
    /// Every example record of the run (all candidates).
    pub records: Vec<ExampleRecord>,
    /// The recommendation for the component, when one was made.
    pub recommendation: Option<Recommendation>,
    /// What the lift table is set against, and the trained students to show beside it.
    pub lift: HtmlLift,
}

/// The lift table's inputs beyond the run.
#[derive(Debug, Clone, Default)]
pub struct HtmlLift {
    /// The component's baseline candidate; `None`: the best candidate that is not a cascade.
    pub baseline: Option<String>,
    /// The candidates that answer with a trained student, with its manifest.
    pub students: Vec<(String, StudentManifest)>,
}

/// The whole report as one HTML document. `title` heads the page; `generated` says when (shown
/// as given).
///
/// Each section shows its run, the recommendation (when there is one), the summary table, the
/// lift table and the trained students (with two candidates or more), the charts, the aspects
/// table and the per-example table. The page opens from `file://` with no
/// network. Its per-example filters can be set from the URL fragment, e.g.
/// `report.html#cand=gpt-4o-mini%2Fzero-shot&only=wrong&q=refund` (`only` is `all`, `wrong`,
/// `failed` or `disagree`; `report.js` says what each shows).
pub fn html(title: &str, generated: &str, sections: &[HtmlSection]) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!("<title>{}</title>\n", esc(title)));
    out.push_str(&format!("<style>\n{CSS}</style>\n</head>\n<body>\n"));
    out.push_str(&format!(
        "<header class=\"page\">\n<h1>{}</h1>\n<p class=\"generated\">Generated {} by rightfit.</p>\n",
        esc(title),
        esc(generated)
    ));
    if sections.len() > 1 {
        out.push_str("<nav><ul>\n");
        for (i, s) in sections.iter().enumerate() {
            out.push_str(&format!(
                "<li><a href=\"#sec-{i}\">{}</a></li>\n",
                esc(&s.report.run.component)
            ));
        }
        out.push_str("</ul></nav>\n");
    }
    out.push_str("</header>\n<main>\n");
    if sections.is_empty() {
        out.push_str("<p class=\"note\">No runs to report.</p>\n");
    }
    for (i, s) in sections.iter().enumerate() {
        section(&mut out, i, s);
    }
    out.push_str("</main>\n");
    out.push_str(&format!("<script>\n{JS}</script>\n</body>\n</html>\n"));
    out
}

/// One component: its run, recommendation, summary, lift, charts, aspects and examples.
fn section(out: &mut String, index: usize, s: &HtmlSection) {
    let r = &s.report;
    let run = &r.run;
    out.push_str(&format!(
        "<section class=\"component\" id=\"sec-{index}\" data-component=\"{}\">\n",
        esc(&run.component)
    ));
    out.push_str(&format!(
        "<h2>Component <span class=\"name\">{}</span></h2>\n",
        esc(&run.component)
    ));
    out.push_str("<dl class=\"run\">\n");
    let mut item = |term: &str, value: String| {
        out.push_str(&format!("<dt>{term}</dt><dd>{value}</dd>\n"));
    };
    item("run", format!("<code>{}</code>", esc(&run.id)));
    item("dataset", esc(&run.dataset));
    item(
        "rows",
        format!(
            "{} used, {} skipped{}",
            run.rows_used,
            run.rows_skipped,
            run.limit.map_or(String::new(), |l| format!(" (limit {l})"))
        ),
    );
    item(
        "date",
        match &run.finished_at {
            Some(end) => format!("{} → {}", esc(&run.started_at), esc(end)),
            None => format!("{} (not finished)", esc(&run.started_at)),
        },
    );
    item("status", esc(run.status.as_str()));
    item("primary metric", esc(&r.primary_metric));
    item("seed", run.seed.to_string());
    out.push_str("</dl>\n");

    let chosen = s
        .recommendation
        .as_ref()
        .and_then(|rec| rec.chosen.as_deref());
    match &s.recommendation {
        Some(rec) => decision::recommendation(out, rec),
        None => out.push_str(
            "<div class=\"recommendation none\"><p class=\"note\">No recommendation was made \
             for this run (run <code>rightfit recommend</code> with the team's constraints).</p>\
             </div>\n",
        ),
    }

    out.push_str("<h3>Summary</h3>\n");
    summary_table(out, r, chosen);
    lift::lift_tables(out, r, s.lift.baseline.as_deref(), &s.lift.students);

    out.push_str("<h3>Charts</h3>\n<div class=\"charts\">\n");
    charts::quality_cost(out, r, s.recommendation.as_ref());
    charts::quality_latency(out, r, s.recommendation.as_ref());
    distribution::latency(out, r, &s.records);
    distribution::ttft(out, r, &s.records);
    out.push_str("</div>\n");

    if let Some(rec) = &s.recommendation {
        decision::aspects(out, rec);
    }

    out.push_str("<h3>Examples</h3>\n");
    examples::table(out, index, r, &s.records);
    out.push_str("</section>\n");
}

/// The terminal report's table (same columns and figures), the chosen candidate's row marked,
/// then the paired comparisons.
fn summary_table(out: &mut String, r: &RunReport, chosen: Option<&str>) {
    if r.candidates.is_empty() {
        out.push_str("<p class=\"note\">No candidate summaries in this run.</p>\n");
        return;
    }
    let extra = extra_columns(r);
    out.push_str("<div class=\"scroll\"><table class=\"summary\">\n<thead><tr>");
    for (i, h) in headers(r, &extra).iter().enumerate() {
        let class = if i == 0 { "" } else { " class=\"num\"" };
        out.push_str(&format!("<th{class}>{}</th>", esc(h)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (summary, row) in r.candidates.iter().zip(rows(r, &extra)) {
        let is_chosen = chosen == Some(summary.candidate.as_str());
        out.push_str(if is_chosen {
            "<tr class=\"chosen\">"
        } else {
            "<tr>"
        });
        for (i, cell) in row.cells.iter().enumerate() {
            if i == 0 {
                let mark = if is_chosen {
                    " <span class=\"badge\">chosen</span>"
                } else {
                    ""
                };
                out.push_str(&format!("<th scope=\"row\">{}{mark}</th>", esc(cell)));
            } else {
                out.push_str(&format!("<td class=\"num\">{}</td>", esc(cell)));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
    if !r.comparisons.is_empty() {
        out.push_str("<ul class=\"comparisons\">\n");
        for c in &r.comparisons {
            out.push_str(&format!("<li>{}</li>\n", esc(&comparison_line(c))));
        }
        out.push_str("</ul>\n");
    }
}

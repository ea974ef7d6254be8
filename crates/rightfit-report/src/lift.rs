//! The lift table: can a small model take over a component, and what does it take?
//!
//! Every candidate is set against a *baseline* (the large model, usually zero-shot) and against
//! its own model's zero-shot candidate: how much quality each strategy adds to a model, how much
//! of the baseline's quality it keeps, and at what share of the baseline's cost and latency.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
use rightfit_types::{CandidateSummary, Estimate};
use serde::Serialize;

use crate::fmt::pct;

/// The strategy name of a model's plain, unaided candidate.
const ZERO_SHOT: &str = "zero-shot";
/// The strategy name of a cascade, which is never the baseline nor the "best small" answer.
const CASCADE: &str = "cascade";

/// A model's zero-shot reference: its candidate named `MODEL/zero-shot`, else its first
/// zero-shot candidate (a constrained or renamed zero-shot is then compared with it).
fn zero_shot_of<'a>(
    candidates: &'a [CandidateSummary],
    model: &str,
) -> Option<&'a CandidateSummary> {
    let plain = format!("{model}/{ZERO_SHOT}");
    candidates
        .iter()
        .find(|z| z.model == model && z.strategy == ZERO_SHOT && z.candidate == plain)
        .or_else(|| {
            candidates
                .iter()
                .find(|z| z.model == model && z.strategy == ZERO_SHOT)
        })
}

/// One candidate set against its model's zero-shot candidate and against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiftRow {
    /// The candidate's name.
    pub candidate: String,
    /// Its model (a cascade: its first stage's model).
    pub model: String,
    /// Its strategy.
    pub strategy: String,
    /// Its primary-metric quality, with the interval.
    pub quality: Option<Estimate>,
    /// Quality minus the same model's zero-shot quality, absolute (0.12 = 12 points); `None`
    /// for a zero-shot row, or when either quality is unknown or the model has no zero-shot
    /// candidate.
    pub vs_zero_shot: Option<f64>,
    /// Quality ÷ the baseline's quality; `None` when either is unknown or the baseline's is 0.
    pub retained: Option<f64>,
    /// Cost per 1000 requests ÷ the baseline's; `None` when either is unknown or the baseline's
    /// is 0.
    pub cost_ratio: Option<f64>,
    /// Median latency ÷ the baseline's; `None` when either is unknown or the baseline's is 0.
    pub latency_ratio: Option<f64>,
    /// This row is the baseline.
    pub is_baseline: bool,
}

/// The lift table of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lift {
    /// The baseline candidate's name.
    pub baseline: String,
    /// The baseline's quality.
    pub baseline_quality: Option<Estimate>,
    /// Every candidate, grouped by model (the baseline's model last), zero-shot first within a
    /// model, then by quality, best first (unknown quality last; ties keep config order).
    pub rows: Vec<LiftRow>,
    /// The candidate of another model than the baseline's, not a cascade, that keeps the most of
    /// the baseline's quality (ties: the cheaper, then the first in `rows`); `None` when no such
    /// candidate has a `retained`.
    pub best_small: Option<String>,
}

/// The lift table of `candidates` (a run's summaries, in config order) against `baseline`.
///
/// The baseline is the named candidate; when no name is given or no candidate has it, the
/// best-quality candidate that is not a cascade (the first of equals). `None` with fewer than 2
/// candidates, or when every candidate is a cascade and none is named.
pub fn lift(candidates: &[CandidateSummary], baseline: Option<&str>) -> Option<Lift> {
    if candidates.len() < 2 {
        return None;
    }
    let base = baseline
        .and_then(|name| candidates.iter().find(|c| c.candidate == name))
        .or_else(|| best_non_cascade(candidates))?;
    let base_quality = base.quality.as_ref().map(|q| q.mean);
    let base_p50 = base.latency_ms.as_ref().map(|p| p.p50);
    let mut rows: Vec<(usize, LiftRow)> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let quality = c.quality.as_ref().map(|q| q.mean);
            let zero_shot = zero_shot_of(candidates, &c.model)
                .filter(|z| z.candidate != c.candidate)
                .and_then(|z| z.quality.as_ref().map(|q| q.mean));
            let row = LiftRow {
                candidate: c.candidate.clone(),
                model: c.model.clone(),
                strategy: c.strategy.clone(),
                quality: c.quality.clone(),
                vs_zero_shot: quality.zip(zero_shot).map(|(q, z)| q - z),
                retained: ratio(quality, base_quality),
                cost_ratio: ratio(c.cost_per_1k_usd, base.cost_per_1k_usd),
                latency_ratio: ratio(c.latency_ms.as_ref().map(|p| p.p50), base_p50),
                is_baseline: c.candidate == base.candidate,
            };
            (i, row)
        })
        .collect();
    let is_reference = |r: &LiftRow| {
        zero_shot_of(candidates, &r.model).is_some_and(|z| z.candidate == r.candidate)
    };
    let model_order = |model: &str| {
        let first = candidates
            .iter()
            .position(|c| c.model == model)
            .unwrap_or(candidates.len());
        (model == base.model, first)
    };
    rows.sort_by(|(ia, a), (ib, b)| {
        model_order(&a.model)
            .cmp(&model_order(&b.model))
            .then(is_reference(a).cmp(&is_reference(b)).reverse())
            .then(quality_desc(a.quality.as_ref(), b.quality.as_ref()))
            .then(ia.cmp(ib))
    });
    let rows: Vec<LiftRow> = rows.into_iter().map(|(_, r)| r).collect();
    let best_small = rows
        .iter()
        .filter(|r| r.model != base.model && r.strategy != CASCADE)
        .filter_map(|r| r.retained.map(|x| (r, x)))
        .fold(None::<(&LiftRow, f64)>, |best, (r, x)| match best {
            Some((b, bx)) if bx > x || (bx == x && !cheaper(r, b)) => Some((b, bx)),
            _ => Some((r, x)),
        })
        .map(|(r, _)| r.candidate.clone());
    Some(Lift {
        baseline: base.candidate.clone(),
        baseline_quality: base.quality.clone(),
        rows,
        best_small,
    })
}

/// Whether `a` costs strictly less than `b` relative to the baseline (unknown costs last).
fn cheaper(a: &LiftRow, b: &LiftRow) -> bool {
    match (a.cost_ratio, b.cost_ratio) {
        (Some(x), Some(y)) => x < y,
        (Some(_), None) => true,
        _ => false,
    }
}

/// The best-quality candidate that is not a cascade; the first of equals; unknown quality
/// counts as below every known one.
fn best_non_cascade(candidates: &[CandidateSummary]) -> Option<&CandidateSummary> {
    candidates.iter().filter(|c| c.strategy != CASCADE).fold(
        None,
        |best: Option<&CandidateSummary>, c| match best {
            Some(b) if quality_desc(c.quality.as_ref(), b.quality.as_ref()).is_ge() => Some(b),
            _ => Some(c),
        },
    )
}

/// Orders qualities best first, unknown last.
fn quality_desc(a: Option<&Estimate>, b: Option<&Estimate>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(a), Some(b)) => b.mean.total_cmp(&a.mean),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

/// `x ÷ base`, when both are known and `base` is positive.
fn ratio(x: Option<f64>, base: Option<f64>) -> Option<f64> {
    match (x, base) {
        (Some(x), Some(b)) if b > 0.0 => Some(x / b),
        _ => None,
    }
}

/// A ratio such as `0.12×`, with more digits below 0.1 so a small share does not read as 0.
fn times(x: f64) -> String {
    if x == 0.0 {
        "0×".to_owned()
    } else if x < 0.1 {
        format!("{x:.3}×")
    } else {
        format!("{x:.2}×")
    }
}

fn share(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

pub(crate) fn headers(primary_metric: &str) -> Vec<String> {
    vec![
        "candidate".to_owned(),
        format!("{primary_metric} % (95% CI)"),
        "vs zero-shot".to_owned(),
        "retained".to_owned(),
        "cost ×".to_owned(),
        "p50 ×".to_owned(),
    ]
}

pub(crate) fn cells(r: &LiftRow) -> Vec<String> {
    let dash = || "—".to_owned();
    let name = if r.is_baseline {
        format!("{} (baseline)", r.candidate)
    } else {
        r.candidate.clone()
    };
    vec![
        name,
        r.quality.as_ref().map_or_else(dash, |q| {
            format!("{} [{}, {}]", pct(q.mean), pct(q.low), pct(q.high))
        }),
        r.vs_zero_shot
            .map_or_else(dash, |d| format!("{:+.1}", d * 100.0)),
        r.retained.map_or_else(dash, share),
        r.cost_ratio.map_or_else(dash, times),
        r.latency_ratio.map_or_else(dash, times),
    ]
}

/// The one-line answer: the best small candidate, what it keeps and what it costs.
pub(crate) fn answer(l: &Lift) -> String {
    let Some(row) = l
        .best_small
        .as_ref()
        .and_then(|name| l.rows.iter().find(|r| &r.candidate == name))
    else {
        return format!(
            "no candidate of a smaller model can be set against {} (its quality or theirs is unknown)",
            l.baseline
        );
    };
    let mut line = format!(
        "best small: {} keeps {} of {}'s quality",
        row.candidate,
        row.retained.map_or_else(|| "—".to_owned(), share),
        l.baseline
    );
    match (row.cost_ratio, row.latency_ratio) {
        (Some(c), Some(t)) => line.push_str(&format!(
            " at {} its cost and {} its median latency",
            times(c),
            times(t)
        )),
        (Some(c), None) => line.push_str(&format!(" at {} its cost", times(c))),
        (None, Some(t)) => line.push_str(&format!(
            " at {} its median latency (cost unknown)",
            times(t)
        )),
        (None, None) => line.push_str(" (cost and latency unknown)"),
    }
    if let Some(d) = row.vs_zero_shot {
        line.push_str(&format!(
            "; {} adds {:+.1} points over {}'s zero-shot",
            row.strategy,
            d * 100.0,
            row.model
        ));
    }
    line
}

/// The lift table for the terminal, then the one-line answer.
pub fn lift_terminal(l: &Lift, primary_metric: &str) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(headers(primary_metric));
    for r in &l.rows {
        table.add_row(cells(r).into_iter().enumerate().map(|(i, c)| {
            let cell = Cell::new(c);
            if i == 0 {
                cell
            } else {
                cell.set_alignment(CellAlignment::Right)
            }
        }));
    }
    format!("lift against {}\n{table}\n{}\n", l.baseline, answer(l))
}

/// The lift table in Markdown: a heading, the table, the one-line answer.
pub fn lift_markdown(l: &Lift, primary_metric: &str) -> String {
    let h = headers(primary_metric);
    let mut out = format!("## Lift against {}\n\n", l.baseline);
    out.push_str(&format!("| {} |\n", h.join(" | ")));
    out.push_str(&format!(
        "|{}\n",
        (0..h.len())
            .map(|i| if i == 0 { "---|" } else { "---:|" })
            .collect::<String>()
    ));
    for r in &l.rows {
        let cells: Vec<String> = cells(r).iter().map(|c| c.replace('|', "\\|")).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out.push_str(&format!("\n{}\n", answer(l)));
    out
}

#[cfg(test)]
mod tests;

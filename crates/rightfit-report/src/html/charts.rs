//! Quality against cost and against p95 latency: one point per candidate with its interval, the
//! Pareto frontier drawn as a step line through its (highlighted) points, the chosen candidate
//! ringed. Drawn with `plotters` into SVG.
//!
//! The frontier is computed here from the plotted (measured) figures with
//! [`rightfit_decide::pareto::frontier`], so the line always joins the points it is drawn
//! through; when the recommendation's own frontier differs (its figures can be estimates for a
//! target device), the figure says so.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rightfit_decide::Recommendation;
use rightfit_decide::pareto::frontier;

use super::axes::{Point, Scale, ms_label, quality_label, quality_range};
use super::escape::esc;
use crate::fmt::usd;
use crate::table::RunReport;

/// Chart size in SVG pixels (scaled to the page's width by CSS).
const SIZE: (u32, u32) = (640, 420);
/// A frontier point.
pub(super) const FRONTIER: RGBColor = RGBColor(0xD5, 0x5E, 0x00);
/// A point off the frontier.
pub(super) const OTHER: RGBColor = RGBColor(0x00, 0x72, 0xB2);
/// Text and the chosen candidate's ring.
const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
/// Grid lines.
const GRID: RGBColor = RGBColor(0xE4, 0xE4, 0xE4);
/// Interval bars.
const BAR: RGBColor = RGBColor(0x88, 0x88, 0x88);

/// What differs between the two scatter charts.
struct Spec<'a> {
    /// `data-chart` of the figure.
    key: &'a str,
    /// The figure's caption, HTML.
    caption: String,
    x_desc: &'a str,
    y_desc: String,
    x_label: fn(f64) -> String,
    /// Why a candidate with a quality but no x value is not plotted.
    missing_x: &'a str,
    /// The frontier in the recommendation, if any, to compare with the plotted one.
    recommended_frontier: Option<&'a [String]>,
    chosen: Option<&'a str>,
}

/// Quality against US dollars per 1,000 requests.
pub(super) fn quality_cost(out: &mut String, r: &RunReport, rec: Option<&Recommendation>) {
    let spec = Spec {
        key: "quality-cost",
        caption: format!(
            "<b>Quality vs cost.</b> Each point is a candidate: its mean {} (bars: the \
             confidence interval) against its cost per 1,000 requests. Orange points are on the \
             Pareto frontier — no other candidate is both at least as cheap and at least as good \
             — and the step line joins them. The ringed point is the chosen candidate.",
            esc(&r.primary_metric)
        ),
        x_desc: "US dollars per 1,000 requests",
        y_desc: format!("{} (%)", r.primary_metric),
        x_label: usd,
        missing_x: "no cost (unknown price)",
        recommended_frontier: rec.map(|rec| rec.pareto_cost.as_slice()),
        chosen: rec.and_then(|rec| rec.chosen.as_deref()),
    };
    let xs = r
        .candidates
        .iter()
        .map(|s| (s.candidate.as_str(), s.quality.as_ref(), s.cost_per_1k_usd))
        .collect::<Vec<_>>();
    scatter(out, &spec, &xs);
}

/// Quality against p95 end-to-end latency.
pub(super) fn quality_latency(out: &mut String, r: &RunReport, rec: Option<&Recommendation>) {
    let spec = Spec {
        key: "quality-latency",
        caption: format!(
            "<b>Quality vs p95 latency.</b> Each point is a candidate: its mean {} (bars: the \
             confidence interval) against the 95th percentile of its end-to-end latency as \
             measured in this run. Orange points are on the Pareto frontier — no other candidate \
             is both at least as fast and at least as good. The ringed point is the chosen \
             candidate.",
            esc(&r.primary_metric)
        ),
        x_desc: "p95 latency",
        y_desc: format!("{} (%)", r.primary_metric),
        x_label: ms_label,
        missing_x: "no latency measured",
        recommended_frontier: rec.map(|rec| rec.pareto_latency.as_slice()),
        chosen: rec.and_then(|rec| rec.chosen.as_deref()),
    };
    let xs = r
        .candidates
        .iter()
        .map(|s| {
            (
                s.candidate.as_str(),
                s.quality.as_ref(),
                s.latency_ms.as_ref().map(|p| p.p95),
            )
        })
        .collect::<Vec<_>>();
    scatter(out, &spec, &xs);
}

/// The figure: chart, caption, frontier, and who was not plotted and why.
fn scatter(
    out: &mut String,
    spec: &Spec<'_>,
    candidates: &[(&str, Option<&rightfit_types::Estimate>, Option<f64>)],
) {
    let mut points = Vec::new();
    let mut no_quality = Vec::new();
    let mut no_x = Vec::new();
    for &(name, quality, x) in candidates {
        match (quality, x) {
            (Some(q), Some(x)) if q.mean.is_finite() && x.is_finite() && x >= 0.0 => {
                let finite = |v: f64| if v.is_finite() { v } else { q.mean };
                points.push(Point {
                    name: name.to_owned(),
                    x,
                    y: q.mean,
                    low: finite(q.low),
                    high: finite(q.high),
                });
            }
            (None, _) => no_quality.push(name),
            (Some(q), _) if !q.mean.is_finite() => no_quality.push(name),
            _ => no_x.push(name),
        }
    }
    let on: Vec<usize> = frontier(&points.iter().map(|p| (p.x, p.y)).collect::<Vec<_>>());

    out.push_str(&format!(
        "<figure class=\"chart\" data-chart=\"{}\">\n",
        spec.key
    ));
    if points.is_empty() {
        out.push_str(
            "<p class=\"note empty\">Nothing to plot: no candidate has both figures.</p>\n",
        );
    } else {
        match draw(spec, &points, &on) {
            Ok(svg) => out.push_str(&svg),
            Err(e) => out.push_str(&format!(
                "<p class=\"note\">The chart could not be drawn: {}</p>\n",
                esc(&e)
            )),
        }
    }
    out.push_str(&format!("<figcaption>{}", spec.caption));
    if !points.is_empty() && Scale::for_values(&xs(&points)) == Scale::Log {
        out.push_str(" The x axis is logarithmic: the values span more than 100×.");
    }
    out.push_str("</figcaption>\n");
    if !on.is_empty() {
        let names: Vec<String> = on.iter().map(|&i| esc(&points[i].name)).collect();
        out.push_str(&format!(
            "<p class=\"frontier\">Pareto frontier: {}</p>\n",
            names.join(" → ")
        ));
    }
    if let Some(recommended) = spec.recommended_frontier {
        let plotted: Vec<&str> = on.iter().map(|&i| points[i].name.as_str()).collect();
        if !recommended.is_empty() && plotted != recommended {
            let names: Vec<String> = recommended.iter().map(|n| esc(n)).collect();
            out.push_str(&format!(
                "<p class=\"note\">The recommendation's frontier differs (its figures can be \
                 estimates for the target device): {}</p>\n",
                names.join(" → ")
            ));
        }
    }
    if !no_x.is_empty() || !no_quality.is_empty() {
        out.push_str("<p class=\"not-plotted\">Not plotted: ");
        let mut parts = Vec::new();
        if !no_x.is_empty() {
            parts.push(format!(
                "{}: {}",
                spec.missing_x,
                no_x.iter().map(|n| esc(n)).collect::<Vec<_>>().join(", ")
            ));
        }
        if !no_quality.is_empty() {
            parts.push(format!(
                "no quality score: {}",
                no_quality
                    .iter()
                    .map(|n| esc(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.push_str(&parts.join("; "));
        out.push_str(".</p>\n");
    }
    out.push_str("</figure>\n");
}

fn xs(points: &[Point]) -> Vec<f64> {
    points.iter().map(|p| p.x).collect()
}

/// The SVG of one scatter chart.
fn draw(spec: &Spec<'_>, points: &[Point], on: &[usize]) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        plot(&root, spec, points, on).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

fn plot(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    spec: &Spec<'_>,
    points: &[Point],
    on: &[usize],
) -> DrawResult {
    root.fill(&WHITE)?;
    let scale = Scale::for_values(&xs(points));
    let (x0, x1) = scale.range(&xs(points), 0.3);
    let (y0, y1) = quality_range(points);
    let mut chart = ChartBuilder::on(root)
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let x_label = spec.x_label;
    let x_fmt = move |c: &f64| x_label(scale.value_at(*c));
    let y_fmt = move |v: &f64| quality_label(*v, y1 - y0);
    chart
        .configure_mesh()
        .x_desc(spec.x_desc)
        .y_desc(spec.y_desc.as_str())
        .x_labels(scale.labels(x0, x1, 7))
        .y_labels(8)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .axis_desc_style(("sans-serif", 17).into_font().color(&INK))
        .label_style(("sans-serif", 15).into_font().color(&INK))
        .draw()?;

    let at = |p: &Point, y: f64| (scale.chart_at(p.x), y);

    // The frontier as a step line: from each point across to the next one's cost, then up.
    let mut steps = Vec::new();
    for (k, &i) in on.iter().enumerate() {
        steps.push(at(&points[i], points[i].y));
        if let Some(&next) = on.get(k + 1) {
            steps.push((scale.chart_at(points[next].x), points[i].y));
        }
    }
    if let Some(&last) = on.last() {
        steps.push((x1, points[last].y));
    }
    chart.draw_series(std::iter::once(PathElement::new(
        steps,
        FRONTIER.mix(0.8).stroke_width(2),
    )))?;

    // Interval bars with caps.
    let bar = BAR.stroke_width(1);
    chart.draw_series(
        points
            .iter()
            .map(|p| PathElement::new(vec![at(p, p.low), at(p, p.high)], bar)),
    )?;
    chart.draw_series(points.iter().flat_map(|p| {
        [p.low, p.high]
            .map(|y| EmptyElement::at(at(p, y)) + PathElement::new(vec![(-4, 0), (4, 0)], bar))
    }))?;

    // Points: frontier ones orange and larger, then the chosen one's ring.
    chart.draw_series(points.iter().enumerate().map(|(i, p)| {
        if on.contains(&i) {
            Circle::new(at(p, p.y), 6, FRONTIER.filled())
        } else {
            Circle::new(at(p, p.y), 5, OTHER.filled())
        }
    }))?;
    if let Some(chosen) = spec.chosen {
        chart.draw_series(
            points
                .iter()
                .filter(|p| p.name == chosen)
                .map(|p| Circle::new(at(p, p.y), 11, INK.stroke_width(2))),
        )?;
    }

    // Labels, placed where they overlap neither each other nor the plot's edge when possible.
    let (px, py) = chart.plotting_area().get_pixel_range();
    let mut placed: Vec<Rect> = Vec::new();
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| points[a].x.total_cmp(&points[b].x).then(a.cmp(&b)));
    let mut labels = Vec::new();
    for i in order {
        let p = &points[i];
        let text = if spec.chosen == Some(p.name.as_str()) {
            format!("{} (chosen)", p.name)
        } else {
            p.name.clone()
        };
        let anchor = chart.backend_coord(&at(p, p.y));
        let (dx, dy, right) = place(anchor, &text, &placed, (&px, &py));
        placed.push(label_rect(anchor, &text, dx, dy, right));
        labels.push((at(p, p.y), text, dx, dy, right));
    }
    chart.draw_series(labels.into_iter().map(|(coord, text, dx, dy, right)| {
        let h = if right { HPos::Left } else { HPos::Right };
        let style = ("sans-serif", 16)
            .into_font()
            .color(&INK)
            .pos(Pos::new(h, VPos::Center));
        // A translucent backing keeps the label readable over lines and bars.
        let (l, t, r, b) = label_rect((0, 0), &text, dx, dy, right);
        EmptyElement::at(coord)
            + Rectangle::new([(l - 2, t), (r + 2, b)], WHITE.mix(0.8).filled())
            + Text::new(text, (dx, dy), style)
    }))?;
    Ok(())
}

/// A label's box in pixels: left, top, right, bottom.
type Rect = (i32, i32, i32, i32);

/// Rough width of `text` at 13 px (16 / 1.24: plotters scales font sizes down) (no font metrics without a font backend).
fn text_width(text: &str) -> i32 {
    i32::try_from(text.chars().count()).unwrap_or(i32::MAX / 8) * 7
}

fn label_rect(anchor: (i32, i32), text: &str, dx: i32, dy: i32, right: bool) -> Rect {
    let w = text_width(text);
    let (x, y) = (anchor.0 + dx, anchor.1 + dy);
    if right {
        (x, y - 8, x + w, y + 8)
    } else {
        (x - w, y - 8, x, y + 8)
    }
}

/// The first offset (right of the point, then left, then further up or down) whose box stays in
/// the plot and overlaps no placed label; the first choice when none does.
fn place(
    anchor: (i32, i32),
    text: &str,
    placed: &[Rect],
    (px, py): (&std::ops::Range<i32>, &std::ops::Range<i32>),
) -> (i32, i32, bool) {
    const TRIES: [(i32, i32, bool); 10] = [
        (10, 0, true),
        (-10, 0, false),
        (10, -16, true),
        (10, 16, true),
        (-10, -16, false),
        (-10, 16, false),
        (10, -32, true),
        (10, 32, true),
        (-10, -32, false),
        (-10, 32, false),
    ];
    let fits = |r: &Rect| r.0 >= px.start && r.2 <= px.end && r.1 >= py.start && r.3 <= py.end;
    let overlaps = |r: &Rect| {
        placed
            .iter()
            .any(|q| r.0 < q.2 && q.0 < r.2 && r.1 < q.3 && q.1 < r.3)
    };
    TRIES
        .iter()
        .copied()
        .find(|&(dx, dy, right)| {
            let r = label_rect(anchor, text, dx, dy, right);
            fits(&r) && !overlaps(&r)
        })
        .or_else(|| {
            TRIES
                .iter()
                .copied()
                .find(|&(dx, dy, right)| fits(&label_rect(anchor, text, dx, dy, right)))
        })
        .unwrap_or(TRIES[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_avoid_each_other_and_the_edges() {
        let px = 0..400;
        let py = 0..300;
        let first = place((100, 100), "candidate-a", &[], (&px, &py));
        assert_eq!(first, (10, 0, true));
        let placed = [label_rect((100, 100), "candidate-a", 10, 0, true)];
        let second = place((104, 100), "candidate-b", &placed, (&px, &py));
        assert_ne!(second, (10, 0, true));
        let r = label_rect((104, 100), "candidate-b", second.0, second.1, second.2);
        assert!(
            !(r.0 < placed[0].2 && placed[0].0 < r.2 && r.1 < placed[0].3 && placed[0].1 < r.3)
        );
        // At the right edge the label goes left.
        assert!(!place((395, 100), "candidate-c", &[], (&px, &py)).2);
    }
}

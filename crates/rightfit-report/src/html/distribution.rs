//! Latency and time-to-first-token distributions per candidate, from the example records: one
//! horizontal box plot per candidate (whiskers min–max, box p25–p75, median line, p95 tick) over
//! a strip of every example's value. Drawn with `plotters` into SVG.
//!
//! The values are the summary's timing pool: successful examples not answered from the cache,
//! or every successful example when all were cached.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rightfit_types::ExampleRecord;

use super::axes::{Scale, ms_label};
use super::charts::{FRONTIER, OTHER};
use super::escape::esc;
use super::examples::candidate_order;
use crate::table::RunReport;

const WIDTH: u32 = 640;
/// Height of one candidate's row, pixels.
const ROW: u32 = 54;
/// Height of the axis, its description and the margins, pixels.
const FRAME: u32 = 86;
const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const BOX: RGBColor = RGBColor(0xCF, 0xE3, 0xF2);
const GRID: RGBColor = RGBColor(0xE4, 0xE4, 0xE4);

/// One candidate's values and their order statistics.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Dist {
    pub(super) name: String,
    pub(super) values: Vec<f64>,
    pub(super) min: f64,
    pub(super) p25: f64,
    pub(super) p50: f64,
    pub(super) p75: f64,
    pub(super) p95: f64,
    pub(super) max: f64,
}

impl Dist {
    /// `None` when there are no finite values.
    pub(super) fn new(name: &str, values: Vec<f64>) -> Option<Self> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let first = *sorted.first()?;
        let last = *sorted.last()?;
        let q = |p: f64| quantile(&sorted, p);
        Some(Self {
            name: name.to_owned(),
            min: first,
            p25: q(0.25),
            p50: q(0.5),
            p75: q(0.75),
            p95: q(0.95),
            max: last,
            values,
        })
    }
}

/// The value at position `(n − 1) · p` of sorted values, interpolated linearly (as the
/// summaries' percentiles are). `sorted` must not be empty.
fn quantile(sorted: &[f64], p: f64) -> f64 {
    let pos = (sorted.len() - 1) as f64 * p;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let (a, b) = (sorted[lo], sorted[hi.min(sorted.len() - 1)]);
    a + (b - a) * (pos - lo as f64)
}

/// Milliseconds in a label, to the millisecond below 10 s.
fn ms_text(x: f64) -> String {
    if x >= 10_000.0 {
        format!("{:.1} s", x / 1000.0)
    } else {
        format!("{x:.0} ms")
    }
}

/// The timing pool's values of `field` for each candidate, in report order.
fn pools(
    r: &RunReport,
    records: &[ExampleRecord],
    field: fn(&ExampleRecord) -> Option<f64>,
) -> (Vec<Dist>, Vec<String>) {
    let mut dists = Vec::new();
    let mut missing = Vec::new();
    for name in candidate_order(r, records) {
        let ok: Vec<&ExampleRecord> = records
            .iter()
            .filter(|e| e.candidate == name && e.error.is_none())
            .collect();
        let fresh: Vec<&ExampleRecord> = ok.iter().copied().filter(|e| !e.cached).collect();
        let pool = if fresh.is_empty() { ok } else { fresh };
        let values: Vec<f64> = pool.iter().filter_map(|e| field(e)).collect();
        match Dist::new(&name, values) {
            Some(d) => dists.push(d),
            None => missing.push(name),
        }
    }
    (dists, missing)
}

/// End-to-end latency per candidate.
pub(super) fn latency(out: &mut String, r: &RunReport, records: &[ExampleRecord]) {
    let (dists, missing) = pools(r, records, |e| Some(e.latency_ms));
    figure(
        out,
        "latency",
        "<b>Latency per candidate.</b> End-to-end time of each successful example \
         (dots); box: 25th–75th percentile, dark line: median, orange tick: 95th percentile, \
         whiskers: fastest to slowest.",
        "latency",
        &dists,
        &missing,
        records.is_empty(),
    );
}

/// Time to first token per candidate, where the provider streamed.
pub(super) fn ttft(out: &mut String, r: &RunReport, records: &[ExampleRecord]) {
    let (dists, missing) = pools(r, records, |e| e.ttft_ms);
    figure(
        out,
        "ttft",
        "<b>Time to first token per candidate.</b> Where the answer was streamed; box: \
         25th–75th percentile, dark line: median, orange tick: 95th percentile, whiskers: \
         fastest to slowest.",
        "time to first token",
        &dists,
        &missing,
        records.is_empty(),
    );
}

fn figure(
    out: &mut String,
    key: &str,
    caption: &str,
    x_desc: &str,
    dists: &[Dist],
    missing: &[String],
    no_records: bool,
) {
    out.push_str(&format!("<figure class=\"chart\" data-chart=\"{key}\">\n"));
    if no_records {
        out.push_str(
            "<p class=\"note empty\">No example records were kept for this run, so there is \
             no distribution to draw.</p>\n",
        );
    } else if dists.is_empty() {
        out.push_str("<p class=\"note empty\">No candidate has a value to plot.</p>\n");
    } else {
        match draw(dists, x_desc) {
            Ok(svg) => out.push_str(&svg),
            Err(e) => out.push_str(&format!(
                "<p class=\"note\">The chart could not be drawn: {}</p>\n",
                esc(&e)
            )),
        }
    }
    out.push_str(&format!("<figcaption>{caption}"));
    let all: Vec<f64> = dists.iter().flat_map(|d| [d.min, d.max]).collect();
    if Scale::for_values(&all) == Scale::Log {
        out.push_str(" The axis is logarithmic: the values span more than 100×.");
    }
    out.push_str("</figcaption>\n");
    if !missing.is_empty() && !no_records {
        let names: Vec<String> = missing.iter().map(|n| esc(n)).collect();
        out.push_str(&format!(
            "<p class=\"not-plotted\">Not plotted: no value recorded: {}.</p>\n",
            names.join(", ")
        ));
    }
    out.push_str("</figure>\n");
}

fn draw(dists: &[Dist], x_desc: &str) -> Result<String, String> {
    let rows = u32::try_from(dists.len()).unwrap_or(u32::MAX / ROW);
    let size = (WIDTH, FRAME + ROW * rows);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        plot(&root, dists, x_desc).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn plot(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    dists: &[Dist],
    x_desc: &str,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    root.fill(&WHITE)?;
    let n = dists.len() as f64;
    let all: Vec<f64> = dists.iter().flat_map(|d| [d.min, d.max]).collect();
    let scale = Scale::for_values(&all);
    let (x0, x1) = scale.range(&all, 0.05);
    let mut chart = ChartBuilder::on(root)
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(8)
        .build_cartesian_2d(x0..x1, -0.6..(n - 0.4))?;
    let x_fmt = move |c: &f64| ms_label(scale.value_at(*c));
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .x_labels(scale.labels(x0, x1, 8))
        .y_labels(0)
        .x_label_formatter(&x_fmt)
        .disable_y_mesh()
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .axis_desc_style(("sans-serif", 17).into_font().color(&INK))
        .label_style(("sans-serif", 15).into_font().color(&INK))
        .draw()?;

    let x = |v: f64| scale.chart_at(v);
    for (i, d) in dists.iter().enumerate() {
        // First candidate at the top.
        let row = n - 1.0 - i as f64;
        let ink = INK.stroke_width(1);
        chart.draw_series(
            d.values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(k, &v)| {
                    // Deterministic jitter (golden-ratio sequence) so equal values stay visible.
                    let jitter = ((k as f64 * 0.618_034).fract() - 0.5) * 0.24;
                    Circle::new((x(v), row + jitter), 2, OTHER.mix(0.35).filled())
                }),
        )?;
        chart.draw_series([
            PathElement::new(vec![(x(d.min), row), (x(d.p25), row)], ink),
            PathElement::new(vec![(x(d.p75), row), (x(d.max), row)], ink),
            PathElement::new(vec![(x(d.min), row - 0.1), (x(d.min), row + 0.1)], ink),
            PathElement::new(vec![(x(d.max), row - 0.1), (x(d.max), row + 0.1)], ink),
        ])?;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x(d.p25), row - 0.15), (x(d.p75), row + 0.15)],
            BOX.mix(0.7).filled(),
        )))?;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x(d.p25), row - 0.15), (x(d.p75), row + 0.15)],
            OTHER.stroke_width(1),
        )))?;
        chart.draw_series([
            PathElement::new(
                vec![(x(d.p50), row - 0.15), (x(d.p50), row + 0.15)],
                INK.stroke_width(3),
            ),
            PathElement::new(
                vec![(x(d.p95), row - 0.22), (x(d.p95), row + 0.22)],
                FRONTIER.stroke_width(3),
            ),
        ])?;
        let label = format!(
            "{} — median {} · p95 {} · n={}",
            d.name,
            ms_text(d.p50),
            ms_text(d.p95),
            d.values.len()
        );
        let style = ("sans-serif", 16)
            .into_font()
            .color(&INK)
            .pos(Pos::new(HPos::Left, VPos::Top));
        chart.draw_series(std::iter::once(
            EmptyElement::at((x0, row + 0.5)) + Text::new(label, (6, 2), style),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_statistics_interpolate_linearly() {
        let d = Dist::new("a", vec![40.0, 10.0, 30.0, 20.0, 50.0]).unwrap();
        assert_eq!(
            (d.min, d.p25, d.p50, d.p75, d.max),
            (10.0, 20.0, 30.0, 40.0, 50.0)
        );
        assert!((d.p95 - 48.0).abs() < 1e-9, "{}", d.p95);
        let one = Dist::new("b", vec![7.0]).unwrap();
        assert_eq!((one.min, one.p50, one.p95, one.max), (7.0, 7.0, 7.0, 7.0));
        assert_eq!(Dist::new("c", vec![]), None);
        assert_eq!(Dist::new("d", vec![f64::NAN]), None);
    }
}

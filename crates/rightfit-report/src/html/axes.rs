//! Axes shared by the charts: linear or log scales, time labels, the quality range, and the
//! points they place.

/// One candidate on a scatter chart.
#[derive(Debug, Clone)]
pub(super) struct Point {
    pub(super) name: String,
    pub(super) x: f64,
    pub(super) y: f64,
    pub(super) low: f64,
    pub(super) high: f64,
}

/// A log axis when the largest value is more than this many times the smallest.
const LOG_RATIO: f64 = 100.0;

/// Milliseconds for an axis label: `250 ms`, `1.5 s`, `20 s`.
pub(super) fn ms_label(x: f64) -> String {
    if x >= 1000.0 {
        let s = format!("{:.1}", x / 1000.0);
        format!("{} s", s.strip_suffix(".0").unwrap_or(&s))
    } else if x >= 10.0 || x == 0.0 {
        format!("{x:.0} ms")
    } else {
        format!("{x:.1} ms")
    }
}

/// How a value axis maps values: linear, or log10 (the chart then runs in log10 space).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Scale {
    Linear,
    Log,
}

impl Scale {
    /// Log when every value is positive and they span more than [`LOG_RATIO`]; linear otherwise
    /// (zero costs of local models included).
    pub(super) fn for_values(values: &[f64]) -> Self {
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if min > 0.0 && min.is_finite() && max.is_finite() && max / min > LOG_RATIO {
            Scale::Log
        } else {
            Scale::Linear
        }
    }

    /// A value in chart space.
    pub(super) fn chart_at(self, v: f64) -> f64 {
        match self {
            Scale::Linear => v,
            Scale::Log => v.log10(),
        }
    }

    /// A chart-space coordinate back as a value (for tick labels).
    pub(super) fn value_at(self, c: f64) -> f64 {
        match self {
            Scale::Linear => c,
            Scale::Log => 10f64.powf(c),
        }
    }

    /// How many tick labels to ask for over `lo..hi` (chart space): on a log axis one per
    /// decade, so that they fall on powers of ten, else `linear`.
    pub(super) fn labels(self, lo: f64, hi: f64, linear: usize) -> usize {
        match self {
            Scale::Linear => linear,
            // Truncation is the point: whole decades only; the span is finite and small.
            Scale::Log => ((hi - lo).floor().max(1.0) as usize + 1).min(linear),
        }
    }

    /// The chart-space range that shows `values` with some room: linear from 0 (values are
    /// non-negative) to a little past the largest, log padded on both sides. Never empty, never
    /// NaN.
    pub(super) fn range(self, values: &[f64], right_room: f64) -> (f64, f64) {
        let cs: Vec<f64> = values.iter().map(|&v| self.chart_at(v)).collect();
        let min = cs.iter().copied().fold(f64::INFINITY, f64::min);
        let max = cs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !min.is_finite() || !max.is_finite() {
            return (0.0, 1.0);
        }
        match self {
            Scale::Linear => {
                let lo = if min >= 0.0 { 0.0 } else { min * 1.1 };
                let hi = if max > 0.0 {
                    max * (1.0 + right_room)
                } else {
                    1.0
                };
                if hi > lo { (lo, hi) } else { (lo, lo + 1.0) }
            }
            Scale::Log => {
                let span = (max - min).max(0.5);
                (min - 0.1 * span, max + right_room * span)
            }
        }
    }
}

/// The y range for qualities in 0..=1: the intervals with room, kept inside 0..=1 when the data
/// is, at least 4 points tall.
pub(super) fn quality_range(points: &[Point]) -> (f64, f64) {
    let lo = points
        .iter()
        .map(|p| p.low.min(p.y))
        .fold(f64::INFINITY, f64::min);
    let hi = points
        .iter()
        .map(|p| p.high.max(p.y))
        .fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.12).max(0.02);
    let mut y0 = lo - pad;
    let mut y1 = hi + pad;
    if lo >= 0.0 && y0 < 0.0 {
        y0 = 0.0;
    }
    if hi <= 1.0 && y1 > 1.0 {
        y1 = 1.0;
    }
    if y1 - y0 < 0.04 {
        if y1 >= 1.0 {
            y0 = y1 - 0.04
        } else {
            y1 = y0 + 0.04
        }
    }
    (y0, y1)
}

/// A quality in 0..=1 as an axis label, with a decimal when the axis is short.
pub(super) fn quality_label(v: f64, span: f64) -> String {
    if span < 0.1 {
        format!("{:.1}", v * 100.0)
    } else {
        format!("{:.0}", v * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_times_carry_their_unit() {
        assert_eq!(ms_label(0.0), "0 ms");
        assert_eq!(ms_label(2.5), "2.5 ms");
        assert_eq!(ms_label(250.0), "250 ms");
        assert_eq!(ms_label(1000.0), "1 s");
        assert_eq!(ms_label(1500.0), "1.5 s");
        assert_eq!(ms_label(100_000.0), "100 s");
    }

    #[test]
    fn a_log_axis_asks_for_one_label_per_decade() {
        assert_eq!(Scale::Log.labels(-2.3, 1.4, 7), 4);
        assert_eq!(Scale::Log.labels(0.0, 0.5, 7), 2);
        assert_eq!(Scale::Log.labels(-9.0, 9.0, 7), 7);
        assert_eq!(Scale::Linear.labels(0.0, 100.0, 7), 7);
    }

    #[test]
    fn log_only_for_positive_values_spanning_more_than_100x() {
        assert_eq!(Scale::for_values(&[0.01, 5.0]), Scale::Log);
        assert_eq!(Scale::for_values(&[0.1, 5.0]), Scale::Linear);
        assert_eq!(Scale::for_values(&[0.0, 0.0001, 50.0]), Scale::Linear);
        assert_eq!(Scale::for_values(&[]), Scale::Linear);
    }

    #[test]
    fn ranges_are_never_empty_or_nan() {
        for values in [
            &[][..],
            &[0.0][..],
            &[0.0, 0.0][..],
            &[3.0][..],
            &[f64::NAN][..],
        ] {
            for scale in [Scale::Linear, Scale::Log] {
                let (lo, hi) = scale.range(values, 0.3);
                assert!(
                    lo.is_finite() && hi.is_finite() && hi > lo,
                    "{values:?} {scale:?}"
                );
            }
        }
        assert_eq!(Scale::Linear.range(&[0.0, 2.0], 0.5), (0.0, 3.0));
        let (lo, hi) = Scale::Log.range(&[0.01, 10.0], 0.0);
        assert!(lo < -2.0 && (hi - 1.0).abs() < 1e-9, "{lo} {hi}");
    }

    #[test]
    fn one_quality_gets_a_padded_range_inside_0_1() {
        let p = |y: f64| Point {
            name: "a".into(),
            x: 0.0,
            y,
            low: y,
            high: y,
        };
        let (lo, hi) = quality_range(&[p(1.0)]);
        assert!(lo < 1.0 && (hi - 1.0).abs() < 1e-12, "{lo} {hi}");
        let (lo, hi) = quality_range(&[p(0.0)]);
        assert!(lo == 0.0 && hi > 0.0, "{lo} {hi}");
        let (lo, hi) = quality_range(&[p(0.5)]);
        assert!(lo < 0.5 && hi > 0.5);
    }
}

//! Percentiles with linear interpolation between order statistics (numpy's default method).

use rightfit_types::Percentiles;

/// The `p`-th percentile (`p` in 0..=100) of `values`, which need not be sorted.
///
/// Linear interpolation, as numpy's `percentile(values, p)` with its default `"linear"` method:
/// with the values sorted ascending, the result sits at fractional position `(n − 1) · p / 100`,
/// interpolated between the two nearest values. `None` when `values` is empty, `p` is outside
/// 0..=100 or NaN, or any value is NaN (infinities sort to the ends and are allowed).
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() || !(0.0..=100.0).contains(&p) || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(percentile_of_sorted(&sorted, p / 100.0))
}

/// The median, 95th and 99th percentiles of `values` (see [`percentile`]); `None` when empty or
/// any value is NaN.
pub fn percentiles(values: &[f64]) -> Option<Percentiles> {
    Percentiles::of(values)
}

/// The `q`-quantile (`q` in 0..=1) of non-empty, ascending, NaN-free `sorted`.
pub(crate) use rightfit_types::quantile_of_sorted as percentile_of_sorted;

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() <= 1e-12 * expected.abs().max(1.0),
            "got {actual}, expected {expected}"
        );
    }

    #[test]
    fn matches_numpy_linear_on_unsorted_values() {
        // numpy 2.4: np.percentile([35, 15, 50, 20, 40], [0, 10, 25, 30, 40, 50, 75, 95, 99, 100])
        let values = [35.0, 15.0, 50.0, 20.0, 40.0];
        let expected = [
            (0.0, 15.0),
            (10.0, 17.0),
            (25.0, 20.0),
            (30.0, 23.0),
            (40.0, 29.0),
            (50.0, 35.0),
            (75.0, 40.0),
            (95.0, 48.0),
            (99.0, 49.6),
            (100.0, 50.0),
        ];
        for (p, want) in expected {
            close(percentile(&values, p).unwrap(), want);
        }
    }

    #[test]
    fn matches_numpy_on_latency_like_values() {
        // numpy 2.4: v = [812.5, 95.25, 130.0, 101.75, 4020.0, 97.0, 250.5, 99.0];
        // np.percentile(v, [50, 95, 99]) -> [115.875, 2897.375, 3795.475]
        let values = [812.5, 95.25, 130.0, 101.75, 4020.0, 97.0, 250.5, 99.0];
        let got = percentiles(&values).unwrap();
        close(got.p50, 115.875);
        close(got.p95, 2897.375);
        close(got.p99, 3795.475);
        // np.percentile(v, 37.5) -> 100.71875
        close(percentile(&values, 37.5).unwrap(), 100.71875);
    }

    #[test]
    fn one_value_is_every_percentile() {
        let got = percentiles(&[7.25]).unwrap();
        assert_eq!(
            got,
            Percentiles {
                p50: 7.25,
                p95: 7.25,
                p99: 7.25
            }
        );
        assert_eq!(percentile(&[7.25], 0.0), Some(7.25));
    }

    #[test]
    fn ends_are_exact_and_interpolation_stays_within_neighbours() {
        let values = [0.1, 0.7, 0.3];
        assert_eq!(percentile(&values, 0.0), Some(0.1));
        assert_eq!(percentile(&values, 100.0), Some(0.7));
        let near_top = percentile(&values, 99.999_999).unwrap();
        assert!(near_top <= 0.7 && near_top > 0.69);
    }

    #[test]
    fn refuses_what_has_no_percentile() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[1.0], -0.1), None);
        assert_eq!(percentile(&[1.0], 100.1), None);
        assert_eq!(percentile(&[1.0], f64::NAN), None);
        assert_eq!(percentile(&[1.0, f64::NAN], 50.0), None);
        assert_eq!(percentiles(&[]), None);
        assert_eq!(percentiles(&[f64::NAN]), None);
    }
}

//! Percentile-bootstrap intervals for a mean and for a paired difference of means.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use rightfit_types::Estimate;

use super::error::StatsError;
use super::percentile::percentile_of_sorted;

/// The mean of `values` with a percentile-bootstrap interval at `confidence` (e.g. 0.95).
///
/// Draws `resamples` samples of `values.len()` values with replacement (`ChaCha8Rng` seeded with
/// `seed`), takes each sample's mean, and returns the `(1 − confidence) / 2` and
/// `(1 + confidence) / 2` percentiles of those means (linear interpolation) as `low` and `high`.
/// `mean` is the plain sample mean. One value, or all values equal, gives
/// `low == mean == high`: the data show no spread, and the interval says so rather than
/// inventing one. The percentile bootstrap is a little narrow for very small samples (roughly
/// under 20 examples); read such intervals as optimistic.
///
/// Errors: empty `values`, a NaN or infinite value, `confidence` not strictly between 0 and 1,
/// or zero `resamples`.
pub fn bootstrap_mean(
    values: &[f64],
    confidence: f64,
    resamples: usize,
    seed: u64,
) -> Result<Estimate, StatsError> {
    check(values, confidence, resamples)?;
    let n = values.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut means = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let mut sum = 0.0;
        for _ in 0..n {
            sum += values[index_below(&mut rng, n)];
        }
        means.push(sum / n as f64);
    }
    let (low, high) = interval(&mut means, confidence);
    Ok(Estimate {
        mean: mean(values),
        low,
        high,
        n: n as u64,
        confidence,
    })
}

/// The paired-bootstrap comparison of two candidates' scores on the same examples.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedBootstrap {
    /// Mean of `a`.
    pub mean_a: f64,
    /// Mean of `b`.
    pub mean_b: f64,
    /// `mean_b − mean_a` with its interval; `n` is the number of pairs.
    pub diff: Estimate,
    /// Fraction of resamples in which `b`'s mean is strictly below `a`'s.
    pub p_b_worse: f64,
}

/// Compares `b` with `a`, where `a[i]` and `b[i]` are two candidates' scores on example `i`.
///
/// Each of `resamples` resamples draws `n` example indices with replacement (`ChaCha8Rng` seeded
/// with `seed`) and takes the same examples from both sides, so the interval of
/// `mean_b − mean_a` reflects how the candidates differ on the same examples, which is much
/// narrower than comparing two independent intervals. `p_b_worse` is the fraction of resamples
/// where `b`'s mean is strictly below `a`'s (ties are not "worse", so identical candidates
/// get 0). The interval is formed as in [`bootstrap_mean`].
///
/// Errors: lengths differ, empty input, a NaN or infinite value, `confidence` not strictly
/// between 0 and 1, or zero `resamples`.
pub fn paired_bootstrap(
    a: &[f64],
    b: &[f64],
    confidence: f64,
    resamples: usize,
    seed: u64,
) -> Result<PairedBootstrap, StatsError> {
    if a.len() != b.len() {
        return Err(StatsError::LengthMismatch {
            a: a.len(),
            b: b.len(),
        });
    }
    check(a, confidence, resamples)?;
    check(b, confidence, resamples)?;
    let n = a.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut diffs = Vec::with_capacity(resamples);
    let mut b_worse = 0usize;
    for _ in 0..resamples {
        let (mut sum_a, mut sum_b) = (0.0, 0.0);
        for _ in 0..n {
            let i = index_below(&mut rng, n);
            sum_a += a[i];
            sum_b += b[i];
        }
        let (mean_a, mean_b) = (sum_a / n as f64, sum_b / n as f64);
        if mean_b < mean_a {
            b_worse += 1;
        }
        diffs.push(mean_b - mean_a);
    }
    let (low, high) = interval(&mut diffs, confidence);
    let (mean_a, mean_b) = (mean(a), mean(b));
    Ok(PairedBootstrap {
        mean_a,
        mean_b,
        diff: Estimate {
            mean: mean_b - mean_a,
            low,
            high,
            n: n as u64,
            confidence,
        },
        p_b_worse: b_worse as f64 / resamples as f64,
    })
}

fn check(values: &[f64], confidence: f64, resamples: usize) -> Result<(), StatsError> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(StatsError::Confidence(confidence));
    }
    if resamples == 0 {
        return Err(StatsError::NoResamples);
    }
    if values.is_empty() {
        return Err(StatsError::Empty { what: "values" });
    }
    if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(StatsError::NotFinite { index, value });
    }
    Ok(())
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The two-sided percentile interval of non-empty, finite `stats` at `confidence`.
fn interval(stats: &mut [f64], confidence: f64) -> (f64, f64) {
    stats.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    (
        percentile_of_sorted(stats, tail),
        percentile_of_sorted(stats, 1.0 - tail),
    )
}

/// A uniform index in `0..n` (`n > 0`), without modulo bias.
///
/// Multiplies a random 64-bit word by `n` and keeps the high word; words whose low word falls in
/// the `2^64 mod n` values that would make some indices more likely are drawn again.
fn index_below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    let n = n as u64;
    let reject_below = n.wrapping_neg() % n;
    loop {
        let product = u128::from(rng.next_u64()) * u128::from(n);
        if (product as u64) >= reject_below {
            // The high word is below `n`, which came from a usize.
            return (product >> 64) as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` values, `ones` of them 1 and the rest 0, interleaved.
    fn binary(count: usize, ones: usize) -> Vec<f64> {
        (0..count)
            .map(|i| if (i * ones) % count < ones { 1.0 } else { 0.0 })
            .collect()
    }

    #[test]
    fn binary_helper_has_the_asked_number_of_ones() {
        assert_eq!(binary(20, 14).iter().sum::<f64>(), 14.0);
        assert_eq!(binary(2000, 1400).iter().sum::<f64>(), 1400.0);
    }

    #[test]
    fn same_seed_same_interval_other_seed_other_interval() {
        let values = [0.2, 0.9, 0.4, 1.0, 0.0, 0.65, 0.3, 0.8];
        let first = bootstrap_mean(&values, 0.95, 500, 7).unwrap();
        assert_eq!(first, bootstrap_mean(&values, 0.95, 500, 7).unwrap());
        let other = bootstrap_mean(&values, 0.95, 500, 8).unwrap();
        assert_ne!((first.low, first.high), (other.low, other.high));
        assert_eq!(first.mean, other.mean);
    }

    #[test]
    fn interval_contains_the_mean_and_narrows_with_n() {
        let small = bootstrap_mean(&binary(20, 14), 0.95, 2000, 1).unwrap();
        let large = bootstrap_mean(&binary(2000, 1400), 0.95, 2000, 1).unwrap();
        for est in [&small, &large] {
            assert!((est.mean - 0.7).abs() < 1e-12);
            assert!(est.low < est.mean && est.mean < est.high, "{est:?}");
        }
        let (small_width, large_width) = (small.high - small.low, large.high - large.low);
        // Width shrinks as 1/sqrt(n): a hundredfold n gives about a tenth.
        let ratio = large_width / small_width;
        assert!((0.07..0.14).contains(&ratio), "ratio {ratio}");
        assert_eq!((small.n, large.n), (20, 2000));
    }

    #[test]
    fn width_agrees_with_the_normal_approximation() {
        // 400 fair coin flips: the 95% half-width is about 1.96 * sqrt(0.25 / 400) = 0.049.
        let est = bootstrap_mean(&binary(400, 200), 0.95, 4000, 3).unwrap();
        let half_width = (est.high - est.low) / 2.0;
        assert!((0.044..0.054).contains(&half_width), "{half_width}");
        // A 50% interval is about 0.674 / 1.96 as wide.
        let narrow = bootstrap_mean(&binary(400, 200), 0.5, 4000, 3).unwrap();
        let ratio = (narrow.high - narrow.low) / (est.high - est.low);
        assert!((0.29..0.40).contains(&ratio), "{ratio}");
    }

    #[test]
    fn one_value_or_equal_values_give_a_point_interval() {
        let one = bootstrap_mean(&[0.4], 0.95, 100, 0).unwrap();
        assert_eq!(
            one,
            Estimate {
                mean: 0.4,
                low: 0.4,
                high: 0.4,
                n: 1,
                confidence: 0.95
            }
        );
        let same = bootstrap_mean(&[0.1; 9], 0.9, 100, 0).unwrap();
        assert_eq!((same.low, same.high), (same.mean, same.mean));
    }

    #[test]
    fn bootstrap_refuses_bad_input() {
        assert_eq!(
            bootstrap_mean(&[], 0.95, 10, 0),
            Err(StatsError::Empty { what: "values" })
        );
        for confidence in [0.0, 1.0, -0.5, 95.0, f64::NAN] {
            assert!(matches!(
                bootstrap_mean(&[1.0], confidence, 10, 0),
                Err(StatsError::Confidence(_))
            ));
        }
        assert_eq!(
            bootstrap_mean(&[1.0], 0.95, 0, 0),
            Err(StatsError::NoResamples)
        );
        assert!(matches!(
            bootstrap_mean(&[1.0, f64::INFINITY], 0.95, 10, 0),
            Err(StatsError::NotFinite { index: 1, .. })
        ));
    }

    #[test]
    fn index_below_is_uniform() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            counts[index_below(&mut rng, 3)] += 1;
        }
        for count in counts {
            assert!((9_700..10_300).contains(&count), "{counts:?}");
        }
        assert_eq!(index_below(&mut rng, 1), 0);
    }

    #[test]
    fn paired_equal_candidates_differ_by_nothing() {
        let a = [0.0, 1.0, 0.5, 1.0, 0.0];
        let got = paired_bootstrap(&a, &a, 0.95, 500, 2).unwrap();
        assert_eq!(
            (got.diff.mean, got.diff.low, got.diff.high),
            (0.0, 0.0, 0.0)
        );
        assert_eq!(got.p_b_worse, 0.0);
        assert_eq!(got.mean_a, 0.5);
    }

    #[test]
    fn paired_constant_shift_has_a_point_interval() {
        // Pairing removes the between-example spread entirely when b is a plus a constant;
        // unpaired intervals of a and b would each be wide.
        let a = [0.1, 0.5, 0.25, 0.75, 0.0, 0.5];
        let b: Vec<f64> = a.iter().map(|x| x + 0.125).collect();
        let got = paired_bootstrap(&a, &b, 0.95, 500, 4).unwrap();
        assert!((got.diff.mean - 0.125).abs() < 1e-12);
        assert!((got.diff.low - 0.125).abs() < 1e-12 && (got.diff.high - 0.125).abs() < 1e-12);
        assert_eq!(got.p_b_worse, 0.0);
        let unpaired = bootstrap_mean(&a, 0.95, 500, 4).unwrap();
        assert!(unpaired.high - unpaired.low > 0.2);
    }

    #[test]
    fn paired_clear_loser_is_worse_in_almost_every_resample() {
        let a = binary(200, 160);
        let b = binary(200, 100);
        let got = paired_bootstrap(&a, &b, 0.95, 2000, 5).unwrap();
        assert!((got.diff.mean - (-0.3)).abs() < 1e-12);
        assert!(got.diff.high < 0.0 && got.diff.low < got.diff.mean);
        assert!(got.p_b_worse > 0.999, "{}", got.p_b_worse);
        let reversed = paired_bootstrap(&b, &a, 0.95, 2000, 5).unwrap();
        assert!(reversed.p_b_worse < 0.001);
        assert_eq!(got, paired_bootstrap(&a, &b, 0.95, 2000, 5).unwrap());
    }

    #[test]
    fn paired_one_example_apart_is_not_significant() {
        // b is right on one example more than a out of 100 and never worse: no resample finds b
        // worse, yet about (0.99)^100 = 37% of resamples leave that example out, so the interval
        // still reaches 0.
        let a = binary(100, 50);
        let mut b = a.clone();
        let first_zero = b.iter().position(|&x| x == 0.0).unwrap();
        b[first_zero] = 1.0;
        let got = paired_bootstrap(&a, &b, 0.95, 2000, 6).unwrap();
        assert_eq!(got.diff.low, 0.0);
        assert!(got.diff.high > 0.0, "{got:?}");
        assert_eq!(got.p_b_worse, 0.0);
    }

    #[test]
    fn paired_refuses_bad_input() {
        assert_eq!(
            paired_bootstrap(&[1.0], &[1.0, 0.0], 0.95, 10, 0),
            Err(StatsError::LengthMismatch { a: 1, b: 2 })
        );
        assert_eq!(
            paired_bootstrap(&[], &[], 0.95, 10, 0),
            Err(StatsError::Empty { what: "values" })
        );
        assert!(matches!(
            paired_bootstrap(&[1.0], &[f64::NAN], 0.95, 10, 0),
            Err(StatsError::NotFinite { index: 0, .. })
        ));
        assert_eq!(
            paired_bootstrap(&[1.0], &[1.0], 0.95, 0, 0),
            Err(StatsError::NoResamples)
        );
    }
}

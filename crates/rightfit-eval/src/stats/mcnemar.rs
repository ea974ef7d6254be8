//! McNemar's test for paired right/wrong outcomes, with the special functions it needs.

use rightfit_types::McNemar;

use super::error::StatsError;

/// Below this many discordant pairs the exact binomial test is used, else chi-square.
const EXACT_BELOW: u64 = 25;

/// McNemar's test of `a_correct[i]` against `b_correct[i]`, one pair per example.
///
/// Counts the discordant pairs and calls [`mcnemar_counts`]. Errors when the lengths differ.
/// No pairs, or no discordant pairs, give p = 1.
pub fn mcnemar(a_correct: &[bool], b_correct: &[bool]) -> Result<McNemar, StatsError> {
    if a_correct.len() != b_correct.len() {
        return Err(StatsError::LengthMismatch {
            a: a_correct.len(),
            b: b_correct.len(),
        });
    }
    let (mut a_only, mut b_only) = (0u64, 0u64);
    for (&a, &b) in a_correct.iter().zip(b_correct) {
        match (a, b) {
            (true, false) => a_only += 1,
            (false, true) => b_only += 1,
            _ => {}
        }
    }
    Ok(mcnemar_counts(a_only, b_only))
}

/// McNemar's test from the discordant counts: `a_only` pairs where only `a` was right, `b_only`
/// where only `b` was.
///
/// Fewer than 25 discordant pairs: the exact two-sided binomial test at probability ½,
/// p = min(1, 2 · P(X ≤ min(a_only, b_only))) for X ~ Binomial(a_only + b_only, ½), with
/// statistic `min(a_only, b_only)` (scipy's `binomtest(k, n, 0.5)` and statsmodels'
/// `mcnemar(exact=True)` agree). Otherwise the chi-square test with continuity correction,
/// statistic (|a_only − b_only| − 1)² / (a_only + b_only), p from chi-square with one degree of
/// freedom (statsmodels' `mcnemar(exact=False, correction=True)`).
pub fn mcnemar_counts(a_only: u64, b_only: u64) -> McNemar {
    let discordant = a_only + b_only;
    if discordant < EXACT_BELOW {
        let smaller = a_only.min(b_only);
        let tail = binomial_half_cdf(smaller, discordant);
        McNemar {
            a_only,
            b_only,
            statistic: smaller as f64,
            p_value: (2.0 * tail).min(1.0),
            exact: true,
        }
    } else {
        let gap = (a_only.abs_diff(b_only) as f64 - 1.0).max(0.0);
        let statistic = gap * gap / discordant as f64;
        McNemar {
            a_only,
            b_only,
            statistic,
            p_value: chi2_sf_1dof(statistic),
            exact: false,
        }
    }
}

/// P(X ≤ k) for X ~ Binomial(n, ½), exactly summed; `n` below 64 (here, below 25).
fn binomial_half_cdf(k: u64, n: u64) -> f64 {
    // C(n, j) for n < 25 is below 2^22, so u64 arithmetic is exact and each division is exact
    // (C(n, j) · (n − j) is divisible by j + 1).
    let mut choose = 1u64;
    let mut sum = 0u64;
    for j in 0..=k.min(n) {
        sum += choose;
        choose = choose * (n - j) / (j + 1);
    }
    sum as f64 / 2f64.powi(n as i32)
}

/// The chi-square survival function with one degree of freedom: P(X > x) = erfc(√(x/2)).
///
/// 1 for `x ≤ 0`; NaN for NaN. Accurate to about 1e-14 relative (see [`erfc`]).
pub fn chi2_sf_1dof(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    erfc((x / 2.0).sqrt())
}

/// The complementary error function, erfc(x) = 1 − erf(x) = 2/√π ∫ₓ^∞ e^(−t²) dt.
///
/// For |x| < 1, from the everywhere-positive series
/// erf(x) = 2/√π · e^(−x²) · Σₙ (2x²)ⁿ · x / (1·3·5···(2n+1)); beyond, from the continued fraction
/// erfc(x) = e^(−x²)/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + 2/(x + …))))) (Abramowitz & Stegun
/// 7.1.14), evaluated with the modified Lentz method. Negative x uses erfc(−x) = 2 − erfc(x).
/// Relative error below 1e-14 for 0 ≤ x < 10 against Python's `math.erfc` on a 0.01 grid,
/// rising to about 3e-13 near x = 27 (where erfc underflows) from the rounding of x².
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 1.0 {
        1.0 - erf_series(x)
    } else {
        erfc_continued_fraction(x)
    }
}

const FRAC_1_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI / 2.0;

fn erf_series(x: f64) -> f64 {
    let two_x2 = 2.0 * x * x;
    let mut term = x;
    let mut sum = x;
    let mut n = 0.0;
    // Terms fall from the first for x < 1, faster than geometrically; 200 is far beyond what
    // is needed (about 25).
    for _ in 0..200 {
        n += 1.0;
        term *= two_x2 / (2.0 * n + 1.0);
        sum += term;
        if term <= sum * 1e-17 {
            break;
        }
    }
    2.0 * FRAC_1_SQRT_PI * (-x * x).exp() * sum
}

fn erfc_continued_fraction(x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut f = x;
    let mut c = x;
    let mut d = 0.0;
    // Converges in about 200 steps at x = 1 and fewer beyond; the bound only guards against a
    // NaN loop.
    for k in 1..1000 {
        let a = f64::from(k) / 2.0;
        d = x + a * d;
        if d.abs() < TINY {
            d = TINY;
        }
        d = 1.0 / d;
        c = x + a / c;
        if c.abs() < TINY {
            c = TINY;
        }
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    FRAC_1_SQRT_PI * (-x * x).exp() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, relative: f64) {
        assert!(
            (actual - expected).abs() <= relative * expected.abs(),
            "got {actual:e}, expected {expected:e}"
        );
    }

    #[test]
    fn erfc_matches_reference_values() {
        // Python 3 math.erfc (an independent implementation).
        let reference = [
            (0.0, 1.0),
            (0.1, 0.8875370839817152),
            (0.5, 0.4795001221869535),
            (0.999, 0.15771472979350307),
            (1.0, 0.15729920705028513),
            (1.5, 0.033894853524689274),
            (2.0, 0.004677734981047265),
            (2.4999, 0.0004071699003334514),
            (2.5, 0.0004069520174449589),
            (3.0, 2.2090496998585438e-05),
            (4.0, 1.541725790028002e-08),
            (5.0, 1.5374597944280351e-12),
            (10.0, 2.088487583762545e-45),
            (26.0, 5.663192408856143e-296),
            (-1.0, 1.842700792949715),
            (-3.0, 1.9999779095030015),
        ];
        for (x, want) in reference {
            close(erfc(x), want, 1e-13);
        }
        assert_eq!(erfc(40.0), 0.0);
        assert!(erfc(f64::NAN).is_nan());
    }

    #[test]
    fn chi2_sf_matches_scipy() {
        // scipy 1.17 chi2.sf(x, 1); the three critical values give 0.05, 0.01, 0.001.
        let reference = [
            (0.5, 0.47950012218695337),
            (1.0, 0.31731050786291115),
            (3.841458820694124, 0.04999999999999989),
            (6.6348966010212145, 0.009999999999999972),
            (10.827566170662733, 0.0010000000000000007),
            (30.0, 4.3204630578274955e-08),
        ];
        for (x, want) in reference {
            close(chi2_sf_1dof(x), want, 1e-12);
        }
        assert_eq!(chi2_sf_1dof(0.0), 1.0);
        assert_eq!(chi2_sf_1dof(-2.0), 1.0);
    }

    #[test]
    fn exact_test_by_hand() {
        // 0 of 5 discordant pairs for a: p = 2 · (1/32).
        let got = mcnemar_counts(0, 5);
        assert_eq!(
            got,
            McNemar {
                a_only: 0,
                b_only: 5,
                statistic: 0.0,
                p_value: 0.0625,
                exact: true
            }
        );
        // 1 of 5: p = 2 · (1 + 5)/32.
        assert_eq!(mcnemar_counts(4, 1).p_value, 0.375);
        // A balanced split is no evidence at all.
        assert_eq!(mcnemar_counts(3, 3).p_value, 1.0);
        assert_eq!(mcnemar_counts(0, 0).p_value, 1.0);
    }

    #[test]
    fn exact_test_matches_scipy_binomtest() {
        // scipy 1.17 binomtest(k, n, 0.5).pvalue, k = min(a_only, b_only).
        let reference = [
            ((6, 16), 0.052478790283203125),
            ((17, 3), 0.0025768280029296875),
            ((0, 24), 1.1920928955078125e-07),
            ((11, 13), 0.8388197422027588),
        ];
        for ((a, b), want) in reference {
            let got = mcnemar_counts(a, b);
            assert!(got.exact);
            assert_eq!(got.statistic, a.min(b) as f64);
            close(got.p_value, want, 1e-14);
        }
    }

    #[test]
    fn chi_square_test_from_25_discordant_pairs() {
        // Statistic (|b − c| − 1)² / (b + c); p from scipy 1.17 chi2.sf(statistic, 1).
        let reference = [
            ((25, 0), 23.04, 1.5866563039511885e-06),
            ((10, 20), 2.7, 0.10034824646229054),
            ((150, 86), 16.81779661016949, 4.114562281345944e-05),
            ((40, 60), 3.61, 0.05743311963200335),
        ];
        for ((a, b), statistic, want) in reference {
            let got = mcnemar_counts(a, b);
            assert!(!got.exact);
            close(got.statistic, statistic, 1e-14);
            close(got.p_value, want, 1e-12);
        }
        // A difference of one is fully absorbed by the continuity correction.
        let even = mcnemar_counts(13, 12);
        assert_eq!(
            (even.statistic, even.p_value, even.exact),
            (0.0, 1.0, false)
        );
        // The switch sits exactly at 25.
        assert!(mcnemar_counts(24, 0).exact && !mcnemar_counts(24, 1).exact);
    }

    #[test]
    fn counts_discordant_pairs_from_outcomes() {
        let a = [true, true, false, false, true, false, true];
        let b = [true, false, true, false, false, true, true];
        let got = mcnemar(&a, &b).unwrap();
        assert_eq!((got.a_only, got.b_only), (2, 2));
        assert_eq!(got, mcnemar_counts(2, 2));
        assert_eq!(
            mcnemar(&[true], &[]),
            Err(StatsError::LengthMismatch { a: 1, b: 0 })
        );
        assert_eq!(mcnemar(&[], &[]).unwrap().p_value, 1.0);
    }
}

//! chrF as sacrebleu 2.6.0 computes it with its defaults: character n-grams of orders 1..=6,
//! no word n-grams, beta 2, white space removed, mixed case, no epsilon smoothing (signature
//! `nc:6|nw:0|space:no|case:mixed|eff:yes`).
//!
//! A segment is reduced to [`ChrfStats`] (per order: hypothesis n-grams, reference n-grams,
//! matches); corpus chrF sums the statistics of all segments and scores the sum once, so a runner
//! can score examples one by one and aggregate later with `+=`. Scores are on 0..=100.
//!
//! Behaviour kept from sacrebleu, value for value:
//! - all white space (Python's `str.isspace`) is removed before n-grams are taken, and n-grams
//!   are sequences of Unicode scalar values;
//! - an order the reference has no n-gram of records no hypothesis n-grams either;
//! - precision and recall are averaged over the orders where both the hypothesis and the
//!   reference have n-grams ("effective order"), then combined into F-beta;
//! - with several references the one giving the best F-score (the first on a tie) supplies the
//!   statistics.
//!
//! A hypothesis given no reference at all (sacrebleu fails on it) gets all-zero statistics, as
//! against one empty reference.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::bleu::pystr;

/// The highest character n-gram order chrF counts.
pub const CHAR_ORDER: usize = 6;

/// chrF's beta: recall weighs `BETA` times as much as precision.
pub const BETA: f64 = 2.0;

/// Errors from corpus-level chrF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChrfError {
    /// The hypothesis and reference lists do not pair up.
    #[error(
        "corpus chrF got {hypotheses} hypotheses but {references} reference lists; \
         give exactly one list of references per hypothesis, in the same order"
    )]
    LengthMismatch {
        /// Number of hypotheses given.
        hypotheses: usize,
        /// Number of reference lists given.
        references: usize,
    },
}

/// Sufficient statistics of one segment, or of several summed: everything chrF needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChrfStats {
    /// Hypothesis character n-grams, for n = 1..=6 (0 where the reference has none).
    pub hyp: [usize; CHAR_ORDER],
    /// Reference character n-grams, for n = 1..=6.
    pub reference: [usize; CHAR_ORDER],
    /// Hypothesis n-grams matched in the reference (clipped), for n = 1..=6.
    pub matched: [usize; CHAR_ORDER],
}

impl ChrfStats {
    /// Statistics of hypothesis `hyp` against its references `refs`, taken from the reference
    /// with the best chrF.
    pub fn new<R: AsRef<str>>(hyp: &str, refs: &[R]) -> Self {
        let hyp_chars = without_white_space(hyp);
        let hyp_ngrams = char_ngram_counts(&hyp_chars);
        let mut best = ChrfStats::default();
        let mut best_score = -1.0;
        for reference in refs {
            let ref_chars = without_white_space(reference.as_ref());
            let stats = match_statistics(&hyp_ngrams, &char_ngram_counts(&ref_chars));
            let score = stats.score();
            if score > best_score {
                best_score = score;
                best = stats;
            }
        }
        best
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &ChrfStats) {
        for n in 0..CHAR_ORDER {
            self.hyp[n] += other.hyp[n];
            self.reference[n] += other.reference[n];
            self.matched[n] += other.matched[n];
        }
    }

    /// chrF of these statistics, 0..=100.
    pub fn score(&self) -> f64 {
        let factor = BETA * BETA;
        let mut avg_prec = 0.0;
        let mut avg_rec = 0.0;
        let mut orders = 0usize;
        for n in 0..CHAR_ORDER {
            if self.hyp[n] > 0 && self.reference[n] > 0 {
                avg_prec += self.matched[n] as f64 / self.hyp[n] as f64;
                avg_rec += self.matched[n] as f64 / self.reference[n] as f64;
                orders += 1;
            }
        }
        if orders > 0 {
            avg_prec /= orders as f64;
            avg_rec /= orders as f64;
        }
        if avg_prec + avg_rec == 0.0 {
            return 0.0;
        }
        let f = (1.0 + factor) * avg_prec * avg_rec / (factor * avg_prec + avg_rec);
        100.0 * f
    }
}

super::merge_ops!(ChrfStats);

/// chrF of one hypothesis against its references, as sacrebleu's `sentence_chrf`.
pub fn sentence_chrf<R: AsRef<str>>(hyp: &str, refs: &[R]) -> f64 {
    ChrfStats::new(hyp, refs).score()
}

/// chrF of a corpus, as sacrebleu's `corpus_chrf`; `refs[i]` holds the references of `hyps[i]`.
///
/// # Errors
///
/// [`ChrfError::LengthMismatch`] when `hyps` and `refs` differ in length.
pub fn corpus_chrf<H: AsRef<str>, R: AsRef<str>>(
    hyps: &[H],
    refs: &[Vec<R>],
) -> Result<f64, ChrfError> {
    if hyps.len() != refs.len() {
        return Err(ChrfError::LengthMismatch {
            hypotheses: hyps.len(),
            references: refs.len(),
        });
    }
    let stats: ChrfStats = hyps
        .iter()
        .zip(refs)
        .map(|(hyp, refs)| ChrfStats::new(hyp.as_ref(), refs))
        .sum();
    Ok(stats.score())
}

/// The characters of `segment` with all white space left out.
fn without_white_space(segment: &str) -> Vec<char> {
    segment.chars().filter(|&c| !pystr::is_space(c)).collect()
}

/// Per order n = 1..=6, the count of every character n-gram of `chars`.
fn char_ngram_counts(chars: &[char]) -> Vec<HashMap<&[char], usize>> {
    (1..=CHAR_ORDER)
        .map(|n| {
            let mut counts = HashMap::new();
            for ngram in chars.windows(n) {
                *counts.entry(ngram).or_default() += 1;
            }
            counts
        })
        .collect()
}

/// Statistics of hypothesis n-grams against one reference's n-grams.
fn match_statistics(
    hyp: &[HashMap<&[char], usize>],
    reference: &[HashMap<&[char], usize>],
) -> ChrfStats {
    let mut stats = ChrfStats::default();
    for (n, (hyp, reference)) in hyp.iter().zip(reference).enumerate() {
        if !reference.is_empty() {
            stats.hyp[n] = hyp.values().sum();
        }
        stats.reference[n] = reference.values().sum();
        stats.matched[n] = hyp
            .iter()
            .map(|(ngram, &count)| reference.get(ngram).map_or(0, |&r| count.min(r)))
            .sum();
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scorers::bleu::golden_tests::{sacrebleu_golden, scitldr100_pairs};

    // Expected values were produced by sacrebleu 2.6.0 on the same inputs.

    fn assert_close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() < 1e-9,
            "actual {actual}, expected {expected}"
        );
    }

    #[test]
    fn corpus_chrf_matches_sacrebleu() {
        let pairs = scitldr100_pairs();
        let hyps: Vec<&str> = pairs.iter().map(|(h, _)| h.as_str()).collect();
        let refs: Vec<Vec<&str>> = pairs.iter().map(|(_, r)| vec![r.as_str()]).collect();
        let expected = sacrebleu_golden()["corpus_chrf"].as_f64().unwrap();
        assert_close(corpus_chrf(&hyps, &refs).unwrap(), expected);

        let summed: ChrfStats = pairs.iter().map(|(h, r)| ChrfStats::new(h, &[r])).sum();
        assert_close(summed.score(), expected);
    }

    #[test]
    fn partial_match() {
        let stats = ChrfStats::new("the cat sat on the mat", &["the cat sat on a mat"]);
        assert_eq!(stats.hyp, [17, 16, 15, 14, 13, 12]);
        assert_eq!(stats.reference, [15, 14, 13, 12, 11, 10]);
        assert_eq!(stats.matched, [14, 12, 10, 8, 7, 6]);
        assert_close(stats.score(), 72.0848317308462);
    }

    #[test]
    fn orders_the_hypothesis_lacks_are_left_out() {
        let stats = ChrfStats::new("ab", &["abc"]);
        assert_eq!(stats.hyp, [2, 1, 0, 0, 0, 0]);
        assert_eq!(stats.reference, [3, 2, 1, 0, 0, 0]);
        assert_close(stats.score(), 63.636363636363626);
    }

    #[test]
    fn white_space_is_ignored_including_python_only_white_space() {
        assert_eq!(sentence_chrf("a b", &["ab"]), 100.0);
        assert_eq!(sentence_chrf("a\u{1c}b", &["ab"]), 100.0);
    }

    #[test]
    fn characters_are_unicode_scalar_values() {
        assert_close(
            sentence_chrf("Straße über", &["strasse uber"]),
            21.393294151125115,
        );
    }

    #[test]
    fn empty_sides_and_no_match_score_zero() {
        assert_eq!(sentence_chrf("xyz", &["abc"]), 0.0);
        let empty_hyp = ChrfStats::new("", &["abc"]);
        assert_eq!(empty_hyp.reference, [3, 2, 1, 0, 0, 0]);
        assert_eq!(empty_hyp.score(), 0.0);
        // An empty reference records no hypothesis n-grams either.
        assert_eq!(ChrfStats::new("abc", &[""]), ChrfStats::default());
        assert_eq!(sentence_chrf("", &[""]), 0.0);
        let none: [&str; 0] = [];
        assert_eq!(ChrfStats::new("abc", &none), ChrfStats::default());
    }

    #[test]
    fn best_reference_supplies_the_statistics() {
        let stats = ChrfStats::new("the cat", &["a dog", "the cats", "cat"]);
        assert_eq!(stats.reference, [7, 6, 5, 4, 3, 2]);
        assert_close(stats.score(), 77.57103344229319);
    }

    #[test]
    fn corpus_sums_statistics_before_scoring() {
        let hyps = ["the cat sat on the mat", "ab"];
        let refs = vec![vec!["the cat sat on a mat"], vec!["abc"]];
        assert_close(corpus_chrf(&hyps, &refs).unwrap(), 70.40000550157713);
        let err = corpus_chrf(&hyps, &refs[..1]).unwrap_err();
        assert_eq!(
            err,
            ChrfError::LengthMismatch {
                hypotheses: 2,
                references: 1
            }
        );
    }
}

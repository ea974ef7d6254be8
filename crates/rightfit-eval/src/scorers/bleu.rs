//! BLEU as sacrebleu 2.6.0 computes it with its defaults: the `13a` tokenizer, mixed case,
//! n-grams up to 4, `exp` smoothing, signature `case:mixed|eff:no|tok:13a|smooth:exp` at corpus
//! level.
//!
//! A segment is reduced to [`BleuStats`] (lengths, clipped n-gram matches and n-gram totals);
//! corpus BLEU sums the statistics of all segments and scores the sum once, so a runner can
//! score examples one by one and aggregate later with `+=`. Scores are on 0..=100.
//!
//! Behaviour kept from sacrebleu, value for value:
//! - the hypothesis and each reference lose trailing white space, then go through
//!   [`tokenize_13a`];
//! - with several references an n-gram's count is clipped by its largest count in any one
//!   reference, and the reference length is the one closest to the hypothesis length (the
//!   shorter on a tie);
//! - the brevity penalty is `exp(1 - ref_len / hyp_len)` when the hypothesis is shorter, 0 for
//!   an empty hypothesis against a non-empty reference;
//! - with no matching n-gram at all the score is 0 and all precisions are reported as 0;
//! - `exp` smoothing: the k-th order with no match (counting from 1) gets precision
//!   `100 / (2^k * total)`; an order the hypothesis is too short to have stops the loop, and a
//!   zero precision counts as `log = -9999999999`;
//! - "effective order" averages only the orders the hypothesis has n-grams of. sacrebleu's
//!   `corpus_bleu` leaves it off and its `sentence_bleu` turns it on, and so do
//!   [`corpus_bleu`] and [`sentence_bleu`] here.
//!
//! A hypothesis given no reference at all (sacrebleu fails on it) is scored against one empty
//! reference.

pub(crate) mod pystr;
mod tokenize;

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use tokenize::tokenize_13a;

/// The highest n-gram order BLEU counts.
pub const MAX_ORDER: usize = 4;

/// What sacrebleu's `my_log` returns for a zero precision instead of minus infinity.
const LOG_ZERO: f64 = -9_999_999_999.0;

/// Errors from corpus-level BLEU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BleuError {
    /// The hypothesis and reference lists do not pair up.
    #[error(
        "corpus BLEU got {hypotheses} hypotheses but {references} reference lists; \
         give exactly one list of references per hypothesis, in the same order"
    )]
    LengthMismatch {
        /// Number of hypotheses given.
        hypotheses: usize,
        /// Number of reference lists given.
        references: usize,
    },
}

/// Sufficient statistics of one segment, or of several summed: everything BLEU needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BleuStats {
    /// Tokens in the hypothesis.
    pub hyp_len: usize,
    /// Tokens in the reference whose length is closest to the hypothesis length.
    pub ref_len: usize,
    /// Hypothesis n-grams matched in the references (clipped), for n = 1..=4.
    pub correct: [usize; MAX_ORDER],
    /// Hypothesis n-grams, for n = 1..=4.
    pub total: [usize; MAX_ORDER],
}

/// A BLEU score and the figures it is made of, as sacrebleu reports them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BleuScore {
    /// BLEU, 0..=100.
    pub score: f64,
    /// Smoothed n-gram precisions, 0..=100, for n = 1..=4.
    pub precisions: [f64; MAX_ORDER],
    /// Brevity penalty, 0..=1.
    pub bp: f64,
    /// `hyp_len / ref_len`, or 0 when `ref_len` is 0.
    pub ratio: f64,
    /// Tokens in the hypotheses.
    pub hyp_len: usize,
    /// Tokens in the references chosen for length.
    pub ref_len: usize,
}

impl BleuStats {
    /// Statistics of hypothesis `hyp` against its references `refs` (raw, untokenized text).
    pub fn new<R: AsRef<str>>(hyp: &str, refs: &[R]) -> Self {
        let ref_tokenized: Vec<String> = refs.iter().map(|r| preprocess(r.as_ref())).collect();
        let ref_words: Vec<Vec<&str>> = ref_tokenized
            .iter()
            .map(|t| pystr::split(t).collect())
            .collect();
        let mut ref_max: HashMap<&[&str], usize> = HashMap::new();
        for words in &ref_words {
            for (ngram, count) in ngram_counts(words) {
                let best = ref_max.entry(ngram).or_default();
                *best = (*best).max(count);
            }
        }

        let hyp_tokenized = preprocess(hyp);
        let hyp_words: Vec<&str> = pystr::split(&hyp_tokenized).collect();
        let mut stats = BleuStats {
            hyp_len: hyp_words.len(),
            ref_len: closest_ref_len(hyp_words.len(), ref_words.iter().map(Vec::len)),
            ..BleuStats::default()
        };
        for (ngram, count) in ngram_counts(&hyp_words) {
            let order = ngram.len() - 1;
            stats.total[order] += count;
            if let Some(&in_ref) = ref_max.get(ngram) {
                stats.correct[order] += count.min(in_ref);
            }
        }
        stats
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &BleuStats) {
        self.hyp_len += other.hyp_len;
        self.ref_len += other.ref_len;
        for n in 0..MAX_ORDER {
            self.correct[n] += other.correct[n];
            self.total[n] += other.total[n];
        }
    }

    /// Corpus-style BLEU of these statistics (effective order off), as `corpus_bleu`.
    pub fn score(&self) -> BleuScore {
        self.score_with(false)
    }

    /// Sentence-style BLEU of these statistics (effective order on), as `sentence_bleu`.
    pub fn sentence_score(&self) -> BleuScore {
        self.score_with(true)
    }

    /// BLEU of these statistics with `exp` smoothing; `effective_order` averages only the
    /// n-gram orders the hypotheses have any n-gram of.
    pub fn score_with(&self, effective_order: bool) -> BleuScore {
        let bp = if self.hyp_len >= self.ref_len {
            1.0
        } else if self.hyp_len > 0 {
            (1.0 - self.ref_len as f64 / self.hyp_len as f64).exp()
        } else {
            0.0
        };
        let ratio = if self.ref_len > 0 {
            self.hyp_len as f64 / self.ref_len as f64
        } else {
            0.0
        };
        let mut result = BleuScore {
            score: 0.0,
            precisions: [0.0; MAX_ORDER],
            bp,
            ratio,
            hyp_len: self.hyp_len,
            ref_len: self.ref_len,
        };
        if self.correct.iter().all(|&c| c == 0) {
            return result;
        }

        let mut smooth = 1.0;
        let mut orders = MAX_ORDER;
        for n in 0..MAX_ORDER {
            if self.total[n] == 0 {
                break;
            }
            if effective_order {
                orders = n + 1;
            }
            result.precisions[n] = if self.correct[n] == 0 {
                smooth *= 2.0;
                100.0 / (smooth * self.total[n] as f64)
            } else {
                100.0 * self.correct[n] as f64 / self.total[n] as f64
            };
        }
        let log_sum = result.precisions[..orders].iter().fold(0.0, |sum, &p| {
            sum + if p == 0.0 { LOG_ZERO } else { p.ln() }
        });
        result.score = bp * (log_sum / orders as f64).exp();
        result
    }
}

super::merge_ops!(BleuStats);

impl fmt::Display for BleuScore {
    /// sacrebleu's line without the signature:
    /// `BLEU = 8.23 24.8/8.0/5.4/4.3 (BP = 1.000 ratio = 1.008 hyp_len = 2247 ref_len = 2229)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let precisions: Vec<String> = self.precisions.iter().map(|p| format!("{p:.1}")).collect();
        write!(
            f,
            "BLEU = {:.2} {} (BP = {:.3} ratio = {:.3} hyp_len = {} ref_len = {})",
            self.score,
            precisions.join("/"),
            self.bp,
            self.ratio,
            self.hyp_len,
            self.ref_len
        )
    }
}

/// BLEU of one hypothesis against its references, as sacrebleu's `sentence_bleu` (effective
/// order on).
pub fn sentence_bleu<R: AsRef<str>>(hyp: &str, refs: &[R]) -> BleuScore {
    BleuStats::new(hyp, refs).sentence_score()
}

/// BLEU of a corpus, as sacrebleu's `corpus_bleu` (effective order off); `refs[i]` holds the
/// references of `hyps[i]`.
///
/// # Errors
///
/// [`BleuError::LengthMismatch`] when `hyps` and `refs` differ in length.
pub fn corpus_bleu<H: AsRef<str>, R: AsRef<str>>(
    hyps: &[H],
    refs: &[Vec<R>],
) -> Result<BleuScore, BleuError> {
    if hyps.len() != refs.len() {
        return Err(BleuError::LengthMismatch {
            hypotheses: hyps.len(),
            references: refs.len(),
        });
    }
    let stats: BleuStats = hyps
        .iter()
        .zip(refs)
        .map(|(hyp, refs)| BleuStats::new(hyp.as_ref(), refs))
        .sum();
    Ok(stats.score())
}

/// sacrebleu's BLEU pre-processing: trailing white space off, then `13a`.
fn preprocess(segment: &str) -> String {
    tokenize_13a(pystr::rstrip(segment))
}

/// Counts of every n-gram of `words`, n = 1..=4.
fn ngram_counts<'a, 'w>(words: &'a [&'w str]) -> HashMap<&'a [&'w str], usize> {
    let mut counts = HashMap::new();
    for n in 1..=MAX_ORDER {
        for ngram in words.windows(n) {
            *counts.entry(ngram).or_default() += 1;
        }
    }
    counts
}

/// The reference length closest to `hyp_len`, the shorter on a tie; 0 without references.
fn closest_ref_len(hyp_len: usize, ref_lens: impl Iterator<Item = usize>) -> usize {
    ref_lens
        .min_by_key(|&len| (len.abs_diff(hyp_len), len))
        .unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod golden_tests;

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values were produced by sacrebleu 2.6.0 on the same inputs.

    fn assert_close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() < 1e-9,
            "actual {actual}, expected {expected}"
        );
    }

    #[test]
    fn partial_match_in_every_order() {
        let s = sentence_bleu("the cat sat on the mat", &["the cat sat on a mat"]);
        assert_close(s.score, 53.7284965911771);
        assert_eq!(
            s.precisions,
            [83.33333333333333, 60.0, 50.0, 33.333333333333336]
        );
        assert_eq!((s.bp, s.hyp_len, s.ref_len), (1.0, 6, 6));
    }

    #[test]
    fn several_references_clip_by_max_and_take_shorter_on_length_tie() {
        let stats = BleuStats::new(
            "the the the the",
            &["the cat", "the the dog runs away fast"],
        );
        assert_eq!(stats.ref_len, 2);
        assert_eq!(stats.correct, [2, 1, 0, 0]);
        assert_eq!(stats.total, [4, 3, 2, 1]);
        let s = stats.score();
        // Orders 3 and 4 have no match: 100 / (2 * 2) and 100 / (4 * 1).
        assert_eq!(s.precisions, [50.0, 33.333333333333336, 25.0, 25.0]);
        assert_close(s.score, 31.947155212313625);
        assert_eq!(closest_ref_len(5, [3, 7].into_iter()), 3);
        assert_eq!(closest_ref_len(5, [7, 3].into_iter()), 3);
    }

    #[test]
    fn effective_order_rescues_short_hypotheses_only_for_sentences() {
        let stats = BleuStats::new("the cat", &["the cat sat"]);
        assert_close(stats.sentence_score().score, 60.653065971263366);
        assert_close(
            sentence_bleu("the cat", &["the cat sat"]).score,
            60.653065971263366,
        );
        let corpus = stats.score();
        assert_eq!(corpus.score, 0.0);
        assert_eq!(corpus.precisions, [100.0, 100.0, 0.0, 0.0]);
        assert_close(corpus.bp, 0.6065306597126334);
    }

    #[test]
    fn empty_hypothesis_scores_zero_with_zero_brevity_penalty() {
        let s = sentence_bleu("", &["the cat sat"]);
        assert_eq!((s.score, s.bp, s.hyp_len, s.ref_len), (0.0, 0.0, 0, 3));
        let both_empty = sentence_bleu("", &[""]);
        assert_eq!(
            (both_empty.score, both_empty.bp, both_empty.ratio),
            (0.0, 1.0, 0.0)
        );
        assert_eq!(sentence_bleu("  \n", &["x"]).hyp_len, 0);
    }

    #[test]
    fn no_match_reports_zero_precisions() {
        let stats = BleuStats::new("a b c", &["x y z"]);
        assert_eq!(stats.total, [3, 2, 1, 0]);
        let s = stats.score();
        assert_eq!((s.score, s.precisions, s.bp), (0.0, [0.0; 4], 1.0));
    }

    #[test]
    fn no_reference_counts_as_an_empty_one() {
        let none: [&str; 0] = [];
        assert_eq!(BleuStats::new("a b", &none), BleuStats::new("a b", &[""]));
    }

    #[test]
    fn corpus_sums_statistics_before_scoring() {
        let hyps = ["the cat", "a b c d e"];
        let refs = vec![vec!["the cat sat"], vec!["a b c d e f"]];
        let s = corpus_bleu(&hyps, &refs).unwrap();
        assert_eq!(
            s.to_string(),
            "BLEU = 75.15 100.0/100.0/100.0/100.0 (BP = 0.751 ratio = 0.778 hyp_len = 7 ref_len = 9)"
        );
        let mut summed = BleuStats::new(hyps[0], &refs[0]);
        summed += BleuStats::new(hyps[1], &refs[1]);
        assert_eq!(summed.score(), s);
    }

    #[test]
    fn corpus_rejects_unpaired_lists() {
        let err = corpus_bleu(&["a", "b"], &[vec!["a"]]).unwrap_err();
        assert_eq!(
            err,
            BleuError::LengthMismatch {
                hypotheses: 2,
                references: 1
            }
        );
        assert!(
            err.to_string()
                .contains("one list of references per hypothesis")
        );
    }

    #[test]
    fn tokenization_decides_matches() {
        // "world!" and "world" only match because 13a splits off the "!".
        let s = sentence_bleu("Hello, world!", &["Hello world"]);
        assert_eq!(
            BleuStats::new("Hello, world!", &["Hello world"]).correct[0],
            2
        );
        assert!(s.score > 0.0);
        // Trailing white space is stripped before tokenizing: "x-\n" keeps its hyphen.
        assert_eq!(BleuStats::new("x-\n", &["x-"]).correct, [1, 0, 0, 0]);
    }
}

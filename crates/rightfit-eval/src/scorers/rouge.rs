//! ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum as Google's `rouge-score` 0.1.2 computes them.
//!
//! Tokens: the text is lowercased, every character outside `[a-z0-9]` separates tokens, and with
//! the stemmer each token longer than three characters goes through NLTK's Porter stemmer
//! ([`super::porter`]). Non-ASCII letters are therefore dropped, as rouge-score drops them.
//!
//! ROUGE-N counts clipped n-gram overlaps; ROUGE-L uses the longest common subsequence of the two
//! token sequences; ROUGE-Lsum splits both texts into sentences on `"\n"` and, for every
//! reference sentence, takes the union of its LCS positions with each predicted sentence,
//! counting each token at most as often as it occurs on both sides (rouge-score's bookkeeping,
//! after ROUGE 1.5.5).

use std::collections::HashMap;

use serde::Serialize;

use super::porter;

/// Precision, recall and their harmonic mean (0 when both are 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prf {
    /// Matched units over the prediction's units.
    pub precision: f64,
    /// Matched units over the target's units.
    pub recall: f64,
    /// `2PR / (P + R)`, or 0 when `P + R` is 0.
    pub fmeasure: f64,
}

impl Prf {
    /// The scores for `hits` matches among `predicted` and `target` units; each denominator is
    /// at least 1, as in rouge-score's n-gram scoring.
    fn from_counts(hits: usize, predicted: usize, target: usize) -> Self {
        let precision = hits as f64 / predicted.max(1) as f64;
        let recall = hits as f64 / target.max(1) as f64;
        Prf {
            precision,
            recall,
            fmeasure: fmeasure(precision, recall),
        }
    }

    const ZERO: Prf = Prf {
        precision: 0.0,
        recall: 0.0,
        fmeasure: 0.0,
    };
}

/// The four ROUGE variants for one (target, prediction) pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RougeScores {
    /// Unigram overlap (rouge-score's `rouge1`).
    pub rouge1: Prf,
    /// Bigram overlap (`rouge2`).
    pub rouge2: Prf,
    /// Longest common subsequence over the whole texts (`rougeL`).
    pub rouge_l: Prf,
    /// Summary-level LCS over sentences split on `"\n"` (`rougeLsum`).
    pub rouge_lsum: Prf,
}

/// Scores `prediction` against `target`, in rouge-score's call order `score(target, prediction)`.
pub fn score(target: &str, prediction: &str, use_stemmer: bool) -> RougeScores {
    let mut vocabulary = Vocabulary::default();
    let target = Sentences::new(target, use_stemmer, &mut vocabulary);
    let prediction = Sentences::new(prediction, use_stemmer, &mut vocabulary);
    RougeScores {
        rouge1: rouge_n(&target.tokens, &prediction.tokens, 1),
        rouge2: rouge_n(&target.tokens, &prediction.tokens, 2),
        rouge_l: rouge_l(&target.tokens, &prediction.tokens),
        rouge_lsum: rouge_lsum(&target, &prediction, vocabulary.len()),
    }
}

/// rouge-score's default tokeniser: lowercase, split on every character outside `[a-z0-9]`,
/// and with `use_stemmer` stem the tokens longer than three characters.
pub fn tokenize(text: &str, use_stemmer: bool) -> Vec<String> {
    let mut tokens = Vec::new();
    for_each_token(text, use_stemmer, |token| tokens.push(token.to_owned()));
    tokens
}

fn for_each_token(text: &str, use_stemmer: bool, mut emit: impl FnMut(&str)) {
    let mut current = String::new();
    let mut flush = |current: &mut String| {
        if current.is_empty() {
            return;
        }
        if use_stemmer && current.len() > 3 {
            let stemmed = porter::stem(current);
            if !stemmed.is_empty() {
                emit(&stemmed);
            }
        } else {
            emit(current);
        }
        current.clear();
    };
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            current.push(c);
        } else {
            flush(&mut current);
        }
    }
    flush(&mut current);
}

/// Token ids, dense from 0, shared by the target and the prediction of one pair.
#[derive(Debug, Default)]
struct Vocabulary {
    ids: HashMap<String, u32>,
}

impl Vocabulary {
    fn id(&mut self, token: &str) -> u32 {
        if let Some(&id) = self.ids.get(token) {
            return id;
        }
        let id = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        self.ids.insert(token.to_owned(), id);
        id
    }

    fn len(&self) -> usize {
        self.ids.len()
    }
}

/// A text's token ids, and where its `"\n"`-separated sentences start and end in them.
#[derive(Debug)]
struct Sentences {
    tokens: Vec<u32>,
    /// `(start, end)` ranges into `tokens`; sentences without tokens are left out, which changes
    /// no score.
    bounds: Vec<(usize, usize)>,
}

impl Sentences {
    fn new(text: &str, use_stemmer: bool, vocabulary: &mut Vocabulary) -> Self {
        let mut tokens = Vec::new();
        let mut bounds = Vec::new();
        // Tokenising line by line gives the same tokens as the whole text: "\n" separates anyway.
        for line in text.split('\n') {
            let start = tokens.len();
            for_each_token(line, use_stemmer, |token| tokens.push(vocabulary.id(token)));
            if tokens.len() > start {
                bounds.push((start, tokens.len()));
            }
        }
        Sentences { tokens, bounds }
    }

    fn iter(&self) -> impl Iterator<Item = &[u32]> {
        self.bounds
            .iter()
            .map(|&(start, end)| &self.tokens[start..end])
    }
}

fn fmeasure(precision: f64, recall: f64) -> f64 {
    if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    }
}

/// Clipped n-gram overlap.
fn rouge_n(target: &[u32], prediction: &[u32], n: usize) -> Prf {
    let mut remaining: HashMap<&[u32], usize> = HashMap::new();
    for gram in target.windows(n) {
        *remaining.entry(gram).or_insert(0) += 1;
    }
    let mut hits = 0;
    for gram in prediction.windows(n) {
        if let Some(left) = remaining.get_mut(gram)
            && *left > 0
        {
            *left -= 1;
            hits += 1;
        }
    }
    let count = |tokens: &[u32]| (tokens.len() + 1).saturating_sub(n);
    Prf::from_counts(hits, count(prediction), count(target))
}

/// LCS over the whole token sequences; 0 when either side has no tokens.
fn rouge_l(target: &[u32], prediction: &[u32]) -> Prf {
    if target.is_empty() || prediction.is_empty() {
        return Prf::ZERO;
    }
    let lcs = lcs_length(target, prediction);
    Prf::from_counts(lcs, prediction.len(), target.len())
}

/// The LCS length with two rows of the table.
fn lcs_length(a: &[u32], b: &[u32]) -> usize {
    let mut previous = vec![0usize; b.len() + 1];
    let mut current = vec![0usize; b.len() + 1];
    for &x in a {
        for (j, &y) in b.iter().enumerate() {
            current[j + 1] = if x == y {
                previous[j] + 1
            } else {
                previous[j + 1].max(current[j])
            };
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// A full LCS table, reused between sentence pairs to keep allocations down.
#[derive(Debug, Default)]
struct LcsTable {
    cells: Vec<u32>,
    cols: usize,
}

impl LcsTable {
    fn fill(&mut self, reference: &[u32], candidate: &[u32]) {
        self.cols = candidate.len() + 1;
        self.cells.clear();
        self.cells.resize((reference.len() + 1) * self.cols, 0);
        for (i, &x) in reference.iter().enumerate() {
            for (j, &y) in candidate.iter().enumerate() {
                self.cells[(i + 1) * self.cols + j + 1] = if x == y {
                    self.at(i, j) + 1
                } else {
                    self.at(i, j + 1).max(self.at(i + 1, j))
                };
            }
        }
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.cols + j]
    }

    /// Marks in `in_lcs` the reference positions of one LCS, chosen as rouge-score's
    /// `_backtrack_norec` chooses them: match when the tokens agree, else move along the
    /// candidate only when that keeps a strictly longer LCS.
    fn mark_backtrack(&self, reference: &[u32], candidate: &[u32], in_lcs: &mut [bool]) {
        let (mut i, mut j) = (reference.len(), candidate.len());
        while i > 0 && j > 0 {
            if reference[i - 1] == candidate[j - 1] {
                in_lcs[i - 1] = true;
                i -= 1;
                j -= 1;
            } else if self.at(i, j - 1) > self.at(i - 1, j) {
                j -= 1;
            } else {
                i -= 1;
            }
        }
    }
}

/// Summary-level LCS (rouge-score's `_summary_level_lcs`).
fn rouge_lsum(target: &Sentences, prediction: &Sentences, vocabulary_len: usize) -> Prf {
    let m = target.tokens.len();
    let n = prediction.tokens.len();
    if m == 0 || n == 0 {
        return Prf::ZERO;
    }
    let mut left_in_target = vec![0u32; vocabulary_len];
    for &t in &target.tokens {
        left_in_target[t as usize] += 1;
    }
    let mut left_in_prediction = vec![0u32; vocabulary_len];
    for &t in &prediction.tokens {
        left_in_prediction[t as usize] += 1;
    }
    let mut table = LcsTable::default();
    let mut in_union = Vec::new();
    let mut hits = 0;
    for reference in target.iter() {
        in_union.clear();
        in_union.resize(reference.len(), false);
        for candidate in prediction.iter() {
            table.fill(reference, candidate);
            table.mark_backtrack(reference, candidate, &mut in_union);
        }
        for (&t, _) in reference
            .iter()
            .zip(&in_union)
            .filter(|(_, in_lcs)| **in_lcs)
        {
            let t = t as usize;
            if left_in_prediction[t] > 0 && left_in_target[t] > 0 {
                hits += 1;
                left_in_prediction[t] -= 1;
                left_in_target[t] -= 1;
            }
        }
    }
    Prf::from_counts(hits, n, m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::io::BufRead;

    #[derive(Deserialize)]
    struct GoldenRow {
        paper_id: String,
        use_stemmer: bool,
        target: String,
        prediction: String,
        rouge1: [f64; 3],
        rouge2: [f64; 3],
        #[serde(rename = "rougeL")]
        rouge_l: [f64; 3],
        #[serde(rename = "rougeLsum")]
        rouge_lsum: [f64; 3],
    }

    fn close(got: Prf, want: [f64; 3]) -> bool {
        let got = [got.precision, got.recall, got.fmeasure];
        got.iter().zip(want).all(|(g, w)| (g - w).abs() <= 1e-6)
    }

    fn prf(precision: f64, recall: f64) -> Prf {
        Prf {
            precision,
            recall,
            fmeasure: fmeasure(precision, recall),
        }
    }

    #[test]
    fn reproduces_rouge_score_on_scitldr_golden_rows() {
        let path = crate::testdata::golden("golden_rouge_scitldr100.jsonl");
        let file = std::fs::File::open(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (shared data missing?)", path.display()));
        let mut rows = 0;
        let mut stemmed = 0;
        let mut wrong = Vec::new();
        for line in std::io::BufReader::new(file).lines() {
            let row: GoldenRow = serde_json::from_str(&line.unwrap()).unwrap();
            let got = score(&row.target, &row.prediction, row.use_stemmer);
            for (name, got, want) in [
                ("rouge1", got.rouge1, row.rouge1),
                ("rouge2", got.rouge2, row.rouge2),
                ("rougeL", got.rouge_l, row.rouge_l),
                ("rougeLsum", got.rouge_lsum, row.rouge_lsum),
            ] {
                if !close(got, want) {
                    wrong.push(format!(
                        "{} stem={} {name}: got {got:?}, want {want:?}",
                        row.paper_id, row.use_stemmer
                    ));
                }
            }
            rows += 1;
            stemmed += usize::from(row.use_stemmer);
        }
        assert_eq!((rows, stemmed), (200, 100));
        assert!(wrong.is_empty(), "{} mismatches: {wrong:#?}", wrong.len());
    }

    #[test]
    fn tokenizer_keeps_only_ascii_alphanumerics() {
        assert_eq!(
            tokenize("Hello, WORLD! naïve x-ray 3.5 °C", false),
            ["hello", "world", "na", "ve", "x", "ray", "3", "5", "c"]
        );
        // `İ` lowercases to `i` plus a combining dot, so an `i` survives, as in Python.
        assert_eq!(tokenize("İt", false), ["i", "t"]);
        assert!(tokenize("  ¿¡ —  ", false).is_empty());
    }

    #[test]
    fn tokenizer_stems_only_tokens_longer_than_three() {
        assert_eq!(
            tokenize("The cats were running; dogs ran.", true),
            ["the", "cat", "were", "run", "dog", "ran"]
        );
        assert_eq!(tokenize("cats", false), ["cats"]);
    }

    #[test]
    fn rouge_n_clips_repeated_ngrams() {
        let s = score("the the cat", "the the the the", false);
        assert_eq!(s.rouge1, prf(2.0 / 4.0, 2.0 / 3.0));
        assert_eq!(s.rouge2, prf(1.0 / 3.0, 1.0 / 2.0));
    }

    #[test]
    fn empty_sides_score_zero() {
        let zero = RougeScores {
            rouge1: Prf::ZERO,
            rouge2: Prf::ZERO,
            rouge_l: Prf::ZERO,
            rouge_lsum: Prf::ZERO,
        };
        assert_eq!(score("", "a cat", false), zero);
        assert_eq!(score("a cat", "!!", false), zero);
        // One token on each side: no bigrams, so ROUGE-2 divides 0 by max(0, 1).
        assert_eq!(score("cat", "cat", false).rouge2, Prf::ZERO);
    }

    #[test]
    fn rouge_l_uses_the_longest_common_subsequence() {
        // LCS of "police killed the gunman" and "the gunman kill police" (no stemming) is
        // "the gunman": 2 of 4 on each side.
        let s = score("police killed the gunman", "the gunman kill police", false);
        assert_eq!(s.rouge_l, prf(0.5, 0.5));
        let s = score("police killed the gunman", "police kill the gunman", true);
        assert_eq!(s.rouge_l, prf(1.0, 1.0));
    }

    #[test]
    fn rouge_lsum_takes_the_union_lcs_per_reference_sentence() {
        // The example from Lin (2004), section 3.2: reference w1 w2 w3 w4 w5, candidate
        // sentences "w1 w3 w8 w9 w5" and "w1 w2 w6 w7 w8". The union LCS is w1 w2 w3 w5: 4 hits,
        // recall 4/5, precision 4/10. rouge-score 0.1.2 gives the same values.
        let target = "w1 w2 w3 w4 w5";
        let prediction = "w1 w3 w8 w9 w5\nw1 w2 w6 w7 w8";
        let s = score(target, prediction, false);
        assert_eq!(s.rouge_lsum, prf(0.4, 0.8));
        // Over the whole text in this order the LCS is only w1 w3 w5.
        assert_eq!(s.rouge_l, prf(0.3, 0.6));
    }

    #[test]
    fn rouge_lsum_counts_a_token_no_more_often_than_both_sides_hold_it() {
        // Both reference sentences match "a b" in the single candidate sentence, but the
        // candidate holds each token once: 2 hits, not 4. Checked with rouge-score 0.1.2.
        let s = score("a b\na b", "a b", false);
        assert_eq!(s.rouge_lsum, prf(1.0, 0.5));
        // Blank lines and lines without tokens change nothing.
        let t = score("\n\na b\n--\n\na b\n", "a b\n\n", false);
        assert_eq!(t.rouge_lsum, s.rouge_lsum);
    }

    #[test]
    fn rouge_lsum_follows_rouge_score_backtracking_ties() {
        // Reference sentence "a b" against candidate "b a": both "a" and "b" are an LCS, and
        // rouge-score's backtrack picks "a". That uses up the candidate's only "a", so the second
        // reference sentence "a" scores nothing: 1 hit, precision 1/2, recall 1/3 (rouge-score
        // 0.1.2 gives the same). Picking "b" would have given 2 hits.
        let s = score("a b\na", "b a", false);
        assert_eq!(s.rouge_lsum, prf(0.5, 1.0 / 3.0));
        assert_eq!(s.rouge_l, prf(1.0, 2.0 / 3.0));
    }
}

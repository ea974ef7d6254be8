//! Reading answers: the final answer of a reasoning candidate, the key a vote counts, the vote,
//! and confidence from label log-likelihoods.

use rightfit_types::{LabelNorm, LoglikelihoodResponse};
use serde_json::Value;

use crate::score::Scorer;

/// The final answer of a reasoning candidate: what follows the **last** line that starts with
/// `prefix` (case-insensitive, after leading whitespace, Markdown emphasis `**` and `#` marks
/// stripped), up to the end of that line — or, when the answer line is only the prefix, the
/// next non-empty line. No such line: the last non-empty line (a model that reasoned and then
/// answered without the marker). Returns `None` for an empty text.
pub fn final_answer(text: &str, prefix: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let wanted = prefix.trim().to_lowercase();
    let clean = |l: &str| {
        l.trim()
            .trim_start_matches(['#', '*', ' '])
            .trim_start()
            .to_owned()
    };
    for (i, line) in lines.iter().enumerate().rev() {
        let cleaned = clean(line);
        let lower = cleaned.to_lowercase();
        if let Some(pos) = lower.find(&wanted).filter(|&p| p == 0) {
            let rest = cleaned[pos + wanted.len()..]
                .trim()
                .trim_start_matches(['*', ' '])
                .trim_end_matches(['*', ' '])
                .trim();
            if !rest.is_empty() {
                return Some(rest.to_owned());
            }
            return lines[i + 1..]
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.is_empty())
                .map(str::to_owned);
        }
    }
    lines
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}

/// What a self-consistency vote counts for an answer: the parsed label, the parsed JSON value
/// (canonical text), or for free text the words lower-cased with punctuation at the ends
/// dropped. `None` when the answer does not parse into the contract (it does not vote).
pub fn vote_key(scorer: &Scorer, answer: &str) -> Option<String> {
    let scored = scorer.score(answer, &Value::Null);
    if scored.unparseable {
        return None;
    }
    match scored.parsed {
        Some(Value::String(s)) => Some(s),
        Some(v) => Some(v.to_string()),
        None => {
            let words: Vec<String> = answer.split_whitespace().map(str::to_lowercase).collect();
            let text = words.join(" ");
            let text = text.trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace());
            (!text.is_empty()).then(|| text.to_owned())
        }
    }
}

/// The outcome of a vote over samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Vote {
    /// Index of the first sample that gave the winning answer.
    pub winner: usize,
    /// Samples that gave it.
    pub votes: usize,
    /// Share of all samples (unparseable and failed ones included) that gave it.
    pub agreement: f64,
}

/// Majority vote over the samples' keys (`None`: did not vote). Ties go to the answer that
/// appeared first. `None` when no sample voted.
pub fn vote(keys: &[Option<String>]) -> Option<Vote> {
    let mut best: Option<(usize, usize)> = None; // (first index, count)
    for (i, key) in keys.iter().enumerate() {
        let Some(key) = key else { continue };
        if keys[..i].iter().any(|k| k.as_ref() == Some(key)) {
            continue; // counted at its first occurrence
        }
        let count = keys.iter().filter(|k| k.as_ref() == Some(key)).count();
        if best.is_none_or(|(_, c)| count > c) {
            best = Some((i, count));
        }
    }
    best.map(|(winner, votes)| Vote {
        winner,
        votes,
        agreement: votes as f64 / keys.len() as f64,
    })
}

/// Confidence of a log-likelihood choice: the probability margin between the two most likely
/// labels, probabilities normalised over the labels (softmax of the scores `norm` compares: the
/// total log-probabilities, or per token, or per byte). 1 with a single label; `None` without
/// scores.
pub fn label_margin(
    r: &LoglikelihoodResponse,
    continuations: &[String],
    norm: LabelNorm,
) -> Option<f64> {
    let scores = r.normalised_scores(continuations, norm);
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return None;
    }
    let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut probs: Vec<f64> = weights.iter().map(|w| w / total).collect();
    probs.sort_by(|a, b| b.total_cmp(a));
    Some(probs[0] - probs.get(1).copied().unwrap_or(0.0))
}

/// A critic's verdict accepts the answer when it starts with OK (any case, punctuation ignored).
pub fn accepts(critique: &str) -> bool {
    let t = critique.trim_start_matches(|c: char| !c.is_alphanumeric());
    let word: String = t.chars().take_while(|c| c.is_alphanumeric()).collect();
    word.eq_ignore_ascii_case("ok")
}

/// A verifier's chat verdict: yes → 1, no → 0, anything else → 0 (not trusted).
pub fn yes_no(verdict: &str) -> f64 {
    let t = verdict.trim_start_matches(|c: char| !c.is_alphanumeric());
    let word: String = t.chars().take_while(|c| c.is_alphanumeric()).collect();
    if word.eq_ignore_ascii_case("yes") {
        1.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rightfit_types::ContinuationScore;

    #[test]
    fn the_final_answer_follows_the_last_marker() {
        let t = "Answer: maybe\nThe line is sad.\nAnswer: negative\n";
        assert_eq!(final_answer(t, "Answer:").as_deref(), Some("negative"));
        assert_eq!(
            final_answer("**Answer:** positive.", "Answer:").as_deref(),
            Some("positive.")
        );
        assert_eq!(
            final_answer("reasoning\nanswer:\n\n  mixed \nlater", "Answer:").as_deref(),
            Some("mixed")
        );
        assert_eq!(
            final_answer("Reasoning without a marker.\n positive \n\n", "Answer:").as_deref(),
            Some("positive")
        );
        assert_eq!(
            final_answer("x\nFinal: 42", "Final:").as_deref(),
            Some("42")
        );
        // The marker must start the line.
        assert_eq!(
            final_answer("The Answer: is here\nno", "Answer:").as_deref(),
            Some("no")
        );
        assert_eq!(final_answer(" \n", "Answer:"), None);
    }

    #[test]
    fn votes_count_and_ties_go_to_the_first_answer() {
        let k = |s: &str| Some(s.to_owned());
        let v = vote(&[k("a"), k("b"), k("b"), None, k("a"), k("b")]).unwrap();
        assert_eq!((v.winner, v.votes), (1, 3));
        assert!((v.agreement - 0.5).abs() < 1e-12);
        let tie = vote(&[k("b"), k("a"), k("a"), k("b")]).unwrap();
        assert_eq!((tie.winner, tie.votes), (0, 2));
        assert_eq!(vote(&[None, None]), None);
        let lone = vote(&[None, k("x"), None]).unwrap();
        assert_eq!(lone.winner, 1);
        assert!((lone.agreement - 1.0 / 3.0).abs() < 1e-12);
    }

    fn ll(lps: &[f64]) -> LoglikelihoodResponse {
        LoglikelihoodResponse {
            model: "m".into(),
            scores: lps
                .iter()
                .map(|&logprob| ContinuationScore {
                    logprob,
                    tokens: 1,
                    is_greedy: false,
                })
                .collect(),
            context_tokens: 3,
        }
    }

    #[test]
    fn the_margin_is_between_normalised_label_probabilities() {
        // p = [0.5, 0.25, 0.25] after normalisation.
        let r = ll(&[
            (0.5f64).ln() - 3.0,
            (0.25f64).ln() - 3.0,
            (0.25f64).ln() - 3.0,
        ]);
        assert!((label_margin(&r, &[], LabelNorm::None).unwrap() - 0.25).abs() < 1e-12);
        assert!((label_margin(&ll(&[-1.0, -1.0]), &[], LabelNorm::None).unwrap()).abs() < 1e-12);
        assert_eq!(label_margin(&ll(&[-2.0]), &[], LabelNorm::None), Some(1.0));
        assert_eq!(label_margin(&ll(&[]), &[], LabelNorm::None), None);
        // Per byte: " no" (-3 over 3 bytes) against " not at all" (-4.4 over 11 bytes).
        let r = ll(&[-3.0, -4.4]);
        let c = [" no".to_owned(), " not at all".to_owned()];
        let (a, b) = ((-1.0f64).exp(), (-0.4f64).exp());
        let m = label_margin(&r, &c, LabelNorm::Byte).unwrap();
        assert!((m - (b - a) / (a + b)).abs() < 1e-12, "{m}");
    }

    #[test]
    fn critiques_and_verdicts() {
        assert!(accepts("OK"));
        assert!(accepts("  ok."));
        assert!(accepts("**OK** the answer is right"));
        assert!(!accepts("Okay, but the label is wrong"));
        assert!(!accepts("The answer is not OK"));
        assert_eq!(yes_no("Yes."), 1.0);
        assert_eq!(yes_no(" no"), 0.0);
        assert_eq!(yes_no("Maybe"), 0.0);
    }
}

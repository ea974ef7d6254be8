//! Labels: finding the label in a free-text answer, accuracy and macro-F1.
//!
//! Small models rarely answer with the bare label. [`LabelParser`] accepts the label however it
//! is dressed (case, quotes, trailing punctuation, `Label: x`, a sentence around it, `_` written
//! as a space) and refuses to guess: an answer naming no label, or two different labels at the
//! same place, is unparseable and counts as wrong.

/// Finds one of a fixed set of labels in an answer.
#[derive(Debug, Clone)]
pub struct LabelParser {
    labels: Vec<String>,
    /// Normalised label forms, longest first, with their label index.
    forms: Vec<(String, usize)>,
}

fn norm(text: &str) -> String {
    let lowered = text.to_lowercase();
    let spaced: String = lowered
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl LabelParser {
    /// A parser for these labels.
    pub fn new(labels: &[String]) -> Self {
        let mut forms: Vec<(String, usize)> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (norm(l), i))
            .filter(|(f, _)| !f.is_empty())
            .collect();
        forms.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        Self {
            labels: labels.to_vec(),
            forms,
        }
    }

    /// The labels, in order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The index of the label given exactly (after normalisation), for references.
    pub fn exact(&self, text: &str) -> Option<usize> {
        let n = norm(text);
        self.forms.iter().find(|(f, _)| *f == n).map(|(_, i)| *i)
    }

    /// The label an answer names: the whole answer if it is a label, else the label appearing
    /// first as whole words (the longest one where several start at the same word).
    pub fn parse(&self, answer: &str) -> Option<usize> {
        let n = norm(answer);
        if let Some(i) = self.forms.iter().find(|(f, _)| *f == n).map(|(_, i)| *i) {
            return Some(i);
        }
        let words: Vec<&str> = n.split(' ').filter(|w| !w.is_empty()).collect();
        for start in 0..words.len() {
            let mut found: Option<(usize, usize)> = None; // (label, length in words)
            for (form, index) in &self.forms {
                let form_words: Vec<&str> = form.split(' ').collect();
                let end = start + form_words.len();
                if end <= words.len() && words[start..end] == form_words[..] {
                    match found {
                        None => found = Some((*index, form_words.len())),
                        Some((other, len)) if len == form_words.len() && other != *index => {
                            return None;
                        }
                        Some(_) => {}
                    }
                }
            }
            if let Some((index, _)) = found {
                return Some(index);
            }
        }
        None
    }
}

/// Macro-averaged F1 over labels.
///
/// `pairs` holds (predicted, reference) label indices; an unparseable prediction (`None`) is a
/// miss for its reference label and a false positive for no label. Classes that occur neither
/// as a reference nor as a prediction are left out of the average (as scikit-learn does with
/// the labels present in the data). Returns 0 for no pairs.
pub fn macro_f1(pairs: &[(Option<usize>, usize)], n_labels: usize) -> f64 {
    let mut tp = vec![0u64; n_labels];
    let mut fp = vec![0u64; n_labels];
    let mut fn_ = vec![0u64; n_labels];
    for &(pred, truth) in pairs {
        if truth >= n_labels {
            continue;
        }
        match pred {
            Some(p) if p == truth => tp[truth] += 1,
            Some(p) if p < n_labels => {
                fp[p] += 1;
                fn_[truth] += 1;
            }
            _ => fn_[truth] += 1,
        }
    }
    let mut sum = 0.0;
    let mut classes = 0usize;
    for c in 0..n_labels {
        if tp[c] + fp[c] + fn_[c] == 0 {
            continue;
        }
        classes += 1;
        let denom = 2 * tp[c] + fp[c] + fn_[c];
        sum += (2 * tp[c]) as f64 / denom as f64;
    }
    if classes == 0 {
        0.0
    } else {
        sum / classes as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser(labels: &[&str]) -> LabelParser {
        LabelParser::new(&labels.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn finds_a_dressed_up_label() {
        let p = parser(&["positive", "negative", "no_impact", "mixed"]);
        assert_eq!(p.parse("positive"), Some(0));
        assert_eq!(p.parse(" Negative.\n"), Some(1));
        assert_eq!(p.parse("Label: \"mixed\""), Some(3));
        assert_eq!(p.parse("no impact"), Some(2));
        assert_eq!(
            p.parse("The sentiment of this verse is negative, I think."),
            Some(1)
        );
        assert_eq!(p.parse("I cannot tell."), None);
        assert_eq!(p.parse(""), None);
    }

    #[test]
    fn prefers_the_first_and_then_the_longest_label() {
        let p = parser(&["card", "card_arrival", "card_not_working"]);
        assert_eq!(p.parse("card arrival"), Some(1));
        assert_eq!(p.parse("Intent: card_not_working (not card)"), Some(2));
        assert_eq!(p.parse("card"), Some(0));
        // Two labels at the same place with the same length cannot be told apart.
        let p = parser(&["Yes", "yes"]);
        assert_eq!(p.parse("yes it is"), None);
    }

    #[test]
    fn words_inside_other_words_do_not_count() {
        let p = parser(&["no", "yes"]);
        assert_eq!(p.parse("nothing to say"), None);
        assert_eq!(p.parse("Answer: no."), Some(0));
    }

    #[test]
    fn macro_f1_matches_a_hand_computation() {
        // truth: A A B B C; pred: A B B None C
        let pairs = [
            (Some(0), 0),
            (Some(1), 0),
            (Some(1), 1),
            (None, 1),
            (Some(2), 2),
        ];
        // A: tp1 fp0 fn1 -> 2/3; B: tp1 fp1 fn1 -> 2/4; C: tp1 -> 1
        let expected = (2.0 / 3.0 + 0.5 + 1.0) / 3.0;
        assert!((macro_f1(&pairs, 3) - expected).abs() < 1e-12);
        // A label never seen is left out of the average.
        assert!((macro_f1(&pairs, 4) - expected).abs() < 1e-12);
        assert_eq!(macro_f1(&[], 3), 0.0);
    }
}

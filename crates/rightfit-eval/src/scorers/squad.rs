//! SQuAD 2.0 exact match and token F1, as the official evaluation script computes them.
//!
//! Answers are normalised (lowercase, ASCII punctuation removed, the words `a`/`an`/`the`
//! removed, white space collapsed) and compared with every gold answer; the best score counts.
//! As in the official script, gold answers that normalise to nothing are dropped, and a question
//! left without gold answers (an unanswerable one) has the single gold answer `""`, which only
//! an empty prediction matches.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

/// Exact match and token F1 of one prediction, each in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SquadScore {
    /// 1 when the normalised prediction equals a normalised gold answer, else 0.
    pub exact: f64,
    /// The best token F1 over the gold answers.
    pub f1: f64,
}

/// A run of what Python's `re` calls word characters in a `str` pattern: `\w` there is
/// `str.isalnum()` or `_`, which is exactly the Unicode letters (L*) and numbers (N*). Rust's
/// `\w` also takes combining marks and joiners, so it would put `\b` elsewhere.
static PYTHON_WORD: LazyLock<Regex> = LazyLock::new(|| {
    // A constant pattern; the tests compile it.
    Regex::new(r"[\p{L}\p{N}_]+").expect("constant pattern compiles")
});

/// Python's `str.isspace()`: Unicode white space plus the four ASCII information separators.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The official `normalize_answer`: lowercase, drop ASCII punctuation, replace the whole words
/// `a`, `an` and `the` by a space, then split on white space and join with single spaces.
pub fn normalize_answer(s: &str) -> String {
    let unpunctuated: String = s
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    // `\b(a|an|the)\b` matches where a whole run of word characters is one of the three words.
    let mut without_articles = String::with_capacity(unpunctuated.len());
    let mut last = 0;
    for word in PYTHON_WORD.find_iter(&unpunctuated) {
        if matches!(word.as_str(), "a" | "an" | "the") {
            without_articles.push_str(&unpunctuated[last..word.start()]);
            without_articles.push(' ');
            last = word.end();
        }
    }
    without_articles.push_str(&unpunctuated[last..]);
    let mut out = String::with_capacity(without_articles.len());
    for token in without_articles
        .split(is_python_space)
        .filter(|t| !t.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(token);
    }
    out
}

/// Exact match against the best gold answer: 1.0 or 0.0.
pub fn exact_match(prediction: &str, golds: &[String]) -> f64 {
    score(prediction, golds).exact
}

/// Token F1 against the best gold answer.
pub fn f1(prediction: &str, golds: &[String]) -> f64 {
    score(prediction, golds).f1
}

/// Exact match and F1 together, normalising each answer once.
pub fn score(prediction: &str, golds: &[String]) -> SquadScore {
    let prediction = normalize_answer(prediction);
    let mut normalized_golds: Vec<String> = golds
        .iter()
        .map(|g| normalize_answer(g))
        .filter(|g| !g.is_empty())
        .collect();
    if normalized_golds.is_empty() {
        normalized_golds.push(String::new());
    }
    let mut best = SquadScore {
        exact: 0.0,
        f1: 0.0,
    };
    for gold in &normalized_golds {
        if *gold == prediction {
            best.exact = 1.0;
        }
        best.f1 = best.f1.max(token_f1(&prediction, gold));
    }
    best
}

/// The tokens of a normalised answer; none for the empty answer.
fn tokens(normalized: &str) -> Vec<&str> {
    if normalized.is_empty() {
        Vec::new()
    } else {
        normalized.split(' ').collect()
    }
}

/// The official `compute_f1` on two normalised answers (tokens are single-space separated).
fn token_f1(prediction: &str, gold: &str) -> f64 {
    let prediction = tokens(prediction);
    let gold = tokens(gold);
    if prediction.is_empty() || gold.is_empty() {
        return if prediction == gold { 1.0 } else { 0.0 };
    }
    let mut left_in_gold: HashMap<&str, usize> = HashMap::with_capacity(gold.len());
    for &t in &gold {
        *left_in_gold.entry(t).or_insert(0) += 1;
    }
    let mut same = 0usize;
    for t in &prediction {
        if let Some(left) = left_in_gold.get_mut(t)
            && *left > 0
        {
            *left -= 1;
            same += 1;
        }
    }
    if same == 0 {
        return 0.0;
    }
    let precision = same as f64 / prediction.len() as f64;
    let recall = same as f64 / gold.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::io::BufRead;

    #[derive(Deserialize)]
    struct GoldenRow {
        id: String,
        prediction: String,
        gold: Vec<String>,
        exact: f64,
        f1: f64,
    }

    fn golds(answers: &[&str]) -> Vec<String> {
        answers.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reproduces_the_official_script_on_every_golden_row() {
        let path = crate::testdata::golden("golden_squad_v2_subset_bert.jsonl");
        let file = std::fs::File::open(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (shared data missing?)", path.display()));
        let (mut rows, mut exact_sum, mut f1_sum) = (0usize, 0.0, 0.0);
        let mut wrong = Vec::new();
        for line in std::io::BufReader::new(file).lines() {
            let row: GoldenRow = serde_json::from_str(&line.unwrap()).unwrap();
            let got = score(&row.prediction, &row.gold);
            if (got.exact - row.exact).abs() > 1e-9 || (got.f1 - row.f1).abs() > 1e-9 {
                wrong.push(format!(
                    "{}: got {got:?}, want exact {} f1 {}",
                    row.id, row.exact, row.f1
                ));
            }
            assert_eq!(exact_match(&row.prediction, &row.gold), got.exact);
            assert_eq!(f1(&row.prediction, &row.gold), got.f1);
            rows += 1;
            exact_sum += got.exact;
            f1_sum += got.f1;
        }
        assert!(wrong.is_empty(), "{} mismatches: {wrong:#?}", wrong.len());
        assert_eq!(rows, 1407);
        let overall = |sum: f64| format!("{:.4}", 100.0 * sum / rows as f64);
        assert_eq!(overall(exact_sum), "75.5508");
        assert_eq!(overall(f1_sum), "78.8325");
    }

    #[test]
    fn normalizes_case_punctuation_articles_and_space() {
        assert_eq!(normalize_answer("The  Eiffel-Tower!"), "eiffeltower");
        assert_eq!(
            normalize_answer("  a cat, an owl\tand\nthe dog "),
            "cat owl and dog"
        );
        assert_eq!(normalize_answer("theatre anthem ban"), "theatre anthem ban");
        assert_eq!(normalize_answer("The"), "");
        assert_eq!(normalize_answer(""), "");
    }

    #[test]
    fn punctuation_removal_can_join_or_expose_articles() {
        // Removing the apostrophe joins "the's" into one word; removing brackets and the
        // underscore (ASCII punctuation, though a word character) exposes "the".
        assert_eq!(normalize_answer("the's"), "thes");
        assert_eq!(normalize_answer("(the)"), "");
        assert_eq!(normalize_answer("_the_"), "");
    }

    #[test]
    fn only_ascii_punctuation_is_removed() {
        assert_eq!(normalize_answer("«Paris» — 1€"), "«paris» — 1€");
        // "¿" is not a word character, so "the" after it is a whole word.
        assert_eq!(normalize_answer("¿the?"), "¿");
    }

    #[test]
    fn word_boundaries_follow_python_unicode_rules() {
        // Letters and numbers of any script are word characters: no boundary, "the" stays.
        assert_eq!(normalize_answer("théthe the²"), "théthe the²");
        // A combining mark is not a word character in Python's `re`, so "the" is a whole word
        // before it (Rust's `\w` would disagree).
        assert_eq!(normalize_answer("the\u{301}x"), "\u{301}x");
        // Non-breaking and ideographic spaces separate words; so do the ASCII separators.
        assert_eq!(normalize_answer("a\u{a0}b\u{3000}the\u{1f}c"), "b c");
    }

    #[test]
    fn f1_counts_common_tokens_with_multiplicity() {
        // prediction "cat cat dog" vs gold "cat dog dog": 2 common, P = R = 2/3.
        let got = f1("cat cat dog", &golds(&["cat dog dog"]));
        assert!((got - 2.0 / 3.0).abs() < 1e-12, "{got}");
        // The best gold answer counts.
        let got = score("the big red dog", &golds(&["red", "a big red dog"]));
        assert_eq!(
            got,
            SquadScore {
                exact: 1.0,
                f1: 1.0
            }
        );
        assert_eq!(f1("red fox", &golds(&["blue whale"])), 0.0);
    }

    #[test]
    fn unanswerable_questions_match_only_empty_predictions() {
        assert_eq!(
            score("", &[]),
            SquadScore {
                exact: 1.0,
                f1: 1.0
            }
        );
        assert_eq!(
            score("the", &golds(&[""])),
            SquadScore {
                exact: 1.0,
                f1: 1.0
            }
        );
        assert_eq!(
            score("Paris", &[]),
            SquadScore {
                exact: 0.0,
                f1: 0.0
            }
        );
        assert_eq!(
            score("", &golds(&["Paris"])),
            SquadScore {
                exact: 0.0,
                f1: 0.0
            }
        );
    }

    #[test]
    fn gold_answers_that_normalize_to_nothing_are_dropped() {
        // The official script keeps only gold answers with a non-empty normal form, so an empty
        // prediction does not match the gold answer "The".
        assert_eq!(
            score("", &golds(&["The", "Paris"])),
            SquadScore {
                exact: 0.0,
                f1: 0.0
            }
        );
        assert_eq!(
            score("", &golds(&["The", "!"])),
            SquadScore {
                exact: 1.0,
                f1: 1.0
            }
        );
    }
}

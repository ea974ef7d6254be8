//! Exact and normalised string match.
//!
//! A reference may hold several acceptable answers; the score is the best over them.

/// 1.0 when the answer equals a reference after trimming surrounding white space, else 0.0.
pub fn exact_match(prediction: &str, references: &[String]) -> f64 {
    let p = prediction.trim();
    if references.iter().any(|r| r.trim() == p) {
        1.0
    } else {
        0.0
    }
}

/// Lowercase, punctuation (any Unicode punctuation or symbol) removed, the English articles
/// a/an/the dropped, white space collapsed.
pub fn normalize(text: &str) -> String {
    let lowered = text.to_lowercase();
    let cleaned: String = lowered
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c.is_whitespace() {
                c
            } else {
                ' '
            }
        })
        .collect();
    cleaned
        .split_whitespace()
        .filter(|w| !matches!(*w, "a" | "an" | "the"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// 1.0 when the answer equals a reference after [`normalize`], else 0.0.
pub fn normalized_match(prediction: &str, references: &[String]) -> f64 {
    let p = normalize(prediction);
    if references.iter().any(|r| normalize(r) == p) {
        1.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn exact_trims_but_respects_case() {
        assert_eq!(exact_match(" Paris\n", &refs(&["Paris"])), 1.0);
        assert_eq!(exact_match("paris", &refs(&["Paris"])), 0.0);
        assert_eq!(exact_match("Lyon", &refs(&["Paris", "Lyon"])), 1.0);
        assert_eq!(exact_match("Lyon", &[]), 0.0);
    }

    #[test]
    fn normalised_ignores_case_punctuation_articles_and_spacing() {
        assert_eq!(normalize("The  Eiffel-Tower!"), "eiffel tower");
        assert_eq!(
            normalized_match("the eiffel tower.", &refs(&["Eiffel Tower"])),
            1.0
        );
        assert_eq!(normalized_match("an apple", &refs(&["apples"])), 0.0);
        assert_eq!(normalize("Ça   va «bien»"), "ça va bien");
    }
}

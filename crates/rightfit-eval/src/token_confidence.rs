//! A generative answer's confidence from its token log-probabilities: the mean or the least
//! log-probability of its tokens, or of the tokens that spell its parsed values only, as a
//! probability (`exp`), so that cascades of extraction, QA and summaries can escalate on the small
//! model's own uncertainty and be calibrated like the other confidences.

use rightfit_config::project::ConfidenceSource;
use rightfit_types::TokenLogprob;
use serde_json::Value;

/// The confidence `source` gives an answer generated as `tokens` (its raw text is theirs,
/// joined); `None` when the source does not read tokens or there are none to read.
pub fn token_confidence(source: ConfidenceSource, tokens: &[TokenLogprob]) -> Option<f64> {
    let (fields, min) = match source {
        ConfidenceSource::TokenMean => (false, false),
        ConfidenceSource::TokenMin => (false, true),
        ConfidenceSource::FieldMean => (true, false),
        ConfidenceSource::FieldMin => (true, true),
        _ => return None,
    };
    let chosen: Vec<f64> = if fields {
        let raw: String = tokens.iter().map(|t| t.token.as_str()).collect();
        let spans = value_spans(&raw);
        token_spans(tokens)
            .filter(|(range, _)| {
                spans
                    .iter()
                    .any(|s| s.start < range.end && range.start < s.end)
            })
            .map(|(_, t)| t.logprob)
            .collect()
    } else {
        tokens.iter().map(|t| t.logprob).collect()
    };
    if chosen.is_empty() {
        return None;
    }
    let reduced = if min {
        chosen.iter().copied().fold(f64::INFINITY, f64::min)
    } else {
        chosen.iter().sum::<f64>() / chosen.len() as f64
    };
    Some(reduced.exp().clamp(0.0, 1.0))
}

/// Each token with the byte range its text takes in the answer (the tokens' texts, joined).
fn token_spans(
    tokens: &[TokenLogprob],
) -> impl Iterator<Item = (std::ops::Range<usize>, &TokenLogprob)> {
    let mut at = 0;
    tokens.iter().map(move |t| {
        let start = at;
        at += t.token.len();
        (start..at, t)
    })
}

/// The byte ranges of the answer's values: in a JSON answer (an object or array, possibly with
/// text around it), each string, number and boolean value, found in order; in any other answer,
/// its text without surrounding whitespace.
fn value_spans(raw: &str) -> Vec<std::ops::Range<usize>> {
    let json = raw.find(['{', '[']).and_then(|open| {
        let close = raw.rfind(['}', ']'])?;
        let v: Value = serde_json::from_str(raw.get(open..=close)?).ok()?;
        Some((open, v))
    });
    let Some((open, value)) = json else {
        let start = raw.len() - raw.trim_start().len();
        let end = raw.trim_end().len();
        return if start < end {
            vec![std::ops::Range { start, end }]
        } else {
            Vec::new()
        };
    };
    let mut leaves = Vec::new();
    collect_leaves(&value, &mut leaves);
    let mut spans = Vec::new();
    let mut cursor = open;
    for leaf in leaves {
        if leaf.is_empty() {
            continue;
        }
        // After a key, a value follows its colon; searching forward in order finds each value
        // where it was written (a value equal to a later key is found before it: harmless).
        if let Some(i) = raw[cursor..].find(&leaf) {
            let start = cursor + i;
            spans.push(start..start + leaf.len());
            cursor = start + leaf.len();
        }
    }
    spans
}

/// The text of each scalar value, as it appears in JSON (strings without their quotes and with
/// the escapes they need).
fn collect_leaves(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m.values().for_each(|v| collect_leaves(v, out)),
        Value::Array(a) => a.iter().for_each(|v| collect_leaves(v, out)),
        Value::String(s) => {
            let quoted = serde_json::to_string(s).unwrap_or_default();
            out.push(
                quoted
                    .get(1..quoted.len().saturating_sub(1))
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        Value::Number(n) => out.push(n.to_string()),
        Value::Bool(b) => out.push(b.to_string()),
        Value::Null => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(parts: &[(&str, f64)]) -> Vec<TokenLogprob> {
        parts
            .iter()
            .map(|(t, lp)| TokenLogprob {
                token: (*t).to_owned(),
                logprob: *lp,
                top: Vec::new(),
            })
            .collect()
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-12)
    }

    #[test]
    fn mean_and_least_over_the_whole_answer() {
        let t = toks(&[("Par", -0.1), ("is", -0.3), (".", -2.0)]);
        let mean = (-0.1 - 0.3 - 2.0) / 3.0;
        assert!(close(
            token_confidence(ConfidenceSource::TokenMean, &t),
            f64::exp(mean)
        ));
        assert!(close(
            token_confidence(ConfidenceSource::TokenMin, &t),
            f64::exp(-2.0)
        ));
        assert_eq!(token_confidence(ConfidenceSource::TokenMean, &[]), None);
        assert_eq!(token_confidence(ConfidenceSource::Model, &t), None);
    }

    #[test]
    fn fields_read_only_the_tokens_of_json_values() {
        // {"city": "Par|is", "n": 3} — the punctuation and keys are near-certain, the values not.
        let t = toks(&[
            ("{\"", -0.001),
            ("city", -0.002),
            ("\":", -0.001),
            (" \"", -0.001),
            ("Par", -1.0),
            ("is", -0.5),
            ("\",", -0.001),
            (" \"n\":", -0.003),
            (" 3", -2.0),
            ("}", -0.001),
        ]);
        let raw: String = t.iter().map(|t| t.token.as_str()).collect();
        assert_eq!(raw, r#"{"city": "Paris", "n": 3}"#);
        assert!(close(
            token_confidence(ConfidenceSource::FieldMean, &t),
            f64::exp((-1.0 - 0.5 - 2.0) / 3.0)
        ));
        assert!(close(
            token_confidence(ConfidenceSource::FieldMin, &t),
            f64::exp(-2.0)
        ));
        // Over the whole answer the punctuation dilutes the mean.
        let whole = token_confidence(ConfidenceSource::TokenMean, &t).expect("some");
        assert!(whole > f64::exp((-1.0 - 0.5 - 2.0) / 3.0));
    }

    #[test]
    fn fields_of_a_plain_answer_leave_out_surrounding_whitespace() {
        let t = toks(&[(" ", -3.0), ("Paris", -0.2), ("\n", -4.0)]);
        assert!(close(
            token_confidence(ConfidenceSource::FieldMin, &t),
            f64::exp(-0.2)
        ));
        // A JSON answer with no values falls back to nothing to read.
        let t = toks(&[("{}", -0.1)]);
        assert_eq!(token_confidence(ConfidenceSource::FieldMean, &t), None);
    }
}

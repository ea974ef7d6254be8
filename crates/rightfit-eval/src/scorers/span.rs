//! Span extraction: slot -> text answers scored per slot.
//!
//! The reference and the answer are JSON objects mapping slot names to extracted text; a slot
//! that is absent, null or empty means "not mentioned". Per slot, exact match compares
//! normalised text and token F1 compares normalised tokens as SQuAD does.

use std::collections::BTreeMap;

use serde_json::Value;

use super::matching::normalize;

/// Scores of one answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanScores {
    /// 1.0 when every slot is right (present with the same text, or absent on both sides).
    pub exact: f64,
    /// Mean token F1 over the slots present in the reference or the answer (1.0 when none is).
    pub f1: f64,
    /// Token F1 per slot, for slots present on either side.
    pub per_slot: BTreeMap<String, f64>,
}

fn slot_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// SQuAD's token F1 of two texts.
fn token_f1(a: &str, b: &str) -> f64 {
    super::squad::f1(a, &[b.to_owned()])
}

/// Scores an answer object against a reference object over `slots`.
pub fn score(answer: &Value, reference: &Value, slots: &[String]) -> SpanScores {
    let mut per_slot = BTreeMap::new();
    let mut all_exact = true;
    for slot in slots {
        let a = slot_text(answer.get(slot));
        let r = slot_text(reference.get(slot));
        match (a, r) {
            (None, None) => {}
            (Some(a), Some(r)) => {
                if normalize(&a) != normalize(&r) {
                    all_exact = false;
                }
                per_slot.insert(slot.clone(), token_f1(&a, &r));
            }
            _ => {
                all_exact = false;
                per_slot.insert(slot.clone(), 0.0);
            }
        }
    }
    let f1 = if per_slot.is_empty() {
        1.0
    } else {
        per_slot.values().sum::<f64>() / per_slot.len() as f64
    };
    SpanScores {
        exact: if all_exact { 1.0 } else { 0.0 },
        f1,
        per_slot,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn slots() -> Vec<String> {
        ["date", "time", "people"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    }

    #[test]
    fn all_right_including_absent_slots() {
        let s = score(
            &json!({"time": "7 pm", "people": null}),
            &json!({"time": "7 PM"}),
            &slots(),
        );
        assert_eq!(s.exact, 1.0);
        assert_eq!(s.f1, 1.0);
        assert_eq!(s.per_slot.len(), 1);
    }

    #[test]
    fn partial_and_missing_slots() {
        let s = score(
            &json!({"time": "at 7 pm", "date": "friday"}),
            &json!({"time": "7 pm", "people": "4"}),
            &slots(),
        );
        assert_eq!(s.exact, 0.0);
        // time: p=2/3 r=1 -> 0.8; date: spurious 0; people: missed 0.
        assert!((s.per_slot["time"] - 0.8).abs() < 1e-12);
        assert!((s.f1 - 0.8 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn nothing_to_extract_and_nothing_extracted_is_right() {
        let s = score(&json!({}), &json!({}), &slots());
        assert_eq!((s.exact, s.f1), (1.0, 1.0));
    }
}

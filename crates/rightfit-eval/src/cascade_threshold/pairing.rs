//! Records into usable pairs: the first rules of the module doc (pairing, failed answers,
//! confidence), and what one pair gives at one threshold.

use std::collections::{BTreeMap, HashSet};

use rightfit_types::ExampleRecord;

use super::error::CalibrateError;

/// One usable example, as the cascade sees it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Pair {
    /// The example.
    pub(super) id: String,
    /// The small answer's confidence (0 when it failed), 0..=1.
    pub(super) confidence: f64,
    /// The small answer's score (0 when it failed).
    pub(super) small_score: f64,
    pub(super) large_score: f64,
    /// The small call's cost (a failed one without a cost: 0).
    pub(super) small_cost: Option<f64>,
    pub(super) large_cost: Option<f64>,
    pub(super) small_latency: f64,
    pub(super) large_latency: f64,
}

/// What the cascade does with one example at one threshold.
pub(super) struct Outcome {
    pub(super) escalated: bool,
    pub(super) score: f64,
    pub(super) cost: Option<f64>,
    pub(super) latency: f64,
}

impl Pair {
    /// The cascade's answer at `threshold`: the small one when its confidence is at least
    /// `threshold`, else the large one (after the small call).
    pub(super) fn at(&self, threshold: f64) -> Outcome {
        let escalated = self.confidence < threshold;
        if escalated {
            Outcome {
                escalated,
                score: self.large_score,
                cost: self.small_cost.zip(self.large_cost).map(|(s, l)| s + l),
                latency: self.small_latency + self.large_latency,
            }
        } else {
            Outcome {
                escalated,
                score: self.small_score,
                cost: self.small_cost,
                latency: self.small_latency,
            }
        }
    }
}

/// The one candidate all of `records` belong to.
pub(super) fn candidate_name(
    records: &[ExampleRecord],
    side: &'static str,
) -> Result<String, CalibrateError> {
    let first = records
        .first()
        .ok_or(CalibrateError::NoRecords { side })?
        .candidate
        .clone();
    if let Some(other) = records.iter().find(|r| r.candidate != first) {
        return Err(CalibrateError::MixedCandidates {
            side,
            first,
            other: other.candidate.clone(),
        });
    }
    Ok(first)
}

fn bad(
    r: &ExampleRecord,
    field: &'static str,
    value: f64,
    expected: &'static str,
) -> CalibrateError {
    CalibrateError::BadValue {
        candidate: r.candidate.clone(),
        example_id: r.example_id.clone(),
        field,
        value,
        expected,
    }
}

/// The usable pairs, sorted by example id, and notes on what was left out or assumed.
pub(super) fn pair(
    small: &[ExampleRecord],
    large: &[ExampleRecord],
    small_name: &str,
    large_name: &str,
) -> Result<(Vec<Pair>, Vec<String>), CalibrateError> {
    let mut by_id: BTreeMap<&str, &ExampleRecord> = BTreeMap::new();
    for r in large {
        if by_id.insert(r.example_id.as_str(), r).is_some() {
            return Err(CalibrateError::DuplicateExample {
                candidate: r.candidate.clone(),
                example_id: r.example_id.clone(),
            });
        }
        if let Some(s) = r.score.filter(|s| !s.is_finite()) {
            return Err(bad(r, "score", s, "a finite number"));
        }
    }
    let mut seen: HashSet<&str> = HashSet::new();
    let (mut large_failed, mut small_only, mut no_confidence, mut small_failed) = (0, 0, 0, 0);
    let mut pairs = Vec::new();
    for s in small {
        if !seen.insert(s.example_id.as_str()) {
            return Err(CalibrateError::DuplicateExample {
                candidate: s.candidate.clone(),
                example_id: s.example_id.clone(),
            });
        }
        if let Some(v) = s.score.filter(|v| !v.is_finite()) {
            return Err(bad(s, "score", v, "a finite number"));
        }
        if let Some(c) = s.confidence.filter(|c| !(0.0..=1.0).contains(c)) {
            return Err(bad(s, "confidence", c, "a number in 0..=1"));
        }
        let Some(l) = by_id.get(s.example_id.as_str()) else {
            small_only += 1;
            continue;
        };
        let large_score = match (l.error.as_ref(), l.score) {
            (None, Some(score)) => score,
            _ => {
                large_failed += 1;
                continue;
            }
        };
        let failed = s.error.is_some() || s.score.is_none();
        let (confidence, small_score) = if failed {
            small_failed += 1;
            (0.0, 0.0)
        } else {
            let validator = if s.unparseable { 0.0 } else { 1.0 };
            if s.confidence.is_none() {
                no_confidence += 1;
            }
            (
                s.confidence.unwrap_or(validator),
                s.score.unwrap_or_default(),
            )
        };
        pairs.push(Pair {
            id: s.example_id.clone(),
            confidence,
            small_score,
            large_score,
            small_cost: if failed {
                Some(s.cost_usd.unwrap_or(0.0))
            } else {
                s.cost_usd
            },
            large_cost: l.cost_usd,
            small_latency: s.latency_ms,
            large_latency: l.latency_ms,
        });
    }
    let large_only = by_id.keys().filter(|id| !seen.contains(*id)).count();
    let mut notes = Vec::new();
    if large_failed > 0 {
        notes.push(format!(
            "{large_failed} examples where '{large_name}' failed or has no score were left out"
        ));
    }
    if small_only + large_only > 0 {
        notes.push(format!(
            "{} examples with a record of only one candidate were left out ({small_only} only '{small_name}', {large_only} only '{large_name}')",
            small_only + large_only
        ));
    }
    if small_failed > 0 {
        notes.push(format!(
            "{small_failed} examples where '{small_name}' failed count as confidence 0 (always escalated) and score 0 if kept"
        ));
    }
    if no_confidence > 0 {
        notes.push(format!(
            "{no_confidence} examples without a confidence: their validator (parsed or not) was used"
        ));
    }
    if pairs.is_empty() {
        return Err(CalibrateError::NoCommonExamples {
            small: small_name.to_owned(),
            large: large_name.to_owned(),
            left_out: large_failed,
        });
    }
    pairs.sort_by(|a, b| a.id.cmp(&b.id));
    Ok((pairs, notes))
}

//! A cascade candidate's own keys: stages, thresholds, where confidence comes from.

use std::collections::BTreeSet;

use super::ConfigError;
use super::raw::RawCandidate;
use super::strategy::{CascadeConfig, ConfidenceSource, Context};

pub(super) fn config(
    cx: &Context<'_>,
    c: &RawCandidate,
    ckey: &dyn Fn(&str) -> String,
    bad: &dyn Fn(&str, &str) -> ConfigError,
) -> Result<CascadeConfig, ConfigError> {
    let stages = c
        .stages
        .as_ref()
        .map(|s| s.get_ref().clone())
        .unwrap_or_default();
    if stages.len() < 2 {
        return Err(bad(
            "stages",
            "a cascade needs stages = [\"cheap candidate\", \"large candidate\"] (two or more)",
        ));
    }
    let mut seen = BTreeSet::new();
    if let Some(dup) = stages.iter().find(|s| !seen.insert(*s)) {
        return Err(bad("stages", &format!("stage '{dup}' is listed twice")));
    }
    let thresholds = match (c.threshold, &c.thresholds) {
        (Some(_), Some(_)) => {
            return Err(bad("thresholds", "give threshold or thresholds, not both"));
        }
        (Some(t), None) => vec![t; stages.len() - 1],
        (None, Some(ts)) if ts.len() == stages.len() - 1 => ts.clone(),
        (None, Some(ts)) => {
            return Err(bad(
                "thresholds",
                &format!(
                    "{} stages need {} thresholds (one per stage that may escalate), not {}",
                    stages.len(),
                    stages.len() - 1,
                    ts.len()
                ),
            ));
        }
        (None, None) => {
            return Err(bad(
                "threshold",
                "a cascade needs threshold = 0.x (escalate below it); `rightfit cascade calibrate` finds one",
            ));
        }
    };
    if let Some(t) = thresholds.iter().find(|t| !(0.0..=1.0).contains(*t)) {
        return Err(bad(
            "threshold",
            &format!("{t} is not a confidence: thresholds are within 0..=1"),
        ));
    }
    let confidence = match c.confidence.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("model") => ConfidenceSource::Model,
        Some("validator") => ConfidenceSource::Validator,
        Some("verifier") => ConfidenceSource::Verifier,
        Some(other) => {
            return Err(bad(
                "confidence",
                &format!("unknown confidence '{other}': expected model, validator or verifier"),
            ));
        }
    };
    let verifier = c
        .verifier
        .as_ref()
        .map(|v| cx.model(&ckey("verifier"), v))
        .transpose()?;
    if (confidence == ConfidenceSource::Verifier) != verifier.is_some() {
        return Err(bad(
            "verifier",
            "confidence = \"verifier\" and verifier = \"MODEL\" go together",
        ));
    }
    Ok(CascadeConfig {
        stages,
        thresholds,
        confidence,
        verifier,
    })
}

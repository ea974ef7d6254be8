//! `[[components.NAME.candidates]]` -> [`Candidate`]: each candidate's model and strategy, the
//! keys that belong to one strategy only, few-shot selection, and a cascade's stages (checked
//! once every candidate of the component is known).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use rightfit_types::LabelNorm;
use toml::Spanned;

use super::locate::Locator;
use crate::project::component::{FewShot, OutputContract};
use crate::project::error::ConfigError;
use crate::project::limits::{self, within};
use crate::project::model::{ModelConfig, ProviderConfig};
use crate::project::raw::RawCandidate;
use crate::project::strategy::{
    Candidate, CascadeConfig, ConfidenceSource, DEFAULT_ANSWER_PREFIX, ShotSelect, Shots, Strategy,
};
use crate::project::student::Student;

/// Tokens added to a reasoning candidate's default answer limit.
const REASONING_TOKENS: u32 = 256;

const STRATEGIES: &str = "zero-shot, few-shot, chain-of-thought, self-consistency, reflection, \
                          loglikelihood, cascade or distilled";

/// What the candidate checks need from the component.
pub(super) struct Context<'a> {
    pub at: &'a Locator<'a>,
    pub component: &'a str,
    pub models: &'a BTreeMap<String, ModelConfig>,
    pub output: &'a OutputContract,
    pub few_shot: Option<&'a FewShot>,
    pub max_tokens: u32,
    pub students: &'a [Student],
}

impl Context<'_> {
    /// The model `model` names, or the error that lists those there are.
    pub(super) fn model(&self, key: &str, model: &Spanned<String>) -> Result<String, ConfigError> {
        if self.models.contains_key(model.get_ref()) {
            Ok(model.get_ref().clone())
        } else {
            Err(self.at.unknown_model(key, model, self.models))
        }
    }
}

/// Validates every candidate of a component, then each cascade's stages.
pub(super) fn candidates(
    cx: &Context<'_>,
    span: Range<usize>,
    raw: Vec<Spanned<RawCandidate>>,
) -> Result<Vec<Candidate>, ConfigError> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut spans = Vec::new();
    let mut names = BTreeSet::new();
    for (i, c) in raw.into_iter().enumerate() {
        let c_span = c.span();
        let candidate = candidate(cx, i, c_span.clone(), c.into_inner())?;
        if !names.insert(candidate.name.clone()) {
            return Err(cx.at.invalid(
                c_span,
                format!("components.{}.candidates[{i}].name", cx.component),
                format!(
                    "candidate name '{}' is used twice: give one a name = \"...\"",
                    candidate.name
                ),
            ));
        }
        out.push(candidate);
        spans.push(c_span);
    }
    if out.is_empty() {
        return Err(cx.at.invalid(
            span,
            format!("components.{}.candidates", cx.component),
            "no candidates: add [[components.NAME.candidates]] with model = \"...\"",
        ));
    }
    // A cascade's stages are other candidates: resolve them once all are known.
    let snapshot = out.clone();
    for (i, candidate) in out.iter_mut().enumerate() {
        let Strategy::Cascade(cascade) = &candidate.strategy else {
            continue;
        };
        let key = format!("components.{}.candidates[{i}].stages", cx.component);
        let bad = |m: String| cx.at.invalid(spans[i].clone(), key.clone(), m);
        for stage in &cascade.stages {
            match snapshot.iter().find(|c| &c.name == stage) {
                None => {
                    let known: Vec<&str> = snapshot
                        .iter()
                        .filter(|c| !matches!(c.strategy, Strategy::Cascade(_)))
                        .map(|c| c.name.as_str())
                        .collect();
                    return Err(bad(format!(
                        "no candidate '{stage}' in this component (candidates: {})",
                        known.join(", ")
                    )));
                }
                Some(c) if matches!(c.strategy, Strategy::Cascade(_)) => {
                    return Err(bad(format!(
                        "stage '{stage}' is itself a cascade; list its stages instead"
                    )));
                }
                Some(_) => {}
            }
        }
        if let Some(first) = snapshot.iter().find(|c| c.name == cascade.stages[0]) {
            candidate.model = first.model.clone();
        }
    }
    Ok(out)
}

fn candidate(
    cx: &Context<'_>,
    i: usize,
    c_span: Range<usize>,
    c: RawCandidate,
) -> Result<Candidate, ConfigError> {
    let ckey = |k: &str| format!("components.{}.candidates[{i}].{k}", cx.component);
    let bad = |k: &str, m: &str| cx.at.invalid(c_span.clone(), ckey(k), m.to_owned());
    let kind = c
        .strategy
        .as_ref()
        .map(|s| s.get_ref().as_str())
        .unwrap_or("zero-shot");
    let cascade = kind == "cascade";
    let student = match (&c.student, kind) {
        (Some(_), "cascade") => {
            return Err(bad(
                "student",
                "a cascade has no model of its own: make the student a candidate and name it in stages",
            ));
        }
        (Some(s), _) => {
            if c.model.is_some() {
                return Err(bad(
                    "model",
                    "a student's candidate answers with the student: drop model (or student)",
                ));
            }
            match cx.students.iter().find(|t| &t.name == s.get_ref()) {
                Some(t) => Some(t),
                None => {
                    let names: Vec<&str> = cx.students.iter().map(|t| t.name.as_str()).collect();
                    return Err(cx.at.invalid(
                        s.span(),
                        ckey("student"),
                        format!(
                            "no student '{}' in [[components.{}.students]] (students: {})",
                            s.get_ref(),
                            cx.component,
                            if names.is_empty() {
                                "none".to_owned()
                            } else {
                                names.join(", ")
                            }
                        ),
                    ));
                }
            }
        }
        (None, "distilled") => {
            return Err(bad(
                "student",
                "strategy = \"distilled\" answers with a trained student: add student = \"NAME\"",
            ));
        }
        (None, _) => None,
    };
    let kind = if kind == "distilled" {
        "zero-shot"
    } else {
        kind
    };
    let model = match (&c.model, cascade) {
        _ if student.is_some() => student.map(|t| t.model.clone()).unwrap_or_default(),
        (Some(m), false) => cx.model(&ckey("model"), m)?,
        (None, false) => return Err(bad("model", "a candidate needs model = \"...\"")),
        (Some(_), true) => {
            return Err(bad(
                "model",
                "a cascade has no model of its own: its stages name the candidates it calls",
            ));
        }
        // Filled in from the first stage once every candidate is known.
        (None, true) => String::new(),
    };
    let local = cx
        .models
        .get(&model)
        .is_some_and(|m| matches!(m.provider, ProviderConfig::Local { .. }));
    // Keys that belong to one strategy only.
    let only = |present: bool, k: &str, wanted: &[&str]| {
        if present && !wanted.contains(&kind) {
            Err(bad(
                k,
                &format!("{k} applies to strategy {}", wanted.join(" or ")),
            ))
        } else {
            Ok(())
        }
    };
    only(c.samples.is_some(), "samples", &["self-consistency"])?;
    only(c.rounds.is_some(), "rounds", &["reflection"])?;
    only(c.critic.is_some(), "critic", &["reflection"])?;
    only(
        c.reason.is_some(),
        "reason",
        &["self-consistency", "reflection"],
    )?;
    let with_shots = [
        "few-shot",
        "chain-of-thought",
        "self-consistency",
        "reflection",
        "loglikelihood",
    ];
    only(c.k.is_some(), "k", &with_shots)?;
    only(c.select.is_some(), "select", &with_shots)?;
    for (present, k) in [
        (c.stages.is_some(), "stages"),
        (c.verifier.is_some(), "verifier"),
        (c.threshold.is_some(), "threshold"),
        (c.thresholds.is_some(), "thresholds"),
    ] {
        only(present, k, &["cascade"])?;
    }
    if cascade {
        for (present, k) in [
            (c.temperature.is_some(), "temperature"),
            (c.top_p.is_some(), "top_p"),
            (c.max_tokens.is_some(), "max_tokens"),
            (c.constrained.is_some(), "constrained"),
        ] {
            if present {
                return Err(bad(
                    k,
                    "a cascade's stages set their own sampling and limits",
                ));
            }
        }
    }
    let shots = shots(cx, &c, kind, &model, &ckey)?;
    if shots.is_some() && cx.few_shot.is_none() {
        return Err(bad(
            "k",
            &format!(
                "few-shot examples need a [components.{}.few_shot] table saying where they come from",
                cx.component
            ),
        ));
    }
    let reason = kind == "chain-of-thought" || c.reason.unwrap_or(false);
    let constrained = c.constrained.unwrap_or(false);
    if reason && constrained {
        return Err(bad(
            "constrained",
            "constrained output leaves no room to reason first: drop one of them",
        ));
    }
    let mut temperature = c.temperature;
    let strategy = match kind {
        "zero-shot" => Strategy::ZeroShot,
        "few-shot" => Strategy::FewShot {
            k: shots.as_ref().map_or(0, |s| s.k),
        },
        "chain-of-thought" => Strategy::ChainOfThought,
        "self-consistency" => {
            let samples = c.samples.unwrap_or(5);
            if samples < 2 {
                return Err(bad("samples", "self-consistency needs samples ≥ 2"));
            }
            within(samples, 2, limits::SAMPLES).map_err(|m| bad("samples", &m))?;
            // Identical greedy samples would always agree.
            temperature = Some(temperature.unwrap_or(0.7));
            if temperature == Some(0.0) {
                return Err(bad(
                    "temperature",
                    "self-consistency needs temperature > 0 (greedy samples are all the same)",
                ));
            }
            Strategy::SelfConsistency { samples }
        }
        "reflection" => {
            let rounds = c.rounds.unwrap_or(1);
            if rounds == 0 {
                return Err(bad("rounds", "reflection needs rounds ≥ 1"));
            }
            within(rounds, 1, limits::ROUNDS).map_err(|m| bad("rounds", &m))?;
            let critic = c
                .critic
                .as_ref()
                .map(|m| cx.model(&ckey("critic"), m))
                .transpose()?;
            Strategy::Reflection { rounds, critic }
        }
        "loglikelihood" => {
            if !matches!(cx.output, OutputContract::Label { .. }) {
                return Err(bad(
                    "strategy",
                    "loglikelihood picks among labels: it needs output type = \"label\"",
                ));
            }
            if !local {
                return Err(bad(
                    "strategy",
                    "loglikelihood needs a local model (hosted APIs do not return prompt log-probabilities)",
                ));
            }
            Strategy::Loglikelihood
        }
        "cascade" => Strategy::Cascade(cascade_config(cx, &c, &ckey, &bad)?),
        other => {
            let s = c.strategy.as_ref().map_or(c_span.clone(), Spanned::span);
            return Err(cx.at.invalid(
                s,
                ckey("strategy"),
                format!("unknown strategy '{other}': expected {STRATEGIES}"),
            ));
        }
    };
    if temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
        return Err(bad("temperature", "temperature must be within 0..=2"));
    }
    // A single-call candidate's confidence from its own tokens (a cascade reads its stages').
    let token_confidence = match (&strategy, c.confidence.as_ref()) {
        (_, None) | (Strategy::Cascade(_), _) => None,
        (Strategy::ZeroShot | Strategy::FewShot { .. } | Strategy::ChainOfThought, Some(s)) => {
            match token_source(s.get_ref()) {
                Some(source) => Some(source),
                None => {
                    return Err(bad(
                        "confidence",
                        &format!(
                            "unknown confidence '{}' for a single call: expected token-mean, \
                             token-min, field-mean or field-min (read from the answer's token \
                             log-probabilities)",
                            s.get_ref()
                        ),
                    ));
                }
            }
        }
        (_, Some(_)) => {
            return Err(bad(
                "confidence",
                "confidence applies to strategy cascade, or to a single-call strategy (zero-shot, \
                 few-shot, chain-of-thought, distilled) as token-mean, token-min, field-mean or \
                 field-min",
            ));
        }
    };
    let normalize = match c.normalize.as_ref().map(|s| s.get_ref().as_str()) {
        _ if c.normalize.is_some() && strategy != Strategy::Loglikelihood => {
            return Err(bad(
                "normalize",
                "normalize applies to strategy = \"loglikelihood\" (how labels of different lengths are compared)",
            ));
        }
        None | Some("none") => LabelNorm::None,
        Some("token") => LabelNorm::Token,
        Some("byte") => LabelNorm::Byte,
        Some(other) => {
            return Err(bad(
                "normalize",
                &format!(
                    "unknown normalize '{other}': expected none (total log-probability), token \
                     (per token) or byte (per byte, lm-evaluation-harness's acc_norm)"
                ),
            ));
        }
    };
    let name = c.name.clone().unwrap_or_else(|| match student {
        Some(t) => default_name(
            &format!("{}/distilled", t.name),
            &strategy,
            shots.as_ref(),
            reason,
        )
        .replacen("/distilled/zero-shot", "/distilled", 1),
        None => default_name(&model, &strategy, shots.as_ref(), reason),
    });
    let max_tokens = c
        .max_tokens
        .unwrap_or(cx.max_tokens + if reason { REASONING_TOKENS } else { 0 });
    within(max_tokens, 1, limits::MAX_TOKENS).map_err(|m| bad("max_tokens", &m))?;
    Ok(Candidate {
        name,
        model,
        strategy,
        temperature,
        top_p: c.top_p,
        seed: c.seed,
        // Reasoning needs room before the answer.
        max_tokens,
        constrained,
        shots,
        reason,
        answer_prefix: c
            .answer_prefix
            .clone()
            .unwrap_or_else(|| DEFAULT_ANSWER_PREFIX.to_owned()),
        token_confidence,
        normalize,
        student: student.map(|t| t.name.clone()),
    })
}

fn shots(
    cx: &Context<'_>,
    c: &RawCandidate,
    kind: &str,
    model: &str,
    ckey: &dyn Fn(&str) -> String,
) -> Result<Option<Shots>, ConfigError> {
    let k = match (kind, c.k) {
        ("few-shot", k) => k.or(cx.few_shot.map(|f| f.k)).unwrap_or(4),
        (_, Some(k)) => k,
        (_, None) => return Ok(None),
    };
    if k == 0 {
        return Err(cx.at.invalid(
            c.model.as_ref().map_or(0..0, Spanned::span),
            ckey("k"),
            "k must be ≥ 1",
        ));
    }
    within(k, 1, limits::SHOTS).map_err(|m| {
        cx.at
            .invalid(c.model.as_ref().map_or(0..0, Spanned::span), ckey("k"), m)
    })?;
    let select = match c.select.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("fixed") => {
            if let Some(e) = &c.embedder {
                return Err(cx.at.invalid(
                    e.span(),
                    ckey("embedder"),
                    "embedder applies to select = \"similar\"",
                ));
            }
            ShotSelect::Fixed
        }
        Some("similar") => {
            let embedder = match &c.embedder {
                Some(e) => cx.model(&ckey("embedder"), e)?,
                None => model.to_owned(),
            };
            ShotSelect::Similar { embedder }
        }
        Some(other) => {
            let span = c.select.as_ref().map_or(0..0, Spanned::span);
            return Err(cx.at.invalid(
                span,
                ckey("select"),
                format!("unknown select '{other}': expected fixed or similar"),
            ));
        }
    };
    Ok(Some(Shots { k, select }))
}

fn default_name(model: &str, strategy: &Strategy, shots: Option<&Shots>, reason: bool) -> String {
    let shots_part = |s: &Shots| match s.select {
        ShotSelect::Fixed => format!("few-shot-{}", s.k),
        ShotSelect::Similar { .. } => format!("few-shot-similar-{}", s.k),
    };
    let mut name = match strategy {
        Strategy::FewShot { .. } => {
            return format!("{model}/{}", shots.map(shots_part).unwrap_or_default());
        }
        Strategy::SelfConsistency { samples } => format!("{model}/self-consistency-{samples}"),
        Strategy::Reflection { rounds, critic } => match critic {
            Some(c) => format!("{model}/reflection-{rounds}-by-{c}"),
            None => format!("{model}/reflection-{rounds}"),
        },
        Strategy::Cascade(c) => return format!("cascade:{}", c.stages.join(">")),
        s => format!("{model}/{}", s.name()),
    };
    if reason && !matches!(strategy, Strategy::ChainOfThought) {
        name.push_str("+cot");
    }
    if let Some(s) = shots {
        name.push('+');
        name.push_str(&shots_part(s));
    }
    name
}

/// A cascade candidate's own keys: stages, thresholds, where confidence comes from.
fn cascade_config(
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
        Some(s) if token_source(s).is_some() => token_source(s).unwrap_or(ConfidenceSource::Model),
        Some(other) => {
            return Err(bad(
                "confidence",
                &format!(
                    "unknown confidence '{other}': expected model, validator, verifier, \
                     token-mean, token-min, field-mean or field-min"
                ),
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

/// A confidence read from an answer's token log-probabilities, by its name in the file.
fn token_source(name: &str) -> Option<ConfidenceSource> {
    Some(match name {
        "token-mean" => ConfidenceSource::TokenMean,
        "token-min" => ConfidenceSource::TokenMin,
        "field-mean" => ConfidenceSource::FieldMean,
        "field-min" => ConfidenceSource::FieldMin,
        _ => return None,
    })
}

//! Candidates and their strategies: `[[components.NAME.candidates]]` -> [`Candidate`].
//!
//! A strategy is one primary way of using the model (`strategy = "..."`) plus the parts that
//! compose with it: few-shot examples (`k`, fixed or chosen by similarity), reasoning before the
//! answer (`reason`), output constrained to the contract (`constrained`). A cascade names other
//! candidates of the same component as its stages.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;

use toml::Spanned;

use super::raw::RawCandidate;
use super::validate::Locator;
use super::{ConfigError, FewShot, ModelConfig, OutputContract, ProviderConfig};

/// What a chain-of-thought answer's last line starts with, unless a candidate says otherwise.
pub const DEFAULT_ANSWER_PREFIX: &str = "Answer:";

/// Tokens added to a reasoning candidate's default answer limit.
pub const REASONING_TOKENS: u32 = 256;

const STRATEGIES: &str = "zero-shot, few-shot, chain-of-thought, self-consistency, reflection, \
                          loglikelihood or cascade";

/// How a candidate uses its model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Strategy {
    /// The prompt alone.
    ZeroShot,
    /// Examples (question, answer turns) before the prompt.
    FewShot {
        /// How many examples.
        k: usize,
    },
    /// Reason step by step, then give the answer on a last line starting with the answer prefix.
    ChainOfThought,
    /// Several samples at a temperature; the most common answer wins; agreement is confidence.
    SelfConsistency {
        /// How many samples.
        samples: u32,
    },
    /// Draft, critique, revise, up to `rounds` times (stops when the critic accepts).
    Reflection {
        /// Critique-and-revise rounds at most.
        rounds: u32,
        /// The model that critiques (`None`: the candidate's own).
        critic: Option<String>,
    },
    /// Pick the label whose continuation is most likely (local models; label contracts).
    Loglikelihood,
    /// Cheap candidates first; escalate to the next stage when confidence is below a threshold.
    Cascade(CascadeConfig),
}

impl Strategy {
    /// The strategy's name.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::ZeroShot => "zero-shot",
            Strategy::FewShot { .. } => "few-shot",
            Strategy::ChainOfThought => "chain-of-thought",
            Strategy::SelfConsistency { .. } => "self-consistency",
            Strategy::Reflection { .. } => "reflection",
            Strategy::Loglikelihood => "loglikelihood",
            Strategy::Cascade(_) => "cascade",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::FewShot { k } => write!(f, "few-shot (k={k})"),
            Strategy::SelfConsistency { samples } => write!(f, "self-consistency (n={samples})"),
            Strategy::Reflection { rounds, critic } => match critic {
                Some(c) => write!(f, "reflection (rounds={rounds}, critic {c})"),
                None => write!(f, "reflection (rounds={rounds})"),
            },
            Strategy::Cascade(c) => write!(f, "cascade ({})", c.stages.join(" → ")),
            other => f.write_str(other.name()),
        }
    }
}

/// A cascade: stages in order, and when to go on to the next.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CascadeConfig {
    /// Candidate names of this component, cheapest first; the last one always answers.
    pub stages: Vec<String>,
    /// Stage `i` (except the last) answers when its confidence is at least `thresholds[i]`.
    pub thresholds: Vec<f64>,
    /// Where a stage's confidence comes from.
    pub confidence: ConfidenceSource,
    /// The model that checks a stage's answer (`confidence = "verifier"`).
    pub verifier: Option<String>,
}

/// Where a cascade stage's confidence comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConfidenceSource {
    /// The stage's own: the label probability margin (log-likelihood), the vote share
    /// (self-consistency); a stage that reports none is trusted only if its answer parses.
    Model,
    /// 1 when the answer parses into the contract (label set, JSON Schema, slots), else 0.
    Validator,
    /// A verifier model's judgement of the answer (the probability of "yes" where the model
    /// gives log-likelihoods, else its yes/no).
    Verifier,
}

/// Few-shot examples a candidate shows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Shots {
    /// How many.
    pub k: usize,
    /// Which.
    pub select: ShotSelect,
}

/// How few-shot examples are chosen.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "select", rename_all = "kebab-case")]
pub enum ShotSelect {
    /// The same seeded, label-spread examples for every input.
    Fixed,
    /// The `k` examples of the pool most similar to the input (cosine of embeddings).
    Similar {
        /// The model whose embeddings measure similarity.
        embedder: String,
    },
}

/// One candidate: a model and a strategy.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Candidate {
    /// Unique within the component (default `model/strategy`).
    pub name: String,
    /// The model's name (a cascade: its first stage's model).
    pub model: String,
    /// The strategy.
    pub strategy: Strategy,
    /// Sampling temperature (default greedy; self-consistency 0.7).
    pub temperature: Option<f32>,
    /// Nucleus sampling.
    pub top_p: Option<f32>,
    /// Sampling seed.
    pub seed: Option<u64>,
    /// Token limit for the answer.
    pub max_tokens: u32,
    /// Constrain output to the contract (label set or JSON schema) with a grammar.
    pub constrained: bool,
    /// Few-shot examples shown before the prompt.
    pub shots: Option<Shots>,
    /// Reason step by step before answering (chain-of-thought; with self-consistency or
    /// reflection when `reason = true`).
    pub reason: bool,
    /// The final answer of a reasoning candidate is what follows the last line starting with this.
    pub answer_prefix: String,
}

impl Candidate {
    /// Every model this candidate calls itself (its model, critic, embedder, verifier); a
    /// cascade's stages are other candidates and are not included.
    pub fn models(&self) -> Vec<&str> {
        let mut out: Vec<&str> = vec![self.model.as_str()];
        if let Strategy::Reflection {
            critic: Some(c), ..
        } = &self.strategy
        {
            out.push(c);
        }
        if let Some(Shots {
            select: ShotSelect::Similar { embedder },
            ..
        }) = &self.shots
        {
            out.push(embedder);
        }
        if let Strategy::Cascade(CascadeConfig {
            verifier: Some(v), ..
        }) = &self.strategy
        {
            out.push(v);
        }
        let mut seen = BTreeSet::new();
        out.retain(|m| seen.insert(*m));
        out
    }
}

/// What the candidate checks need from the component.
pub(super) struct Context<'a> {
    pub at: &'a Locator<'a>,
    pub component: &'a str,
    pub models: &'a BTreeMap<String, ModelConfig>,
    pub output: &'a OutputContract,
    pub few_shot: Option<&'a FewShot>,
    pub max_tokens: u32,
}

impl Context<'_> {
    pub(super) fn model(&self, key: &str, model: &Spanned<String>) -> Result<String, ConfigError> {
        if self.models.contains_key(model.get_ref()) {
            Ok(model.get_ref().clone())
        } else {
            Err(super::component::unknown_model(
                self.at,
                key,
                model,
                self.models,
            ))
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
    let model = match (&c.model, cascade) {
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
        (c.confidence.is_some(), "confidence"),
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
        "cascade" => Strategy::Cascade(super::cascade::config(cx, &c, &ckey, &bad)?),
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
    let name = c
        .name
        .clone()
        .unwrap_or_else(|| default_name(&model, &strategy, shots.as_ref(), reason));
    Ok(Candidate {
        name,
        model,
        strategy,
        temperature,
        top_p: c.top_p,
        seed: c.seed,
        // Reasoning needs room before the answer.
        max_tokens: c
            .max_tokens
            .unwrap_or(cx.max_tokens + if reason { REASONING_TOKENS } else { 0 }),
        constrained,
        shots,
        reason,
        answer_prefix: c
            .answer_prefix
            .clone()
            .unwrap_or_else(|| DEFAULT_ANSWER_PREFIX.to_owned()),
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

//! A cascade: its stages in order; a stage whose confidence reaches its threshold answers,
//! otherwise (or when it fails) the next stage is asked. The last stage always answers.

use rightfit_config::project::{Candidate, CascadeConfig, ConfidenceSource};
use rightfit_types::{ChatRequest, LoglikelihoodRequest, Message};

use super::answerer::Answerer;
use crate::example::Example;
use crate::extract::yes_no;
use crate::outcome::Outcome;
use crate::prompt::Call;

/// Runs the cascade on one example.
pub(super) async fn run(
    answerer: &Answerer<'_>,
    cascade: &CascadeConfig,
    example: &Example,
) -> Outcome {
    let mut total = Outcome {
        cached: true,
        cost_usd: Some(0.0),
        ..Outcome::default()
    };
    let last = cascade.stages.len().saturating_sub(1);
    for (i, name) in cascade.stages.iter().enumerate() {
        let Some(stage) = answerer.component.candidate(name) else {
            total.error = Some(format!("cascade stage '{name}' is not a candidate"));
            return total;
        };
        // A stage whose confidence reads token log-probabilities asks for them and reads them
        // (the last stage's confidence is not read).
        let asking;
        let stage = if cascade.confidence.needs_logprobs() && i < last {
            asking = Candidate {
                token_confidence: Some(cascade.confidence),
                ..stage.clone()
            };
            &asking
        } else {
            stage
        };
        let answer = answerer.plain(stage, example).await;
        if i == 0 {
            total.input = answer.input.clone();
        }
        total.then(&answer);
        let mut step = answer.step("stage", name, &answer.text);
        step.answer = None;
        let stage_step = total.steps.len();
        total.steps.push(step);
        total.steps.extend(answer.steps.iter().cloned());
        if i == last {
            total.text = answer.text.clone();
            total.error = answer.error.clone();
            total.ttft_ms = None;
            // The cascade's confidence is the first stage's (what calibration reads).
            if i == 0 {
                total.confidence = answer.confidence;
            }
            return total;
        }
        let confidence = if answer.error.is_some() {
            0.0
        } else {
            match cascade.confidence {
                ConfidenceSource::Model => answer
                    .confidence
                    .unwrap_or_else(|| validator(answerer, example, &answer.text)),
                ConfidenceSource::Validator => validator(answerer, example, &answer.text),
                // Read by the stage from its tokens; a model that reports none is trusted only
                // if its answer parses.
                ConfidenceSource::TokenMean
                | ConfidenceSource::TokenMin
                | ConfidenceSource::FieldMean
                | ConfidenceSource::FieldMin => answer
                    .confidence
                    .unwrap_or_else(|| validator(answerer, example, &answer.text)),
                ConfidenceSource::Verifier => {
                    let verifier = cascade.verifier.as_deref().unwrap_or(&stage.model);
                    let (verdict, c) = verify(answerer, verifier, example, &answer.text).await;
                    total.then(&verdict);
                    let mut v = verdict.step("verify", verifier, &verdict.text);
                    v.confidence = Some(c);
                    total.steps.push(v);
                    c
                }
            }
        };
        if i == 0 {
            total.confidence = Some(confidence);
        }
        total.steps[stage_step].confidence = Some(confidence);
        if confidence >= cascade.thresholds[i] {
            total.text = answer.text.clone();
            return total;
        }
    }
    total
}

/// 1 when the answer is well-formed under the component's contract ([`Scorer::valid`]: it
/// parses; tool calls fit the offered functions' schemas), else 0.
///
/// [`Scorer::valid`]: crate::score::Scorer::valid
fn validator(answerer: &Answerer<'_>, example: &Example, answer: &str) -> f64 {
    if answerer.scorer.valid(answer, &example.reference) {
        1.0
    } else {
        0.0
    }
}

/// What the verifier is asked (followed by " yes" or " no").
const VERIFY_QUESTION: &str = "Is the answer correct? Reply yes or no.";

/// The verifier's judgement of an answer: P(yes) from log-likelihoods on a local model, else
/// its chat reply (yes → 1, anything else → 0). A failed verification is 0 (escalate).
async fn verify(
    answerer: &Answerer<'_>,
    verifier: &str,
    example: &Example,
    answer: &str,
) -> (Outcome, f64) {
    let (system, prompt) = match answerer.templates.task(example) {
        Ok(t) => t,
        Err(e) => return (Outcome::failed(e), 0.0),
    };
    let mut shown = String::new();
    if let Some(s) = system {
        shown.push_str(&format!("Instructions: {s}\n\n"));
    }
    shown.push_str(&format!(
        "Task:\n{prompt}\n\nAnswer:\n{answer}\n\n{VERIFY_QUESTION}"
    ));
    if answerer.is_local(verifier) {
        let request = Call::Loglikelihood(LoglikelihoodRequest {
            model: String::new(),
            context: format!("{shown}\nVerdict:"),
            continuations: vec![" yes".to_owned(), " no".to_owned()],
            normalize: Default::default(),
        });
        let (o, _) = answerer.call(verifier, &request).await;
        if o.error.is_some() {
            return (o, 0.0);
        }
        let p = p_yes(&o).unwrap_or(0.0);
        (o, p)
    } else {
        let mut r = ChatRequest::chat(vec![Message::user(shown)]);
        r.max_tokens = Some(3);
        let (o, raw) = answerer.call(verifier, &Call::Chat(r)).await;
        let c = if o.error.is_some() { 0.0 } else { yes_no(&raw) };
        (o, c)
    }
}

/// P(yes) of a verifier's log-likelihood call. `Answerer::call` keeps the label margin as the
/// outcome's confidence and the more likely continuation as its text; with two continuations
/// the two give P(yes) back exactly: p_winner − p_loser = margin and p_winner + p_loser = 1.
fn p_yes(o: &Outcome) -> Option<f64> {
    let p_winner = (1.0 + o.confidence?) / 2.0;
    Some(if o.text == "yes" {
        p_winner
    } else {
        1.0 - p_winner
    })
}

//! Self-consistency (samples in parallel, a vote) and reflection (draft, critique, revise).

use rightfit_config::project::Candidate;
use rightfit_types::{ChatRequest, Message};

use super::answerer::Answerer;
use crate::example::Example;
use crate::extract::{self, vote, vote_key};
use crate::outcome::Outcome;
use crate::prompt::{Call, reasoning_instruction};

/// `samples` calls with distinct seeds at the candidate's temperature, sent together; the most
/// common parsed answer wins (ties: the one that came first), its vote share is the confidence.
/// A sample that failed or does not parse does not vote but counts in the share. Latency is the
/// slowest sample's (they run side by side); tokens and cost add up.
pub(super) async fn self_consistency(
    answerer: &Answerer<'_>,
    candidate: &Candidate,
    shots: &[Example],
    example: &Example,
    samples: u32,
) -> Outcome {
    let runs = (0..u64::from(samples)).map(|i| answerer.once(candidate, shots, example, Some(i)));
    let results: Vec<(Outcome, String)> = futures::future::join_all(runs).await;
    let keys: Vec<Option<String>> = results
        .iter()
        .map(|(o, _)| {
            if o.error.is_some() {
                None
            } else {
                vote_key(answerer.scorer, &o.text)
            }
        })
        .collect();
    let mut total = Outcome {
        input: results
            .first()
            .map(|(o, _)| o.input.clone())
            .unwrap_or_default(),
        cached: true,
        cost_usd: Some(0.0),
        ..Outcome::default()
    };
    for ((o, raw), key) in results.iter().zip(&keys) {
        total.absorb(o);
        total.latency_ms = total.latency_ms.max(o.latency_ms);
        let mut step = o.step("sample", &candidate.model, raw);
        if let Some(k) = key.as_ref().filter(|k| *k != raw) {
            step.answer = Some(k.clone());
        }
        total.steps.push(step);
    }
    match vote(&keys) {
        Some(v) => {
            total.text = results[v.winner].0.text.clone();
            total.confidence = Some(v.agreement);
        }
        None => {
            // Nothing parsed: keep the first answer that came back (scored as unparseable),
            // or the first error when every sample failed.
            match results.iter().find(|(o, _)| o.error.is_none()) {
                Some((o, _)) => total.text = o.text.clone(),
                None => {
                    total.error = results
                        .first()
                        .and_then(|(o, _)| o.error.clone())
                        .map(|e| format!("every sample failed: {e}"));
                }
            }
            total.confidence = Some(0.0);
        }
    }
    total
}

/// What the critic is asked.
pub(crate) const CRITIC_SYSTEM: &str = "You check answers to a task. If the answer is correct and \
     follows the task's instructions exactly, reply with exactly: OK. Otherwise say briefly what \
     is wrong and what the right answer is.";

fn critique_request(task: &(Option<String>, String), answer: &str) -> ChatRequest {
    let (system, prompt) = task;
    let mut shown = String::new();
    if let Some(s) = system {
        shown.push_str(&format!("Instructions: {s}\n\n"));
    }
    shown.push_str(&format!("Task:\n{prompt}\n\nAnswer:\n{answer}"));
    let mut r = ChatRequest::chat(vec![Message::system(CRITIC_SYSTEM), Message::user(shown)]);
    r.max_tokens = Some(128);
    r
}

/// Draft with the candidate's prompt; then up to `rounds` times: the critic reviews the latest
/// answer; "OK" ends it, anything else is sent back with the draft for a revision. Calls run
/// in turn, so latencies add up. Confidence: 1 when the critic accepted the final answer, 0
/// when the rounds ran out (the last revision was not reviewed).
pub(super) async fn reflection(
    answerer: &Answerer<'_>,
    candidate: &Candidate,
    shots: &[Example],
    example: &Example,
    rounds: u32,
    critic: &str,
) -> Outcome {
    let (draft, raw) = answerer.once(candidate, shots, example, None).await;
    let mut total = draft.clone();
    total.steps = vec![draft.step("draft", &candidate.model, &raw)];
    if draft.error.is_some() {
        return total;
    }
    let task = match answerer.templates.task(example) {
        Ok(t) => t,
        Err(e) => {
            total.error = Some(e);
            return total;
        }
    };
    let Call::Chat(first) = (match answerer.templates.call(
        answerer.component,
        candidate,
        shots,
        example,
        answerer.is_local(&candidate.model),
    ) {
        Ok(c) => c,
        Err(e) => {
            total.error = Some(e);
            return total;
        }
    }) else {
        // A log-likelihood candidate has nothing to revise.
        return total;
    };
    let mut latest_raw = raw;
    total.confidence = Some(0.0);
    for _ in 0..rounds {
        let (review, review_raw) = answerer
            .call(critic, &Call::Chat(critique_request(&task, &total.text)))
            .await;
        total.then(&review);
        total
            .steps
            .push(review.step("critique", critic, &review_raw));
        if review.error.is_some() {
            // Keep the draft: a failed review is not a failed answer.
            total.confidence = None;
            return total;
        }
        if extract::accepts(&review_raw) {
            total.confidence = Some(1.0);
            return total;
        }
        let mut revise = first.clone();
        let mut ask = format!(
            "A reviewer said:\n{}\n\nGive the corrected answer, in the format the task asks for.",
            review_raw.trim()
        );
        if candidate.reason {
            ask.push_str(&reasoning_instruction(&candidate.answer_prefix));
        }
        if let rightfit_types::Prompt::Messages(m) = &mut revise.prompt {
            m.push(Message::assistant(latest_raw.clone()));
            m.push(Message::user(ask));
        }
        let (revised, revised_raw) = answerer.call(&candidate.model, &Call::Chat(revise)).await;
        total.then(&revised);
        let mut step = revised.step("revision", &candidate.model, &revised_raw);
        if revised.error.is_some() {
            total.steps.push(step);
            return total; // keep the last good answer
        }
        let text =
            answerer.read_answer(candidate, &revised_raw, answerer.is_local(&candidate.model));
        step.answer = (text != revised_raw).then(|| text.clone());
        total.steps.push(step);
        total.text = text;
        latest_raw = revised_raw;
    }
    total
}

//! A teacher answers inputs: any candidate of a component (a hosted model, the local large
//! model, any strategy) labels rows for a student to learn from. Each answer is parsed into the
//! component's contract, as the scorer reads answers; an answer that does not parse, or a call
//! that fails, drops its row with the reason, so a student never learns from noise it could
//! have been told about.

use futures::StreamExt;
use rightfit_config::project::{Candidate, OutputContract};
use serde_json::Value;

use crate::example::Example;
use crate::strategy::Answerer;

/// What a teacher's answers gave.
#[derive(Debug, Default)]
pub struct Taught {
    /// The inputs it answered, with its parsed answer as their reference, in input order.
    pub examples: Vec<Example>,
    /// Inputs dropped, with why: the call failed, or the answer did not parse.
    pub dropped: Vec<(String, String)>,
    /// Model calls made (a strategy may make several per input).
    pub calls: u64,
    /// What the calls cost, `None` when a price is unknown.
    pub cost_usd: Option<f64>,
}

/// One input as the teacher left it.
struct Answered {
    position: usize,
    example: Example,
    reference: Result<Value, String>,
    calls: u32,
    cost_usd: Option<f64>,
}

/// The reference a teacher's answer gives, or why it gives none.
pub fn reference_of(answerer: &Answerer<'_>, answer: &str) -> Result<Value, String> {
    let scored = answerer.scorer.score(answer, &Value::Null);
    if scored.unparseable {
        return Err(format!("unparseable answer: {answer:?}"));
    }
    match scored.parsed {
        Some(v) => Ok(v),
        None => {
            let text = answer.trim();
            let empty = text.is_empty()
                || matches!(answerer.component.output, OutputContract::Label { .. });
            if empty {
                Err(format!("unparseable answer: {answer:?}"))
            } else {
                Ok(Value::String(text.to_owned()))
            }
        }
    }
}

/// Has `teacher` answer every input, `concurrency` at a time; `each` hears of every input done
/// (`true`: kept).
pub async fn answer_all(
    answerer: &Answerer<'_>,
    teacher: &Candidate,
    inputs: Vec<Example>,
    concurrency: usize,
    each: &(dyn Fn(bool) + Sync),
) -> Taught {
    let mut answered: Vec<Answered> = futures::stream::iter(inputs.into_iter().enumerate())
        .map(|(i, example)| async move {
            let o = answerer.answer(teacher, &example).await;
            let reference = match &o.error {
                Some(e) => Err(e.clone()),
                None => reference_of(answerer, &o.text),
            };
            each(reference.is_ok());
            Answered {
                position: i,
                example,
                reference,
                calls: o.calls,
                cost_usd: o.cost_usd,
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    answered.sort_by_key(|a| a.position);
    let mut out = Taught {
        cost_usd: Some(0.0),
        ..Taught::default()
    };
    for a in answered {
        let mut example = a.example;
        out.calls += u64::from(a.calls);
        out.cost_usd = match (out.cost_usd, a.cost_usd) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        match a.reference {
            Ok(r) => {
                example.reference = r;
                out.examples.push(example);
            }
            Err(why) => out.dropped.push((example.id, why)),
        }
    }
    out
}

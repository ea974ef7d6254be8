//! Strategies: how a candidate turns one example into an answer, with every call it makes.
//!
//! A single call (zero-shot, few-shot, chain-of-thought, log-likelihood) or several:
//! self-consistency samples in parallel and votes; reflection drafts, has a critic check and
//! revises, in turn; a cascade runs its stages in order until one is confident enough. Every
//! call counts towards the example's latency (parallel calls: the slowest; calls in turn: the
//! sum), tokens and cost, and is kept as a [`Step`] so a person can see why the answer came
//! out as it did.

mod answerer;
mod cascade;
mod multi;
mod plain;
mod similar;

use std::collections::BTreeSet;

use rightfit_config::project::{Candidate, Component, Strategy};

pub use crate::outcome::Outcome;
pub use answerer::Answerer;
pub use similar::SimilarShots;

use crate::example::Example;

impl Answerer<'_> {
    /// A candidate's answer to an example, by its strategy.
    pub async fn answer(&self, candidate: &Candidate, example: &Example) -> Outcome {
        if let Strategy::Cascade(cascade) = &candidate.strategy {
            return cascade::run(self, cascade, example).await;
        }
        self.plain(candidate, example).await
    }
}

/// Every model a candidate calls, a cascade's stages' (and their stages') included.
pub fn models_called(c: &Component, candidate: &Candidate) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![candidate];
    while let Some(k) = todo.pop() {
        out.extend(k.models().into_iter().map(str::to_owned));
        if let Strategy::Cascade(cascade) = &k.strategy {
            todo.extend(cascade.stages.iter().filter_map(|s| c.candidate(s)));
        }
    }
    out
}

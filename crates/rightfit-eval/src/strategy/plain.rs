//! Any strategy but a cascade: one call, self-consistency or reflection, after choosing the
//! few-shot examples (fixed, or the most similar by embedding). A cascade's stages are these.

use rightfit_config::project::{Candidate, ShotSelect, Shots, Strategy};

use super::answerer::Answerer;
use super::multi;
use crate::example::Example;
use crate::outcome::Outcome;

impl Answerer<'_> {
    /// The few-shot examples a candidate shows for an example, with the embedding call it
    /// took to choose them (similarity selection), if any.
    async fn shots_for(
        &self,
        candidate: &Candidate,
        example: &Example,
    ) -> Result<(Vec<Example>, Option<Outcome>), String> {
        match &candidate.shots {
            None => Ok((Vec::new(), None)),
            Some(s) => match &s.select {
                ShotSelect::Fixed => Ok((self.shots[..s.k.min(self.shots.len())].to_vec(), None)),
                ShotSelect::Similar { embedder } => {
                    let (model, provider) = self.provider(embedder)?;
                    self.similar
                        .choose(
                            (self.templates, self.shots),
                            (embedder, model, provider),
                            s.k,
                            example,
                        )
                        .await
                }
            },
        }
    }

    /// Any strategy but a cascade (a cascade's stages are these).
    pub(crate) async fn plain(&self, candidate: &Candidate, example: &Example) -> Outcome {
        let (shots, chose) = match self.shots_for(candidate, example).await {
            Ok(s) => s,
            Err(e) => return Outcome::failed(format!("few-shot selection: {e}")),
        };
        let mut outcome = match &candidate.strategy {
            Strategy::SelfConsistency { samples } => {
                multi::self_consistency(self, candidate, &shots, example, *samples).await
            }
            Strategy::Reflection { rounds, critic } => {
                let critic = critic.as_deref().unwrap_or(&candidate.model);
                multi::reflection(self, candidate, &shots, example, *rounds, critic).await
            }
            _ => {
                let (mut o, raw) = self.once(candidate, &shots, example, None).await;
                if candidate.reason && o.error.is_none() {
                    o.steps.push(o.step("reasoning", &candidate.model, &raw));
                }
                o
            }
        };
        if let Some(embedding) = chose {
            // The embedding call came first: its figures add to the answer's.
            outcome.then(&embedding);
            let by = match &candidate.shots {
                Some(Shots {
                    select: ShotSelect::Similar { embedder },
                    ..
                }) => embedder.as_str(),
                _ => "",
            };
            let mut step = embedding.step("select-shots", by, &embedding.text);
            step.answer = None;
            outcome.steps.insert(0, step);
        }
        outcome
    }
}

//! LLM-as-judge: a model compares the candidate's answer with the reference under a rubric.
//!
//! The two answers are shown as "Answer 1" and "Answer 2" in an order drawn from the example id
//! (so about half the examples show the candidate first), which limits position bias. The judge
//! says which is better or that they are equally good: the candidate scores 1 for a win, 0.5 for
//! a tie and 0 for a loss. The judge's own calls are priced and added to the example's cost.

use std::sync::Arc;

use rightfit_config::project::{
    Component, Judge as JudgeConfig, ModelConfig, Project, ProviderConfig,
};
use rightfit_providers::Provider;
use rightfit_registry::ProviderFactory;
use rightfit_store::RunStore;
use rightfit_types::{ChatRequest, Message, ResponseFormat};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::options::EvalError;
use crate::call::{AnswerBody, call};
use crate::example::answer_text;
use crate::prompt::Call;
use crate::scorers::label::LabelParser;

/// A judge, ready to call.
#[derive(Debug)]
pub(crate) struct Judge {
    config: JudgeConfig,
    model: ModelConfig,
    provider: Arc<dyn Provider>,
    parser: LabelParser,
}

/// One verdict.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verdict {
    /// 1 win, 0.5 tie, 0 loss.
    pub score: f64,
    /// What the judge's calls cost.
    pub cost_usd: Option<f64>,
}

/// The component's judge, built, when one of its metrics is `judge`.
pub(crate) async fn for_component(
    project: &Project,
    c: &Component,
    providers: &dyn ProviderFactory,
) -> Result<Option<Judge>, EvalError> {
    match &c.judge {
        Some(j) if c.metrics.iter().any(|m| m == "judge") => {
            let model = project.models.get(&j.model).ok_or_else(|| {
                EvalError::Invalid(format!("judge model '{}' is not defined", j.model))
            })?;
            let provider = providers.provider(model).await?;
            Ok(Some(Judge::new(j.clone(), model.clone(), provider)))
        }
        _ => Ok(None),
    }
}

/// Whether the candidate's answer is shown first, drawn from the example id.
pub(crate) fn candidate_first(example_id: &str) -> bool {
    let digest = Sha256::digest(example_id.as_bytes());
    digest[0] & 1 == 0
}

impl Judge {
    pub(crate) fn new(
        config: JudgeConfig,
        model: ModelConfig,
        provider: Arc<dyn Provider>,
    ) -> Self {
        let parser = LabelParser::new(&["1".to_owned(), "2".to_owned(), "tie".to_owned()]);
        Self {
            config,
            model,
            provider,
            parser,
        }
    }

    fn request(&self, task: &str, first: &str, second: &str) -> ChatRequest {
        let system = "You are a strict, impartial grader. You compare two answers to the same task \
                      and say which one is better under the rubric. Length and order are not merit.";
        let user = format!(
            "Rubric:\n{}\n\nTask:\n{task}\n\nAnswer 1:\n{first}\n\nAnswer 2:\n{second}\n\n\
             Which answer is better under the rubric? Reply with exactly one of: 1, 2, tie.",
            self.config.rubric
        );
        let request = ChatRequest::chat(vec![Message::system(system), Message::user(user)])
            .with_max_tokens(self.config.max_tokens);
        // A local judge is held to the three verdicts by a grammar; hosted ones are asked.
        if matches!(self.model.provider, ProviderConfig::Local { .. }) {
            request.with_response_format(ResponseFormat::Grammar {
                gbnf: r#"root ::= "1" | "2" | "tie""#.to_owned(),
            })
        } else {
            request
        }
    }

    pub(crate) async fn judge(
        &self,
        input: &Value,
        answer: &str,
        reference: &Value,
        example_id: &str,
        store: &dyn RunStore,
        use_cache: bool,
    ) -> Result<Verdict, String> {
        let task = match input.get("messages").and_then(Value::as_array) {
            Some(messages) => messages
                .iter()
                .rev()
                .find_map(|m| m.get("content").and_then(Value::as_str))
                .unwrap_or_default()
                .to_owned(),
            None => input.to_string(),
        };
        let reference = answer_text(reference);
        let mine_first = candidate_first(example_id);
        let (first, second) = if mine_first {
            (answer, reference.as_str())
        } else {
            (reference.as_str(), answer)
        };
        let request = self.request(&task, first, second);
        let (answer, _) = call(
            &self.provider,
            &self.model,
            store,
            &Call::Chat(request),
            use_cache,
        )
        .await?;
        let AnswerBody::Chat(response) = answer.response else {
            return Err("the judge returned no text".to_owned());
        };
        let text = response
            .choices
            .first()
            .map(|c| c.text.as_str())
            .unwrap_or_default();
        let cost_usd = self.model.request_cost(
            u64::from(response.usage.prompt_tokens),
            u64::from(response.usage.completion_tokens),
            answer.latency_ms,
        );
        let score = match self.parser.parse(text) {
            Some(2) => 0.5,
            Some(0) => {
                if mine_first {
                    1.0
                } else {
                    0.0
                }
            }
            Some(1) => {
                if mine_first {
                    0.0
                } else {
                    1.0
                }
            }
            _ => return Err(format!("the judge's verdict is unreadable: {text:?}")),
        };
        Ok(Verdict { score, cost_usd })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_balanced_over_ids() {
        let first = (0..1000)
            .filter(|i| candidate_first(&format!("ex-{i}")))
            .count();
        assert!((400..600).contains(&first), "{first}");
        assert_eq!(candidate_first("x"), candidate_first("x"));
    }
}

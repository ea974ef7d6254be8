//! Scoring an answer under a component's contract and metrics, and corpus-level metrics.

use std::collections::BTreeMap;

use rightfit_config::project::{Component, OutputContract};
use rightfit_types::ExampleRecord;
use serde_json::Value;

use crate::scorers::{bleu, chrf, json, label, matching, rouge, span, squad, tool_call};

/// What a scorer made of one answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scored {
    /// The primary metric.
    pub score: f64,
    /// Every metric.
    pub scores: BTreeMap<String, f64>,
    /// What was parsed out of the answer.
    pub parsed: Option<Value>,
    /// The answer could not be parsed into the contract.
    pub unparseable: bool,
}

/// A component's scorer.
#[derive(Debug)]
pub struct Scorer {
    output: OutputContract,
    metrics: Vec<String>,
    labels: Option<label::LabelParser>,
    schema: Option<json::SchemaScorer>,
}

/// Reference texts: a string, or a list of strings.
pub fn reference_texts(reference: &Value) -> Vec<String> {
    match reference {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Value::Null => Vec::new(),
        other => vec![other.to_string()],
    }
}

impl Scorer {
    /// Builds the scorer; fails on a JSON Schema that does not compile.
    pub fn new(c: &Component) -> Result<Self, String> {
        Self::from_parts(c.output.clone(), c.metrics.clone())
    }

    /// Builds a scorer for an output contract and metric names.
    pub fn from_parts(output: OutputContract, metrics: Vec<String>) -> Result<Self, String> {
        let labels = match &output {
            OutputContract::Label { labels, .. } => Some(label::LabelParser::new(labels)),
            _ => None,
        };
        let schema = match &output {
            OutputContract::Json { schema: Some(s) } => Some(json::SchemaScorer::new(s)?),
            _ => None,
        };
        Ok(Self {
            output,
            metrics,
            labels,
            schema,
        })
    }

    /// The metric names; the first is primary.
    pub fn metrics(&self) -> &[String] {
        &self.metrics
    }

    /// Scores an answer. Judge scores are added by the runner.
    pub fn score(&self, answer: &str, reference: &Value) -> Scored {
        let mut out = Scored::default();
        // Parse under the contract.
        let mut answer_text = answer.trim().to_owned();
        let mut calls = Vec::new();
        match &self.output {
            // Text is an answer without calls: never unparseable.
            OutputContract::ToolCall { .. } => {
                calls = tool_call::calls(answer, reference);
                out.parsed = Some(tool_call::parsed(&calls));
            }
            OutputContract::Label { .. } => {
                let parsed = self
                    .labels
                    .as_ref()
                    .and_then(|p| p.parse(answer).map(|i| p.labels()[i].clone()));
                out.unparseable = parsed.is_none();
                out.parsed = parsed.map(Value::String);
            }
            OutputContract::Json { .. } | OutputContract::Spans { .. } => {
                let parsed = json::extract(answer);
                out.unparseable = match (&self.output, &parsed) {
                    (OutputContract::Spans { .. }, Some(v)) => !v.is_object(),
                    (_, p) => p.is_none(),
                };
                out.parsed = parsed;
            }
            OutputContract::Text { no_answer } => {
                if let Some(phrase) = no_answer
                    && matching::normalize(answer).contains(&matching::normalize(phrase))
                {
                    answer_text.clear();
                }
            }
        }
        let refs = reference_texts(reference);
        for metric in &self.metrics {
            let (base, stem) = match metric.strip_suffix(":stem") {
                Some(b) => (b, true),
                None => (metric.as_str(), false),
            };
            let value = match base {
                "exact_match" => Some(matching::exact_match(&answer_text, &refs)),
                "normalized_match" => Some(matching::normalized_match(&answer_text, &refs)),
                "accuracy" | "macro_f1" => Some(match (&out.parsed, reference) {
                    (Some(Value::String(p)), Value::String(r)) if p == r => 1.0,
                    _ => 0.0,
                }),
                "squad_em" => Some(squad::exact_match(&answer_text, &refs)),
                "squad_f1" => Some(squad::f1(&answer_text, &refs)),
                "rouge1" | "rouge2" | "rougeL" | "rougeLsum" => {
                    let best = refs
                        .iter()
                        .map(|r| {
                            let s = rouge::score(r, &answer_text, stem);
                            match base {
                                "rouge1" => s.rouge1.fmeasure,
                                "rouge2" => s.rouge2.fmeasure,
                                "rougeL" => s.rouge_l.fmeasure,
                                _ => s.rouge_lsum.fmeasure,
                            }
                        })
                        .fold(0.0, f64::max);
                    Some(best)
                }
                "bleu" => {
                    let r: Vec<&str> = refs.iter().map(String::as_str).collect();
                    Some(bleu::sentence_bleu(&answer_text, &r).score / 100.0)
                }
                "chrf" => {
                    let r: Vec<&str> = refs.iter().map(String::as_str).collect();
                    Some(chrf::sentence_chrf(&answer_text, &r) / 100.0)
                }
                "json_valid" => Some(json::json_valid(answer)),
                "json_schema" => self.schema.as_ref().map(|s| s.score(answer).0),
                "span_exact" | "span_f1" => {
                    let OutputContract::Spans { slots } = &self.output else {
                        continue;
                    };
                    let parsed = out.parsed.clone().unwrap_or(Value::Null);
                    let s = span::score(&parsed, reference, slots);
                    Some(if base == "span_exact" { s.exact } else { s.f1 })
                }
                "tool_exact" => Some(tool_call::exact(&calls, reference)),
                "tool_name" => Some(tool_call::names(&calls, reference)),
                "tool_args" => Some(tool_call::arguments(&calls, reference)),
                "tool_valid" => Some(tool_call::valid(&calls, reference)),
                _ => None, // "judge" is scored by the runner
            };
            if let Some(v) = value {
                out.scores.insert(metric.clone(), v);
            }
        }
        // An answer that does not parse into the contract is wrong on every metric: without
        // this, a malformed extraction scored like an empty one, which is right whenever the
        // reference has no slots.
        if out.unparseable {
            out.scores.values_mut().for_each(|v| *v = 0.0);
        }
        out.score = self
            .metrics
            .first()
            .and_then(|m| out.scores.get(m).copied())
            .unwrap_or(0.0);
        out
    }

    /// Whether an answer is well-formed under the contract, the cascade's validator: it parses
    /// into the contract (non-empty text for a text contract); for tool calls, every call names
    /// an offered function with arguments that fit its schema (`reference` carries the offered
    /// functions; its expected calls are not read).
    pub fn valid(&self, answer: &str, reference: &Value) -> bool {
        match &self.output {
            OutputContract::ToolCall { .. } => {
                tool_call::valid(&tool_call::calls(answer, reference), reference) == 1.0
            }
            OutputContract::Text { .. } => !answer.trim().is_empty(),
            _ => !self.score(answer, &Value::Null).unparseable,
        }
    }

    /// Metrics computed over the whole corpus, not as a mean of examples: macro-F1, corpus BLEU
    /// and corpus chrF (0..1). Failed examples count as wrong / empty answers.
    pub fn corpus(&self, records: &[ExampleRecord]) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for metric in &self.metrics {
            match metric.as_str() {
                "macro_f1" => {
                    if let Some(p) = &self.labels {
                        let pairs: Vec<(Option<usize>, usize)> = records
                            .iter()
                            .filter_map(|r| {
                                let truth = p.exact(r.reference.as_str()?)?;
                                let pred = r
                                    .parsed
                                    .as_ref()
                                    .and_then(Value::as_str)
                                    .and_then(|s| p.exact(s));
                                Some((pred, truth))
                            })
                            .collect();
                        out.insert(
                            "macro_f1".to_owned(),
                            label::macro_f1(&pairs, p.labels().len()),
                        );
                    }
                }
                "bleu" | "chrf" => {
                    let hyps: Vec<String> = records
                        .iter()
                        .map(|r| r.output.clone().unwrap_or_default().trim().to_owned())
                        .collect();
                    let refs: Vec<Vec<String>> = records
                        .iter()
                        .map(|r| reference_texts(&r.reference))
                        .collect();
                    let h: Vec<&str> = hyps.iter().map(String::as_str).collect();
                    let rr: Vec<Vec<&str>> = refs
                        .iter()
                        .map(|v| v.iter().map(String::as_str).collect())
                        .collect();
                    let value = if metric == "bleu" {
                        bleu::corpus_bleu(&h, &rr).map(|s| s.score).ok()
                    } else {
                        chrf::corpus_chrf(&h, &rr).ok()
                    };
                    if let Some(v) = value {
                        out.insert(format!("corpus_{metric}"), v / 100.0);
                    }
                }
                _ => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_unparseable_extraction_is_wrong_even_when_nothing_was_to_be_found() {
        let scorer = Scorer::from_parts(
            OutputContract::Spans {
                slots: vec!["date".into(), "people".into()],
            },
            vec!["span_f1".into(), "span_exact".into(), "json_valid".into()],
        )
        .expect("scorer");
        // The message has no slots: an empty object is right...
        let right = scorer.score("{}", &json!({}));
        assert!(!right.unparseable);
        assert_eq!(right.score, 1.0);
        assert_eq!(right.scores["span_exact"], 1.0);
        // ...and prose is not, though it "extracts" nothing either.
        let prose = scorer.score("I can help you book a table!", &json!({}));
        assert!(prose.unparseable);
        assert_eq!(prose.score, 0.0);
        assert_eq!(prose.scores["span_f1"], 0.0);
        assert_eq!(prose.scores["span_exact"], 0.0);
        assert_eq!(prose.scores["json_valid"], 0.0);
        // A parsed answer is scored as before.
        let some = scorer.score(
            "{\"date\": \"Friday\", \"people\": null}",
            &json!({"date": "Friday"}),
        );
        assert_eq!(some.score, 1.0);
    }
}

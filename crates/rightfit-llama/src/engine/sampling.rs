//! Choosing each next token: greedy argmax, seeded sampling, and grammar constraints.

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use rightfit_types::{ResponseFormat, Sampling};

use super::error::EngineError;
use super::tools::grammar::{CALLS_ROOT, LAZY_ROOT};

/// The compiled grammar of a request, if any.
#[derive(Debug, Clone)]
pub(crate) enum Constraint {
    None,
    Gbnf(String),
    /// Tool calls. Unless lazy, from the first token (start rule [`CALLS_ROOT`]). A lazy
    /// grammar (start rule [`LAZY_ROOT`]) lets the model write free text and constrains it only
    /// from the moment the text matches one of its trigger patterns
    /// ([`super::tools::grammar::lazy_triggers`]).
    Tools {
        gbnf: String,
        /// The trigger patterns of a lazy grammar; `None`: constrained from the first token.
        lazy: Option<Vec<String>>,
    },
}

impl Constraint {
    /// Turns a response format into a GBNF grammar (JSON Schema through llama.cpp's converter).
    pub(crate) fn from_format(format: &ResponseFormat) -> Result<Self, EngineError> {
        Ok(match format {
            ResponseFormat::Text => Constraint::None,
            ResponseFormat::Grammar { gbnf } => Constraint::Gbnf(gbnf.clone()),
            ResponseFormat::JsonObject => Constraint::Gbnf(json_object_grammar()),
            ResponseFormat::JsonSchema { schema, .. } => {
                let text = serde_json::to_string(schema)
                    .map_err(|e| EngineError::Grammar(format!("schema: {e}")))?;
                let gbnf = llama_cpp_2::json_schema_to_grammar(&text).map_err(|e| {
                    EngineError::Grammar(format!(
                        "this JSON Schema cannot be turned into a grammar: {e}"
                    ))
                })?;
                Constraint::Gbnf(gbnf)
            }
        })
    }
}

/// Any JSON object: llama.cpp's converter applied to the schema `{"type": "object"}`.
fn json_object_grammar() -> String {
    llama_cpp_2::json_schema_to_grammar(r#"{"type":"object"}"#).unwrap_or_else(|_| {
        // The converter accepts this schema; keep a hand-written equivalent for safety.
        r#"root ::= "{" space ( string ":" space value ( "," space string ":" space value )* )? "}" space
value ::= object | array | string | number | ("true" | "false" | "null") space
object ::= "{" space ( string ":" space value ( "," space string ":" space value )* )? "}" space
array ::= "[" space ( value ( "," space value )* )? "]" space
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" space
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? space
space ::= | " " | "\n" [ \t]{0,20}
"#
        .to_owned()
    })
}

/// How one sequence picks tokens.
pub(crate) enum TokenPicker {
    /// Most likely token, read straight from the logits (no sampler allocation per step).
    Argmax,
    /// A llama.cpp sampler chain (sampling and/or grammar).
    Chain(LlamaSampler),
}

impl std::fmt::Debug for TokenPicker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TokenPicker::Argmax => "Argmax",
            TokenPicker::Chain(_) => "Chain",
        })
    }
}

impl TokenPicker {
    /// Builds the picker for one choice of a request.
    pub(crate) fn new(
        model: &LlamaModel,
        sampling: &Sampling,
        constraint: &Constraint,
        choice: u32,
    ) -> Result<Self, EngineError> {
        let mut chain = Vec::new();
        let grammar = match constraint {
            Constraint::None => None,
            Constraint::Gbnf(gbnf) => Some(LlamaSampler::grammar(model, gbnf, "root")),
            Constraint::Tools { gbnf, lazy: None } => {
                Some(LlamaSampler::grammar(model, gbnf, CALLS_ROOT))
            }
            // Each trigger must end the generated text and match only text the grammar accepts:
            // llama.cpp feeds the grammar the text from the trigger on, and a rejection there
            // aborts the process (see `lazy_triggers`). A call whose tokens run past the trigger
            // (`<tool_call>{`) is left unconstrained instead, and read back as text if it is not
            // a valid call.
            Constraint::Tools {
                gbnf,
                lazy: Some(triggers),
            } => Some(LlamaSampler::grammar_lazy_patterns(
                model,
                gbnf,
                LAZY_ROOT,
                triggers,
                &[],
            )),
        };
        if let Some(g) = grammar {
            chain.push(
                g.map_err(|e| EngineError::Grammar(format!("the grammar does not parse: {e}")))?,
            );
        }
        if sampling.is_greedy() {
            if chain.is_empty() {
                return Ok(TokenPicker::Argmax);
            }
            chain.push(LlamaSampler::greedy());
        } else {
            if let Some(k) = sampling.top_k.filter(|k| *k > 0) {
                chain.push(LlamaSampler::top_k(i32::try_from(k).unwrap_or(i32::MAX)));
            }
            if let Some(p) = sampling.top_p.filter(|p| *p > 0.0 && *p < 1.0) {
                chain.push(LlamaSampler::top_p(p, 1));
            }
            chain.push(LlamaSampler::temp(sampling.temperature.unwrap_or(1.0)));
            // Each choice gets its own stream of random numbers; a fixed seed makes all of them
            // reproducible. Without a seed, llama.cpp's default seed asks for a random one.
            let seed = match sampling.seed {
                Some(s) => (s.wrapping_add(u64::from(choice)) % u64::from(u32::MAX)) as u32,
                None => u32::MAX,
            };
            chain.push(LlamaSampler::dist(seed));
        }
        Ok(TokenPicker::Chain(LlamaSampler::chain_simple(chain)))
    }

    /// Picks the next token from the logits at batch position `idx`.
    pub(crate) fn pick(&mut self, ctx: &LlamaContext<'_>, idx: i32) -> LlamaToken {
        match self {
            TokenPicker::Argmax => LlamaToken(argmax(ctx.get_logits_ith(idx))),
            // `sample` also accepts the token into the chain's state (grammar position); it must
            // not be accepted a second time (llama.cpp aborts on a grammar that was advanced twice).
            TokenPicker::Chain(s) => s.sample(ctx, idx),
        }
    }
}

/// Index of the largest value; the first one on ties (as llama.cpp's greedy sampler).
pub(crate) fn argmax(logits: &[f32]) -> i32 {
    let mut best = 0usize;
    let mut best_v = f32::NEG_INFINITY;
    for (i, &v) in logits.iter().enumerate() {
        if v > best_v {
            best_v = v;
            best = i;
        }
    }
    i32::try_from(best).unwrap_or(0)
}

/// `log Σ exp(logits)`, computed stably: what a logit minus it makes a log-probability.
pub(crate) fn log_normaliser(logits: &[f32]) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&v| f64::from(v - max).exp()).sum();
    f64::from(max) + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_maximum() {
        assert_eq!(argmax(&[0.1, 3.0, -1.0, 3.0]), 1);
        assert_eq!(argmax(&[-5.0]), 0);
    }
}

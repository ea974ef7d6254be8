//! Helpers for the tests that need SmolLM2-135M: the model file, engines, tokenisation and
//! scoring through `Engine::loglikelihood`.

use std::path::{Path, PathBuf};

use futures::executor::block_on;
use rightfit_distill::Example;
use rightfit_llama::{Engine, EngineOptions, LoraAdapter};
use rightfit_types::LoglikelihoodRequest;

/// The model file in `var`, else `file` in the default models directory. Fails (does not
/// skip) when it is missing, like rightfit-llama's tests; `pull` names the catalogue entry.
fn model_file(var: &str, file: &str, pull: &str) -> PathBuf {
    let path = match std::env::var(var) {
        Ok(p) => PathBuf::from(p),
        Err(_) => PathBuf::from(std::env::var("HOME").expect("HOME is set"))
            .join(".cache/rightfit/models")
            .join(file),
    };
    assert!(
        path.exists(),
        "{} is missing: run 'rightfit models pull {pull}' or set {var}",
        path.display()
    );
    path
}

/// The SmolLM2-135M file.
pub fn smollm2() -> PathBuf {
    model_file(
        "RIGHTFIT_TEST_MODEL",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "smollm2-135m",
    )
}

/// The Qwen2.5-Coder-0.5B-Instruct file (qwen2).
pub fn qwen_small() -> PathBuf {
    model_file(
        "RIGHTFIT_TEST_QWEN_SMALL",
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "qwen2.5-coder-0.5b",
    )
}

pub fn engine(adapter: Option<&Path>) -> Engine {
    engine_for(&smollm2(), adapter)
}

pub fn engine_for(model: &Path, adapter: Option<&Path>) -> Engine {
    let options = EngineOptions {
        context_size: 1024,
        parallel: 4,
        threads: 2,
        adapters: adapter
            .map(|p| LoraAdapter {
                path: p.to_owned(),
                scale: 1.0,
            })
            .into_iter()
            .collect(),
        ..EngineOptions::default()
    };
    Engine::load(model, options).expect("the model loads in llama.cpp")
}

pub fn tokenize(engine: &Engine, text: &str) -> Vec<u32> {
    block_on(engine.tokenize(text)).expect("tokenize")
}

/// A context and a continuation, as `Engine::loglikelihood` scores them.
pub struct Scored {
    pub context: String,
    pub continuation: String,
    /// The tokens the engine evaluates (context, then continuation), continuation marked.
    pub example: Example,
}

/// Tokenises like the engine's scorer: context tokens, then what `context + continuation` adds.
pub fn scored(engine: &Engine, context: &str, continuation: &str) -> Scored {
    let ctx = tokenize(engine, context);
    let whole = tokenize(engine, &format!("{context}{continuation}"));
    assert!(whole.len() > ctx.len(), "{continuation:?} adds tokens");
    Scored {
        context: context.to_owned(),
        continuation: continuation.to_owned(),
        example: Example::prompt_answer(&ctx, &whole[ctx.len()..]),
    }
}

/// The engine's summed log-probability of each item's continuation.
pub fn engine_log_probs(engine: &Engine, items: &[Scored]) -> Vec<f64> {
    items
        .iter()
        .map(|s| {
            let r = block_on(engine.loglikelihood(LoglikelihoodRequest {
                model: String::new(),
                context: s.context.clone(),
                continuations: vec![s.continuation.clone()],
                normalize: Default::default(),
            }))
            .expect("scores");
            r.scores[0].logprob
        })
        .collect()
}

/// Sums per-token log-probabilities (in batch order) into one value per example.
pub fn per_example(examples: &[Example], token_lps: &[f32]) -> Vec<f64> {
    let mut out = Vec::new();
    let mut at = 0;
    for e in examples {
        let n = e.answer_tokens();
        out.push(token_lps[at..at + n].iter().map(|x| f64::from(*x)).sum());
        at += n;
    }
    assert_eq!(at, token_lps.len());
    out
}

/// (max, mean) absolute difference.
pub fn diff(a: &[f64], b: &[f64]) -> (f64, f64) {
    assert_eq!(a.len(), b.len());
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| (x - y).abs()).collect();
    (
        d.iter().copied().fold(0.0, f64::max),
        d.iter().sum::<f64>() / d.len() as f64,
    )
}

//! `rightfit bench-model`'s measurements, taken the way llama-bench takes them:
//!
//! - prompt processing: a prompt of `prompt_tokens` tokens, no cache reuse, one token generated;
//!   the rate is prompt tokens over the time until the first token could be sampled;
//! - generation: `gen_tokens` tokens from a short prompt, end-of-text ignored; the rate is the
//!   tokens after the first over the time they took (as llama-bench's `tg`, which excludes the
//!   prompt);
//! - concurrency: N requests at once, each generating `gen_tokens`; the aggregate rate is all
//!   generated tokens over the wall time from submission to the last token.
//!
//! Each test runs once to warm up, then `reps` times. The engine should be loaded without
//! prefix reuse and with `parallel` at least the largest concurrency.

use std::time::Instant;

use futures::future::join_all;
use rightfit_providers::{Provider, ProviderError};
use rightfit_types::device::{ModelBench, Spread};
use rightfit_types::{ChatRequest, ChatResponse};

use crate::{Engine, EngineError, LocalProvider};

/// The generation test's prompt.
const STORY: &str = "Once upon a time";

const TEXT: &str = "The history of the region is long and varied. Farmers settled the river valleys \
first, building terraces and small stone houses; traders followed, carrying salt, wool and copper \
along the mountain passes. Over the centuries the towns grew into markets, the markets into cities, \
and the cities argued, fought and eventually agreed on a common law. ";

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Prompt length for the prompt-processing test, tokens.
    pub prompt_tokens: usize,
    /// Tokens generated per sequence in the generation tests.
    pub gen_tokens: u32,
    /// Repetitions of each test.
    pub reps: usize,
    /// Concurrent sequences for each aggregate-generation test.
    pub concurrency: Vec<u32>,
    /// Whether the engine was loaded batch-invariant (recorded, not set).
    pub batch_invariant: bool,
}

impl BenchOptions {
    /// Refuses settings that measure nothing: no repetition, or fewer than two prompt or
    /// generated tokens.
    pub fn check(&self) -> Result<(), String> {
        if self.reps == 0 || self.gen_tokens < 2 || self.prompt_tokens < 2 {
            return Err(
                "--reps must be at least 1, --gen-tokens and --prompt-tokens at least 2".into(),
            );
        }
        Ok(())
    }
}

/// Why a benchmark stopped.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A request failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// No prompt of that many tokens could be made.
    #[error("cannot build a {0}-token prompt")]
    Prompt(usize),
}

/// Runs the tests on `engine`, telling `progress` which one is running.
pub async fn bench_model(
    engine: &Engine,
    name: &str,
    options: &BenchOptions,
    progress: &dyn Fn(String),
) -> Result<ModelBench, BenchError> {
    let provider = LocalProvider::new(name.to_owned(), engine.clone());
    let info = engine.info().clone();
    progress("warming up".to_owned());
    let (prompt, prompt_tokens) = prompt_of(engine, options.prompt_tokens).await?;

    timed(&provider, gen_request("Warm up:", 8)).await?;

    progress(format!(
        "prompt processing ({prompt_tokens} tokens) × {}",
        options.reps
    ));
    let mut pp = Vec::new();
    let mut ttft = Vec::new();
    for _ in 0..options.reps {
        let r = timed(
            &provider,
            ChatRequest::completion(prompt.clone()).with_max_tokens(1),
        )
        .await?;
        let t = r.timings;
        pp.push(f64::from(t.prompt_tokens_evaluated) * 1000.0 / (t.ttft_ms - t.queue_ms));
        ttft.push(t.ttft_ms);
    }

    progress(format!(
        "generation ({} tokens) × {}",
        options.gen_tokens, options.reps
    ));
    let mut tg = Vec::new();
    for _ in 0..options.reps {
        let r = timed(&provider, gen_request(STORY, options.gen_tokens)).await?;
        tg.push(r.timings.generation_tokens_per_s().unwrap_or(0.0));
    }

    let mut conc = Vec::new();
    for &c in &options.concurrency {
        progress(format!("{c} concurrent sequences × {}", options.reps));
        let mut rates = Vec::new();
        for rep in 0..options.reps {
            let start = Instant::now();
            let results = join_all((0..c).map(|i| {
                timed(
                    &provider,
                    gen_request(
                        &format!("Story {rep}-{i}: once upon a time"),
                        options.gen_tokens,
                    ),
                )
            }))
            .await;
            let secs = start.elapsed().as_secs_f64();
            let mut generated = 0u64;
            for r in results {
                generated += u64::from(r?.usage.completion_tokens);
            }
            rates.push(generated as f64 / secs);
        }
        conc.push((c, Spread::of(rates)));
    }
    let stats = engine.stats().await?;

    let story_tokens = engine.count_tokens(STORY).await?;
    Ok(ModelBench {
        model: name.to_owned(),
        path: info.path,
        parameters: info.parameters,
        threads: info.threads,
        context_size: info.context_size,
        parallel: info.parallel,
        batch_invariant: options.batch_invariant,
        reps: options.reps,
        prompt_tokens,
        prompt_tokens_per_s: Spread::of(pp),
        ttft_ms: Spread::of(ttft),
        generation_prompt_tokens: story_tokens,
        gen_tokens: options.gen_tokens,
        generation_tokens_per_s: Spread::of(tg),
        concurrency: conc,
        model_bytes: stats.model_bytes,
        context_bytes: stats.context_bytes,
        peak_rss_bytes: stats.memory.peak_rss_bytes,
    })
}

/// Text of exactly `n` prompt tokens, or the closest count below.
async fn prompt_of(engine: &Engine, n: usize) -> Result<(String, usize), BenchError> {
    let source = TEXT.repeat(n / 40 + 2);
    let words: Vec<&str> = source.split_whitespace().collect();
    let text = |k: usize| words[..k].join(" ");
    let (mut lo, mut hi) = (1usize, words.len());
    let count = |k| {
        let engine = engine.clone();
        let t = text(k);
        async move { engine.count_tokens(&t).await }
    };
    while count(hi).await? < n {
        hi *= 2;
        if hi > 1_000_000 {
            return Err(BenchError::Prompt(n));
        }
    }
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if count(mid).await? <= n {
            lo = mid
        } else {
            hi = mid - 1
        }
    }
    let tokens = count(lo).await?;
    Ok((text(lo), tokens))
}

fn gen_request(prompt: &str, tokens: u32) -> ChatRequest {
    let mut r = ChatRequest::completion(prompt).with_max_tokens(tokens);
    r.ignore_eos = true;
    r
}

async fn timed(provider: &LocalProvider, request: ChatRequest) -> Result<ChatResponse, BenchError> {
    Ok(provider.complete(request).await?)
}

//! `rightfit bench-model`: how fast a local model runs here, measured the way llama-bench does.
//!
//! - prompt processing: a prompt of `--prompt-tokens` tokens, no cache reuse, one token generated;
//!   the rate is prompt tokens over the time until the first token could be sampled;
//! - generation: `--gen-tokens` tokens from a short prompt, end-of-text ignored; the rate is the
//!   tokens after the first over the time they took (as llama-bench's `tg`, which excludes the prompt);
//! - concurrency: N requests at once, each generating `--gen-tokens`; the aggregate rate is all
//!   generated tokens over the wall time from submission to the last token.
//!
//! Each test runs once to warm up, then `--reps` times; the median is reported with the range.
//!
//! Then the roofline calibration `rightfit devices` uses: this machine's memory read bandwidth
//! (measured, [`machine::memory_bandwidth`]) and peak compute (worked out,
//! [`machine::peak_compute`]), and the efficiencies that make the roofline reproduce the
//! measured generation and prompt speeds (`rightfit_decide::device::calibrate`), saved with the
//! raw figures to `$RIGHTFIT_HOME/calibration.json` unless `--no-save`.

use std::time::Instant;

use anyhow::Context;

use futures::future::join_all;
use rightfit_config::Settings;
use rightfit_decide::device::{self, BenchFigures, CalibrationRecord};
use rightfit_llama::{Engine, LocalProvider};
use rightfit_providers::Provider;
use rightfit_types::{ChatRequest, ChatResponse};
use serde_json::json;

use super::devices::{save_calibration, shape_of};
use super::generate::load_engine;
use super::machine;
use super::output::{self, line, size};
use crate::args::BenchArgs;
use crate::errors::user;
use crate::progress::spinner;

/// The generation test's prompt.
const STORY: &str = "Once upon a time";

const TEXT: &str = "The history of the region is long and varied. Farmers settled the river valleys \
first, building terraces and small stone houses; traders followed, carrying salt, wool and copper \
along the mountain passes. Over the centuries the towns grew into markets, the markets into cities, \
and the cities argued, fought and eventually agreed on a common law. ";

/// Median and range of repeated measurements.
#[derive(Debug, Clone, Copy)]
struct Stat {
    median: f64,
    min: f64,
    max: f64,
}

fn stat(mut xs: Vec<f64>) -> Stat {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    let median = if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    };
    Stat {
        median,
        min: xs[0],
        max: xs[n - 1],
    }
}

impl Stat {
    fn show(&self, unit: &str) -> String {
        format!(
            "{:.1} {unit} ({:.1}–{:.1})",
            self.median, self.min, self.max
        )
    }
    fn json(&self) -> serde_json::Value {
        json!({"median": self.median, "min": self.min, "max": self.max})
    }
}

/// Text of exactly `n` prompt tokens, or the closest count below.
async fn prompt_of(engine: &Engine, n: usize) -> anyhow::Result<(String, usize)> {
    let source = TEXT.repeat(n / 40 + 2);
    let words: Vec<&str> = source.split_whitespace().collect();
    let text = |k: usize| words[..k].join(" ");
    let (mut lo, mut hi) = (1usize, words.len());
    let count = |k| {
        let engine = engine.clone();
        let t = text(k);
        async move { engine.count_tokens(&t).await }
    };
    while count(hi).await.map_err(user)? < n {
        hi *= 2;
        if hi > 1_000_000 {
            anyhow::bail!("cannot build a {n}-token prompt");
        }
    }
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if count(mid).await.map_err(user)? <= n {
            lo = mid
        } else {
            hi = mid - 1
        }
    }
    let tokens = count(lo).await.map_err(user)?;
    Ok((text(lo), tokens))
}

fn gen_request(prompt: &str, tokens: u32) -> ChatRequest {
    let mut r = ChatRequest::completion(prompt).with_max_tokens(tokens);
    r.ignore_eos = true;
    r
}

async fn timed(provider: &LocalProvider, request: ChatRequest) -> anyhow::Result<ChatResponse> {
    provider.complete(request).await.map_err(user)
}

pub async fn run(settings: &Settings, args: BenchArgs) -> anyhow::Result<()> {
    let max_conc = args.concurrency.iter().copied().max().unwrap_or(1).max(1);
    if args.reps == 0 || args.gen_tokens < 2 || args.prompt_tokens < 2 {
        return Err(user(anyhow::anyhow!(
            "--reps must be at least 1, --gen-tokens and --prompt-tokens at least 2"
        )));
    }
    let (name, engine) = load_engine(settings, &args.engine, |o| {
        o.prefix_cache = false;
        o.parallel = max_conc;
    })
    .await?;
    let provider = LocalProvider::new(name.clone(), engine.clone());
    let info = engine.info().clone();
    let (prompt, prompt_tokens) = prompt_of(&engine, args.prompt_tokens).await?;

    let bar = spinner("warming up");
    timed(&provider, gen_request("Warm up:", 8)).await?;

    bar.set_message(format!(
        "prompt processing ({prompt_tokens} tokens) × {}",
        args.reps
    ));
    let mut pp = Vec::new();
    let mut ttft = Vec::new();
    for _ in 0..args.reps {
        let r = timed(
            &provider,
            ChatRequest::completion(prompt.clone()).with_max_tokens(1),
        )
        .await?;
        let t = r.timings;
        pp.push(f64::from(t.prompt_tokens_evaluated) * 1000.0 / (t.ttft_ms - t.queue_ms));
        ttft.push(t.ttft_ms);
    }

    bar.set_message(format!(
        "generation ({} tokens) × {}",
        args.gen_tokens, args.reps
    ));
    let mut tg = Vec::new();
    for _ in 0..args.reps {
        let r = timed(&provider, gen_request(STORY, args.gen_tokens)).await?;
        tg.push(r.timings.generation_tokens_per_s().unwrap_or(0.0));
    }

    let mut conc = Vec::new();
    for &c in &args.concurrency {
        bar.set_message(format!("{c} concurrent sequences × {}", args.reps));
        let mut rates = Vec::new();
        for rep in 0..args.reps {
            let start = Instant::now();
            let results = join_all((0..c).map(|i| {
                timed(
                    &provider,
                    gen_request(
                        &format!("Story {rep}-{i}: once upon a time"),
                        args.gen_tokens,
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
        conc.push((c, stat(rates)));
    }
    let stats = engine.stats().await.map_err(user)?;
    let (pp, tg, ttft) = (stat(pp), stat(tg), stat(ttft));
    let single = conc.iter().find(|(c, _)| *c == 1).map(|(_, s)| s.median);

    bar.set_message("memory bandwidth");
    let story_tokens = engine.count_tokens(STORY).await.map_err(user)?;
    let threads = settings.threads;
    let bandwidth = tokio::task::spawn_blocking(move || machine::memory_bandwidth(threads))
        .await
        .context("the bandwidth task failed")??;
    bar.finish_and_clear();
    let compute = machine::peak_compute(settings.threads)?;
    let shape = shape_of(&info.path)?;
    let figures = BenchFigures {
        prompt_tokens: prompt_tokens as f64,
        prompt_tokens_per_s: pp.median,
        generation_prompt_tokens: story_tokens as f64,
        generated_tokens: f64::from(args.gen_tokens),
        generation_tokens_per_s: tg.median,
        bandwidth_gbs: bandwidth.gbs,
        compute_tflops: compute.tflops,
    };
    let measured_at = rightfit_eval::clock::now_rfc3339();
    let source = format!(
        "bench-model on {name}, {} threads, {measured_at}",
        settings.threads
    );
    let calibration = device::calibrate(&shape, &figures, source);
    let (memory_bytes, available_memory_bytes) = machine::memory();
    let record = CalibrationRecord {
        calibration,
        measured_at,
        model: name.clone(),
        model_path: info.path.display().to_string(),
        quantization: shape.quantization.clone(),
        threads: settings.threads,
        decode_bytes_per_token: device::decode_bytes_per_token(
            &shape,
            figures.generation_prompt_tokens + figures.generated_tokens / 2.0,
        ),
        prefill_flops_per_token: device::prefill_flops_per_token(
            &shape,
            figures.prompt_tokens / 2.0,
        ),
        figures,
        bandwidth_method: bandwidth.method,
        compute_method: compute.method,
        memory_bytes,
        available_memory_bytes,
    };
    let saved = if args.no_save {
        None
    } else {
        Some(save_calibration(settings, &record)?)
    };

    if args.json {
        return output::json(&json!({
            "model": name,
            "path": info.path,
            "threads": info.threads,
            "prompt_tokens": prompt_tokens,
            "gen_tokens": args.gen_tokens,
            "reps": args.reps,
            "batch_invariant": args.engine.batch_invariant,

            "prompt_tokens_per_s": pp.json(),
            "generation_tokens_per_s": tg.json(),
            "ttft_ms": ttft.json(),
            "concurrency": conc.iter().map(|(c, s)| json!({
                "sequences": c,
                "aggregate_tokens_per_s": s.json(),
                "speedup_vs_1": single.map(|one| s.median / one),
            })).collect::<Vec<_>>(),
            "model_bytes": stats.model_bytes,
            "context_bytes": stats.context_bytes,
            "peak_rss_bytes": stats.memory.peak_rss_bytes,
            "calibration": record,
            "calibration_file": saved,
        }));
    }
    line(format!(
        "{name}: {} parameters, {} threads, context {} tokens, {} parallel sequences",
        super::output::count(info.parameters),
        info.threads,
        info.context_size,
        info.parallel
    ))?;
    let mut t = output::table(&["test", "median (min–max)", "notes"]);
    t.add_row(vec![
        format!("prompt processing, {prompt_tokens} tokens"),
        pp.show("tok/s"),
        format!("{} reps, no cache reuse", args.reps),
    ]);
    t.add_row(vec![
        "time to first token".to_owned(),
        ttft.show("ms"),
        format!("{prompt_tokens}-token prompt"),
    ]);
    t.add_row(vec![
        format!("generation, {} tokens", args.gen_tokens),
        tg.show("tok/s"),
        "one sequence, after the first token".to_owned(),
    ]);
    for (c, s) in &conc {
        let ratio = single.map_or_else(String::new, |one| {
            format!("{:.2}× one sequence", s.median / one)
        });
        t.add_row(vec![
            format!("aggregate generation, {c} sequences"),
            s.show("tok/s"),
            ratio,
        ]);
    }
    t.add_row(vec![
        "memory".to_owned(),
        format!("peak RSS {}", size(stats.memory.peak_rss_bytes)),
        format!(
            "weights {} · context (KV + buffers) {}",
            size(stats.model_bytes),
            size(stats.context_bytes)
        ),
    ]);
    let cal = &record.calibration;
    t.add_row(vec![
        "memory read bandwidth".to_owned(),
        format!("{:.1} GB/s", record.figures.bandwidth_gbs),
        record.bandwidth_method.clone(),
    ]);
    t.add_row(vec![
        "peak compute (estimate)".to_owned(),
        format!("{:.1} GFLOPS", record.figures.compute_tflops * 1000.0),
        record.compute_method.clone(),
    ]);
    t.add_row(vec![
        "roofline efficiency: generation".to_owned(),
        format!("{:.2}", cal.decode_efficiency),
        format!(
            "{:.1} tok/s measured ÷ ({:.1} GB/s ÷ {} per token)",
            record.figures.generation_tokens_per_s,
            record.figures.bandwidth_gbs,
            size(record.decode_bytes_per_token as u64)
        ),
    ]);
    t.add_row(vec![
        "roofline efficiency: prompts".to_owned(),
        format!("{:.2}", cal.prefill_efficiency),
        format!(
            "{:.1} tok/s measured ÷ ({:.1} GFLOPS ÷ {:.3} GFLOP per token)",
            record.figures.prompt_tokens_per_s,
            record.figures.compute_tflops * 1000.0,
            record.prefill_flops_per_token / 1e9
        ),
    ]);
    line(t)?;
    match saved {
        Some(path) => line(format!(
            "calibration saved to {} ('rightfit devices' uses it)",
            path.display()
        )),
        None => line("calibration not saved (--no-save)"),
    }
}

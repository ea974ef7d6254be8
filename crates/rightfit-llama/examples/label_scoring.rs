//! Benchmark, not a test: log-likelihood label scoring over many labels, the way an evaluation of
//! an intent classifier with a base model scores them (lm-evaluation-harness style): BANKING77's
//! 77 intents as continuations of an 8-example prompt, one input after another.
//!
//! Two ways are measured in the same run, on the same engine:
//! - **one label at a time**: a scoring request per label (the shared prompt is still reused from
//!   the prefix cache; each label is decoded on its own);
//! - **all labels at once**: one request with the 77 continuations (the engine computes the
//!   prompt once and decodes the labels together).
//!
//! It prints inputs per second for both and their ratio, whether both choose the same label for
//! every input (by total log-probability, per token and per byte), and each way's accuracy.
//!
//! ```sh
//! cargo run --release -p rightfit-llama --example label_scoring -- MODEL.gguf [INPUTS] [THREADS]
//! ```
//! Data: `$RIGHTFIT_SHARED_DATA/banking77/{train,test}.csv` (default `../shared/data`).
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Instant;

use rightfit_llama::{Engine, EngineOptions};
use rightfit_types::{LabelNorm, LoglikelihoodRequest, LoglikelihoodResponse};

const SHOTS: usize = 8;

fn read(path: &PathBuf) -> Vec<(String, String)> {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (r[0].to_owned(), r[1].to_owned())
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = PathBuf::from(
        args.get(1)
            .expect("usage: label_scoring MODEL.gguf [INPUTS] [THREADS]"),
    );
    let inputs: usize = args.get(2).map_or(40, |s| s.parse().expect("INPUTS"));
    let threads: usize = args.get(3).map_or(2, |s| s.parse().expect("THREADS"));
    let data = PathBuf::from(
        std::env::var("RIGHTFIT_SHARED_DATA").unwrap_or_else(|_| "../shared/data".to_owned()),
    )
    .join("banking77");
    let train = read(&data.join("train.csv"));
    let test = read(&data.join("test.csv"));
    let mut labels: Vec<String> = train.iter().map(|(_, l)| l.clone()).collect();
    labels.sort();
    labels.dedup();
    // Fixed examples of 8 different intents; test inputs spread over the whole set.
    let mut shots: Vec<&(String, String)> = Vec::new();
    for row in &train {
        if shots.len() < SHOTS && !shots.iter().any(|s| s.1 == row.1) {
            shots.push(row);
        }
    }
    let step = (test.len() / inputs.max(1)).max(1);
    let picked: Vec<&(String, String)> = test.iter().step_by(step).take(inputs).collect();
    let mut header =
        String::from("Classify the customer's message to a bank into one of its intents.\n\n");
    for (text, label) in &shots {
        header.push_str(&format!("Message: {text}\nIntent: {label}\n\n"));
    }
    let context = |text: &str| format!("{header}Message: {text}\nIntent:");
    let continuations: Vec<String> = labels.iter().map(|l| format!(" {l}")).collect();

    let engine = Engine::load(
        &model,
        EngineOptions {
            threads,
            context_size: 4096,
            ..EngineOptions::default()
        },
    )
    .expect("model loads");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let score = |context: String, continuations: Vec<String>| -> LoglikelihoodResponse {
        rt.block_on(engine.loglikelihood(LoglikelihoodRequest {
            model: String::new(),
            context,
            continuations,
            normalize: Default::default(),
        }))
        .expect("scores")
    };
    println!(
        "model {} · {} labels · {SHOTS} examples · {} inputs · {threads} threads",
        engine.info().name,
        labels.len(),
        picked.len()
    );
    // Warm-up: the shared prompt into the cache, pages touched.
    score(context(&picked[0].0), continuations.clone());

    let norms = [LabelNorm::None, LabelNorm::Token, LabelNorm::Byte];
    let choose = |r: &LoglikelihoodResponse| -> Vec<Option<usize>> {
        norms
            .iter()
            .map(|&n| r.best_normalised(&continuations, n))
            .collect()
    };
    let stats = || rt.block_on(engine.stats()).expect("stats");
    let per_input = |before: &rightfit_llama::EngineStats, after: &rightfit_llama::EngineStats| {
        let n = picked.len() as f64;
        format!(
            "{:.0} tokens computed, {:.0} reused, {:.1} decodes per input",
            (after.prompt_tokens_evaluated - before.prompt_tokens_evaluated) as f64 / n,
            (after.prompt_tokens_reused - before.prompt_tokens_reused) as f64 / n,
            (after.decode_calls - before.decode_calls) as f64 / n
        )
    };
    let s0 = stats();
    let started = Instant::now();
    let mut batched = Vec::new();
    for (text, _) in &picked {
        batched.push(choose(&score(context(text), continuations.clone())));
    }
    let batched_s = started.elapsed().as_secs_f64();
    let s1 = stats();

    let started = Instant::now();
    let mut single = Vec::new();
    for (text, _) in &picked {
        let mut merged = LoglikelihoodResponse {
            model: String::new(),
            scores: Vec::new(),
            context_tokens: 0,
        };
        for c in &continuations {
            let r = score(context(text), vec![c.clone()]);
            merged.scores.extend(r.scores);
        }
        single.push(choose(&merged));
    }
    let single_s = started.elapsed().as_secs_f64();
    let s2 = stats();

    let n = picked.len() as f64;
    println!(
        "one label at a time: {:.2} inputs/s ({:.1} s; {})",
        n / single_s,
        single_s,
        per_input(&s1, &s2)
    );
    println!(
        "all labels at once:  {:.2} inputs/s ({:.1} s; {}) = {:.1}x",
        n / batched_s,
        batched_s,
        per_input(&s0, &s1),
        single_s / batched_s
    );
    for (k, norm) in norms.iter().enumerate() {
        let same = batched
            .iter()
            .zip(&single)
            .filter(|(a, b)| a[k] == b[k])
            .count();
        let correct = |choices: &[Vec<Option<usize>>]| {
            choices
                .iter()
                .zip(&picked)
                .filter(|(c, (_, gold))| c[k].is_some_and(|i| &labels[i] == gold))
                .count()
        };
        println!(
            "{:>5}: same label chosen {same}/{} · accuracy at once {}/{} · one at a time {}/{}",
            norm.name(),
            picked.len(),
            correct(&batched),
            picked.len(),
            correct(&single),
            picked.len()
        );
    }
}

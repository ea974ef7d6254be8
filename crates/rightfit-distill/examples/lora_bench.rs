//! Training throughput of LoRA on a GGUF model: examples/s, tokens/s, time split between the
//! forward pass, the backward pass and the optimiser, and peak memory.
//!
//! Workload: batches of short examples like a classification or extraction prompt (44–52 prompt
//! tokens, 12–20 answer tokens, random ids: the cost does not depend on their values). Run one
//! setting per process so that peak memory is its own:
//!
//! ```text
//! RAYON_NUM_THREADS=2 cargo run --release -p rightfit-distill --example lora_bench -- \
//!     MODEL.gguf full|attention|top-half [batch=8] [steps=6]
//! ```

// A benchmark's report is its output.
#![allow(clippy::print_stderr)]

use std::path::PathBuf;
use std::time::Instant;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use rightfit_distill::{BaseModel, Example, Layers, LoraConfig, OptimConfig, Projection, Trainer};

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// User + system CPU seconds of the whole process (all threads), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces) start at state (field 3).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state; 100 ticks/s on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = PathBuf::from(
        args.first()
            .ok_or("usage: lora_bench MODEL SETTING [batch] [steps]")?,
    );
    let setting = args.get(1).map_or("full", String::as_str);
    let batch_size: usize = args.get(2).map_or(Ok(8), |s| s.parse())?;
    let steps: usize = args.get(3).map_or(Ok(6), |s| s.parse())?;

    let t0 = Instant::now();
    let base = BaseModel::load(&model)?;
    let load_s = t0.elapsed().as_secs_f64();
    let hp = base.hparams.clone();
    let lora = match setting {
        "full" => LoraConfig::default(),
        "attention" => LoraConfig {
            targets: Projection::ATTENTION.to_vec(),
            ..LoraConfig::default()
        },
        "top-half" => LoraConfig {
            layers: Layers::Top(hp.n_layer / 2),
            ..LoraConfig::default()
        },
        other => return Err(format!("unknown setting {other}").into()),
    };
    let mut t = Trainer::new(base, &lora, OptimConfig::default(), 1)?;
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut id = || (rng.next_u32() as usize % hp.vocab) as u32;
    let mut examples = Vec::new();
    for i in 0..batch_size * (steps + 1) {
        let p = 44 + i % 9;
        let a = 12 + (i * 7) % 9;
        let prompt: Vec<u32> = (0..p).map(|_| id()).collect();
        let answer: Vec<u32> = (0..a).map(|_| id()).collect();
        examples.push(Example::prompt_answer(&prompt, &answer));
    }
    let (mut fwd, mut bwd, mut opt, mut tokens, mut n_ex) = (0f64, 0f64, 0f64, 0usize, 0usize);
    let (mut cpu0, load0) = (0f64, load_average());
    for (s, chunk) in examples.chunks(batch_size).enumerate() {
        let refs: Vec<&Example> = chunk.iter().collect();
        let batch = t.batch(&refs)?;
        let a = Instant::now();
        let loss = t.model.loss(&batch)?;
        let _ = loss.to_scalar::<f32>()?;
        let b = Instant::now();
        let grads = loss.backward()?;
        let c = Instant::now();
        t.optim.update(&grads)?;
        let d = Instant::now();
        if s == 0 {
            cpu0 = cpu_seconds();
            continue; // warm-up
        }
        fwd += (b - a).as_secs_f64();
        bwd += (c - b).as_secs_f64();
        opt += (d - c).as_secs_f64();
        tokens += batch.tokens;
        n_ex += batch.size;
    }
    let total = fwd + bwd + opt;
    let cpu = cpu_seconds() - cpu0;
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| "unset".into());
    eprintln!(
        "{setting}: {} trainable params, batch {batch_size}, RAYON_NUM_THREADS={} CANDLE_NUM_THREADS={}, \
         model load {load_s:.1}s, load average {load0} -> {}\n  \
         CPU {:.2} s per example ({:.0}% of one core while timed)\n  \
         {:.2} examples/s, {:.0} tokens/s; per step {:.2}s = forward {:.2} + backward {:.2} + optimiser {:.3}\n  \
         1000 examples (one epoch): {:.1} min; peak RSS {:.0} MiB",
        t.model.lora.parameter_count(),
        env("RAYON_NUM_THREADS"),
        env("CANDLE_NUM_THREADS"),
        load_average(),
        cpu / n_ex as f64,
        100.0 * cpu / total,
        n_ex as f64 / total,
        tokens as f64 / total,
        total / steps as f64,
        fwd / steps as f64,
        bwd / steps as f64,
        opt / steps as f64,
        1000.0 / (n_ex as f64 / total) / 60.0,
        peak_rss_mib()
    );
    Ok(())
}

//! Training lowers the loss on a small real task (poem sentiment), held-out loss included, and
//! the adapter it writes scores the held-out answers better in llama.cpp too.

use std::path::Path;

use rightfit_distill::{Arch, BaseModel, Example, LoraConfig, OptimConfig, Trainer, write_adapter};

use crate::real::{self, Scored, engine_log_probs};

const LABELS: [&str; 4] = ["negative", "neutral", "positive", "mixed"];

/// `(prompt, answer)` pairs from a poem_sentiment TSV (id, text, label -1..2).
fn read_tsv(path: &Path, n: usize) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (the shared data set)", path.display()));
    text.lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let label: i32 = cols.get(2)?.trim().parse().ok()?;
            let answer = LABELS.get(usize::try_from(label + 1).ok()?)?;
            Some((
                format!("Poem line: {}\nSentiment:", cols.get(1)?.trim()),
                format!(" {answer}"),
            ))
        })
        .take(n)
        .collect()
}

fn data_dir() -> std::path::PathBuf {
    std::env::var("RIGHTFIT_SHARED_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
        .join("poem_sentiment")
}

#[test]
fn lora_training_lowers_held_out_loss_on_poem_sentiment_smollm2() {
    let path = real::smollm2();
    let engine = real::engine(None);
    let tokenise = |rows: &[(String, String)]| -> Vec<Scored> {
        rows.iter()
            .map(|(p, a)| real::scored(&engine, p, a))
            .collect()
    };
    let train = tokenise(&read_tsv(&data_dir().join("train.tsv"), 64));
    let held = tokenise(&read_tsv(&data_dir().join("dev.tsv"), 32));
    assert_eq!((train.len(), held.len()), (64, 32));
    let train_ex: Vec<Example> = train.iter().map(|s| s.example.clone()).collect();
    let held_ex: Vec<Example> = held.iter().map(|s| s.example.clone()).collect();

    let base = BaseModel::load(&path).expect("load");
    let optim = OptimConfig {
        lr: 1e-3,
        warmup_steps: 2,
        total_steps: 16,
        ..OptimConfig::default()
    };
    let mut t = Trainer::new(base, &LoraConfig::default(), optim, 42).expect("trainer");
    let train_before = t.eval_loss(&train_ex, 16).expect("eval");
    let held_before = t.eval_loss(&held_ex, 16).expect("eval");
    let started = std::time::Instant::now();
    let mut tokens = 0;
    for _epoch in 0..2 {
        let order = t.epoch_order(train_ex.len());
        for chunk in order.chunks(8) {
            let refs: Vec<&Example> = chunk.iter().map(|&i| &train_ex[i]).collect();
            let batch = t.batch(&refs).expect("batch");
            let s = t.step(&batch).expect("step");
            tokens += s.tokens;
            eprintln!(
                "step {:2} loss {:.3} lr {:.2e} |g| {:.3}",
                s.step, s.loss, s.lr, s.grad_norm
            );
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let train_after = t.eval_loss(&train_ex, 16).expect("eval");
    let held_after = t.eval_loss(&held_ex, 16).expect("eval");
    eprintln!(
        "train loss {train_before:.3} -> {train_after:.3}; held-out {held_before:.3} -> {held_after:.3}; \
         {tokens} tokens in {secs:.1}s ({:.0} tokens/s)",
        tokens as f64 / secs
    );
    assert!(
        train_after < train_before - 0.5,
        "training loss {train_before} -> {train_after}"
    );
    assert!(
        held_after < held_before - 0.3,
        "held-out loss {held_before} -> {held_after}"
    );

    // The written adapter, served by llama.cpp, scores the held-out answers better too.
    let dir = tempfile::tempdir().expect("tempdir");
    let adapter = dir.path().join("poem.lora.gguf");
    write_adapter(&adapter, &t.model.lora, Arch::Llama, &[]).expect("write");
    let mean_nll = |lps: Vec<f64>| -lps.iter().sum::<f64>() / lps.len() as f64;
    let served_before = mean_nll(engine_log_probs(&engine, &held));
    let served_after = mean_nll(engine_log_probs(&real::engine(Some(&adapter)), &held));
    eprintln!("llama.cpp held-out answer NLL: {served_before:.3} -> {served_after:.3}");
    assert!(
        served_after < served_before - 0.3,
        "{served_before} -> {served_after}"
    );
}

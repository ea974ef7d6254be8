//! Measures the embedding-classifier student on BANKING77: embed the train split (10,003 rows)
//! and the test split (3,080 rows), train logistic regression and an MLP, report test accuracy
//! with a 95% Wilson interval, seconds to embed and to train, and peak RSS.
//!
//! ```text
//! cargo run --release -p rightfit-students --example banking77 -- minilm
//! cargo run --release -p rightfit-students --example banking77 -- smollm2
//! ```
//!
//! One embedder per run, so that the peak RSS is that embedder's. Options after the embedder:
//! `--train N` (first N rows of a seeded shuffle of the train split), `--threads N` (default 2),
//! `--batch N` (MiniLM texts per forward pass), `--cache DIR` (keep the embeddings there and reuse
//! them, to compare classifiers without embedding again), `--hidden N` (MLP units, default 512).
//! Paths: RIGHTFIT_SHARED_DATA (default ../shared/data), RIGHTFIT_TEST_EMBEDDER (MiniLM
//! directory), RIGHTFIT_TEST_MODEL (SmolLM2 GGUF); both models default to the pulled copies.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rightfit_providers::Provider;
use rightfit_students::{
    EmbedderOptions, EpochReport, ModelKind, SentenceEmbedder, TrainOptions, peak_rss_bytes, train,
};
use rightfit_types::EmbeddingRequest;

type Rows = (Vec<String>, Vec<String>);

fn read(path: &std::path::Path) -> Result<Rows, Box<dyn std::error::Error>> {
    let mut reader = csv::Reader::from_path(path)?;
    let (mut texts, mut labels) = (Vec::new(), Vec::new());
    for row in reader.records() {
        let row = row?;
        texts.push(row[0].to_owned());
        labels.push(row[1].to_owned());
    }
    Ok((texts, labels))
}

fn home() -> PathBuf {
    std::env::var_os("RIGHTFIT_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/rightfit")
        })
}

/// 95% Wilson score interval for `k` successes of `n`.
fn wilson(k: usize, n: usize) -> (f64, f64) {
    let (k, n, z) = (k as f64, n as f64, 1.96f64);
    let p = k / n;
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
    (centre - half, centre + half)
}

/// Embeddings kept as `n: u64, d: u64`, then `n·d` little-endian `f32`.
fn save(path: &std::path::Path, x: &[Vec<f32>]) -> std::io::Result<()> {
    let d = x.first().map_or(0, Vec::len);
    let mut bytes = Vec::with_capacity(16 + x.len() * d * 4);
    bytes.extend_from_slice(&(x.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&(d as u64).to_le_bytes());
    x.iter()
        .flatten()
        .for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
    std::fs::write(path, bytes)
}

fn load(path: &std::path::Path) -> Option<Vec<Vec<f32>>> {
    let bytes = std::fs::read(path).ok()?;
    let word = |i: usize| -> Option<usize> {
        Some(u64::from_le_bytes(bytes.get(i..i + 8)?.try_into().ok()?) as usize)
    };
    let (n, d) = (word(0)?, word(8)?);
    let floats: Vec<f32> = bytes
        .get(16..16 + n * d * 4)?
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Some(floats.chunks(d.max(1)).map(<[f32]>::to_vec).collect())
}

async fn embed_all(
    provider: &dyn Provider,
    texts: &[String],
) -> Result<Vec<Vec<f32>>, Box<dyn std::error::Error>> {
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(256) {
        let r = provider
            .embed(EmbeddingRequest {
                model: String::new(),
                inputs: chunk.to_vec(),
                normalize: true,
            })
            .await?;
        out.extend(r.embeddings);
    }
    Ok(out)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().cloned().unwrap_or_else(|| "minilm".to_owned());
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<usize>().ok())
    };
    let threads = flag("--threads").unwrap_or(2);
    let batch_size = flag("--batch").unwrap_or(32);
    let hidden = flag("--hidden").unwrap_or(512);
    let cache = args
        .iter()
        .position(|a| a == "--cache")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    let data = std::env::var_os("RIGHTFIT_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/data"))
        .join("banking77");
    let (mut train_texts, mut train_labels) = read(&data.join("train.csv"))?;
    let (test_texts, test_labels) = read(&data.join("test.csv"))?;
    if let Some(n) = flag("--train") {
        // A seeded shuffle (xorshift), then the first n.
        let mut order: Vec<usize> = (0..train_texts.len()).collect();
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        for i in (1..order.len()).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            order.swap(i, (s % (i as u64 + 1)) as usize);
        }
        order.truncate(n);
        train_texts = order.iter().map(|&i| train_texts[i].clone()).collect();
        train_labels = order.iter().map(|&i| train_labels[i].clone()).collect();
    }
    let mut names = train_labels.clone();
    names.sort();
    names.dedup();
    let index = |l: &String| names.binary_search(l).unwrap_or(0);
    let y_train: Vec<usize> = train_labels.iter().map(index).collect();
    let y_test: Vec<usize> = test_labels.iter().map(index).collect();

    let load_start = Instant::now();
    let provider: Arc<dyn Provider> = match which.as_str() {
        "minilm" => {
            let dir = std::env::var_os("RIGHTFIT_TEST_EMBEDDER")
                .map(PathBuf::from)
                .unwrap_or_else(|| home().join("models/all-minilm-l6-v2"));
            Arc::new(SentenceEmbedder::load(
                "all-minilm-l6-v2",
                &dir,
                EmbedderOptions {
                    threads,
                    batch_size,
                },
            )?)
        }
        "smollm2" => {
            let path = std::env::var_os("RIGHTFIT_TEST_MODEL")
                .map(PathBuf::from)
                .unwrap_or_else(|| home().join("models/SmolLM2-135M-Instruct.Q4_1.gguf"));
            let engine = rightfit_llama::Engine::load(
                &path,
                rightfit_llama::EngineOptions {
                    threads,
                    ..rightfit_llama::EngineOptions::default()
                },
            )?;
            Arc::new(rightfit_llama::LocalProvider::new("smollm2-135m", engine))
        }
        other => return Err(format!("unknown embedder '{other}': minilm or smollm2").into()),
    };
    let load_s = load_start.elapsed().as_secs_f64();
    let cached = |split: &str| {
        cache
            .as_ref()
            .map(|d| d.join(format!("{which}-{split}-{}.f32", train_texts.len())))
    };
    let start = Instant::now();
    let x_train = match cached("train").and_then(|p| load(&p)) {
        Some(x) => x,
        None => embed_all(provider.as_ref(), &train_texts).await?,
    };
    let embed_train_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let x_test = match cached("test").and_then(|p| load(&p)) {
        Some(x) => x,
        None => embed_all(provider.as_ref(), &test_texts).await?,
    };
    let embed_test_s = start.elapsed().as_secs_f64();
    if let (Some(a), Some(b)) = (cached("train"), cached("test")) {
        std::fs::create_dir_all(a.parent().unwrap_or(&a))?;
        save(&a, &x_train)?;
        save(&b, &x_test)?;
    }
    eprintln!(
        "{which}: loaded in {load_s:.1} s; embedded {} train rows in {embed_train_s:.1} s ({:.0}/s), {} test rows in {embed_test_s:.1} s; {} dims",
        x_train.len(),
        x_train.len() as f64 / embed_train_s,
        x_test.len(),
        x_train.first().map_or(0, Vec::len)
    );
    println!(
        "| embedder | classifier | train rows | test accuracy (95% CI, n={}) | embed train s | train s | epochs | peak RSS MiB |",
        x_test.len()
    );
    println!("|---|---|---|---|---|---|---|---|");
    for model in [ModelKind::Linear, ModelKind::Mlp { hidden }] {
        let options = TrainOptions {
            model,
            ..TrainOptions::default()
        };
        let mut last = None;
        let mut progress = |e: &EpochReport| {
            last = Some(*e);
            eprint!(
                "\r  {model:?} epoch {:>3}  loss {:.4}  val acc {:.3}  {:>7.0} ex/s",
                e.epoch,
                e.train_loss,
                e.validation_accuracy.unwrap_or(f64::NAN),
                e.examples_per_s
            );
        };
        let (c, report) = train(&x_train, &y_train, &names, &options, &mut progress)?;
        eprintln!();
        let right = x_test
            .iter()
            .zip(&y_test)
            .filter(|(x, y)| c.predict(x).map(|p| p.0 == **y).unwrap_or(false))
            .count();
        let n = y_test.len();
        let (lo, hi) = wilson(right, n);
        println!(
            "| {which} | {} | {} | {:.1}% ({:.1}–{:.1}) | {embed_train_s:.1} | {:.1} | {} (best {}) | {} |",
            match model {
                ModelKind::Linear => "logistic regression".to_owned(),
                ModelKind::Mlp { hidden } => format!("MLP {hidden}"),
            },
            x_train.len(),
            100.0 * right as f64 / n as f64,
            100.0 * lo,
            100.0 * hi,
            report.seconds,
            report.epochs.len(),
            report.best_epoch,
            peak_rss_bytes().unwrap_or(0) >> 20
        );
    }
    Ok(())
}

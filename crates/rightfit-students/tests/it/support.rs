//! Shared helpers: the model directory, the shared data, toy data, a keyword embedder.

use std::path::PathBuf;

use async_trait::async_trait;
use rightfit_providers::{Capabilities, EventStream, Health, Provider, ProviderError};
use rightfit_students::{EmbedderOptions, SentenceEmbedder};
use rightfit_types::{ChatRequest, EmbeddingRequest, EmbeddingResponse};

fn rightfit_home() -> PathBuf {
    std::env::var_os(rightfit_config::env::HOME)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os(rightfit_config::env::USER_HOME).expect("HOME is set"))
                .join(".cache/rightfit")
        })
}

/// The all-MiniLM-L6-v2 directory. Fails (does not skip) when it is missing.
pub fn minilm_dir() -> PathBuf {
    if let Some(p) = std::env::var_os(rightfit_config::env::TEST_EMBEDDER) {
        return PathBuf::from(p);
    }
    let entry = rightfit_llama::catalog::find("all-minilm-l6-v2").expect("catalogue entry");
    let store = rightfit_llama::models::ModelStore::new(rightfit_home().join("models"));
    assert!(
        store.is_present(entry),
        "{} is missing: run scripts/test (it pulls the model) or 'rightfit models pull \
         all-minilm-l6-v2', or set RIGHTFIT_TEST_EMBEDDER",
        store.path_of(entry).display()
    );
    store.path_of(entry)
}

pub fn minilm() -> SentenceEmbedder {
    SentenceEmbedder::load(
        "all-minilm-l6-v2",
        &minilm_dir(),
        EmbedderOptions::default(),
    )
    .expect("MiniLM loads")
}

/// `$RIGHTFIT_SHARED_DATA`, or `../shared/data` beside the repository root.
pub fn shared_data() -> PathBuf {
    if let Some(dir) = std::env::var_os(rightfit_config::env::SHARED_DATA) {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

/// Rows of a BANKING77 CSV (`text,category`): texts and category names.
pub fn banking77(split: &str) -> (Vec<String>, Vec<String>) {
    let path = shared_data().join("banking77").join(format!("{split}.csv"));
    let mut reader = csv::Reader::from_path(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (set RIGHTFIT_SHARED_DATA)", path.display()));
    let mut texts = Vec::new();
    let mut labels = Vec::new();
    for row in reader.records() {
        let row = row.expect("a CSV row");
        texts.push(row[0].to_owned());
        labels.push(row[1].to_owned());
    }
    (texts, labels)
}

/// Three well-separated clusters in 4 dimensions, `per` points each, labels `a`, `b`, `c`.
pub fn clusters(per: usize, seed: u64) -> (Vec<Vec<f32>>, Vec<usize>, Vec<String>) {
    let centres = [
        [4.0, 0.0, 0.0, 1.0],
        [0.0, 4.0, 0.0, 1.0],
        [0.0, 0.0, 4.0, 1.0],
    ];
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut noise = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..per {
        for (label, c) in centres.iter().enumerate() {
            let _ = i;
            x.push(c.iter().map(|v| v + noise()).collect());
            y.push(label);
        }
    }
    (x, y, vec!["a".into(), "b".into(), "c".into()])
}

/// An embedding provider that counts keywords: dimension i is how often `KEYWORDS[i]` occurs.
#[derive(Debug)]
pub struct KeywordEmbedder;

pub const KEYWORDS: [&str; 3] = ["card", "cash", "pin"];

pub fn keyword_vector(text: &str) -> Vec<f32> {
    let lower = text.to_lowercase();
    KEYWORDS
        .iter()
        .map(|k| lower.matches(k).count() as f32)
        .collect()
}

#[async_trait]
impl Provider for KeywordEmbedder {
    fn name(&self) -> &str {
        "keywords"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            embeddings: true,
            ..Capabilities::default()
        }
    }
    async fn stream(&self, _: ChatRequest) -> Result<EventStream, ProviderError> {
        Err(ProviderError::Unsupported {
            provider: "keywords".into(),
            what: "chat",
        })
    }
    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        Ok(EmbeddingResponse {
            model: "keywords".into(),
            prompt_tokens: request
                .inputs
                .iter()
                .map(|t| t.split_whitespace().count() as u32)
                .sum(),
            embeddings: request.inputs.iter().map(|t| keyword_vector(t)).collect(),
        })
    }
    async fn health(&self) -> Result<Health, ProviderError> {
        Ok(Health {
            ready: true,
            detail: "keywords".into(),
        })
    }
}

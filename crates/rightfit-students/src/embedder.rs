//! [`SentenceEmbedder`]: a sentence-transformers model directory (all-MiniLM-L6-v2) run in
//! candle on the CPU, behind the [`Provider`] trait with embeddings only.
//!
//! What sentence-transformers does for this model, step by step: WordPiece tokens with `[CLS]`
//! and `[SEP]`, truncated to `max_seq_length` (256); the BERT encoder; the mean of the last hidden
//! states over the attention mask; L2 normalisation (when the request asks for it, as the model's
//! `2_Normalize` module does).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use rightfit_providers::{Capabilities, EventStream, Health, MemoryUse, Provider, ProviderError};
use rightfit_types::{ChatRequest, EmbeddingRequest, EmbeddingResponse};
use serde::Deserialize;

use tokenizers::{Tokenizer, TruncationParams};

use crate::bert::{Bert, BertConfig};
use crate::error::StudentError;
use crate::measure::peak_rss_bytes;

/// How the embedder runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbedderOptions {
    /// Worker threads for the matrix products (a private pool, so other work is not crowded).
    pub threads: usize,
    /// Texts per forward pass. Texts are sorted by length first, so a batch pads little.
    pub batch_size: usize,
}

impl Default for EmbedderOptions {
    fn default() -> Self {
        Self {
            threads: 2,
            batch_size: 32,
        }
    }
}

/// A sentence-transformers BERT model (mean pooling), loaded from its directory.
#[derive(Debug, Clone)]
pub struct SentenceEmbedder {
    name: String,
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    bert: Bert,
    tokenizer: Tokenizer,
    pool: rayon::ThreadPool,
    options: EmbedderOptions,
    max_tokens: usize,
    dims: usize,
    weights: PathBuf,
    weights_bytes: u64,
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
}

#[derive(Deserialize)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, StudentError> {
    let text = std::fs::read_to_string(path).map_err(|source| StudentError::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| StudentError::Model {
        path: path.to_owned(),
        detail: format!("unreadable JSON: {e}"),
    })
}

impl SentenceEmbedder {
    /// Loads a sentence-transformers directory: `config.json`, `tokenizer.json`, `model.safetensors`,
    /// and, when present, `1_Pooling/config.json` (which must ask for mean pooling) and
    /// `sentence_bert_config.json` (`max_seq_length`; 256 otherwise).
    pub fn load(
        name: impl Into<String>,
        dir: &Path,
        options: EmbedderOptions,
    ) -> Result<Self, StudentError> {
        if !dir.is_dir() {
            return Err(StudentError::Model {
                path: dir.to_owned(),
                detail: "not a model directory — run 'rightfit models pull all-minilm-l6-v2'"
                    .to_owned(),
            });
        }
        let config = BertConfig::from_file(&dir.join("config.json"))?;
        let pooling = dir.join("1_Pooling").join("config.json");
        if pooling.exists() && !read_json::<PoolingConfig>(&pooling)?.pooling_mode_mean_tokens {
            return Err(StudentError::Model {
                path: pooling,
                detail: "only mean pooling is supported".to_owned(),
            });
        }
        let st = dir.join("sentence_bert_config.json");
        let max_tokens = if st.exists() {
            read_json::<SentenceBertConfig>(&st)?.max_seq_length
        } else {
            None
        }
        .unwrap_or(256)
        .min(config.max_position_embeddings);
        let tokenizer = load_tokenizer(&dir.join("tokenizer.json"), max_tokens)?;
        if tokenizer.get_vocab_size(true) != config.vocab_size {
            return Err(StudentError::Model {
                path: dir.join("tokenizer.json"),
                detail: format!(
                    "{} tokens, but config.json says vocab_size {}",
                    tokenizer.get_vocab_size(true),
                    config.vocab_size
                ),
            });
        }
        let weights = dir.join("model.safetensors");
        let weights_bytes = std::fs::metadata(&weights)
            .map_err(|source| StudentError::Io {
                path: weights.clone(),
                source,
            })?
            .len();
        let bert = Bert::load(&weights, &config)?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(options.threads.max(1))
            .thread_name(|i| format!("embedder-{i}"))
            .build()
            .map_err(|e| StudentError::compute("thread pool", e))?;
        Ok(Self {
            name: name.into(),
            inner: Arc::new(Inner {
                bert,
                tokenizer,
                pool,
                options,
                max_tokens,
                dims: config.hidden_size,
                weights,
                weights_bytes,
            }),
        })
    }

    /// Dimensions of each vector.
    pub fn dims(&self) -> usize {
        self.inner.dims
    }

    /// The weights file (for provenance: hash it with [`file_sha256`](crate::file_sha256)).
    pub fn weights_path(&self) -> &Path {
        &self.inner.weights
    }

    /// The most tokens read per text (longer texts are truncated, as sentence-transformers does).
    pub fn max_tokens(&self) -> usize {
        self.inner.max_tokens
    }

    /// Token ids for a text, `[CLS]` and `[SEP]` included, at most [`Self::max_tokens`].
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>, StudentError> {
        self.inner
            .tokenizer
            .encode(text, true)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| StudentError::compute(&self.name, format!("tokenizing: {e}")))
    }

    /// Embeds texts, in order; each vector is scaled to unit length when `normalize`.
    /// Returns the vectors and the number of tokens read. Blocking: call it off async threads.
    pub fn embed_texts(
        &self,
        texts: &[String],
        normalize: bool,
    ) -> Result<(Vec<Vec<f32>>, usize), StudentError> {
        let inner = &self.inner;
        let tokens: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| self.tokenize(t))
            .collect::<Result<_, _>>()?;
        let total = tokens.iter().map(Vec::len).sum();
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| tokens[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(inner.options.batch_size.max(1)) {
            let batch: Vec<Vec<u32>> = chunk.iter().map(|&i| tokens[i].clone()).collect();
            let pooled = inner
                .pool
                .install(|| inner.bert.mean_pooled(&batch))
                .and_then(|t| t.to_vec2::<f32>())
                .map_err(|e| StudentError::compute(&self.name, e))?;
            for (&i, mut v) in chunk.iter().zip(pooled) {
                if normalize {
                    rightfit_providers::unit_length(&mut v);
                }
                out[i] = v;
            }
        }
        Ok((out, total))
    }
}

#[async_trait]
impl Provider for SentenceEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            embeddings: true,
            ..Capabilities::default()
        }
    }

    async fn stream(&self, _request: ChatRequest) -> Result<EventStream, ProviderError> {
        Err(ProviderError::Unsupported {
            provider: self.name.clone(),
            what: "chat (a sentence-embedding model only embeds)",
        })
    }

    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        let this = self.clone();
        let (embeddings, tokens) = tokio::task::spawn_blocking(move || {
            this.embed_texts(&request.inputs, request.normalize)
        })
        .await
        .map_err(|e| ProviderError::Engine {
            provider: self.name.clone(),
            detail: format!("the embedding task failed: {e}"),
        })?
        .map_err(|e| ProviderError::Engine {
            provider: self.name.clone(),
            detail: e.to_string(),
        })?;
        Ok(EmbeddingResponse {
            model: self.name.clone(),
            embeddings,
            prompt_tokens: u32::try_from(tokens).unwrap_or(u32::MAX),
        })
    }

    async fn health(&self) -> Result<Health, ProviderError> {
        Ok(Health {
            ready: true,
            detail: format!(
                "{} ({} dims, {} threads) loaded from {}",
                self.name,
                self.inner.dims,
                self.inner.options.threads,
                self.inner.weights.display()
            ),
        })
    }

    async fn memory(&self) -> Option<MemoryUse> {
        Some(MemoryUse {
            model_bytes: self.inner.weights_bytes,
            peak_rss_bytes: peak_rss_bytes().unwrap_or(0),
        })
    }
}

/// The model's `tokenizer.json`, truncating to `max_tokens` (special tokens included) and
/// padding nothing, as sentence-transformers calls it.
fn load_tokenizer(path: &Path, max_tokens: usize) -> Result<Tokenizer, StudentError> {
    let bad = |detail: String| StudentError::Model {
        path: path.to_owned(),
        detail,
    };
    let mut t =
        Tokenizer::from_file(path).map_err(|e| bad(format!("unreadable tokenizer: {e}")))?;
    t.with_padding(None);
    t.with_truncation(Some(TruncationParams {
        max_length: max_tokens,
        ..TruncationParams::default()
    }))
    .map_err(|e| bad(format!("cannot truncate to {max_tokens} tokens: {e}")))?;
    Ok(t)
}

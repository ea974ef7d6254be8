//! Embeddings: mean-pooled hidden states from a second context made for them.
//!
//! The generation context keeps its KV cache for prefix reuse; embeddings need a context with
//! pooling turned on, so one is created on the first embedding request and kept.

use std::num::NonZeroU32;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;
use rightfit_types::{EmbeddingRequest, EmbeddingResponse};

use super::backend::backend;
use super::error::EngineError;
use super::memory::ProcessMemory;
use super::worker::Worker;

/// Sequences embedded per decode.
const EMBED_SEQS: u32 = 16;

impl<'m> Worker<'m> {
    pub(super) fn embed(
        &mut self,
        request: &EmbeddingRequest,
    ) -> Result<EmbeddingResponse, EngineError> {
        let vocab = self.model.vocab();
        let inputs: Vec<Vec<LlamaToken>> = request
            .inputs
            .iter()
            .map(|t| vocab.tokenize(t.as_bytes(), true, false))
            .collect();
        let n_ctx = self.options.embedding_context.max(16) as usize;
        for (i, toks) in inputs.iter().enumerate() {
            if toks.is_empty() {
                return Err(EngineError::InvalidRequest(format!("input {i} is empty")));
            }
            if toks.len() > n_ctx {
                return Err(EngineError::InvalidRequest(format!(
                    "input {i} is {} tokens; the embedding context holds {n_ctx}",
                    toks.len()
                )));
            }
        }
        let ctx = self.embedding_context()?;
        let mut batch = LlamaBatch::new(n_ctx, 1);
        let mut out: Vec<Vec<f32>> = Vec::with_capacity(inputs.len());
        let mut start = 0;
        while start < inputs.len() {
            batch.clear();
            let mut end = start;
            let mut used = 0;
            // Every input fits the context (checked above), so each group takes at least one.
            while end < inputs.len()
                && end - start < EMBED_SEQS as usize
                && used + inputs[end].len() <= n_ctx
            {
                let seq = (end - start) as i32;
                for (p, &t) in inputs[end].iter().enumerate() {
                    batch
                        .add(t, p as i32, &[seq], true)
                        .map_err(|e| EngineError::Decode(e.to_string()))?;
                }
                used += inputs[end].len();
                end += 1;
            }
            ctx.clear_kv_cache();
            ctx.decode(&mut batch)
                .map_err(|e| EngineError::Decode(e.to_string()))?;
            for seq in 0..end - start {
                let v = ctx
                    .embeddings_seq_ith(seq as i32)
                    .map_err(|e| EngineError::Decode(format!("no pooled embedding: {e}")))?;
                out.push(v.to_vec());
            }
            start = end;
        }
        if request.normalize {
            for v in &mut out {
                let norm = v
                    .iter()
                    .map(|x| f64::from(*x) * f64::from(*x))
                    .sum::<f64>()
                    .sqrt();
                if norm > 0.0 {
                    v.iter_mut()
                        .for_each(|x| *x = (f64::from(*x) / norm) as f32);
                }
            }
        }
        Ok(EmbeddingResponse {
            model: self.info.name.clone(),
            embeddings: out,
            prompt_tokens: inputs.iter().map(|t| t.len() as u32).sum(),
        })
    }

    fn embedding_context(&mut self) -> Result<&mut LlamaContext<'m>, EngineError> {
        if self.embed_ctx.is_none() {
            let backend = backend().map_err(EngineError::Decode)?;
            let n_ctx = self.options.embedding_context.max(16);
            let threads = i32::try_from(self.options.threads).unwrap_or(i32::MAX);
            let params = LlamaContextParams::default()
                .with_n_ctx(NonZeroU32::new(n_ctx))
                .with_n_batch(n_ctx)
                .with_n_ubatch(n_ctx)
                .with_n_seq_max(EMBED_SEQS)
                .with_kv_unified(true)
                .with_n_threads(threads)
                .with_n_threads_batch(threads)
                .with_embeddings(true)
                .with_pooling_type(LlamaPoolingType::Mean);
            let before = ProcessMemory::now();
            let mut ctx = self.model.new_context(backend, params).map_err(|e| {
                EngineError::Decode(format!("cannot create the embedding context: {e}"))
            })?;
            super::lora::apply(&mut ctx, &mut self.adapters)?;
            self.stats.embedding_context_bytes = ProcessMemory::now()
                .rss_bytes
                .saturating_sub(before.rss_bytes);
            self.embed_ctx = Some(ctx);
        }
        self.embed_ctx
            .as_mut()
            .ok_or_else(|| EngineError::Decode("no embedding context".to_owned()))
    }
}

//! How to run a model: what [`super::Engine::load`] takes.

use super::lora::LoraAdapter;

/// How to run a model.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineOptions {
    /// KV-cache cells shared by all sequences (0: the model's training context, at most 8192).
    pub context_size: u32,
    /// Most sequences decoded together.
    pub parallel: u32,
    /// Most tokens per decode call.
    pub batch_size: u32,
    /// CPU threads llama.cpp computes with (generation steps use one in batch-invariant mode).
    pub threads: usize,
    /// Built-in chat template for a model whose file embeds none (`gemma`, `chatml`, ...).
    pub chat_template: Option<String>,
    /// Reuse the KV cache of prompt prefixes computed before.
    pub prefix_cache: bool,
    /// Token capacity of the embedding context (created on the first embedding request).
    pub embedding_context: u32,
    /// Make each sequence's output independent of what else is decoded with it, at a cost in
    /// prompt speed (see `docs/engine.md`). Off by default.
    pub batch_invariant: bool,
    /// LoRA adapters applied to every context (at most one for now). An engine with an adapter
    /// is a different model: its KV cache and prefix cache are its own.
    pub adapters: Vec<LoraAdapter>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            context_size: 0,
            parallel: 8,
            batch_size: 512,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            chat_template: None,
            prefix_cache: true,
            embedding_context: 2048,
            batch_invariant: false,
            adapters: Vec::new(),
        }
    }
}

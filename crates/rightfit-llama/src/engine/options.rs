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

/// Sequence ids beyond the generation slots that scoring decodes continuations on, side by side
/// (continuations beyond this many are scored in further rounds). llama.cpp reserves an output
/// row per sequence id at load (`n_vocab` floats each), so this is not larger.
pub(super) const SCORING_LANES: u32 = 32;

/// The sequence ids scoring may use on an engine with `parallel` generation slots and batches of
/// `batch` tokens: those after the slots, up to llama.cpp's limits (256 sequence ids, and no more
/// sequence ids than a batch has outputs).
pub(super) fn scoring_lanes(parallel: u32, batch: u32) -> Vec<i32> {
    let first = parallel.min(256);
    let last = parallel
        .saturating_add(SCORING_LANES)
        .min(256)
        .min(batch.max(first));
    (first..last).map(|s| s as i32).collect()
}

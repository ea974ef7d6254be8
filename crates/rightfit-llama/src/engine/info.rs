//! What the engine tells about itself: the loaded model ([`ModelInfo`]) and its counters
//! ([`EngineStats`]).

use std::path::PathBuf;

use super::memory::ProcessMemory;

/// Facts about the loaded model and engine.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// The GGUF file it was loaded from.
    pub path: PathBuf,
    /// `general.name`, or the file stem.
    pub name: String,
    /// `general.architecture`.
    pub architecture: String,
    /// Number of parameters.
    pub parameters: u64,
    /// Bytes of weights.
    pub model_bytes: u64,
    /// Training context length.
    pub context_train: u32,
    /// Vocabulary size.
    pub vocab_size: u32,
    /// Embedding width.
    pub embedding_size: u32,
    /// Whether the file embeds a chat template.
    pub has_chat_template: bool,
    /// KV cells of the generation context.
    pub context_size: u32,
    /// Sequences decoded together.
    pub parallel: u32,
    /// CPU threads llama.cpp computes with.
    pub threads: usize,
    /// Process memory growth while the model loaded (bytes).
    pub load_rss_bytes: u64,
    /// Process memory growth while the generation context was created (KV cache and buffers).
    pub context_rss_bytes: u64,
}

/// Counters and memory of a running engine.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EngineStats {
    /// Generation requests completed (including failed and cancelled ones).
    pub requests: u64,
    /// Prompt tokens computed.
    pub prompt_tokens_evaluated: u64,
    /// Prompt tokens reused from the KV cache.
    pub prompt_tokens_reused: u64,
    /// Tokens generated.
    pub generated_tokens: u64,
    /// llama.cpp decode calls (each runs one batch).
    pub decode_calls: u64,
    /// Process memory now and at peak.
    pub memory: ProcessMemory,
    /// Bytes of weights.
    pub model_bytes: u64,
    /// Memory growth when the generation context was created.
    pub context_bytes: u64,
    /// Memory growth when the embedding context was created (0 until first used).
    pub embedding_context_bytes: u64,
}

/// One answered turn as a model fine-tuned on it sees it: the prompt's tokens (exactly as
/// generation tokenises the rendered conversation) and the answer's (the text the chat template
/// puts after the prompt, its end-of-turn marker included), which training learns to predict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingTokens {
    /// The rendered conversation, ending with the opening of the assistant's turn.
    pub prompt: Vec<u32>,
    /// The answer and the end of its turn.
    pub answer: Vec<u32>,
}

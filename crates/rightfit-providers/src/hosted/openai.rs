//! OpenAI Chat Completions, and the OpenAI-compatible servers that imitate it.

/// The OpenAI protocol. `compatible` tolerates what OpenAI-compatible servers (vLLM, Ollama,
/// llama.cpp's server, TGI, LM Studio) leave out: usage, ids, the `[DONE]` marker.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenAi {
    pub compatible: bool,
}

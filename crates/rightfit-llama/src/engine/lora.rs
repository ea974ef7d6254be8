//! LoRA adapters applied on top of the engine's model.
//!
//! An adapter is checked here first, the way llama.cpp's loader (`src/llama-adapter.cpp`) checks
//! it, so that a wrong file is an error naming the file and the reason rather than llama.cpp's
//! log line and a null pointer. The loaded adapters are set on every context the engine creates
//! (generation and embeddings). An adapter changes every hidden state, so the KV cache of an
//! engine with adapters is its own: the prefix cache lives inside one engine and never mixes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::{LlamaLoraAdapter, LlamaModel};

use super::error::EngineError;
use crate::gguf::{self, GgufHeader};

/// A LoRA adapter file and the scale to apply it with (1.0: as trained).
#[derive(Debug, Clone, PartialEq)]
pub struct LoraAdapter {
    /// The adapter GGUF (`general.type = adapter`).
    pub path: PathBuf,
    /// Multiplies the adapter's `alpha / rank`.
    pub scale: f32,
}

fn refuse(path: &Path, detail: impl Into<String>) -> EngineError {
    EngineError::Adapter {
        path: path.to_owned(),
        detail: detail.into(),
    }
}

/// The ggml dims of a tensor's `lora_a` and `lora_b`, as far as seen.
type Pair<'a> = (Option<&'a [u64]>, Option<&'a [u64]>);

/// Checks an adapter file against the base model's header, as llama.cpp's loader would.
pub fn check_adapter(path: &Path, base: &GgufHeader) -> Result<(), EngineError> {
    let header = gguf::read_header(path).map_err(|e| refuse(path, e.to_string()))?;
    let general = header.get_str("general.type").unwrap_or("");
    if general != "adapter" {
        return Err(refuse(
            path,
            format!("general.type is '{general}', not 'adapter': not a LoRA adapter file"),
        ));
    }
    let kind = header.get_str("adapter.type").unwrap_or("");
    if kind != "lora" {
        return Err(refuse(
            path,
            format!("adapter.type is '{kind}', not 'lora'"),
        ));
    }
    let arch = header.architecture().unwrap_or("");
    let base_arch = base.architecture().unwrap_or("");
    if arch != base_arch {
        return Err(refuse(
            path,
            format!("made for a '{arch}' model, but this model is '{base_arch}'"),
        ));
    }
    let base_dims: BTreeMap<&str, &[u64]> = base
        .tensors
        .iter()
        .map(|t| (t.name.as_str(), t.dims.as_slice()))
        .collect();
    let mut pairs: BTreeMap<&str, Pair<'_>> = BTreeMap::new();
    for t in &header.tensors {
        if let Some(w) = t.name.strip_suffix(".lora_a") {
            pairs.entry(w).or_default().0 = Some(&t.dims);
        } else if let Some(w) = t.name.strip_suffix(".lora_b") {
            pairs.entry(w).or_default().1 = Some(&t.dims);
        } else if !t.name.ends_with("_norm.weight") {
            return Err(refuse(
                path,
                format!("tensor '{}' is neither .lora_a nor .lora_b", t.name),
            ));
        }
    }
    for (w, pair) in &pairs {
        let (Some(a), Some(b)) = *pair else {
            return Err(refuse(
                path,
                format!("'{w}' has only one of lora_a and lora_b"),
            ));
        };
        let Some(base_w) = base_dims.get(w) else {
            return Err(refuse(
                path,
                format!(
                    "updates '{w}', which this model does not have (an adapter for another base?)"
                ),
            ));
        };
        // ggml order, innermost first: W [in, out], A [in, r], B [r, out]. The token embedding
        // is the one exception llama.cpp makes (A and B swapped roles); rightfit never writes it.
        let fits = match (*base_w, a, b) {
            ([w0, w1], [a0, a1], [b0, b1]) if w.ends_with("token_embd.weight") => {
                w0 == b1 && w1 == a1
            }
            ([w0, w1], [a0, a1], [b0, b1]) => w0 == a0 && w1 == b1 && a1 == b0,
            _ => false,
        };
        if !fits {
            return Err(refuse(
                path,
                format!(
                    "'{w}' is {base_w:?} in this model, but lora_a is {a:?} and lora_b {b:?} (ggml order; expected [in, r] and [r, out]: an adapter for another base, or A/B transposed?)"
                ),
            ));
        }
    }
    if pairs.is_empty() {
        return Err(refuse(path, "holds no LoRA tensors"));
    }
    Ok(())
}

/// Checks and loads the adapters onto the model.
pub(super) fn load_adapters(
    model: &mut LlamaModel,
    base: &GgufHeader,
    adapters: &[LoraAdapter],
) -> Result<Vec<(LlamaLoraAdapter, f32)>, EngineError> {
    if adapters.len() > 1 {
        return Err(EngineError::InvalidRequest(format!(
            "{} LoRA adapters given; the engine applies at most one (llama-cpp-2 sets one per context)",
            adapters.len()
        )));
    }
    let mut loaded = Vec::with_capacity(adapters.len());
    for a in adapters {
        if !a.scale.is_finite() {
            return Err(refuse(
                &a.path,
                format!("scale {} is not a number", a.scale),
            ));
        }
        check_adapter(&a.path, base)?;
        let adapter = model.lora_adapter_init(&a.path).map_err(|e| {
            refuse(
                &a.path,
                format!(
                    "llama.cpp could not load it: {e} (run with RIGHTFIT_LOG=debug for its reasons)"
                ),
            )
        })?;
        loaded.push((adapter, a.scale));
    }
    Ok(loaded)
}

/// Sets the adapters on a new context.
pub(super) fn apply(
    ctx: &mut LlamaContext<'_>,
    adapters: &mut [(LlamaLoraAdapter, f32)],
) -> Result<(), EngineError> {
    for (adapter, scale) in adapters.iter_mut() {
        ctx.lora_adapter_set(adapter, *scale)
            .map_err(|e| EngineError::Decode(format!("cannot set the LoRA adapter: {e}")))?;
    }
    Ok(())
}

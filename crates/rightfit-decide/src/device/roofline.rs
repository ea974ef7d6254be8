//! Memory fit and roofline speed estimates.
//!
//! Two bounds, each scaled by an efficiency from a [`Calibration`]:
//!
//! - **generation** reads every weight once per token, plus the KV cache of the context so far,
//!   so it is bound by memory bandwidth: `tokens/s = decode_efficiency × bandwidth ÷ bytes per
//!   token` ([`decode_bytes_per_token`]);
//! - **prompt processing** runs the same matrix products for many tokens at once, reading the
//!   weights once per micro-batch, so it is bound by compute: `tokens/s = prefill_efficiency ×
//!   compute ÷ operations per token` ([`prefill_flops_per_token`]), capped by the bandwidth
//!   needed to read the weights once per micro-batch of [`MICRO_BATCH`] tokens.
//!
//! Both are estimates: they ignore fixed per-token costs (thread synchronisation, kernel
//! launches, sampling over a large vocabulary), which dominate for very small models on GPUs,
//! and they assume the efficiency measured on one machine carries over to another.

use serde::{Deserialize, Serialize};

use super::profile::DeviceProfile;
use crate::candidate_facts::{ModelShape, Workload};
use rightfit_types::device::Calibration;

/// Bytes of one KV-cache element: llama.cpp stores keys and values as f16 by default.
pub const KV_ELEMENT_BYTES: u64 = 2;

/// The engine's process and compute-buffer baseline, bytes.
///
/// Measured here (2 threads, llama.cpp CPU backend through `rightfit bench-model`): peak RSS
/// minus weights minus KV cache was 42.3 MB with SmolLM2-135M Q4_1 at a 512-token context and
/// 43.6 MB at 8,192 tokens. 48 MiB rounds that up.
pub const RUNTIME_BASE_BYTES: u64 = 48 << 20;

/// Compute buffers and per-backend copies grow with the model: this fraction of the weights is
/// added to [`RUNTIME_BASE_BYTES`].
///
/// Checked against peak RSS measured here (2 threads, `bench-model`): the estimate is 12% and
/// 5% above SmolLM2-135M Q4_1's at 512 and 8,192 tokens (150.7 and 328.9 MB measured), and 3%
/// below Gemma 3 270M Q4_K_M's at 512 tokens (341.1 MB). Qwen2.5-Coder 1.5B Q4_K_M peaked at
/// 1.42× the estimate (1,833 MB against 1,288 MB) because the x86 CPU back end repacks Q4_K
/// weights into a second, anonymous copy while the file's pages stay mapped; those pages are
/// clean page cache the kernel can reclaim, so the estimate keeps to what the model needs.
pub const RUNTIME_WEIGHTS_FRACTION: f64 = 0.10;

/// Prompt tokens llama.cpp processes per micro-batch (`n_ubatch`, its default 512): prompt
/// processing reads the weights once per micro-batch.
pub const MICRO_BATCH: u32 = 512;

/// Memory a local model needs, and whether it fits on a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    /// Weights, bytes.
    pub weights_bytes: u64,
    /// KV cache for the context of every parallel sequence, bytes.
    pub kv_cache_bytes: u64,
    /// Runtime: compute buffers and the process, bytes.
    pub runtime_bytes: u64,
    /// The sum.
    pub needed_bytes: u64,
    /// What the device lets a model use, bytes (`None` when not sized against a device).
    pub available_bytes: Option<u64>,
    /// `needed_bytes <= available_bytes` (true when not sized against a device).
    pub fits: bool,
}

/// Estimated speed of a model on a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Speed {
    /// Prompt processing, tokens per second.
    pub prefill_tokens_per_s: f64,
    /// Generation, tokens per second.
    pub decode_tokens_per_s: f64,
    /// Time to first token for the workload's prompt, milliseconds.
    pub ttft_ms: f64,
    /// Whole request (prompt + every generated token), milliseconds.
    pub request_ms: f64,
}

/// KV-cache bytes one token of context occupies:
/// `layers × kv_heads × (key_length + value_length) × 2 bytes` (f16 keys and values).
pub fn kv_bytes_per_token(shape: &ModelShape) -> u64 {
    u64::from(shape.layers)
        * u64::from(shape.kv_heads)
        * (u64::from(shape.key_length) + u64::from(shape.value_length))
        * KV_ELEMENT_BYTES
}

/// Memory a model needs for `context_tokens` per sequence and `parallel` sequences.
///
/// - weights: `shape.weights_bytes`;
/// - KV cache: [`kv_bytes_per_token`] × `context_tokens` × `parallel`;
/// - runtime: [`RUNTIME_BASE_BYTES`] + [`RUNTIME_WEIGHTS_FRACTION`] × weights.
///
/// `parallel` of 0 counts as 1.
pub fn memory_needed(shape: &ModelShape, context_tokens: u32, parallel: usize) -> Fit {
    let weights = shape.weights_bytes;
    let sequences = u64::try_from(parallel.max(1)).unwrap_or(u64::MAX);
    let kv = kv_bytes_per_token(shape)
        .saturating_mul(u64::from(context_tokens))
        .saturating_mul(sequences);
    let runtime =
        RUNTIME_BASE_BYTES.saturating_add((weights as f64 * RUNTIME_WEIGHTS_FRACTION) as u64);
    let needed = weights.saturating_add(kv).saturating_add(runtime);
    Fit {
        weights_bytes: weights,
        kv_cache_bytes: kv,
        runtime_bytes: runtime,
        needed_bytes: needed,
        available_bytes: None,
        fits: true,
    }
}

/// [`memory_needed`] sized against a device: it fits when the need is at most the device's
/// usable memory.
pub fn fit(
    shape: &ModelShape,
    context_tokens: u32,
    parallel: usize,
    device: &DeviceProfile,
) -> Fit {
    let mut fit = memory_needed(shape, context_tokens, parallel);
    fit.available_bytes = Some(device.usable_memory_bytes);
    fit.fits = fit.needed_bytes <= device.usable_memory_bytes;
    fit
}

/// Bytes generation reads per token at `context` tokens of context: every weight once, plus
/// the KV cache so far (`weights_bytes + kv_bytes_per_token × context`).
///
/// A tied or separate token-embedding table is counted whole although generation reads one
/// row of it; for models with a separate output layer this overstates the bytes by the
/// embedding table (a few percent for most models).
pub fn decode_bytes_per_token(shape: &ModelShape, context: f64) -> f64 {
    shape.weights_bytes as f64 + kv_bytes_per_token(shape) as f64 * context.max(0.0)
}

/// Floating-point operations prompt processing spends per token whose position averages
/// `mean_position`: `2 × params` for the matrix products (a multiply and an add per weight)
/// plus attention, `2 × layers × heads × (key_length + value_length) × mean_position`
/// (scores against every earlier key, then the weighted sum of values).
///
/// `2 × params` counts the token-embedding table too, which prompt processing only looks up;
/// for models whose embedding is a large share of the parameters (Gemma 3 270M: about 63%)
/// this overstates the work.
pub fn prefill_flops_per_token(shape: &ModelShape, mean_position: f64) -> f64 {
    let attention = 2.0
        * f64::from(shape.layers)
        * f64::from(shape.heads)
        * (f64::from(shape.key_length) + f64::from(shape.value_length))
        * mean_position.max(0.0);
    2.0 * shape.params as f64 + attention
}

/// Mean context while a request generates: its prompt plus half its output.
pub fn mean_decode_context(workload: &Workload) -> f64 {
    workload.prompt_tokens.max(0.0) + workload.output_tokens.max(0.0) / 2.0
}

/// Roofline estimate of the workload's speed on the device.
///
/// - decode tokens/s = `decode_efficiency × bandwidth ÷ decode_bytes_per_token(mean context)`,
///   the mean context being [`mean_decode_context`];
/// - prefill tokens/s = the smaller of `prefill_efficiency × compute ÷
///   prefill_flops_per_token(prompt ÷ 2)` and the bandwidth cap `decode_efficiency ×
///   bandwidth × min(prompt, MICRO_BATCH) ÷ weights_bytes` (a short prompt is processed no
///   faster than the weights can be read once for it);
/// - `ttft_ms = prompt_tokens ÷ prefill × 1000`;
/// - `request_ms = ttft_ms + (output_tokens − 1) ÷ decode × 1000`: the first token comes out
///   of the prompt's pass, so it is counted once, in the time to first token.
///
/// Zero or negative device figures are treated as a tiny positive number, so speeds stay
/// finite.
pub fn predict(
    shape: &ModelShape,
    workload: &Workload,
    device: &DeviceProfile,
    calibration: &Calibration,
) -> Speed {
    const TINY: f64 = 1e-12;
    let bandwidth = device.bandwidth_gbs.max(TINY) * 1e9;
    let compute = device.compute_tflops.max(TINY) * 1e12;
    let decode_eff = calibration.decode_efficiency.max(TINY);
    let prefill_eff = calibration.prefill_efficiency.max(TINY);
    let prompt = workload.prompt_tokens.max(0.0);
    let output = workload.output_tokens.max(0.0);

    let decode = decode_eff * bandwidth
        / decode_bytes_per_token(shape, mean_decode_context(workload)).max(1.0);
    let compute_bound =
        prefill_eff * compute / prefill_flops_per_token(shape, prompt / 2.0).max(1.0);
    let tokens_per_read = prompt.clamp(1.0, f64::from(MICRO_BATCH));
    let bandwidth_bound =
        decode_eff * bandwidth * tokens_per_read / (shape.weights_bytes as f64).max(1.0);
    let prefill = compute_bound.min(bandwidth_bound);

    let ttft_ms = prompt / prefill * 1000.0;
    let request_ms = ttft_ms + (output - 1.0).max(0.0) / decode * 1000.0;
    Speed {
        prefill_tokens_per_s: prefill,
        decode_tokens_per_s: decode,
        ttft_ms,
        request_ms,
    }
}

#[cfg(test)]
#[path = "roofline_tests.rs"]
mod tests;

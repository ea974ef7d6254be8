//! Memory fit and roofline speed estimates.

use serde::{Deserialize, Serialize};

use super::{Calibration, DeviceProfile};
use crate::facts::{ModelShape, Workload};

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

/// Memory a model needs for `context_tokens` per sequence and `parallel` sequences.
pub fn memory_needed(shape: &ModelShape, context_tokens: u32, parallel: usize) -> Fit {
    let _ = (shape, context_tokens, parallel);
    todo!("memory_needed")
}

/// [`memory_needed`] sized against a device.
pub fn fit(
    shape: &ModelShape,
    context_tokens: u32,
    parallel: usize,
    device: &DeviceProfile,
) -> Fit {
    let _ = (shape, context_tokens, parallel, device);
    todo!("fit")
}

/// Roofline estimate of the workload's speed on the device.
pub fn predict(
    shape: &ModelShape,
    workload: &Workload,
    device: &DeviceProfile,
    calibration: &Calibration,
) -> Speed {
    let _ = (shape, workload, device, calibration);
    todo!("predict")
}

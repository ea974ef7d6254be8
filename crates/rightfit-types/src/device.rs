//! What is known about running a local model on a device: the model's shape (from its GGUF
//! header) and the efficiencies `rightfit bench-model` measured on this machine, with the record
//! it saves. `rightfit_decide::device` computes with them; `rightfit_config::calibration` reads
//! and writes the saved records.

use serde::{Deserialize, Serialize};

/// The shape of a local model, read from its GGUF header: enough to size its memory and to
/// estimate the bytes and operations each token costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelShape {
    /// Parameters (sum of tensor elements).
    pub params: u64,
    /// Bytes of weights (the tensor data in the file, at its quantisation).
    pub weights_bytes: u64,
    /// Transformer blocks.
    pub layers: u32,
    /// Attention heads.
    pub heads: u32,
    /// Key/value heads (grouped-query attention: fewer than `heads`).
    pub kv_heads: u32,
    /// Length of one key vector per head.
    pub key_length: u32,
    /// Length of one value vector per head.
    pub value_length: u32,
    /// The context length the model was trained for.
    pub train_context: u32,
    /// The quantisation as llama.cpp names it (`Q4_K_M`), for display.
    pub quantization: String,
}

/// Efficiencies that turn roofline bounds into estimates: the fraction of peak bandwidth that
/// token generation reaches, and the fraction of peak compute that prompt processing reaches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Generation speed ÷ (bandwidth ÷ bytes read per token).
    pub decode_efficiency: f64,
    /// Prompt speed ÷ (compute ÷ operations per token).
    pub prefill_efficiency: f64,
    /// Where the figures come from (a `bench-model` measurement, or the defaults).
    pub source: String,
}

/// Default generation efficiency: the share of measured memory bandwidth that generation
/// reached in `rightfit bench-model` on Qwen2.5-Coder-1.5B-Instruct Q4_K_M, 2 threads, on the
/// development machine (2 vCPUs of an Intel Xeon with AVX-512 under KVM, 2026-11-30):
/// 12.8 tok/s × 1,113 MB read per token ÷ 18.7 GB/s = 0.77.
///
/// A model of the size and quantisation people deploy; the same bench gave 0.49 on Gemma 3
/// 270M Q4_K_M and 0.39 on SmolLM2-135M Q4_1 (small models lose more to per-token overheads).
pub const DEFAULT_DECODE_EFFICIENCY: f64 = 0.77;

/// Default prompt efficiency, from the same measurement (256-token prompt): 90.1 tok/s ×
/// 3.58 GFLOP per token ÷ 332.8 GFLOPS (2 cores × 2.6 GHz × 64 FP32 FLOP/cycle) = 0.97.
///
/// Near 1 because llama.cpp multiplies Q4_K weights with 8-bit integer dot products (AVX-512
/// VNNI here), several times the FP32 rate the CPU yardstick counts: it is a ratio to that
/// yardstick, not a utilisation. Gemma 3 270M Q4_K_M gave 1.03; SmolLM2's Q4_1, which has no
/// repacked kernel, 0.25.
pub const DEFAULT_PREFILL_EFFICIENCY: f64 = 0.97;

impl Default for Calibration {
    /// [`DEFAULT_DECODE_EFFICIENCY`] and [`DEFAULT_PREFILL_EFFICIENCY`].
    fn default() -> Self {
        Calibration {
            decode_efficiency: DEFAULT_DECODE_EFFICIENCY,
            prefill_efficiency: DEFAULT_PREFILL_EFFICIENCY,
            source: "defaults (bench-model on Qwen2.5-Coder-1.5B Q4_K_M, 2 threads, development \
                     machine, 2026-11-30)"
                .to_owned(),
        }
    }
}

/// What `bench-model` measured, and this machine's peak figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchFigures {
    /// Prompt length of the prompt-processing test, tokens.
    pub prompt_tokens: f64,
    /// Measured prompt processing, tokens per second.
    pub prompt_tokens_per_s: f64,
    /// Prompt length of the generation test, tokens.
    pub generation_prompt_tokens: f64,
    /// Tokens generated in the generation test.
    pub generated_tokens: f64,
    /// Measured generation, tokens per second.
    pub generation_tokens_per_s: f64,
    /// Measured memory read bandwidth, GB/s.
    pub bandwidth_gbs: f64,
    /// Peak compute of the cores used, TFLOPS (same convention as the catalogue's CPUs).
    pub compute_tflops: f64,
}

/// What `rightfit bench-model` saves to `$RIGHTFIT_HOME/calibration.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationRecord {
    /// The efficiencies.
    pub calibration: Calibration,
    /// When it was measured (RFC 3339, UTC).
    pub measured_at: String,
    /// The model measured (its name).
    pub model: String,
    /// Its file.
    pub model_path: String,
    /// Its quantisation.
    pub quantization: String,
    /// Engine threads.
    pub threads: usize,
    /// The raw figures.
    pub figures: BenchFigures,
    /// Bytes generation read per token in the generation test (the roofline's divisor).
    pub decode_bytes_per_token: f64,
    /// Operations per token in the prompt test (the roofline's divisor).
    pub prefill_flops_per_token: f64,
    /// How the bandwidth was measured.
    pub bandwidth_method: String,
    /// How the peak compute was worked out.
    pub compute_method: String,
    /// This machine's memory (`MemTotal`), bytes.
    pub memory_bytes: u64,
    /// Memory available to a new process when measured (`MemAvailable`), bytes.
    pub available_memory_bytes: u64,
}

/// The file name of a model path (what matches a calibration record to a model, wherever the
/// file now lives).
pub fn model_file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// Median and range of repeated measurements.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub median: f64,
    /// The least.
    pub min: f64,
    /// The greatest.
    pub max: f64,
}

impl Spread {
    /// The spread of `xs` (all zeros when there are none).
    pub fn of(mut xs: Vec<f64>) -> Spread {
        xs.sort_by(f64::total_cmp);
        let n = xs.len();
        if n == 0 {
            return Spread {
                median: 0.0,
                min: 0.0,
                max: 0.0,
            };
        }
        let median = if n % 2 == 1 {
            xs[n / 2]
        } else {
            (xs[n / 2 - 1] + xs[n / 2]) / 2.0
        };
        Spread {
            median,
            min: xs[0],
            max: xs[n - 1],
        }
    }
}

/// What `rightfit bench-model` measured of a local model on this machine, each test repeated
/// `reps` times after a warm-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelBench {
    /// The model's name.
    pub model: String,
    /// Its file.
    pub path: std::path::PathBuf,
    /// Its parameters.
    pub parameters: u64,
    /// Engine threads.
    pub threads: usize,
    /// The engine's context, tokens.
    pub context_size: u32,
    /// Sequences the engine decodes together.
    pub parallel: u32,
    /// Whether outputs were made independent of batching.
    pub batch_invariant: bool,
    /// Repetitions of each test.
    pub reps: usize,
    /// The prompt-processing test's prompt, tokens.
    pub prompt_tokens: usize,
    /// Prompt processing, tokens per second.
    pub prompt_tokens_per_s: Spread,
    /// Time to first token of that prompt, milliseconds.
    pub ttft_ms: Spread,
    /// The generation test's prompt, tokens.
    pub generation_prompt_tokens: usize,
    /// Tokens generated per sequence in the generation tests.
    pub gen_tokens: u32,
    /// Generation of one sequence after its first token, tokens per second.
    pub generation_tokens_per_s: Spread,
    /// Aggregate generation with this many sequences at once, tokens per second.
    pub concurrency: Vec<(u32, Spread)>,
    /// Weights in memory, bytes.
    pub model_bytes: u64,
    /// KV cache and compute buffers, bytes.
    pub context_bytes: u64,
    /// The process's peak resident memory, bytes.
    pub peak_rss_bytes: u64,
}

/// This machine's own figures, measured or worked out beside a model's benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineFigures {
    /// Memory read bandwidth, GB/s.
    pub bandwidth_gbs: f64,
    /// How it was measured.
    pub bandwidth_method: String,
    /// Peak compute of the cores used, TFLOPS.
    pub compute_tflops: f64,
    /// How it was worked out.
    pub compute_method: String,
    /// Memory (`MemTotal`), bytes.
    pub memory_bytes: u64,
    /// Memory available to a new process (`MemAvailable`), bytes.
    pub available_memory_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spread_is_the_median_and_the_range() {
        let s = Spread::of(vec![3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        let s = Spread::of(vec![4.0, 1.0, 2.0, 3.0]);
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 4.0));
        assert_eq!(Spread::of(Vec::new()).median, 0.0);
    }

    #[test]
    fn a_record_matches_its_model_by_file_name() {
        assert_eq!(model_file_name("/models/a.gguf"), "a.gguf");
        assert_eq!(model_file_name("C:\\models\\b.gguf"), "b.gguf");
        assert_eq!(model_file_name("c.gguf"), "c.gguf");
    }
}

//! Efficiencies from a measurement on this machine, the record `rightfit bench-model` saves,
//! and the defaults used when nothing was measured.
//!
//! A calibration is measured on one CPU and applied to every device: it is the only measured
//! figure there is, and per-kind efficiencies for GPUs would be guesses with nothing here to
//! check them against. Where the engine reaches a similar share of peak bandwidth on another
//! device (llama.cpp's CPU, CUDA and Metal back ends all stream quantised weights for
//! generation), the estimate transfers; where fixed per-token costs dominate (very small models
//! on large GPUs) it is optimistic. Every figure derived from it is an estimate.
//!
//! Efficiencies depend on the model measured: on the development machine generation reached
//! 0.39 (SmolLM2-135M Q4_1) to 0.77 (Qwen2.5-Coder 1.5B Q4_K_M) of the measured bandwidth,
//! and prompt processing 0.25 to 1.03 of the FP32 compute figure, so calibrate with a model of
//! the size and quantisation you deploy. Calibrated on one Q4_K_M model, the roofline predicted
//! the other's prompt speed within 6% and its generation within 0.7–1.4×; calibrated on
//! SmolLM2's Q4_1 it predicted a quarter of the Q4_K_M models' prompt speed (docs/devices.md).

use serde::{Deserialize, Serialize};

use super::profile::{Calibration, DeviceKind, DeviceProfile};
use super::roofline::{decode_bytes_per_token, prefill_flops_per_token};
use crate::facts::ModelShape;

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

/// Efficiencies that make [`predict`](super::predict) reproduce `figures` on this machine:
///
/// - `decode_efficiency = generation tok/s ÷ (bandwidth ÷ decode_bytes_per_token(prompt +
///   generated ÷ 2))`;
/// - `prefill_efficiency = prompt tok/s ÷ (compute ÷ prefill_flops_per_token(prompt ÷ 2))`.
pub fn calibrate(shape: &ModelShape, figures: &BenchFigures, source: String) -> Calibration {
    let context = figures.generation_prompt_tokens + figures.generated_tokens / 2.0;
    let roofline_decode = figures.bandwidth_gbs * 1e9 / decode_bytes_per_token(shape, context);
    let roofline_prefill =
        figures.compute_tflops * 1e12 / prefill_flops_per_token(shape, figures.prompt_tokens / 2.0);
    Calibration {
        decode_efficiency: figures.generation_tokens_per_s / roofline_decode,
        prefill_efficiency: figures.prompt_tokens_per_s / roofline_prefill,
        source,
    }
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

/// Why a saved calibration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    /// Not the JSON `bench-model` writes.
    #[error("not a calibration record: {0}")]
    Json(#[from] serde_json::Error),
    /// A figure that cannot be right.
    #[error("{field} is {value}; expected a positive, finite number")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Its value.
        value: f64,
    },
}

/// Reads and checks a saved record (the I/O is the caller's).
pub fn parse_calibration(text: &str) -> Result<CalibrationRecord, CalibrationError> {
    let record: CalibrationRecord = serde_json::from_str(text)?;
    let checks = [
        (
            "calibration.decode_efficiency",
            record.calibration.decode_efficiency,
        ),
        (
            "calibration.prefill_efficiency",
            record.calibration.prefill_efficiency,
        ),
        ("figures.bandwidth_gbs", record.figures.bandwidth_gbs),
        ("figures.compute_tflops", record.figures.compute_tflops),
    ];
    for (field, value) in checks {
        if !(value.is_finite() && value > 0.0) {
            return Err(CalibrationError::Invalid { field, value });
        }
    }
    Ok(record)
}

/// Reads a saved calibration file: a list of records (one per model measured), or a single
/// record (as files written before the list).
pub fn parse_calibrations(text: &str) -> Result<Vec<CalibrationRecord>, CalibrationError> {
    let value: serde_json::Value = serde_json::from_str(text)?;
    match value {
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(|item| parse_calibration(&item.to_string()))
            .collect(),
        single => Ok(vec![parse_calibration(&single.to_string())?]),
    }
}

/// The file name of a record's model (what matches a record to a model).
fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// `records` with `new` in place of any record of the same model file (newest last).
pub fn merge_calibration(
    records: Vec<CalibrationRecord>,
    new: CalibrationRecord,
) -> Vec<CalibrationRecord> {
    let mut out: Vec<CalibrationRecord> = records
        .into_iter()
        .filter(|r| file_name(&r.model_path) != file_name(&new.model_path))
        .collect();
    out.push(new);
    out
}

/// The record whose efficiencies best fit a model: one measured on the same model file, else the
/// newest one measured on the same quantisation (efficiencies depend on the kernels a
/// quantisation uses), else none — the caller then uses [`Calibration::default`].
pub fn choose_calibration<'a>(
    records: &'a [CalibrationRecord],
    model_path: &str,
    quantization: &str,
) -> Option<&'a CalibrationRecord> {
    let newest = |rs: Vec<&'a CalibrationRecord>| {
        rs.into_iter()
            .max_by(|a, b| a.measured_at.cmp(&b.measured_at))
    };
    newest(
        records
            .iter()
            .filter(|r| file_name(&r.model_path) == file_name(model_path))
            .collect(),
    )
    .or_else(|| {
        newest(
            records
                .iter()
                .filter(|r| r.quantization == quantization)
                .collect(),
        )
    })
}

impl CalibrationRecord {
    /// This machine as a device profile (`this-machine`), from the measured bandwidth and the
    /// compute estimate; usable memory is what was available when measured. Not priced.
    pub fn this_machine(&self) -> DeviceProfile {
        DeviceProfile {
            id: "this-machine".to_owned(),
            name: format!("This machine ({} threads)", self.threads),
            kind: DeviceKind::Cpu,
            memory_bytes: self.memory_bytes,
            usable_memory_bytes: self.available_memory_bytes.min(self.memory_bytes),
            bandwidth_gbs: self.figures.bandwidth_gbs,
            compute_tflops: self.figures.compute_tflops,
            price: None,
            sources: vec![format!(
                "rightfit bench-model on {}, {}",
                self.model, self.measured_at
            )],
            note: format!(
                "Measured: {}. Estimated: {}.",
                self.bandwidth_method, self.compute_method
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::predict;
    use crate::facts::Workload;

    fn shape() -> ModelShape {
        ModelShape {
            params: 100_000_000,
            weights_bytes: 60_000_000,
            layers: 10,
            heads: 8,
            kv_heads: 2,
            key_length: 64,
            value_length: 64,
            train_context: 4096,
            quantization: "Q4_0".into(),
        }
    }

    fn figures() -> BenchFigures {
        BenchFigures {
            prompt_tokens: 256.0,
            prompt_tokens_per_s: 500.0,
            generation_prompt_tokens: 4.0,
            generated_tokens: 128.0,
            generation_tokens_per_s: 100.0,
            bandwidth_gbs: 15.0,
            compute_tflops: 0.3328,
        }
    }

    #[test]
    fn calibrated_prediction_reproduces_the_measurement_on_this_machine() {
        let cal = calibrate(&shape(), &figures(), "test".into());
        let record = CalibrationRecord {
            calibration: cal.clone(),
            measured_at: "2026-11-30T00:00:00Z".into(),
            model: "toy".into(),
            model_path: "/toy.gguf".into(),
            quantization: "Q4_0".into(),
            threads: 2,
            figures: figures(),
            decode_bytes_per_token: 0.0,
            prefill_flops_per_token: 0.0,
            bandwidth_method: "m".into(),
            compute_method: "c".into(),
            memory_bytes: 8 << 30,
            available_memory_bytes: 6 << 30,
        };
        let here = record.this_machine();
        let generation = Workload {
            prompt_tokens: 4.0,
            output_tokens: 128.0,
            context_tokens: 132,
        };
        let s = predict(&shape(), &generation, &here, &cal);
        assert!((s.decode_tokens_per_s - 100.0).abs() < 1e-9, "{s:?}");
        let prompt = Workload {
            prompt_tokens: 256.0,
            output_tokens: 1.0,
            context_tokens: 257,
        };
        let s = predict(&shape(), &prompt, &here, &cal);
        assert!((s.prefill_tokens_per_s - 500.0).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn calibration_by_hand() {
        let cal = calibrate(&shape(), &figures(), "test".into());
        // Decode: 60 MB + 5,120 B/token (10 × 2 × 128 × 2) × 68 tokens = 60,348,160 B.
        let roofline = 15e9 / 60_348_160.0;
        assert!((cal.decode_efficiency - 100.0 / roofline).abs() < 1e-12);
        // Prefill: 2e8 + 2 × 10 × 8 × 128 × 128 = 202,621,440 FLOP; 332.8 GFLOPS ÷ that.
        let roofline = 0.3328e12 / 202_621_440.0;
        assert!((cal.prefill_efficiency - 500.0 / roofline).abs() < 1e-12);
    }

    #[test]
    fn parse_rejects_impossible_figures_and_round_trips() {
        // Figures that print exactly in JSON, so that the round trip compares equal.
        let mut record = CalibrationRecord {
            calibration: Calibration {
                decode_efficiency: 0.5,
                prefill_efficiency: 0.25,
                source: "test".into(),
            },
            measured_at: "2026-11-30T00:00:00Z".into(),
            model: "toy".into(),
            model_path: "/toy.gguf".into(),
            quantization: "Q4_0".into(),
            threads: 2,
            figures: figures(),
            decode_bytes_per_token: 1.0,
            prefill_flops_per_token: 1.0,
            bandwidth_method: "m".into(),
            compute_method: "c".into(),
            memory_bytes: 1,
            available_memory_bytes: 1,
        };
        let text = serde_json::to_string(&record).expect("serialise");
        assert_eq!(parse_calibration(&text).expect("valid"), record);
        record.calibration.decode_efficiency = 0.0;
        let text = serde_json::to_string(&record).expect("serialise");
        let err = parse_calibration(&text).expect_err("zero efficiency");
        assert!(err.to_string().contains("decode_efficiency"), "{err}");
        assert!(matches!(
            parse_calibration("{\"calibration\": 1}"),
            Err(CalibrationError::Json(_))
        ));
    }

    fn record(path: &str, quantization: &str, at: &str, decode: f64) -> CalibrationRecord {
        CalibrationRecord {
            calibration: Calibration {
                decode_efficiency: decode,
                prefill_efficiency: 0.5,
                source: path.into(),
            },
            measured_at: at.into(),
            model: "m".into(),
            model_path: path.into(),
            quantization: quantization.into(),
            threads: 2,
            figures: figures(),
            decode_bytes_per_token: 0.0,
            prefill_flops_per_token: 0.0,
            bandwidth_method: "m".into(),
            compute_method: "c".into(),
            memory_bytes: 8 << 30,
            available_memory_bytes: 6 << 30,
        }
    }

    #[test]
    fn records_are_kept_per_model_and_chosen_by_file_then_quantisation() {
        let a = record("/models/a.gguf", "Q4_1", "2026-11-30T01:00:00Z", 0.4);
        let b = record("/models/b.gguf", "Q4_K_M", "2026-11-30T02:00:00Z", 0.7);
        let records = merge_calibration(vec![a.clone()], b.clone());
        assert_eq!(records.len(), 2);
        // Measuring a again replaces its record, wherever the file now lives.
        let a2 = record("/elsewhere/a.gguf", "Q4_1", "2026-11-30T03:00:00Z", 0.45);
        let records = merge_calibration(records, a2.clone());
        assert_eq!(records, vec![b.clone(), a2.clone()]);
        assert_eq!(choose_calibration(&records, "/x/a.gguf", "Q8_0"), Some(&a2));
        assert_eq!(
            choose_calibration(&records, "/x/c.gguf", "Q4_K_M"),
            Some(&b)
        );
        assert_eq!(choose_calibration(&records, "/x/c.gguf", "Q8_0"), None);
        // The file holds a list; a single record (older files) reads as a list of one.
        let text = serde_json::to_string(&records).expect("json");
        assert_eq!(parse_calibrations(&text).expect("list"), records);
        let one = serde_json::to_string(&a).expect("json");
        assert_eq!(parse_calibrations(&one).expect("single"), vec![a]);
        let mut bad = serde_json::to_value(&records).expect("json");
        bad[1]["calibration"]["decode_efficiency"] = serde_json::json!(-1.0);
        assert!(parse_calibrations(&bad.to_string()).is_err());
    }
}

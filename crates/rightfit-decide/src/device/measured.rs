//! Efficiencies from a measurement on this machine, which saved record fits a model, and this
//! machine as a device profile. (The record's type and the defaults used when nothing was
//! measured are `rightfit_types::device`'s; reading and writing records, `rightfit_config`'s.)
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

use rightfit_types::device::{
    BenchFigures, Calibration, CalibrationRecord, MachineFigures, ModelBench, ModelShape,
    model_file_name,
};

use super::profile::{DeviceKind, DeviceProfile};
use super::roofline::{decode_bytes_per_token, prefill_flops_per_token};

/// Efficiencies that make [`predict`](super::roofline::predict) reproduce `figures` on this machine:
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

/// The record `bench-model` saves: the efficiencies [`calibrate`] derives from `bench` and
/// `machine` on a model of this `shape`, run with `threads` threads, with the figures they
/// rest on.
pub fn calibration_record(
    shape: &ModelShape,
    bench: &ModelBench,
    machine: MachineFigures,
    threads: usize,
    measured_at: String,
) -> CalibrationRecord {
    let figures = BenchFigures {
        prompt_tokens: bench.prompt_tokens as f64,
        prompt_tokens_per_s: bench.prompt_tokens_per_s.median,
        generation_prompt_tokens: bench.generation_prompt_tokens as f64,
        generated_tokens: f64::from(bench.gen_tokens),
        generation_tokens_per_s: bench.generation_tokens_per_s.median,
        bandwidth_gbs: machine.bandwidth_gbs,
        compute_tflops: machine.compute_tflops,
    };
    let source = format!(
        "bench-model on {}, {threads} threads, {measured_at}",
        bench.model
    );
    CalibrationRecord {
        calibration: calibrate(shape, &figures, source),
        measured_at,
        model: bench.model.clone(),
        model_path: bench.path.display().to_string(),
        quantization: shape.quantization.clone(),
        threads,
        decode_bytes_per_token: decode_bytes_per_token(
            shape,
            figures.generation_prompt_tokens + figures.generated_tokens / 2.0,
        ),
        prefill_flops_per_token: prefill_flops_per_token(shape, figures.prompt_tokens / 2.0),
        figures,
        bandwidth_method: machine.bandwidth_method,
        compute_method: machine.compute_method,
        memory_bytes: machine.memory_bytes,
        available_memory_bytes: machine.available_memory_bytes,
    }
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
            .filter(|r| model_file_name(&r.model_path) == model_file_name(model_path))
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

/// This machine as a device profile (`this-machine`), from the measured bandwidth and the
/// compute estimate; usable memory is what was available when measured. Not priced.
pub fn this_machine(record: &CalibrationRecord) -> DeviceProfile {
    DeviceProfile {
        id: "this-machine".to_owned(),
        name: format!("This machine ({} threads)", record.threads),
        kind: DeviceKind::Cpu,
        memory_bytes: record.memory_bytes,
        usable_memory_bytes: record.available_memory_bytes.min(record.memory_bytes),
        bandwidth_gbs: record.figures.bandwidth_gbs,
        compute_tflops: record.figures.compute_tflops,
        price: None,
        sources: vec![format!(
            "rightfit bench-model on {}, {}",
            record.model, record.measured_at
        )],
        note: format!(
            "Measured: {}. Estimated: {}.",
            record.bandwidth_method, record.compute_method
        ),
    }
}

#[cfg(test)]
mod tests {
    use rightfit_config::calibration::{merge_calibration, parse_calibrations};

    use super::*;
    use crate::candidate_facts::Workload;
    use crate::device::roofline::predict;

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
        let here = this_machine(&record);
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

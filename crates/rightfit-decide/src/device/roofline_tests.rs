//! Fit arithmetic and roofline estimates, against numbers worked out by hand.

use super::*;
use crate::device::DeviceKind;

/// SmolLM2-135M-Instruct Q4_1 as its GGUF header describes it.
fn smollm2() -> ModelShape {
    crate::candidate_facts::smollm2_135m_q4_1()
}

/// A toy model with round numbers.
fn toy() -> ModelShape {
    ModelShape {
        params: 100_000_000,
        weights_bytes: 50_000_000,
        layers: 4,
        heads: 4,
        kv_heads: 1,
        key_length: 32,
        value_length: 32,
        train_context: 2048,
        quantization: "Q4_0".into(),
    }
}

fn device(usable: u64, bandwidth_gbs: f64, compute_tflops: f64) -> DeviceProfile {
    DeviceProfile {
        id: "test".into(),
        name: "Test".into(),
        kind: DeviceKind::Cpu,
        memory_bytes: usable,
        usable_memory_bytes: usable,
        bandwidth_gbs,
        compute_tflops,
        price: None,
        sources: vec![],
        note: String::new(),
    }
}

fn calibration() -> Calibration {
    Calibration {
        decode_efficiency: 0.5,
        prefill_efficiency: 0.25,
        source: "test".into(),
    }
}

#[test]
fn kv_cache_of_smollm2_is_23040_bytes_a_token() {
    // 30 layers × 3 KV heads × (64 + 64) × 2 bytes.
    assert_eq!(kv_bytes_per_token(&smollm2()), 23_040);
}

#[test]
fn memory_needed_by_hand() {
    let f = memory_needed(&smollm2(), 8192, 1);
    assert_eq!(f.weights_bytes, 96_576_768);
    assert_eq!(f.kv_cache_bytes, 188_743_680); // 23,040 × 8,192
    // 48 MiB + 10% of the weights (9,657,676.8, truncated).
    assert_eq!(f.runtime_bytes, 50_331_648 + 9_657_676);
    assert_eq!(f.needed_bytes, 96_576_768 + 188_743_680 + 59_989_324);
    assert_eq!(f.available_bytes, None);
    assert!(f.fits);
    // Four sequences of 8,192 tokens: four times the KV cache, the rest unchanged.
    let four = memory_needed(&smollm2(), 8192, 4);
    assert_eq!(four.kv_cache_bytes, 4 * 188_743_680);
    assert_eq!(four.runtime_bytes, f.runtime_bytes);
    // Zero parallel sequences count as one.
    assert_eq!(memory_needed(&smollm2(), 8192, 0), f);
}

#[test]
fn fits_up_to_and_including_usable_memory() {
    let need = memory_needed(&smollm2(), 2048, 1).needed_bytes;
    let exact = fit(&smollm2(), 2048, 1, &device(need, 10.0, 1.0));
    assert!(exact.fits);
    assert_eq!(exact.available_bytes, Some(need));
    assert!(!fit(&smollm2(), 2048, 1, &device(need - 1, 10.0, 1.0)).fits);
    // A context too long for the device: 1M tokens of KV is 23 GB.
    assert!(!fit(&smollm2(), 1_000_000, 1, &device(8 << 30, 10.0, 1.0)).fits);
}

#[test]
fn predict_by_hand_for_a_toy_model() {
    let w = Workload {
        prompt_tokens: 100.0,
        output_tokens: 21.0,
        context_tokens: 121,
    };
    let s = predict(&toy(), &w, &device(1 << 30, 10.0, 1.0), &calibration());
    // KV: 4 × 1 × 64 × 2 = 512 B a token; mean context 100 + 21/2 = 110.5.
    let decode = 0.5 * 10e9 / (50_000_000.0 + 512.0 * 110.5);
    assert!((s.decode_tokens_per_s - decode).abs() < 1e-9, "{s:?}");
    // 2 × 1e8 + 2 × 4 layers × 4 heads × 64 × 50 (mean position) = 200,102,400 FLOP.
    let prefill = 0.25 * 1e12 / 200_102_400.0;
    assert!((s.prefill_tokens_per_s - prefill).abs() < 1e-9, "{s:?}");
    let ttft = 100.0 / prefill * 1000.0;
    assert!((s.ttft_ms - ttft).abs() < 1e-9);
    // The first token comes with the prompt: 20 more at the decode rate.
    assert!((s.request_ms - (ttft + 20.0 / decode * 1000.0)).abs() < 1e-9);
}

#[test]
fn a_one_token_prompt_is_bound_by_reading_the_weights() {
    let w = Workload {
        prompt_tokens: 1.0,
        output_tokens: 1.0,
        context_tokens: 2,
    };
    let s = predict(&toy(), &w, &device(1 << 30, 10.0, 1.0), &calibration());
    // 0.5 × 10 GB/s × 1 token ÷ 50 MB = 100 tok/s, far below the compute bound.
    assert!((s.prefill_tokens_per_s - 100.0).abs() < 1e-9, "{s:?}");
    assert!((s.ttft_ms - 10.0).abs() < 1e-9);
    assert_eq!(s.request_ms, s.ttft_ms, "one output token: no decode steps");
}

#[test]
fn more_bandwidth_is_never_slower_and_doubles_generation() {
    let w = Workload {
        prompt_tokens: 200.0,
        output_tokens: 50.0,
        context_tokens: 250,
    };
    let mut last: Option<Speed> = None;
    for bw in [1.0, 2.0, 4.0, 17.0, 100.0, 3350.0] {
        let s = predict(&smollm2(), &w, &device(1 << 30, bw, 1.0), &calibration());
        if let Some(prev) = &last {
            assert!(s.decode_tokens_per_s > prev.decode_tokens_per_s);
            assert!(s.prefill_tokens_per_s >= prev.prefill_tokens_per_s);
            assert!(s.request_ms < prev.request_ms);
        }
        last = Some(s);
    }
    let one = predict(&smollm2(), &w, &device(1 << 30, 10.0, 1.0), &calibration());
    let two = predict(&smollm2(), &w, &device(1 << 30, 20.0, 1.0), &calibration());
    assert!((two.decode_tokens_per_s / one.decode_tokens_per_s - 2.0).abs() < 1e-12);
}

#[test]
fn longer_contexts_generate_more_slowly() {
    let short = Workload {
        prompt_tokens: 10.0,
        output_tokens: 10.0,
        context_tokens: 20,
    };
    let long = Workload {
        prompt_tokens: 8000.0,
        ..short
    };
    let d = device(1 << 30, 10.0, 1.0);
    let a = predict(&smollm2(), &short, &d, &calibration());
    let b = predict(&smollm2(), &long, &d, &calibration());
    assert!(b.decode_tokens_per_s < a.decode_tokens_per_s);
    assert!(b.prefill_tokens_per_s < a.prefill_tokens_per_s);
}

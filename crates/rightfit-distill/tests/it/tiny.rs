//! A tiny random-weight llama or qwen2 written as a real GGUF file.

use std::path::Path;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

pub const VOCAB: usize = 40;

pub struct Shape {
    pub arch: &'static str,
    pub n_layer: usize,
    pub n_embd: usize,
    pub n_ff: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
}

pub const LLAMA: Shape = Shape {
    arch: "llama",
    n_layer: 2,
    n_embd: 16,
    n_ff: 24,
    n_head: 4,
    n_head_kv: 2,
};

pub const QWEN2: Shape = Shape {
    arch: "qwen2",
    n_layer: 2,
    n_embd: 16,
    n_ff: 24,
    n_head: 4,
    n_head_kv: 1,
};

fn random(rng: &mut ChaCha8Rng, dims: &[usize], scale: f32) -> Tensor {
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| ((rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * scale)
        .collect();
    Tensor::from_vec(v, dims, &Device::Cpu).expect("shape matches length")
}

/// Writes a tiny model; `seed` picks its weights.
pub fn write(path: &Path, s: &Shape, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let hd = s.n_embd / s.n_head;
    let (d, q, kv, ff) = (s.n_embd, s.n_head * hd, s.n_head_kv * hd, s.n_ff);
    let mut tensors: Vec<(String, Tensor)> = vec![
        (
            "token_embd.weight".into(),
            random(&mut rng, &[VOCAB, d], 1.0),
        ),
        (
            "output_norm.weight".into(),
            (random(&mut rng, &[d], 0.2) + 1.0).expect("add"),
        ),
    ];
    for i in 0..s.n_layer {
        let mut push = |name: &str, dims: &[usize], scale: f32, offset: f64| {
            let t = (random(&mut rng, dims, scale) + offset).expect("add");
            tensors.push((format!("blk.{i}.{name}"), t));
        };
        push("attn_norm.weight", &[d], 0.2, 1.0);
        push("attn_q.weight", &[q, d], 0.5, 0.0);
        push("attn_k.weight", &[kv, d], 0.5, 0.0);
        push("attn_v.weight", &[kv, d], 0.5, 0.0);
        push("attn_output.weight", &[d, q], 0.5, 0.0);
        if s.arch == "qwen2" {
            push("attn_q.bias", &[q], 0.3, 0.0);
            push("attn_k.bias", &[kv], 0.3, 0.0);
            push("attn_v.bias", &[kv], 0.3, 0.0);
        }
        push("ffn_norm.weight", &[d], 0.2, 1.0);
        push("ffn_gate.weight", &[ff, d], 0.5, 0.0);
        push("ffn_up.weight", &[ff, d], 0.5, 0.0);
        push("ffn_down.weight", &[d, ff], 0.5, 0.0);
    }
    let a = s.arch;
    let md: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(a.into())),
        (format!("{a}.block_count"), Value::U32(s.n_layer as u32)),
        (format!("{a}.embedding_length"), Value::U32(d as u32)),
        (format!("{a}.feed_forward_length"), Value::U32(ff as u32)),
        (
            format!("{a}.attention.head_count"),
            Value::U32(s.n_head as u32),
        ),
        (
            format!("{a}.attention.head_count_kv"),
            Value::U32(s.n_head_kv as u32),
        ),
        (
            format!("{a}.attention.layer_norm_rms_epsilon"),
            Value::F32(1e-5),
        ),
        (format!("{a}.rope.freq_base"), Value::F32(10_000.0)),
    ];
    let q: Vec<(String, QTensor)> = tensors
        .iter()
        .map(|(n, t)| {
            (
                n.clone(),
                QTensor::quantize(t, GgmlDType::F32).expect("f32"),
            )
        })
        .collect();
    let mdr: Vec<(&str, &Value)> = md.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tr: Vec<(&str, &QTensor)> = q.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut f = std::fs::File::create(path).expect("create");
    gguf_file::write(&mut f, &mdr, &tr).expect("write gguf");
}

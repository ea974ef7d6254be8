//! The frozen base model: hyper-parameters and weights read from a llama or qwen2 GGUF file,
//! dequantised to F32 once.
//!
//! Tensor names are the GGUF's own (`blk.3.attn_q.weight`), so a LoRA trained on them maps
//! straight onto llama.cpp's tensors. Q and K stay in the GGUF's layout: the converter permuted
//! the rows of llama-architecture Q/K for llama.cpp's pairwise ("normal") rope, so the trainer
//! uses that rope too ([`RopeStyle::Pairs`]), and qwen2 keeps the half-split NEOX rope.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::{Device, Tensor};

use crate::error::{DistillError, Result, gguf_err, io_err};

/// Model architectures this trainer reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// `llama` (SmolLM2, Llama 2/3 without rope scaling).
    Llama,
    /// `qwen2` (Qwen2 and Qwen2.5: Q/K/V biases, NEOX rope).
    Qwen2,
}

impl Arch {
    /// The `general.architecture` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
        }
    }

    fn parse(s: &str) -> Option<Arch> {
        match s {
            "llama" => Some(Arch::Llama),
            "qwen2" => Some(Arch::Qwen2),
            _ => None,
        }
    }

    /// How llama.cpp rotates Q and K for this architecture (`llama_model_rope_type`).
    pub fn rope_style(self) -> RopeStyle {
        match self {
            Arch::Llama => RopeStyle::Pairs,
            Arch::Qwen2 => RopeStyle::Halves,
        }
    }
}

/// Which dimensions rope rotates together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeStyle {
    /// Adjacent pairs `(x[2i], x[2i+1])`: `LLAMA_ROPE_TYPE_NORM`.
    Pairs,
    /// `(x[i], x[i + d/2])`: `LLAMA_ROPE_TYPE_NEOX`.
    Halves,
}

/// The shape of the network.
#[derive(Debug, Clone, PartialEq)]
pub struct Hparams {
    /// Architecture.
    pub arch: Arch,
    /// Transformer blocks.
    pub n_layer: usize,
    /// Hidden width.
    pub n_embd: usize,
    /// Feed-forward width.
    pub n_ff: usize,
    /// Query heads.
    pub n_head: usize,
    /// Key/value heads (grouped-query attention when fewer than `n_head`).
    pub n_head_kv: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// RMSNorm epsilon.
    pub rms_eps: f32,
    /// Rope frequency base.
    pub rope_base: f32,
    /// Vocabulary size.
    pub vocab: usize,
    /// Attention scale (1/sqrt(head_dim) unless the file says otherwise).
    pub attn_scale: f32,
}

/// A frozen weight matrix `[out, in]`, applied as `x · Wᵀ`.
#[derive(Debug, Clone)]
pub struct Frozen {
    /// `[out, in]`, contiguous.
    pub w: Tensor,
}

impl Frozen {
    /// Output width.
    pub fn out_dim(&self) -> usize {
        self.w.dims().first().copied().unwrap_or(0)
    }
    /// Input width.
    pub fn in_dim(&self) -> usize {
        self.w.dims().get(1).copied().unwrap_or(0)
    }
}

/// One transformer block's frozen weights. Q, K and V are stacked into one matrix, and so are
/// gate and up: one larger product runs faster than three or two small ones.
#[derive(Debug, Clone)]
pub struct Layer {
    /// `attn_norm`.
    pub attn_norm: Tensor,
    /// `attn_q`, `attn_k`, `attn_v` stacked: rows `[q | k | v]`.
    pub qkv: Frozen,
    /// Their biases stacked the same way (qwen2), when the file has them.
    pub qkv_bias: Option<Tensor>,
    /// `attn_output`.
    pub o: Frozen,
    /// `ffn_norm`.
    pub ffn_norm: Tensor,
    /// `ffn_gate` and `ffn_up` stacked: rows `[gate | up]`.
    pub gate_up: Frozen,
    /// `ffn_down`.
    pub down: Frozen,
}

/// A base model ready for the trainable forward pass.
#[derive(Debug, Clone)]
pub struct BaseModel {
    /// The GGUF file.
    pub path: PathBuf,
    /// Shape.
    pub hparams: Hparams,
    /// `token_embd.weight` `[vocab, n_embd]`.
    pub tok_embd: Tensor,
    /// `output_norm.weight`.
    pub output_norm: Tensor,
    /// `output.weight`, or the token embedding when the file ties them.
    pub output: Frozen,
    /// `output.bias`, when present.
    pub output_bias: Option<Tensor>,
    /// Blocks, bottom first.
    pub layers: Vec<Layer>,
}

/// The GGUF header of a base model: enough to check adapters and checkpoints against it.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseHeader {
    /// Shape.
    pub hparams: Hparams,
    /// Every tensor's dimensions, outermost first (candle order: `[out, in]` for a matrix).
    pub shapes: HashMap<String, Vec<usize>>,
}

fn meta_usize(md: &HashMap<String, Value>, key: &str) -> Option<usize> {
    let v = md.get(key)?;
    let n: i128 = match v {
        Value::U8(x) => (*x).into(),
        Value::I8(x) => (*x).into(),
        Value::U16(x) => (*x).into(),
        Value::I16(x) => (*x).into(),
        Value::U32(x) => (*x).into(),
        Value::I32(x) => (*x).into(),
        Value::U64(x) => (*x).into(),
        Value::I64(x) => (*x).into(),
        _ => return None,
    };
    usize::try_from(n).ok()
}

fn meta_f32(md: &HashMap<String, Value>, key: &str) -> Option<f32> {
    match md.get(key)? {
        Value::F32(x) => Some(*x),
        Value::F64(x) => Some(*x as f32),
        _ => None,
    }
}

fn meta_str<'a>(md: &'a HashMap<String, Value>, key: &str) -> Option<&'a str> {
    match md.get(key)? {
        Value::String(s) => Some(s.as_str()),
        _ => None,
    }
}

pub(crate) fn open_gguf(path: &Path) -> Result<(Content, BufReader<File>)> {
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    let mut reader = BufReader::new(file);
    let content = Content::read(&mut reader)
        .map_err(|e| gguf_err(path, format!("not a readable GGUF file: {e}")))?;
    Ok((content, reader))
}

pub(crate) fn string_meta(content: &Content, key: &str) -> Option<String> {
    meta_str(&content.metadata, key).map(str::to_owned)
}

pub(crate) fn f32_meta(content: &Content, key: &str) -> Option<f32> {
    meta_f32(&content.metadata, key)
}

fn hparams(path: &Path, content: &Content) -> Result<Hparams> {
    let md = &content.metadata;
    let unsupported = |detail: String| DistillError::Unsupported {
        path: path.to_owned(),
        detail,
    };
    let arch_name = meta_str(md, "general.architecture")
        .ok_or_else(|| gguf_err(path, "no general.architecture"))?;
    let arch = Arch::parse(arch_name).ok_or_else(|| {
        unsupported(format!(
            "architecture '{arch_name}'; the trainer reproduces 'llama' and 'qwen2'"
        ))
    })?;
    let a = arch.as_str();
    let need = |key: &str| {
        meta_usize(md, &format!("{a}.{key}"))
            .ok_or_else(|| gguf_err(path, format!("missing or non-integer {a}.{key}")))
    };
    let n_layer = need("block_count")?;
    let n_embd = need("embedding_length")?;
    let n_ff = need("feed_forward_length")?;
    let n_head = need("attention.head_count")?;
    let n_head_kv = meta_usize(md, &format!("{a}.attention.head_count_kv")).unwrap_or(n_head);
    if n_head == 0
        || n_head_kv == 0
        || !n_head.is_multiple_of(n_head_kv)
        || !n_embd.is_multiple_of(n_head)
    {
        return Err(unsupported(format!(
            "{n_head} query heads, {n_head_kv} key/value heads, width {n_embd}"
        )));
    }
    let head_dim = meta_usize(md, &format!("{a}.attention.key_length")).unwrap_or(n_embd / n_head);
    let v_dim = meta_usize(md, &format!("{a}.attention.value_length")).unwrap_or(head_dim);
    let rot = meta_usize(md, &format!("{a}.rope.dimension_count")).unwrap_or(head_dim);
    if v_dim != head_dim || rot != head_dim || !head_dim.is_multiple_of(2) {
        return Err(unsupported(format!(
            "key width {head_dim}, value width {v_dim}, rope over {rot} dimensions (the trainer needs them equal and even)"
        )));
    }
    if let Some(kind) = meta_str(md, &format!("{a}.rope.scaling.type"))
        && kind != "none"
    {
        return Err(unsupported(format!("rope scaling '{kind}'")));
    }
    if meta_usize(md, &format!("{a}.expert_count")).unwrap_or(0) > 0 {
        return Err(unsupported("mixture-of-experts layers".to_owned()));
    }
    if content.tensor_infos.contains_key("rope_freqs.weight") {
        return Err(unsupported(
            "rope frequency factors (llama 3 rope scaling)".to_owned(),
        ));
    }
    if content.tensor_infos.contains_key("blk.0.attn_qkv.weight") {
        return Err(unsupported("a fused attn_qkv tensor".to_owned()));
    }
    let vocab = content
        .tensor_infos
        .get("token_embd.weight")
        .and_then(|t| t.shape.dims().first().copied())
        .ok_or_else(|| gguf_err(path, "no token_embd.weight tensor"))?;
    Ok(Hparams {
        arch,
        n_layer,
        n_embd,
        n_ff,
        n_head,
        n_head_kv,
        head_dim,
        rms_eps: meta_f32(md, &format!("{a}.attention.layer_norm_rms_epsilon")).unwrap_or(1e-5),
        rope_base: meta_f32(md, &format!("{a}.rope.freq_base")).unwrap_or(10_000.0),
        vocab,
        attn_scale: meta_f32(md, &format!("{a}.attention.scale"))
            .filter(|s| *s != 0.0)
            .unwrap_or(1.0 / (head_dim as f32).sqrt()),
    })
}

impl BaseHeader {
    /// Reads a base model's header (no weights).
    pub fn read(path: &Path) -> Result<BaseHeader> {
        let (content, _) = open_gguf(path)?;
        Self::from_content(path, &content)
    }

    fn from_content(path: &Path, content: &Content) -> Result<BaseHeader> {
        Ok(BaseHeader {
            hparams: hparams(path, content)?,
            shapes: content
                .tensor_infos
                .iter()
                .map(|(k, v)| (k.clone(), v.shape.dims().to_vec()))
                .collect(),
        })
    }
}

/// Reads tensors from an open GGUF, checking shapes.
struct Loader<'a> {
    path: &'a Path,
    content: &'a Content,
    reader: BufReader<File>,
}

impl Loader<'_> {
    fn get(&mut self, name: &str, dims: &[usize]) -> Result<Tensor> {
        let t = self.optional(name, dims)?;
        t.ok_or_else(|| gguf_err(self.path, format!("missing tensor {name}")))
    }

    fn optional(&mut self, name: &str, dims: &[usize]) -> Result<Option<Tensor>> {
        let Some(info) = self.content.tensor_infos.get(name) else {
            return Ok(None);
        };
        if info.shape.dims() != dims {
            return Err(gguf_err(
                self.path,
                format!(
                    "tensor {name} is {:?}, expected {dims:?} from the header",
                    info.shape.dims()
                ),
            ));
        }
        let q = info
            .read(
                &mut self.reader,
                self.content.tensor_data_offset,
                &Device::Cpu,
            )
            .map_err(|e| gguf_err(self.path, format!("tensor {name}: {e}")))?;
        let t = q
            .dequantize(&Device::Cpu)
            .map_err(|e| gguf_err(self.path, format!("tensor {name} ({:?}): {e}", q.dtype())))?;
        Ok(Some(t.contiguous()?))
    }

    fn frozen(&mut self, name: &str, out: usize, inp: usize) -> Result<Frozen> {
        Ok(Frozen {
            w: self.get(name, &[out, inp])?,
        })
    }

    /// Reads matrices `[out_i, inp]` and stacks their rows.
    fn stacked(&mut self, parts: &[(&str, usize)], inp: usize) -> Result<Frozen> {
        let mut ts = Vec::with_capacity(parts.len());
        for (name, out) in parts {
            ts.push(self.get(name, &[*out, inp])?);
        }
        Ok(Frozen {
            w: Tensor::cat(&ts, 0)?.contiguous()?,
        })
    }
}

impl BaseModel {
    /// Loads a llama or qwen2 GGUF and dequantises every weight to F32.
    pub fn load(path: &Path) -> Result<BaseModel> {
        let (content, reader) = open_gguf(path)?;
        let hp = hparams(path, &content)?;
        let mut l = Loader {
            path,
            content: &content,
            reader,
        };
        let (d, ff, q_out, kv_out) = (
            hp.n_embd,
            hp.n_ff,
            hp.n_head * hp.head_dim,
            hp.n_head_kv * hp.head_dim,
        );
        let tok_embd = l.get("token_embd.weight", &[hp.vocab, d])?;
        let output_norm = l.get("output_norm.weight", &[d])?;
        let output = match l.optional("output.weight", &[hp.vocab, d])? {
            Some(w) => Frozen { w },
            None => Frozen {
                w: tok_embd.clone(),
            },
        };
        let output_bias = l.optional("output.bias", &[hp.vocab])?;
        let mut layers = Vec::with_capacity(hp.n_layer);
        for i in 0..hp.n_layer {
            let n = |s: &str| format!("blk.{i}.{s}");
            let biases = [
                l.optional(&n("attn_q.bias"), &[q_out])?,
                l.optional(&n("attn_k.bias"), &[kv_out])?,
                l.optional(&n("attn_v.bias"), &[kv_out])?,
            ];
            let qkv_bias = match biases {
                [None, None, None] => None,
                [q, k, v] => {
                    let zeros =
                        |len: usize| Tensor::zeros(len, candle_core::DType::F32, &Device::Cpu);
                    let q = q.map_or_else(|| zeros(q_out), Ok)?;
                    let k = k.map_or_else(|| zeros(kv_out), Ok)?;
                    let v = v.map_or_else(|| zeros(kv_out), Ok)?;
                    Some(Tensor::cat(&[q, k, v], 0)?)
                }
            };
            let (q, k, v) = (n("attn_q.weight"), n("attn_k.weight"), n("attn_v.weight"));
            let (gate, up) = (n("ffn_gate.weight"), n("ffn_up.weight"));
            layers.push(Layer {
                attn_norm: l.get(&n("attn_norm.weight"), &[d])?,
                qkv: l.stacked(&[(&q, q_out), (&k, kv_out), (&v, kv_out)], d)?,
                qkv_bias,
                o: l.frozen(&n("attn_output.weight"), d, q_out)?,
                ffn_norm: l.get(&n("ffn_norm.weight"), &[d])?,
                gate_up: l.stacked(&[(&gate, ff), (&up, ff)], d)?,
                down: l.frozen(&n("ffn_down.weight"), d, ff)?,
            });
        }
        Ok(BaseModel {
            path: path.to_owned(),
            hparams: hp,
            tok_embd,
            output_norm,
            output,
            output_bias,
            layers,
        })
    }

    /// The header view of this model (for adapter checks).
    pub fn header(&self) -> Result<BaseHeader> {
        BaseHeader::read(&self.path)
    }
}

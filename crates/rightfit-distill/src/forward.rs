//! The trainable forward pass of llama and qwen2, following llama.cpp's graphs
//! (`src/models/llama.cpp`, `src/models/qwen2.cpp`): RMSNorm, Q/K/V (+ biases), rope, causal
//! grouped-query attention, output projection, SwiGLU feed-forward, final norm, output head.
//!
//! Every op has a backward pass: candle's own, or the fused ones in `ops` (RMSNorm, rope, causal
//! softmax, products with frozen weights).
//! Sequences of unequal length are right-padded: positions count from 0 in every row, and the
//! causal mask already keeps every real token from seeing the padding after it. Logits are
//! computed only at the positions that predict an answer token: the hidden states are gathered
//! before the output head, whose vocabulary-wide product dominates otherwise.

use candle_core::{D, DType, Device, Tensor};
use candle_nn::ops::log_softmax;

use crate::base::{BaseModel, Frozen, Layer};
use crate::error::{DistillError, Result};
use crate::lora::{LoraWeights, Projection};
use crate::ops::{Part, RopeTables, causal_softmax, frozen_linear, lora_linear, rms_norm, rope};

/// One training example: tokens, and which of them are answer tokens (scored by the loss).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// Token ids, BOS included when the model wants one.
    pub tokens: Vec<u32>,
    /// `answer[t]`: token `t` is predicted and scored. The first token cannot be.
    pub answer: Vec<bool>,
}

impl Example {
    /// A prompt followed by its answer; only the answer is scored.
    pub fn prompt_answer(prompt: &[u32], answer: &[u32]) -> Example {
        let mut tokens = prompt.to_vec();
        tokens.extend_from_slice(answer);
        let mut mask = vec![false; prompt.len()];
        mask.extend(std::iter::repeat_n(true, answer.len()));
        Example {
            tokens,
            answer: mask,
        }
    }

    /// Answer tokens.
    pub fn answer_tokens(&self) -> usize {
        self.answer.iter().filter(|a| **a).count()
    }
}

/// Examples padded into one batch.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[b, t]` token ids, right-padded.
    pub ids: Tensor,
    /// Rows of the flattened `[b·t]` hidden states that predict an answer token.
    pub rows: Tensor,
    /// The answer tokens those rows predict.
    pub targets: Tensor,
    /// Sequences.
    pub size: usize,
    /// Padded length.
    pub len: usize,
    /// Real (unpadded) tokens.
    pub tokens: usize,
    /// Answer tokens scored.
    pub answer_tokens: usize,
}

impl Batch {
    /// Pads examples into a batch. `vocab` bounds the token ids.
    pub fn new(examples: &[&Example], vocab: usize) -> Result<Batch> {
        let len = examples.iter().map(|e| e.tokens.len()).max().unwrap_or(0);
        if examples.is_empty() || len == 0 {
            return Err(DistillError::Example("an empty batch".into()));
        }
        let mut ids = Vec::with_capacity(examples.len() * len);
        let mut rows = Vec::new();
        let mut targets = Vec::new();
        for (b, e) in examples.iter().enumerate() {
            if e.answer.len() != e.tokens.len() {
                return Err(DistillError::Example(format!(
                    "{} tokens but an answer mask of {}",
                    e.tokens.len(),
                    e.answer.len()
                )));
            }
            if e.answer.first() == Some(&true) {
                return Err(DistillError::Example(
                    "the first token is marked as answer, but nothing precedes it to predict it"
                        .into(),
                ));
            }
            if let Some(&bad) = e.tokens.iter().find(|&&t| t as usize >= vocab) {
                return Err(DistillError::Example(format!(
                    "token id {bad} is outside the vocabulary of {vocab}"
                )));
            }
            ids.extend_from_slice(&e.tokens);
            ids.extend(std::iter::repeat_n(0u32, len - e.tokens.len()));
            for (t, _) in e.answer.iter().enumerate().filter(|(_, a)| **a) {
                rows.push(
                    u32::try_from(b * len + t - 1)
                        .map_err(|_| DistillError::Example("batch too large to index".into()))?,
                );
                targets.push(e.tokens[t]);
            }
        }
        if rows.is_empty() {
            return Err(DistillError::Example(
                "no answer tokens in the batch".into(),
            ));
        }
        let n = rows.len();
        Ok(Batch {
            ids: Tensor::from_vec(ids, (examples.len(), len), &Device::Cpu)?,
            rows: Tensor::from_vec(rows, n, &Device::Cpu)?,
            targets: Tensor::from_vec(targets, n, &Device::Cpu)?,
            size: examples.len(),
            len,
            tokens: examples.iter().map(|e| e.tokens.len()).sum(),
            answer_tokens: n,
        })
    }
}

/// The base model with its LoRA weights.
#[derive(Debug, Clone)]
pub struct Model {
    /// Frozen weights.
    pub base: BaseModel,
    /// Trainable weights.
    pub lora: LoraWeights,
}

struct Ctx {
    b: usize,
    t: usize,
    rope: RopeTables,
}

impl Model {
    /// Pairs a base model with LoRA weights made for it.
    pub fn new(base: BaseModel, lora: LoraWeights) -> Result<Model> {
        lora.config.validate(&base.hparams)?;
        for p in &lora.pairs {
            let (out, inp) = p.proj.dims(&base.hparams);
            if p.layer >= base.hparams.n_layer
                || p.a.dims() != [lora.config.rank, inp]
                || p.b.dims() != [out, lora.config.rank]
            {
                return Err(DistillError::Settings(format!(
                    "LoRA pair {} does not fit the base model",
                    p.base_name()
                )));
            }
        }
        Ok(Model { base, lora })
    }

    /// `x·Wᵀ` for a stack of projections (`parts` in row order) plus each one's LoRA update,
    /// split back into the parts.
    fn project(
        &self,
        x: &Tensor,
        w: &Frozen,
        layer: usize,
        parts: &[Projection],
    ) -> Result<Vec<Tensor>> {
        let hp = &self.base.hparams;
        let pairs: Vec<_> = parts.iter().map(|&p| self.lora.get(layer, p)).collect();
        let y = if pairs.iter().all(Option::is_none) {
            frozen_linear(x, w)?
        } else {
            let layout: Vec<Part> = parts
                .iter()
                .zip(&pairs)
                .map(|(p, pair)| Part {
                    out: p.dims(hp).0,
                    lora: pair.is_some(),
                })
                .collect();
            let a: Vec<&Tensor> = pairs.iter().flatten().map(|p| p.a.as_tensor()).collect();
            let b: Vec<&Tensor> = pairs.iter().flatten().map(|p| p.b.as_tensor()).collect();
            let (a, b) = (Tensor::cat(&a, 0)?, Tensor::cat(&b, 0)?);
            lora_linear(x, w, &layout, &a, &b, self.lora.config.scale())?
        };
        if parts.len() == 1 {
            return Ok(vec![y]);
        }
        let mut out = Vec::with_capacity(parts.len());
        let mut at = 0;
        for p in parts {
            let width = p.dims(hp).0;
            out.push(y.narrow(1, at, width)?);
            at += width;
        }
        Ok(out)
    }

    fn attention(&self, x: &Tensor, i: usize, l: &Layer, ctx: &Ctx) -> Result<Tensor> {
        let hp = &self.base.hparams;
        let (b, t, hd) = (ctx.b, ctx.t, hp.head_dim);
        let (h, hkv) = (hp.n_head, hp.n_head_kv);
        let rep = h / hkv;
        let mut qkv = self.project(x, &l.qkv, i, &[Projection::Q, Projection::K, Projection::V])?;
        if let Some(bias) = &l.qkv_bias {
            let widths = [h * hd, hkv * hd, hkv * hd];
            let mut at = 0;
            for (y, w) in qkv.iter_mut().zip(widths) {
                *y = y.broadcast_add(&bias.narrow(0, at, w)?)?;
                at += w;
            }
        }
        let [q, k, v] = <[Tensor; 3]>::try_from(qkv)
            .map_err(|_| DistillError::Settings("q, k and v".into()))?;
        // [b, heads, t, hd]
        let q = q.reshape((b, t, h, hd))?.transpose(1, 2)?.contiguous()?;
        let k = k.reshape((b, t, hkv, hd))?.transpose(1, 2)?.contiguous()?;
        let v = v.reshape((b, t, hkv, hd))?.transpose(1, 2)?.contiguous()?;
        let style = hp.arch.rope_style();
        let q = rope(&q, &ctx.rope, style)?;
        let k = rope(&k, &ctx.rope, style)?;
        // Query head j reads key/value head j / rep (ggml's broadcast rule): group the query
        // heads of one kv head into one matrix instead of repeating K and V.
        let q = q.reshape((b, hkv, rep * t, hd))?;
        let probs = causal_softmax(&q.matmul(&k.t()?)?, hp.attn_scale)?;
        let out = probs
            .matmul(&v)?
            .reshape((b, h, t, hd))?
            .transpose(1, 2)?
            .reshape((b * t, h * hd))?;
        Ok(self.project(&out, &l.o, i, &[Projection::O])?.remove(0))
    }

    fn feed_forward(&self, x: &Tensor, i: usize, l: &Layer) -> Result<Tensor> {
        let mut gu = self.project(x, &l.gate_up, i, &[Projection::Gate, Projection::Up])?;
        let up = gu
            .pop()
            .ok_or_else(|| DistillError::Settings("up".into()))?;
        let gate = gu
            .pop()
            .ok_or_else(|| DistillError::Settings("gate".into()))?;
        let act = (candle_nn::ops::silu(&gate)? * up)?;
        Ok(self
            .project(&act, &l.down, i, &[Projection::Down])?
            .remove(0))
    }

    /// Final hidden states `[b·t, n_embd]` after the output norm.
    fn hidden(&self, batch: &Batch) -> Result<Tensor> {
        let hp = &self.base.hparams;
        let (b, t) = (batch.size, batch.len);
        let ctx = Ctx {
            b,
            t,
            rope: RopeTables::new(t, hp.head_dim, hp.rope_base),
        };
        let ids = batch.ids.flatten_all()?;
        let mut x = self.base.tok_embd.index_select(&ids, 0)?;
        for (i, l) in self.base.layers.iter().enumerate() {
            let n = rms_norm(&x, &l.attn_norm, hp.rms_eps)?;
            x = (self.attention(&n, i, l, &ctx)? + x)?;
            let n = rms_norm(&x, &l.ffn_norm, hp.rms_eps)?;
            x = (self.feed_forward(&n, i, l)? + x)?;
        }
        Ok(rms_norm(&x, &self.base.output_norm, hp.rms_eps)?)
    }

    /// Log-softmax over the vocabulary at the rows that predict answer tokens `[n, vocab]`.
    fn answer_log_probs(&self, batch: &Batch) -> Result<Tensor> {
        let h = self.hidden(batch)?.index_select(&batch.rows, 0)?;
        let mut logits = frozen_linear(&h, &self.base.output)?;
        if let Some(bias) = &self.base.output_bias {
            logits = logits.broadcast_add(bias)?;
        }
        Ok(log_softmax(&logits, D::Minus1)?)
    }

    /// Mean cross-entropy over the batch's answer tokens (a scalar that backpropagates).
    pub fn loss(&self, batch: &Batch) -> Result<Tensor> {
        let lp = self.answer_log_probs(batch)?;
        let picked = lp.gather(&batch.targets.unsqueeze(1)?, 1)?;
        Ok(picked.mean_all()?.neg()?)
    }

    /// The log-probability of every answer token, in batch order (no gradient needed).
    pub fn token_log_probs(&self, batch: &Batch) -> Result<Vec<f32>> {
        let lp = self.answer_log_probs(batch)?.detach();
        let picked = lp.gather(&batch.targets.unsqueeze(1)?, 1)?;
        Ok(picked
            .flatten_all()?
            .to_dtype(DType::F32)?
            .to_vec1::<f32>()?)
    }
}

//! A BERT encoder in candle (CPU, F32) for sentence embeddings: the forward pass of Hugging
//! Face's `BertModel` without the pooler, then mean pooling over the attention mask.
//!
//! Written here rather than taken from candle-transformers (whose `bert` module does the same in
//! 630 lines) to avoid compiling that crate's 83,000 lines for one model, and to batch the
//! projections as single matrix products over every token of a batch.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{D, DType, Device, Module, Tensor};
use candle_nn::{Embedding, LayerNorm, VarBuilder};
use serde::Deserialize;

use crate::error::StudentError;

/// The fields of a Hugging Face BERT `config.json` this encoder uses.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    /// `bert`.
    pub model_type: String,
    /// Tokens in the vocabulary.
    pub vocab_size: usize,
    /// Width of every hidden state (the embedding's dimensions).
    pub hidden_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Longest input in tokens.
    pub max_position_embeddings: usize,
    /// Token type (segment) embeddings.
    pub type_vocab_size: usize,
    /// Layer-norm epsilon.
    pub layer_norm_eps: f64,
    /// `gelu` (the exact, erf form).
    pub hidden_act: String,
}

impl BertConfig {
    /// Reads and checks `config.json`.
    pub fn from_file(path: &Path) -> Result<Self, StudentError> {
        let bad = |detail: String| StudentError::Model {
            path: path.to_owned(),
            detail,
        };
        let text = std::fs::read_to_string(path).map_err(|source| StudentError::Io {
            path: path.to_owned(),
            source,
        })?;
        let c: BertConfig =
            serde_json::from_str(&text).map_err(|e| bad(format!("not a BERT config: {e}")))?;
        if c.model_type != "bert" {
            return Err(bad(format!(
                "model_type is '{}'; only BERT encoders are supported",
                c.model_type
            )));
        }
        if c.hidden_act != "gelu" {
            return Err(bad(format!(
                "hidden_act is '{}'; only 'gelu' is supported",
                c.hidden_act
            )));
        }
        if c.num_attention_heads == 0 || !c.hidden_size.is_multiple_of(c.num_attention_heads) {
            return Err(bad(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                c.hidden_size, c.num_attention_heads
            )));
        }
        Ok(c)
    }
}

/// One projection `x W^T + b` over a `[tokens, in]` matrix.
#[derive(Debug)]
struct Dense {
    weight_t: Tensor,
    bias: Tensor,
}

impl Dense {
    fn load(vb: VarBuilder, inputs: usize, outputs: usize) -> candle_core::Result<Self> {
        let weight = vb.get((outputs, inputs), "weight")?;
        Ok(Self {
            weight_t: weight.t()?.contiguous()?,
            bias: vb.get(outputs, "bias")?,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.weight_t)?.broadcast_add(&self.bias)
    }
}

#[derive(Debug)]
struct Layer {
    query: Dense,
    key: Dense,
    value: Dense,
    attention_out: Dense,
    attention_norm: LayerNorm,
    intermediate: Dense,
    output: Dense,
    output_norm: LayerNorm,
}

impl Layer {
    fn load(vb: VarBuilder, c: &BertConfig) -> candle_core::Result<Self> {
        let (h, i) = (c.hidden_size, c.intermediate_size);
        let norm = |vb: VarBuilder| candle_nn::layer_norm(h, c.layer_norm_eps, vb);
        let attention = vb.pp("attention");
        Ok(Self {
            query: Dense::load(attention.pp("self").pp("query"), h, h)?,
            key: Dense::load(attention.pp("self").pp("key"), h, h)?,
            value: Dense::load(attention.pp("self").pp("value"), h, h)?,
            attention_out: Dense::load(attention.pp("output").pp("dense"), h, h)?,
            attention_norm: norm(attention.pp("output").pp("LayerNorm"))?,
            intermediate: Dense::load(vb.pp("intermediate").pp("dense"), h, i)?,
            output: Dense::load(vb.pp("output").pp("dense"), i, h)?,
            output_norm: norm(vb.pp("output").pp("LayerNorm"))?,
        })
    }

    /// `x`: `[batch * len, hidden]`; `mask_bias`: `[batch, 1, 1, len]` (0 or a large negative).
    fn forward(
        &self,
        x: &Tensor,
        mask_bias: &Tensor,
        batch: usize,
        len: usize,
        heads: usize,
    ) -> candle_core::Result<Tensor> {
        let hidden = x.dim(1)?;
        let head_dim = hidden / heads;
        let split = |t: Tensor| -> candle_core::Result<Tensor> {
            t.reshape((batch, len, heads, head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(self.query.forward(x)?)?;
        let k = split(self.key.forward(x)?)?;
        let v = split(self.value.forward(x)?)?;
        let scale = 1.0 / (head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(mask_bias)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((batch * len, hidden))?;
        let attended = self
            .attention_norm
            .forward(&(self.attention_out.forward(&context)? + x)?)?;
        let inner = self.intermediate.forward(&attended)?.gelu_erf()?;
        self.output_norm
            .forward(&(self.output.forward(&inner)? + attended)?)
    }
}

/// The encoder's weights.
#[derive(Debug)]
pub struct Bert {
    words: Embedding,
    positions: Tensor,
    token_type: Tensor,
    norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    device: Device,
}

impl Bert {
    /// Loads `model.safetensors` (F32 or F16/BF16, computed in F32) for `config`.
    pub fn load(weights: &Path, config: &BertConfig) -> Result<Self, StudentError> {
        let device = Device::Cpu;
        let bad = |e: candle_core::Error| StudentError::Model {
            path: weights.to_owned(),
            detail: format!("cannot load the BERT weights: {e}"),
        };
        let tensors: HashMap<String, Tensor> =
            candle_core::safetensors::load(weights, &device).map_err(bad)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        // Some exports prefix every name with `bert.`.
        let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") {
            vb
        } else {
            vb.pp("bert")
        };
        let h = config.hidden_size;
        let e = vb.pp("embeddings");
        let load = || -> candle_core::Result<Self> {
            let words = candle_nn::embedding(config.vocab_size, h, e.pp("word_embeddings"))?;
            let positions = e
                .pp("position_embeddings")
                .get((config.max_position_embeddings, h), "weight")?;
            let token_type = e
                .pp("token_type_embeddings")
                .get((config.type_vocab_size, h), "weight")?
                .get(0)?;
            let norm = candle_nn::layer_norm(h, config.layer_norm_eps, e.pp("LayerNorm"))?;
            let layers = (0..config.num_hidden_layers)
                .map(|i| Layer::load(vb.pp("encoder").pp("layer").pp(i), config))
                .collect::<candle_core::Result<Vec<_>>>()?;
            Ok(Self {
                words,
                positions,
                token_type,
                norm,
                layers,
                heads: config.num_attention_heads,
                device: device.clone(),
            })
        };
        load().map_err(bad)
    }

    /// Mean-pooled last hidden states for a batch of token-id sequences: `[batch, hidden]`.
    /// Sequences are padded to the longest; padding is masked out of attention and pooling.
    pub fn mean_pooled(&self, batch: &[Vec<u32>]) -> candle_core::Result<Tensor> {
        let n = batch.len();
        let len = batch.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for seq in batch {
            ids.extend(seq.iter().copied());
            ids.extend(std::iter::repeat_n(0u32, len - seq.len()));
            mask.extend(std::iter::repeat_n(1f32, seq.len()));
            mask.extend(std::iter::repeat_n(0f32, len - seq.len()));
        }
        let ids = Tensor::from_vec(ids, (n * len,), &self.device)?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
        let x = self
            .words
            .forward(&ids)?
            .reshape((n, len, ()))?
            .broadcast_add(&self.positions.narrow(0, 0, len)?)?
            .broadcast_add(&self.token_type)?;
        let mut x = self.norm.forward(&x)?.reshape((n * len, ()))?;
        // 0 where a token may be attended to, a large negative number at padding.
        let mask_bias = ((mask.clone() - 1.0)? * 1e9)?.reshape((n, 1, 1, len))?;
        for layer in &self.layers {
            x = layer.forward(&x, &mask_bias, n, len, self.heads)?;
        }
        let x = x.reshape((n, len, ()))?;
        let summed = x.broadcast_mul(&mask.unsqueeze(D::Minus1)?)?.sum(1)?;
        let counts = mask.sum_keepdim(1)?.clamp(1e-9, f64::MAX)?;
        summed.broadcast_div(&counts)
    }
}
